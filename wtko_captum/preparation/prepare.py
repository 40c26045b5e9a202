"""``prepare``: peaks, a differential table or sequences -> a prepared-data directory.

The steps, each a small function below: read the inputs (:mod:`wtko_captum.preparation.peaks`), check
chromosomes against the genome, cut a window of ``width`` bp centred on each summit (N-pad or
drop at chromosome ends; centre, pad or trim given sequences), remove duplicate windows, split
by chromosome, balance the classes per split, extract the sequences, and write the directory
described in :mod:`wtko_captum.core.dataset` atomically.

Coordinates are 0-based half-open; base ``i`` of a window is genome base ``start + i``.
"""
from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from wtko_captum.core.atomic import atomic_dir
from wtko_captum.core.dataset import PREPARED_FORMAT, REGION_COLUMNS
from wtko_captum.core.errors import InputError, near_miss
from wtko_captum.preparation.peaks import Region, TableOptions, read_diff_table, read_regions, read_sequence_table, sniff_format
from wtko_captum.core.sequence import pad_center

log = logging.getLogger("wtko_captum")

SPLITS = ("train", "val", "test")
EXCLUDED_COLUMNS = ["name", "chrom", "start", "end", "class", "source", "line", "reason", "kept", "detail"]


@dataclass
class Window:
    """A region placed in a fixed-width window (internal working record)."""

    region: Region
    label: int
    start: int
    end: int
    summit: int
    pad_left: int = 0
    pad_right: int = 0
    sequence: str | None = None  # the window, when the input gave the sequence
    split: str = "train"

    @property
    def name(self) -> str:
        return f"{self.region.chrom}:{self.start}-{self.end}"

    @property
    def key(self) -> tuple:
        return (self.region.chrom, self.start, self.end)


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


def read_inputs(wt=(), ko=(), table=None, table_options: TableOptions | None = None,
                class_names=("KO", "WT")) -> tuple[list[tuple[Region, int]], dict]:
    """Read every input into ``[(region, label), ...]`` (label 1 = WT, 0 = KO).

    Returns the records and an info dict (the table rule and its row counts, if a table).
    Raises :class:`InputError` when a class ends up with no region.
    """
    wt, ko = list(wt or ()), list(ko or ())
    if table is None and not (wt and ko):
        missing = "--wt" if not wt else "--ko"
        raise InputError(f"no {class_names[1] if missing == '--wt' else class_names[0]} input: give "
                         f"{missing} files (or one --table)")
    if table is not None and (wt or ko):
        raise InputError("give either --wt/--ko files or one --table, not both")
    records: list[tuple[Region, int]] = []
    info: dict = {}
    if table is not None:
        if sniff_format(table) == "sequence_table":
            regions = read_sequence_table(table)
            if any(r.label is None for r in regions):
                raise InputError("a sequence table given as --table needs a label column", path=table)
            records = [(r, _parse_label(r.label, class_names, table, r.line)) for r in regions]
            info["table_kind"] = "sequences"
        else:
            regions, labels, counts = read_diff_table(table, table_options)
            records = list(zip(regions, labels))
            info["table_kind"] = "differential"
            info["table_rule"] = counts.pop("rule")
            info["table_rows"] = counts
            log.info("%s: %d KO, %d WT, %d neither, %d with missing values (%s)", table, counts["ko"],
                     counts["wt"], counts["neither"], counts["missing_value"], info["table_rule"])
        sources = {0: [str(table)], 1: [str(table)]}
    else:
        for label, paths in ((1, wt), (0, ko)):
            for p in paths:
                regions = read_regions(p)
                log.info("%s: %d regions (%s)", p, len(regions), class_names[label])
                records.extend((r, label) for r in regions)
        sources = {1: [str(p) for p in wt], 0: [str(p) for p in ko]}
    n = Counter(label for _, label in records)
    for label in (1, 0):
        if n[label] == 0:
            extra = f" with rule {info['table_rule']}" if "table_rule" in info else ""
            raise InputError(f"class {class_names[label]} is empty: no regions in "
                             f"{', '.join(sources[label])}{extra}")
    return records, info


