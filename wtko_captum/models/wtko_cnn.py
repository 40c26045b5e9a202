"""The WTKO-CNN: two conv blocks, attention pooling, two dense layers (the WTKO paper).

Every activation is its own module instance (none reused, nothing functional in ``forward``)
because attribution hooks (DeepLIFT rules, Grad-CAM) attach to modules.
"""
from __future__ import annotations

import torch
from torch import nn

from wtko_captum.core.layout import AttentionPoolLayout, ConvBlock


class WeightedSum(nn.Module):
    """``sum_l h[n, c, l] * w[n, l]``: the attention product, a module so that it can carry a
    DeepLIFT rule of its own (it is bilinear in ``h`` and ``w``, not linear)."""

    deeplift_rule = "bilinear"
    equation = "ncl,nl->nc"

    def forward(self, h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return (h * w.unsqueeze(1)).sum(dim=-1)


class AttentionPool(nn.Module):
    """Attention pooling over positions: a linear layer scores each position's C-vector,
    softmax over positions, weighted sum. ``(N, C, L') -> (N, C)`` and weights ``(N, L')``."""

    def __init__(self, channels: int):
        super().__init__()
        self.score = nn.Linear(channels, 1)
        self.softmax = nn.Softmax(dim=-1)
        self.weighted_sum = WeightedSum()

    def forward(self, h: torch.Tensor):
        scores = self.score(h.transpose(1, 2)).squeeze(-1)
        weights = self.softmax(scores)
        return self.weighted_sum(h, weights), weights


class WTKOCNN(nn.Module):
    """WTKO-CNN as published.

    input (N, 4, L) -> Conv1d(64, 10) -> BatchNorm -> ReLU -> MaxPool(2) -> Dropout(0.3)
    -> Conv1d(128, 10) -> BatchNorm -> ReLU -> MaxPool(2) -> Dropout(0.3)
    -> attention pooling -> Linear(64) -> ReLU -> Linear(n_classes) logits (N, n_classes).

    ``batchnorm=False`` reproduces the authors' released code (no BatchNorm layers).
    ``forward(x, return_attention=True)`` also returns the attention weights ``(N, L')``,
    where position ``j`` of ``L'`` covers input bases ``[4j, 4j + receptive_field)``.
    """

    def __init__(
        self,
        input_length: int = 600,
        n_classes: int = 2,
        n_filters: int = 64,
        filter_width: int = 10,
        n_filters2: int = 128,
        filter_width2: int = 10,
        pool: int = 2,
        dropout: float = 0.3,
        hidden: int = 64,
        batchnorm: bool = True,
    ):
        super().__init__()
        self.config = dict(
            input_length=input_length, n_classes=n_classes, n_filters=n_filters,
            filter_width=filter_width, n_filters2=n_filters2, filter_width2=filter_width2,
            pool=pool, dropout=dropout, hidden=hidden, batchnorm=batchnorm,
        )
        if self.attention_length(input_length, filter_width, filter_width2, pool) < 1:
            raise ValueError(f"input_length {input_length} is too short for this architecture")
        self.input_length = input_length
        norm1 = nn.BatchNorm1d(n_filters) if batchnorm else nn.Identity()
        norm2 = nn.BatchNorm1d(n_filters2) if batchnorm else nn.Identity()
        self.conv1 = nn.Conv1d(4, n_filters, filter_width)
        self.bn1 = norm1
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool1d(pool)
        self.drop1 = nn.Dropout(dropout)
        self.conv2 = nn.Conv1d(n_filters, n_filters2, filter_width2)
        self.bn2 = norm2
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool1d(pool)
        self.drop2 = nn.Dropout(dropout)
        self.attention = AttentionPool(n_filters2)
        self.fc1 = nn.Linear(n_filters2, hidden)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(hidden, n_classes)

    @staticmethod
    def attention_length(length, filter_width=10, filter_width2=10, pool=2) -> int:
        """Number of positions the attention pools over for an input of ``length``."""
        length = (length - filter_width + 1) // pool
        return (length - filter_width2 + 1) // pool

    @property
    def receptive_field(self) -> int:
        """Input bases one attention position sees."""
        c = self.config
        return c["filter_width"] + (c["pool"] - 1) + (c["filter_width2"] - 1) * c["pool"] + (c["pool"] - 1) * c["pool"]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The conv tower: ``(N, 4, L) -> (N, n_filters2, L')``."""
        x = self.drop1(self.pool1(self.relu1(self.bn1(self.conv1(x)))))
        return self.drop2(self.pool2(self.relu2(self.bn2(self.conv2(x)))))

    def head(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.relu3(self.fc1(pooled)))

    def attention_pool_layout(self) -> AttentionPoolLayout:
        """The declared layout (conv tower, attention pooling, head) exact fast ISM, the
        ``attention`` method and the shared-tower route of ``wtko variants`` use; see
        :mod:`wtko_captum.core.layout`."""
        blocks = tuple(ConvBlock(getattr(self, f"conv{i}"), getattr(self, f"bn{i}"), getattr(self, f"relu{i}"),
                                 getattr(self, f"pool{i}")) for i in (1, 2))
        return AttentionPoolLayout(features=self.features, score=self.attention.score, head=self.head,
                                   jump=self.config["pool"] ** 2, receptive_field=self.receptive_field,
                                   blocks=blocks)

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        pooled, weights = self.attention(self.features(x))
        logits = self.head(pooled)
        return (logits, weights) if return_attention else logits
