"""DeepSEA (Zhou & Troyanskaya, Nat Methods 2015), as used by AgentBind and NeuronMotif.

Published shapes (1,000 bp input, 919 chromatin features, mean auROC 0.89; AgentBind's
bound/unbound auROC 0.928 over 38 TFs)::

    (N, 4, L) -> Conv1d(320, 8) -> ReLU -> MaxPool(4) -> Dropout(0.2)
              -> Conv1d(480, 8) -> ReLU -> MaxPool(4) -> Dropout(0.2)
              -> Conv1d(960, 8) -> ReLU -> Dropout(0.5)
              -> Linear(925) -> ReLU -> Linear(n_classes) logits (sigmoid outputs: one per task)

The input length is a parameter (the dense layer takes ``960 * L3`` features, ``L3 = ((L - 7)
// 4 - 7) // 4 - 7``): 52,843,119 parameters at 1,000 bp and 919 outputs as published,
10,257,977 at 250 bp and 2 outputs. The outputs are classes (softmax, trained with
cross-entropy) or tasks (independent sigmoids, trained with binary cross-entropy), as the data
say.
"""
from __future__ import annotations

from torch import nn

from wtko_captum.models._layers import conv_length


class DeepSEA(nn.Module):
    """DeepSEA's three conv layers and dense head, published sizes by default."""

    def __init__(self, input_length: int = 1000, n_classes: int = 919, n_filters1: int = 320, n_filters2: int = 480,
                 n_filters3: int = 960, filter_width: int = 8, pool: int = 4, hidden: int = 925,
                 conv_dropout: float = 0.2, dropout: float = 0.5):
        super().__init__()
        length = conv_length(input_length, (filter_width,) * 3, (pool, pool, 1))
        if length < 1:
            raise ValueError(f"input_length {input_length} is too short for DeepSEA's three convolutions")
        self.conv1 = nn.Conv1d(4, n_filters1, filter_width)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool1d(pool)
        self.drop1 = nn.Dropout(conv_dropout)
        self.conv2 = nn.Conv1d(n_filters1, n_filters2, filter_width)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool1d(pool)
        self.drop2 = nn.Dropout(conv_dropout)
        self.conv3 = nn.Conv1d(n_filters2, n_filters3, filter_width)
        self.relu3 = nn.ReLU()
        self.drop3 = nn.Dropout(dropout)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(n_filters3 * length, hidden)
        self.relu4 = nn.ReLU()
        self.fc2 = nn.Linear(hidden, n_classes)

    def forward(self, x):
        x = self.drop1(self.pool1(self.relu1(self.conv1(x))))
        x = self.drop2(self.pool2(self.relu2(self.conv2(x))))
        x = self.drop3(self.relu3(self.conv3(x)))
        return self.fc2(self.relu4(self.fc1(self.flatten(x))))
