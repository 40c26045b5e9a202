"""A chunked, appendable HDF5 store of attributions, for runs too large to hold or to redo.

One ``.h5`` file (h5py) per method run::

    X           (N, 4, L) float32  one-hot, written when the store is created (or appended)
    attr        (N, 4, L) float32  attributions, filled chunk by chunk
    logits      (N, k)    float32  model outputs on the unmodified input
    done        (N,)      bool     rows whose attr/logits are final
    regions     (N,)      str      one JSON object per row (chrom, start, end, name, ...)
    attrs: meta (JSON), key (JSON: what must match for a resume), chunk_size

Rows are marked done only after their scores are written and the file is flushed, so a run
killed at any point resumes at the first chunk that is not done. HDF5 datasets are chunked
along N with ``maxshape=(None, ...)``: :meth:`AttributionStore.append` grows them, so a
genome-scale job can stream windows in without knowing N beforehand.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from wtko_captum.core.errors import InputError

log = logging.getLogger("wtko_captum.store")

STORE_FORMAT = "wtko_captum.attribution_store"


def _json(obj) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


class AttributionStore:
    """An open HDF5 attribution store. Use :meth:`create`, :meth:`open` or :func:`open_or_create`;
    close with :meth:`close` or use it as a context manager."""

    def __init__(self, h5, path: Path):
        self.h5 = h5
        self.path = Path(path)

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def create(cls, path, X: np.ndarray, regions: pd.DataFrame, *, n_outputs: int,
               chunk_size: int = 256, meta: dict | None = None, key: dict | None = None) -> "AttributionStore":
        """A new store holding ``X`` ``(N, 4, L)`` and ``regions`` (N rows); no scores yet."""
        import h5py

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        X = np.asarray(X, dtype=np.float32)
        n, _, length = X.shape
        if len(regions) != n:
            raise InputError(f"{len(regions)} regions for {n} sequences")
        tmp = path.with_name(f".{path.name}.creating")
        if tmp.exists():
            tmp.unlink()
        h5 = h5py.File(tmp, "w")
        rows = max(1, min(int(chunk_size), max(n, 1)))
        h5.create_dataset("X", data=X, maxshape=(None, 4, length), chunks=(rows, 4, length),
                          compression="gzip", compression_opts=1)
        h5.create_dataset("attr", shape=(n, 4, length), dtype="f4", maxshape=(None, 4, length),
                          chunks=(rows, 4, length), fillvalue=0.0)
        h5.create_dataset("logits", shape=(n, n_outputs), dtype="f4", maxshape=(None, n_outputs),
                          chunks=(rows, n_outputs), fillvalue=np.nan)
        h5.create_dataset("done", shape=(n,), dtype=bool, maxshape=(None,), chunks=(max(rows, 1),),
                          fillvalue=False)
        str_dt = h5py.string_dtype()
        h5.create_dataset("regions", data=np.array(_region_rows(regions), dtype=object), dtype=str_dt,
                          maxshape=(None,), chunks=(rows,))
        h5.attrs["format"] = STORE_FORMAT
        h5.attrs["meta"] = _json(meta or {})
        h5.attrs["key"] = _json(key or {})
        h5.attrs["chunk_size"] = int(chunk_size)
        h5.close()
        os.replace(tmp, path)  # the store appears complete (with nothing done) or not at all
        return cls.open(path)

    @classmethod
    def open(cls, path, mode: str = "r+") -> "AttributionStore":
        import h5py

        path = Path(path)
        try:
            h5 = h5py.File(path, mode)
        except OSError as exc:
            raise InputError(f"cannot open attribution store: {exc}", path=path) from None
        if h5.attrs.get("format") != STORE_FORMAT:
            h5.close()
            raise InputError(f"not a {STORE_FORMAT} file", path=path)
        return cls(h5, path)

    def close(self) -> None:
        if self.h5 is not None:
            self.h5.close()
            self.h5 = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- properties ---------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.h5["X"].shape[0])

    @property
    def chunk_size(self) -> int:
        return int(self.h5.attrs["chunk_size"])

    @property
    def meta(self) -> dict:
        return json.loads(self.h5.attrs["meta"])

    @meta.setter
    def meta(self, value: dict) -> None:
        self.h5.attrs["meta"] = _json(value)

    @property
    def key(self) -> dict:
        return json.loads(self.h5.attrs["key"])

    def chunk_stats(self) -> dict:
        """``{str(first row): stats}`` written with :meth:`write`."""
        return json.loads(self.h5.attrs.get("chunk_stats", "{}"))

    @property
    def done(self) -> np.ndarray:
        return self.h5["done"][:]

    def chunks(self) -> list[tuple[int, int]]:
        """``[(start, end), ...]`` row ranges of fixed size ``chunk_size`` covering all rows."""
        n, cs = len(self), self.chunk_size
        return [(s, min(s + cs, n)) for s in range(0, n, cs)]

    def pending(self) -> list[tuple[int, int, int]]:
        """``[(chunk_index, start, end), ...]`` for chunks with any row not done."""
        done = self.done
        return [(i, s, e) for i, (s, e) in enumerate(self.chunks()) if not done[s:e].all()]

    @property
    def complete(self) -> bool:
        return bool(self.done.all())

    # ---- writing ------------------------------------------------------------------------
    def X_rows(self, start: int, end: int) -> np.ndarray:
        return self.h5["X"][start:end]

    def write(self, start: int, attr: np.ndarray, logits: np.ndarray | None = None,
              stats: dict | None = None) -> None:
        """Write rows ``start:start+len(attr)``, flush, then mark them done and flush again,
        so a process killed between the two steps leaves the rows not done (recomputed on
        resume), never marked done with scores missing.

        ``stats``: a JSON-able summary of these rows (e.g. convergence deltas), kept under
        the key ``str(start)`` in :meth:`chunk_stats`.
        """
        self._write_rows(start, attr, logits, stats)
        self._mark_done(start, start + len(attr))

    def _write_rows(self, start, attr, logits, stats) -> None:
        end = start + len(attr)
        self.h5["attr"][start:end] = np.asarray(attr, dtype=np.float32)
        if logits is not None:
            self.h5["logits"][start:end] = np.asarray(logits, dtype=np.float32)
        if stats is not None:
            all_stats = self.chunk_stats()
            all_stats[str(start)] = stats
            self.h5.attrs["chunk_stats"] = _json(all_stats)
        self.h5.flush()

    def _mark_done(self, start: int, end: int) -> None:
        self.h5["done"][start:end] = True
        self.h5.flush()

    def append(self, X: np.ndarray, regions: pd.DataFrame, attr: np.ndarray | None = None,
               logits: np.ndarray | None = None) -> tuple[int, int]:
        """Grow the store by ``len(X)`` rows (scores optional: rows given ``attr`` are done).

        Returns the new rows' ``(start, end)``.
        """
        X = np.asarray(X, dtype=np.float32)
        n0, k = len(self), len(X)
        if X.shape[1:] != self.h5["X"].shape[1:]:
            raise InputError(f"appended X has shape {X.shape[1:]}, store has {self.h5['X'].shape[1:]}")
        if len(regions) != k:
            raise InputError(f"{len(regions)} regions for {k} appended sequences")
        for name in ("X", "attr", "logits", "done", "regions"):
            self.h5[name].resize(n0 + k, axis=0)
        self.h5["X"][n0:n0 + k] = X
        self.h5["regions"][n0:n0 + k] = np.array(_region_rows(regions), dtype=object)
        self.h5.flush()
        if attr is not None:
            self.write(n0, attr, logits)
        return n0, n0 + k

    # ---- reading ------------------------------------------------------------------------
    def regions(self) -> pd.DataFrame:
        rows = [json.loads(r.decode() if isinstance(r, bytes) else r) for r in self.h5["regions"][:]]
        return pd.DataFrame(rows)

    def read(self) -> dict:
        """Everything as numpy / pandas: ``X``, ``attr``, ``logits``, ``done``, ``regions``, ``meta``."""
        return {"X": self.h5["X"][:], "attr": self.h5["attr"][:], "logits": self.h5["logits"][:],
                "done": self.done, "regions": self.regions(), "meta": self.meta}


    def to_attribution_set(self):
        """The complete store as an :class:`~wtko_captum.core.attribution_set.AttributionSet`,
        its regions table extended with the prediction (argmax), the predicted class, the class
        probabilities ``p_<class>`` and the target explained. For a multi-task model (meta
        ``outputs: sigmoid``) ``p_<task>`` are the per-task sigmoid probabilities and the
        predicted class names the tasks called (probability > 0.5, ``+``-joined, or ``none``)."""
        from wtko_captum.core.attribution_set import AttributionSet

        if not self.complete:
            raise InputError(f"attribution store is incomplete ({int(self.done.sum())} of {len(self)} done)",
                             path=self.path)
        d = self.read()
        meta, regions, logits = d["meta"], d["regions"], d["logits"].astype(np.float64)
        pred = logits.argmax(1)
        names = list(meta.get("class_names") or [])
        regions["prediction"] = pred
        if names and len(names) == logits.shape[1] and meta.get("outputs") == "sigmoid":
            probs = 1.0 / (1.0 + np.exp(-logits))  # one independent task per output
            regions["pred_class"] = ["+".join(c for c, p in zip(names, row) if p > 0.5) or "none" for row in probs]
            for i, c in enumerate(names):
                regions[f"p_{c}"] = np.round(probs[:, i], 6)
        elif names and len(names) == logits.shape[1]:
            regions["pred_class"] = [names[i] for i in pred]
            e = np.exp(logits - logits.max(1, keepdims=True))
            probs = e / e.sum(1, keepdims=True)
            for i, c in enumerate(names):
                regions[f"p_{c}"] = np.round(probs[:, i], 6)
        target = meta.get("target")
        regions["target"] = pred if target == "pred" else target
        extra = {k: v for k, v in meta.items() if k not in
                 ("method", "hypothetical", "target", "params", "model_identity", "class_names")}
        extra["store"] = self.path.name
        stats = list(self.chunk_stats().values())
        if stats and all("delta_n" in st for st in stats):
            n = sum(st["delta_n"] for st in stats)
            extra["convergence_delta"] = {
                "mean_abs": sum(st["delta_sum_abs"] for st in stats) / max(n, 1),
                "max_abs": max(st["delta_max_abs"] for st in stats), "n": n,
                "note": "|sum(attr * x) - (f(x) - f(baseline))| per sequence (and strand)"}
        return AttributionSet(d["X"], d["attr"], regions, meta["method"], meta.get("hypothetical", True),
                              target, meta.get("params", {}), meta.get("model_identity"), names, extra)


def _region_rows(regions: pd.DataFrame) -> list[str]:
    out = []
    for rec in regions.to_dict(orient="records"):
        out.append(json.dumps({k: (v.item() if hasattr(v, "item") else v) for k, v in rec.items()},
                              default=str))
    return out


def open_or_create(path, X: np.ndarray, regions: pd.DataFrame, *, n_outputs: int, chunk_size: int,
                   meta: dict, key: dict) -> tuple[AttributionStore, bool]:
    """Resume the store at ``path`` if it was made for the same ``key``; else start a new one.

    Returns ``(store, resumed)``. A store that is damaged (not an HDF5 file we wrote, e.g. a
    process killed while creating it) or made for other inputs (another model, method, target,
    options, data or chunk size) is replaced, with a log message saying why. A store that
    cannot be opened because another process has it open is an error: it is never taken for
    damage and deleted.
    """
    path = Path(path)
    if path.exists():
        reason = None
        try:
            store = AttributionStore.open(path)
        except InputError as exc:
            if "lock" in str(exc).lower() or "temporarily unavailable" in str(exc).lower():
                raise InputError("the attribution store is open in another process (another wtko attribute "
                                 "on the same -o?): wait for it to finish", path=path) from None
            reason = f"unreadable ({exc})"
        else:
            try:
                old_key = store.key
                if old_key == json.loads(_json(key)) and store.chunk_size == int(chunk_size):
                    n_done = int(store.done.sum())
                    log.info("resuming %s: %d of %d sequences already done", path, n_done, len(store))
                    return store, True
                diff = sorted(k for k in set(old_key) | set(key) if old_key.get(k) != json.loads(_json(key)).get(k))
                reason = f"made for different inputs ({', '.join(diff) or 'chunk size'})"
            except Exception as exc:  # a damaged attribute table
                reason = f"unreadable ({type(exc).__name__}: {exc})"
            store.close()
        log.warning("starting %s afresh: the existing store was %s", path, reason)
        path.unlink()
    return AttributionStore.create(path, X, regions, n_outputs=n_outputs, chunk_size=chunk_size,
                                   meta=meta, key=key), False
