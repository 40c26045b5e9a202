"""Reference (baseline) sequences for DeepLIFT, DeepLIFT-SHAP and integrated gradients.

``reference`` is ``"zero"`` (all-zero columns), ``"shuffle"`` (dinucleotide shuffles from
``tangermeme.ersatz.dinucleotide_shuffle``) or a tensor ``(4, L)``, ``(N, 4, L)`` or
``(N, K, 4, L)``.

Each sequence's shuffles are seeded from ``seed`` and the sequence's own bases, not its
position in the batch, so a sequence gets the same references whichever other sequences share
its call, batch or chunk (resume-safe and batch-independent).
"""
from __future__ import annotations

import hashlib

import numpy as np
import torch

from wtko_captum.core.errors import InputError


def sequence_seeds(X: torch.Tensor, seed: int | None) -> list[int]:
    """One 31-bit seed per sequence from ``seed`` and the sequence's content."""
    if seed is None:
        rs = np.random.default_rng()
        return [int(s) for s in rs.integers(0, 2**31 - 1, size=len(X))]
    codes = (X.argmax(1) + 4 * (X.sum(1) == 0).long()).to(torch.uint8).numpy()  # N -> 4
    seeds = []
    for row in codes:
        h = hashlib.blake2b(row.tobytes(), digest_size=8, key=str(int(seed)).encode())
        seeds.append(int.from_bytes(h.digest(), "little") & 0x7FFFFFFF)
    return seeds


def shuffled_references(X: torch.Tensor, n: int, seed: int | None = None) -> torch.Tensor:
    """``n`` dinucleotide shuffles per sequence: float32 ``(N, n, 4, L)`` (tangermeme ersatz)."""
    from tangermeme.ersatz import dinucleotide_shuffle

    if n < 1:
        raise InputError("the number of shuffles must be >= 1", value=n)
    seeds = sequence_seeds(X, seed)
    ref = dinucleotide_shuffle(X, n=n, random_state=seeds, allow_N=True)
    return torch.as_tensor(ref).to(torch.float32)


def make_references(X: torch.Tensor, reference="zero", n: int = 1,
                    seed: int | None = None) -> torch.Tensor:
    """References for every sequence of ``X (N,4,L)`` as float32 ``(N, K, 4, L)``.

    ``"zero"`` -> K = 1 all-zero reference; ``"shuffle"`` -> K = ``n`` dinucleotide shuffles;
    a tensor/array of shape ``(4, L)``, ``(N, 4, L)`` or ``(N, K, 4, L)`` is used as given.
    """
    N, A, L = X.shape
    if isinstance(reference, str):
        if reference == "zero":
            return torch.zeros(N, 1, A, L)
        if reference in ("shuffle", "dinucleotide_shuffle", "dinuc"):
            return shuffled_references(X, n, seed)
        raise InputError("reference must be 'zero', 'shuffle' or a tensor", value=reference)
    ref = torch.as_tensor(reference, dtype=torch.float32)
    if ref.shape == (A, L):
        ref = ref.expand(N, 1, A, L)
    elif ref.shape == (N, A, L):
        ref = ref.unsqueeze(1)
    elif ref.ndim != 4 or ref.shape[0] != N or ref.shape[2:] != (A, L):
        raise InputError(f"reference tensor must have shape (4, L), (N, 4, L) or (N, K, 4, L) "
                         f"matching X {tuple(X.shape)}", value=tuple(ref.shape))
    return ref.contiguous()
