"""DanQ (Quang & Xie, NAR 2016), as used by AgentBind (bound/unbound auROC 0.941).

Published shapes (1,000 bp input, 919 outputs)::

    (N, 4, L) -> Conv1d(320, 26) -> ReLU -> MaxPool(13) -> Dropout(0.2)
              -> bidirectional LSTM(320 per direction) over the L' = (L - 25) // 13 positions
              -> Dropout(0.5) -> Flatten -> Linear(925) -> ReLU -> Linear(n_classes) logits
                 (sigmoid outputs: one per task)

The input length is a parameter (the dense layer takes ``640 * L'`` features): 46,929,039
parameters at 1,000 bp and 919 outputs as published, 11,743,897 at 250 bp and 2 outputs.
An ``nn.LSTM`` has no DeepLIFT rule of its own; DeepLIFT explains it exactly through the
unrolled adapter (:mod:`wtko_captum.attribution.methods.deeplift_rules`).
"""
from __future__ import annotations

from torch import nn

from wtko_captum.models._layers import ChannelsLast, conv_length
from wtko_captum.models.cnn_lstm import LSTMStates


class DanQ(nn.Module):
    """DanQ's conv layer, bidirectional LSTM and dense head, published sizes by default."""

    def __init__(self, input_length: int = 1000, n_classes: int = 919, n_filters: int = 320, filter_width: int = 26,
                 pool: int = 13, lstm_hidden: int = 320, hidden: int = 925, conv_dropout: float = 0.2,
                 dropout: float = 0.5):
        super().__init__()
        length = conv_length(input_length, (filter_width,), (pool,))
        if length < 1:
            raise ValueError(f"input_length {input_length} is too short for DanQ's convolution and pooling")
        self.conv = nn.Conv1d(4, n_filters, filter_width)
        self.relu1 = nn.ReLU()
        self.pool = nn.MaxPool1d(pool)
        self.drop1 = nn.Dropout(conv_dropout)
        self.to_tokens = ChannelsLast()
        self.lstm = LSTMStates(nn.LSTM(n_filters, lstm_hidden, batch_first=True, bidirectional=True))
        self.drop2 = nn.Dropout(dropout)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(2 * lstm_hidden * length, hidden)
        self.relu2 = nn.ReLU()
        self.fc2 = nn.Linear(hidden, n_classes)

    def forward(self, x):
        x = self.to_tokens(self.drop1(self.pool(self.relu1(self.conv(x)))))
        return self.fc2(self.relu2(self.fc1(self.flatten(self.drop2(self.lstm(x))))))
