"""CNN4: the WTKO paper's four-layer CNN baseline (published: RelA 64 %, LSD1 65 % accuracy).

The paper gives the family (four conv-ReLU-pool layers, global pooling, a dense head), not the
sizes; these are chosen to sit near the WTKO-CNN's parameter count (93,571 at 600 bp, 2
outputs): at the defaults CNN4 has 91,818 parameters, whatever the input length (global
pooling)::

    (N, 4, L) -> [Conv1d(c_i, k=8, padding=4) -> ReLU -> MaxPool(2) -> Dropout(0.2)] x 4,
                 c = 40, 64, 64, 64  (the fourth block without pooling)
              -> global max over positions -> Linear(64) -> ReLU -> Dropout(0.2)
              -> Linear(n_classes) logits

``padding`` keeps every length usable; the global max (``AdaptiveMaxPool1d(1)``) has an exact
DeepLIFT rule.
"""
from __future__ import annotations

from torch import nn


class CNN4(nn.Module):
    """Four conv blocks, global max pooling, a two-layer dense head; see the module docstring."""

    def __init__(self, input_length: int = 600, n_classes: int = 2, n_filters: int = 40, n_filters_deep: int = 64,
                 filter_width: int = 8, pool: int = 2, hidden: int = 64, dropout: float = 0.2):
        super().__init__()
        widths = (n_filters, n_filters_deep, n_filters_deep, n_filters_deep)
        if input_length // pool ** 3 < 1:
            raise ValueError(f"input_length {input_length} is too short for three pools of {pool}")
        layers, c_in = [], 4
        for i, c in enumerate(widths):
            layers += [nn.Conv1d(c_in, c, filter_width, padding=filter_width // 2), nn.ReLU()]
            if i < 3:
                layers.append(nn.MaxPool1d(pool))
            layers.append(nn.Dropout(dropout))
            c_in = c
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveMaxPool1d(1)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(c_in, hidden)
        self.relu = nn.ReLU()
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, n_classes)

    def forward(self, x):
        return self.fc2(self.drop(self.relu(self.fc1(self.flatten(self.pool(self.features(x)))))))
