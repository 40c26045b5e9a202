"""CNN+Transformer: the WTKO paper's hybrid baseline (published: RelA 62 %, LSD1 63 %).

The paper gives the family (a convolutional stem, encoder layers, pooled, a dense head); sizes
chosen near the WTKO-CNN's parameter count (93,571 at 600 bp, 2 outputs): 90,498 at the
defaults, for any input length::

    (N, 4, L) -> Conv1d(64, 10) -> ReLU -> MaxPool(4) -> Dropout(0.2)    (the stem: motifs,
                 L' = (L - 9) // 4 tokens)
              -> + sinusoidal positions
              -> 2 x pre-norm encoder layer (4 heads, d = 64, GELU feed-forward 192)
              -> LayerNorm -> mean over tokens -> Linear(64) -> ReLU -> Linear(n_classes) logits

Every step has an exact DeepLIFT rule (see :mod:`wtko_captum.models.transformer`).
"""
from __future__ import annotations

from torch import nn

from wtko_captum.models._layers import ChannelsLast, MeanOverPositions, SinusoidalPositions
from wtko_captum.models.transformer import TransformerEncoder


class CNNTransformer(nn.Module):
    """A conv stem, pre-norm encoder layers over its positions, mean pooling, dense head."""

    def __init__(self, input_length: int = 600, n_classes: int = 2, n_filters: int = 64, filter_width: int = 10,
                 pool: int = 4, n_heads: int = 4, d_ff: int = 192, n_layers: int = 2, hidden: int = 64,
                 conv_dropout: float = 0.2, dropout: float = 0.1):
        super().__init__()
        tokens = (input_length - filter_width + 1) // pool
        if tokens < 1:
            raise ValueError(f"input_length {input_length} is too short for this architecture")
        self.conv = nn.Conv1d(4, n_filters, filter_width)
        self.relu1 = nn.ReLU()
        self.pool = nn.MaxPool1d(pool)
        self.drop = nn.Dropout(conv_dropout)
        self.to_tokens = ChannelsLast()
        self.positions = SinusoidalPositions(n_filters, tokens)
        self.encoder = TransformerEncoder(n_filters, n_heads, d_ff, n_layers, dropout)
        self.mean = MeanOverPositions()
        self.fc1 = nn.Linear(n_filters, hidden)
        self.relu2 = nn.ReLU()
        self.fc2 = nn.Linear(hidden, n_classes)

    def forward(self, x):
        tokens = self.positions(self.to_tokens(self.drop(self.pool(self.relu1(self.conv(x))))))
        return self.fc2(self.relu2(self.fc1(self.mean(self.encoder(tokens)))))
