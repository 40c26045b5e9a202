"""``prepare``: peaks, a differential table or sequences -> a prepared-data directory.

The steps, each a small function below: read the inputs (:mod:`wtko_captum.preparation.peaks`,
labelled sets :mod:`wtko_captum.preparation.labels`), check chromosomes against the genome,
cut a window of ``width`` bp centred on each summit (N-pad or drop at chromosome ends; centre,
pad or trim given sequences), read the windows' sequences, remove duplicate windows, split
(by chromosome, seeded random or sequence hash; optionally into K folds:
:mod:`wtko_captum.preparation._splits`), balance the classes per split, and write the directory
described in :mod:`wtko_captum.core.dataset` atomically.

Coordinates are 0-based half-open; base ``i`` of a window is genome base ``start + i``. A
sequence without genome coordinates gets *sequence coordinates*: its window's ``chrom`` is the
sequence's (unique) name and base ``i`` is base ``start + i`` of that sequence
(``coordinates = sequence`` in regions.tsv).
"""
from __future__ import annotations

import json
import logging
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from wtko_captum.core.atomic import atomic_dir
from wtko_captum.core.dataset import PREPARED_FORMAT, REGION_COLUMNS
from wtko_captum.core.errors import InputError, near_miss
from wtko_captum.core.sequence import pad_center
from wtko_captum.preparation import MIN_WIDTH, _splits
from wtko_captum.preparation.peaks import (Region, TableOptions, header_summary, read_diff_table, read_regions,
                                           read_sequence_table, sniff_format)

log = logging.getLogger("wtko_captum")

SPLITS = ("train", "val", "test")
SPLIT_SCHEMES = ("auto",) + _splits.SCHEMES
EXCLUDED_COLUMNS = ["name", "chrom", "start", "end", "class", "source", "line", "reason", "kept", "detail"]
#: sequence inputs: a window more than this many times the longest sequence is nearly all N
MAX_PAD_FACTOR = 10


@dataclass
class Window:
    """A region placed in a fixed-width window (internal working record).

    For a sequence without coordinates ``start``/``end``/``summit`` are positions in that
    sequence and ``seq_name`` is its unique name (the window's ``chrom``).
    """

    region: Region
    label: int
    start: int
    end: int
    summit: int
    pad_left: int = 0
    pad_right: int = 0
    sequence: str | None = None  # the window's bases (given, or read from the genome)
    split: str = "train"
    fold: int | None = None
    seq_name: str | None = None

    @property
    def chrom(self) -> str:
        return self.region.chrom if self.region.has_coords else self.seq_name

    @property
    def split_chrom(self) -> str | None:
        """The chromosome a chromosome split uses (known for sequences whose header named one)."""
        return self.region.chrom

    @property
    def name(self) -> str:
        return f"{self.chrom}:{self.start}-{self.end}" if self.region.has_coords else self.seq_name

    @property
    def key(self) -> tuple:
        """What makes two windows the same: the interval, or the bases without coordinates."""
        if self.region.has_coords:
            return (self.chrom, self.start, self.end)
        return ("sequence", self.sequence.upper())


@dataclass
class PrepareResult:
    """What :func:`prepare` wrote: the directory, the summary table (one row per split and
    class) and every excluded / padded / deduplicated region (excluded.tsv)."""

    path: Path
    summary: pd.DataFrame
    excluded: pd.DataFrame
    meta: dict = field(default_factory=dict)

    def counts(self) -> dict[str, dict[str, int]]:
        """``{split: {class: n}}`` after balancing."""
        out: dict[str, dict[str, int]] = {}
        for split, cls, n in zip(self.summary["split"], self.summary["class"], self.summary["n"]):
            out.setdefault(split, {})[cls] = int(n)
        return out


# ---------------------------------------------------------------- inputs
def _parse_label(raw: str, class_names, path, line) -> int:
    """A sequence-table label: 0/1, or a class name (case-insensitive), or WT/KO."""
    v = str(raw).strip()
    names = {n.lower(): i for i, n in enumerate(class_names)}
    names.setdefault("ko", 0)
    names.setdefault("wt", 1)
    if v in ("0", "1"):
        return int(v)
    if v.lower() in names:
        return names[v.lower()]
    raise InputError(f"label must be 0, 1, {class_names[0]} or {class_names[1]}", path=path, line=line, value=v)