def check_chroms(records, sizes: dict[str, int], genome, skip_unknown: bool = False):
    """Keep regions whose chromosome is in the genome; others raise (or are excluded).

    Only regions without a given sequence need the genome. Returns ``(kept, excluded_rows)``.
    """
    unknown = [(r, lab) for r, lab in records if r.sequence is None and r.chrom not in sizes]
    if not unknown:
        return records, []
    if not skip_unknown:
        r = unknown[0][0]
        others = len(unknown) - 1
        more = f"; {others} more line(s) too" if others else ""
        raise InputError(f"chromosome not in the genome {genome}{near_miss(r.chrom, sizes)}{more}"
                         " (--skip-unknown-chroms drops them)", path=r.source, line=r.line, value=r.chrom)
    bad = {id(r) for r, _ in unknown}
    excluded = [_excluded_row(r, lab, None, "unknown_chrom", "no", f"not in {genome}") for r, lab in unknown]
    log.warning("dropped %d region(s) on chromosomes not in the genome", len(unknown))
    return [(r, lab) for r, lab in records if id(r) not in bad], excluded


# ---------------------------------------------------------------- windows
def make_windows(records, sizes: dict[str, int], width: int, drop_edge: bool = False):
    """Place each region in a ``width`` bp window. Returns ``(windows, excluded_rows)``.

    Peaks: ``start = summit - width // 2``; a window past a chromosome end is N-padded
    (``pad_left``/``pad_right``) or, with ``drop_edge``, dropped. Given sequences: centred,
    N-padded when shorter (extra N on the right), trimmed around the centre when longer; the
    window interval follows from the sequence's own interval so base i is genome base start+i.
    """
    windows, excluded = [], []
    half = width // 2
    for r, label in records:
        if r.sequence is not None:
            seq, left = pad_center(r.sequence, width)
            start = r.start - left
            w = Window(r, label, start, start + width, start + half, sequence=seq)
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
    return windows, excluded


def deduplicate(windows, class_names):
    """Remove repeated windows. Returns ``(windows, excluded_rows)``.

    A window seen twice in one class keeps its first occurrence; a window in both classes is
    ambiguous and removed from both.
    """
    first: dict[tuple, Window] = {}
    labels: dict[tuple, set] = {}
    for w in windows:
        labels.setdefault(w.key, set()).add(w.label)
    kept, excluded = [], []
    for w in windows:
        if len(labels[w.key]) > 1:
            excluded.append(_excluded_row(w.region, w.label, w, "in_both_classes", "no",
                                          f"same window labelled {class_names[0]} and {class_names[1]}"))
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
        log.warning("warning: %d region(s) removed: same window in both classes (see excluded.tsv)", n_both)
    return kept, excluded


# ---------------------------------------------------------------- splits and balance
def assign_splits(windows, test_chroms, val_chroms, val_fraction: float, rng) -> str:
    """Set ``w.split`` by chromosome. Returns how the validation split was made (one line).

    Regions on ``test_chroms`` are test, on ``val_chroms`` validation, the rest train. When no
    region lies on ``val_chroms``, a seeded ``val_fraction`` of each class's training regions
    becomes validation instead.
    """
    test_chroms, val_chroms = set(test_chroms), set(val_chroms) - set(test_chroms)
    chroms = {w.region.chrom for w in windows}
    for w in windows:
        c = w.region.chrom
        w.split = "test" if c in test_chroms else "val" if c in val_chroms else "train"
    if test_chroms and not chroms & test_chroms:
        hint = "".join(near_miss(c, chroms) for c in sorted(test_chroms))[:80]
        log.warning("warning: no region on the test chromosomes %s%s: the test split is empty",
                    ",".join(sorted(test_chroms)), hint)
    if chroms & val_chroms:
        return f"chromosomes {','.join(sorted(val_chroms & chroms))}"
    if val_fraction <= 0:
        return "none (no region on the validation chromosomes and --val-fraction 0)"
    for label in (0, 1):
        idx = [i for i, w in enumerate(windows) if w.split == "train" and w.label == label]
        n_val = int(round(val_fraction * len(idx)))
        for i in rng.choice(idx, size=n_val, replace=False) if n_val else ():
            windows[i].split = "val"
    why = f"no region on {','.join(sorted(val_chroms))}; " if val_chroms else ""
    return f"{why}a random {val_fraction:g} of each class's training regions (seeded)"


