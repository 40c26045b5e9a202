"""Agglomerative clustering of saliency k-mers into motifs (the WTKO paper, plus alignment).

The published method: each k-mer is one-hot encoded with 5 channels (A, C, G, T, N), flattened
to a ``5k`` vector, and clustered by scikit-learn's ``AgglomerativeClustering`` with cosine
distance and average linkage, cut at ``n_clusters`` (paper: 10) or a ``distance_threshold``.

Every encoded k-mer has exactly ``k`` ones, so its norm is ``sqrt(k)`` and the cosine distance
between two k-mers is their Hamming distance / ``k`` (N matching N counts as a match). The mean
cosine distance of a k-mer ``x`` to the members of a cluster with mean vector ``c`` is therefore
``1 - x.c / k``, and between two groups of k-mers ``1 - c_a . c_b / k``: average-linkage
distances need only group means and sizes.

Scale and determinism. Identical k-mers are deduplicated and clustered once with a weight
(their number of copies) by :func:`weighted_average_linkage`, exact average linkage of the
weighted points; it holds one ``m x m`` float64 matrix for ``m`` distinct k-mers, so up to
``exact_limit`` (default 5,000, 0.2 GB) distinct k-mers the result is exact. Hamming
distances tie constantly, and scikit-learn breaks ties by input order (two row orders of the
same k-mers give partitions with an adjusted Rand index as low as 0.3); deduplication sorts
the k-mers, so our result does not depend on their order.

Above ``exact_limit`` distinct k-mers clustering is two-stage. (1) Seeded MiniBatchKMeans
(weights = copies; Euclidean distance ranks one-hot k-mers like cosine distance, all norms
being sqrt(k)) groups the distinct k-mers into ``exact_limit`` micro-clusters. (2) Exact
weighted average linkage clusters the micro-clusters: the mean cosine distance between the
members of two micro-clusters is exactly ``1 - c_a . c_b / k``, so stage 2 *is* average
linkage of all k-mers under one constraint, that each micro-cluster stays together (were the
micro-clusters subtrees of the exact tree, the result would be exact). 300k k-mers,
alignment and matrices included: 48 s CPU (40 s wall) on 2 shared cores, peak RSS 0.53 GB
(motif k-mers) / 0.78 GB (uniform noise; ``benchmarks/cluster.py``).

Agreement with exact clustering is the adjusted Rand index (ARI) on a subsample, and it is
bounded by how well defined the exact partition itself is. Where the exact partition is
stable, as for k-mers of two motifs (sites sampled from JASPAR PWMs, shifted +-1 bp, either
strand; breaking ties in another order moves the exact partition by ARI < 0.05), the
two-stage ARI is >= 0.9 (tests). With more motifs, shifts and background k-mers the top
merges of the tree (the 10-way cut) are near-ties between groups of similar base composition.
On simulated saliency k-mers (six TFs, 25% uniform background; ``benchmarks/cluster.py``) the
*same* 8,000 k-mers with ties broken in another order give an exact partition at ARI 0.42 to
the first, dropping 5% of them 0.43, and the labels of the 300k two-stage run agree with
exact clustering of an 8,000 subsample at ARI 0.47: the two-stage result is as close to the
exact one as two exact ones are to each other. The ARI floor of 0.9 is therefore met only
where exact average linkage is itself reproducible. Assigning the k-mers to the exact
clusters of a seeded subsample by mean cosine distance (average linkage's own criterion) was
measured too and agreed less: ARI 0.38 vs 0.49 for 60k realistic k-mers (5,000 seeds /
micro-clusters), 0.73-0.81 vs 0.93-0.98 for 1,400 motif k-mers (100 seeds / micro-clusters).

Per cluster (clusters numbered 1.. by decreasing size, 0 = unassigned; cluster 1 is the
"primary" motif):
consensus (most frequent of A,C,G,T,N per k-mer position), count and probability matrices,
an information-content-trimmed core motif, and, for clusters of at least ``min_cluster_size``
k-mers, a motif (logo PNG, FASTA of its k-mers, an entry of the MEME file).

The noise bin (on by default, not in the paper): average linkage puts every k-mer in some
cluster, so the k-mers of sequences without a learned motif (saliency peaks on background) are
folded into the motif clusters and blur them, and a cluster's class counts then say little.
After the cut, each k-mer is scored against each cluster's aligned members (log-odds, best
shift and strand, itself left out; :func:`kmer_scores`); one that matches neither its own
cluster nor any other better than 99% of random k-mers of the same base composition do
(``noise_alpha = 0.01``) is unassigned (label 0) and in no motif. Each cluster's class counts
come with Fisher's exact test (:func:`class_composition`): "enriched in X" only where it is
significant.

Alignment (on by default, not in the paper): a motif that occurs at two offsets or on both
strands within a cluster blurs its matrix. Each k-mer is placed at the shift (``-max_shift ..
max_shift``) and strand that score best against the cluster's current log-odds matrix; the
matrix is rebuilt from the placements and the step repeated until no placement changes.
"""
from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from wtko_captum.core.errors import InputError, WtkoError
from wtko_captum.core.sequence import consensus, encode_indices

log = logging.getLogger(__name__)

