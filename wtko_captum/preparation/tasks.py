"""``prepare_tasks``: a labelled sequence set whose label columns are independent tasks ->
a multi-task prepared-data directory (DeepSEA/Basset style: one sigmoid output per task).

The inputs are those of a labelled set (:mod:`wtko_captum.preparation.labels`): sequences
(FASTA with any header, or a sequence table) and a label table with one 0/1 column per task,
rows in sequence order or keyed by sequence name. Where a labelled set makes each row one class
(dropping or combining rows positive in several columns), a task set keeps every row with all
its labels. Each sequence is placed in a ``width`` bp window (centred; N-padded or trimmed, as
``prepare`` does for given sequences), split by the same schemes as ``prepare`` (chromosomes
when every sequence has one, else sequence hash; or seeded random), and written in the layout
of :mod:`wtko_captum.core.dataset` with ``meta.json["tasks"]`` and a ``task:<name>`` column per
task. Nothing is balanced: tasks overlap, so there is no class to downsample. ``label`` is 1
for a sequence positive for any task (the stratum of random splits) and ``class`` names its
positive tasks (``+``-joined, ``none`` for none), for tables and browsers.
"""
from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from wtko_captum.core.errors import InputError

log = logging.getLogger(__name__)


def prepare_tasks(out_dir, sequences, labels, *, width: int | None = None, split: str = "auto",
                  test_chroms=("chr6", "chr7"), val_chroms=("chr8",), test_fraction: float = 0.1,
                  val_fraction: float = 0.1, label_names=None, strict_coordinates: bool = False,
                  genome_build: str | None = None, seed: int = 0):
    """Write a multi-task prepared-data directory (see the module docstring).

    Parameters
    ----------
    sequences : path of the sequences (FASTA or a sequence table; any of them gzip-compressed).
    labels : path of the label table: one 0/1 column per task (a header row, or ``label_names``,
        names the tasks), one row per sequence in order or keyed by name in the first column.
    width : window length in bp; default the longest sequence.
    split, test_chroms, val_chroms, test_fraction, val_fraction, strict_coordinates, seed :
        as :func:`~wtko_captum.preparation.prepare.prepare`.

    Returns
    -------
    PrepareResult (its summary has one row per split and task: the positives).
    """
    from wtko_captum import __version__
    from wtko_captum.core.dataset import PREPARED_FORMAT
    from wtko_captum.preparation import prepare as prep
    from wtko_captum.preparation.labels import _positives, read_label_table
    from wtko_captum.preparation.peaks import read_regions

    regions = read_regions(sequences, strict_coordinates=strict_coordinates)
    if any(r.sequence is None for r in regions):
        raise InputError("a task set takes sequences (FASTA or a sequence table), not peak coordinates",
                         path=sequences)
    table = read_label_table(labels, [r.name for r in regions], label_names)
    if table.categorical:
        raise InputError("a task set needs one 0/1 column per task; this label table has one label column "
                         "(a single-label set: leave out --tasks)", path=labels)
    tasks = list(table.columns)
    if len(set(tasks)) != len(tasks):
        raise InputError("task names repeat", path=labels, value=",".join(tasks))
    positives = _positives(table)
    order = [dict(zip(table.keys, range(len(table.keys))))[r.name] for r in regions] if table.keys else \
        list(range(len(regions)))
    Y = np.zeros((len(regions), len(tasks)), dtype=np.int8)
    for i, row in enumerate(order):
        Y[i, list(positives[row])] = 1
    width = int(width or max(len(r.sequence) for r in regions))
    width, test_fraction, val_fraction = prep._check_options(width, test_fraction, val_fraction, None,
                                                             ("none", "any"))
    records = [(r, int(Y[i].any())) for i, r in enumerate(regions)]
    prep._check_width(width, {}, None, records)
    windows, excluded = prep.make_windows(records, {}, width, drop_edge=False)
    row = {id(r): i for i, r in enumerate(regions)}
    seen: dict[tuple, Path] = {}
    for w in windows:
        if w.key in seen:
            raise InputError("two sequences have the same window (a task set keeps every label of a sequence, so "
                             "repeats would be ambiguous)", path=w.region.source, line=w.region.line, value=w.name)
        seen[w.key] = w.region.source
    scheme = prep._resolve_scheme(split, windows)
    val_note, test_note = prep._split(windows, scheme, test_chroms, val_chroms, test_fraction, val_fraction,
                                      np.random.default_rng(seed), 2)
    regions_table, windows = prep._regions_table(windows, ["none", "any"], False)
    regions_table["class"] = ["+".join(t for t, v in zip(tasks, Y[row[id(w.region)]]) if v) or "none"
                              for w in windows]
    for j, t in enumerate(tasks):
        regions_table[f"task:{t}"] = [int(Y[row[id(w.region)], j]) for w in windows]
    counts = {s: {t: int(regions_table.loc[regions_table["split"] == s, f"task:{t}"].sum()) for t in tasks}
              | {"n": int((regions_table["split"] == s).sum())} for s in prep.SPLITS}
    summary = pd.DataFrame([{"split": s, "class": t, "label": j, "n_before_balance": counts[s][t],
                             "n": counts[s][t], "chromosomes": {"train": "all others", "val": val_note,
                                                                "test": test_note}[s]}
                            for s in prep.SPLITS for j, t in enumerate(tasks)])
    excl = pd.DataFrame(excluded, columns=prep.EXCLUDED_COLUMNS)
    coords = Counter(regions_table["coordinates"])
    meta = {"format": PREPARED_FORMAT, "width": width, "class_names": tasks, "tasks": tasks, "genome": None,
            "genome_build": genome_build, "class_weights": None, "balanced": False, "seed": int(seed),
            "coordinates": {"genome": int(coords["genome"]), "sequence": int(coords["sequence"])},
            "splits": {"scheme": scheme, "test_chroms": list(test_chroms) if scheme == "chrom" else None,
                       "val_chroms": list(val_chroms) if scheme == "chrom" else None, "val": val_note,
                       "test": test_note, "test_fraction": test_fraction, "val_fraction": val_fraction},
            "folds": None, "counts": counts, "excluded": dict(Counter(excl["reason"])) if len(excl) else {},
            "inputs": {"sequences": str(sequences), "labels": str(labels)},
            "params": {"width": width, "split": split, "strict_coordinates": strict_coordinates},
            "wtko_captum_version": __version__}
    prep._write(Path(out_dir), regions_table, [w.sequence for w in windows], summary, excl, meta)
    log.info("%d sequences, %d tasks (%s); split by %s", len(windows), len(tasks), ", ".join(tasks), scheme)
    return prep.PrepareResult(Path(out_dir), summary, excl, meta)
