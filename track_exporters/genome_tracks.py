"""Per-base attribution tracks in genome coordinates, streamed in sorted order.

This is the engine behind the bigWig and bedGraph writers. It turns one or more
:class:`~wtko_captum.core.attribution_set.AttributionSet` (same windows; averaged) into runs of
per-base values ``(chrom, start, values (T, n))``, sorted by chromosome (in chromosome-sizes
order) and position, with no two runs overlapping, ready for ``pyBigWig.addEntries``.

Tracks, the gap policy and the overlap rules are those of :mod:`wtko_captum.core.tracks`
(shared with the genome scan).

Several AttributionSets (seeds, folds, a reverse-complement pass mapped back to the forward
strand) are averaged channel by channel *before* the tracks are derived, so ``projected`` is
the mean of the sets' projected scores and ``maxabs`` is max |mean attribution|.

Coordinates: base ``i`` of window ``n`` is genome base ``regions.start[n] + i`` (0-based).
A window whose region strand is ``-`` holds the reverse complement of the genome (read from its
end, as ``wtko_captum.preparation.peaks`` reads stranded FASTA headers): it is reverse-complemented back
(positions reversed, channels A<->T, C<->G) before its tracks are derived, so every track is
on the genome's forward strand.

Gaps, never zeros: a base gets no value when it was ``N`` (an all-zero one-hot column) or
lies outside its chromosome (a window N-padded past an end). A window whose *sequence*
(non-N bases) runs past the chromosome end, or an unknown chromosome, is an error naming it:
it means the chromosome sizes do not belong to the genome the windows came from.

Memory is flat in the number of windows: windows are visited in sorted order in chunks, and
overlaps are merged in a fixed-size buffer that is flushed whenever the next window starts
beyond what the buffer can hold (everything before a window's start is final, since later
windows start no earlier). Only an ``int64`` sort order (8 bytes per window) grows with N.
"""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np

from wtko_captum.core.errors import InputError, near_miss
from wtko_captum.core.tracks import OverlapBuffer, check_overlap, window_tracks

DEFAULT_CHUNK = 256
DEFAULT_BUFFER = 1 << 18


def check_sets(sets) -> None:
    """All sets must share window shape and regions (chrom, start, end), in the same order."""
    if not sets:
        raise InputError("no attribution sets given")
    ref = sets[0]
    for i, s in enumerate(sets[1:], 1):
        if s.X.shape != ref.X.shape:
            raise InputError(f"attribution set {i} has shape {s.X.shape}, set 0 has {ref.X.shape}; "
                             "only sets over the same windows can be averaged")
        for col in ("chrom", "start", "end"):
            a, b = ref.regions[col].to_numpy(), s.regions[col].to_numpy()
            if not np.array_equal(a, b):
                j = int(np.flatnonzero(a != b)[0])
                raise InputError(f"attribution set {i} differs from set 0 in region {j} ({col}: "
                                 f"{b[j]!r} vs {a[j]!r}); only sets over the same windows can be averaged")


def sequence_coordinates(regions) -> np.ndarray:
    """``(N,)`` bool: windows in *sequence coordinates* (a sequence without genome coordinates,
    ``coordinates == "sequence"`` in prepared data: ``chrom`` is the sequence's name)."""
    if "coordinates" not in regions:
        return np.zeros(len(regions), dtype=bool)
    return regions["coordinates"].astype(str).to_numpy() == "sequence"


def sequence_sizes(regions) -> dict[str, int]:
    """``{sequence name: length}`` for windows in sequence coordinates: the given sequence's
    length (``peak_end``, the end of the sequence in its own coordinates) when recorded, else
    the window's end."""
    rows = regions[sequence_coordinates(regions)]
    ends = rows["peak_end"] if "peak_end" in rows else rows["end"]
    return {str(c): int(e) for c, e in zip(rows["chrom"], ends)}


def sort_order(regions, sizes: dict[str, int], length: int,
               only: np.ndarray | None = None) -> tuple[np.ndarray, list[tuple[str, int, int]]]:
    """Rows sorted by (chromosome in ``sizes`` order, start, original row) and the slices
    ``(chrom, lo, hi)`` of that order per chromosome, over the rows where ``only`` is True
    (all when None). Checks chromosomes and window lengths."""
    all_chroms = regions["chrom"].astype(str).to_numpy()
    rows = np.arange(len(all_chroms)) if only is None else np.flatnonzero(only)
    chroms = all_chroms[rows]
    start = regions["start"].to_numpy(dtype=np.int64)[rows]
    end = regions["end"].to_numpy(dtype=np.int64)[rows]
    bad = np.flatnonzero(end - start != length)
    if len(bad):
        j = int(bad[0])
        raise InputError(f"region {int(rows[j])} {chroms[j]}:{start[j]}-{end[j]} is {end[j] - start[j]} bp but its "
                         f"sequence is {length} bp")
    rank = {c: i for i, c in enumerate(sizes)}
    uniq, inverse = np.unique(chroms, return_inverse=True)
    for c in uniq:
        if c not in rank:
            raise InputError(f"chromosome {c!r} of the regions is not in the chromosome sizes"
                             f"{near_miss(c, sizes)}")
    crank = np.array([rank[c] for c in uniq], dtype=np.int64)[inverse]
    order = rows[np.lexsort((np.arange(len(start)), start, crank))]
    groups = []
    sorted_rank = np.sort(crank)
    bounds = np.flatnonzero(np.diff(sorted_rank)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(order)]):
        if hi > lo:
            groups.append((all_chroms[order[lo]], int(lo), int(hi)))
    return order, groups


