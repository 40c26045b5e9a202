"""AgentBind's benchmark of explainers on sequences with planted motifs (the AgentBind paper).

Given one importance score per base and the bases of the embedded (planted) motifs, the
metrics of AgentBind's simulation benchmark:

- ``accuracy``: fraction of the top-scoring bases (top 5% of each sequence by default) that
  lie in embedded motifs;
- ``recall``: fraction of embedded motif instances with at least half of their bases among
  those top bases;
- ``auroc``: area under the ROC curve of separating motif bases from background bases by
  score, all bases of all sequences pooled;
- ``snr``: signal-to-noise, mean score of motif bases / mean score of background bases.

``chance`` (the motif-base fraction, the expected accuracy of random scores) and
``enrichment`` (accuracy / chance) say how far above chance an explainer is. Run time, the
benchmark's fifth metric, belongs to the caller that runs the explainer.

Scores should be non-negative importance (e.g. :func:`per_base_importance`); fractions are
0..1, not percentages.
"""
from __future__ import annotations

import numpy as np

from wtko_captum.core.errors import InputError

#: per-base rules of :func:`per_base_importance`
RULES = ("maxabs", "abs_projected")


def per_base_importance(attr, X=None, rule: str = "maxabs") -> np.ndarray:
    """``(N, L)`` non-negative importance per base from ``(N, 4, L)`` attributions.

    ``maxabs``: max over the 4 channels of |attr|. One rule for every method: for projected
    methods (non-zero only on the observed base) it is |attr| at the observed base; for
    hypothetical ones it is the largest |score| of any base at that position, which is
    AgentBind's ISM importance (the largest change in output) and the WTKO paper's saliency
    score. ``abs_projected``: |sum over channels of attr x X| (needs ``X``; 0 everywhere for
    ISM, whose observed base scores 0 by definition).
    """
    attr = np.asarray(attr, dtype=np.float32)
    if attr.ndim != 3 or attr.shape[1] != 4:
        raise InputError(f"attributions must be (N, 4, L); got shape {attr.shape}")
    if rule == "maxabs":
        return np.abs(attr).max(axis=1)
    if rule == "abs_projected":
        if X is None:
            raise InputError("rule 'abs_projected' needs the one-hot X")
        X = np.asarray(X, dtype=np.float32)
        if X.shape != attr.shape:
            raise InputError(f"X shape {X.shape} differs from attributions {attr.shape}")
        return np.abs((attr * X).sum(axis=1))
    raise InputError(f"unknown per-base rule {rule!r}; use one of {', '.join(RULES)}")


def motif_instances(motif_mask) -> list[tuple[int, int, int]]:
    """``[(seq_index, start, end), ...]``: maximal runs of True in each row of ``(N, L)``
    ``motif_mask`` (0-based half-open). Touching sites merge into one run; pass ``sites`` to
    :func:`score_explainer` to keep them apart."""
    mask = np.asarray(motif_mask, dtype=bool)
    pad = np.zeros((mask.shape[0], 1), dtype=np.int8)
    edges = np.diff(np.concatenate([pad, mask.astype(np.int8), pad], axis=1), axis=1)
    starts, ends = np.nonzero(edges == 1), np.nonzero(edges == -1)
    return [(int(i), int(s), int(e)) for i, s, e in zip(starts[0], starts[1], ends[1])]


def top_mask(scores: np.ndarray, fraction: float = 0.05, per_sequence: bool = True) -> np.ndarray:
    """``(N, L)`` bool: the ``ceil(fraction * L)`` highest-scoring bases of each row
    (``per_sequence``) or the top ``fraction`` of all bases pooled. Ties go to the earlier base."""
    if not 0 < fraction <= 1:
        raise InputError("top fraction must be in (0, 1]", value=fraction)
    N, L = scores.shape
    out = np.zeros((N, L), dtype=bool)
    if per_sequence:
        k = _count(fraction, L)
        idx = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        np.put_along_axis(out, idx, True, axis=1)
    else:
        k = _count(fraction, N * L)
        out.reshape(-1)[np.argsort(-scores.reshape(-1), kind="stable")[:k]] = True
    return out


