"""Readers for the inputs of ``wtko prepare``: peak files, differential tables, sequence files.

Every reader returns :class:`Region` records that remember the file and 1-based line they
came from, so later checks (unknown chromosome, duplicates, ...) can name them. Bad lines
raise :class:`~wtko_captum.core.errors.InputError` with the file, line, field and value.

Coordinates are 0-based half-open throughout (BED). FASTA headers carry coordinates in
several forms (:mod:`wtko_captum.preparation._headers`), read in whichever convention matches
the sequence length: ``end - start == len`` is 0-based half-open (``bedtools getfasta``),
``end - start + 1 == len`` is 1-based inclusive (``samtools faidx``, UCSC); either way base
``i`` of the sequence is genome base ``start0 + i`` (a ``-`` strand sequence is reverse
complemented to the forward strand first). Any other header names a *sequence without
coordinates*: its positions are sequence positions (``name 0 L``).

Every text input may be gzip or bgzip compressed. What a file is gets decided by its content,
never its extension (:func:`sniff_format`).
"""
from __future__ import annotations

import csv
import gzip
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

from wtko_captum.core.errors import InputError
from wtko_captum.core.sequence import reverse_complement
from wtko_captum.preparation._headers import FORMS, parse_header, place_interval

_DNA = re.compile(r"^[ACGTNRYSWKMBDHVacgtnryswkmbdhv]+$")
_DNA_STRICT = re.compile(r"^[ACGTNacgtn]{10,}$")

CHROM_NAMES = ("chrom", "chr", "chromosome", "seqnames", "seqname", "seqid", "peak_chr", "#chrom", "chrom_name")
START_NAMES = ("start", "chromstart", "chrom_start", "peak_start", "begin", "from")
END_NAMES = ("end", "chromend", "chrom_end", "peak_end", "stop", "to")
SUMMIT_NAMES = ("summit", "peak_summit", "summit_pos")
LFC_NAMES = ("log2foldchange", "log2fc", "logfc", "lfc", "log2_fc", "log2_fold_change", "log2ratio")
SEQ_NAMES = ("sequence", "seq", "sequences", "dna")
LABEL_NAMES = ("label", "class", "y", "target")
NAME_NAMES = ("name", "id", "seq_id", "sequence_id", "seq_name", "sequence_name")


@dataclass
class Region:
    """One input region.

    chrom, start, end: the peak (or given sequence), 0-based half-open.
    summit: 0-based position the window is centred on.
    sequence: the given sequence for sequence inputs (``None`` for peaks: read from the genome).
    label: the raw label of a labelled sequence table (``None`` otherwise).
    source, line: input file and 1-based line.
    name: the record's own name (FASTA header token, table name column), if any.
    has_coords: False for a sequence without genome coordinates: ``start, end, summit`` are
    then positions in the sequence itself (``0, len, len // 2``) and ``chrom`` is the
    chromosome its header named (used for chromosome splits) or None.
    form: how its coordinates were written (a key of ``_headers.FORMS``; None for BED/tables).
    mismatch: its header named an interval whose length disagrees with the sequence.
    """

    chrom: str | None
    start: int
    end: int
    summit: int
    source: str
    line: int
    sequence: str | None = None
    label: str | None = None
    name: str | None = None
    has_coords: bool = True
    form: str | None = None
    mismatch: bool = False
    one_based: bool = False
    reverse: bool = False

    @property
    def locus(self) -> str:
        """``chrom:start-end`` for genome coordinates, else the record's name."""
        return f"{self.chrom}:{self.start}-{self.end}" if self.has_coords else str(self.name)


