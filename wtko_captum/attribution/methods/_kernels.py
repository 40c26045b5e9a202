"""Fused CPU kernels (numba) for the exact DeepLIFT engine's two largest rules.

The ReLU rescale rule and the non-overlapping max-pool rule are elementwise / per-window
formulas over the largest tensors the engine makes (``B*K`` reference rows x channels x
positions). Written as chains of torch ops they take 10-30 memory passes each, several through
``torch.where``/boolean masks that are slow on CPU; here each is one pass. They compute
exactly what the torch versions in :mod:`._exact_deeplift` compute (same float32 arithmetic,
same thresholds, same tie-breaking); the tests compare the two.

numba is a dependency of tangermeme and memelite, so it is present wherever they are; it is
imported lazily and the torch versions are used when it is missing or the tensors are not
float32 on the CPU. Compiled code is cached next to this file (``cache=True``).
"""
from __future__ import annotations

import functools

import numpy as np
import torch


def _relu_ratio(x_in, r_in, K, out):  # pragma: no cover - run compiled
    """x_in (B, M) observed, r_in (B*K, M) references -> out (B*K, M) rescale multipliers."""
    BK, M = r_in.shape
    for row in range(BK):
        b = row // K
        for i in range(M):
            x = x_in[b, i]
            r = r_in[row, i]
            d = x - r
            if abs(d) < 1e-6:
                out[row, i] = 1.0 if x > 0 else 0.0
            else:
                xo = x if x > 0 else np.float32(0.0)
                ro = r if r > 0 else np.float32(0.0)
                out[row, i] = (xo - ro) / d
    return out


def _maxpool_coef(x_in, r_in, K, kw, out):  # pragma: no cover - run compiled
    """x_in (B, C, L), r_in (B*K, C, L) -> out (B*K, C, Lo*kw): the coefficient of every input
    position of each non-overlapping window (kernel == stride == kw)."""
    BK, C, _ = r_in.shape
    Lo = out.shape[2] // kw
    for row in range(BK):
        b = row // K
        for c in range(C):
            for o in range(Lo):
                s = o * kw
                ax, xo = s, x_in[b, c, s]
                ar, ro = s, r_in[row, c, s]
                out[row, c, s] = 0.0
                for j in range(s + 1, s + kw):  # first maxima, as torch's max_pool
                    out[row, c, j] = 0.0
                    if x_in[b, c, j] > xo:
                        ax, xo = j, x_in[b, c, j]
                    if r_in[row, c, j] > ro:
                        ar, ro = j, r_in[row, c, j]
                win = ax if xo >= ro else ar  # the change goes to x's argmax, else to r's
                d = x_in[b, c, win] - r_in[row, c, win]
                if d == 0:
                    out[row, c, win] = 1.0 if win == ax else 0.0  # ordinary gradient at x
                else:
                    out[row, c, win] = (xo - ro) / d
                if win != ax and x_in[b, c, ax] - r_in[row, c, ax] == 0:
                    out[row, c, ax] = 1.0  # zero change at x's argmax: ordinary gradient
    return out


@functools.lru_cache(maxsize=1)
def _compiled():
    """``(relu_ratio, maxpool_coef)`` jitted, or None when numba is unavailable."""
    try:
        import numba
    except ImportError:  # pragma: no cover - numba comes with tangermeme
        return None
    # Serial on purpose: one pass is already a small share of a batch's time, and numba's
    # parallel runtimes (OpenMP, TBB) would start a second thread pool next to torch's, whose
    # idle spinning slows torch down on a small shared machine.
    try:
        jit = numba.njit(cache=True, nogil=True)
        return jit(_relu_ratio), jit(_maxpool_coef)
    except RuntimeError:  # pragma: no cover - no writable cache location
        jit = numba.njit(nogil=True)
        return jit(_relu_ratio), jit(_maxpool_coef)


USE_NUMBA = True  # tests switch this off to compare against the torch versions


def _usable(*tensors) -> bool:
    return USE_NUMBA and all(t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().contiguous().numpy()


def relu_ratio(x_in: torch.Tensor, r_in: torch.Tensor) -> torch.Tensor | None:
    """ReLU rescale multipliers of ``r_in (B*K, ...)`` against ``x_in (B, ...)``, shape of
    ``r_in``; None when the fused kernel cannot be used."""
    k = _compiled() if _usable(x_in, r_in) else None
    if k is None:
        return None
    kern = k[0]
    B = x_in.shape[0]
    out = torch.empty(r_in.shape, dtype=torch.float32)
    kern(_np(x_in).reshape(B, -1), _np(r_in).reshape(r_in.shape[0], -1), r_in.shape[0] // B,
         out.numpy().reshape(r_in.shape[0], -1))
    return out


def maxpool_coef(x_in: torch.Tensor, r_in: torch.Tensor, kw: int, Lo: int) -> torch.Tensor | None:
    """Max-pool rule coefficients ``(B*K, C, Lo*kw)`` for windows of width ``kw`` with stride
    ``kw``; None when the fused kernel cannot be used."""
    k = _compiled() if _usable(x_in, r_in) else None
    if k is None:
        return None
    kern = k[1]
    BK, C, _ = r_in.shape
    out = torch.empty(BK, C, Lo * kw, dtype=torch.float32)
    kern(_np(x_in), _np(r_in), BK // x_in.shape[0], kw, out.numpy())
    return out