@dataclass
class Inputs:
    """Every input read: ``records`` ``[(region, label)]``, the class names, what was read
    (``info`` for meta.json) and rows already excluded (labelled sets)."""

    records: list
    class_names: list[str]
    info: dict = field(default_factory=dict)
    excluded: list = field(default_factory=list)


def _log_file(path, regions, what: str, info: dict) -> None:
    forms = header_summary(regions)
    detail = "; " + ", ".join(f"{k} {n}" for k, n in forms.items()) if forms else ""
    log.info("%s: %d %s%s", path, len(regions), what, detail)
    if forms:
        info.setdefault("header_forms", {})[str(path)] = forms


def read_inputs(wt=(), ko=(), table=None, table_options: TableOptions | None = None,
                class_names=("KO", "WT"), *, sequences=None, labels=None, label_names=None,
                multi_label: str = "drop", background: str = "drop", background_name: str = "background",
                strict_coordinates: bool = False) -> Inputs:
    """Read every input into ``[(region, label), ...]``: ``wt``/``ko`` files (label 1 / 0), one
    ``table``, or ``sequences`` with a ``labels`` table (classes from the table).

    Raises :class:`InputError` for a mix of those, or when a class ends up with no region.
    """
    wt, ko = list(wt or ()), list(ko or ())
    given = [what for what, on in (("--wt/--ko", wt or ko), ("--table", table is not None),
                                   ("--sequences/--labels", sequences is not None or labels is not None)) if on]
    if len(given) > 1:
        raise InputError(f"give one kind of input, not {' and '.join(given)}")
    if (sequences is None) != (labels is None):
        raise InputError("a labelled set needs both --sequences (FASTA or sequence table) and --labels (table)")
    if not given or (wt or ko) and not (wt and ko):
        missing = "--wt" if not wt else "--ko"
        raise InputError(f"no {class_names[1] if missing == '--wt' else class_names[0]} input: give "
                         f"{missing} files (or one --table, or --sequences with --labels)")
    info: dict = {}
    excluded: list = []
    class_names = [str(c) for c in class_names]
    if sequences is not None:
        from wtko_captum.preparation.labels import label_regions, read_label_table

        regions = read_regions(sequences, strict_coordinates=strict_coordinates)
        if any(r.sequence is None for r in regions):
            raise InputError("--sequences takes a FASTA or a sequence table (peaks have no names to match "
                             "labels to)", path=sequences)
        _log_file(sequences, regions, "sequences", info)
        lab = label_regions(regions, read_label_table(labels, [r.name for r in regions], label_names),
                            label_names=label_names, multi_label=multi_label, background=background,
                            background_name=background_name)
        records, class_names = lab.records, lab.class_names
        excluded = [_excluded_row(r, -1, None, reason, "no", detail) for r, reason, detail in lab.excluded]
        info["labels"] = {"table": str(labels), "classes": class_names, "rows": lab.counts,
                          "multi_label": multi_label, "background": background}
        log.info("%s: %s; classes %s", labels, ", ".join(f"{n} {k}" for k, n in lab.counts.items() if n),
                 ", ".join(class_names))
        sources = {lab_: [str(sequences)] for lab_ in range(len(class_names))}
    elif table is not None:
        if sniff_format(table) == "sequence_table":
            regions = read_sequence_table(table, strict_coordinates=strict_coordinates)
            if any(r.label is None for r in regions):
                raise InputError("a sequence table given as --table needs a label column", path=table)
            records = [(r, _parse_label(r.label, class_names, table, r.line)) for r in regions]
            info["table_kind"] = "sequences"
            _log_file(table, regions, "sequences", info)
        else:
            regions, labels_, counts = read_diff_table(table, table_options)
            records = list(zip(regions, labels_))
            info["table_kind"] = "differential"
            info["table_rule"] = counts.pop("rule")
            info["table_rows"] = counts
            log.info("%s: %d KO, %d WT, %d neither, %d with missing values (%s)", table, counts["ko"],
                     counts["wt"], counts["neither"], counts["missing_value"], info["table_rule"])
        sources = {0: [str(table)], 1: [str(table)]}
    else:
        records = []
        for label, paths in ((1, wt), (0, ko)):
            for p in paths:
                regions = read_regions(p, strict_coordinates=strict_coordinates)
                _log_file(p, regions, f"regions ({class_names[label]})", info)
                records.extend((r, label) for r in regions)
        sources = {1: [str(p) for p in wt], 0: [str(p) for p in ko]}
    n = Counter(label for _, label in records)
    for label in sorted(sources, reverse=True):
        if n[label] == 0:
            extra = f" with rule {info['table_rule']}" if "table_rule" in info else ""
            raise InputError(f"class {class_names[label]} is empty: no regions in "
                             f"{', '.join(sources[label])}{extra}")
    return Inputs(records, class_names, info, excluded)


