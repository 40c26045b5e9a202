"""Genome scale: attribution and prediction bigWigs over whole chromosomes, tiled into shards
that run on local processes or dask.distributed, resumable after any interruption."""
from wtko_captum.scan.scan import scan

__all__ = ["scan"]
