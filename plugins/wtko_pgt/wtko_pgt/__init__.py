"""First-party pyGenomeTracks track types (attribution sequence logo).

Import :mod:`wtko_pgt.logo_track` before pyGenomeTracks parses a tracks file to make the
``attribution_logo`` file_type available (pyGenomeTracks discovers track types through
``GenomeTrack.__subclasses__()``; it has no plugin hook). :func:`wtko_captum.report.region.plot_region`
does this for you.
"""
