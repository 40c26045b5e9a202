"""BED6+ intervals for k-mers, seqlets and motif hits, in exact 0-based half-open genome
coordinates.

Columns: ``chrom start end name score strand [extra...]`` with ``name`` = the cluster or
pattern, ``score`` = the raw score (a float: IGV and pyGenomeTracks read it; UCSC
``bedToBigBed`` wants integers 0-1000, pass ``score_scale="ucsc"`` for that). A first line
``#chrom start end name score strand ...`` names the columns (browsers skip '#' lines).
``color_by_name=True`` writes BED9 instead, with one ``itemRgb`` colour per distinct name, so
``color = bed_rgb`` in pyGenomeTracks and IGV colour features by cluster.

Hits found inside model windows are mapped to the genome with :func:`window_to_genome`:
window position ``i`` of region row ``n`` is genome base ``regions.start[n] + i``, the
AttributionSet convention.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from wtko_captum.core.atomic import atomic_path
from wtko_captum.core.errors import InputError, near_miss
from wtko_captum.core.intervals import window_to_genome
from wtko_captum.core.registry import exporter

BED6 = ["chrom", "start", "end", "name", "score", "strand"]
#: colour-blind-safe palette (Okabe-Ito, then Tableau) cycled over names in order of appearance
PALETTE = ["230,159,0", "86,180,233", "0,158,115", "240,228,66", "0,114,178", "213,94,0",
           "204,121,167", "0,0,0", "148,103,189", "140,86,75", "127,127,127", "188,189,34"]


def format_bed(intervals: pd.DataFrame, *, name_col: str = "name", score_col: str | None = "score",
               strand_col: str | None = "strand", extra_cols=None, color_by_name: bool = False,
               score_scale: str = "raw", chrom_sizes: dict | None = None, sort: bool = True) -> str:
    """The BED text for ``intervals`` (see :func:`write_bed`)."""
    df = _bed6(intervals, name_col, score_col, strand_col, score_scale, chrom_sizes)
    extra = list(extra_cols or [])
    for c in extra:
        if c not in intervals:
            raise InputError(f"extra column {c!r} not in the table")
        df[c] = intervals[c].to_numpy()
    if sort:
        order = {c: i for i, c in enumerate(chrom_sizes)} if chrom_sizes else None
        key = df["chrom"].map(order) if order else df["chrom"]
        df = df.assign(_k=key.to_numpy()).sort_values(["_k", "start", "end"], kind="stable").drop(columns="_k")
    cols = BED6
    if color_by_name:
        names = list(dict.fromkeys(df["name"]))
        colour = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
        df["thickStart"], df["thickEnd"] = df["start"], df["end"]
        df["itemRgb"] = df["name"].map(colour)
        cols = BED6 + ["thickStart", "thickEnd", "itemRgb"]
        extra = []  # BED9 + extras would be mistaken for BED12 by readers
    cols = cols + extra
    lines = ["#" + "\t".join(cols)]
    body = df[cols].to_csv(sep="\t", header=False, index=False, float_format="%.6g", lineterminator="\n")
    return "\n".join(lines) + "\n" + body


@exporter(accepts="intervals", description="k-mer / seqlet / motif-hit intervals as BED6+ (exact 0-based coordinates)")
def write_bed(intervals, out, *, regions=None, index_col: str = "example_idx", name_col: str = "name",
              score_col: str | None = "score", strand_col: str | None = "strand", extra_cols=None,
              color_by_name: bool = False, score_scale: str = "raw", chrom_sizes=None, genome=None,
              sort: bool = True) -> list[Path]:
    """Write genome intervals as BED6+ (or BED9 with ``color_by_name``), atomically.

    Parameters
    ----------
    intervals : DataFrame, or a TSV/CSV file of one
        ``chrom``, ``start``, ``end`` (0-based half-open genome coordinates, written exactly
        as given) and the columns named below; or, with ``regions``, window-relative
        ``start``/``end`` and the window row in ``index_col``.
    out : str or Path
        Output file.
    regions : attribution directory, regions BED, or DataFrame, optional
        The windows the rows of a window-relative table refer to (see :func:`window_to_genome`).
    index_col : str
        Column of ``intervals`` holding each hit's window row (with ``regions``).
    name_col, score_col, strand_col : str
        Columns for BED name (the cluster / pattern), score and strand. A missing score
        column writes 0; a missing strand column writes ``.``.
    extra_cols : list of str, optional
        Columns appended after the six BED columns (e.g. ``p-value``, ``sequence``).
    color_by_name : bool
        Write BED9 with an ``itemRgb`` colour per distinct name (extras are then dropped).
    score_scale : {"raw", "ucsc"}
        ``ucsc`` rescales |score| linearly to integers 0-1000 (max |score| -> 1000).
    chrom_sizes : dict or chrom.sizes file, optional
        When given (or ``genome``, a FASTA), every interval must lie inside its chromosome (an
        error names the first that does not) and output is sorted in this chromosome order.
    sort : bool
        Sort by chromosome, start, end (default True; browsers index sorted files).

    Returns
    -------
    list of Path
        ``[path]``.
    """
    intervals = _interval_table(intervals)
    if regions is not None:
        intervals = window_to_genome(intervals, _regions_table(regions), index_col=index_col)
    if isinstance(extra_cols, str):
        extra_cols = [c.strip() for c in extra_cols.split(",") if c.strip()]
    if chrom_sizes is not None or genome is not None:
        from track_exporters.bigwig import load_chrom_sizes

        chrom_sizes = load_chrom_sizes(chrom_sizes=chrom_sizes, genome=genome)
    text = format_bed(intervals, name_col=name_col, score_col=score_col, strand_col=strand_col,
                      extra_cols=extra_cols, color_by_name=color_by_name, score_scale=score_scale,
                      chrom_sizes=chrom_sizes, sort=sort)
    with atomic_path(out) as tmp:
        Path(tmp).write_text(text)
    return [Path(out)]


def _interval_table(intervals) -> pd.DataFrame:
    if isinstance(intervals, pd.DataFrame):
        return intervals
    path = Path(intervals)
    if not path.is_file():
        raise InputError("interval table not found", path=path)
    sep = "," if path.suffix.lower() == ".csv" else "\t"
    return pd.read_csv(path, sep=sep, dtype={"chrom": str})


def _regions_table(regions) -> pd.DataFrame:
    from wtko_captum.core.attribution_set import read_regions_bed

    if isinstance(regions, pd.DataFrame):
        return regions
    if hasattr(regions, "regions"):  # an AttributionSet
        return regions.regions
    path = Path(regions)
    return read_regions_bed(path / "regions.bed" if path.is_dir() else path)


def _bed6(intervals, name_col, score_col, strand_col, score_scale, chrom_sizes) -> pd.DataFrame:
    for col in ("chrom", "start", "end"):
        if col not in intervals:
            raise InputError(f"interval table lacks column {col!r}")
    n = len(intervals)
    df = pd.DataFrame({"chrom": intervals["chrom"].astype(str).to_numpy()})
    for col in ("start", "end"):
        v = intervals[col].to_numpy()
        if not np.all(np.equal(np.asarray(v, dtype=float), np.round(np.asarray(v, dtype=float)))):
            raise InputError(f"BED {col} must be whole numbers (0-based coordinates)")
        df[col] = np.asarray(v, dtype=np.int64)
    bad = np.flatnonzero((df["start"] < 0) | (df["end"] <= df["start"]))
    if len(bad):
        r = df.iloc[bad[0]]
        raise InputError(f"interval {bad[0]} {r.chrom}:{r.start}-{r.end} is empty or starts before 0")
    if chrom_sizes:
        for chrom, sub in df.groupby("chrom", sort=False):
            if chrom not in chrom_sizes:
                raise InputError(f"chromosome {chrom!r} not in chromosome sizes{near_miss(chrom, chrom_sizes)}")
            over = sub[sub["end"] > chrom_sizes[chrom]]
            if len(over):
                r = over.iloc[0]
                raise InputError(f"interval {r.chrom}:{r.start}-{r.end} runs past the chromosome end ({chrom_sizes[chrom]})")
    df["name"] = intervals[name_col].astype(str).to_numpy() if name_col in intervals else "."
    score = intervals[score_col].to_numpy(dtype=float) if score_col and score_col in intervals else np.zeros(n)
    if score_scale == "ucsc":
        top = np.abs(score).max() if n else 0
        score = np.round(np.abs(score) / top * 1000).astype(int) if top > 0 else np.zeros(n, dtype=int)
    elif score_scale != "raw":
        raise InputError("score_scale must be 'raw' or 'ucsc'", value=score_scale)
    df["score"] = score
    if strand_col and strand_col in intervals:
        strand = intervals[strand_col].to_numpy()
        if strand.dtype == bool:  # modisco's is_forward
            strand = np.where(strand, "+", "-")
        strand = pd.Series(strand).astype(str).to_numpy()
        bad = ~np.isin(strand, ["+", "-", "."])
        if bad.any():
            raise InputError("strand must be '+', '-' or '.'", value=str(strand[bad][0]))
        df["strand"] = strand
    else:
        df["strand"] = "."
    return df
