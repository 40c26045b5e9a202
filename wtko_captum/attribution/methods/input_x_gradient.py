"""Input x gradient (captum ``InputXGradient``): the gradient of the target logit times X."""
from __future__ import annotations

import torch

from wtko_captum.core.registry import attribution_method
from wtko_captum.attribution.methods._common import batch_args, batches, check_input, check_target, model_on


@attribution_method(hypothetical=False, description="input x gradient of the target logit (captum)")
def input_x_gradient(model, X, args=None, *, target=0, batch_size=128, device="cpu",
                     seed=None, verbose=False):
    """``X * d model(X)[:, target] / dX``: CPU float32 ``(N, 4, L)``, non-zero only at the
    observed base (projected)."""
    from captum.attr import InputXGradient

    X = check_input(X)
    check_target(model, X, target)
    out = torch.empty_like(X)
    with model_on(model, device) as dev:
        explainer = InputXGradient(model)
        for sl in batches(len(X), batch_size, verbose, "input_x_gradient"):
            x = X[sl].to(dev).requires_grad_()
            a = explainer.attribute(x, target=target,
                                    additional_forward_args=batch_args(args, sl, dev) or None)
            out[sl] = a.detach().to("cpu", torch.float32)
    return out
