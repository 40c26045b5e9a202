"""Attribute a prepared-data split with a trained checkpoint: the ``wtko attribute`` stage.

For each method, scores stream chunk by chunk into ``out/<method>.h5`` (an
:class:`~wtko_captum.core.store.AttributionStore`); when every chunk is done the store is exported
atomically as the AttributionSet directory ``out/<method>/`` (``X.npz``, ``attr.npz``,
``regions.bed``, ``meta.json``). A run that is interrupted (Ctrl-C, killed, out of time)
resumes at the first unfinished chunk when started again with the same arguments, and its
result equals that of an uninterrupted run: chunk boundaries are fixed by ``chunk_size`` and
each chunk's random seed is derived from ``(seed, chunk index)`` only.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from wtko_captum import __version__
from wtko_captum.core.errors import InputError

log = logging.getLogger("wtko_captum.attribute")

_COMMON = {"target", "batch_size", "device", "seed", "random_state", "verbose", "deltas_out", "args"}


def method_defaults(func) -> dict:
    """The method's own keyword defaults (JSON-safe), e.g. ``{"n_shuffles": 10, "centre": True}``."""
    out = {}
    for name, p in inspect.signature(func).parameters.items():
        if name in _COMMON or p.default is inspect.Parameter.empty or name in ("model", "X"):
            continue
        v = p.default
        out[name] = v if isinstance(v, (str, int, float, bool)) or v is None else str(v)
    return out


def chunk_seed(seed, chunk_index: int):
    """The random state of one chunk: a function of the run seed and the chunk index only."""
    if seed is None:
        return None
    return int(np.random.SeedSequence([int(seed), int(chunk_index)]).generate_state(1)[0] % (2**31 - 1))


def data_fingerprint(X: np.ndarray, names) -> str:
    h = hashlib.sha1()
    h.update(np.ascontiguousarray(X, dtype=np.float32).tobytes())
    h.update("\n".join(map(str, names)).encode())
    return h.hexdigest()[:16]


def other_model_warning(out: Path, identity: str | None) -> list[str]:
    """Warn (and return the messages) when ``out`` holds attributions of another model."""
    msgs = []
    if identity is None or not out.is_dir():
        return msgs
    for meta_path in sorted(out.glob("*/meta.json")):
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            continue
        old = meta.get("model_identity")
        if old and old != identity:
            msg = (f"{meta_path.parent} holds attributions of model {old}, but this run uses model "
                   f"{identity}; methods run now are overwritten, the others stay from {old}")
            log.warning(msg)
            msgs.append(msg)
    return msgs


def attribute_prepared(model_path, data_dir, out, methods=("saliency",), *, split: str = "test",
                       target="pred", batch_size: int = 128, device="auto", seed: int | None = 0,
                       chunk_size: int = 256, rc_average: bool = False, options: dict | None = None,
                       method_options: dict | None = None, limit: int | None = None,
                       verbose: bool = False) -> dict:
    """Attribute every sequence of one split of a prepared-data directory.

    Parameters
    ----------
    model_path : str or Path, or torch.nn.Module
        A checkpoint written by ``wtko train`` (or a loaded model with ``class_names``).
    data_dir : str or Path
        A prepared-data directory (``wtko prepare``).
    out : str or Path
        Output directory: ``out/<method>/`` AttributionSets plus ``out/<method>.h5`` stores.
    methods : list of str
        Registered method names (``wtko plugins``).
    split : str
        ``train``, ``val``, ``test`` or ``all``.
    target : int or str
        Class index, class name, ``"pred"`` (default) or ``"diff"``.
    batch_size, device, seed, rc_average, verbose
        As for :func:`wtko_captum.attribution.attribute`. Each chunk gets seed ``chunk_seed(seed, i)``.
    chunk_size : int
        Sequences per stored chunk (the unit of resumption).
    options : dict
        Method options shared by all methods (``n_shuffles``, ``n_steps``, ``reference``,
        ``layer``...); each method receives only those its signature takes.
    method_options : dict
        ``{method: {option: value}}`` for one method only (wins over ``options``).
    limit : int, optional
        Only the first ``limit`` sequences of the split (quick looks, tests).

    Returns
    -------
    dict ``{method: Path of its AttributionSet directory}``.
    """
    from wtko_captum.attribution.attribute import get_method
    from wtko_captum.core.device import resolve_device

    methods = [methods] if isinstance(methods, str) else list(methods)
    if not methods:
        raise InputError("no attribution method given")
    funcs = {m: get_method(m) for m in methods}  # unknown names fail before any work
    run = _Run.setup(model_path, data_dir, split=split, limit=limit, target=target,
                     dev=resolve_device(device), batch_size=batch_size, seed=seed, chunk_size=chunk_size,
                     rc_average=rc_average)
    from wtko_captum.core.atomic import check_free_space, output_dir, output_lock

    out = Path(out)
    with output_lock(out):
        output_dir(out)
        other_model_warning(out, run.identity)
        # per method: the store's scores and the exported X.npz + attr.npz (float32 each)
        per_method = 3 * run.X.nbytes + (16 << 20)
        check_free_space(out, per_method * len(funcs), f"{len(funcs)} method(s) x {len(run.X)} sequences")
        written = {}
        for name, func in funcs.items():
            opts = {**(options or {}), **((method_options or {}).get(name, {}))}
            job = run.job(name, func, {k: v for k, v in opts.items() if v is not None})
            written[name] = job.run(out, verbose)
    return written


