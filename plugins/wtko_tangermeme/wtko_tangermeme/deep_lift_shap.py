"""tangermeme's ``deep_lift_shap`` as an attribution method, with the core's layer rules.

Registered as ``deeplift_shap_tangermeme``; the core's ``deeplift_shap(backend="tangermeme")``
reaches it through the registry. tangermeme hooks nonlinear modules by type; the rule of every
module comes from the core's plan (:func:`wtko_captum.api.deeplift_plan`, which refuses a layer
without a rule before any work) and is handed to tangermeme as ``additional_nonlinear_ops``:

- ``rescale``, ``maxpool``, ``softmax``: tangermeme's own ``_nonlinear``, ``_maxpool``,
  ``_softmax``;
- ``bilinear`` (a module ``forward(left, right)`` bilinear in its operands, such as the
  WTKO-CNN's attention product): a forward pre-hook stages the two operands the way
  ``tangermeme.deep_lift_shap.BilinearOp`` does, and the rule evaluates the module's own
  Jacobian at the operands' midpoint (tangermeme's ``_bilinear``, for any bilinear forward);
- a tangermeme-form rule function: as given.
"""
from __future__ import annotations

import contextlib
import warnings

import torch

from wtko_captum.api import (InputError, NoRuleError, attribution_method, check_completeness, check_input,
                             check_target, deeplift_plan, make_references, model_on)


def _module_bilinear(module, grad_input, grad_output):
    """Midpoint product rule for a bilinear module: its Jacobian at the midpoint of the observed
    and reference operands (staged as ``module.left`` / ``module.right``, observed rows first)."""
    mids = [(0.5 * sum(t.chunk(2))).detach() for t in (module.left, module.right)]
    grads = []
    for g in grad_output[0].chunk(2):
        with torch.enable_grad():
            left, right = (m.clone().requires_grad_() for m in mids)
            grads.append(torch.autograd.grad(module.forward(left, right), (left, right), grad_outputs=g))
    return tuple(torch.cat([a, b]) for a, b in zip(*grads))


_module_bilinear._reads = ()  # reads the staged operands, not cached input/output


def _tangermeme_ops(model, additional_nonlinear_ops):
    """``({module type: tangermeme rule}, [bilinear modules])`` from the core's plan."""
    from tangermeme.deep_lift_shap import _maxpool, _nonlinear, _softmax

    named = {"rescale": _nonlinear, "maxpool": _maxpool, "softmax": _softmax, "bilinear": _module_bilinear}
    ops, bilinear = {}, []
    for path, module, rule in deeplift_plan(model, additional_nonlinear_ops, "deeplift_shap_tangermeme"):
        if rule == "maxpool" and not isinstance(module, torch.nn.MaxPool1d):
            raise NoRuleError(f"deeplift_shap_tangermeme: tangermeme has no rule for {path!r} "
                              f"({type(module).__name__}); use deeplift_shap with backend='exact'")
        ops[type(module)] = named[rule] if isinstance(rule, str) else rule
        if rule == "bilinear":
            bilinear.append(module)
    return ops, bilinear


@contextlib.contextmanager
def _staging(modules):
    """Stage the operands of bilinear modules for tangermeme's hooks during an attribution call."""

    def pre(module, inputs):
        if hasattr(module, "_NON_LINEAR_OPS"):  # only inside a tangermeme attribution call
            module._staged = {"left": inputs[0].detach(), "right": inputs[1].detach()}

    handles = [m.register_forward_pre_hook(pre) for m in modules]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


@torch.no_grad()
def _outputs(model, X, args, target, batch_size, dev) -> torch.Tensor:
    """``model(X, *args)[:, target]`` in batches, float32 on the CPU."""
    out = []
    for s in range(0, len(X), batch_size):
        extra = tuple(a[s:s + batch_size].to(dev) for a in args) if args else ()
        out.append(model(X[s:s + batch_size].to(dev), *extra)[:, target].float().cpu())
    return torch.cat(out)


@attribution_method(hypothetical=True, stochastic=True, layer_rules=True,
                    description="tangermeme's deep_lift_shap with the core's exact layer rules")
def deeplift_shap_tangermeme(model, X, args=None, *, target=0, batch_size=128, device="cpu",
                             random_state=None, verbose=False, n_shuffles=10, reference="shuffle",
                             additional_nonlinear_ops=None, tolerance=1e-3, deltas_out=None):
    """``tangermeme.deep_lift_shap`` (hypothetical) of ``model(X)[:, target]``.

    Parameters
    ----------
    X : float32 one-hot ``(N, 4, L)``.
    n_shuffles : dinucleotide-shuffled references per sequence (as the core's deeplift_shap).
    reference : ``"shuffle"`` or a tensor ``(N, K, 4, L)`` of references.
    additional_nonlinear_ops : ``{ModuleType: rule}`` for layer types without a rule.
    tolerance : completeness tolerance (mean |delta| relative to mean |f(x) - mean f(ref)|).
    deltas_out : optional list; receives the per-sequence convergence deltas ``(N,)``.

    Returns
    -------
    CPU float32 ``(N, 4, L)``, equal to ``deeplift_shap(..., backend="exact")`` to float rounding.
    """
    from tangermeme.deep_lift_shap import deep_lift_shap

    X = check_input(X)
    check_target(model, X, target)
    refs = make_references(X, reference, n=n_shuffles, random_state=random_state)
    if refs.shape[1] < 1:
        raise InputError("deeplift_shap_tangermeme needs at least one reference per sequence")
    ops, bilinear = _tangermeme_ops(model, additional_nonlinear_ops)
    with model_on(model, device) as dev, _staging(bilinear), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Convergence deltas", category=RuntimeWarning)
        attr = deep_lift_shap(model, X, args=args, target=target, batch_size=batch_size,
                              references=refs, hypothetical=True, additional_nonlinear_ops=ops,
                              device=dev, verbose=verbose, warning_threshold=float("inf"))
        attr = attr.detach().to("cpu", torch.float32)
        K = refs.shape[1]
        y = _outputs(model, X, args, target, batch_size, dev)
        ref_args = tuple(a.repeat_interleave(K, 0) for a in args) if args else None
        y_ref = _outputs(model, refs.reshape(-1, *X.shape[1:]), ref_args, target, batch_size, dev)
        diff = y - y_ref.reshape(len(X), K).mean(1)
    deltas = (attr * X).sum((1, 2)) - diff
    check_completeness(deltas, diff, y, "deeplift_shap_tangermeme", tolerance)
    if deltas_out is not None:
        deltas_out.append(deltas)
    return attr
