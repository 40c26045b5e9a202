"""tangermeme's ``deep_lift_shap`` as an attribution method, with the core's layer rules.

Registered as ``deeplift_shap_tangermeme``; the core's ``deeplift_shap(backend="tangermeme")``
reaches it through the registry. tangermeme hooks nonlinear modules by type; the rule of every
module comes from the core's plan (:func:`wtko_captum.api.deeplift_plan`, which refuses a layer
without a rule before any work) and is handed to tangermeme as ``additional_nonlinear_ops``:

- ``rescale``, ``maxpool``, ``softmax``: tangermeme's own ``_nonlinear``, ``_maxpool`` (also
  for an ``AdaptiveMaxPool1d`` whose windows tile its input), ``_softmax``;
- ``bilinear`` (a module ``forward(left, right)`` bilinear in its operands, such as the
  WTKO-CNN's attention product): a forward pre-hook stages the two operands the way
  ``tangermeme.deep_lift_shap.BilinearOp`` does, and the rule evaluates the module's own
  Jacobian at the operands' midpoint (tangermeme's ``_bilinear``, for any bilinear forward);
- a tangermeme-form rule function: as given.

An ``nn.LSTM`` is explained through its unrolled twin (:func:`wtko_captum.api.exact_layers`).
"""
from __future__ import annotations

import contextlib
import warnings

import torch

from wtko_captum.api import (InputError, NoRuleError, attribution_method, check_completeness, check_input,
                             check_target, deeplift_plan, exact_layers, make_references, model_on)


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


def _adaptive_maxpool(module, grad_input, grad_output):
    """tangermeme's max-pool rule for an ``AdaptiveMaxPool1d`` whose windows tile its input
    (the same windows as ``MaxPool1d(L // out)``)."""
    from tangermeme.deep_lift_shap import _maxpool

    length, out = module.input.shape[-1], module.output.shape[-1]
    if length % out:
        raise NoRuleError(f"deeplift_shap_tangermeme: AdaptiveMaxPool1d({out}) over {length} positions has "
                          "windows of unequal width; use deeplift_shap with backend='exact'")
    pool = torch.nn.MaxPool1d(length // out)
    pool.input, pool.output = module.input, module.output
    return _maxpool(pool, grad_input, grad_output)


_adaptive_maxpool._reads = ("input", "output")


def _tangermeme_ops(model, additional_nonlinear_ops):
    """``({module type: tangermeme rule}, [bilinear modules])`` from the core's plan."""
    from tangermeme.deep_lift_shap import _maxpool, _nonlinear, _softmax

    named = {"rescale": _nonlinear, "maxpool": _maxpool, "softmax": _softmax, "bilinear": _module_bilinear}
    ops, bilinear = {}, []
    for _, module, rule in deeplift_plan(model, additional_nonlinear_ops, "deeplift_shap_tangermeme"):
        if rule == "maxpool" and isinstance(module, torch.nn.AdaptiveMaxPool1d):
            rule = _adaptive_maxpool
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
                             seed=None, verbose=False, n_shuffles=10, reference="shuffle",
                             additional_nonlinear_ops=None, tolerance=1e-3, deltas_out=None):
    """``tangermeme.deep_lift_shap`` (hypothetical) of ``model(X)[:, target]``.

    Parameters
    ----------
    X : float32 one-hot ``(N, 4, L)``.
    n_shuffles : dinucleotide-shuffled references per sequence (as the core's deeplift_shap).
    reference : ``"shuffle"`` or a tensor ``(N, K, 4, L)`` of references.
    additional_nonlinear_ops : ``{ModuleType: rule}`` for layer types without a rule.
    tolerance : completeness tolerance (mean |delta| relative to mean |f(x) - mean f(ref)|).
    deltas_out : optional list; receives the per-sequence convergence deltas ``(N,)``
        (``mean_k sum((x - ref_k) * m_k) - (f(x) - mean_k f(ref_k))``, as the core's).

    Returns
    -------
    CPU float32 ``(N, 4, L)``, equal to ``deeplift_shap(..., backend="exact")`` to float rounding.
    """
    from tangermeme.deep_lift_shap import deep_lift_shap

    X = check_input(X)
    check_target(model, X, target)
    refs = make_references(X, reference, n=n_shuffles, seed=seed)
    if refs.shape[1] < 1:
        raise InputError("deeplift_shap_tangermeme needs at least one reference per sequence")
    with exact_layers(model):  # LSTMs as their unrolled twins, while this runs
        ops, bilinear = _tangermeme_ops(model, additional_nonlinear_ops)  # refuses before any work
        with model_on(model, device) as dev, _staging(bilinear), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Convergence deltas", category=RuntimeWarning)
            # N columns (all zero) are valid input here; tangermeme only warns about them with only_warn
            warnings.filterwarnings("ignore", message=".*unknown characters")
            mult = deep_lift_shap(model, X, args=args, target=target, batch_size=batch_size,
                                  references=refs, raw_outputs=True, additional_nonlinear_ops=ops,
                                  device=dev, verbose=verbose, warning_threshold=float("inf"),
                                  only_warn=True)
            mult = mult.detach().to("cpu", torch.float32)  # (N, K, 4, L) multipliers
            K = refs.shape[1]
            y = _outputs(model, X, args, target, batch_size, dev)
            ref_args = tuple(a.repeat_interleave(K, 0) for a in args) if args else None
            y_ref = _outputs(model, refs.reshape(-1, *X.shape[1:]), ref_args, target, batch_size, dev)
            diff = y - y_ref.reshape(len(X), K).mean(1)
    # tangermeme's hypothetical contributions (m_b - sum_c ref_c m_c, averaged over references)
    attr = (mult - (refs * mult).sum(2, keepdim=True)).mean(1)
    deltas = ((X.unsqueeze(1) - refs) * mult).sum((2, 3)).mean(1) - diff
    check_completeness(deltas, diff, y, "deeplift_shap_tangermeme", tolerance)
    if deltas_out is not None:
        deltas_out.append(deltas)
    return attr
