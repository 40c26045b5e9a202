"""Shared helpers of the motif-file writers (MEME, HOMER, JASPAR): one normalisation rule.

A motif in memory is a ``(4, W)`` array, rows A,C,G,T, keyed ``"ID NAME"`` (the key
``memelite.io.read_meme`` returns). Writers accept either counts or probabilities:

* a matrix whose every column sums to 1 (within 1e-3) is a probability matrix;
* anything else non-negative is a count matrix.

Pseudocount rule (the same for all writers, documented in their docstrings)::

    p[b, j] = (m[b, j] + pseudocount * background[b]) / (sum_b m[b, j] + pseudocount)

with ``m`` the counts (or probabilities, whose column sum is 1). ``pseudocount=0`` writes
the matrix as given (columns renormalised); a column of all zeros with no pseudocount gets
the background (there is no evidence either way).
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from wtko_captum.core.errors import InputError

ALPHABET = "ACGT"
UNIFORM = np.full(4, 0.25)


def split_key(key: str) -> tuple[str, str]:
    """``"MA0099.3 FOS::JUN"`` -> ``("MA0099.3", "FOS::JUN")``; a key without a name gives
    ``(key, "")``. Runs of whitespace count as one separator (as memelite joins them)."""
    fields = str(key).split(None, 1)
    if not fields:
        raise InputError("empty motif name")
    return fields[0], (fields[1].strip() if len(fields) > 1 else "")


def as_background(background) -> np.ndarray:
    """``(4,)`` background frequencies A,C,G,T from None (uniform), a sequence of 4 numbers,
    a string ``"0.3,0.2,0.2,0.3"``, or a mapping ``{"A": .., "C": .., "G": .., "T": ..}``;
    must be positive and sum to 1."""
    if background is None:
        return UNIFORM.copy()
    if isinstance(background, str):
        try:
            background = [float(v) for v in background.split(",")]
        except ValueError:
            raise InputError("background must be four comma-separated numbers A,C,G,T", value=background) from None
    if isinstance(background, Mapping):
        try:
            background = [background[b] for b in ALPHABET]
        except KeyError as exc:
            raise InputError(f"background lacks base {exc.args[0]!r}") from None
    bg = np.asarray(background, dtype=float)
    if bg.shape != (4,) or np.any(bg <= 0) or abs(bg.sum() - 1) > 1e-3:
        raise InputError("background must be 4 positive frequencies (A,C,G,T) summing to 1",
                         value=bg.tolist())
    return bg / bg.sum()


def is_counts(matrix: np.ndarray) -> bool:
    """True when some column does not sum to 1 (within 1e-3): a count matrix."""
    return not np.allclose(matrix.sum(axis=0), 1.0, atol=1e-3)


def check_matrix(key: str, matrix) -> np.ndarray:
    """``matrix`` as a float ``(4, W)`` array, or an :class:`InputError` naming the motif."""
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] != 4 or m.shape[1] < 1:
        raise InputError(f"motif {key!r} must be a (4, W) matrix, rows A,C,G,T", value=m.shape)
    if not np.all(np.isfinite(m)) or np.any(m < 0):
        raise InputError(f"motif {key!r} has negative or non-finite entries")
    return m


def to_probabilities(key: str, matrix, pseudocount: float = 0.0, background=None) -> np.ndarray:
    """``(4, W)`` probabilities from counts or probabilities (see the module docstring)."""
    if pseudocount < 0:
        raise InputError("pseudocount must be >= 0", value=pseudocount)
    m = check_matrix(key, matrix)
    bg = as_background(background)
    num = m + pseudocount * bg[:, None]
    tot = num.sum(axis=0, keepdims=True)
    empty = tot[0] <= 0
    num[:, empty] = bg[:, None]
    tot[:, empty] = 1.0
    return num / tot


def default_nsites(matrix: np.ndarray) -> int:
    """Number of sites: the largest column sum of a count matrix, else 20 (MEME's default)."""
    m = np.asarray(matrix, dtype=float)
    return max(1, int(round(m.sum(axis=0).max()))) if is_counts(m) else 20


def per_motif(value, key: str, default):
    """``value`` when it is a scalar, ``value[key]`` (or ``default``) when it is a mapping."""
    if value is None:
        return default
    if isinstance(value, Mapping):
        return value.get(key, default)
    return value
