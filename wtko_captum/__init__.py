"""wtko-captum: explain DNA-sequence CNNs and export the explanations to genome browsers
and the MEME suite.

Public API (imported lazily so ``import wtko_captum`` stays fast)::

    import wtko_captum as wc
    model = wc.load_model("model/model.pt")
    attr = wc.attribute(model, X, method="deeplift_shap", target=1)
    aset = wc.read("attr/deeplift_shap")                       # any registered reader
    wc.export("bigwig", aset, "tracks/", genome="mm10.fa")     # any registered exporter

Plugins build on :mod:`wtko_captum.api`.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "load_model": "wtko_captum.core.checkpoint",
    "save_checkpoint": "wtko_captum.core.checkpoint",
    "one_hot": "wtko_captum.core.sequence",
    "decode": "wtko_captum.core.sequence",
    "build_model": "wtko_captum.core.architecture",
    "get_registry": "wtko_captum.core.registry",
    "load_prepared": "wtko_captum.core.dataset",
    "prepare": "wtko_captum.preparation.prepare",
    "train": "wtko_captum.training.train",
    "evaluate": "wtko_captum.training.evaluate",
    "simulate": "wtko_captum.preparation.simulate",
    "attribute": "wtko_captum.attribution.attribute",
    "attribute_prepared": "wtko_captum.attribution.attribute_prepared",
    "export": "wtko_captum.core.export",
    "read": "wtko_captum.core.readers",
    "read_attributions": "wtko_captum.core.readers",
    "AttributionSet": "wtko_captum.core.attribution_set",
    "score_explainer": "wtko_captum.benchmark.explainers",
    "saliency_kmers": "wtko_captum.motifs.kmers",
    "cluster_kmers": "wtko_captum.motifs.cluster",
    "filter_motifs": "wtko_captum.motifs.filters",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'wtko_captum' has no attribute {name!r}")
