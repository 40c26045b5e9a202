"""The ordered writer: shard files -> one bigWig per track, in coordinate order.

bigWig data must be written sorted by chromosome (in header order) and position; shards are
visited in that order, one at a time, so memory does not grow with the genome. Every output
file is written under a temporary name and renamed when closed.

Two writers give the same values: figwig's ``BigWigWriter`` (streams its zoom levels, compresses
on threads) and pyBigWig's ``addEntries`` (libBigWig; builds zoom levels in memory when the
file is closed). ``benchmarks/scan.py`` times both on the same shards; figwig is the default
because it measured faster (numbers in the README).
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from wtko_captum.core.atomic import atomic_path, write_text

WRITERS = ("figwig", "pybigwig")
#: values reach a writer in blocks of this many bases aligned on the chromosome, whatever the
#: shard boundaries, so the file's layout (and bytes) do not depend on the shard size
BLOCK = 1 << 16


class _Figwig:
    def __init__(self, path, header, max_zooms: int):
        from figwig import BigWigWriter

        # one compression thread per file: several files are written at once
        self.w = BigWigWriter(str(path), header, zooms=int(max_zooms), n_jobs=1)

    def write(self, chrom: str, start: int, values: np.ndarray) -> None:
        self.w.write(chrom, [start], values[None, :], missing=np.nan)

    def close(self, ok: bool) -> None:
        if ok:
            self.w.close()
        else:
            self.w.__exit__(RuntimeError, None, None)  # abandons the file without finishing it


class _PyBigWig:
    def __init__(self, path, header, max_zooms: int):
        import pyBigWig

        self.w = pyBigWig.open(str(path), "w")
        self.w.addHeader(header, maxZooms=int(max_zooms))

    def write(self, chrom: str, start: int, values: np.ndarray) -> None:
        valid = ~np.isnan(values)
        edges = np.flatnonzero(np.diff(np.r_[0, valid.view(np.int8), 0]))
        for a, b in zip(edges[::2].tolist(), edges[1::2].tolist()):
            self.w.addEntries(chrom, start + a, values=values[a:b].astype(np.float64), span=1, step=1)

    def close(self, ok: bool) -> None:
        self.w.close()


class _Blocks:
    """Feeds a writer whole aligned blocks ``[k * BLOCK, (k + 1) * BLOCK)`` (cut at the
    chromosome end), bases without a value as NaN."""

    def __init__(self, writer, sizes: dict[str, int]):
        self.w, self.sizes = writer, sizes
        self.key = None
        self.buf = np.full(BLOCK, np.nan, dtype=np.float32)

    def write(self, chrom: str, start: int, values: np.ndarray) -> None:
        pos = 0
        while pos < len(values):
            g = start + pos
            key = (chrom, g // BLOCK)
            if key != self.key:
                self.flush()
                self.key = key
            o = g - key[1] * BLOCK
            n = min(BLOCK - o, len(values) - pos)
            self.buf[o:o + n] = values[pos:pos + n]
            pos += n

    def flush(self) -> None:
        if self.key is not None:
            chrom, k = self.key
            n = min(BLOCK, self.sizes[chrom] - k * BLOCK)
            self.w.write(chrom, k * BLOCK, self.buf[:n])
            self.buf[:] = np.nan
            self.key = None

    def close(self, ok: bool) -> None:
        if ok:
            self.flush()
        self.w.close(ok)


def open_writer(kind: str, path, header, max_zooms: int):
    """A bigWig writer of ``kind`` (``figwig`` or ``pybigwig``) with ``write(chrom, start,
    values (n,) with NaN gaps)`` and ``close(ok)``."""
    return {"figwig": _Figwig, "pybigwig": _PyBigWig}[kind](path, header, max_zooms)


def write_bigwigs(store, shards, outputs: list[tuple[Path, str, str | None, int]], sizes: dict[str, int], *,
                  writer: str = "figwig", max_zooms: int = 10, progress: bool = False) -> list[dict]:
    """Write every output bigWig from the shard files in one ordered pass.

    Parameters
    ----------
    store : ShardStore
    shards : list of Shard
        In genome order.
    outputs : list of ``(path, kind, method, row)``
        ``kind`` is ``"track"`` (row ``row`` of the shard's ``method`` tracks) or ``"pred"``
        (row ``row`` of its predictions).
    sizes : dict
        The bigWig header ``{chrom: size}``, in the order the shards follow.

    Returns
    -------
    list of dict
        Each shard's metadata (skipped and padded windows), in order.
    """
    header = [(c, int(n)) for c, n in sizes.items()]
    metas = []
    from tqdm.auto import tqdm

    with contextlib.ExitStack() as stack:
        tmps = [stack.enter_context(atomic_path(p)) for p, *_ in outputs]
        writers = []
        ok = False
        try:
            for tmp in tmps:
                writers.append(_Blocks(open_writer(writer, tmp, header, max_zooms), sizes))
            for shard in tqdm(shards, desc="bigWig", unit="shard", disable=not progress):
                meta, tracks, pred = store.read(shard)
                metas.append(meta)
                for w, (_, kind, method, row) in zip(writers, outputs):
                    w.write(shard.chrom, shard.start, tracks[method][row] if kind == "track" else pred[row])
            ok = True
        finally:
            for w in writers:
                w.close(ok)  # closing writes the index and zoom levels; the renames follow
    return metas


def write_skipped(path, metas: list[dict]) -> tuple[int, int]:
    """``skipped.bed``: windows with no base (``no_bases``) and windows running past a
    chromosome end (``past_chrom_end``: N-padded there, no value written), overlapping windows
    of one reason merged. Returns the number of windows of each kind."""
    rank: dict[str, int] = {}
    rows: dict[str, list[list]] = {"no_bases": [], "past_chrom_end": []}
    for meta in metas:
        rank.setdefault(meta["chrom"], len(rank))
        for key, reason in (("skipped", "no_bases"), ("padded", "past_chrom_end")):
            for s, e in sorted(meta[key]):
                last = rows[reason][-1] if rows[reason] else None
                if last and last[0] == meta["chrom"] and s <= last[2]:
                    last[2] = max(last[2], e)
                else:
                    rows[reason].append([meta["chrom"], s, e, reason])
    merged = sorted(rows["no_bases"] + rows["past_chrom_end"], key=lambda r: (rank[r[0]], r[1], r[3]))
    lines = ["#chrom\tstart\tend\treason"] + [f"{c}\t{s}\t{e}\t{r}" for c, s, e, r in merged]
    write_text(path, "\n".join(lines) + "\n")
    return sum(len(m["skipped"]) for m in metas), sum(len(m["padded"]) for m in metas)