def balance(windows, rng, class_names):
    """Downsample the larger class to the smaller one in every split (seeded).

    Returns ``(kept, excluded_rows)``. A split missing one class is left as it is (warned).
    """
    drop = set()
    for split in SPLITS:
        by_label = {lab: [i for i, w in enumerate(windows) if w.split == split and w.label == lab]
                    for lab in (0, 1)}
        n = {lab: len(v) for lab, v in by_label.items()}
        if min(n.values()) == 0:
            if max(n.values()):
                log.warning("warning: the %s split has no %s region: not balanced", split,
                            class_names[0] if n[0] == 0 else class_names[1])
            continue
        big = 0 if n[0] > n[1] else 1
        surplus = n[big] - n[1 - big]
        if surplus:
            drop.update(int(i) for i in rng.choice(by_label[big], size=surplus, replace=False))
    kept = [w for i, w in enumerate(windows) if i not in drop]
    excluded = [_excluded_row(w.region, w.label, w, "balance_downsampled", "no",
                              f"{w.split} split: larger class downsampled")
                for i, w in enumerate(windows) if i in drop]
    return kept, excluded


def class_weights(windows) -> list[float]:
    """Inverse-frequency weights ``n / (2 * n_c)`` of the training split, indexed by label."""
    n = Counter(w.label for w in windows if w.split == "train")
    total = sum(n.values())
    return [round(total / (2 * n[lab]), 6) if n[lab] else 0.0 for lab in (0, 1)]


# ---------------------------------------------------------------- sequences and output
def extract(windows, fasta, verbose: bool = False) -> None:
    """Fill ``w.sequence`` from the genome for windows without one (N where padded)."""
    from tqdm.auto import tqdm

    todo = [w for w in windows if w.sequence is None]
    for w in tqdm(todo, desc="extract", unit="window", disable=not verbose or len(todo) < 1000):
        a, b = w.start + w.pad_left, w.end - w.pad_right
        seq = fasta[w.region.chrom][a:b]
        w.sequence = "N" * w.pad_left + str(seq) + "N" * w.pad_right


def _excluded_row(r: Region, label: int, w: Window | None, reason: str, kept: str, detail: str) -> dict:
    return {"name": w.name if w is not None else f"{r.chrom}:{r.start}-{r.end}", "chrom": r.chrom,
            "start": w.start if w is not None else r.start, "end": w.end if w is not None else r.end,
            "class": label, "source": r.source, "line": r.line, "reason": reason, "kept": kept,
            "detail": detail}


def _regions_table(windows, class_names) -> pd.DataFrame:
    order = {s: i for i, s in enumerate(SPLITS)}
    windows = sorted(windows, key=lambda w: order[w.split])  # stable: input order within a split
    rows = [{"chrom": w.region.chrom, "start": w.start, "end": w.end, "name": w.name, "label": w.label,
             "class": class_names[w.label], "split": w.split, "summit": w.summit,
             "peak_start": w.region.start, "peak_end": w.region.end, "pad_left": w.pad_left,
             "pad_right": w.pad_right, "source": w.region.source, "line": w.region.line}
            for w in windows]
    return pd.DataFrame(rows, columns=REGION_COLUMNS), windows


def _summary_table(before, after, class_names, split_notes) -> pd.DataFrame:
    rows = []
    for split in SPLITS:
        for lab in (1, 0):
            rows.append({"split": split, "class": class_names[lab], "label": lab,
                         "n_before_balance": before[(split, lab)], "n": after[(split, lab)],
                         "chromosomes": split_notes[split]})
    return pd.DataFrame(rows)


