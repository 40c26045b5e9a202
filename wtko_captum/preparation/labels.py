"""Labelled sequence sets: sequences (FASTA or a sequence table) plus a label table.

The label table is TSV, CSV or whitespace-separated, optionally gzip-compressed, in one of
two layouts:

* **one column per class or task** (DeepAccess, Basset, most multi-task sets): values 0 or 1
  (``1.000000000000000000e+00`` is fine). A row with exactly one 1 belongs to that class; a
  row with several is *multi-label*, a row with none is *background*; what happens to those
  is chosen by ``multi_label`` and ``background``.
* **one label column**: a class name or a class index per row (single-label).

Rows are matched to sequences by name when the first column holds the sequences' names (FASTA
header tokens), else by order (then the table has exactly one row per sequence, plus an
optional header line). Column names come from a header line, else from ``label_names``, else
``col1, col2, ...``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from wtko_captum.core.errors import InputError
from wtko_captum.preparation.peaks import Region, _content_lines, _delimiter, _split

MULTI_LABEL = ("drop", "combine", "error")
BACKGROUND = ("drop", "class", "error")


@dataclass
class LabelTable:
    """A parsed label table.

    columns: the class or task names. rows: one list of raw values per data row. lines: each
    row's 1-based line. keys: each row's sequence name when the table is keyed by name, else
    None (rows in sequence order). categorical: one label column of class names or indices.
    """

    path: Path
    columns: list[str]
    rows: list[list[str]]
    lines: list[int]
    keys: list[str] | None = None
    categorical: bool = False


@dataclass
class Labelled:
    """The outcome of labelling: ``records`` ``[(region, class index)]``, ``class_names``,
    ``excluded`` rows (multi-label or background sequences dropped) and ``counts``."""

    records: list
    class_names: list[str]
    excluded: list = field(default_factory=list)
    counts: dict = field(default_factory=dict)


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def read_label_table(path, names: list[str], label_names=None) -> LabelTable:
    """Read label table ``path`` for sequences named ``names`` (in sequence order).

    Raises :class:`InputError` naming the file and line for a ragged row, a name that is not a
    sequence, or a row count that matches neither layout.
    """
    path = Path(path)
    lines = list(_content_lines(path))
    if not lines:
        raise InputError("label table has no rows", path=path)
    delim = _delimiter(lines[0][1])
    table = [(ln, _split(text, delim)) for ln, text in lines]
    known = set(names)
    keyed = sum(f[0] in known for _, f in table[:50]) >= max(1, min(len(table), 50) - 1)
    if keyed and len(table[0][1]) < 2:
        keyed = False  # a single column of values that happen to equal names is not a key
    header = None
    if keyed:
        if table[0][1][0] not in known:
            header = table.pop(0)[1]
    elif len(table) == len(names) + 1:
        header = table.pop(0)[1]
    elif len(table) != len(names):
        raise InputError(f"label table has {len(table)} rows for {len(names)} sequences, and its first column "
                         "does not hold the sequences' names; give one row per sequence, in sequence order or "
                         "keyed by name in the first column", path=path)
    width = len(table[0][1]) if table else 0
    for ln, f in table:
        if len(f) != width:
            raise InputError(f"expected {width} fields, found {len(f)}", path=path, line=ln, value="\t".join(f)[:80])
    first = 1 if keyed else 0
    n_values = width - first
    if n_values < 1:
        raise InputError("label table has no label column", path=path)
    if header is not None and len(header) == width - 1 and keyed:
        header = [""] + header  # an R-style header without a name for the key column
    columns = [str(h).lstrip("#") for h in header[first:]] if header is not None else None
    if label_names:
        if n_values > 1 and len(label_names) != n_values:
            raise InputError(f"{len(label_names)} label names for {n_values} label columns", path=path,
                             value=",".join(label_names))
        columns = list(label_names) if n_values > 1 else columns
    if columns is None:
        columns = [f"col{i + 1}" for i in range(n_values)]
    keys = [f[0] for _, f in table] if keyed else None
    if keys is not None:
        missing = [(ln, f[0]) for ln, f in table if f[0] not in known]
        if missing:
            raise InputError("label table row names a sequence that is not in the sequence file", path=path,
                             line=missing[0][0], value=missing[0][1])
    return LabelTable(path, columns, [f[first:] for _, f in table], [ln for ln, _ in table], keys,
                      categorical=n_values == 1)


def _categorical(table: LabelTable, label_names) -> tuple[list[int], list[str]]:
    """Class index per row and class names for a one-column table (names or indices)."""
    values = [row[0] for row in table.rows]
    if all(v.lstrip("-").isdigit() for v in values):
        idx = [int(v) for v in values]
        k = max(idx) + 1
        names = list(label_names) if label_names else [str(i) for i in range(k)]
        bad = next(((ln, v) for ln, v in zip(table.lines, idx) if not 0 <= v < len(names)), None)
        if bad:
            raise InputError(f"class index outside 0..{len(names) - 1}", path=table.path, line=bad[0],
                             value=str(bad[1]))
        return idx, names
    names = list(label_names) if label_names else sorted(set(values))
    lookup = {n: i for i, n in enumerate(names)}
    bad = next(((ln, v) for ln, v in zip(table.lines, values) if v not in lookup), None)
    if bad:
        raise InputError(f"label is not one of the class names {', '.join(names)}", path=table.path,
                         line=bad[0], value=bad[1])
    return [lookup[v] for v in values], names


def _positives(table: LabelTable) -> list[tuple[int, ...]]:
    """The positive columns of each row of a 0/1 table."""
    out = []
    for ln, row in zip(table.lines, table.rows):
        pos = []
        for j, v in enumerate(row):
            x = float(v) if _is_number(v) else math.nan
            if x not in (0.0, 1.0):
                raise InputError(f"label values must be 0 or 1 (column {table.columns[j]!r}; one column per "
                                 "class or task)", path=table.path, line=ln, value=v)
            if x == 1.0:
                pos.append(j)
        out.append(tuple(pos))
    return out


def label_regions(regions: list[Region], table: LabelTable, *, label_names=None, multi_label: str = "drop",
                  background: str = "drop", background_name: str = "background") -> Labelled:
    """Give each sequence its class from ``table``.

    Parameters
    ----------
    regions : list of Region
        The sequences, in file order (names from their headers).
    table : LabelTable
    label_names : list of str, optional
        Class names for a one-column table of indices (index order), or the order of its
        class names.
    multi_label : {"drop", "combine", "error"}
        A row positive in several columns: dropped (listed in excluded.tsv), made its own
        class named ``A+B``, or an error.
    background : {"drop", "class", "error"}
        A row positive in no column: dropped, made a class named ``background_name``, or an
        error.
    """
    if multi_label not in MULTI_LABEL:
        raise InputError(f"multi_label must be one of {', '.join(MULTI_LABEL)}", value=multi_label)
    if background not in BACKGROUND:
        raise InputError(f"background must be one of {', '.join(BACKGROUND)}", value=background)
    if table.keys is not None:
        seen: dict[str, Region] = {}
        for r in regions:
            if r.name in seen:
                raise InputError("two sequences share this name, so the label table's rows keyed by name are "
                                 "ambiguous", path=r.source, line=r.line, value=r.name)
            seen[r.name] = r
        by_name = dict(zip(table.keys, range(len(table.keys))))
        unlabelled = next((r for r in regions if r.name not in by_name), None)
        if unlabelled is not None:
            raise InputError("sequence has no row in the label table", path=unlabelled.source,
                             line=unlabelled.line, value=unlabelled.name)
        order = [by_name[r.name] for r in regions]
    else:
        order = list(range(len(regions)))
    if table.categorical:
        idx, names = _categorical(table, label_names)
        return Labelled([(r, idx[i]) for r, i in zip(regions, order)], names,
                        counts={"single-label": len(regions)})
    positives = _positives(table)
    names = list(table.columns)
    records, excluded = [], []
    counts = {"single-label": 0, "multi-label": 0, "background": 0}
    combos: dict[tuple, int] = {}
    for r, i in zip(regions, order):
        pos, line = positives[i], table.lines[i]
        if len(pos) == 1:
            counts["single-label"] += 1
            records.append((r, pos[0]))
            continue
        kind, choice = ("multi-label", multi_label) if pos else ("background", background)
        counts[kind] += 1
        what = "+".join(names[j] for j in pos) if pos else "none"
        if choice == "error":
            option = "--multi-label drop|combine" if pos else "--background drop|class"
            raise InputError(f"sequence {r.name} is {kind} (positive: {what}); choose what to do with {option}",
                             path=table.path, line=line, value="\t".join(table.rows[i]))
        if choice == "drop":
            excluded.append((r, kind.replace("-", "_"), f"label table line {line}: positive in {what}"))
            continue
        key = pos if pos else ("background",)
        if key not in combos:
            combos[key] = len(names) + len(combos)
        records.append((r, combos[key]))
    names += ["+".join(names[j] for j in key) if key != ("background",) else background_name for key in combos]
    if len(set(names)) != len(names):
        raise InputError(f"class names repeat: {', '.join(names)}", path=table.path)
    return Labelled(records, names, excluded, counts)
