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
import os
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from wtko_captum import __version__
from wtko_captum.core.errors import InputError

log = logging.getLogger("wtko_captum.attribute")

#: environment variable for crash tests: "after:K" kills the process (SIGKILL) once K chunks
#: are stored in this process; "mid:K" kills it while chunk K is written but not yet marked done.
DEBUG_KILL_ENV = "WTKO_DEBUG_KILL"


_COMMON = {"target", "batch_size", "device", "random_state", "verbose", "deltas_out", "args"}


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


def _debug_kill_hook():
    spec = os.environ.get(DEBUG_KILL_ENV, "")
    if not spec:
        return None, None
    when, _, k = spec.partition(":")
    return when, int(k or 1)


def _kill_now():
    os.kill(os.getpid(), signal.SIGKILL)


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
                       target="pred", batch_size: int = 128, device="cpu", seed: int | None = 0,
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
        Registered method names (``wtko plugins list``).
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
    from wtko_captum.attribution.attribute import accepted_options, attribute, get_method, method_info
    from wtko_captum.core.checkpoint import load_model
    from wtko_captum.core.dataset import load_prepared
    from wtko_captum.core.device import resolve_device
    from wtko_captum.core.store import open_or_create
    from wtko_captum.core.targets import SPECIAL_TARGETS, class_names_of, predict_logits, resolve_class

    dev = resolve_device(device)
    out = Path(out)
    data = load_prepared(data_dir)
    part = data.split(split)
    if len(part) == 0:
        splits = sorted(set(data.regions["split"].astype(str))) if "split" in data.regions else []
        raise InputError(f"split {split!r} has no sequences; splits present: {', '.join(splits) or 'none'}",
                         path=data_dir)
    if limit is not None:
        part = part.subset(np.arange(len(part)) < int(limit))
    if isinstance(model_path, torch.nn.Module):
        model, model_src = model_path, getattr(model_path, "identity", None)
    else:
        model = load_model(model_path, input_length=part.width)
        model_src = str(model_path)
    model = model.eval().to(dev)
    identity = getattr(model, "identity", None)
    X = part.X.astype(np.float32)
    n_out = int(predict_logits(model, torch.from_numpy(X[:1]), 1, dev).shape[1])
    names = class_names_of(model, n_out) or list(part.class_names)
    if not (isinstance(target, str) and target.lower() in SPECIAL_TARGETS):
        target_index = resolve_class(target, names, n_out)
    else:
        target_index = None
    fingerprint = data_fingerprint(X, part.regions["name"])
    other_model_warning(out, identity)
    methods = [methods] if isinstance(methods, str) else list(methods)
    if not methods:
        raise InputError("no attribution method given")
    funcs = {m: get_method(m) for m in methods}  # unknown names fail before any work
    kill_when, kill_k = _debug_kill_hook()
    chunks_written = 0

    written = {}
    for name, func in funcs.items():
        opts = {**(options or {}), **((method_options or {}).get(name, {}))}
        opts = {k: v for k, v in opts.items() if v is not None}
        used, dropped = accepted_options(func, opts)
        if dropped:
            log.info("%s: ignoring options it does not take: %s", name, ", ".join(dropped))
        info = method_info(func)
        # methods that report completeness (e.g. integrated gradients' convergence delta)
        takes_deltas = "deltas_out" in inspect.signature(func).parameters
        # effective options (the method's defaults included) so meta.json says exactly what ran and
        # a store made with other defaults (another package version) is not resumed
        params = {**method_defaults(func), **used, "rc_average": bool(rc_average), "seed": seed,
                  "chunk_size": int(chunk_size)}
        target_label = target.lower() if target_index is None else target_index
        key = {"model_identity": identity or model_src, "method": name, "target": str(target_label),
               "params": params, "data": fingerprint, "n": int(len(X)), "split": split,
               "package_version": __version__}
        meta = {"method": name, "hypothetical": bool(info.hypothetical), "target": target_label,
                "target_name": (names[target_index] if target_index is not None and names else target_label),
                "params": params, "model_identity": identity, "model": model_src,
                "class_names": names, "data": str(data_dir), "split": split}
        store_path = out / f"{name}.h5"
        store, resumed = open_or_create(store_path, X, _base_regions(part), n_outputs=n_out,
                                        chunk_size=chunk_size, meta=meta, key=key)
        try:
            pending = store.pending()
            log.info("%s: %d sequences, %d chunk(s) to compute%s", name, len(X), len(pending),
                     " (resumed)" if resumed else "")
            from tqdm.auto import tqdm

            for ci, s, e in tqdm(pending, desc=f"attribute {name}", unit="chunk", disable=not verbose):
                Xc = torch.from_numpy(store.X_rows(s, e))
                logits = predict_logits(model, Xc, batch_size, dev)
                # "pred": the predicted class of the unmodified input, per sequence
                tgt = logits.argmax(1).numpy() if target_label == "pred" else target_label
                deltas = [] if takes_deltas else None
                extra_opts = {"deltas_out": deltas} if takes_deltas else {}
                attr = attribute(model, Xc, func, tgt, batch_size=batch_size, device=dev,
                                 random_state=chunk_seed(seed, ci), rc_average=rc_average,
                                 verbose=False, **used, **extra_opts)
                stats = None
                if deltas:
                    d = torch.cat([torch.as_tensor(x).flatten() for x in deltas]).abs()
                    stats = {"delta_sum_abs": float(d.sum()), "delta_max_abs": float(d.max()),
                             "delta_n": int(d.numel())}
                hook = None
                if kill_when == "mid" and chunks_written + 1 == kill_k:
                    hook = _kill_now
                store.write(s, attr.numpy(), logits.numpy(), _before_done=hook, stats=stats)
                chunks_written += 1
                if kill_when == "after" and chunks_written == kill_k:
                    _kill_now()
            written[name] = export_store(store, out / name)
        finally:
            store.close()
    return written


def _base_regions(part) -> pd.DataFrame:
    """The regions a store keeps per row (the prepared table's useful columns)."""
    keep = [c for c in ("chrom", "start", "end", "name", "label", "class", "split", "summit",
                        "peak_start", "peak_end") if c in part.regions]
    regions = part.regions[keep].copy()
    regions["strand"] = "+"
    return regions


def export_store(store, path) -> Path:
    """Write a complete store as an AttributionSet directory (atomically)."""
    return store.to_attribution_set().save(path)