def chunk_values(sets, rows: np.ndarray, tracks: Sequence[str],
                 minus: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(values (k, T, L) float64, valid (k, L) bool)`` for region ``rows`` (averaged over
    ``sets``) on the genome's forward strand; ``valid`` is False at N (all-zero one-hot
    columns). ``minus (k,)`` marks '-' strand windows, reverse-complemented back here."""
    X = np.asarray(sets[0].X[rows], dtype=np.float32)
    if len(sets) == 1:
        a = np.asarray(sets[0].attr[rows], dtype=np.float64)
    else:
        a = np.zeros(X.shape, dtype=np.float64)
        for i, s in enumerate(sets):
            if i and not np.array_equal(np.asarray(s.X[rows]), X):
                raise InputError(f"attribution set {i} has different sequences (one-hot) than set 0 "
                                 "for the same regions; map reverse-complement sets back to the "
                                 "forward strand before averaging")
            a += s.attr[rows]
        a /= len(sets)
    if minus is not None and minus.any():
        # reversing the channel axis A,C,G,T -> T,G,C,A is the complement
        X[minus] = X[minus][:, ::-1, ::-1]
        a[minus] = a[minus][:, ::-1, ::-1]
    return window_tracks(X, a, tracks)


def iter_runs(sets, sizes: dict[str, int], tracks: Sequence[str], *, overlap: str = "mean",
              chunk_size: int = DEFAULT_CHUNK, buffer_size: int = DEFAULT_BUFFER,
              progress: bool = False, only: np.ndarray | None = None) -> Iterator[tuple[str, int, np.ndarray]]:
    """Yield ``(chrom, start, values (T, n) float64)`` runs of consecutive bases with a value.

    Parameters
    ----------
    sets : list of AttributionSet
        Same windows (checked); averaged.
    sizes : dict
        ``{chrom: size}``; output follows its order (the bigWig header order).
    tracks : sequence of str
        Expanded track names (see :func:`expand_tracks`).
    overlap : {"mean", "max-abs", "nearest-summit"}
    chunk_size : int
        Windows read per step (memory ~ chunk_size x 4 x L x 8 bytes per set).
    buffer_size : int
        Bases held in the merge buffer (memory ~ buffer_size x (T + 2) x 8 bytes).
    only : (N,) bool, optional
        Write only these windows (e.g. those with genome coordinates).
    """
    check_overlap(overlap)
    check_sets(sets)
    tracks = list(tracks)
    regions = sets[0].regions
    L = sets[0].X.shape[-1]
    order, groups = sort_order(regions, sizes, L, only)
    starts = regions["start"].to_numpy(dtype=np.int64)
    names = regions["name"].astype(str).to_numpy()
    minus = regions["strand"].astype(str).to_numpy() == "-" if "strand" in regions else np.zeros(len(starts), bool)
    buf = OverlapBuffer(len(tracks), overlap, max(int(buffer_size), 2 * L))
    pending: list[tuple[str, int, np.ndarray]] = []

    from tqdm.auto import tqdm

    bar = tqdm(total=len(order), unit="region", disable=not progress, desc="tracks")
    try:
        for chrom, lo, hi in groups:
            size = sizes[chrom]
            buf.origin, buf.used = 0, 0

            def emit(gs, vals, chrom=chrom):
                pending.append((chrom, gs, vals.copy()))

            for c0 in range(lo, hi, chunk_size):
                rows = order[c0:min(c0 + chunk_size, hi)]
                values, valid = chunk_values(sets, rows, tracks, minus[rows])
                for k, row in enumerate(rows):
                    s = int(starts[row])
                    a, b = max(0, -s), min(L, size - s)  # part of the window inside the chromosome
                    if (a > 0 and valid[k, :a].any()) or (b < L and valid[k, max(b, 0):].any()):
                        raise InputError(f"region {names[row]!r} {chrom}:{s}-{s + L} has sequence outside "
                                         f"{chrom} (size {size}); are the chromosome sizes from the same genome?")
                    if b <= a:
                        continue
                    gs = s + a
                    if gs + (b - a) - buf.origin > buf.capacity:
                        buf.flush(gs, emit)
                    elif buf.used == 0:
                        buf.origin = gs
                    buf.add(gs, values[k, :, a:b], valid[k, a:b], s + L / 2)
                bar.update(len(rows))
                yield from pending
                pending.clear()
            buf.flush(None, emit)
            yield from pending
            pending.clear()
    finally:
        bar.close()
