"""wtko-captum: explain DNA-sequence CNNs and export the explanations to genome browsers
and the MEME suite.

Public API (imported lazily so ``import wtko_captum`` stays fast)::

    import wtko_captum as wc
    model = wc.load_model("model/model.pt")
    attr = wc.attribute(model, X, method="deeplift_shap", target=1)
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "load_model": "wtko_captum.checkpoint",
    "save_checkpoint": "wtko_captum.checkpoint",
    "one_hot": "wtko_captum.sequence",
    "decode": "wtko_captum.sequence",
    "build_model": "wtko_captum.models",
    "get_registry": "wtko_captum.registry",
    "load_prepared": "wtko_captum.dataset",
    "prepare": "wtko_captum.prepare",
    "train": "wtko_captum.train",
    "evaluate": "wtko_captum.evaluate",
    "simulate": "wtko_captum.simulate",
    "attribute": "wtko_captum.attribute",
    "attribute_prepared": "wtko_captum.attribute_dataset",
    "read_attributions": "wtko_captum.readers",
    "AttributionSet": "wtko_captum.attribution_set",
    "score_explainer": "wtko_captum.benchmark_explainers",
    "saliency_kmers": "wtko_captum.kmers",
    "cluster_kmers": "wtko_captum.cluster",
    "filter_motifs": "wtko_captum.filters",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'wtko_captum' has no attribute {name!r}")
