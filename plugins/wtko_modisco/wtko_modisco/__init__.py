"""First-party TF-MoDISco-lite plugin: run modisco-lite on an AttributionSet and write its h5,
HTML report, pattern MEME files and seqlet BED in genome coordinates.

Registered as the ``modisco`` exporter (``wtko_captum.exporters`` entry point); the
``wtko modisco`` command calls :func:`run_modisco`.
"""
from wtko_modisco.modisco import ModiscoResult, export_modisco, read_patterns, run_modisco

__all__ = ["ModiscoResult", "export_modisco", "read_patterns", "run_modisco"]
