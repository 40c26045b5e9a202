"""Where a layer position sits on the input: receptive-field arithmetic and the mapping of
per-position layer values (Grad-CAM maps, attention weights) back to input bases.

Mapping convention (documented, used by ``grad_cam`` and ``attention``): position ``j`` of a
layer covers input bases ``[start + j * jump, start + j * jump + rf)``; each input base gets the
**mean of the values of the layer positions whose receptive field contains it**. Bases no
position covers (the right-hand remainder a pooling layer drops) get 0.
"""
from __future__ import annotations

import functools

import torch
from torch import nn

# modules that keep positions where they are (no change of length or stride)
_POSITIONWISE = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh,
                 nn.Softplus, nn.BatchNorm1d, nn.Dropout, nn.Identity)


def _one(v):
    return v[0] if isinstance(v, (tuple, list)) else v


def layer_geometry(model: nn.Module, layer: nn.Module) -> tuple[int, int, int] | None:
    """``(start, jump, rf)`` of ``layer``'s output positions, walking the model's leaf modules
    in registration order (true for sequential conv towers such as the WTKO-CNN).

    Returns None when a module of unknown geometry comes first (the caller then falls back).
    """
    start, jump, rf = 0, 1, 1
    for m in model.modules():
        if next(m.children(), None) is not None:
            continue  # containers
        if isinstance(m, (nn.Conv1d, nn.MaxPool1d, nn.AvgPool1d)):
            k, s = _one(m.kernel_size), _one(m.stride)
            d = _one(getattr(m, "dilation", 1))
            p = _one(m.padding)
            start -= p * jump
            rf += (k - 1) * d * jump
            jump *= s
        elif not isinstance(m, _POSITIONWISE):
            return None
        if m is layer:
            return start, jump, rf
    return None


@functools.lru_cache(maxsize=32)
def _cover(Lp: int, start: int, jump: int, rf: int, length: int) -> torch.Tensor:
    """``(Lp, length)`` matrix: 1/(number of covering positions) where position j covers base i."""
    j = torch.arange(Lp).unsqueeze(1)
    i = torch.arange(length).unsqueeze(0)
    lo = start + j * jump
    cover = ((i >= lo) & (i < lo + rf)).float()
    return cover / cover.sum(0).clamp_min(1)


@functools.lru_cache(maxsize=32)
def _coverage(Lp: int, start: int, jump: int, rf: int, length: int) -> torch.Tensor:
    """``(length,)``: 1/(number of layer positions covering each base), 0 where none does."""
    i = torch.arange(length)
    j = torch.arange(Lp).unsqueeze(1)
    count = ((i >= start + j * jump) & (i < start + j * jump + rf)).sum(0).float()
    return torch.where(count > 0, 1.0 / count.clamp_min(1), 0.0)


def map_to_input(values: torch.Tensor, start: int, jump: int, rf: int, length: int) -> torch.Tensor:
    """Per-position layer values ``(N, Lp)`` -> per-base values ``(N, length)`` (mean over the
    layer positions covering each base; 0 where none does).

    Computed as a box filter of width ``rf`` over the values placed every ``jump`` bases (the
    covering windows: a transposed convolution, written as zero-insertion plus a plain
    convolution, which is many times faster on CPU for one channel), scaled per base: the
    same numbers as multiplying by the ``(Lp, length)`` cover matrix, without its
    ``Lp x length`` work.
    """
    import torch.nn.functional as F

    Lp = values.shape[-1]
    if start > 0:
        return values @ _cover(Lp, start, jump, rf, length).to(values.device, values.dtype)
    v = values.reshape(-1, 1, Lp)
    if jump > 1:
        up = v.new_zeros(v.shape[0], 1, (Lp - 1) * jump + 1)
        up[..., ::jump] = v
        v = up
    box = torch.ones(1, 1, rf, device=values.device, dtype=values.dtype)
    summed = F.conv1d(F.pad(v, (rf - 1, rf - 1)), box)[:, 0]  # length (Lp - 1) * jump + rf
    # window j starts at base start + j*jump (start <= 0: padding bases fall off the left)
    summed = summed[:, -start:]
    if summed.shape[-1] < length:
        summed = F.pad(summed, (0, length - summed.shape[-1]))
    inv = _coverage(Lp, start, jump, rf, length).to(values.device, values.dtype)
    return (summed[:, :length] * inv).reshape(*values.shape[:-1], length)
