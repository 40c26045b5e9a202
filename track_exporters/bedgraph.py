"""Attribution bedGraphs: the same per-base tracks as the bigWigs, as text.

One file ``<prefix>.<track>.bedGraph`` per track, each starting with a UCSC ``track`` line
that records the track's meaning and the overlap rule (bedGraph, unlike bigWig, has room for
it), then ``chrom start end value`` lines (0-based half-open), sorted, with consecutive
bases of equal value merged into one line. Gaps (N bases, off-chromosome padding) have no
line. A sidecar ``<prefix>.bedGraph.tracks.json`` is written as for bigWigs.
"""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from wtko_captum.core.atomic import atomic_path, write_marker

from wtko_captum.core.registry import exporter
from wtko_captum.core.tracks import DESCRIPTIONS

from track_exporters.bigwig import _sizes, as_sets, plan_files, write_sidecar
from track_exporters.genome_tracks import DEFAULT_BUFFER, DEFAULT_CHUNK, iter_runs, sequence_coordinates, sequence_sizes

log = logging.getLogger("wtko_captum")


def run_lines(chrom: str, start: int, values: np.ndarray) -> str:
    """bedGraph lines for consecutive bases ``start, start+1, ...`` with ``values (n,)``;
    equal neighbours (as float32, the precision bigWig keeps too) share one line."""
    v = np.asarray(values, dtype=np.float32)
    cut = np.flatnonzero(v[1:] != v[:-1]) + 1
    lo = np.r_[0, cut]
    hi = np.r_[cut, len(v)]
    return "".join(f"{chrom}\t{start + a}\t{start + b}\t{v[a]:.7g}\n" for a, b in zip(lo.tolist(), hi.tolist()))


@exporter(accepts="attributions", description="per-base attribution bedGraphs (one per track) + a sidecar JSON")
def write_bedgraph(attributions, out, *, chrom_sizes=None, genome=None,
                   tracks: Sequence[str] = ("projected", "maxabs"), overlap: str = "mean",
                   prefix: str | None = None, chunk_size: int = DEFAULT_CHUNK,
                   buffer_size: int = DEFAULT_BUFFER, progress: bool = False) -> list[Path]:
    """Write per-base attribution bedGraphs, one per track, and a sidecar JSON; atomically.

    Arguments as :func:`track_exporters.bigwig.write_bigwig`. Windows of sequences without
    genome coordinates are written in sequence coordinates (``name start end value``, the
    sequence's own positions); when every window is, no chromosome sizes are needed. Returns
    the bedGraph paths and the sidecar last.
    """
    out_dir = out
    sets = as_sets(attributions)
    seq = sequence_coordinates(sets[0].regions)
    if seq.all() and chrom_sizes is None and genome is None:
        sizes, sizes_source = {}, "the sequences' own lengths (sequences without genome coordinates)"
    else:
        sizes, sizes_source = _sizes(chrom_sizes, genome)
    sizes.update(sequence_sizes(sets[0].regions))
    sets, prefix, files = plan_files(out_dir, sets, tracks, prefix, "bedGraph")
    names = list(files)
    n_bases = 0
    with contextlib.ExitStack() as stack:
        handles = []
        for t, p in files.items():
            fh = stack.enter_context(open(stack.enter_context(atomic_path(p)), "w"))
            fh.write(f'track type=bedGraph name="{prefix} {t}" description="{DESCRIPTIONS[t]}; '
                     f'overlap={overlap}; {len(sets)} set(s) averaged"\n')
            handles.append(fh)
        for chrom, start, values in iter_runs(sets, sizes, names, overlap=overlap, chunk_size=chunk_size,
                                              buffer_size=buffer_size, progress=progress):
            for fh, row in zip(handles, values):
                fh.write(run_lines(chrom, start, row))
            n_bases += values.shape[1]
    # its own name: exporting both formats to one directory must not clobber the bigWig sidecar
    side = write_sidecar(Path(out_dir) / f"{prefix}.bedGraph.tracks.json", attributions, sets, files,
                         fmt="bedGraph", overlap=overlap, sizes_source=sizes_source, n_bases=n_bases)
    write_marker(out_dir)
    log.info("wrote %d bedGraph track(s) %s in %s: overlap=%s, %d set(s) averaged, %d bases with a value",
             len(files), ", ".join(names), out_dir, overlap, len(sets), n_bases)
    return list(files.values()) + [side]
