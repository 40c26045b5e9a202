"""Building blocks of the model zoo, written so that every method can explain them.

Attribution hooks attach to modules, so every nonlinear step is a module of its own (never a
bare ``torch.relu`` or ``q @ k`` in a ``forward``) and declares its DeepLIFT rule
(:mod:`wtko_captum.attribution.methods.deeplift_rules`): the attention products are
:class:`Product` modules (bilinear rule), the softmax is ``nn.Softmax`` (exact rule),
``nn.LayerNorm`` has tangermeme's rule, and reshaping helpers declare themselves linear.
"""
from __future__ import annotations

import math

import torch
from torch import nn


class Product(nn.Module):
    """``einsum(equation, left, right)``: an attention product or a gate, bilinear in its two
    operands (DeepLIFT: the midpoint product rule, exact)."""

    deeplift_rule = "bilinear"

    def __init__(self, equation: str):
        super().__init__()
        self.equation = equation

    def forward(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        return torch.einsum(self.equation, left, right)


class ChannelsLast(nn.Module):
    """``(N, C, L) -> (N, L, C)`` (and back: the same transpose)."""

    deeplift_rule = "linear"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2)


class MeanOverPositions(nn.Module):
    """``(N, L, C) -> (N, C)``: the mean over positions (``dim=1``), or over ``dim``."""

    deeplift_rule = "linear"

    def __init__(self, dim: int = 1):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=self.dim)


class SinusoidalPositions(nn.Module):
    """Adds the sinusoidal position code of Vaswani et al. (2017) to ``(N, L, d)`` tokens.

    ``pe[p, 2i] = sin(p / 10000^(2i/d))``, ``pe[p, 2i+1] = cos(...)``: a constant per position
    (affine, so DeepLIFT's differences and every gradient are unaffected by it)."""

    deeplift_rule = "linear"

    def __init__(self, d_model: int, max_len: int):
        super().__init__()
        pos = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
        freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(pos * freq)
        pe[:, 1::2] = torch.cos(pos * freq)[:, : d_model // 2]
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.pe[: x.shape[1]]


class SelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention over ``(N, L, d)`` tokens, from modules:
    ``softmax(q k^T / sqrt(d_head)) v`` per head, then an output projection."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.1):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        self.n_heads, self.d_head = n_heads, d_model // n_heads
        self.q, self.k, self.v = (nn.Linear(d_model, d_model) for _ in range(3))
        self.scores = Product("nhld,nhmd->nhlm")
        self.softmax = nn.Softmax(dim=-1)
        self.drop = nn.Dropout(dropout)
        self.mix = Product("nhlm,nhmd->nhld")
        self.out = nn.Linear(d_model, d_model)

    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        n, length, _ = t.shape
        return t.view(n, length, self.n_heads, self.d_head).transpose(1, 2)  # (N, h, L, d_head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = self._heads(self.q(x)) / math.sqrt(self.d_head)
        weights = self.drop(self.softmax(self.scores(q, self._heads(self.k(x)))))
        mixed = self.mix(weights, self._heads(self.v(x)))  # (N, h, L, d_head)
        return self.out(mixed.transpose(1, 2).reshape(x.shape))


class EncoderLayer(nn.Module):
    """A pre-norm transformer encoder layer: ``x + attn(LN(x))``, then ``x + FFN(LN(x))`` with a
    GELU feed-forward of width ``d_ff`` (pre-norm trains from scratch without warm-up)."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attention = SelfAttention(d_model, n_heads, dropout)
        self.drop1 = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(d_model)
        self.ff1 = nn.Linear(d_model, d_ff)
        self.act = nn.GELU()
        self.ff2 = nn.Linear(d_ff, d_model)
        self.drop2 = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop1(self.attention(self.norm1(x)))
        return x + self.drop2(self.ff2(self.act(self.ff1(self.norm2(x)))))


def conv_length(length: int, kernels, pools) -> int:
    """Positions left after valid convolutions of widths ``kernels``, each followed by a
    non-overlapping max-pool of width ``pools[i]`` (1 = none)."""
    for k, p in zip(kernels, pools):
        length = (length - k + 1) // p
    return length

