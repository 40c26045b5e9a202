"""DeepLIFT and DeepLIFT-SHAP with exact rules for attention pooling.

``deeplift``: one reference per sequence (``"zero"``, ``"shuffle"`` or a tensor).
``deeplift_shap``: the mean over ``n_shuffles`` dinucleotide-shuffled references
(:mod:`.deeplift_shap`).

Both return hypothetical contributions ``(N, 4, L)``: for every base ``b`` at position ``i``
the contribution the base would have made had it been there; ``(attr * X).sum((1, 2))`` equals
``f(x) - mean_k f(ref_k)`` (completeness) for a sequence without N. Pass ``deltas_out=[]`` to
receive the per-sequence convergence deltas ``mean_k sum((x - ref_k) * m_k) - (f(x) - mean_k
f(ref_k))`` (``m_k`` the multipliers) as one CPU tensor ``(N,)``: the same number as
``sum(attr * X) - (f(x) - mean f(ref))`` where ``x`` has no N column. (At an N column the
projection ``attr * X`` is 0, while a shuffled reference may hold a base there whose
contribution is part of the difference.)

Both refuse, before any work, a model with a layer that has no DeepLIFT rule
(:class:`~wtko_captum.core.errors.NoRuleError`; how a layer gets a rule:
:mod:`.deeplift_rules`), and stop with :class:`~wtko_captum.core.errors.CompletenessError`
when a batch's deltas exceed ``tolerance`` (an operation in a ``forward`` that no rule covers):
scores that do not sum to the output difference are never returned.
"""
from __future__ import annotations

import torch

from wtko_captum.core.errors import CompletenessError, InputError
from wtko_captum.core.registry import attribution_method
from wtko_captum.attribution.methods._common import batch_args, batches, check_input, check_target, model_on
from wtko_captum.attribution.methods._exact_deeplift import ExactDeepLift, hypothetical_from_multipliers
from wtko_captum.attribution.methods._references import make_references
from wtko_captum.attribution.methods.deeplift_rules import exact_layers

#: completeness tolerance: mean |delta| over a batch, relative to its mean |f(x) - f(ref)|
TOLERANCE = 1e-3


def check_completeness(deltas: torch.Tensor, diffs: torch.Tensor, outputs: torch.Tensor, method: str,
                       tolerance: float = TOLERANCE) -> None:
    """Raise :class:`CompletenessError` when ``mean|deltas| > tolerance * mean|diffs|``.

    ``diffs`` are the output differences ``f(x) - mean f(ref)`` and ``outputs`` the outputs
    ``f(x)`` of the same sequences. Where the differences all but vanish, the bound is taken
    relative to ``1e-3 * mean|f(x)|`` instead, so float rounding is never reported.
    """
    err = float(deltas.abs().mean())
    scale = max(float(diffs.abs().mean()), 1e-3 * float(outputs.abs().mean()), 1e-12)
    if err > tolerance * scale:
        raise CompletenessError(
            f"{method}: the attributions miss completeness by {err / scale:.2%} of the output "
            f"differences (tolerance {tolerance:.2%}): the model's forward has an operation no DeepLIFT "
            "rule covers (a bare function such as torch.softmax, x * y or x.detach() between layers). "
            "Put it in a module with a rule (see wtko_captum.attribution.methods.deeplift_rules), "
            "or use a method that needs no rules (saliency, integrated_gradients, ism)")


def exact_deeplift(model, X, refs, *, target=0, args=None, batch_size=128, device="cpu",
                   verbose=False, deltas_out=None, name="deeplift", additional_nonlinear_ops=None,
                   tolerance=TOLERANCE):
    """Exact DeepLIFT of ``X (N,4,L)`` against ``refs (N,K,4,L)``; hypothetical ``(N,4,L)``.

    ``batch_size`` counts sequence-reference pairs per pass (as in tangermeme). Each batch's
    completeness is checked before the next one starts (:func:`check_completeness`).
    """
    N, K = refs.shape[:2]
    out = torch.empty_like(X)
    deltas = torch.empty(N)
    per = max(1, batch_size // K)
    with model_on(model, device) as dev, exact_layers(model), \
            ExactDeepLift(model, additional_nonlinear_ops, method=name) as engine:  # refuses unruled layers
        for sl in batches(N, per, verbose, name):
            x, r = X[sl].to(dev), refs[sl].to(dev)
            mult, y_x, y_r = engine.multipliers(x, r, target, batch_args(args, sl, dev))
            hyp = hypothetical_from_multipliers(mult, r)
            diff = y_x - y_r.mean(1)
            deltas[sl] = (((x.unsqueeze(1) - r) * mult).sum((2, 3)).mean(1) - diff).cpu()
            check_completeness(deltas[sl], diff.cpu(), y_x.cpu(), name, tolerance)
            out[sl] = hyp.detach().cpu()
    if deltas_out is not None:
        deltas_out.append(deltas)
    return out


@attribution_method(hypothetical=True, stochastic=True, layer_rules=True,
                    description="DeepLIFT, exact rules for ReLU/MaxPool/softmax/attention product")
def deeplift(model, X, args=None, *, target=0, batch_size=128, device="cpu", seed=None,
             verbose=False, reference="zero", additional_nonlinear_ops=None, tolerance=TOLERANCE,
             deltas_out=None):
    """DeepLIFT (rescale rule) against one reference per sequence.

    Parameters
    ----------
    model : nn.Module returning ``(N, n_outputs)``.
    X : float32 one-hot ``(N, 4, L)``.
    target : int output index.
    reference : ``"zero"`` (default), ``"shuffle"`` (one dinucleotide shuffle per sequence,
        seeded by ``seed`` and the sequence) or a tensor ``(4,L)``/``(N,4,L)``.
    additional_nonlinear_ops : ``{ModuleType: rule}``, rules for layer types the engine does
        not know (tangermeme's option; a rule name or a tangermeme-style rule function, see
        :mod:`~wtko_captum.attribution.methods.deeplift_rules`).
    tolerance : completeness tolerance, mean |delta| relative to mean |f(x) - f(ref)| per batch.
    deltas_out : optional list; receives the per-sequence convergence deltas ``(N,)``.

    Returns
    -------
    CPU float32 ``(N, 4, L)`` hypothetical contributions; ``sum(attr * X)`` per sequence equals
    ``f(x) - f(reference)``.

    Raises
    ------
    NoRuleError
        A layer has no DeepLIFT rule (before any work).
    CompletenessError
        A batch misses completeness by more than ``tolerance``.
    """
    X = check_input(X)
    check_target(model, X, target)
    refs = make_references(X, reference, n=1, seed=seed)
    if refs.shape[1] != 1:
        raise InputError("deeplift takes one reference per sequence; use deeplift_shap for several",
                         value=tuple(refs.shape))
    return exact_deeplift(model, X, refs, target=target, args=args, batch_size=batch_size,
                          device=device, verbose=verbose, deltas_out=deltas_out, name="deeplift",
                          additional_nonlinear_ops=additional_nonlinear_ops, tolerance=tolerance)
