"""Transformer: the WTKO paper's from-scratch transformer baseline (published: RelA 60 %, LSD1 62 %).

The paper gives the family (an embedding of the bases plus positions, several encoder layers
trained from scratch, pooled, a dense head); sizes chosen near the WTKO-CNN's parameter count
(93,571 at 600 bp, 2 outputs): 88,194 at the defaults, for any input length::

    (N, 4, L) -> base embedding Conv1d(64, k=1) (one token per base; patch > 1 embeds
                 non-overlapping patches of that many bases, for long inputs)
              -> + sinusoidal positions -> Dropout(0.1)
              -> 2 x pre-norm encoder layer (4 heads, d = 64, GELU feed-forward 192)
              -> LayerNorm -> mean over tokens -> Linear(64) -> ReLU -> Linear(n_classes) logits

Attention is written from modules (:mod:`wtko_captum.models._layers`): the two attention
products have the bilinear rule, softmax and LayerNorm exact rules, so DeepLIFT is exact here.
Attention costs ``L^2`` per head: at 600 bp use ``patch=4`` or a short input.
"""
from __future__ import annotations

from torch import nn

from wtko_captum.models._layers import ChannelsLast, EncoderLayer, MeanOverPositions, SinusoidalPositions


class TransformerEncoder(nn.Module):
    """Tokens ``(N, L', d)`` through ``n_layers`` encoder layers and a final LayerNorm."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, n_layers: int, dropout: float):
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(d_model, n_heads, d_ff, dropout) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)


class Transformer(nn.Module):
    """Base embedding + positions, pre-norm encoder layers, mean pooling, dense head."""

    #: Grad-CAM's default layer: the per-base embedding (channels first, one position per token)
    grad_cam_layer = "embed"

    def __init__(self, input_length: int = 600, n_classes: int = 2, d_model: int = 64, n_heads: int = 4,
                 d_ff: int = 192, n_layers: int = 2, hidden: int = 64, patch: int = 1, dropout: float = 0.1):
        super().__init__()
        if input_length // patch < 1:
            raise ValueError(f"input_length {input_length} is shorter than one patch of {patch}")
        self.embed = nn.Conv1d(4, d_model, patch, stride=patch)
        self.to_tokens = ChannelsLast()
        self.positions = SinusoidalPositions(d_model, input_length // patch)
        self.drop = nn.Dropout(dropout)
        self.encoder = TransformerEncoder(d_model, n_heads, d_ff, n_layers, dropout)
        self.mean = MeanOverPositions()
        self.fc1 = nn.Linear(d_model, hidden)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(hidden, n_classes)

    def forward(self, x):
        tokens = self.drop(self.positions(self.to_tokens(self.embed(x))))
        return self.fc2(self.relu(self.fc1(self.mean(self.encoder(tokens)))))