@dataclass
class _Run:
    """What every method of one ``attribute_prepared`` call shares: the split, the model on its
    device, the resolved target and the run options."""

    X: np.ndarray
    regions: pd.DataFrame
    model: torch.nn.Module
    model_src: str
    class_names: list
    n_out: int
    target_index: int | None  # None for "pred" / "diff"
    target_label: object
    data: str
    split: str
    dev: torch.device
    batch_size: int
    seed: int | None
    chunk_size: int
    rc_average: bool

    @property
    def identity(self):
        return getattr(self.model, "identity", None)

    @classmethod
    def setup(cls, model_path, data_dir, *, split, limit, target, dev, batch_size, seed, chunk_size,
              rc_average) -> "_Run":
        from wtko_captum.core.checkpoint import load_model
        from wtko_captum.core.dataset import PreparedData, load_prepared
        from wtko_captum.core.targets import (SPECIAL_TARGETS, check_pred_applies, class_names_of, predict_logits,
                                              resolve_class)

        prepared = data_dir if isinstance(data_dir, PreparedData) else load_prepared(data_dir)
        ckpt = None
        if isinstance(model_path, torch.nn.Module):
            model, model_src = model_path, getattr(model_path, "identity", None)
        else:
            model, ckpt = load_model(model_path, input_length=prepared.width, with_checkpoint=True)
            model_src = str(model_path)
        prepared = prepared.for_checkpoint(ckpt)  # a fold model explains its own held-out fold
        part = prepared.split(split)
        if len(part) == 0:
            present = sorted(set(prepared.regions["split"].astype(str)))
            raise InputError(f"split {split!r} has no sequences; splits present: {', '.join(present) or 'none'}",
                             path=data_dir)
        if limit is not None:
            part = part.subset(np.arange(len(part)) < int(limit))
        model = model.eval().to(dev)
        X = part.X.astype(np.float32)
        n_out = int(predict_logits(model, torch.from_numpy(X[:1]), 1, dev).shape[1])
        names = class_names_of(model, n_out) or list(part.class_names)
        special = isinstance(target, str) and target.lower() in SPECIAL_TARGETS
        if special and target.lower() == "pred":
            check_pred_applies(model)
        index = None if special else resolve_class(target, names, n_out)
        return cls(X, _base_regions(part), model, model_src, names, n_out, index,
                   target.lower() if special else index, str(data_dir), split, dev, int(batch_size), seed,
                   int(chunk_size), bool(rc_average))

    def job(self, name: str, func, options: dict) -> "_Job":
        """One method's work: the options it takes, what its store must match to be resumed,
        and the metadata its AttributionSet records."""
        from wtko_captum.attribution.attribute import accepted_options, method_info

        used, dropped = accepted_options(func, options)
        if dropped:
            log.info("%s: ignoring options it does not take: %s", name, ", ".join(dropped))
        # effective options, the method's defaults included, so meta.json says exactly what ran
        # and a store made under other defaults (another package version) is not resumed
        params = {**method_defaults(func), **used, "rc_average": self.rc_average, "seed": self.seed,
                  "chunk_size": self.chunk_size}
        key = {"model_identity": self.identity or self.model_src, "method": name,
               "target": str(self.target_label), "params": params,
               "data": data_fingerprint(self.X, self.regions["name"]), "n": int(len(self.X)),
               "split": self.split, "package_version": __version__}
        target_name = (self.class_names[self.target_index] if self.target_index is not None and self.class_names
                       else self.target_label)
        meta = {"method": name, "hypothetical": bool(method_info(func).hypothetical), "target": self.target_label,
                "target_name": target_name, "params": params, "model_identity": self.identity,
                "model": self.model_src, "class_names": self.class_names, "data": self.data, "split": self.split,
                "outputs": getattr(self.model, "outputs", "softmax")}
        return _Job(self, name, func, used, key, meta)