def prepare(out_dir, wt=(), ko=(), *, table=None, genome=None, width: int = 600,
            drop_edge: bool = False, test_chroms=("chr6", "chr7"), val_chroms=("chr8",),
            val_fraction: float = 0.1, balance_classes: bool = True, class_names=("KO", "WT"),
            genome_build: str | None = None, table_options: TableOptions | None = None,
            skip_unknown_chroms: bool = False, seed: int = 0, background: str | None = None,
            background_ratio: float = 1.0, verbose: bool = False) -> PrepareResult:
    """Build a prepared-data directory (see :mod:`wtko_captum.core.dataset` for its layout).

    Parameters
    ----------
    out_dir : path
        Output directory; written atomically (replaced only on success).
    wt, ko : list of paths
        Input files per class: BED3+/BED6/narrowPeak peaks (need ``genome``), or sequences as
        FASTA with ``chrom:start-end`` headers or TSV/CSV with chrom, start, end, sequence.
    table : path, optional
        Instead of ``wt``/``ko``: a differential table split by ``table_options``' rule, or a
        sequence table with a label column.
    genome : path, optional
        Genome FASTA (pyfaidx; the ``.fai`` is built when missing). Needed for peak inputs.
    width : int
        Window length in bp, centred on the summit (default 600, as published).
    drop_edge : bool
        Drop windows that cross a chromosome end instead of N-padding them.
    test_chroms, val_chroms : sequences of str
        Chromosomes held out for testing / validation.
    val_fraction : float
        Seeded fraction of training regions used for validation when no region lies on
        ``val_chroms``.
    balance_classes : bool
        Downsample the larger class per split (seeded). If False, inverse-frequency class
        weights of the training split go into meta.json instead.
    class_names : (str, str)
        Names of label 0 and label 1 (default ``("KO", "WT")``).
    seed : int
        Seed for the validation fraction and the downsampling.
    background : {"shuffle", "genomic"}, optional
        Add a third class, ``background``: dinucleotide shuffles of the peak windows, or
        GC-matched genome windows outside every peak (see
        :mod:`wtko_captum.preparation.background`), so a model learns each condition's motifs.
    background_ratio : float
        Background windows per window of the average condition class, per split (default 1).

    Returns
    -------
    PrepareResult
    """
    if width < 1:
        raise InputError("--width must be a positive number of bp", value=str(width))
    class_names = [str(c) for c in class_names]
    if len(class_names) != 2 or class_names[0] == class_names[1]:
        raise InputError("need two different class names", value=",".join(class_names))
    from wtko_captum.preparation import background as bg

    bg.check_options(background, background_ratio, class_names, genome)
    rng = np.random.default_rng(seed)
    records, info = read_inputs(wt, ko, table, table_options, class_names)

    needs_genome = any(r.sequence is None for r, _ in records)
    fasta, sizes, excluded = None, {}, []
    if needs_genome:
        if genome is None:
            src = next(r.source for r, _ in records if r.sequence is None)
            raise InputError("peak coordinates need a genome FASTA: add --genome genome.fa", path=src)
        from wtko_captum.core.genome import open_fasta

        fasta = open_fasta(genome)
        sizes = {name: len(fasta[name]) for name in fasta.keys()}
        records, excluded = check_chroms(records, sizes, genome, skip_unknown_chroms)

    windows, ex = make_windows(records, sizes, width, drop_edge)
    excluded += ex
    if not windows:
        reasons = Counter(e["reason"] for e in excluded if e["kept"] == "no")
        raise InputError("every window was dropped ("
                         + ", ".join(f"{n} {why}" for why, n in reasons.items())
                         + "); nothing to write" + (" - try without --drop-edge" if drop_edge else ""))
    windows, ex = deduplicate(windows, class_names)
    excluded += ex
    n = Counter(w.label for w in windows)
    for lab in (1, 0):
        if n[lab] == 0:
            reasons = Counter(e["reason"] for e in excluded if e["kept"] == "no" and e["class"] == lab)
            raise InputError(f"class {class_names[lab]} has no window left after dropping "
                             + ", ".join(f"{k} {why}" for why, k in reasons.items()))

    val_note = assign_splits(windows, test_chroms, val_chroms, val_fraction, rng)
    before = Counter((w.split, w.label) for w in windows)
    weights = [1.0, 1.0]
    if balance_classes:
        windows, ex = balance(windows, rng, class_names)
        excluded += ex
    else:
        weights = class_weights(windows)
    after = Counter((w.split, w.label) for w in windows)

    if fasta is not None:
        extract(windows, fasta, verbose)
    regions, windows = _regions_table(windows, class_names)
    split_notes = {"train": "all others", "val": val_note,
                   "test": f"chromosomes {','.join(test_chroms)}" if test_chroms else "none"}
    summary = _summary_table(before, after, class_names, split_notes)
    sequences = [w.sequence for w in windows]
    if background is not None:
        peaks = pd.DataFrame([(r.chrom, r.start, r.end) for r, _ in records], columns=["chrom", "start", "end"])
        regions, sequences, info["background"] = bg.add_background(
            regions, sequences, kind=background, class_names=class_names, ratio=background_ratio,
            genome=genome, exclude=peaks, seed=seed)
        summary = pd.concat([summary, bg.summary_rows(info["background"], split_notes)], ignore_index=True)
        if not balance_classes or background_ratio != 1:
            weights = bg.class_weights(regions, len(class_names) + 1)
        else:
            weights = [1.0] * (len(class_names) + 1)
    excl = pd.DataFrame(excluded, columns=EXCLUDED_COLUMNS)
    if len(excl):
        excl["class"] = [class_names[c] for c in excl["class"]]
    from wtko_captum import __version__

    meta = {
        "format": PREPARED_FORMAT,
        "width": int(width),
        "class_names": class_names,
        "genome": str(genome) if genome is not None else None,
        "genome_build": genome_build,
        "class_weights": weights,
        "balanced": bool(balance_classes),
        "seed": int(seed),
        "splits": {"test_chroms": list(test_chroms), "val_chroms": list(val_chroms),
                   "val": val_note, "val_fraction": val_fraction},
        "counts": {s: {class_names[lab]: int(after[(s, lab)]) for lab in (1, 0)} for s in SPLITS},
        "excluded": dict(Counter(excl["reason"])) if len(excl) else {},
        "inputs": {class_names[1]: [str(p) for p in wt or ()], class_names[0]: [str(p) for p in ko or ()],
                   "table": str(table) if table is not None else None},
        "params": {"width": width, "drop_edge": drop_edge, "val_fraction": val_fraction,
                   "balance": balance_classes, "skip_unknown_chroms": skip_unknown_chroms,
                   "table_options": asdict(table_options) if table_options else None},
        "wtko_captum_version": __version__,
        **info,
    }
    if background is not None:
        meta["class_names"] = class_names + [bg.BACKGROUND]
        for split in SPLITS:
            meta["counts"][split][bg.BACKGROUND] = info["background"]["splits"].get(split, {}).get("n", 0)
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        regions.to_csv(tmp / "regions.tsv", sep="\t", index=False)
        with open(tmp / "sequences.fa", "w") as fh:
            for name, seq in zip(regions["name"], sequences):
                fh.write(f">{name}\n{seq}\n")
        summary.to_csv(tmp / "summary.tsv", sep="\t", index=False)
        excl.to_csv(tmp / "excluded.tsv", sep="\t", index=False)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    _log_summary(summary, excl, val_note)
    return PrepareResult(out_dir, summary, excl, meta)


def _log_summary(summary: pd.DataFrame, excl: pd.DataFrame, val_note: str) -> None:
    log.info("validation split: %s", val_note)
    if len(excl):
        for (reason, kept), k in Counter(zip(excl["reason"], excl["kept"])).items():
            log.info("  %-22s %6d  (%s)", reason, k, "kept" if kept == "yes" else "removed")