def check_chroms(records, sizes: dict[str, int], genome, skip_unknown: bool = False):
    """Keep regions whose chromosome is in the genome; others raise (or are excluded).

    Only regions without a given sequence need the genome. A peak that starts past its
    chromosome's end (peaks called on another genome build) is an error naming its line.
    Returns ``(kept, excluded_rows)``.
    """
    unknown = [(r, lab) for r, lab in records if r.sequence is None and r.chrom not in sizes]
    excluded = []
    if unknown and not skip_unknown:
        r = unknown[0][0]
        others = len(unknown) - 1
        more = f"; {others} more line(s) too" if others else ""
        raise InputError(f"chromosome not in the genome {genome}{near_miss(r.chrom, sizes)}{more}"
                         " (--skip-unknown-chroms drops them)", path=r.source, line=r.line, value=r.chrom)
    if unknown:
        bad = {id(r) for r, _ in unknown}
        excluded = [_excluded_row(r, lab, None, "unknown_chrom", "no", f"not in {genome}") for r, lab in unknown]
        log.warning("dropped %d region(s) on chromosomes not in the genome", len(unknown))
        records = [(r, lab) for r, lab in records if id(r) not in bad]
    past = next((r for r, _ in records if r.sequence is None and r.start >= sizes[r.chrom]), None)
    if past is not None:
        raise InputError(f"the peak lies entirely past the end of {past.chrom} ({sizes[past.chrom]} bp in "
                         f"{genome}): were the peaks called on another genome build?", path=past.source,
                         line=past.line, value=f"{past.chrom}:{past.start}-{past.end}")
    return records, excluded


# ---------------------------------------------------------------- windows
def make_windows(records, sizes: dict[str, int], width: int, drop_edge: bool = False):
    """Place each region in a ``width`` bp window. Returns ``(windows, excluded_rows)``.

    Peaks: ``start = summit - width // 2``; a window past a chromosome end is N-padded
    (``pad_left``/``pad_right``) or, with ``drop_edge``, dropped. Given sequences: centred,
    N-padded when shorter (extra N on the right), trimmed around the centre when longer; the
    window interval follows from the sequence's own interval so base i is genome base start+i
    (sequence base start+i for a sequence without coordinates, named uniquely: a repeated
    name gets ``.2``, ``.3``, ...).
    """
    windows, excluded = [], []
    half = width // 2
    names: Counter = Counter()
    for r, label in records:
        if r.sequence is not None:
            seq, left = pad_center(r.sequence, width)
            start = r.start - left
            w = Window(r, label, start, start + width, start + half, sequence=seq)
            if not r.has_coords:
                names[r.name] += 1
                w.seq_name = r.name if names[r.name] == 1 else f"{r.name}.{names[r.name]}"
            if left >= 0:
                w.pad_left, w.pad_right = left, width - len(r.sequence) - left
                if w.pad_left or w.pad_right:
                    excluded.append(_excluded_row(r, label, w, "sequence_padded", "yes",
                                                  f"{len(r.sequence)} bp; N added {w.pad_left} left, {w.pad_right} right"))
            else:
                excluded.append(_excluded_row(r, label, w, "sequence_trimmed", "yes",
                                              f"{len(r.sequence)} bp trimmed to {width} around the centre"))
            windows.append(w)
            continue
        start = r.summit - half
        w = Window(r, label, start, start + width, r.summit)
        size = sizes[r.chrom]
        w.pad_left, w.pad_right = max(0, -start), max(0, start + width - size)
        if w.pad_left or w.pad_right:
            detail = f"chromosome size {size}; {w.pad_left} N left, {w.pad_right} N right"
            if drop_edge:
                excluded.append(_excluded_row(r, label, w, "crosses_chrom_end", "no", detail))
                continue
            excluded.append(_excluded_row(r, label, w, "padded_at_chrom_end", "yes", detail))
        windows.append(w)
    renamed = sum(n - 1 for n in names.values() if n > 1)
    if renamed:
        log.warning("warning: %d sequence name(s) repeat: later ones are named NAME.2, NAME.3, ...", renamed)
    return windows, excluded


