"""Basset (Kelley et al., Genome Res 2016), as explained by NeuronMotif.

Published shapes (600 bp input, 164 DNase-seq cell types)::

    (N, 4, L) -> Conv1d(300, 19) -> BatchNorm -> ReLU -> MaxPool(3)
              -> Conv1d(200, 11) -> BatchNorm -> ReLU -> MaxPool(4)
              -> Conv1d(200, 7)  -> BatchNorm -> ReLU -> MaxPool(4)
              -> Linear(1000) -> ReLU -> Dropout(0.3) -> Linear(1000) -> ReLU -> Dropout(0.3)
              -> Linear(n_classes) logits (sigmoid outputs: one per task)

The input length is a parameter (the first dense layer takes ``200 * L3`` features, ``L3 =
(((L - 18) // 3 - 10) // 4 - 6) // 4``): 4,131,064 parameters at 600 bp and 164 outputs as
published, 2,368,902 at 250 bp and 2 outputs.
"""
from __future__ import annotations

from torch import nn

from wtko_captum.models._layers import conv_length


class Basset(nn.Module):
    """Basset's three conv blocks (with BatchNorm) and two dense layers, published sizes by default."""

    def __init__(self, input_length: int = 600, n_classes: int = 164, n_filters1: int = 300, filter_width1: int = 19,
                 pool1: int = 3, n_filters2: int = 200, filter_width2: int = 11, pool2: int = 4, n_filters3: int = 200,
                 filter_width3: int = 7, pool3: int = 4, hidden: int = 1000, dropout: float = 0.3):
        super().__init__()
        widths, pools = (filter_width1, filter_width2, filter_width3), (pool1, pool2, pool3)
        length = conv_length(input_length, widths, pools)
        if length < 1:
            raise ValueError(f"input_length {input_length} is too short for Basset's three conv blocks")
        c_in = 4
        for i, (c, k, p) in enumerate(zip((n_filters1, n_filters2, n_filters3), widths, pools), start=1):
            setattr(self, f"conv{i}", nn.Conv1d(c_in, c, k))
            setattr(self, f"bn{i}", nn.BatchNorm1d(c))
            setattr(self, f"relu{i}", nn.ReLU())
            setattr(self, f"pool{i}", nn.MaxPool1d(p))
            c_in = c
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(c_in * length, hidden)
        self.relu4 = nn.ReLU()
        self.drop1 = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, hidden)
        self.relu5 = nn.ReLU()
        self.drop2 = nn.Dropout(dropout)
        self.fc3 = nn.Linear(hidden, n_classes)

    def forward(self, x):
        for i in (1, 2, 3):
            x = getattr(self, f"pool{i}")(getattr(self, f"relu{i}")(getattr(self, f"bn{i}")(getattr(self, f"conv{i}")(x))))
        x = self.drop1(self.relu4(self.fc1(self.flatten(x))))
        return self.fc3(self.drop2(self.relu5(self.fc2(x))))
