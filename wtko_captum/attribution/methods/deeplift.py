"""DeepLIFT and DeepLIFT-SHAP with exact rules for attention pooling.

``deeplift``: one reference per sequence (``"zero"``, ``"shuffle"`` or a tensor).
``deeplift_shap``: the mean over ``n_shuffles`` dinucleotide-shuffled references
(``backend="exact"``, this package's engine, or ``backend="tangermeme"``, tangermeme's
``deep_lift_shap`` with the attention product given the bilinear rule).

Both return hypothetical contributions ``(N, 4, L)``: for every base ``b`` at position ``i``
the contribution the base would have made had it been there; ``(attr * X).sum((1, 2))`` equals
``f(x) - mean_k f(ref_k)`` (completeness). Pass ``deltas_out=[]`` to receive the per-sequence
convergence deltas ``sum(attr * X) - (f(x) - mean f(ref))`` as one CPU tensor ``(N,)``.
"""
from __future__ import annotations

import warnings

import torch

from wtko_captum.core.errors import InputError
from wtko_captum.core.registry import attribution_method
from wtko_captum.attribution.methods._common import batch_args, batches, check_input, check_target, model_on
from wtko_captum.attribution.methods._exact_deeplift import ExactDeepLift, hypothetical_from_multipliers
from wtko_captum.attribution.methods._references import make_references


def _warn_deltas(delta: torch.Tensor, diff: torch.Tensor, method: str) -> None:
    rel = delta.abs().mean() / diff.abs().mean().clamp_min(1e-12)
    if rel > 1e-3:
        warnings.warn(f"{method}: convergence deltas are {rel:.2%} of the output differences; "
                      "the model has an operation without a DeepLIFT rule", RuntimeWarning)


def exact_deeplift(model, X, refs, *, target=0, args=None, batch_size=128, device="cpu",
                   verbose=False, deltas_out=None, name="deeplift"):
    """Exact DeepLIFT of ``X (N,4,L)`` against ``refs (N,K,4,L)``; hypothetical ``(N,4,L)``.

    ``batch_size`` counts sequence-reference pairs per pass (as in tangermeme).
    """
    N, K = refs.shape[:2]
    out = torch.empty_like(X)
    deltas, diffs = torch.empty(N), torch.empty(N)
    per = max(1, batch_size // K)
    with model_on(model, device) as dev, ExactDeepLift(model) as engine:
        for sl in batches(N, per, verbose, name):
            x, r = X[sl].to(dev), refs[sl].to(dev)
            mult, y_x, y_r = engine.multipliers(x, r, target, batch_args(args, sl, dev))
            hyp = hypothetical_from_multipliers(mult, r)
            diff = y_x - y_r.mean(1)
            deltas[sl] = ((hyp * x).sum((1, 2)) - diff).cpu()
            diffs[sl] = diff.cpu()
            out[sl] = hyp.detach().cpu()
    _warn_deltas(deltas, diffs, name)
    if deltas_out is not None:
        deltas_out.append(deltas)
    return out


@attribution_method(hypothetical=True, stochastic=True,
                    description="DeepLIFT, exact rules for ReLU/MaxPool/softmax/attention product")
def deeplift(model, X, args=None, *, target=0, batch_size=128, device="cpu", random_state=None,
             verbose=False, reference="zero", deltas_out=None):
    """DeepLIFT (rescale rule) against one reference per sequence.

    Parameters
    ----------
    model : nn.Module returning ``(N, n_outputs)``.
    X : float32 one-hot ``(N, 4, L)``.
    target : int output index.
    reference : ``"zero"`` (default), ``"shuffle"`` (one dinucleotide shuffle per sequence,
        seeded by ``random_state`` and the sequence) or a tensor ``(4,L)``/``(N,4,L)``.
    deltas_out : optional list; receives the per-sequence convergence deltas ``(N,)``.

    Returns
    -------
    CPU float32 ``(N, 4, L)`` hypothetical contributions; ``sum(attr * X)`` per sequence equals
    ``f(x) - f(reference)``.
    """
    X = check_input(X)
    check_target(model, X, target)
    refs = make_references(X, reference, n=1, random_state=random_state)
    if refs.shape[1] != 1:
        raise InputError("deeplift takes one reference per sequence; use deeplift_shap for several",
                         value=tuple(refs.shape))
    return exact_deeplift(model, X, refs, target=target, args=args, batch_size=batch_size,
                          device=device, verbose=verbose, deltas_out=deltas_out, name="deeplift")
