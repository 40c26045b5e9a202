"""Tiling a genome into model windows and the windows into shards.

Coordinates are 0-based half-open throughout. A *span* is a stretch that is scanned (a whole
chromosome, or a merged BED region); output values are written only inside spans.

Windows of a span are the model's input length ``W`` at ``stride``, on a grid centred on the
span: ``n = 1`` window when the span is at most ``W`` long, else ``ceil((len - W) / stride) + 1``,
and the grid starts ``(covered - len) // 2`` bases before the span (``covered = (n - 1) *
stride + W``), so the overhang is shared by both ends. Bases of a window past a chromosome end
are ``N`` (no value), as :func:`wtko_captum.core.sequence.one_hot` writes them.

A *shard* owns a stretch of a span's output bases and computes every window that overlaps
it: its own windows plus a *halo* of the windows that start up to ``W - 1`` bases before it
(a window-level model's receptive field is its whole input, so these are the windows that
contribute to the shard's first bases). A shard's bases are therefore final: they are merged
from exactly the windows an unsharded run would merge, in the same order, and the output does
not depend on the shard size. Shard boundaries fall on the window grid.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from wtko_captum.core.errors import InputError, near_miss


@dataclass(frozen=True)
class Span:
    """A scanned stretch ``[start, end)`` of ``chrom`` and its window grid."""

    chrom: str
    start: int
    end: int
    grid0: int      # start of window 0 (may lie before the span, or before base 0)
    n_windows: int
    chrom_size: int


@dataclass(frozen=True)
class Shard:
    """One unit of work: output bases ``[start, end)`` of ``chrom``, from ``n_windows``
    windows starting at ``first`` every ``stride`` bases."""

    index: int
    chrom: str
    start: int
    end: int
    first: int
    n_windows: int
    span_start: int  # start of the shard's span (a window starting before it belongs to the first shard)
    chrom_size: int

    @property
    def length(self) -> int:
        return self.end - self.start


def grid(start: int, end: int, width: int, stride: int) -> tuple[int, int]:
    """``(grid0, n_windows)`` of the window grid centred on ``[start, end)``."""
    length = end - start
    n = 1 if length <= width else math.ceil((length - width) / stride) + 1
    covered = (n - 1) * stride + width
    return start - (covered - length) // 2, n


def chromosome_spans(sizes: dict[str, int], chroms=None) -> list[tuple[str, int, int]]:
    """Whole chromosomes ``(chrom, 0, size)``, all of them (in ``sizes`` order) or ``chroms``
    (kept in ``sizes`` order too: bigWig needs coordinate order)."""
    if not chroms:
        return [(c, 0, n) for c, n in sizes.items()]
    for c in chroms:
        if c not in sizes:
            raise InputError(f"chromosome {c!r} is not in the genome{near_miss(c, sizes)}")
    if len(set(chroms)) != len(chroms):
        raise InputError("a chromosome is listed twice", value=list(chroms))
    wanted = set(chroms)
    return [(c, 0, n) for c, n in sizes.items() if c in wanted]


def region_spans(regions, sizes: dict[str, int], path=None) -> list[tuple[str, int, int]]:
    """BED regions clipped to their chromosomes, sorted (genome order, start) and merged where
    they overlap or touch, so that every base is scanned once."""
    rows = []
    rank = {c: i for i, c in enumerate(sizes)}
    for i, (c, s, e) in enumerate(zip(regions["chrom"].astype(str), regions["start"], regions["end"])):
        if c not in sizes:
            raise InputError(f"region {c}:{s}-{e}: chromosome not in the genome{near_miss(c, sizes)}",
                             path=path, value=c)
        s, e = max(int(s), 0), min(int(e), sizes[c])
        if e <= s:
            raise InputError(f"region {c}:{s}-{e} is empty or lies outside {c} (size {sizes[c]})", path=path)
        rows.append((rank[c], s, e, c))
    if not rows:
        raise InputError("no regions to scan", path=path)
    rows.sort()
    merged: list[list] = []
    for r, s, e, c in rows:
        if merged and merged[-1][0] == c and s <= merged[-1][2]:
            merged[-1][2] = max(merged[-1][2], e)
        else:
            merged.append([c, s, e])
    return [tuple(m) for m in merged]


@dataclass(frozen=True)
class Tiling:
    """The whole plan: spans, their window grids and the shards, from the options alone."""

    width: int
    stride: int
    shard_windows: int
    spans: tuple[Span, ...]

    @classmethod
    def plan(cls, spans, sizes: dict[str, int], width: int, stride: int, shard_windows: int) -> "Tiling":
        """Window grids for ``spans`` ``[(chrom, start, end)]`` on chromosomes of ``sizes``."""
        if width < 1 or shard_windows < 1:
            raise InputError("the window width and the shard size must be positive", value=(width, shard_windows))
        if not 1 <= stride <= width:
            raise InputError(f"the stride must be from 1 to the model's input length ({width} bp), so that "
                             "every base lies in a window", value=stride)
        out = []
        for c, s, e in spans:
            g0, n = grid(s, e, width, stride)
            out.append(Span(c, s, e, g0, n, int(sizes[c])))
        return cls(int(width), int(stride), int(shard_windows), tuple(out))

    @property
    def halo(self) -> int:
        """Windows a shard computes before its own: those starting up to ``W - 1`` bases
        before its first base."""
        return math.ceil(self.width / self.stride) - 1

    @property
    def n_windows(self) -> int:
        return sum(sp.n_windows for sp in self.spans)

    @property
    def n_bases(self) -> int:
        return sum(sp.end - sp.start for sp in self.spans)

    def shards(self) -> list[Shard]:
        """Every shard, in genome order (the order the bigWigs are written in)."""
        out: list[Shard] = []
        step = self.shard_windows * self.stride
        for sp in self.spans:
            bounds = [sp.start]
            b = sp.grid0 + step
            while b < sp.end:
                if b > sp.start:
                    bounds.append(b)
                b += step
            bounds.append(sp.end)
            for o1, o2 in zip(bounds[:-1], bounds[1:]):
                # windows k with [g0 + k*stride, + W) overlapping [o1, o2)
                k0 = max(0, (o1 - self.width - sp.grid0) // self.stride + 1)
                k1 = min(sp.n_windows - 1, -(-(o2 - sp.grid0) // self.stride) - 1)
                out.append(Shard(len(out), sp.chrom, o1, o2, sp.grid0 + k0 * self.stride, k1 - k0 + 1,
                                 sp.start, sp.chrom_size))
        return out

    def window_starts(self, shard: Shard) -> np.ndarray:
        """``(n_windows,)`` int64 genome starts of a shard's windows."""
        return shard.first + self.stride * np.arange(shard.n_windows, dtype=np.int64)

    def describe(self) -> list[list]:
        """The spans as ``[chrom, start, end, grid0, n_windows]`` (for the manifest)."""
        return [[sp.chrom, sp.start, sp.end, sp.grid0, sp.n_windows] for sp in self.spans]


def read_shard_sequence(genome, shard: Shard, width: int, stride: int) -> str:
    """The bases under a shard's windows, ``N`` past the chromosome ends: a string of
    ``(n_windows - 1) * stride + width`` letters starting at genome base ``shard.first``."""
    lo = shard.first
    hi = shard.first + (shard.n_windows - 1) * stride + width
    a, b = max(lo, 0), min(hi, shard.chrom_size)
    seq = genome.fetch(shard.chrom, a, b) if b > a else ""
    return "N" * (a - lo) + seq + "N" * (hi - max(b, a))
