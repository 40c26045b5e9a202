"""DNA strings <-> one-hot arrays.

Fixed conventions: arrays are ``(N, 4, L)``, alphabet order A, C, G, T (channels 0..3);
``N`` and every other non-ACGT letter is an all-zero column; lowercase (soft-masked) bases
encode like uppercase.
"""
from __future__ import annotations

import numpy as np

ALPHABET = "ACGT"

_LOOKUP = np.full(256, 4, dtype=np.int8)  # 4 = "no base" -> all-zero column
for _i, _b in enumerate(ALPHABET):
    _LOOKUP[ord(_b)] = _i
    _LOOKUP[ord(_b.lower())] = _i

_COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")


def encode_indices(seqs: list[str] | str) -> np.ndarray:
    """Base indices ``(N, L)`` int8: 0..3 for A,C,G,T, 4 for anything else.

    All sequences must have the same length.
    """
    if isinstance(seqs, str):
        seqs = [seqs]
    if not seqs:
        return np.zeros((0, 0), dtype=np.int8)
    length = len(seqs[0])
    for i, s in enumerate(seqs):
        if len(s) != length:
            raise ValueError(f"sequence {i} has length {len(s)}, expected {length} like sequence 0")
    raw = np.frombuffer("".join(seqs).encode("ascii", errors="replace"), dtype=np.uint8)
    return _LOOKUP[raw].reshape(len(seqs), length)


def one_hot(seqs: list[str] | str, dtype=np.float32) -> np.ndarray:
    """One-hot encode equal-length DNA strings to ``(N, 4, L)``; non-ACGT -> zeros."""
    idx = encode_indices(seqs)
    n, length = idx.shape
    out = np.zeros((n, 5, length), dtype=dtype)
    np.put_along_axis(out, idx[:, None, :].astype(np.int64), 1, axis=1)
    return out[:, :4]


def decode(X: np.ndarray) -> list[str]:
    """``(N, 4, L)`` one-hot (or scores) -> strings; all-zero columns decode to ``N``."""
    X = np.asarray(X)
    if X.ndim == 2:
        X = X[None]
    letters = np.frombuffer(b"ACGTN", dtype=np.uint8)
    idx = np.where(np.abs(X).sum(axis=1) > 0, X.argmax(axis=1), 4)
    return [letters[row].tobytes().decode("ascii") for row in idx]


def consensus(matrix) -> str:
    """Argmax letter of each column of a ``(4, W)`` (A,C,G,T) or ``(5, W)`` (A,C,G,T,N) matrix
    of counts, probabilities or weights; ties go to the first letter."""
    matrix = np.asarray(matrix)
    letters = "ACGTN"[: matrix.shape[0]]
    return "".join(letters[i] for i in matrix.argmax(axis=0))


def reverse_complement(seq: str) -> str:
    """Reverse complement of a DNA string (case kept, N stays N)."""
    return seq.translate(_COMPLEMENT)[::-1]


def reverse_complement_onehot(X):
    """Reverse complement of ``(N, 4, L)`` arrays or tensors: flip both axes (A<->T, C<->G)."""
    try:
        import torch

        if isinstance(X, torch.Tensor):
            return torch.flip(X, dims=(-2, -1))
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass
    return np.ascontiguousarray(np.asarray(X)[..., ::-1, ::-1])


def pad_center(seq: str, width: int) -> tuple[str, int]:
    """Centre ``seq`` in ``width`` columns, N-padding both sides (extra pad goes right).

    Returns the padded string and the number of N added on the left. Longer sequences are
    trimmed around their centre (the returned offset is then negative).
    """
    diff = width - len(seq)
    if diff >= 0:
        left = diff // 2
        return "N" * left + seq + "N" * (diff - left), left
    start = (-diff) // 2
    return seq[start:start + width], -start
