"""CNN+LSTM: the WTKO paper's convolutional-recurrent baseline (published: RelA 63 %, LSD1 54 %).

Family from the paper (conv layers, then an LSTM over positions, its states pooled into a dense
head); sizes chosen near the WTKO-CNN's parameter count (93,571 at 600 bp, 2 outputs): 93,762
at the defaults, for any input length::

    (N, 4, L) -> Conv1d(64, 10) -> ReLU -> MaxPool(4) -> Dropout(0.2)
              -> Conv1d(64, 10) -> ReLU -> MaxPool(4) -> Dropout(0.2)
              -> bidirectional LSTM(48 per direction) over the L' positions
              -> mean of the states over positions -> Linear(64) -> ReLU -> Dropout(0.3)
              -> Linear(n_classes) logits

An ``nn.LSTM`` has no DeepLIFT rule of its own; DeepLIFT explains it exactly through the
unrolled adapter (:mod:`wtko_captum.attribution.methods.deeplift_rules`).
"""
from __future__ import annotations

from torch import nn

from wtko_captum.models._layers import ChannelsLast, MeanOverPositions, conv_length


class LSTMStates(nn.Module):
    """The output states ``(N, L, H)`` of an ``nn.LSTM`` (its final ``(h, c)`` dropped)."""

    def __init__(self, lstm: nn.LSTM):
        super().__init__()
        self.lstm = lstm

    def forward(self, x):
        return self.lstm(x)[0]


class CNNLSTM(nn.Module):
    """Two conv blocks, a bidirectional LSTM, mean-pooled states, a dense head."""

    def __init__(self, input_length: int = 600, n_classes: int = 2, n_filters: int = 64, filter_width: int = 10,
                 pool: int = 4, lstm_hidden: int = 48, hidden: int = 64, conv_dropout: float = 0.2,
                 dropout: float = 0.3):
        super().__init__()
        if conv_length(input_length, (filter_width, filter_width), (pool, pool)) < 1:
            raise ValueError(f"input_length {input_length} is too short for this architecture")
        self.conv1 = nn.Conv1d(4, n_filters, filter_width)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool1d(pool)
        self.drop1 = nn.Dropout(conv_dropout)
        self.conv2 = nn.Conv1d(n_filters, n_filters, filter_width)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool1d(pool)
        self.drop2 = nn.Dropout(conv_dropout)
        self.to_tokens = ChannelsLast()
        self.lstm = LSTMStates(nn.LSTM(n_filters, lstm_hidden, batch_first=True, bidirectional=True))
        self.mean = MeanOverPositions()
        self.fc1 = nn.Linear(2 * lstm_hidden, hidden)
        self.relu3 = nn.ReLU()
        self.drop3 = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, n_classes)

    def forward(self, x):
        x = self.drop1(self.pool1(self.relu1(self.conv1(x))))
        x = self.drop2(self.pool2(self.relu2(self.conv2(x))))
        h = self.mean(self.lstm(self.to_tokens(x)))
        return self.fc2(self.drop3(self.relu3(self.fc1(h))))