# ---------------------------------------------------------------- low-level helpers
def open_text(path) -> io.TextIOBase:
    """Open a text file, gzip or plain (decided by the magic bytes, not the name)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("input file not found", path=path)
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace", newline="")
    return open(path, encoding="utf-8", errors="replace", newline="")


def _content_lines(path):
    """``(lineno, text)`` of lines that carry data: no blank, '#', 'track' or 'browser' lines."""
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            text = line.rstrip("\r\n")
            if not text.strip() or text.startswith(("track", "browser")):
                continue
            if text.startswith("#") and not _looks_like_header(text):
                continue
            yield lineno, text


def _looks_like_header(text: str) -> bool:
    """'#chrom\\tstart...' style header lines start with '#' but name columns."""
    first = re.split(r"[\t,]", text, maxsplit=1)[0].lstrip("#").strip().lower()
    return first in CHROM_NAMES


def _delimiter(text: str) -> str | None:
    """Tab if the line has one, else comma if it has one, else None (any whitespace)."""
    if "\t" in text:
        return "\t"
    if "," in text:
        return ","
    return None


def _split(text: str, delim: str | None) -> list[str]:
    if delim == ",":
        return [f.strip() for f in next(csv.reader([text]))]
    return [f.strip() for f in (text.split(delim) if delim else text.split())]


def _int(value: str, what: str, path, line: int) -> int:
    try:
        return int(value)
    except ValueError:
        raise InputError(f"{what} is not an integer", path=path, line=line, value=value) from None


def _is_int(value: str) -> bool:
    try:
        int(value)
        return True
    except ValueError:
        return False


def _float_or_nan(value: str, what: str, path, line: int) -> float:
    """A number; 'NA', 'NaN', '' and '.' are missing (NaN) as in R/DESeq2 output."""
    v = value.strip()
    if v in ("", ".", "NA", "na", "NaN", "nan", "N/A"):
        return math.nan
    try:
        return float(v)
    except ValueError:
        raise InputError(f"{what} is not a number", path=path, line=line, value=value) from None


def _check_interval(chrom: str, start: int, end: int, path, line: int) -> None:
    if not chrom:
        raise InputError("empty chromosome name", path=path, line=line)
    if start < 0:
        raise InputError("start is negative", path=path, line=line, value=str(start))
    if start >= end:
        raise InputError("start must be smaller than end", path=path, line=line, value=f"start={start} end={end}")


# ---------------------------------------------------------------- sniffing
def sniff_format(path) -> str:
    """What a file is, from its content: ``"fasta"``, ``"sequence_table"`` or ``"intervals"``.

    FASTA: the first data line starts with '>'. Sequence table: a header naming a
    ``sequence`` column, or a headerless row whose 4th field is a DNA string (>= 10 letters).
    Anything else is an interval file (BED/narrowPeak or a differential table).
    """
    for _, text in _content_lines(path):
        if text.startswith(">"):
            return "fasta"
        fields = _split(text, _delimiter(text))
        if any(f.lower().lstrip("#") in SEQ_NAMES for f in fields):
            return "sequence_table"
        if len(fields) >= 4 and _DNA_STRICT.match(fields[3]):
            return "sequence_table"
        return "intervals"
    return "intervals"  # no data lines: zero regions (prepare then reports the empty class)


# ---------------------------------------------------------------- peak files
def read_peaks(path) -> list[Region]:
    """Read a BED3+, BED6 or narrowPeak file.

    The summit is ``start + column 10`` for narrowPeak lines (exactly 10 columns, column 10
    >= 0), otherwise the midpoint ``(start + end) // 2``. Extra columns are ignored (so BED
    files with annotation columns work). A first line whose start and end are not numbers is
    taken as a header.
    """
    regions: list[Region] = []
    src = str(path)
    seen_data = False
    for lineno, text in _content_lines(path):
        fields = _split(text, "\t" if "\t" in text else None)
        if not seen_data and len(fields) >= 3 and not _is_int(fields[1]) and not _is_int(fields[2]):
            seen_data = True  # a header line: skip it, but only once, at the top
            continue
        seen_data = True
        if len(fields) < 3:
            raise InputError("malformed BED line: expected at least 3 tab-separated fields "
                             "(chrom, start, end)", path=path, line=lineno, value=text[:80])
        chrom = fields[0]
        start = _int(fields[1], "BED field 2 (start)", path, lineno)
        end = _int(fields[2], "BED field 3 (end)", path, lineno)
        _check_interval(chrom, start, end, path, lineno)
        summit = (start + end) // 2
        if len(fields) == 10 and _is_int(fields[9]) and int(fields[9]) >= 0:
            offset = int(fields[9])
            if offset >= end - start:
                raise InputError(f"narrowPeak field 10 (summit offset) is outside the peak of "
                                 f"length {end - start}", path=path, line=lineno, value=fields[9])
            summit = start + offset
        regions.append(Region(chrom, start, end, summit, src, lineno))
    return regions


# ---------------------------------------------------------------- sequence files
def _interval_from_header(chrom, start, end, seq_len, path, line, what="header") -> tuple[int, int]:
    """0-based half-open interval of a sequence given as chrom:start-end, by its length."""
    placed = place_interval(start, end, seq_len)
    if placed is not None:
        return placed[:2]
    raise InputError(f"{what} interval spans {end - start} bp but the sequence has {seq_len}; "
                     "cannot map bases to the genome", path=path, line=line, value=f"{chrom}:{start}-{end}")


def _fasta_records(path):
    """``(header, header_line, sequence)`` of every record; letters other than IUPAC DNA codes
    are an error naming the line."""
    header, header_line, chunks = None, 0, []
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            text = line.strip()
            if not text:
                continue
            if text.startswith(">"):
                if header is not None:
                    yield header, header_line, "".join(chunks)
                header, header_line, chunks = text[1:].strip(), lineno, []
            elif header is None:
                raise InputError("not a FASTA file: text before the first '>' header", path=path,
                                 line=lineno, value=text[:40])
            else:
                if not _DNA.match(text):
                    bad = next(c for c in text if not _DNA.match(c))
                    raise InputError("not a DNA letter in sequence", path=path, line=lineno, value=bad)
                chunks.append(text)
    if header is not None:
        yield header, header_line, "".join(chunks)


def read_sequence_fasta(path, *, strict_coordinates: bool = False) -> list[Region]:
    """Read a FASTA of sequences, with or without coordinates in their headers.

    Headers in a coordinate form (``chrom:start-end``, with ``(strand)``, bedtools
    ``name::chrom:start-end``, ``chrom_start_end[_suffix]``; see ``_headers``) place the
    sequence in the genome; ``-`` strand sequences are reverse complemented to the forward
    strand. Any other header makes a sequence without coordinates named by its first token.
    A header whose interval length disagrees with its sequence is kept without coordinates
    (its chromosome still counts for splits), or raises with ``strict_coordinates``. The
    summit is the centre of the sequence. Case is kept.
    """
    regions: list[Region] = []
    src = str(path)
    for header, line, seq in _fasta_records(path):
        if not seq:
            raise InputError("empty sequence", path=path, line=line, value=header)
        h = parse_header(header, len(seq))
        if h.mismatch and strict_coordinates:
            raise InputError(f"header interval spans {h.span} bp but the sequence has {len(seq)}; cannot map "
                             "bases to the genome (without --strict-coordinates it is kept as a sequence "
                             "without coordinates)", path=path, line=line, value=h.written)
        if h.has_coords:
            reverse = h.strand == "-"
            if reverse:
                seq = reverse_complement(seq)
            regions.append(Region(h.chrom, h.start, h.end, (h.start + h.end) // 2, src, line, sequence=seq,
                                  name=h.name, form=h.form, one_based=h.one_based, reverse=reverse))
        else:
            regions.append(Region(h.chrom, 0, len(seq), len(seq) // 2, src, line, sequence=seq, name=h.name,
                                  has_coords=False, form=h.form, mismatch=h.mismatch))
    return regions


def header_summary(regions) -> dict:
    """Counts of how the sequence records' coordinates were written: ``{form description: n}``,
    plus ``1-based`` / ``reverse strand`` / ``interval length disagrees`` counts where nonzero."""
    out: dict[str, int] = {}
    for r in regions:
        if r.sequence is None:
            continue
        if r.mismatch:
            written = FORMS.get(r.form, "chrom, start, end columns")
            key = f"{written} with an interval of another length (kept without coordinates)"
        elif r.has_coords:
            key = FORMS.get(r.form, "chrom, start, end columns")
        else:
            key = FORMS["none"]
        out[key] = out.get(key, 0) + 1
    for flag, what in (("one_based", "1-based inclusive"), ("reverse", "- strand, reverse complemented")):
        n = sum(1 for r in regions if getattr(r, flag))
        if n:
            out[what] = n
    return out


def _find_col(header: list[str], names, spec=None, what="column", path=None, required=True) -> int | None:
    """Index of a column: ``spec`` (a name or a 1-based number) or the first of ``names``."""
    lower = [h.lower().lstrip("#") for h in header]
    if spec is not None:
        spec = str(spec)
        if spec.isdigit():
            idx = int(spec) - 1
            if header and not 0 <= idx < len(header):
                raise InputError(f"{what} column {spec} does not exist ({len(header)} columns)", path=path)
            return idx
        if spec.lower() in lower:
            return lower.index(spec.lower())
        import difflib

        close = difflib.get_close_matches(spec.lower(), lower, n=1, cutoff=0.6)
        hint = f" (did you mean {header[lower.index(close[0])]!r}?)" if close else ""
        raise InputError(f"no {what} column named {spec!r}{hint}; columns: "
                         f"{', '.join(header)}", path=path)
    for n in names:
        if n in lower:
            return lower.index(n)
    if required:
        raise InputError(f"cannot find the {what} column (looked for {', '.join(names[:4])}, ...); "
                         f"name it with the --{what.replace(' ', '-')}-col option", path=path)
    return None


def _table_rows(path):
    """``(header or None, [(lineno, fields), ...])`` of a TSV/CSV/whitespace table.

    The first data line is a header when its second field is not an integer. An R-style
    header one field shorter than the rows (row names) gets an empty first name.
    """
    rows, delim, header = [], None, None
    for lineno, text in _content_lines(path):
        if delim is None:
            delim = _delimiter(text) or " "
            fields = _split(text, None if delim == " " else delim)
            if len(fields) < 2 or not _is_int(fields[1]):
                header = [f.lstrip("#") for f in fields]
                continue
        rows.append((lineno, _split(text, None if delim == " " else delim)))
    if header is not None and rows and len(header) == len(rows[0][1]) - 1:
        header = [""] + header
    return header, rows


def read_sequence_table(path, *, chrom_col=None, start_col=None, end_col=None, seq_col=None,
                        label_col=None, strict_coordinates: bool = False) -> list[Region]:
    """Read a TSV/CSV of sequences: a sequence column, optionally chrom, start, end, a name and
    a label column.

    Headerless files are read as ``chrom, start, end, sequence[, label]``. Coordinates follow
    the same length rule as FASTA headers (0-based half-open or 1-based inclusive); a row whose
    interval length disagrees with its sequence is kept without coordinates (an error with
    ``strict_coordinates``). Without chrom/start/end columns every row is a sequence without
    coordinates, named by its name column or ``row<line>``.
    """
    header, rows = _table_rows(path)
    if header is None:
        ncol = len(rows[0][1]) if rows else 4
        header = ["chrom", "start", "end", "sequence"] + (["label"] if ncol >= 5 else [])
        header += [f"col{i + 1}" for i in range(len(header), ncol)]
    qi = _find_col(header, SEQ_NAMES, seq_col, "sequence", path)
    ci = _find_col(header, CHROM_NAMES, chrom_col, "chrom", path, required=chrom_col is not None)
    coords = ci is not None
    si = _find_col(header, START_NAMES, start_col, "start", path) if coords else None
    ei = _find_col(header, END_NAMES, end_col, "end", path) if coords else None
    ni = _find_col(header, NAME_NAMES, None, "name", path, required=False)
    li = _find_col(header, LABEL_NAMES, label_col, "label", path, required=False)
    need = max(i for i in (ci, si, ei, qi, ni, li) if i is not None) + 1
    regions, src = [], str(path)
    for lineno, fields in rows:
        if len(fields) < need:
            raise InputError(f"expected {need} fields, found {len(fields)}", path=path, line=lineno,
                             value="\t".join(fields)[:80])
        seq = fields[qi]
        if not seq or not _DNA.match(seq):
            bad = next((c for c in seq if not _DNA.match(c)), "") if seq else ""
            raise InputError("sequence is not DNA", path=path, line=lineno, value=bad or seq[:20])
        label = fields[li] if li is not None else None
        name = fields[ni] if ni is not None else None
        if not coords:
            regions.append(Region(None, 0, len(seq), len(seq) // 2, src, lineno, sequence=seq, label=label,
                                  name=name or f"row{lineno}", has_coords=False))
            continue
        chrom = fields[ci]
        start = _int(fields[si], "start", path, lineno)
        end = _int(fields[ei], "end", path, lineno)
        _check_interval(chrom, start, end, path, lineno)
        placed = place_interval(start, end, len(seq))
        if placed is None and strict_coordinates:
            _interval_from_header(chrom, start, end, len(seq), path, lineno, what="row")
        if placed is not None:
            s0, e0, one_based = placed
            regions.append(Region(chrom, s0, e0, (s0 + e0) // 2, src, lineno, sequence=seq, label=label,
                                  name=name, one_based=one_based))
        else:
            regions.append(Region(chrom, 0, len(seq), len(seq) // 2, src, lineno, sequence=seq, label=label,
                                  name=name or f"{chrom}:{start}-{end}", has_coords=False, mismatch=True))
    return regions


def read_regions(path, *, strict_coordinates: bool = False) -> list[Region]:
    """Read a ``--wt``/``--ko`` input of any kind, recognised by its content."""
    kind = sniff_format(path)
    if kind == "fasta":
        return read_sequence_fasta(path, strict_coordinates=strict_coordinates)
    if kind == "sequence_table":
        return read_sequence_table(path, strict_coordinates=strict_coordinates)
    return read_peaks(path)


# ---------------------------------------------------------------- differential tables
@dataclass
class TableOptions:
    """How to read a differential table and split it into WT and KO regions.

    Columns are names or 1-based numbers; ``None`` = detect from the header. The rule (the
    authors'): KO when ``lfc > ko_min_lfc``; WT when ``|lfc| < wt_max_abs_lfc`` and
    ``WT count > wt_min_count`` (the count condition only when count columns exist). ``lfc``
    is the log2FC column if given, else ``log2((KO + 1) / (WT + 1))`` from the counts;
    positive means more signal in KO (``flip_lfc`` negates it).
    """

    chrom_col: str | None = None
    start_col: str | None = None
    end_col: str | None = None
    summit_col: str | None = None
    lfc_col: str | None = None
    wt_count_col: str | None = None
    ko_count_col: str | None = None
    ko_min_lfc: float = 1.0
    wt_max_abs_lfc: float = 0.2
    wt_min_count: float = 10.0
    flip_lfc: bool = False


def _token_col(header: list[str], token: str) -> int | None:
    """The one column whose name has ``token`` as a word (e.g. 'WT', 'count_wt', 'WT.count')."""
    hits = [i for i, h in enumerate(header) if token in re.split(r"[^a-z0-9]+", h.lower())]
    return hits[0] if len(hits) == 1 else None


def read_diff_table(path, options: TableOptions | None = None) -> tuple[list[Region], list[int], dict]:
    """Read a differential table and classify its rows.

    Returns ``(regions, labels, counts)``: one Region per classified row, its label (1 = WT,
    0 = KO), and counts of rows per outcome (``ko``, ``wt``, ``neither``, ``missing_value``)
    plus ``rule`` (a one-line description of what was applied).
    """
    o = options or TableOptions()
    header, rows = _table_rows(path)
    if not rows:
        raise InputError("table has no data rows", path=path)
    if header is None:
        header = [f"col{i + 1}" for i in range(len(rows[0][1]))]
        defaults = {"chrom": "1", "start": "2", "end": "3"}
    else:
        defaults = {}
    ci = _find_col(header, CHROM_NAMES, o.chrom_col or defaults.get("chrom"), "chrom", path)
    si = _find_col(header, START_NAMES, o.start_col or defaults.get("start"), "start", path)
    ei = _find_col(header, END_NAMES, o.end_col or defaults.get("end"), "end", path)
    mi = _find_col(header, SUMMIT_NAMES, o.summit_col, "summit", path, required=False)
    li = _find_col(header, LFC_NAMES, o.lfc_col, "lfc", path, required=False)
    wi = (_find_col(header, (), o.wt_count_col, "wt count", path) if o.wt_count_col
          else _token_col(header, "wt"))
    ki = (_find_col(header, (), o.ko_count_col, "ko count", path) if o.ko_count_col
          else _token_col(header, "ko"))
    have_counts = wi is not None and ki is not None
    if li is None and not have_counts:
        raise InputError("cannot find a log2 fold change column or WT and KO count columns; name "
                         "them with --lfc-col or --wt-count-col/--ko-count-col (columns: "
                         f"{', '.join(header)})", path=path)
    need = max(i for i in (ci, si, ei, mi, li, wi if have_counts else None, ki if have_counts else None)
               if i is not None) + 1
    regions, labels, src = [], [], str(path)
    counts = {"ko": 0, "wt": 0, "neither": 0, "missing_value": 0}
    sign = -1.0 if o.flip_lfc else 1.0
    for lineno, fields in rows:
        if len(fields) < need:
            raise InputError(f"expected at least {need} fields, found {len(fields)}", path=path,
                             line=lineno, value="\t".join(fields)[:80])
        chrom = fields[ci]
        start = _int(fields[si], f"start (column {si + 1})", path, lineno)
        end = _int(fields[ei], f"end (column {ei + 1})", path, lineno)
        _check_interval(chrom, start, end, path, lineno)
        wt_n = ko_n = math.nan
        if have_counts:
            wt_n = _float_or_nan(fields[wi], f"WT count (column {header[wi] or wi + 1})", path, lineno)
            ko_n = _float_or_nan(fields[ki], f"KO count (column {header[ki] or ki + 1})", path, lineno)
        if li is not None:
            lfc = _float_or_nan(fields[li], f"log2FC (column {header[li] or li + 1})", path, lineno)
        else:
            lfc = math.log2((ko_n + 1) / (wt_n + 1)) if ko_n >= 0 and wt_n >= 0 else math.nan
        lfc *= sign
        if math.isnan(lfc) or (have_counts and math.isnan(wt_n)):
            counts["missing_value"] += 1
            continue
        if lfc > o.ko_min_lfc:
            label = 0
        elif abs(lfc) < o.wt_max_abs_lfc and (not have_counts or wt_n > o.wt_min_count):
            label = 1
        else:
            counts["neither"] += 1
            continue
        counts["ko" if label == 0 else "wt"] += 1
        summit = (start + end) // 2
        if mi is not None:
            value = _int(fields[mi], "summit", path, lineno)
            # an absolute position (MACS abs_summit) when inside the peak, else an offset
            summit = value if start <= value < end else start + value
            if not start <= summit < end:
                raise InputError("summit is outside the peak", path=path, line=lineno, value=fields[mi])
        regions.append(Region(chrom, start, end, summit, src, lineno))
        labels.append(label)
    lfc_name = (f"column {header[li] or li + 1}" if li is not None else "log2((KO+1)/(WT+1))")
    wt_rule = f"|lfc| < {o.wt_max_abs_lfc}" + (f" and WT count > {o.wt_min_count:g}" if have_counts else "")
    counts["rule"] = (f"lfc = {'-' if o.flip_lfc else ''}{lfc_name}; KO: lfc > {o.ko_min_lfc}; WT: {wt_rule}")
    return regions, labels, counts
