"""Saliency: the signed gradient of the target logit with respect to the one-hot input.

As in the WTKO-CNN paper: the gradient of the (pre-softmax) target logit; the paper's per-position
importance is the max over the 4 channels of the absolute gradient
(:func:`per_position_maxabs`). captum's ``Saliency`` takes the absolute value by default,
which drops the sign; this adapter always calls it with ``abs=False``.
"""
from __future__ import annotations

import torch

from wtko_captum.core.registry import attribution_method
from wtko_captum.attribution.methods._common import batch_args, batches, check_input, check_target, model_on


@attribution_method(hypothetical=True, description="signed gradient of the target logit (captum Saliency, abs=False)")
def saliency(model, X, args=None, *, target=0, batch_size=128, device="cpu", seed=None,
             verbose=False):
    """Signed gradient of ``model(X)[:, target]`` with respect to ``X``.

    Parameters
    ----------
    model : nn.Module returning ``(N, n_outputs)`` logits.
    X : float32 tensor ``(N, 4, L)``, one-hot (A,C,G,T; all-zero columns for N).
    args : tuple of extra per-example model inputs, or None.
    target : int, the output index (logit) to explain.
    batch_size : int, sequences per forward/backward pass.
    device : "cpu" | "cuda" | "auto"; the model is returned to its own device and mode.
    seed : unused (deterministic method); accepted for the common call form.

    Returns
    -------
    CPU float32 tensor ``(N, 4, L)``: d logit / d x for every base at every position
    (hypothetical: the unobserved bases carry their gradient too).
    """
    from captum.attr import Saliency

    X = check_input(X)
    check_target(model, X, target)
    out = torch.empty_like(X)
    with model_on(model, device) as dev:
        explainer = Saliency(model)
        for sl in batches(len(X), batch_size, verbose, "saliency"):
            extra = batch_args(args, sl, dev)
            x = X[sl].to(dev).requires_grad_()  # captum warns otherwise
            g = explainer.attribute(x, target=target, abs=False,
                                    additional_forward_args=extra or None)
            out[sl] = g.detach().to("cpu", torch.float32)
    return out


def per_position_maxabs(attr) -> torch.Tensor:
    """The paper's per-position saliency: ``max_c |attr[n, c, i]|``, shape ``(N, L)``."""
    attr = torch.as_tensor(attr)
    return attr.abs().amax(dim=1)
