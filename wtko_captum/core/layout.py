"""Capabilities a model may declare so that methods can take exact shortcuts through it.

A method never imports a model's classes to find out how the model is built: the model says so
itself, through a method returning one of the small descriptions below. A model that declares
nothing is still explained, by the generic routes.

``attention_pool_layout() -> AttentionPoolLayout``
    The model computes ``head(attention_pool(features(x)))``: a conv tower, softmax attention
    pooling over its positions, and a dense head. Fast exact ISM recomputes only the positions a
    substitution reaches (and, with :attr:`AttentionPoolLayout.blocks`, propagates each
    substitution's change layer by layer); the ``attention`` method maps the attention weights
    back onto the bases each position sees; variant scoring computes the tower once per
    window and re-runs only the positions each allele reaches.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn


@dataclass(frozen=True)
class ConvBlock:
    """One block of a conv tower: ``pool(activation(norm(conv(x))))`` (dropout, an identity in
    eval mode, may follow). ``norm`` is an eval-mode ``BatchNorm1d`` or ``Identity``."""

    conv: nn.Conv1d
    norm: nn.Module
    activation: nn.Module
    pool: nn.Module


@dataclass(frozen=True)
class AttentionPoolLayout:
    """How a conv + attention-pooling model is built.

    The model's output is ``head(sum_j h[:, :, j] * softmax_j(score(h[:, :, j])))`` with
    ``h = features(x)``, ``(N, C, L')``. Position ``j`` of ``L'`` sees input bases
    ``[jump * j, jump * j + receptive_field)`` (0-based, half-open).

    Attributes
    ----------
    features : ``(N, 4, L) -> (N, C, L')``, the conv tower.
    score : ``nn.Linear(C, 1)``, the attention logit of one position (channels last).
    head : ``(N, C) -> (N, n_outputs)``, applied to the pooled vector.
    jump : input bases between consecutive positions (the product of the pool strides).
    receptive_field : input bases one position sees.
    blocks : the tower's blocks in order, when ``features`` is exactly these blocks; None when
        the tower is something else (fast ISM then recomputes the reached slice instead of
        propagating changes block by block).
    """

    features: Callable
    score: nn.Module
    head: Callable
    jump: int
    receptive_field: int
    blocks: tuple[ConvBlock, ...] | None = None


def attention_pool_layout(model) -> AttentionPoolLayout | None:
    """The layout ``model`` declares (``model.attention_pool_layout()``), or None."""
    declare = getattr(model, "attention_pool_layout", None)
    return declare() if callable(declare) else None
