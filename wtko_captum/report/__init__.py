"""Reports: a genome region drawn with pyGenomeTracks (``region``) and one self-contained HTML
file of a whole run (``html.report``)."""
