"""The model's own attention weights mapped to input bases (SEEDS.md section 1)."""
from __future__ import annotations

import torch

from wtko_captum.core.errors import InputError
from wtko_captum.core.registry import attribution_method
from wtko_captum.attribution.methods._common import batch_args, batches, check_input, model_on
from wtko_captum.attribution.methods._geometry import map_to_input


def attention_geometry(model) -> tuple[int, int, int]:
    """``(start, jump, rf)`` of the attention positions: WTKO-CNN position ``j`` covers input
    bases ``[4j, 4j + receptive_field)`` (stride = pool**2)."""
    rf = getattr(model, "receptive_field", None)
    cfg = getattr(model, "config", None) or {}
    if rf is None or "pool" not in cfg:
        raise InputError("attention needs a model with forward(x, return_attention=True) and a "
                         "receptive_field (the WTKO-CNN)")
    return 0, cfg["pool"] ** 2, rf


@attribution_method(hypothetical=False,
                    description="the model's attention weights mapped to input bases (projected)")
def attention(model, X, args=None, *, target=0, batch_size=256, device="cpu", random_state=None,
              verbose=False):
    """Attention weights ``(N, L')`` mapped to bases: each base gets the mean weight of the
    attention positions whose receptive field contains it, placed on the observed base.

    ``target`` is accepted for the common call form; attention does not depend on it.
    Returns CPU float32 ``(N, 4, L)`` (projected; N columns stay 0).
    """
    X = check_input(X)
    geom = attention_geometry(model)
    N, _, L = X.shape
    out = torch.empty(N, L)
    with model_on(model, device) as dev, torch.no_grad():
        for sl in batches(N, batch_size, verbose, "attention"):
            _, w = model(X[sl].to(dev), *batch_args(args, sl, dev), return_attention=True)
            out[sl] = map_to_input(w.float(), *geom, L).cpu()
    return out.unsqueeze(1) * X