def deduplicate(windows, class_names):
    """Remove repeated windows (same interval, or same bases without coordinates). Returns
    ``(windows, excluded_rows)``.

    A window seen twice in one class keeps its first occurrence; a window in several classes is
    ambiguous and removed from all.
    """
    first: dict[tuple, Window] = {}
    labels: dict[tuple, set] = {}
    for w in windows:
        labels.setdefault(w.key, set()).add(w.label)
    kept, excluded = [], []
    for w in windows:
        if len(labels[w.key]) > 1:
            excluded.append(_excluded_row(w.region, w.label, w, "in_both_classes", "no",
                                          "same window labelled " + " and ".join(class_names[k] for k in sorted(labels[w.key]))))
            continue
        if w.key in first:
            f = first[w.key].region
            excluded.append(_excluded_row(w.region, w.label, w, "duplicate", "no",
                                          f"same window as {f.source}:{f.line}"))
            continue
        first[w.key] = w
        kept.append(w)
    n_dup = sum(1 for e in excluded if e["reason"] == "duplicate")
    n_both = sum(1 for e in excluded if e["reason"] == "in_both_classes")
    if n_dup:
        log.warning("warning: %d duplicate region(s) removed (same window twice; see excluded.tsv)", n_dup)
    if n_both:
        log.warning("warning: %d region(s) removed: same window in %s (see excluded.tsv)", n_both,
                    "both classes" if len(class_names) == 2 else "several classes")
    return kept, excluded


# ---------------------------------------------------------------- balance
def balance(windows, rng, class_names, by: str = "split"):
    """Downsample every class to the smallest one in every split (or fold: then any union of
    folds is balanced too), seeded.

    Returns ``(kept, excluded_rows)``. A group missing a class is left as it is (warned).
    """
    k = len(class_names)
    drop = set()
    groups = sorted({getattr(w, by) for w in windows}, key=str)
    for g in groups:
        by_label = {lab: [i for i, w in enumerate(windows) if getattr(w, by) == g and w.label == lab]
                    for lab in range(k)}
        n = {lab: len(v) for lab, v in by_label.items()}
        if min(n.values()) == 0:
            missing = [class_names[lab] for lab in range(k) if n[lab] == 0]
            log.warning("warning: the %s %s has no %s region: not balanced", by, g, ", ".join(missing))
            continue
        smallest = min(n.values())
        for lab in range(k):
            if n[lab] > smallest:
                drop.update(int(i) for i in rng.choice(by_label[lab], size=n[lab] - smallest, replace=False))
    kept = [w for i, w in enumerate(windows) if i not in drop]
    excluded = [_excluded_row(w.region, w.label, w, "balance_downsampled", "no",
                              f"{by} {getattr(w, by)}: larger class downsampled")
                for i, w in enumerate(windows) if i in drop]
    return kept, excluded


def class_weights(windows, n_classes: int) -> list[float]:
    """Inverse-frequency weights ``n / (k * n_c)`` of the training split, indexed by label."""
    n = Counter(w.label for w in windows if w.split == "train")
    total = sum(n.values())
    return [round(total / (n_classes * n[lab]), 6) if n[lab] else 0.0 for lab in range(n_classes)]


# ---------------------------------------------------------------- sequences and output
def extract(windows, genome, verbose: bool = False) -> None:
    """Fill ``w.sequence`` from the genome for windows without one (N where padded)."""
    from tqdm.auto import tqdm

    todo = [w for w in windows if w.sequence is None]
    for w in tqdm(todo, desc="extract", unit="window", disable=not verbose or len(todo) < 1000):
        a, b = w.start + w.pad_left, w.end - w.pad_right
        w.sequence = "N" * w.pad_left + genome.fetch(w.region.chrom, a, b) + "N" * w.pad_right


