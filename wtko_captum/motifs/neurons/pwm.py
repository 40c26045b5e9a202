"""A motif per cluster: activation-binned stacking, information content, segments, quality.

For the sequences of one cluster (one-hot ``(n, 4, W)``, activations ``(n,)``):

1. split them into ``bins`` equal-width activation bins of ``(0, max]``; stack each non-empty
   bin into a position probability matrix; average the matrices weighted by each bin's mean
   activation (strong activators count more, yet a bin of many weak ones cannot drown them);
2. Laplace smoothing: ``(n * p + 1) / (n + 4)``;
3. information content per position, ``2 + sum p log2 p`` bits (uniform background),
   smoothed over a 3 bp window;
4. **segments**: runs of at least 3 positions whose smoothed IC exceeds 1 bit: the motifs.
   Smoothing finds runs despite one weak column inside a motif, but it also pulls a motif's
   last informative column under the threshold when its neighbour outside is flat, so each
   run is then widened by the adjacent columns whose own IC exceeds 1 bit;
5. **quality**: mean IC inside the segments minus mean IC outside them (bits): high for clean
   motifs on a flat background, low for a blur.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from wtko_captum.core.sequence import consensus as _consensus
from wtko_captum.motifs.cluster import information_content

IC_THRESHOLD = 1.0
MIN_SEGMENT = 3
SMOOTH = 3


@dataclass
class Segment:
    """A motif segment: window positions ``[start, end)`` (0-based, half-open, in the
    neuron's receptive field), its probability matrix ``(4, end - start)`` and total IC."""

    start: int
    end: int
    pwm: np.ndarray = field(repr=False)
    ic: float

    @property
    def consensus(self) -> str:
        return _consensus(self.pwm)


@dataclass
class ClusterMotif:
    """The motif of one cluster of a neuron's samples.

    ``pwm`` ``(4, W)`` smoothed probabilities; ``ic`` ``(W,)`` bits; ``ic_smooth`` ``(W,)``;
    ``segments``; ``quality`` (bits); ``n`` sequences; activation statistics.
    """

    pwm: np.ndarray = field(repr=False)
    ic: np.ndarray = field(repr=False)
    ic_smooth: np.ndarray = field(repr=False)
    segments: list[Segment]
    quality: float
    n: int
    mean_activation: float
    max_activation: float

    @property
    def consensus(self) -> str:
        return _consensus(self.pwm)

    @property
    def total_ic(self) -> float:
        return float(self.ic.sum())


def binned_pwm(X: np.ndarray, values: np.ndarray, bins: int = 10) -> np.ndarray:
    """``(4, W)`` average of per-bin probability matrices, weighted by each bin's mean
    activation (bins: ``bins`` equal-width bins of ``(0, max]``; values <= 0 are left out)."""
    X = np.asarray(X, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    pos = values > 0
    if not pos.any():
        return np.full(X.shape[1:], 0.25)
    X, values = X[pos], values[pos]
    top = values.max()
    which = np.clip(np.ceil(values / top * bins).astype(np.int64) - 1, 0, bins - 1)
    total, weight = np.zeros(X.shape[1:]), 0.0
    for b in np.unique(which):
        members = which == b
        w = float(values[members].mean())
        total += w * X[members].mean(axis=0)
        weight += w
    return total / weight


def laplace(pwm: np.ndarray, n: int, pseudocount: float = 1.0) -> np.ndarray:
    """``(n * p + pseudocount) / (n + 4 * pseudocount)`` per column."""
    return (np.asarray(pwm) * n + pseudocount) / (n + 4 * pseudocount)


def smooth(ic: np.ndarray, window: int = SMOOTH) -> np.ndarray:
    """Moving average over ``window`` positions (centred; the ends average what exists)."""
    ic = np.asarray(ic, dtype=np.float64)
    kernel = np.ones(window)
    num = np.convolve(ic, kernel, mode="same")
    den = np.convolve(np.ones_like(ic), kernel, mode="same")
    return num / den


def find_segments(ic_smooth: np.ndarray, threshold: float = IC_THRESHOLD, min_length: int = MIN_SEGMENT
                  ) -> list[tuple[int, int]]:
    """Maximal runs ``[start, end)`` of at least ``min_length`` positions above ``threshold``."""
    above = np.concatenate([[False], np.asarray(ic_smooth) > threshold, [False]])
    edges = np.flatnonzero(np.diff(above.astype(np.int8)))
    return [(int(s), int(e)) for s, e in zip(edges[::2], edges[1::2]) if e - s >= min_length]


def widen(spans: list[tuple[int, int]], ic: np.ndarray, threshold: float = IC_THRESHOLD) -> list[tuple[int, int]]:
    """Extend each span over adjacent positions whose raw IC exceeds ``threshold``, never into
    the next span."""
    out = []
    for i, (s, e) in enumerate(spans):
        lo = out[-1][1] if out else 0
        hi = spans[i + 1][0] if i + 1 < len(spans) else len(ic)
        while s > lo and ic[s - 1] > threshold:
            s -= 1
        while e < hi and ic[e] > threshold:
            e += 1
        out.append((s, e))
    return out


def quality(ic: np.ndarray, spans: list[tuple[int, int]]) -> float:
    """Mean IC inside ``spans`` minus mean IC outside them (bits); 0 without a span."""
    if not spans:
        return 0.0
    inside = np.zeros(len(ic), dtype=bool)
    for s, e in spans:
        inside[s:e] = True
    out = float(ic[~inside].mean()) if (~inside).any() else 0.0
    return float(ic[inside].mean()) - out


def cluster_motif(X: np.ndarray, values: np.ndarray, *, bins: int = 10) -> ClusterMotif:
    """The motif of one cluster: ``X`` ``(n, 4, W)`` one-hot, ``values`` ``(n,)`` activations."""
    n = len(values)
    pwm = laplace(binned_pwm(X, values, bins), n)
    ic = information_content(pwm)
    ics = smooth(ic)
    spans = widen(find_segments(ics), ic)
    segs = [Segment(s, e, pwm[:, s:e].copy(), float(ic[s:e].sum())) for s, e in spans]
    values = np.asarray(values, dtype=np.float64)
    return ClusterMotif(pwm, ic, ics, segs, quality(ic, spans), n,
                        float(values.mean()) if n else 0.0, float(values.max()) if n else 0.0)
