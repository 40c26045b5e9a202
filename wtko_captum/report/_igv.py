"""The igv.js track view of the report: data limited to the chosen windows, inlined as data URIs.

- Reference: the windows' own sequence (from the one-hot ``X``; N where a column is all zero) as
  a FASTA with one record per merged run of overlapping windows. Headers use igv.js's sliced
  form ``>chrom:FROM-TO @len=SIZE`` (1-based FROM), so coordinates are the genome's and the
  chromosome keeps its true length.
- Attribution tracks: per method, the projected score (attribution x one-hot: the observed
  base's contribution) written by the registered ``bigwig`` exporter for the chosen windows
  only (gaps at N and off-chromosome padding, overlaps averaged, no zoom levels), drawn with
  igv.js's ``dynseq`` graph type: letters scaled by score.
- Features: the windows (coloured by true class) and the peaks inside them, every feature file
  of the run (modisco seqlets, saliency k-mers, ...) cut to the chosen windows, and the FIMO
  hits of the known motifs enriched between the classes; BED text, gzipped.

Nothing here makes a request: the config sets ``loadDefaultGenomes: false`` (igv.js would
otherwise fetch its genome list from the web) and every URL is a ``data:`` URI.
"""
from __future__ import annotations

import base64
import functools
import gzip
import io
import logging
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from wtko_captum.core.errors import InputError

IGV_VERSION = "3.8.10"
VENDOR = Path(__file__).parent / "vendor" / "igv"
CLASS_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


# characters an HTML parser reports as errors in a document (C0/C1 controls but tab, newline and
# carriage return; noncharacters): igv.min.js carries a WebAssembly binary (the CRAM codecs) as
# a string literal containing them raw
_NOT_IN_HTML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufdd0-\ufdef\ufffe\uffff]")


@functools.lru_cache(maxsize=1)
def igv_script() -> str:
    """The vendored igv.min.js, ready to inline in an HTML ``<script>``.

    Two changes, neither altering what the script does: the last line's source-map comment is
    dropped (the map is not shipped), and characters HTML forbids in a document are written as
    JavaScript escapes (``\\xHH``, ``\\uHHHH``). In 3.8.10 they occur only inside one string
    literal; in a string, template or regular-expression literal an escape is the same character.
    One preceded by an odd run of backslashes (an escape already) would change meaning and is
    refused.
    """
    path = VENDOR / "igv.min.js"
    if not path.is_file():
        raise InputError("the vendored igv.js is missing from the installation; reinstall wtko-captum", path=path)
    text = path.read_text(encoding="utf-8").rstrip("\n")
    head, _, last = text.rpartition("\n")
    if last.startswith("//# sourceMappingURL="):
        text = head

    def escape(m: re.Match) -> str:
        i = j = m.start()
        while j > 0 and text[j - 1] == "\\":
            j -= 1
        if (i - j) % 2:
            raise InputError(f"igv.js has an escaped control character at offset {i}: cannot inline it", path=path)
        c = ord(m.group())
        return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"

    return _NOT_IN_HTML.sub(escape, text)


def data_uri(data: bytes | str, *, gzipped: bool = False, mime: str = "application/octet-stream") -> str:
    """``data:`` URI of ``data`` (gzipped first when asked: igv.js inflates ``application/gzip``)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if gzipped:
        data = gzip.compress(data, compresslevel=9, mtime=0)
        mime = "application/gzip"
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def merged_spans(chosen: pd.DataFrame, sizes: dict[str, int]) -> list[tuple[str, int, int, list[int]]]:
    """Runs of overlapping or touching windows, clipped to their chromosome:
    ``(chrom, start, end, [rows])``, 0-based half-open, sorted by chromosome order then start."""
    order = {c: i for i, c in enumerate(sizes)}
    spans: list[tuple[str, int, int, list[int]]] = []
    rows = chosen.assign(_s=chosen["start"].clip(lower=0),
                         _e=[min(e, sizes[c]) for c, e in zip(chosen["chrom"], chosen["end"])])
    rows = rows.sort_values(["chrom", "_s"], key=lambda s: s.map(order) if s.name == "chrom" else s)
    for chrom, s, e, row in zip(rows["chrom"], rows["_s"], rows["_e"], rows["row"]):
        if e <= s:
            continue
        if spans and spans[-1][0] == chrom and s <= spans[-1][2]:
            c, s0, e0, members = spans[-1]
            spans[-1] = (c, s0, max(e0, e), members + [int(row)])
        else:
            spans.append((chrom, int(s), int(e), [int(row)]))
    return spans


def reference_fasta(aset, spans, sizes: dict[str, int]) -> str:
    """FASTA of the spans' sequence from ``aset.X`` (see the module docstring)."""
    from wtko_captum.core.sequence import decode

    reg = aset.regions
    starts, seqs = reg["start"].to_numpy(), decode(aset.X)
    out = io.StringIO()
    for chrom, s, e, members in spans:
        span = np.full(e - s, ord("N"), dtype=np.uint8)
        for row in members:
            seq = np.frombuffer(seqs[row].encode("ascii"), dtype=np.uint8)
            w0 = int(starts[row])
            a, b = max(w0, s), min(w0 + len(seq), e)
            span[a - s:b - s] = seq[a - w0:b - w0]
        out.write(f">{chrom}:{s + 1}-{e} @len={sizes[chrom]}\n")
        text = span.tobytes().decode("ascii")
        for i in range(0, len(text), 80):
            out.write(text[i:i + 80] + "\n")
    return out.getvalue()


