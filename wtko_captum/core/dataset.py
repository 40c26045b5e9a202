"""Reading a prepared-data directory (the output of ``wtko prepare``).

Layout (every file plain text, readable without us)::

    regions.tsv     one row per window, in the order of sequences.fa. Columns:
                    chrom, start, end    the window, 0-based half-open; position i of the
                                         sequence is genome base start + i. When a window was
                                         N-padded past a chromosome end, start may be < 0 or
                                         end > chromosome size (pad_left / pad_right say how many)
                    name                 unique region name
                    label                class index (1 = WT, 0 = KO by default)
                    class                class name
                    split                train | val | test
                    summit               0-based genome position the window is centred on
                    peak_start, peak_end the original peak interval (or the given sequence's)
                    pad_left, pad_right  N bases added outside the chromosome / given sequence
                    source, line         input file and 1-based line the region came from
                    coordinates          genome, or sequence for a sequence without genome
                                         coordinates: chrom is then the sequence's name and
                                         position i is base start + i of that sequence
                    fold                 (with prepare --folds K) the fold, 0..K-1
    sequences.fa    the window sequences (exactly ``width`` letters each; N where unknown)
    meta.json       {"format": "wtko_captum.prepared", "width", "class_names", "genome",
                     "genome_build", "class_weights", "params", ...}; multi-task data also
                     has "tasks" (their names, = class_names: one output per task) and
                     regions.tsv a 0/1 column ``task:<name>`` per task
    summary.tsv     counts per class per split
    excluded.tsv    every region dropped, padded or deduplicated, with the reason
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from wtko_captum.core.errors import InputError
from wtko_captum.core.sequence import one_hot

PREPARED_FORMAT = "wtko_captum.prepared"
REGION_COLUMNS = ["chrom", "start", "end", "name", "label", "class", "split", "summit",
                  "peak_start", "peak_end", "pad_left", "pad_right", "source", "line", "coordinates"]


def fold_splits(folds, k: int, fold: int) -> list[str]:
    """The split of each row when fold ``fold`` of ``k`` is held out: that fold is test,
    fold ``(fold + 1) % k`` validation, every other fold training."""
    if not 0 <= int(fold) < int(k):
        raise InputError(f"fold must be in 0..{int(k) - 1}", value=str(fold))
    val = (int(fold) + 1) % int(k)
    return ["test" if f == fold else "val" if f == val else "train" for f in folds]


def read_fasta_records(path) -> list[tuple[str, str]]:
    """``[(header, sequence), ...]`` from a FASTA file (header without '>')."""
    records, header, chunks = [], None, []
    with open(path) as fh:
        for line in fh:
            line = line.rstrip("\r\n")
            if line.startswith(">"):
                if header is not None:
                    records.append((header, "".join(chunks)))
                header, chunks = line[1:].strip(), []
            elif line:
                chunks.append(line.strip())
    if header is not None:
        records.append((header, "".join(chunks)))
    return records


@dataclass
class PreparedData:
    """Windows, one-hot sequences and labels of a prepared-data directory.

    X: ``(N, 4, L)`` float32 one-hot; y: ``(N,)`` int64 class indices; regions: the
    regions.tsv table (same order); meta: meta.json.
    """

    regions: pd.DataFrame
    X: np.ndarray
    meta: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def y(self) -> np.ndarray:
        return self.regions["label"].to_numpy(dtype=np.int64)

    @property
    def class_names(self) -> list[str]:
        return list(self.meta.get("class_names", ["KO", "WT"]))

    @property
    def tasks(self) -> list[str]:
        """Task names of multi-task data (one independent 0/1 label per task and sequence, in
        regions.tsv columns ``task:<name>``), or ``[]`` for single-label (class) data."""
        return [str(t) for t in self.meta.get("tasks") or []]

    @property
    def Y(self) -> np.ndarray:
        """``(N, n_tasks)`` float32 0/1 task labels (multi-task data only)."""
        if not self.tasks:
            raise InputError("this prepared data has classes, not tasks (no 'tasks' in meta.json)", path=self.path)
        return self.regions[[f"task:{t}" for t in self.tasks]].to_numpy(dtype=np.float32)

    @property
    def width(self) -> int:
        return int(self.X.shape[-1])

    @property
    def sequences(self) -> list[str]:
        from wtko_captum.core.sequence import decode

        return decode(self.X)

    def __len__(self) -> int:
        return len(self.regions)

    def subset(self, mask) -> "PreparedData":
        mask = np.asarray(mask)
        return PreparedData(self.regions[mask].reset_index(drop=True), self.X[mask], self.meta, self.path)

    @property
    def n_folds(self) -> int | None:
        """K when ``prepare --folds K`` made the data, else None."""
        folds = self.meta.get("folds")
        return int(folds["k"]) if folds else None

    def with_fold(self, fold: int | None) -> "PreparedData":
        """The same data with fold ``fold`` held out (splits from :func:`fold_splits`);
        ``None`` keeps the splits as written (fold 0 held out when the data has folds)."""
        if fold is None:
            return self
        if not self.n_folds or "fold" not in self.regions:
            raise InputError("the data has no folds (run `wtko prepare --folds K`)", path=self.path)
        regions = self.regions.copy()
        regions["split"] = fold_splits(regions["fold"].astype(int).tolist(), self.n_folds, int(fold))
        return PreparedData(regions, self.X, {**self.meta, "fold": int(fold)}, self.path)

    def for_checkpoint(self, ckpt: dict | None) -> "PreparedData":
        """The splits a checkpoint was trained under: its fold held out when it was trained with
        ``train --fold`` on data with folds, else the data as they are."""
        fold = ((ckpt or {}).get("training") or {}).get("data", {}).get("fold")
        return self.with_fold(fold) if fold is not None and self.n_folds else self

    @property
    def fold(self) -> int | None:
        """The fold held out by :meth:`with_fold`, else None."""
        return self.meta.get("fold")

    def split(self, name: str) -> "PreparedData":
        """Only the rows of split ``name`` (train, val, test)."""
        if name == "all":
            return self
        out = self.subset(self.regions["split"].to_numpy() == name)
        return out


def load_prepared(path) -> PreparedData:
    """Load a prepared-data directory. Raises :class:`InputError` if it is not one."""
    path = Path(path)
    meta_path = path / "meta.json"
    if not meta_path.is_file():
        raise InputError("not a prepared-data directory (no meta.json; run `wtko prepare`)", path=path)
    meta = json.loads(meta_path.read_text())
    if meta.get("format") != PREPARED_FORMAT:
        raise InputError(f"meta.json is not a {PREPARED_FORMAT} file", path=meta_path)
    regions = pd.read_csv(path / "regions.tsv", sep="\t", dtype={"chrom": str, "name": str})
    if "coordinates" not in regions:  # written before sequences without coordinates existed
        regions["coordinates"] = "genome"
    records = read_fasta_records(path / "sequences.fa")
    if len(records) != len(regions):
        raise InputError(f"{len(records)} sequences but {len(regions)} regions", path=path / "sequences.fa")
    names = regions["name"].astype(str).tolist()
    for i, ((header, _), name) in enumerate(zip(records, names)):
        if header.split()[0] != name:
            raise InputError(f"sequence {i} is {header.split()[0]!r} but regions.tsv row {i} is {name!r}",
                             path=path / "sequences.fa")
    X = one_hot([s for _, s in records]) if records else np.zeros((0, 4, int(meta.get("width", 0))), np.float32)
    return PreparedData(regions, X, meta, path)
