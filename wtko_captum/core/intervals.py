"""Intervals and the track values over them: BED-like files in, 0-based half-open throughout.

Used to rank regions by their attribution (the IGV regions of interest, the figures a
pipeline draws) and by every exporter that reads a peaks or features file.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from wtko_captum.core.errors import InputError


@dataclass(frozen=True)
class Region:
    """A 0-based half-open interval with a score and a description (IGV region of interest)."""

    chrom: str
    start: int
    end: int
    score: float = 0.0
    description: str = ""

    @property
    def locus(self) -> str:
        """IGV's 1-based inclusive locus string."""
        return f"{self.chrom}:{self.start + 1}-{self.end}"


def read_intervals(path) -> pd.DataFrame:
    """A BED-like file as a table with at least chrom, start, end, name, score, strand.

    Accepts plain BED3-12 / narrowPeak (no header), our regions.bed (``#chrom ...`` header),
    and a prepared ``regions.tsv`` (header row starting with ``chrom``). ``track`` and
    ``browser`` lines are skipped. Coordinates stay 0-based half-open.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("interval file not found", path=path)
    header, skip = None, 0
    with open(path) as fh:
        for line in fh:
            if line.startswith(("track", "browser")) or not line.strip():
                skip += 1
                continue
            fields = line.lstrip("#").rstrip("\n").split("\t")
            if fields[:3] == ["chrom", "start", "end"]:
                header = fields
                skip += 1
            elif line.startswith("#"):
                skip += 1
                continue
            break
    try:
        df = pd.read_csv(path, sep="\t", header=None, skiprows=skip, comment="#", dtype={0: str})
    except pd.errors.EmptyDataError:
        return pd.DataFrame(columns=["chrom", "start", "end", "name", "score", "strand"])
    if header is not None:
        df.columns = header[: df.shape[1]] + [f"col{i}" for i in range(len(header), df.shape[1])]
    else:
        std = ["chrom", "start", "end", "name", "score", "strand"]
        df.columns = std[: df.shape[1]] + [f"col{i}" for i in range(len(std), df.shape[1])][: max(0, df.shape[1] - 6)]
    for col in ("start", "end"):
        bad = pd.to_numeric(df[col], errors="coerce").isna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"column {col} is not an integer", path=path, line=skip + i + 1, value=df[col].iloc[i])
    df["start"] = df["start"].astype(np.int64)
    df["end"] = df["end"].astype(np.int64)
    if "name" not in df:
        df["name"] = [f"{c}:{s}-{e}" for c, s, e in zip(df["chrom"], df["start"], df["end"])]
    df["name"] = df["name"].astype(str)
    if "score" not in df:
        df["score"] = 0
    if "strand" not in df:
        df["strand"] = "."
    df["strand"] = df["strand"].where(df["strand"].isin(["+", "-"]), ".")
    return df


def score_regions(bigwig, regions: pd.DataFrame) -> np.ndarray:
    """Max |value| of ``bigwig`` inside each region (0 where it has no data).

    regions: chrom, start, end (0-based half-open). Uses pyBigWig's exact per-interval max/min.
    """
    import pyBigWig

    bw = pyBigWig.open(str(bigwig))
    try:
        chroms = bw.chroms()
        out = np.zeros(len(regions))
        for i, (c, s, e) in enumerate(zip(regions["chrom"], regions["start"], regions["end"])):
            if c not in chroms:
                continue
            s, e = max(int(s), 0), min(int(e), chroms[c])
            if e <= s:
                continue
            hi = bw.stats(c, s, e, type="max", exact=True)[0]
            lo = bw.stats(c, s, e, type="min", exact=True)[0]
            out[i] = max(abs(hi) if hi is not None else 0.0, abs(lo) if lo is not None else 0.0)
    finally:
        bw.close()
    return out


def covered_intervals(bigwig) -> pd.DataFrame:
    """The contiguous runs of a bigWig that carry values (its windows), as chrom/start/end/name."""
    import pyBigWig

    bw = pyBigWig.open(str(bigwig))
    rows = []
    try:
        for chrom, size in bw.chroms().items():
            ivs = bw.intervals(chrom) or ()
            run_s = run_e = None
            for s, e, _ in ivs:
                if run_e is not None and s == run_e:
                    run_e = e
                    continue
                if run_s is not None:
                    rows.append((chrom, run_s, run_e))
                run_s, run_e = s, e
            if run_s is not None:
                rows.append((chrom, run_s, run_e))
    finally:
        bw.close()
    df = pd.DataFrame(rows, columns=["chrom", "start", "end"])
    df["name"] = [f"{c}:{s}-{e}" for c, s, e in rows]
    return df


def rank_regions(bigwig, intervals: pd.DataFrame | None = None, n: int = 20) -> list[Region]:
    """The ``n`` intervals with the largest max |value| of ``bigwig`` (all the bigWig's covered
    runs when ``intervals`` is None), by decreasing score; ties keep table order."""
    df = intervals if intervals is not None else covered_intervals(bigwig)
    if df.empty:
        return []
    scores = score_regions(bigwig, df)
    order = np.argsort(-scores, kind="stable")[:n]
    return [Region(str(df["chrom"].iloc[i]), int(df["start"].iloc[i]), int(df["end"].iloc[i]),
                   float(scores[i]), f"{df['name'].iloc[i]} max|attr|={scores[i]:.3g}") for i in order]


def window_to_genome(hits: pd.DataFrame, regions: pd.DataFrame, *, index_col: str = "example_idx",
                     start_col: str = "start", end_col: str = "end") -> pd.DataFrame:
    """Map window-relative hits to genome coordinates.

    Parameters
    ----------
    hits : DataFrame
        One row per hit with ``index_col`` (row of ``regions``, 0-based) and 0-based half-open
        ``start_col``/``end_col`` inside that window (e.g. modisco seqlets, FIMO hits on
        window sequences, k-mer positions).
    regions : DataFrame
        The AttributionSet's regions (chrom, start, end).

    Returns
    -------
    DataFrame
        ``hits`` with ``chrom``, ``start``, ``end`` replaced by genome coordinates
        (``regions.start[n] + offset``) and the window columns kept as ``window_start`` /
        ``window_end``.
    """
    for col in (index_col, start_col, end_col):
        if col not in hits:
            raise InputError(f"hits table lacks column {col!r}; columns: {', '.join(map(str, hits.columns))}")
    idx = hits[index_col].to_numpy(dtype=np.int64)
    if len(idx) and (idx.min() < 0 or idx.max() >= len(regions)):
        raise InputError(f"hit {index_col} out of range 0..{len(regions) - 1}", value=int(idx.max() if idx.max() >= len(regions) else idx.min()))
    s = hits[start_col].to_numpy(dtype=np.int64)
    e = hits[end_col].to_numpy(dtype=np.int64)
    width = (regions["end"] - regions["start"]).to_numpy(dtype=np.int64)[idx]
    bad = (s < 0) | (e <= s) | (e > width)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"hit {i} [{s[i]}, {e[i]}) is not inside its window of {width[i]} bp")
    base = regions["start"].to_numpy(dtype=np.int64)[idx]
    out = hits.drop(columns=[c for c in ("chrom",) if c in hits]).copy()
    out["window_start"], out["window_end"] = s, e
    out["chrom"] = regions["chrom"].to_numpy()[idx]
    out["start"], out["end"] = base + s, base + e
    return out