def in_sequence_coordinates(regions) -> np.ndarray:
    """``(N,)`` bool: windows of sequences without genome coordinates (prepared data mark them
    ``coordinates == "sequence"``; their ``chrom`` is the sequence's name, positions its own)."""
    if "coordinates" not in regions:
        return np.zeros(len(regions), dtype=bool)
    return regions["coordinates"].astype(str).to_numpy() == "sequence"


def _subset(aset, rows):
    from wtko_captum.core.attribution_set import AttributionSet

    rows = np.asarray(sorted(rows), dtype=np.int64)
    return AttributionSet(aset.X[rows], aset.attr[rows], aset.regions.iloc[rows].reset_index(drop=True),
                          aset.method, aset.hypothetical, class_names=aset.class_names)


def _export_quietly(name: str, sub, sizes: dict[str, int], suffix: str, **options) -> bytes:
    """The projected-score file the registered exporter ``name`` writes for ``sub``."""
    from wtko_captum.core.export import export

    quiet = logging.getLogger("wtko_captum")  # the exporter reports each file; these are temporary
    level = quiet.level
    quiet.setLevel(max(level, logging.WARNING))
    try:
        with tempfile.TemporaryDirectory(prefix="wtko-report-") as tmp:
            paths = export(name, sub, Path(tmp) / "t", chrom_sizes=sizes, tracks=["projected"], prefix="t",
                           **options)
            return next(p for p in paths if p.name.endswith(suffix)).read_bytes()
    finally:
        quiet.setLevel(level)


def subset_bigwig(aset, rows, sizes: dict[str, int]) -> bytes:
    """Projected-score bigWig of the windows ``rows`` of ``aset``, by the ``bigwig`` exporter
    (no zoom levels: the report's windows are few)."""
    return _export_quietly("bigwig", _subset(aset, rows), sizes, ".bw", max_zooms=0)


def subset_bedgraph(aset, rows, sizes: dict[str, int]) -> bytes:
    """Projected-score bedGraph of the windows ``rows``, by the ``bedgraph`` exporter: it also
    writes windows of sequences without genome coordinates, which a bigWig cannot hold."""
    return _export_quietly("bedgraph", _subset(aset, rows), sizes, ".bedGraph")


def subset_track(aset, rows, sizes: dict[str, int]) -> tuple[str, str]:
    """``(data URI, igv.js format)`` of the projected scores of windows ``rows``: a bigWig, or a
    gzipped bedGraph when any of them is in sequence coordinates."""
    if in_sequence_coordinates(aset.regions.iloc[sorted(rows)]).any():
        return data_uri(subset_bedgraph(aset, rows, sizes), gzipped=True), "bedgraph"
    return data_uri(subset_bigwig(aset, rows, sizes)), "bigwig"


def bed_text(table: pd.DataFrame, columns=("chrom", "start", "end", "name", "score", "strand")) -> str:
    return table.loc[:, list(columns)].to_csv(sep="\t", header=False, index=False)


def windows_bed(chosen: pd.DataFrame, class_names, sizes) -> str:
    """BED9 of the chosen windows: name = true/predicted class and P(predicted), coloured by
    true class."""
    colours = {str(c): CLASS_COLOURS[i % len(CLASS_COLOURS)] for i, c in enumerate(class_names)}
    rgb = {c: ",".join(str(int(h[i:i + 2], 16)) for i in (1, 3, 5)) for c, h in colours.items()}
    rows = []
    for r in chosen.itertuples():
        s, e = max(int(r.start), 0), min(int(r.end), sizes[r.chrom])
        label = f"{r.true or '?'}>{r.predicted or '?'}"
        if pd.notna(r.p_predicted):
            label += f"({r.p_predicted:.2f})"
        rows.append((r.chrom, s, e, label, 0, ".", s, s, rgb.get(r.true, "120,120,120")))
    table = pd.DataFrame(rows, columns=["chrom", "start", "end", "name", "score", "strand", "ts", "te", "rgb"])
    return bed_text(table.sort_values(["chrom", "start"]), table.columns)


def peaks_bed(regions_tsv, chosen: pd.DataFrame) -> str | None:
    """The called peaks (``peak_start``/``peak_end`` of a prepared ``regions.tsv``) of the chosen
    windows, or None when the table has no peak columns."""
    peaks = pd.read_csv(regions_tsv, sep="\t", dtype={"chrom": str})
    if not {"peak_start", "peak_end", "name"} <= set(peaks.columns):
        return None
    peaks = peaks[peaks["name"].astype(str).isin(set(chosen["name"]))]
    if peaks.empty:
        return None
    out = pd.DataFrame({"chrom": peaks["chrom"], "start": peaks["peak_start"].clip(lower=0), "end": peaks["peak_end"],
                        "name": peaks["class"] if "class" in peaks else peaks["name"], "score": 0, "strand": "."})
    return bed_text(out.sort_values(["chrom", "start"]))


