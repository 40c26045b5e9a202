"""An ``nn.LSTM`` rewritten step by step from modules that have exact DeepLIFT rules.

``nn.LSTM`` is one opaque module (a fused kernel), so DeepLIFT has no rule for it. Its
computation per step is linear maps, sigmoid and tanh gates (rescale rule, exact per element)
and elementwise products of two varying tensors (the midpoint product rule, exact for a
bilinear map)::

    i, f, g, o = split(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
    c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)
    h_t = sigmoid(o) * tanh(c_t)

so the unrolled twin, sharing the LSTM's own parameters, computes the same outputs (to float
rounding) and DeepLIFT through it is complete. Used only while DeepLIFT runs
(:func:`wtko_captum.attribution.methods.deeplift_rules.exact_layers`).
"""
from __future__ import annotations

import torch
from torch import nn


class _Gate(nn.Module):
    """``a * b`` elementwise, both operands varying: the midpoint product rule."""

    deeplift_rule = "bilinear"

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a * b


class _Cell(nn.Module):
    """One layer and direction of an LSTM, with the LSTM's parameters (shared, not copied)."""

    def __init__(self, w_ih, w_hh, b_ih, b_hh):
        super().__init__()
        self.hidden = w_hh.shape[1]
        self.ih = nn.Linear(w_ih.shape[1], w_ih.shape[0], bias=b_ih is not None)
        self.hh = nn.Linear(w_hh.shape[1], w_hh.shape[0], bias=b_hh is not None)
        self.ih.weight, self.hh.weight = w_ih, w_hh
        if b_ih is not None:
            self.ih.bias, self.hh.bias = b_ih, b_hh
        self.sig_i, self.sig_f, self.sig_o = nn.Sigmoid(), nn.Sigmoid(), nn.Sigmoid()
        self.tanh_g, self.tanh_c = nn.Tanh(), nn.Tanh()
        self.keep, self.write, self.emit = _Gate(), _Gate(), _Gate()

    def forward(self, x: torch.Tensor, reverse: bool) -> torch.Tensor:
        """``x (N, L, in) -> ((N, L, H), (N, H))``: the hidden state at every step and the
        final cell state (zero initial state)."""
        n, length, _ = x.shape
        pre = self.ih(x)  # all steps at once: linear
        h = x.new_zeros(n, self.hidden)
        c = x.new_zeros(n, self.hidden)
        out = [None] * length
        for t in (range(length - 1, -1, -1) if reverse else range(length)):
            i, f, g, o = (pre[:, t] + self.hh(h)).chunk(4, dim=-1)
            c = self.keep(self.sig_f(f), c) + self.write(self.sig_i(i), self.tanh_g(g))
            h = self.emit(self.sig_o(o), self.tanh_c(c))
            out[t] = h
        return torch.stack(out, dim=1), c


class UnrolledLSTM(nn.Module):
    """The twin of ``lstm`` (any layers, uni- or bidirectional, ``batch_first`` or not, no
    projection); ``forward(x) -> (output, (h_n, c_n))`` as ``nn.LSTM``."""

    def __init__(self, lstm: nn.LSTM):
        super().__init__()
        if lstm.proj_size:
            raise ValueError("an LSTM with proj_size has no unrolled twin")
        self.batch_first, self.num_layers = lstm.batch_first, lstm.num_layers
        self.directions = 2 if lstm.bidirectional else 1
        cells = []
        for layer in range(lstm.num_layers):
            for d in range(self.directions):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                bias = lstm.bias
                cells.append(_Cell(getattr(lstm, f"weight_ih{sfx}"), getattr(lstm, f"weight_hh{sfx}"),
                                   getattr(lstm, f"bias_ih{sfx}") if bias else None,
                                   getattr(lstm, f"bias_hh{sfx}") if bias else None))
        self.cells = nn.ModuleList(cells)

    def forward(self, x: torch.Tensor, hx=None):
        if hx is not None:
            raise ValueError("the unrolled LSTM starts from zero states (hx is not supported)")
        if not self.batch_first:
            x = x.transpose(0, 1)
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(self.directions):
                hs, c = self.cells[layer * self.directions + d](x, reverse=bool(d))
                outs.append(hs)
                h_n.append(hs[:, 0] if d else hs[:, -1])
                c_n.append(c)
            x = torch.cat(outs, dim=-1) if self.directions == 2 else outs[0]
        out = x if self.batch_first else x.transpose(0, 1)
        return out, (torch.stack(h_n), torch.stack(c_n))
