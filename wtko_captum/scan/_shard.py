"""The shard function: one shard's bases from its windows, the same on every engine.

:func:`run_shard` is a pure function of its arguments (the shard's sequence, the model and the
job's options): it one-hot encodes the windows, skips those with no base (all ``N``), predicts
each window, attributes it with every method through
:func:`wtko_captum.attribution.attribute.attribute`, and merges the windows' per-base tracks
over the shard's own bases with the overlap rule of :mod:`wtko_captum.core.tracks`.

Bit-for-bit reproducibility. On CPU a window's scores depend, in the last bits, on the size of
the batch it is computed in and on torch's thread count (measured: saliency, DeepLIFT,
DeepLIFT-SHAP and ISM change with either), not on the other windows of its batch. So every
model call here gets exactly ``batch_size`` windows (a short batch is filled with copies of its
first window, whose results are dropped) and runs on one torch thread: the result is then the
same whichever shard, worker or engine computes a window, and a resumed run equals an
uninterrupted one. Parallelism comes from processes (one thread each), which is also the
faster arrangement for these small convolutions.
"""
from __future__ import annotations

import copy
import resource
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from wtko_captum.core.sequence import encode_indices
from wtko_captum.core.tracks import OverlapBuffer, window_tracks
from wtko_captum.scan._tiling import Shard

#: windows whose per-base tracks are derived at once while merging (bounds the float64 copy)
_MERGE_CHUNK = 256


@dataclass(frozen=True)
class ScanJob:
    """Everything a shard's result depends on besides its sequence and the model."""

    width: int
    stride: int
    methods: tuple[str, ...]
    method_options: dict = field(default_factory=dict)   # {method: {option: value}}
    tracks: tuple[str, ...] = ("projected", "maxabs")    # expanded track names
    overlap: str = "mean"
    target: int | str = "pred"                           # output index, "pred" or "diff"
    batch_size: int = 128
    seed: int | None = 0
    rc_average: bool = False
    device: str = "cpu"
    n_outputs: int = 2


@dataclass
class ShardTask:
    """A shard and the bases under its windows (``N`` past the chromosome ends)."""

    shard: Shard
    sequence: str