def _excluded_row(r: Region, label: int, w: Window | None, reason: str, kept: str, detail: str) -> dict:
    return {"name": w.name if w is not None else r.locus, "chrom": w.chrom if w is not None else (r.chrom or r.name),
            "start": w.start if w is not None else r.start, "end": w.end if w is not None else r.end,
            "class": label, "source": r.source, "line": r.line, "reason": reason, "kept": kept,
            "detail": detail}


def _regions_table(windows, class_names, folds: bool) -> tuple[pd.DataFrame, list]:
    order = {s: i for i, s in enumerate(SPLITS)}
    windows = sorted(windows, key=lambda w: order[w.split])  # stable: input order within a split
    columns = REGION_COLUMNS + (["fold"] if folds else [])
    rows = [{"chrom": w.chrom, "start": w.start, "end": w.end, "name": w.name, "label": w.label,
             "class": class_names[w.label], "split": w.split, "summit": w.summit,
             "peak_start": w.region.start, "peak_end": w.region.end, "pad_left": w.pad_left,
             "pad_right": w.pad_right, "source": w.region.source, "line": w.region.line,
             "coordinates": "genome" if w.region.has_coords else "sequence", "fold": w.fold}
            for w in windows]
    return pd.DataFrame(rows, columns=columns), windows


def _summary_table(before, after, class_names, split_notes) -> pd.DataFrame:
    rows = []
    for split in SPLITS:
        for lab in reversed(range(len(class_names))):
            rows.append({"split": split, "class": class_names[lab], "label": lab,
                         "n_before_balance": before[(split, lab)], "n": after[(split, lab)],
                         "chromosomes": split_notes[split]})
    return pd.DataFrame(rows)


def _check_fraction(name: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and 0 <= value < 1):
        raise InputError(f"{name} must be a fraction in [0, 1)", value=str(value))
    return float(value)


def _check_width(width: int, sizes: dict[str, int], genome, records) -> None:
    """The window must fit a chromosome (with peaks) or a sequence (with sequences)."""
    if sizes and width > max(sizes.values()):
        longest = max(sizes, key=sizes.get)
        raise InputError(f"--width {width} is longer than every chromosome of the genome (the longest, {longest}, "
                         f"has {sizes[longest]} bp)", path=genome, value=str(width))
    given = [len(r.sequence) for r, _ in records if r.sequence is not None]
    if given and len(given) == len(records) and width > MAX_PAD_FACTOR * max(given):
        raise InputError(f"--width {width} is more than {MAX_PAD_FACTOR} times the longest input sequence "
                         f"({max(given)} bp): every window would be over 90% N", value=str(width))


def _resolve_scheme(split: str, windows) -> str:
    """``auto`` is ``chrom`` when every window has a chromosome, else ``hash``."""
    if split not in SPLIT_SCHEMES:
        raise InputError(f"split must be one of {', '.join(SPLIT_SCHEMES)}", value=split)
    no_chrom = [w for w in windows if w.split_chrom is None]
    if split == "chrom" and no_chrom:
        r = no_chrom[0].region
        raise InputError(f"--split chrom needs a chromosome for every region, and {len(no_chrom)} sequence(s) have "
                         f"none (first: {r.name}): use --split hash or --split random", path=r.source, line=r.line)
    if split != "auto":
        return split
    if no_chrom:
        log.info("%d of %d sequences have no chromosome: split by sequence hash (identical and reverse-"
                 "complement-identical sequences share a split; --split random for a seeded stratified one)",
                 len(no_chrom), len(windows))
        return "hash"
    return "chrom"


