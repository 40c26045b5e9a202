"""The model's own attention weights mapped to input bases (the WTKO paper's attention map)."""
from __future__ import annotations

import torch

from wtko_captum.core.errors import InputError
from wtko_captum.core.registry import attribution_method
from wtko_captum.attribution.methods._common import batches, check_input, model_on
from wtko_captum.core.layout import attention_pool_layout
from wtko_captum.attribution.methods._geometry import map_to_input


def _layout(model):
    layout = attention_pool_layout(model)
    if layout is None:
        raise InputError("attention needs a model that declares its attention pooling "
                         "(attention_pool_layout(), see wtko_captum.core.layout; the WTKO-CNN does)")
    return layout


@attribution_method(hypothetical=False,
                    description="the model's attention weights mapped to input bases (projected)")
def attention(model, X, args=None, *, target=0, batch_size=256, device="cpu", seed=None,
              verbose=False):
    """Attention weights ``(N, L')`` mapped to bases: each base gets the mean weight of the
    attention positions whose receptive field contains it, placed on the observed base. The
    model must declare its attention pooling (:mod:`wtko_captum.core.layout`).

    ``target`` is accepted for the common call form; attention does not depend on it.
    Returns CPU float32 ``(N, 4, L)`` (projected; N columns stay 0).
    """
    X = check_input(X)
    if args is not None:
        raise InputError("attention takes no extra model inputs (args)")
    layout = _layout(model)
    N, _, L = X.shape
    out = torch.empty(N, L)
    with model_on(model, device) as dev, torch.no_grad():
        for sl in batches(N, batch_size, verbose, "attention"):
            h = layout.features(X[sl].to(dev))
            w = torch.softmax(layout.score(h.transpose(1, 2)).squeeze(-1).float(), dim=-1)
            out[sl] = map_to_input(w, 0, layout.jump, layout.receptive_field, L).cpu()
    return out.unsqueeze(1) * X
