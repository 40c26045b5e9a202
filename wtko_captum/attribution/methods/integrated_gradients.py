"""Integrated gradients (captum ``IntegratedGradients``) with zero or shuffled baselines."""
from __future__ import annotations

import torch

from wtko_captum.core.errors import InputError
from wtko_captum.core.registry import attribution_method
from wtko_captum.attribution.methods._common import batch_args, batches, check_input, check_target, model_on
from wtko_captum.attribution.methods._references import make_references


RULES = ("gausslegendre", "riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle")


@attribution_method(hypothetical=True, stochastic=True,
                    description="integrated gradients (captum), zero or dinucleotide-shuffled baseline")
def integrated_gradients(model, X, args=None, *, target=0, batch_size=32, device="cpu",
                         seed=None, verbose=False, n_steps=50, reference="zero",
                         rule="gausslegendre", deltas_out=None):
    """Integrated gradients of ``model(X)[:, target]`` from a baseline to ``X``.

    Parameters
    ----------
    X : float32 one-hot ``(N, 4, L)``.
    n_steps : integration steps (captum ``n_steps``).
    rule : the integration rule, captum's ``method``: ``"gausslegendre"`` (default),
        ``"riemann_trapezoid"``, ``"riemann_left"``, ``"riemann_right"`` or
        ``"riemann_middle"`` (named ``rule`` because ``method`` names the attribution method).
    reference : ``"zero"``, ``"shuffle"`` (one dinucleotide shuffle per sequence, seeded by
        ``seed`` and the sequence) or a tensor ``(4, L)`` / ``(N, 4, L)``.
    batch_size : sequences per captum call (each expands to ``n_steps`` rows).
    deltas_out : optional list; receives the per-sequence convergence deltas
        ``sum((x - b) * g) - (f(x) - f(b))`` as a CPU tensor ``(N,)`` (equal to
        ``sum(attr * X) - (f(x) - f(b))`` for a sequence without N columns).

    Returns
    -------
    CPU float32 ``(N, 4, L)`` hypothetical contributions: with ``g`` the path-averaged
    gradient and ``b`` the baseline, ``g[c, i] - sum_k b[k, i] g[k, i]`` for base ``c``, so the
    observed base's value at ``i`` equals captum's ``((x - b) * g)[:, i].sum()``.
    """
    from captum.attr import IntegratedGradients

    if rule not in RULES:
        raise InputError(f"integrated_gradients: unknown integration rule; choose one of {', '.join(RULES)}",
                         value=rule)
    X = check_input(X)
    check_target(model, X, target)
    base = make_references(X, reference, n=1, seed=seed)
    if base.shape[1] != 1:
        raise ValueError("integrated_gradients takes one baseline per sequence")
    base = base[:, 0]
    out = torch.empty_like(X)
    deltas = torch.empty(len(X))
    with model_on(model, device) as dev:
        ig = IntegratedGradients(model, multiply_by_inputs=False)
        for sl in batches(len(X), batch_size, verbose, "integrated_gradients"):
            x, b = X[sl].to(dev), base[sl].to(dev)
            extra = batch_args(args, sl, dev)
            g = ig.attribute(x.clone().requires_grad_(), baselines=b, target=target,
                             n_steps=n_steps, method=rule,
                             additional_forward_args=extra or None).detach()
            hyp = g - (b * g).sum(1, keepdim=True)
            with torch.no_grad():
                diff = model(x, *extra)[:, target] - model(b, *extra)[:, target]
            deltas[sl] = (((x - b) * g).sum((1, 2)) - diff).cpu()
            out[sl] = hyp.to("cpu", torch.float32)
    if deltas_out is not None:
        deltas_out.append(deltas)
    return out