EXACT_LIMIT = 5_000
#: the noise bin's default: a k-mer that matches no cluster better than 99% of random k-mers
#: do (log-odds, best shift and strand) is unassigned
NOISE_ALPHA = 0.01
CLUSTER_COLUMNS = ["cluster", "motif_id", "n_kmers", "n_unique", "fraction", "role", "is_motif",
                   "consensus", "core_consensus", "core_width", "ic_core", "ic_core_unaligned",
                   "ic_mean", "ic_mean_unaligned", "aligned_fraction", "n_label1", "n_label0",
                   "mean_score"]


@dataclass
class ClusterResult:
    """Output of :func:`cluster_kmers`.

    Attributes
    ----------
    labels : ndarray (n,) int
        Cluster number of each input k-mer, 1 = largest cluster.
    shift, strand : ndarray (n,)
        Alignment placement of each k-mer in its cluster: shift in bp relative to the unaligned
        position (``+s``: the k-mer sits ``s`` bp right of the others), strand ``"+"`` or ``"-"``
        (reverse complement used). All 0 / ``"+"`` when ``align=False``.
    table : DataFrame
        One row per cluster, columns :data:`CLUSTER_COLUMNS`.
    motifs : dict
        ``{"clusterC CONSENSUS": (4, W) probabilities}`` of the core motifs of clusters with at
        least ``min_cluster_size`` k-mers (aligned matrices when ``align``), largest first.
    unaligned_motifs : dict
        The same clusters' core motifs built without alignment (for comparison).
    counts : dict
        ``{cluster: (4, k + 2 * max_shift) counts}`` of the aligned k-mers (full width; ``(4, k)``
        unaligned counts when ``align=False``).
    nsites : dict
        ``{motif key: number of k-mers}`` for the MEME file.
    method : str
        ``"exact"`` or ``"two-stage"``.
    params : dict
    score : ndarray (n,) float
        Each k-mer's log-odds score in bits against the cluster it ends in (:func:`kmer_scores`;
        NaN without a noise bin). Label 0 = unassigned (the noise bin).
    """

    labels: np.ndarray
    shift: np.ndarray
    strand: np.ndarray
    table: pd.DataFrame
    motifs: dict = field(default_factory=dict)
    unaligned_motifs: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)
    nsites: dict = field(default_factory=dict)
    method: str = "exact"
    params: dict = field(default_factory=dict)
    score: np.ndarray | None = None


# ---------------------------------------------------------------- encoding


def encode_kmers(kmers) -> np.ndarray:
    """``(n, k)`` int8 base indices (0..3 = A,C,G,T; 4 = N/other) of equal-length k-mers.

    ``kmers`` is a sequence of strings or a DataFrame with a ``kmer`` column.
    """
    if isinstance(kmers, pd.DataFrame):
        if "kmer" not in kmers:
            raise InputError("k-mer table has no 'kmer' column")
        kmers = kmers["kmer"].astype(str).tolist()
    kmers = list(kmers)
    if not kmers:
        raise InputError("no k-mers to cluster")
    try:
        return encode_indices(kmers)
    except ValueError as exc:
        raise InputError(f"k-mers must all have the same length: {exc}") from None


def onehot5(idx: np.ndarray, dtype=np.float32) -> np.ndarray:
    """Flattened 5-channel one-hot ``(n, 5k)`` of base indices ``(n, k)`` (position-major:
    column ``5 * i + b`` is base ``b`` of position ``i``)."""
    n, k = idx.shape
    out = np.zeros((n, k, 5), dtype=dtype)
    np.put_along_axis(out, idx[:, :, None].astype(np.int64), 1, axis=2)
    return out.reshape(n, 5 * k)


def _agglomerative(features: np.ndarray, n_clusters, distance_threshold) -> np.ndarray:
    """scikit-learn average-linkage cosine clustering of the rows of ``features`` (the paper's
    call; used as the reference the weighted version is tested against)."""
    from sklearn.cluster import AgglomerativeClustering

    n = len(features)
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    if distance_threshold is None:
        n_clusters = min(int(n_clusters), n)
    model = AgglomerativeClustering(n_clusters=None if distance_threshold is not None else n_clusters,
                                    distance_threshold=distance_threshold,
                                    metric="cosine", linkage="average")
    return model.fit_predict(features).astype(np.int64)