@dataclass
class _Job:
    run_: _Run
    name: str
    func: object
    options: dict
    key: dict
    meta: dict = field(default_factory=dict)

    def run(self, out: Path, verbose: bool) -> Path:
        """Fill the method's store chunk by chunk (resuming where it stopped), then export it."""
        from tqdm.auto import tqdm

        from wtko_captum.core.atomic import path_component
        from wtko_captum.core.store import open_or_create

        r = self.run_
        stem = path_component(self.name, "method name")
        store, resumed = open_or_create(out / f"{stem}.h5", r.X, r.regions, n_outputs=r.n_out,
                                        chunk_size=r.chunk_size, meta=self.meta, key=self.key)
        try:
            pending = store.pending()
            log.info("%s: %d sequences, %d chunk(s) to compute%s", self.name, len(r.X), len(pending),
                     " (resumed)" if resumed else "")
            for ci, s, e in tqdm(pending, desc=f"attribute {self.name}", unit="chunk", disable=not verbose):
                attr, logits, stats = self.chunk(ci, store.X_rows(s, e))
                store.write(s, attr, logits, stats=stats)
            return export_store(store, out / stem)
        finally:
            store.close()

    def chunk(self, index: int, X: np.ndarray):
        """Attributions, logits and (for methods that report it) convergence-delta statistics
        of one chunk; its randomness depends only on the run seed and ``index``."""
        from wtko_captum.attribution.attribute import attribute
        from wtko_captum.core.targets import predict_logits

        r = self.run_
        Xc = torch.from_numpy(X)
        logits = predict_logits(r.model, Xc, r.batch_size, r.dev)
        # "pred": the predicted class of the unmodified input, per sequence
        target = logits.argmax(1).numpy() if r.target_label == "pred" else r.target_label
        deltas = [] if "deltas_out" in inspect.signature(self.func).parameters else None
        extra = {"deltas_out": deltas} if deltas is not None else {}
        attr = attribute(r.model, Xc, self.func, target, batch_size=r.batch_size, device=r.dev,
                         seed=chunk_seed(r.seed, index), rc_average=r.rc_average, verbose=False,
                         **self.options, **extra)
        stats = None
        if deltas:
            d = torch.cat([torch.as_tensor(x).flatten() for x in deltas]).abs()
            stats = {"delta_sum_abs": float(d.sum()), "delta_max_abs": float(d.max()), "delta_n": int(d.numel())}
        return attr.numpy(), logits.numpy(), stats


def _base_regions(part) -> pd.DataFrame:
    """The regions a store keeps per row (the prepared table's useful columns)."""
    keep = [c for c in ("chrom", "start", "end", "name", "label", "class", "split", "summit",
                        "peak_start", "peak_end", "coordinates", "fold") if c in part.regions]
    regions = part.regions[keep].copy()
    regions["strand"] = "+"
    return regions


def export_store(store, path) -> Path:
    """Write a complete store as an AttributionSet directory (atomically)."""
    return store.to_attribution_set().save(path)