def features_in(path, spans) -> str:
    """The intervals of a BED-like file that overlap the spans, as BED6 text (maybe empty)."""
    from wtko_captum.core.intervals import read_intervals

    table = read_intervals(path)
    keep = np.zeros(len(table), dtype=bool)
    s, e = table["start"].to_numpy(), table["end"].to_numpy()
    chrom = table["chrom"].astype(str).to_numpy()
    for c, a, b, _ in spans:
        keep |= (chrom == c) & (s < b) & (e > a)
    table = table[keep].copy()
    table["score"] = pd.to_numeric(table["score"], errors="coerce").fillna(0)
    return bed_text(table.sort_values(["chrom", "start"]))


def variants_bed(variants: pd.DataFrame, spans) -> str:
    """Every scored variant inside the spans as BED6 text (maybe empty): name = id and the
    signed effect Δ, score = Δ. ``variants``: :func:`wtko_captum.report._regions.variant_intervals`."""
    keep = np.zeros(len(variants), dtype=bool)
    chrom = variants["chrom"].astype(str).to_numpy()
    s, e = variants["start"].to_numpy(), variants["end"].to_numpy()
    for c, a, b, _ in spans:
        keep |= (chrom == c) & (s < b) & (e > a)
    table = variants[keep]
    out = pd.DataFrame({"chrom": table["chrom"], "start": table["start"], "end": table["end"],
                        "name": [f"{n} Δ={d:+.3g}" for n, d in zip(table["name"], table["delta"])],
                        "score": table["delta"], "strand": "."})
    return bed_text(out.sort_values(["chrom", "start"], kind="stable"))


def motif_hits(aset, rows, motifs: dict, sizes: dict[str, int], *, p: float = 1e-4) -> str:
    """FIMO hits (memelite, both strands, p < ``p``) of ``motifs`` (``{"ID NAME": (4, W)}``) in
    the windows ``rows`` of ``aset``, as BED6 in genome coordinates: name = motif name, score =
    -log10 p. Hits in N padding outside a chromosome are dropped."""
    from memelite import fimo

    rows = list(rows)
    if not rows or not motifs:
        return ""
    X = np.ascontiguousarray(aset.X[rows], dtype=np.float32)
    reg = aset.regions.iloc[rows].reset_index(drop=True)
    found = [df for df in fimo({k: np.asarray(v, dtype=np.float64) for k, v in motifs.items()}, X, threshold=p)
             if len(df)]
    if not found:
        return ""
    hits = pd.concat(found, ignore_index=True)
    w = hits["sequence_name"].astype(np.int64).to_numpy()
    chrom = reg["chrom"].astype(str).to_numpy()[w]
    start = reg["start"].to_numpy()[w] + hits["start"].to_numpy()
    end = reg["start"].to_numpy()[w] + hits["end"].to_numpy()
    size = np.array([sizes[c] for c in chrom])
    name = hits["motif_name"].astype(str).str.replace(r"-rc$", "", regex=True).str.split(n=1).str[-1]
    table = pd.DataFrame({"chrom": chrom, "start": start, "end": end, "name": name.to_numpy(),
                          "score": np.round(-np.log10(hits["p-value"].to_numpy()), 2), "strand": hits["strand"]})
    table = table[(table["start"] >= 0) & (table["end"] <= size)].drop_duplicates()
    return bed_text(table.sort_values(["chrom", "start", "end"]))


def bigwig_slice(path, spans, sizes: dict[str, int]) -> bytes | None:
    """The values of bigWig ``path`` inside the spans, as a new bigWig over ``sizes`` (None when
    it has none there): a genome-wide signal cut to the windows the report carries."""
    import pyBigWig

    src = pyBigWig.open(str(path))
    try:
        chroms = src.chroms()
        pieces = [(c, src.intervals(c, s, e) or ()) for c, s, e, _ in spans if c in chroms]
    finally:
        src.close()
    pieces = [(c, iv) for c, iv in pieces if iv]
    if not pieces:
        return None
    with tempfile.TemporaryDirectory(prefix="wtko-report-") as tmp:
        out = Path(tmp) / "slice.bw"
        bw = pyBigWig.open(str(out), "w")
        try:
            bw.addHeader(list(sizes.items()), maxZooms=0)
            last: dict[str, int] = {}
            for c, iv in pieces:
                # an interval reaching across two spans comes back twice; none may pass the chromosome end
                iv = [(s, min(e, sizes[c]), v) for s, e, v in iv if s >= last.get(c, -1) and s < sizes[c]]
                if iv:
                    bw.addEntries([c] * len(iv), [s for s, _, _ in iv], ends=[e for _, e, _ in iv],
                                  values=[float(v) for _, _, v in iv])
                    last[c] = iv[-1][1]
        finally:
            bw.close()
        return out.read_bytes()