def prepare(out_dir, wt=(), ko=(), *, table=None, sequences=None, labels=None, genome=None,
            width: int = 600, drop_edge: bool = False, split: str = "auto", test_chroms=("chr6", "chr7"),
            val_chroms=("chr8",), test_fraction: float = 0.1, val_fraction: float = 0.1,
            folds: int | None = None, balance_classes: bool = True, class_names=("KO", "WT"),
            label_names=None, multi_label: str = "drop", background: str = "drop",
            background_name: str = "background", strict_coordinates: bool = False,
            genome_build: str | None = None, table_options: TableOptions | None = None,
            skip_unknown_chroms: bool = False, seed: int = 0, verbose: bool = False) -> PrepareResult:
    """Build a prepared-data directory (see :mod:`wtko_captum.core.dataset` for its layout).

    Parameters
    ----------
    out_dir : path
        Output directory; written atomically (replaced only on success).
    wt, ko : list of paths
        Input files per class: BED3+/BED6/narrowPeak peaks (need ``genome``), or sequences as
        FASTA (any header; coordinate forms are recognised) or TSV/CSV with a sequence column.
        Any of them may be gzip or bgzip compressed.
    table : path, optional
        Instead of ``wt``/``ko``: a differential table split by ``table_options``' rule, or a
        sequence table with a label column.
    sequences, labels : path, optional
        Instead of ``wt``/``ko``: a labelled sequence set, sequences (FASTA or sequence table)
        and a label table (one 0/1 column per class or task, or one label column; rows in
        sequence order or keyed by name); see :mod:`wtko_captum.preparation.labels`.
    genome : path, optional
        Genome FASTA (plain, gzip or bgzip) or ``.2bit``; needed for peak inputs. Its index is
        built when missing (in a cache directory when the genome's directory is read-only).
    width : int
        Window length in bp, centred on the summit (default 600, as published); at least
        ``MIN_WIDTH``, at most the longest chromosome.
    drop_edge : bool
        Drop windows that cross a chromosome end instead of N-padding them.
    split : {"auto", "chrom", "random", "hash"}
        How windows are split into train, validation and test. ``auto``: by chromosome when
        every window has one, else by sequence hash.
    test_chroms, val_chroms : sequences of str
        Chromosomes held out for testing / validation (``split="chrom"``).
    test_fraction : float
        Fraction held out for testing with ``random`` and ``hash`` splits.
    val_fraction : float
        Fraction for validation with ``random`` and ``hash``; with ``chrom`` the seeded
        fraction of training regions used when no region lies on ``val_chroms``.
    folds : int, optional
        Assign windows to this many folds (chromosomes balanced by region count; random or
        hash buckets otherwise) instead of test/validation chromosomes or fractions. Fold ``i``
        is the test split of ``train(fold=i)``, fold ``i + 1`` its validation split.
    balance_classes : bool
        Downsample the larger classes per split (per fold with ``folds``; seeded). If False,
        inverse-frequency class weights of the training split go into meta.json instead.
    class_names : (str, str)
        Names of label 0 and label 1 of ``wt``/``ko`` and ``table`` inputs (default
        ``("KO", "WT")``). Labelled sets take their class names from the label table.
    label_names : list of str, optional
        Class names for a label table without a header.
    multi_label, background : str
        What a labelled set does with rows positive in several columns (``drop``, ``combine``,
        ``error``) and in none (``drop``, ``class`` named ``background_name``, ``error``).
    strict_coordinates : bool
        A sequence whose header interval disagrees with its length is an error instead of a
        sequence without coordinates.
    seed : int
        Seed for the random split, the validation fraction and the downsampling.

    Returns
    -------
    PrepareResult
    """
    width, test_fraction, val_fraction = _check_options(width, test_fraction, val_fraction, folds, class_names)
    rng = np.random.default_rng(seed)
    inputs = read_inputs(wt, ko, table, table_options, class_names, sequences=sequences, labels=labels,
                         label_names=label_names, multi_label=multi_label, background=background,
                         background_name=background_name, strict_coordinates=strict_coordinates)
    class_names, k = inputs.class_names, len(inputs.class_names)
    windows, excluded = _windows(inputs, genome, width, drop_edge, skip_unknown_chroms, verbose)

    scheme = _resolve_scheme(split, windows)
    fold_info = None
    if folds is not None:
        val_note, test_note, fold_info = _fold_splits(windows, int(folds), scheme, rng, k)
    else:
        val_note, test_note = _split(windows, scheme, test_chroms, val_chroms, test_fraction, val_fraction, rng, k)
    before = Counter((w.split, w.label) for w in windows)
    weights = [1.0] * k
    if balance_classes:
        windows, ex = balance(windows, rng, class_names, by="fold" if folds else "split")
        excluded += ex
    else:
        weights = class_weights(windows, k)
    after = Counter((w.split, w.label) for w in windows)

    regions, windows = _regions_table(windows, class_names, folds is not None)
    summary = _summary_table(before, after, class_names, {"train": "all others", "val": val_note, "test": test_note})
    excl = pd.DataFrame(excluded, columns=EXCLUDED_COLUMNS)
    if len(excl):
        excl["class"] = [class_names[c] if c >= 0 else "" for c in excl["class"]]
    coords = Counter(regions["coordinates"])
    if coords["sequence"]:
        log.info("%d of %d windows have no genome coordinates: they are placed in sequence coordinates "
                 "(chrom = the sequence's name); genome tracks (bigWig, IGV) skip them", coords["sequence"],
                 len(regions))
    from wtko_captum import __version__

    meta = {
        "format": PREPARED_FORMAT,
        "width": width,
        "class_names": class_names,
        "genome": str(genome) if genome is not None else None,
        "genome_build": genome_build,
        "class_weights": weights,
        "balanced": bool(balance_classes),
        "seed": int(seed),
        "coordinates": {"genome": int(coords["genome"]), "sequence": int(coords["sequence"])},
        "splits": {"scheme": scheme, "test_chroms": list(test_chroms) if scheme == "chrom" else None,
                   "val_chroms": list(val_chroms) if scheme == "chrom" else None, "val": val_note,
                   "test": test_note, "test_fraction": test_fraction, "val_fraction": val_fraction},
        "folds": fold_info,
        "counts": {s: {class_names[lab]: int(after[(s, lab)]) for lab in reversed(range(k))} for s in SPLITS},
        "excluded": dict(Counter(excl["reason"])) if len(excl) else {},
        "inputs": {"class_files": {class_names[1]: [str(p) for p in wt or ()],
                                   class_names[0]: [str(p) for p in ko or ()]} if wt or ko else None,
                   "table": str(table) if table is not None else None,
                   "sequences": str(sequences) if sequences is not None else None,
                   "labels": str(labels) if labels is not None else None},
        "params": {"width": width, "drop_edge": drop_edge, "split": split, "test_fraction": test_fraction,
                   "val_fraction": val_fraction, "folds": folds, "balance": balance_classes,
                   "skip_unknown_chroms": skip_unknown_chroms, "strict_coordinates": strict_coordinates,
                   "table_options": asdict(table_options) if table_options else None},
        "wtko_captum_version": __version__,
        **inputs.info,
    }
    _write(Path(out_dir), regions, windows, summary, excl, meta)
    _log_summary(summary, excl, val_note)
    return PrepareResult(Path(out_dir), summary, excl, meta)