def _count(fraction: float, n: int) -> int:
    """ceil(fraction * n), immune to float noise (0.05 * 200 must be 10, not 11)."""
    return max(1, int(np.ceil(round(fraction * n, 9))))


def score_explainer(attr_per_base, motif_mask, *, sites=None, top_fraction: float = 0.05,
                    per_sequence: bool = True) -> dict:
    """AgentBind's explainer metrics for one method.

    Parameters
    ----------
    attr_per_base : array ``(N, L)``
        Importance of each base (higher = more important), e.g. :func:`per_base_importance`.
    motif_mask : bool array ``(N, L)``
        True at the bases of embedded motifs.
    sites : iterable of ``(seq_index, start, end)``, optional
        The embedded motif instances (0-based half-open, within the sequence) for ``recall``;
        default the runs of ``motif_mask`` (:func:`motif_instances`).
    top_fraction : float
        The "top 5%" of AgentBind.
    per_sequence : bool
        Top bases taken per sequence (default) or over all bases pooled.

    Returns
    -------
    dict with ``accuracy``, ``recall``, ``auroc``, ``snr``, ``chance``, ``enrichment``,
    ``n_sequences``, ``n_sites``, ``n_top`` (floats 0..1 except the ratios and counts).
    """
    from sklearn.metrics import roc_auc_score

    scores = np.asarray(attr_per_base, dtype=np.float64)
    mask = np.asarray(motif_mask, dtype=bool)
    if scores.ndim != 2 or scores.shape != mask.shape:
        raise InputError(f"scores {scores.shape} and motif mask {mask.shape} must both be (N, L)")
    if not np.isfinite(scores).all():
        raise InputError("scores contain NaN or infinite values")
    if not mask.any() or mask.all():
        raise InputError("the motif mask must mark some bases and leave some background")
    top = top_mask(scores, top_fraction, per_sequence)
    chance = float(mask.mean())
    accuracy = float(mask[top].mean())
    sites = motif_instances(mask) if sites is None else [tuple(map(int, s)) for s in sites]
    covered = [top[i, s:e].mean() >= 0.5 for i, s, e in sites]
    bg = scores[~mask].mean()
    return {
        "accuracy": accuracy,
        "recall": float(np.mean(covered)) if covered else float("nan"),
        "auroc": float(roc_auc_score(mask.reshape(-1), scores.reshape(-1))),
        "snr": float(scores[mask].mean() / bg) if bg > 0 else float("inf"),
        "chance": chance,
        "enrichment": accuracy / chance,
        "n_sequences": int(scores.shape[0]),
        "n_sites": len(sites),
        "n_top": int(top.sum()),
    }


def sites_mask(regions, sites, length: int) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Motif mask ``(N, length)`` and instances of ground-truth ``sites`` on windows ``regions``.

    ``regions``: DataFrame with chrom, start, end (window base i = genome start + i, as in a
    prepared-data directory or an AttributionSet); ``sites``: DataFrame with chrom, start, end
    in genome coordinates (the ``motifs.tsv`` of ``wtko simulate``). A site is clipped to each
    window it overlaps. Both 0-based half-open.
    """
    mask = np.zeros((len(regions), length), dtype=bool)
    inst = []
    by_chrom = {c: g for c, g in sites.groupby(sites["chrom"].astype(str))}
    for i, (chrom, ws) in enumerate(zip(regions["chrom"].astype(str), regions["start"].to_numpy())):
        g = by_chrom.get(chrom)
        if g is None:
            continue
        s = np.clip(g["start"].to_numpy() - ws, 0, length)
        e = np.clip(g["end"].to_numpy() - ws, 0, length)
        for a, b in zip(s[e > s], e[e > s]):
            mask[i, a:b] = True
            inst.append((i, int(a), int(b)))
    return mask, inst
