"""Per-base tracks from windowed attributions, and the rules that merge overlapping windows.

One definition shared by every writer of attribution tracks (the bigWig and bedGraph
exporters, the genome scan), so a base gets the same value whichever of them wrote it.

Tracks (``T`` of them, in the order asked for):

``projected``
    sum over channels of attribution x one-hot: the observed base's score (signed).
``maxabs``
    max over the 4 channels of |attribution| (the WTKO paper's per-position score).
``hypothetical``
    four tracks ``hypothetical_A`` .. ``hypothetical_T``: the score each base would get at
    that position (meaningful only for hypothetical attribution methods).

A base has no value (a gap, never 0) where its one-hot column is all zero (``N``, or padding
past a chromosome end).

Overlapping windows are resolved per base by one rule:

``mean``
    average of the windows that cover the base (with a value there);
``max-abs``
    the value with the largest magnitude, sign kept (ties: the window that starts first);
``nearest-summit``
    the value of the window whose centre is closest to the base (ties: the window that
    starts first).

Windows must be added in order of their start, so ties and the order of the float64 sums
are the same for every writer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from wtko_captum.core.errors import InputError, near_miss

#: the ``format`` of the JSON sidecar that describes a directory of track files
TRACKS_SIDECAR_FORMAT = "wtko_captum.tracks"
TRACKS = ("projected", "maxabs", "hypothetical")
OVERLAP_RULES = ("mean", "max-abs", "nearest-summit")
HYPOTHETICAL = tuple(f"hypothetical_{b}" for b in "ACGT")
DESCRIPTIONS = {
    "projected": "sum over channels of attribution x one-hot (observed base's score, signed)",
    "maxabs": "max over the 4 channels of |attribution|",
    **{f"hypothetical_{b}": f"hypothetical score of base {b} at each position" for b in "ACGT"},
}


def expand_tracks(tracks: Sequence[str]) -> list[str]:
    """Track names as written: ``hypothetical`` becomes ``hypothetical_A`` .. ``_T``."""
    out: list[str] = []
    for t in tracks:
        if t == "hypothetical":
            out.extend(HYPOTHETICAL)
        elif t in DESCRIPTIONS:
            out.append(t)
        else:
            raise InputError(f"unknown track {t!r}; choose from {', '.join(TRACKS)}{near_miss(t, TRACKS)}")
    if len(set(out)) != len(out):
        raise InputError("a track is listed twice", value=list(tracks))
    return out


def check_overlap(overlap: str) -> str:
    """``overlap`` when it names a rule; an :class:`InputError` listing the rules otherwise."""
    if overlap not in OVERLAP_RULES:
        raise InputError(f"unknown overlap rule {overlap!r}; choose from {', '.join(OVERLAP_RULES)}"
                         f"{near_miss(overlap, OVERLAP_RULES)}")
    return overlap


def window_tracks(X: np.ndarray, attr: np.ndarray, tracks: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per-base track values of windows.

    Parameters
    ----------
    X : array ``(k, 4, L)``
        One-hot (A,C,G,T); all-zero columns are N.
    attr : array ``(k, 4, L)``
        Attributions; read as float64.
    tracks : sequence of str
        Expanded track names (:func:`expand_tracks`).

    Returns
    -------
    values : float64 ``(k, T, L)``
    valid : bool ``(k, L)``
        False at N (no value there).
    """
    a = np.asarray(attr, dtype=np.float64)
    out = np.empty((a.shape[0], len(tracks), a.shape[-1]), dtype=np.float64)
    for t, name in enumerate(tracks):
        if name == "projected":
            out[:, t] = (a * X).sum(axis=1)
        elif name == "maxabs":
            out[:, t] = np.abs(a).max(axis=1)
        else:
            out[:, t] = a[:, "ACGT".index(name[-1])]
    return out, np.asarray(X).any(axis=1)


@dataclass
class OverlapBuffer:
    """Per-base merge buffer over genome positions ``[origin, origin + capacity)``.

    ``add`` merges one window's bases (in order of window start); ``flush`` emits the merged
    runs of consecutive bases with a value, ``emit(start, values (T, n) float64)``.
    """

    n_tracks: int
    rule: str
    capacity: int

    def __post_init__(self):
        self.val = np.zeros((self.n_tracks, self.capacity))
        self.cnt = np.zeros(self.capacity, dtype=np.int32)
        self.dist = np.full(self.capacity, np.inf)
        self.origin = 0
        self.used = 0  # buffer positions [0, used) may hold values

    def add(self, gstart: int, values: np.ndarray, valid: np.ndarray, centre: float) -> None:
        """Merge one window's bases ``values (T, n)`` at genome ``gstart`` (inside the buffer);
        ``centre`` is the window's centre in genome coordinates (``start + L / 2``)."""
        o = gstart - self.origin
        n = values.shape[1]
        sl = slice(o, o + n)
        cur, cnt = self.val[:, sl], self.cnt[sl]
        if self.rule == "mean":
            cur += np.where(valid, values, 0.0)
        elif self.rule == "max-abs":
            take = valid & ((cnt == 0) | (np.abs(values) > np.abs(cur)))
            np.copyto(cur, values, where=take)
        else:  # nearest-summit: distance from each base's centre to the window centre
            d = np.abs(np.arange(gstart, gstart + n) + 0.5 - centre)
            dist = self.dist[sl]
            take = valid & (d < dist)
            np.copyto(cur, values, where=take)
            np.copyto(dist, d, where=take)
        cnt += valid
        self.used = max(self.used, o + n)

    def flush(self, upto: int | None, emit: Callable) -> None:
        """Emit every base before genome position ``upto`` (all when None) and shift the rest
        to the front of the buffer."""
        f = self.used if upto is None else min(max(upto - self.origin, 0), self.used)
        if f > 0:
            valid = self.cnt[:f] > 0
            edges = np.flatnonzero(np.diff(np.r_[0, valid.view(np.int8), 0]))
            if len(edges):
                vals = self.val[:, :f]
                if self.rule == "mean":
                    vals = vals / np.maximum(self.cnt[:f], 1)
                for a, b in zip(edges[::2], edges[1::2]):
                    emit(self.origin + int(a), vals[:, a:b])
            rest = self.used - f
            self.val[:, :rest] = self.val[:, f:self.used]
            self.cnt[:rest] = self.cnt[f:self.used]
            self.dist[:rest] = self.dist[f:self.used]
            self.val[:, rest:self.used] = 0.0
            self.cnt[rest:self.used] = 0
            self.dist[rest:self.used] = np.inf
            self.used = rest
        self.origin += f
        if self.used == 0 and upto is not None:
            self.origin = max(self.origin, upto)
