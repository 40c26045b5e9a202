"""``prepare_tasks``: sequences with several independent 0/1 labels -> a multi-task prepared-data
directory (DeepSEA/Basset style: one sigmoid output per task).

The sequences come as a FASTA with ``chrom:start-end`` headers (or any sequence input
:func:`wtko_captum.preparation.peaks.read_regions` reads), the labels as a table with one row per
sequence, in the same order, and one 0/1 column per task (a header row names the tasks). Each
sequence is placed in a ``width`` bp window (centred; N-padded or trimmed, as ``prepare`` does
for given sequences), split by chromosome (test, validation, the rest train), and written in
the layout of :mod:`wtko_captum.core.dataset` with ``meta.json["tasks"]`` and a ``task:<name>``
column per task. Nothing is balanced: tasks overlap, so there is no class to downsample.
``label`` is 1 for a sequence positive for any task and ``class`` names its positive tasks
(``+``-joined, ``none`` for none), for tables and browsers.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from wtko_captum.core.atomic import atomic_dir
from wtko_captum.core.dataset import PREPARED_FORMAT, REGION_COLUMNS
from wtko_captum.core.errors import InputError


def read_task_table(path, n: int) -> tuple[list[str], np.ndarray]:
    """``(task names, (n, T) int8 labels)`` from a TSV/CSV of 0/1 columns (header optional:
    without one the tasks are named ``task0, task1, ...``)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("task label table not found", path=path)
    sep = "," if path.suffix.lower() == ".csv" else "\t"
    first = path.read_text().splitlines()[0].split(sep) if path.stat().st_size else []
    header = not all(_is_number(v) for v in first)
    table = pd.read_csv(path, sep=sep, header=0 if header else None, dtype=str)
    names = [str(c).strip() for c in table.columns] if header else [f"task{i}" for i in range(table.shape[1])]
    if len(table) != n:
        raise InputError(f"{len(table)} label rows for {n} sequences (one row per sequence, in order)", path=path)
    values = np.zeros(table.shape, dtype=np.int8)
    for j, col in enumerate(table.columns):
        for i, raw in enumerate(table[col]):
            v = float(raw) if _is_number(raw) else None
            if v not in (0.0, 1.0):
                raise InputError(f"task {names[j]!r}: labels must be 0 or 1", path=path,
                                 line=i + 1 + int(header), value=raw)
            values[i, j] = int(v)
    if len(set(names)) != len(names):
        raise InputError("task names repeat", path=path, value=",".join(names))
    return names, values


def _is_number(text) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def prepare_tasks(out_dir, sequences, labels, *, width: int | None = None, test_chroms=("chr6", "chr7"),
                  val_chroms=("chr8",), val_fraction: float = 0.1, genome_build: str | None = None,
                  seed: int = 0) -> Path:
    """Write a multi-task prepared-data directory (see the module docstring).

    Parameters
    ----------
    sequences : path of the sequences (FASTA with ``chrom:start-end`` headers, or a sequence table).
    labels : path of the label table, one row per sequence in the same order.
    width : window length in bp; default the longest sequence.
    test_chroms, val_chroms, val_fraction, seed : as :func:`~wtko_captum.preparation.prepare.prepare`
        (validation: a seeded fraction of train when no sequence lies on ``val_chroms``).

    Returns
    -------
    Path of the directory, loadable with :func:`~wtko_captum.core.dataset.load_prepared`.
    """
    from wtko_captum import __version__
    from wtko_captum.preparation.peaks import read_regions
    from wtko_captum.preparation.prepare import SPLITS, assign_splits, make_windows

    regions = read_regions(sequences)
    if any(r.sequence is None for r in regions):
        raise InputError("prepare_tasks takes sequences (FASTA or a sequence table), not coordinates",
                         path=sequences)
    tasks, Y = read_task_table(labels, len(regions))
    width = int(width or max(len(r.sequence) for r in regions))
    # label = any task positive: the stratum of the seeded validation fraction
    records = [(r, int(Y[i].any())) for i, r in enumerate(regions)]
    windows, excluded = make_windows(records, {}, width, drop_edge=False)
    if len(windows) != len(regions):
        raise InputError(f"{len(regions) - len(windows)} sequence(s) could not be placed in {width} bp windows",
                         path=sequences)
    row = {id(r): i for i, r in enumerate(regions)}
    val_note = assign_splits(windows, test_chroms, val_chroms, val_fraction, np.random.default_rng(seed))
    order = {s: i for i, s in enumerate(SPLITS)}
    windows = sorted(windows, key=lambda w: order[w.split])
    table = pd.DataFrame([{
        "chrom": w.region.chrom, "start": w.start, "end": w.end, "name": w.name, "label": w.label,
        "class": "+".join(t for t, v in zip(tasks, Y[row[id(w.region)]]) if v) or "none", "split": w.split,
        "summit": w.summit, "peak_start": w.region.start, "peak_end": w.region.end, "pad_left": w.pad_left,
        "pad_right": w.pad_right, "source": w.region.source, "line": w.region.line} for w in windows],
        columns=REGION_COLUMNS)
    if table["name"].duplicated().any():
        raise InputError("two sequences have the same coordinates", path=sequences,
                         value=table["name"][table["name"].duplicated()].iloc[0])
    for j, t in enumerate(tasks):
        table[f"task:{t}"] = [int(Y[row[id(w.region)], j]) for w in windows]
    counts = {s: {t: int(table.loc[table["split"] == s, f"task:{t}"].sum()) for t in tasks}
              | {"n": int((table["split"] == s).sum())} for s in SPLITS}
    meta = {"format": PREPARED_FORMAT, "width": width, "class_names": tasks, "tasks": tasks,
            "genome": None, "genome_build": genome_build, "class_weights": None, "balanced": False,
            "seed": int(seed), "splits": {"test_chroms": list(test_chroms), "val_chroms": list(val_chroms),
                                          "val": val_note, "val_fraction": val_fraction},
            "counts": counts, "excluded": dict(Counter(e["reason"] for e in excluded)),
            "inputs": {"sequences": str(sequences), "labels": str(labels)}, "wtko_captum_version": __version__}
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        table.to_csv(tmp / "regions.tsv", sep="\t", index=False)
        with open(tmp / "sequences.fa", "w") as fh:
            fh.writelines(f">{w.name}\n{w.sequence}\n" for w in windows)
        pd.DataFrame([{"split": s, **c} for s, c in counts.items()]).to_csv(tmp / "summary.tsv", sep="\t",
                                                                            index=False)
        pd.DataFrame(excluded).to_csv(tmp / "excluded.tsv", sep="\t", index=False)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return out_dir
