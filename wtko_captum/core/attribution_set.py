"""The AttributionSet: one attribution method's scores for a set of windows.

On disk it is a directory other tools read without us::

    X.npz       one-hot (N, 4, L) float32 under key ``arr_0``  -> ``modisco motifs -s X.npz``
    attr.npz    attributions (N, 4, L) float32 under ``arr_0`` -> ``modisco motifs -a attr.npz``
    regions.bed tab-separated, a '#' header line, columns chrom, start, end, name, score,
                strand, label, prediction (+ extra columns). start/end are the window
                (0-based half-open): position i of row n is genome base start + i. Windows that
                were N-padded past a chromosome end keep their true interval (start may be < 0).
    meta.json   method, hypothetical, target, params, model_identity, class_names, ...

``hypothetical=True`` means every base at every position carries a score (the unobserved bases
are "what if" scores); projected scores are ``attr * X`` (only the observed base).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from wtko_captum.core.atomic import atomic_dir
from wtko_captum.core.errors import InputError

ATTRSET_FORMAT = "wtko_captum.attribution_set"
BED_COLUMNS = ["chrom", "start", "end", "name", "score", "strand", "label", "prediction"]


@dataclass
class AttributionSet:
    """X, attr: ``(N, 4, L)`` float32, alphabet A,C,G,T. regions: one row per window with at
    least chrom, start, end, name (strand, label, prediction filled if missing)."""

    X: np.ndarray
    attr: np.ndarray
    regions: pd.DataFrame
    method: str
    hypothetical: bool = True
    target: str | int | None = None
    params: dict = field(default_factory=dict)
    model_identity: str | None = None
    class_names: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.X = np.asarray(self.X, dtype=np.float32)
        self.attr = np.asarray(self.attr, dtype=np.float32)
        if self.X.ndim != 3 or self.X.shape[1] != 4:
            raise InputError(f"X must be (N, 4, L), got shape {self.X.shape}")
        if self.attr.shape != self.X.shape:
            raise InputError(f"attr shape {self.attr.shape} differs from X shape {self.X.shape}")
        if len(self.regions) != len(self.X):
            raise InputError(f"{len(self.regions)} regions for {len(self.X)} sequences")
        self.regions = _normalise_regions(self.regions)

    def __len__(self) -> int:
        return len(self.X)

    @property
    def projected(self) -> np.ndarray:
        """``(N, 4, L)`` scores of the observed bases only (zero elsewhere, and at N)."""
        return self.attr * self.X

    def per_position(self, how: str = "projected") -> np.ndarray:
        """``(N, L)`` one score per base.

        ``projected``: sum over channels of attr x one-hot (signed; 0 at N).
        ``maxabs``: max over the 4 channels of |attr| (the WTKO paper's saliency score).
        """
        if how == "projected":
            return self.projected.sum(axis=1)
        if how == "maxabs":
            return np.abs(self.attr).max(axis=1)
        raise ValueError(f"unknown per-position score {how!r}; use 'projected' or 'maxabs'")

    @property
    def meta(self) -> dict:
        return {
            "format": ATTRSET_FORMAT,
            "method": self.method,
            "hypothetical": bool(self.hypothetical),
            "target": self.target,
            "params": self.params,
            "model_identity": self.model_identity,
            "class_names": list(self.class_names),
            "n": int(len(self.X)),
            "length": int(self.X.shape[-1]),
            **self.extra,
        }

    def save(self, path) -> Path:
        """Write the directory atomically; returns its path."""
        path = Path(path)
        with atomic_dir(path) as tmp:
            np.savez_compressed(tmp / "X.npz", self.X)
            np.savez_compressed(tmp / "attr.npz", self.attr)
            write_regions_bed(tmp / "regions.bed", self.regions)
            (tmp / "meta.json").write_text(json.dumps(self.meta, indent=2, default=str))
        return path

    @classmethod
    def load(cls, path) -> "AttributionSet":
        """Read a directory written by :meth:`save`."""
        path = Path(path)
        meta_path = path / "meta.json"
        if not meta_path.is_file():
            raise InputError("not an attribution directory (no meta.json)", path=path)
        meta = json.loads(meta_path.read_text())
        X = _load_array(path / "X.npz")
        attr = _load_array(path / "attr.npz")
        regions = read_regions_bed(path / "regions.bed")
        known = {"format", "method", "hypothetical", "target", "params", "model_identity",
                 "class_names", "n", "length"}
        return cls(X, attr, regions, meta.get("method", "unknown"), meta.get("hypothetical", True),
                   meta.get("target"), meta.get("params", {}), meta.get("model_identity"),
                   meta.get("class_names", []), {k: v for k, v in meta.items() if k not in known})


def _load_array(path: Path) -> np.ndarray:
    if not path.is_file():
        raise InputError("missing array file", path=path)
    with np.load(path) as data:
        key = "arr_0" if "arr_0" in data.files else data.files[0]
        return np.asarray(data[key], dtype=np.float32)


def _normalise_regions(regions: pd.DataFrame) -> pd.DataFrame:
    regions = regions.reset_index(drop=True).copy()
    for col in ("chrom", "start", "end"):
        if col not in regions:
            raise InputError(f"regions table lacks column {col!r}")
    if "name" not in regions:
        regions["name"] = [f"region{i}" for i in range(len(regions))]
    if "strand" not in regions:
        regions["strand"] = "+"
    for col in ("label", "prediction"):
        if col not in regions:
            regions[col] = -1
    regions["chrom"] = regions["chrom"].astype(str)
    regions["start"] = regions["start"].astype(np.int64)
    regions["end"] = regions["end"].astype(np.int64)
    return regions


def write_regions_bed(path, regions: pd.DataFrame) -> None:
    """BED6+ with a '#' header: chrom start end name score strand label prediction [extra...]."""
    regions = regions.copy()
    if "score" not in regions:
        regions["score"] = 0
    cols = BED_COLUMNS + [c for c in regions.columns if c not in BED_COLUMNS]
    with open(path, "w") as fh:
        fh.write("#" + "\t".join(cols) + "\n")
        regions[cols].to_csv(fh, sep="\t", header=False, index=False)


def read_regions_bed(path) -> pd.DataFrame:
    """Read a regions BED (with or without our '#' header; BED3 is enough)."""
    path = Path(path)
    with open(path) as fh:
        first = fh.readline()
    if first.startswith("#"):
        names = first[1:].rstrip("\n").split("\t")
        df = pd.read_csv(path, sep="\t", comment=None, skiprows=1, names=names, dtype={"chrom": str})
    else:
        df = pd.read_csv(path, sep="\t", header=None, dtype={0: str})
        df.columns = (BED_COLUMNS + [f"col{i}" for i in range(len(BED_COLUMNS), df.shape[1])])[: df.shape[1]]
    return df