def run_shard(task: ShardTask, model: torch.nn.Module, job: ScanJob) -> dict:
    """Compute one shard.

    Returns
    -------
    dict
        ``index``; ``tracks``: ``{method: float32 (T, length)}`` merged track values over the
        shard's bases ``[start, end)`` (NaN: no value); ``pred``: float32 ``(n_outputs,
        length)``, the softmax probabilities of the window whose centre is nearest each base
        (ties: the earlier window; NaN where that window was skipped); ``skipped`` and
        ``padded``: ``[[start, end], ...]`` the shard's windows with no base, and those
        running past a chromosome end; ``n_windows``, ``n_computed``, ``seconds`` and
        ``max_rss_mb`` (the worker's peak resident memory).
    """
    t0 = time.perf_counter()
    shard = task.shard
    dev = torch.device(job.device)
    if dev.type == "cpu":
        torch.set_num_threads(1)
    # a private copy: methods attach hooks to modules, and a dask worker may run shards on threads
    model = copy.deepcopy(model).eval().to(dev)
    starts = shard.first + job.stride * np.arange(shard.n_windows, dtype=np.int64)
    X = windows_onehot(task.sequence, job.width, job.stride)
    keep = np.flatnonzero(X.any(axis=(1, 2)))
    Xk = X[keep]

    logits = _predict(model, Xk, job, dev)
    probs = torch.softmax(torch.from_numpy(logits).double(), dim=1).float().numpy()
    tracks = {}
    for name in job.methods:
        attr = _attribute(model, Xk, name, logits, job, dev)
        tracks[name] = merge_windows(Xk, attr, starts[keep], shard, job)

    owned = _owned(starts, shard)
    empty = np.ones(len(starts), bool)
    empty[keep] = False
    past_end = (starts < 0) | (starts + job.width > shard.chrom_size)
    return {
        "index": shard.index,
        "tracks": tracks,
        "pred": window_values_per_base(probs, keep, starts, shard, job),
        "skipped": _extents(starts[owned & empty], job.width, shard.chrom_size),
        "padded": _extents(starts[owned & past_end & ~empty], job.width, shard.chrom_size),
        "n_windows": int(owned.sum()),
        "n_computed": int(len(keep)),
        "seconds": time.perf_counter() - t0,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def windows_onehot(sequence: str, width: int, stride: int) -> np.ndarray:
    """One-hot windows ``(n, 4, width)`` float32 of ``sequence`` at ``stride``."""
    codes = encode_indices(sequence)[0]
    idx = np.lib.stride_tricks.sliding_window_view(codes, width)[::stride]
    X = np.zeros((len(idx), 5, width), dtype=np.float32)
    np.put_along_axis(X, idx[:, None, :].astype(np.int64), 1.0, axis=1)
    return X[:, :4]


def fixed_batches(n: int, batch_size: int):
    """``(rows, n_real)``: index arrays of exactly ``batch_size`` rows covering ``range(n)``;
    a short last batch repeats its first row (those results are dropped)."""
    for s in range(0, n, batch_size):
        rows = np.arange(s, min(s + batch_size, n))
        yield np.r_[rows, np.full(batch_size - len(rows), rows[0])], len(rows)


def _predict(model, X: np.ndarray, job: ScanJob, dev) -> np.ndarray:
    from wtko_captum.core.targets import predict_logits

    out = np.empty((len(X), job.n_outputs), dtype=np.float32)
    for rows, n in fixed_batches(len(X), job.batch_size):
        logits = predict_logits(model, torch.from_numpy(X[rows]), job.batch_size, dev)
        out[rows[:n]] = logits[:n].numpy()
    return out


def _attribute(model, X: np.ndarray, name: str, logits: np.ndarray, job: ScanJob, dev) -> np.ndarray:
    """``(n, 4, W)`` float32 scores of ``X`` for the job's target, in fixed-size batches.

    ``"pred"`` is resolved here (each window's argmax class) and windows are grouped by class,
    so every call has one integer target and ``batch_size`` windows."""
    from wtko_captum.attribution.attribute import attribute

    out = np.empty(X.shape, dtype=np.float32)
    if job.target == "pred":
        cls = logits.argmax(axis=1)
        groups = [(np.flatnonzero(cls == c), int(c)) for c in np.unique(cls)]
    else:
        groups = [(np.arange(len(X)), job.target)]
    options = job.method_options.get(name, {})
    for rows_all, target in groups:
        for rows, n in fixed_batches(len(rows_all), job.batch_size):
            r = rows_all[rows]
            a = attribute(model, torch.from_numpy(X[r]), name, target, batch_size=job.batch_size, device=dev,
                          seed=job.seed, rc_average=job.rc_average, **options)
            out[r[:n]] = a[:n].numpy()
    return out


def merge_windows(X: np.ndarray, attr: np.ndarray, starts: np.ndarray, shard: Shard, job: ScanJob) -> np.ndarray:
    """Per-base tracks ``(T, length)`` float32 over the shard's bases, merged from windows
    (sorted by start) with the job's overlap rule; NaN where no window has a value."""
    n_tracks = len(job.tracks)
    out = np.full((n_tracks, shard.length), np.nan, dtype=np.float32)
    buf = OverlapBuffer(n_tracks, job.overlap, shard.length)
    buf.origin = shard.start
    W = job.width
    for c0 in range(0, len(starts), _MERGE_CHUNK):
        values, valid = window_tracks(X[c0:c0 + _MERGE_CHUNK], attr[c0:c0 + _MERGE_CHUNK], job.tracks)
        for k, s in enumerate(starts[c0:c0 + _MERGE_CHUNK].tolist()):
            a, b = max(s, shard.start), min(s + W, shard.end)
            if b > a:
                buf.add(a, values[k, :, a - s:b - s], valid[k, a - s:b - s], s + W / 2)

    def emit(gs, vals):
        out[:, gs - shard.start:gs - shard.start + vals.shape[1]] = vals

    buf.flush(None, emit)
    return out


def window_values_per_base(values: np.ndarray, keep: np.ndarray, starts: np.ndarray, shard: Shard,
                           job: ScanJob) -> np.ndarray:
    """``(k, length)`` float32: each base of the shard gets the values of the window whose
    centre is nearest (ties: the earlier window; beyond the first or last window of a span,
    that window), NaN where that window was skipped."""
    pos = np.arange(shard.start, shard.end, dtype=np.float64) + 0.5
    centre0 = starts[0] + job.width / 2
    k = np.clip(np.ceil((pos - centre0) / job.stride - 0.5).astype(np.int64), 0, len(starts) - 1)
    full = np.full((len(starts), values.shape[1]), np.nan, dtype=np.float32)
    full[keep] = values
    return np.ascontiguousarray(full[k].T)


def _owned(starts: np.ndarray, shard: Shard) -> np.ndarray:
    """The windows this shard reports in the log: those starting in its bases, and for the
    first shard of a span those starting before it (each window is reported once)."""
    lo = shard.start if shard.start > shard.span_start else np.iinfo(np.int64).min
    return (starts >= lo) & (starts < shard.end)


def _extents(starts: np.ndarray, width: int, size: int) -> list[list[int]]:
    return [[max(int(s), 0), min(int(s) + width, size)] for s in starts]
