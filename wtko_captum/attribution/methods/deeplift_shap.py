"""DeepLIFT-SHAP: DeepLIFT averaged over dinucleotide-shuffled references.

``backend="exact"`` (default) runs this package's exact engine
(:mod:`wtko_captum.attribution.methods._exact_deeplift`); ``backend="tangermeme"`` runs the
attribution method ``deeplift_shap_tangermeme`` (``tangermeme.deep_lift_shap`` with the same
layer rules), found through the plugin registry: it comes with the wtko-tangermeme-plugin.
Both use the same references, so they agree to float rounding.
"""
from __future__ import annotations

from wtko_captum.core.errors import InputError
from wtko_captum.core.registry import attribution_method, get_registry
from wtko_captum.attribution.methods._common import check_input, check_target
from wtko_captum.attribution.methods._references import make_references
from wtko_captum.attribution.methods.deeplift import TOLERANCE, exact_deeplift

#: the registered method behind ``backend="tangermeme"``
TANGERMEME_METHOD = "deeplift_shap_tangermeme"


@attribution_method(hypothetical=True, stochastic=True, layer_rules=True,
                    description="DeepLIFT-SHAP over dinucleotide shuffles (exact attention rules)")
def deeplift_shap(model, X, args=None, *, target=0, batch_size=128, device="cpu",
                  seed=None, verbose=False, n_shuffles=10, reference="shuffle",
                  backend="exact", additional_nonlinear_ops=None, tolerance=TOLERANCE,
                  deltas_out=None):
    """DeepLIFT-SHAP of ``model(X)[:, target]``.

    Parameters
    ----------
    X : float32 one-hot ``(N, 4, L)``.
    n_shuffles : references per sequence (dinucleotide shuffles, tangermeme ersatz).
    seed : int seed; a sequence's shuffles depend only on it and the sequence.
    reference : ``"shuffle"`` (default) or a tensor ``(N, K, 4, L)`` of references.
    backend : ``"exact"`` (this package's engine) or ``"tangermeme"`` (the registered method
        ``deeplift_shap_tangermeme``, from the wtko-tangermeme-plugin).
    additional_nonlinear_ops : ``{ModuleType: rule}``, rules for layer types the engine does
        not know (see :mod:`~wtko_captum.attribution.methods.deeplift_rules`).
    tolerance : completeness tolerance, mean |delta| relative to mean |f(x) - mean f(ref)|.
    batch_size : sequence-reference pairs per pass.
    deltas_out : optional list; receives per-sequence convergence deltas ``(N,)``.

    Returns
    -------
    CPU float32 ``(N, 4, L)`` hypothetical contributions averaged over the references;
    ``sum(attr * X)`` equals ``f(x) - mean_k f(ref_k)``.

    Raises
    ------
    NoRuleError, CompletenessError
        As :func:`~wtko_captum.attribution.methods.deeplift.deeplift`.
    """
    if backend not in ("exact", "tangermeme"):
        raise InputError("backend must be 'exact' or 'tangermeme'", value=backend)
    X = check_input(X)
    check_target(model, X, target)
    refs = make_references(X, reference, n=n_shuffles, seed=seed)
    if backend == "exact":
        return exact_deeplift(model, X, refs, target=target, args=args, batch_size=batch_size,
                              device=device, verbose=verbose, deltas_out=deltas_out,
                              name="deeplift_shap", additional_nonlinear_ops=additional_nonlinear_ops,
                              tolerance=tolerance)
    method = get_registry().get("attributions", TANGERMEME_METHOD)  # install hint when missing
    return method(model, X, args, target=target, batch_size=batch_size, device=device, verbose=verbose,
                  reference=refs, additional_nonlinear_ops=additional_nonlinear_ops, tolerance=tolerance,
                  deltas_out=deltas_out)
