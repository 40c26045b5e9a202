"""The public API for plugins and other pipelines: everything here keeps its name and meaning
across releases. A plugin imports from ``wtko_captum.api`` (and the top-level ``wtko_captum``)
only, never from a module whose name starts with ``_`` or from a model's internals.

Declaring plugins (see the README's "Write a plugin" section)::

    from wtko_captum.api import attribution_method, exporter, reader, motif_finder

Building methods::

    from wtko_captum.api import check_input, check_target, model_on, batches, make_references

Declaring what a model is made of (so methods take exact routes without importing it)::

    from wtko_captum.api import AttentionPoolLayout, ConvBlock      # model.attention_pool_layout()
    # a layer's DeepLIFT rule: `deeplift_rule = "bilinear"` on its class (see deeplift_plan)

Rule-based methods (a plugin's own DeepLIFT backend applies the same rules and checks)::

    from wtko_captum.api import deeplift_plan, exact_layers, check_completeness, NoRuleError, CompletenessError

Data and files::

    from wtko_captum.api import AttributionSet, read, export, load_model, load_prepared
"""
from __future__ import annotations

from wtko_captum.attribution.attribute import attribute
from wtko_captum.attribution.methods._common import batch_args, batches, check_input, check_target, model_on
from wtko_captum.attribution.methods._references import make_references
from wtko_captum.attribution.methods.deeplift import check_completeness
from wtko_captum.attribution.methods.deeplift_rules import deeplift_plan, exact_layers
from wtko_captum.core.architecture import build_model
from wtko_captum.core.atomic import atomic_dir, atomic_path, write_text
from wtko_captum.core.attribution_set import AttributionSet
from wtko_captum.core.checkpoint import load_model
from wtko_captum.core.dataset import PreparedData, load_prepared
from wtko_captum.core.device import resolve_device
from wtko_captum.core.errors import (CheckpointError, CompletenessError, InputError, NoRuleError, PluginError,
                                     WtkoError)
from wtko_captum.core.layout import AttentionPoolLayout, ConvBlock, attention_pool_layout
from wtko_captum.core.export import export
from wtko_captum.core.figures import new_figure, save_figure
from wtko_captum.core.intervals import window_to_genome
from wtko_captum.core.motif_db import DEFAULT_MOTIF_FILE, MotifSet, find_motif, load_motifs
from wtko_captum.core.readers import read
from wtko_captum.core.registry import (attribution_method, exporter, get_registry, motif_finder, reader)
from wtko_captum.core.sequence import consensus, decode, one_hot, reverse_complement, reverse_complement_onehot

__all__ = [
    "AttentionPoolLayout", "AttributionSet", "CheckpointError", "CompletenessError", "ConvBlock", "NoRuleError",
    "attention_pool_layout", "check_completeness", "deeplift_plan", "exact_layers", "make_references", "DEFAULT_MOTIF_FILE", "InputError", "MotifSet", "PluginError",
    "PreparedData", "WtkoError", "atomic_dir", "atomic_path", "attribute", "attribution_method", "batch_args",
    "batches", "build_model", "check_input", "check_target", "consensus", "decode", "export", "exporter",
    "find_motif", "get_registry", "load_model", "load_motifs", "load_prepared", "model_on", "motif_finder",
    "new_figure", "one_hot", "read", "reader", "resolve_device", "reverse_complement", "reverse_complement_onehot",
    "save_figure", "window_to_genome", "write_text",
]