def _check_options(width, test_fraction, val_fraction, folds, class_names) -> tuple[int, float, float]:
    """Refuse options that cannot work, before anything is read."""
    width = int(width)
    if width < MIN_WIDTH:
        raise InputError(f"--width must be at least {MIN_WIDTH} bp (a window too short for any model)",
                         value=str(width))
    test_fraction = _check_fraction("--test-fraction", test_fraction)
    val_fraction = _check_fraction("--val-fraction", val_fraction)
    if test_fraction + val_fraction >= 1:
        raise InputError("--test-fraction plus --val-fraction must stay below 1 (training needs the rest)",
                         value=f"{test_fraction:g} + {val_fraction:g}")
    if folds is not None and int(folds) < 3:
        raise InputError("--folds needs at least 3 (a test, a validation and a training fold)", value=str(folds))
    names = [str(c) for c in class_names]
    if len(names) != 2 or names[0] == names[1]:
        raise InputError("need two different class names", value=",".join(names))
    return width, test_fraction, val_fraction


def _windows(inputs: Inputs, genome, width: int, drop_edge: bool, skip_unknown_chroms: bool, verbose: bool):
    """Check the records against the genome (when peaks need one), place them in windows, read
    their bases and remove duplicates. Returns ``(windows, excluded_rows)``."""
    records, excluded = inputs.records, list(inputs.excluded)
    genome_obj, sizes = None, {}
    if any(r.sequence is None for r, _ in records):
        if genome is None:
            src = next(r.source for r, _ in records if r.sequence is None)
            raise InputError("peak coordinates need a genome (FASTA or .2bit): add --genome", path=src)
        from wtko_captum.core.genome import open_genome

        genome_obj = open_genome(genome)
        sizes = genome_obj.sizes
        log.info("genome %s: %s, %d sequences", genome, genome_obj.kind, len(sizes))
    _check_width(width, sizes, genome, records)
    if genome_obj is not None:
        records, ex = check_chroms(records, sizes, genome, skip_unknown_chroms)
        excluded += ex
    windows, ex = make_windows(records, sizes, width, drop_edge)
    excluded += ex
    if not windows:
        reasons = Counter(e["reason"] for e in excluded if e["kept"] == "no")
        raise InputError("every window was dropped ("
                         + ", ".join(f"{n} {why}" for why, n in reasons.items())
                         + "); nothing to write" + (" - try without --drop-edge" if drop_edge else ""))
    if genome_obj is not None:
        extract(windows, genome_obj, verbose)
    windows, ex = deduplicate(windows, inputs.class_names)
    excluded += ex
    n = Counter(w.label for w in windows)
    for lab in reversed(range(len(inputs.class_names))):
        if n[lab] == 0:
            reasons = Counter(e["reason"] for e in excluded if e["kept"] == "no" and e["class"] == lab)
            raise InputError(f"class {inputs.class_names[lab]} has no window left after dropping "
                             + ", ".join(f"{k} {why}" for why, k in reasons.items()))
    return windows, excluded