def weighted_average_linkage(centroids: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    """Average linkage (UPGMA) of weighted points: merges ``(m - 1, 3)`` rows ``(a, b, height)``.

    Point ``i`` stands for ``weights[i]`` k-mers whose mean 5-channel one-hot vector is
    ``centroids[i]``; the mean cosine distance between the members of two points is
    ``1 - c_a . c_b / k`` (every k-mer vector has norm sqrt(k)), and merged clusters follow the
    Lance-Williams update for average linkage with sizes, ``d(a+b, x) = (w_a d(a, x) + w_b d(b, x))
    / (w_a + w_b)``. With identical k-mers as points (weights = copies) this is exactly average
    linkage of all k-mers, which scikit-learn and scipy cannot do without repeating every copy.
    Nearest-neighbour chain algorithm: O(m^2) time and one m x m float64 matrix.
    """
    m = len(centroids)
    C = np.asarray(centroids, dtype=np.float64)
    D = C @ C.T
    # 1 - D / k in place: one m x m matrix at the peak, not three (m = 5,000: 0.2 GB). Same
    # operations as the expression, so the same rounding: distances tie constantly and a
    # last-bit difference changes which tied pair merges first.
    np.divide(D, k, out=D)
    np.subtract(1.0, D, out=D)
    np.fill_diagonal(D, np.inf)
    size = np.asarray(weights, dtype=np.float64).copy()
    active = np.ones(m, dtype=bool)
    merges = np.zeros((max(m - 1, 0), 3))
    chain: list[int] = []
    done = 0
    while done < m - 1:
        if not chain:
            chain.append(int(np.flatnonzero(active)[0]))
        a = chain[-1]
        row = D[a]
        b = int(row.argmin())
        # keep the chain's previous element on ties, else the chain can cycle
        if len(chain) > 1 and row[chain[-2]] <= row[b]:
            b = chain[-2]
        if len(chain) > 1 and b == chain[-2]:
            chain.pop()
            chain.pop()
            lo, hi = min(a, b), max(a, b)
            merges[done] = (lo, hi, D[a, b])
            done += 1
            new = (size[lo] * D[lo] + size[hi] * D[hi]) / (size[lo] + size[hi])
            D[lo, :] = new
            D[:, lo] = new
            D[hi, :] = np.inf
            D[:, hi] = np.inf
            D[lo, lo] = np.inf
            size[lo] += size[hi]
            active[hi] = False
        else:
            chain.append(b)
    return merges


def cut_linkage(merges: np.ndarray, m: int, n_clusters=None, distance_threshold=None) -> np.ndarray:
    """Flat labels ``(m,)`` from :func:`weighted_average_linkage` merges: apply merges in order
    of height until ``n_clusters`` remain, or every merge below ``distance_threshold`` (scikit-
    learn's meaning: clusters at or above it are not merged)."""
    order = np.argsort(merges[:, 2], kind="stable")
    if distance_threshold is not None:
        n_apply = int((merges[:, 2] < distance_threshold).sum())
    else:
        n_apply = m - min(int(n_clusters), m)
    parent = np.arange(m)

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b, _ in merges[order[:n_apply]]:
        ra, rb = find(int(a)), find(int(b))
        parent[max(ra, rb)] = min(ra, rb)
    roots = np.array([find(i) for i in range(m)])
    return np.unique(roots, return_inverse=True)[1].astype(np.int64)


def cluster_labels(idx: np.ndarray, n_clusters: int | None = 10, distance_threshold: float | None = None,
                   exact_limit: int = EXACT_LIMIT, seed: int = 0,
                   tie_seed: int | None = None) -> tuple[np.ndarray, str]:
    """Raw cluster labels (arbitrary numbering) of k-mers ``(n, k)`` and the method used.

    Identical k-mers are deduplicated (weights = copies). Up to ``exact_limit`` distinct k-mers:
    exact weighted average linkage (``"exact"``, the same partition as scikit-learn on all
    rows, up to ties). Above it (``"two-stage"``): seeded MiniBatchKMeans (sample weights =
    copies; Euclidean distance on the one-hot ranks like cosine, all norms being sqrt(k))
    groups the distinct k-mers into ``exact_limit`` micro-clusters, then exact weighted average
    linkage clusters the micro-clusters (their distance ``1 - c_a . c_b / k`` is exactly the
    mean cosine distance between their members); every k-mer takes its micro-cluster's label.
    Memory: one ``exact_limit``-square float64 matrix plus ``(distinct, 5k)`` float32 features.
    Agreement with exact clustering: see the module docstring.

    Equal merge distances are common among k-mers; exact linkage breaks the ties by the order of
    the distinct k-mers, sorted by default. ``tie_seed`` breaks them in a seeded random order
    instead: another, equally exact partition (how far two exact partitions differ is the floor
    any comparison of clusterings can reach).
    """
    if (n_clusters is None) == (distance_threshold is None):
        raise InputError("give exactly one of n_clusters and distance_threshold")
    if n_clusters is not None and n_clusters < 1:
        raise InputError("n_clusters must be >= 1", value=n_clusters)
    if distance_threshold is not None and not 0 < distance_threshold <= 2:
        raise InputError("distance_threshold is a cosine distance in (0, 2]", value=distance_threshold)
    k = idx.shape[1]
    unique, inverse, copies = np.unique(idx, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    if len(unique) <= exact_limit:
        order = np.arange(len(unique)) if tie_seed is None else np.random.default_rng(tie_seed).permutation(len(unique))
        merges = weighted_average_linkage(onehot5(unique[order], np.float64), copies[order], k)
        labels = np.empty(len(unique), dtype=np.int64)
        labels[order] = cut_linkage(merges, len(unique), n_clusters, distance_threshold)
        return labels[inverse], "exact"
    from sklearn.cluster import MiniBatchKMeans

    features = onehot5(unique)
    # columns that are zero for every k-mer (the N channel, unless k-mers are N-padded) change
    # no distance; dropping them makes k-means (most of the two-stage time) ~20% cheaper
    features = features[:, features.any(axis=0)]
    # random init: k-means++ costs O(n m log m) and takes minutes at m in the thousands
    km = MiniBatchKMeans(n_clusters=exact_limit, random_state=seed, batch_size=4096, n_init=1,
                         init="random", max_iter=5, max_no_improvement=5, reassignment_ratio=0.0)
    micro = km.fit_predict(features, sample_weight=copies.astype(np.float64))
    del features
    used, micro = np.unique(micro, return_inverse=True)  # drop empty micro-clusters
    w = np.bincount(micro, weights=copies, minlength=len(used))
    centroids = np.zeros((len(used), 5 * k))
    for lo in range(0, len(unique), 50_000):  # weighted member means, chunked to bound memory
        np.add.at(centroids, micro[lo:lo + 50_000],
                  onehot5(unique[lo:lo + 50_000], np.float64) * copies[lo:lo + 50_000, None])
    centroids /= w[:, None]
    merges = weighted_average_linkage(centroids, w, k)
    labels = cut_linkage(merges, len(used), n_clusters, distance_threshold)
    return labels[micro][inverse], "two-stage"


def _relabel_by_size(labels: np.ndarray, keep_zero: bool = False) -> np.ndarray:
    """Renumber clusters 1..C by decreasing size (ties: order of first appearance); with
    ``keep_zero`` label 0 (unassigned) stays 0."""
    labels = np.asarray(labels)
    sel = labels != 0 if keep_zero else np.ones(len(labels), dtype=bool)
    out = np.zeros(len(labels), dtype=np.int64)
    if not sel.any():
        return out
    uniq, first, counts = np.unique(labels[sel], return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))
    mapping = np.empty(uniq.max() + 1, dtype=np.int64)
    mapping[uniq[order]] = np.arange(1, len(uniq) + 1)
    out[sel] = mapping[labels[sel]]
    return out


# ---------------------------------------------------------------- matrices


def count_matrix(idx: np.ndarray, weights=None) -> np.ndarray:
    """``(5, k)`` counts of A,C,G,T,N per position of k-mers ``(n, k)``."""
    n, k = idx.shape
    weights = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    counts = np.zeros((5, k))
    np.add.at(counts, (idx.astype(np.int64), np.broadcast_to(np.arange(k), (n, k))),
              np.broadcast_to(weights[:, None], (n, k)))
    return counts


def probabilities(counts: np.ndarray) -> np.ndarray:
    """``(4, W)`` column-normalised A,C,G,T probabilities (uniform where a column is empty)."""
    counts = np.asarray(counts, dtype=np.float64)[:4]
    total = counts.sum(axis=0, keepdims=True)
    return np.where(total > 0, counts / np.where(total > 0, total, 1), 0.25)


def information_content(probs: np.ndarray) -> np.ndarray:
    """``(W,)`` bits per column of a ``(4, W)`` probability matrix (uniform background)."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1)
    return 2 + (p * np.log2(p)).sum(axis=0)


def core_span(counts: np.ndarray, ic_threshold: float = 0.3, min_coverage: float = 0.5,
              min_width: int = 6) -> tuple[int, int]:
    """Columns ``[a, b)`` of the information-content-trimmed core of a ``(4, W)`` count matrix.

    Columns covered by fewer than ``min_coverage`` of the k-mers (the overhang an alignment
    shift creates) are never core; among the rest the core runs from the first to the last
    column with IC >= ``ic_threshold`` bits, widened symmetrically to ``min_width`` inside the
    covered span. With no column above the threshold the whole covered span is returned.
    """
    counts = np.asarray(counts, dtype=np.float64)[:4]
    cover = counts.sum(axis=0)
    covered = np.flatnonzero(cover >= min_coverage * cover.max()) if cover.max() > 0 else np.arange(counts.shape[1])
    lo_cov, hi_cov = int(covered.min()), int(covered.max()) + 1
    ic = information_content(probabilities(counts))
    strong = [j for j in range(lo_cov, hi_cov) if ic[j] >= ic_threshold]
    if not strong:
        return lo_cov, hi_cov
    a, b = strong[0], strong[-1] + 1
    while b - a < min_width and (a > lo_cov or b < hi_cov):
        if a > lo_cov:
            a -= 1
        if b - a < min_width and b < hi_cov:
            b += 1
    return a, b


# ---------------------------------------------------------------- alignment


def _placements(max_shift: int) -> list[tuple[int, int]]:
    """(shift, strand) pairs, (0, +) first and then by |shift|, so ties keep a k-mer in place."""
    shifts = sorted(range(-max_shift, max_shift + 1), key=lambda s: (abs(s), s))
    return [(s, st) for s in shifts for st in (1, -1)]


def align_kmers(idx: np.ndarray, weights=None, max_shift: int = 5, n_iter: int = 20,
                pseudocount: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Align k-mers ``(n, k)`` to their own profile by best shift and strand.

    Returns ``shift (n,)``, ``strand (n,)`` (+1 / -1) and the aligned A,C,G,T counts
    ``(4, k + 2 * max_shift)``; column ``max_shift + i`` is position ``i`` of an unshifted k-mer.
    Each round scores every placement against the log-odds of the current matrix (pseudocount
    ``pseudocount`` sites spread uniformly) and rebuilds the matrix; it stops when no
    placement changes.
    """
    n, k = idx.shape
    weights = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    width = k + 2 * max_shift
    X = np.zeros((n, 5, k), dtype=np.float64)
    np.put_along_axis(X, idx[:, None, :].astype(np.int64), 1, axis=1)
    # flat (n, 4k) A,C,G,T one-hot: every placement is then one matrix product. A reverse-
    # complement placement reads the window reversed in both axes (rc[c, j] = x[3 - c, k - 1 - j]),
    # so it is the forward k-mer against the flipped window and needs no second copy of X.
    X = np.ascontiguousarray(X[:, :4]).reshape(n, 4 * k)
    places = _placements(max_shift)

    def window(mat, s, st):
        w = mat[:, max_shift + s:max_shift + s + k]
        return w if st == 1 else w[::-1, ::-1]

    def build(choice):
        counts = np.zeros((4, width))
        for p, (s, st) in enumerate(places):
            sel = choice == p
            if sel.any():
                window(counts, s, st)[...] += (weights[sel] @ X[sel]).reshape(4, k)
        return counts

    choice = np.zeros(n, dtype=np.int64)  # placement 0 = (0, +)
    counts = build(choice)
    for _ in range(n_iter):
        total = counts.sum(axis=0, keepdims=True)
        logodds = np.log2((counts + pseudocount * 0.25) / (total + pseudocount) / 0.25)
        W = np.stack([window(logodds, s, st).ravel() for s, st in places], axis=1)  # (4k, placements)
        new = (X @ W).argmax(axis=1)
        if np.array_equal(new, choice):
            break
        choice = new
        counts = build(choice)
    shift = np.array([places[c][0] for c in choice], dtype=np.int64)
    strand = np.array([places[c][1] for c in choice], dtype=np.int64)
    return shift, strand, counts


# ---------------------------------------------------------------- noise bin and class composition


def _profiles(idx, labels, max_shift: int):
    """Per cluster: its members' aligned counts ``(4, k + 2 max_shift)`` and size, and each
    member's placement index (into :func:`_placements`)."""
    n, k = idx.shape
    places = _placements(max_shift)
    place_of = {p: i for i, p in enumerate(places)}
    own = np.zeros(n, dtype=np.int64)
    out = {}
    for c in range(1, int(labels.max()) + 1 if len(labels) else 1):
        members = np.flatnonzero(labels == c)
        if not len(members):
            continue
        uniq, inverse, copies = np.unique(idx[members], axis=0, return_inverse=True, return_counts=True)
        inverse = inverse.ravel()
        sh, st, counts = align_kmers(uniq, copies, max_shift)
        own[members] = [place_of[(int(a), int(b))] for a, b in zip(sh[inverse], st[inverse])]
        out[c] = (counts, len(members))
    return out, own


def kmer_scores(idx: np.ndarray, labels: np.ndarray, *, max_shift: int = 5, alpha: float = 0.01,
                n_null: int = 5000, seed: int = 0) -> dict:
    """How well each k-mer matches each cluster, against what random k-mers reach.

    Each cluster's members are aligned (:func:`align_kmers`, whether or not the motifs are
    built aligned: a k-mer of the motif one base off is still the motif) into a count matrix
    ``C`` of ``n`` members; its log-odds matrix is ``log2(((C + f) / (n + 1)) / f)`` with ``f``
    the base composition of all k-mers (a column few members cover scores low: the k-mer
    disagrees with the members there). A k-mer's score against a cluster is the sum of its
    bases' log-odds at its best shift and strand, in bits; against its own cluster it is
    scored at its own placement with itself left out (one copy removed from ``C``, ``n - 1``
    members), so no k-mer matches a cluster only because it is in it. N scores 0.

    The threshold of a cluster is the ``1 - alpha`` quantile of the best scores of ``n_null``
    random k-mers of composition ``f`` (seeded): a k-mer above it matches the cluster better
    than a fraction ``1 - alpha`` of random sequence does.

    Returns ``dict(own=(n,) own-cluster score, threshold={cluster: bits}, best_other=(n,)
    margin over the threshold of the best other cluster, other=(n,) that cluster (0: none),
    other_score=(n,) its score)``; a cluster of one scores ``-inf``.
    """
    n, k = idx.shape
    places = _placements(max_shift)
    profiles, own_place = _profiles(idx, labels, max_shift)
    valid = idx < 4
    comp = np.bincount(idx[valid].astype(np.int64), minlength=4)[:4].astype(np.float64)
    comp = np.clip(comp / max(comp.sum(), 1), 1e-3, None)
    comp /= comp.sum()

    def onehot(ix):
        X = np.zeros((len(ix), 4, k), dtype=np.float32)
        ok = ix < 4
        r, c = np.nonzero(ok)
        X[r, ix[ok].astype(np.int64), c] = 1
        return X.reshape(len(ix), 4 * k)

    def window(mat, s, st):
        w = mat[:, max_shift + s:max_shift + s + k]
        return w if st == 1 else w[::-1, ::-1]

    X = onehot(idx)
    rng = np.random.default_rng(seed)
    null = onehot(rng.choice(4, size=(n_null, k), p=comp).astype(np.int8))
    f = comp[:, None]
    own = np.full(n, -np.inf)
    other, other_c, other_score = np.full(n, -np.inf), np.zeros(n, dtype=np.int64), np.full(n, -np.inf)
    threshold = {}
    for c, (counts, size) in profiles.items():
        members = labels == c
        L = np.log2((counts + f) / (size + 1) / f)
        W = np.stack([window(L, s, st).ravel() for s, st in places], axis=1).astype(np.float32)
        t = float(np.quantile((null @ W).max(axis=1), 1 - alpha))
        threshold[c] = t
        if size > 1:
            # a member's own base in every column of its placement counts itself once
            G = np.log2((np.clip(counts - 1, 0, None) + f) / size / f)
            for p, (s, st) in enumerate(places):
                sel = np.flatnonzero(members & (own_place == p))
                if len(sel):
                    own[sel] = X[sel] @ window(G, s, st).ravel()
        score = (X @ W).max(axis=1)
        margin = score - t
        better = ~members & (margin > other)
        other[better], other_c[better], other_score[better] = margin[better], c, score[better]
    return {"own": own, "threshold": threshold, "best_other": other, "other": other_c, "other_score": other_score}


def assign_noise(idx: np.ndarray, labels: np.ndarray, alpha: float = 0.01, *, max_shift: int = 5,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict]:
    """The noise bin: labels with k-mers too far from every cluster set to 0 (unassigned).

    A k-mer stays in its cluster when its :func:`kmer_scores` score against it (itself left
    out) exceeds the cluster's threshold (what only a fraction ``alpha`` of random k-mers
    reach); otherwise it moves to the other cluster it beats the threshold of by most, and
    when it beats none it is unassigned. One pass against the clusters as cut; the matrices
    are then rebuilt from the members kept. Returns the new labels, each k-mer's score (bits)
    against the cluster it ends in (its own cluster's for an unassigned one) and the
    thresholds ``{cluster: bits}`` of the clusters as cut.
    """
    sc = kmer_scores(idx, labels, max_shift=max_shift, alpha=alpha, seed=seed)
    t_own = np.array([sc["threshold"].get(int(c), np.inf) for c in labels])
    out = labels.copy()
    score = sc["own"].copy()
    far = ~(sc["own"] > t_own)
    move = far & (sc["best_other"] > 0)
    out[move] = sc["other"][move]
    score[move] = sc["other_score"][move]
    out[far & ~move] = 0
    return out, score, sc["threshold"]


def class_composition(labels: np.ndarray, kmer_labels: np.ndarray, class_names, *, alpha: float = 0.05) -> pd.DataFrame:
    """Class counts of every cluster and the class each is enriched in, if significantly.

    For cluster ``c`` and class ``X``: the k-mers of ``X`` in ``c`` against those outside
    ``c`` (all k-mers, unassigned ones included), Fisher's exact test (two-sided), odds ratio
    and Benjamini-Hochberg q over all clusters x classes. ``enriched_in`` names the class with
    odds ratio > 1 and q < ``alpha`` (the smallest q when several are); empty otherwise: a
    cluster of one class's k-mers that is no larger than chance in that class is not labelled.

    Returns one row per cluster (0 = unassigned included): cluster, ``n_<class>`` for each
    class, enriched_in, enrichment_or, enrichment_q.
    """
    from scipy.stats import fisher_exact

    from wtko_captum.motifs.tomtom import best_enrichment

    names = [str(c) for c in class_names]
    kmer_labels = np.asarray(kmer_labels)
    clusters = np.unique(labels)
    total = {i: int((kmer_labels == i).sum()) for i in range(len(names))}
    n_all = len(kmer_labels)
    rows, tests = [], []
    for c in clusters:
        inside = labels == c
        row = {"cluster": int(c)}
        for i, name in enumerate(names):
            a = int((inside & (kmer_labels == i)).sum())
            row[f"n_{name}"] = a
            if c == 0:
                continue
            b = int(inside.sum()) - a
            cc = total[i] - a
            d = n_all - int(inside.sum()) - cc
            odds, p = fisher_exact([[a, b], [cc, d]])
            tests.append((len(rows), name, float(odds), float(p)))
        rows.append(row)
    best, q = best_enrichment(tests, alpha)
    for r, row in enumerate(rows):
        name, odds, qv = best.get(r, ("", float("nan"), float("nan")))
        if r not in best and row["cluster"] != 0:
            qs = [qq for (rr, _, o, _), qq in zip(tests, q) if rr == r]
            qv = float(min(qs)) if qs else float("nan")
        row.update(enriched_in=name, enrichment_or=odds, enrichment_q=qv)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- main entry


def cluster_kmers(kmers, n_clusters: int | None = 10, distance_threshold: float | None = None, *,
                  align: bool = True, min_cluster_size: int = 10, seed: int = 0,
                  exact_limit: int = EXACT_LIMIT, max_shift: int | None = None,
                  ic_threshold: float = 0.3, noise_alpha: float | None = NOISE_ALPHA,
                  class_names=None) -> ClusterResult:
    """Cluster saliency k-mers and build one motif per large enough cluster.

    Parameters
    ----------
    kmers : DataFrame or sequence of str
        Equal-length k-mers (a :func:`~wtko_captum.motifs.kmers.saliency_kmers` table, whose ``label``
        and ``score`` columns then fill per-cluster class counts and mean score).
    n_clusters, distance_threshold :
        Exactly one: cut the average-linkage tree into ``n_clusters`` (paper: 10) or at cosine
        distance ``distance_threshold`` (0..1; a fraction of mismatched positions).
    align : bool
        Align k-mers by shift and strand before building matrices (default on).
    min_cluster_size : int
        Clusters with fewer k-mers are listed but get no motif (paper: 10).
    seed : int
        Seeds the two-stage k-means (the exact method is deterministic).
    exact_limit : int
        Largest number of k-mers clustered exactly (see module docstring).
    max_shift : int, optional
        Largest alignment shift in bp (default ``k // 4``).
    ic_threshold : float
        Bits a column needs to be part of a core motif (see :func:`core_span`).
    noise_alpha : float or None
        The noise bin (:func:`assign_noise`): a k-mer that matches neither its own cluster nor
        any other better than a fraction ``1 - noise_alpha`` of random k-mers do (log-odds
        against the cluster's aligned members, itself left out; :func:`kmer_scores`) is
        unassigned (cluster 0) and in no motif. Default :data:`NOISE_ALPHA`; None keeps every
        k-mer in its cluster (the paper).
    class_names : list of str, optional
        Names of the ``label`` values of a k-mer table: each cluster's class counts and Fisher
        test (:func:`class_composition`) are reported under them.

    Returns
    -------
    ClusterResult
    """
    table_in = kmers if isinstance(kmers, pd.DataFrame) else None
    idx = encode_kmers(kmers)
    n, k = idx.shape
    max_shift = k // 4 if max_shift is None else int(max_shift)
    raw, method = cluster_labels(idx, n_clusters, distance_threshold, exact_limit, seed)
    labels = _relabel_by_size(raw)
    score = np.full(n, np.nan)
    if noise_alpha is not None:
        if not 0 < noise_alpha < 1:
            raise InputError("noise_alpha is a probability in (0, 1)", value=noise_alpha)
        labels, score, _ = assign_noise(idx, labels, noise_alpha, max_shift=max_shift, seed=seed)
        labels = _relabel_by_size(labels, keep_zero=True)
    shift = np.zeros(n, dtype=np.int64)
    strand = np.full(n, "+", dtype=object)
    rows, motifs, unaligned_motifs, counts_by, nsites = [], {}, {}, {}, {}
    for c in range(1, int(labels.max()) + 1):
        members = np.flatnonzero(labels == c)
        uniq, inverse, copies = np.unique(idx[members], axis=0, return_inverse=True, return_counts=True)
        inverse = inverse.ravel()
        raw_counts = count_matrix(uniq, copies)
        un_lo, un_hi = core_span(raw_counts, ic_threshold)
        un_probs = probabilities(raw_counts)[:, un_lo:un_hi]
        is_motif = len(members) >= min_cluster_size
        if align and is_motif:
            s, st, al_counts = align_kmers(uniq, copies, max_shift)
            shift[members] = s[inverse]
            strand[members] = np.where(st[inverse] == 1, "+", "-")
            aligned_fraction = float(copies[(s != 0) | (st != 1)].sum() / copies.sum())
        else:
            al_counts = raw_counts[:4]
            aligned_fraction = 0.0
        lo, hi = core_span(al_counts, ic_threshold)
        probs = probabilities(al_counts)[:, lo:hi]
        core = consensus(al_counts[:, lo:hi])
        key = f"cluster{c} {core}"
        counts_by[c] = al_counts
        if is_motif:
            motifs[key] = probs
            unaligned_motifs[key] = un_probs
            nsites[key] = len(members)
        sub = table_in.iloc[members] if table_in is not None else None
        rows.append({
            "cluster": c, "motif_id": f"cluster{c}", "n_kmers": len(members), "n_unique": len(uniq),
            "fraction": len(members) / n, "role": "primary" if c == 1 else "secondary",
            "is_motif": is_motif, "consensus": consensus(raw_counts), "core_consensus": core,
            "core_width": hi - lo,
            "ic_core": float(information_content(probs).sum()),
            "ic_core_unaligned": float(information_content(un_probs).sum()),
            "ic_mean": float(information_content(probs).mean()),
            "ic_mean_unaligned": float(information_content(un_probs).mean()),
            "aligned_fraction": aligned_fraction,
            "n_label1": int((sub["label"] == 1).sum()) if sub is not None and "label" in sub else -1,
            "n_label0": int((sub["label"] == 0).sum()) if sub is not None and "label" in sub else -1,
            "mean_score": float(sub["score"].mean()) if sub is not None and "score" in sub else float("nan"),
        })
    unassigned = labels == 0
    if unassigned.any():
        sub = table_in.iloc[np.flatnonzero(unassigned)] if table_in is not None else None
        rows.append({
            "cluster": 0, "motif_id": "unassigned", "n_kmers": int(unassigned.sum()),
            "n_unique": len(np.unique(idx[unassigned], axis=0)), "fraction": float(unassigned.mean()),
            "role": "unassigned", "is_motif": False, "consensus": "", "core_consensus": "", "core_width": 0,
            "aligned_fraction": 0.0,
            "n_label1": int((sub["label"] == 1).sum()) if sub is not None and "label" in sub else -1,
            "n_label0": int((sub["label"] == 0).sum()) if sub is not None and "label" in sub else -1,
            "mean_score": float(sub["score"].mean()) if sub is not None and "score" in sub else float("nan"),
        })
    table = pd.DataFrame(rows, columns=CLUSTER_COLUMNS)
    if table_in is not None and "label" in table_in and len(table):
        kmer_labels = table_in["label"].to_numpy()
        names = list(class_names) if class_names is not None else \
            [str(i) for i in range(int(np.nanmax(kmer_labels)) + 1)]
        table = table.merge(class_composition(labels, kmer_labels, names), on="cluster", how="left")
    params = dict(n_clusters=n_clusters, distance_threshold=distance_threshold, align=align,
                  min_cluster_size=min_cluster_size, seed=seed, exact_limit=exact_limit,
                  max_shift=max_shift, ic_threshold=ic_threshold, noise_alpha=noise_alpha,
                  k=k, n_kmers=n, n_unassigned=int(unassigned.sum()))
    return ClusterResult(labels, shift, strand, table, motifs, unaligned_motifs, counts_by, nsites, method,
                         params, score)


# ---------------------------------------------------------------- outputs


def plot_logo(probs: np.ndarray, path, title: str = "") -> Path:
    """Information-content logo (bits) of a ``(4, W)`` probability matrix, as PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import logomaker
    import matplotlib.pyplot as plt

    from wtko_captum.core.atomic import atomic_path

    probs = np.asarray(probs, dtype=np.float64)
    bits = probs * information_content(probs)[None, :]
    df = pd.DataFrame(bits.T, columns=list("ACGT"))
    fig, ax = plt.subplots(figsize=(max(3.0, 0.45 * probs.shape[1]), 2.2))
    try:
        logomaker.Logo(df, ax=ax, color_scheme="classic")
        ax.set_ylim(0, 2)
        ax.set_ylabel("bits")
        ax.set_title(title, fontsize=9)
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=100, format="png")
    finally:
        plt.close(fig)
    return Path(path)


def write_fasta(path, names, sequences) -> Path:
    """Plain FASTA, one line per sequence, atomically."""
    from wtko_captum.core.atomic import write_text

    return write_text(path, "".join(f">{a}\n{s}\n" for a, s in zip(names, sequences)))


def run_meme(fasta, outdir, width: int, nmotifs: int = 1) -> Path | None:
    """Run MEME (``meme`` on PATH) on a cluster's FASTA; ``None`` when MEME is not installed."""
    exe = shutil.which("meme")
    if exe is None:
        return None
    cmd = [exe, str(fasta), "-dna", "-oc", str(outdir), "-nmotifs", str(nmotifs), "-revcomp",
           "-minw", "6", "-maxw", str(max(6, width)), "-mod", "zoops", "-nostatus"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise WtkoError(f"meme failed on {fasta}: {res.stderr.strip().splitlines()[-1:] or res.returncode}")
    return Path(outdir)


def write_clusters(result: ClusterResult, kmers, outdir, *, logos: bool = True, meme: bool = True) -> list[Path]:
    """Write ``clusters.tsv``, ``clusters.meme``, ``logos/clusterC.png`` and
    ``fasta/clusterC.fa`` (one per motif cluster) under ``outdir``; MEME runs per cluster into
    ``meme/clusterC/`` when ``meme`` is on PATH and ``meme=True``. Returns the paths written."""
    from wtko_captum.core.atomic import output_dir, write_text
    from wtko_captum.core.export import export

    outdir = output_dir(outdir)
    table = kmers if isinstance(kmers, pd.DataFrame) else pd.DataFrame({"kmer": list(kmers)})
    written = [write_text(outdir / "clusters.tsv", result.table.to_csv(sep="\t", index=False))]
    if result.motifs:
        written += export("meme", result.motifs, outdir / "clusters.meme", nsites=result.nsites)
    have_meme = meme and shutil.which("meme") is not None
    if meme and not have_meme:
        log.info("MEME suite not on PATH: skipped de novo MEME per cluster (FASTA files are written for it)")
    for key in result.motifs:
        c = int(key.split()[0].removeprefix("cluster"))
        members = np.flatnonzero(result.labels == c)
        sub = table.iloc[members]
        names = (sub["name"].astype(str) + ":" + sub["rank"].astype(str)) if {"name", "rank"} <= set(sub) \
            else pd.Series([f"kmer{i}" for i in members])
        fasta = write_fasta(outdir / "fasta" / f"cluster{c}.fa", names, sub["kmer"].astype(str))
        written.append(fasta)
        if logos:
            row = result.table.loc[result.table["cluster"] == c].iloc[0]
            written.append(plot_logo(result.motifs[key], outdir / "logos" / f"cluster{c}.png",
                                     f"cluster {c} ({row['role']}, n={row['n_kmers']})"))
        if have_meme:
            out = run_meme(fasta, outdir / "meme" / f"cluster{c}", width=result.params["k"])
            if out is not None:
                written.append(out)
    return written


def alignment_report(result: ClusterResult, database=None, top: int = 3) -> pd.DataFrame:
    """Aligned vs unaligned core motifs of each motif cluster, side by side.

    Columns: cluster, ic_core / ic_core_unaligned (bits), and for each version the ``top``
    Tomtom matches in ``database`` (default bundled JASPAR) as ``ID NAME (q=...)`` strings plus
    the best q-value (``best_q`` / ``best_q_unaligned``).
    """
    from wtko_captum.motifs.tomtom import tomtom

    if not result.motifs:
        return pd.DataFrame(columns=["cluster", "ic_core", "ic_core_unaligned", "jaspar", "best_q",
                                     "jaspar_unaligned", "best_q_unaligned"])
    out = result.table.loc[result.table["is_motif"], ["cluster", "ic_core", "ic_core_unaligned"]].copy()
    for label, motifs in (("", result.motifs), ("_unaligned", result.unaligned_motifs)):
        tab = tomtom(motifs, database, thresh=1.0)
        hits, best = [], []
        for c in out["cluster"]:
            sub = tab[tab["Query_ID"] == f"cluster{c}"].head(top)
            hits.append(";".join(f"{r['Target_ID']} {r['Target_name']} (q={r['q-value']:.2g})"
                                 for _, r in sub.iterrows()))
            best.append(float(sub["q-value"].min()) if len(sub) else float("nan"))
        out[f"jaspar{label}"] = hits
        out[f"best_q{label}"] = best
    return out.reset_index(drop=True)
