"""tangermeme's ``deep_lift_shap`` as a backend, made exact for attention pooling.

tangermeme hooks nonlinear *modules*; the WTKO-CNN's attention product lives in a
:class:`~wtko_captum.models.wtko_cnn.WeightedSum` module that tangermeme does not know, so it
is treated as linear (2-7 % completeness error). This adapter gives it tangermeme's own
bilinear (midpoint) rule: a forward pre-hook stages the two operands the way
``tangermeme.deep_lift_shap.BilinearOp`` does, and ``additional_nonlinear_ops`` maps
``WeightedSum`` to a rule that evaluates the product's Jacobian at the operands' midpoint.
"""
from __future__ import annotations

import contextlib
import warnings

import torch

from wtko_captum.attribution.methods._common import check_input, model_on


def _weighted_sum_rule(module, grad_input, grad_output):
    """Midpoint product rule for ``sum_l h[n,c,l] * w[n,l]`` (tangermeme ``_bilinear``)."""
    h, h_ref = module.left.chunk(2)
    w, w_ref = module.right.chunk(2)
    h_mid = 0.5 * (h + h_ref)
    w_mid = 0.5 * (w + w_ref)
    g = grad_output[0]
    gh = g.unsqueeze(-1) * torch.cat([w_mid, w_mid]).unsqueeze(1)
    gw = torch.einsum("nc,ncl->nl", g, torch.cat([h_mid, h_mid]))
    return gh, gw


_weighted_sum_rule._reads = ()  # reads the staged operands, not cached input/output


@contextlib.contextmanager
def weighted_sum_staging(model):
    """Stage ``WeightedSum`` operands for tangermeme's hooks during an attribution call."""
    from wtko_captum.models.wtko_cnn import WeightedSum

    def pre(module, inputs):
        if hasattr(module, "_NON_LINEAR_OPS"):  # only inside a tangermeme attribution call
            module._staged = {"left": inputs[0].detach(), "right": inputs[1].detach()}

    handles = [m.register_forward_pre_hook(pre) for m in model.modules()
               if isinstance(m, WeightedSum)]
    try:
        yield {WeightedSum: _weighted_sum_rule}
    finally:
        for h in handles:
            h.remove()


def tangermeme_deep_lift_shap(model, X, args=None, *, refs, target=0, batch_size=128,
                              device="cpu", verbose=False, deltas_out=None):
    """``tangermeme.deep_lift_shap`` (hypothetical) on ``X (N,4,L)`` against ``refs (N,K,4,L)``.

    Returns CPU float32 ``(N, 4, L)``; ``deltas_out`` (a list) receives the per-sequence
    convergence deltas ``(N,)``.
    """
    from tangermeme.deep_lift_shap import deep_lift_shap

    X = check_input(X)
    with model_on(model, device) as dev, weighted_sum_staging(model) as ops, \
            warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Convergence deltas", category=RuntimeWarning)
        attr = deep_lift_shap(model, X, args=args, target=target, batch_size=batch_size,
                              references=refs, hypothetical=True, additional_nonlinear_ops=ops,
                              device=dev, verbose=verbose, warning_threshold=float("inf"))
        attr = attr.detach().to("cpu", torch.float32)
        if deltas_out is not None:
            with torch.no_grad():
                f = lambda t: torch.cat([model(t[s:s + batch_size].to(dev))[:, target].cpu()  # noqa: E731
                                         for s in range(0, len(t), batch_size)])
                diff = f(X) - f(refs.reshape(-1, *X.shape[1:])).reshape(refs.shape[:2]).mean(1)
            deltas_out.append((attr * X).sum((1, 2)) - diff)
    return attr