def _split(windows, scheme: str, test_chroms, val_chroms, test_fraction: float, val_fraction: float, rng,
           n_classes: int) -> tuple[str, str]:
    """Set every window's split by ``scheme``; returns the validation and test notes."""
    if scheme == "chrom":
        val_note = _splits.by_chrom(windows, test_chroms, val_chroms, val_fraction, rng, n_classes)
        test_note = f"chromosomes {','.join(test_chroms)}" if test_chroms else "none"
    elif scheme == "random":
        val_note = _splits.by_random(windows, test_fraction, val_fraction, rng, n_classes)
        test_note = f"seeded random, {test_fraction:g} of each class"
    else:
        val_note = _splits.by_hash(windows, test_fraction, val_fraction)
        test_note = f"sequence hash, {test_fraction:g}"
    _splits.check_nonempty(windows, scheme, test_fraction)
    return val_note, test_note


def _fold_splits(windows, k: int, scheme: str, rng, n_classes: int) -> tuple[str, str, dict]:
    """Assign folds; the written splits hold fold 0 out (test) with fold 1 validating.
    Returns the validation and test notes and the folds' description."""
    from wtko_captum.core.dataset import fold_splits

    info = _splits.assign_folds(windows, k, scheme, rng, n_classes)
    for w, s in zip(windows, fold_splits([w.fold for w in windows], k, 0)):
        w.split = s
    log.info("%d folds by %s: %s regions", k, scheme, ", ".join(map(str, info["regions"])))
    return f"fold 1 of {k} (fold i+1 for train --fold i)", f"fold 0 of {k} (fold i for train --fold i)", info


def _write(out_dir: Path, regions: pd.DataFrame, windows, summary: pd.DataFrame, excl: pd.DataFrame,
           meta: dict) -> None:
    with atomic_dir(out_dir) as tmp:
        regions.to_csv(tmp / "regions.tsv", sep="\t", index=False)
        with open(tmp / "sequences.fa", "w") as fh:
            for w in windows:
                fh.write(f">{w.name}\n{w.sequence}\n")
        summary.to_csv(tmp / "summary.tsv", sep="\t", index=False)
        excl.to_csv(tmp / "excluded.tsv", sep="\t", index=False)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


def _log_summary(summary: pd.DataFrame, excl: pd.DataFrame, val_note: str) -> None:
    log.info("validation split: %s", val_note)
    if len(excl):
        for (reason, kept), k in Counter(zip(excl["reason"], excl["kept"])).items():
            log.info("  %-22s %6d  (%s)", reason, k, "kept" if kept == "yes" else "removed")
