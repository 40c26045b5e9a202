"""Agglomerative clustering of saliency k-mers into motifs (the WTKO paper, plus alignment).

The published method: each k-mer is one-hot encoded with 5 channels (A, C, G, T, N), flattened
to a ``5k`` vector, and clustered by scikit-learn's ``AgglomerativeClustering`` with cosine
distance and average linkage, cut at ``n_clusters`` (paper: 10) or a ``distance_threshold``.

Every encoded k-mer has exactly ``k`` ones, so its norm is ``sqrt(k)`` and the cosine distance
between two k-mers is their Hamming distance / ``k`` (N matching N counts as a match). The mean
cosine distance of a k-mer ``x`` to the members of a cluster with mean vector ``c`` is therefore
``1 - x.c / k``: the average-linkage distance from a point to a cluster needs only the
cluster's centroid. The two-stage method for large inputs uses exactly that.

Scale. Exact average linkage holds an ``n (n - 1) / 2`` float64 distance matrix, so above
``exact_limit`` k-mers (default 10,000, ~0.4 GB) clustering is two-stage:

1. a seeded uniform subsample of ``exact_limit`` k-mers (rows, so frequent k-mers are drawn in
   proportion to their copies) is clustered exactly as above;
2. every k-mer is assigned to the subsample cluster at the smallest average-linkage distance
   (largest ``x.c``). Identical k-mers are deduplicated first and assigned once.

Its agreement with exact clustering is measured by the adjusted Rand index (see
``scripts/bench_cluster.py`` and the tests).

Per cluster (clusters numbered 1.. by decreasing size; cluster 1 is the "primary" motif):
consensus (most frequent of A,C,G,T,N per k-mer position), count and probability matrices,
an information-content-trimmed core motif, and, for clusters of at least ``min_cluster_size``
k-mers, a motif (logo PNG, FASTA of its k-mers, an entry of the MEME file).

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

from .errors import InputError, WtkoError
from .sequence import encode_indices

log = logging.getLogger(__name__)

EXACT_LIMIT = 10_000
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
    """scikit-learn average-linkage cosine clustering of the rows of ``features``."""
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


def assign_to_clusters(idx: np.ndarray, centroids: np.ndarray, chunk: int = 50_000) -> np.ndarray:
    """Index of the cluster at the smallest average-linkage (mean cosine) distance.

    ``centroids`` ``(C, 5k)`` are the mean 5-channel one-hot vectors of each cluster; the mean
    cosine distance of k-mer x to a cluster is ``1 - x.c / k``, so the best cluster maximises
    ``x.c``. Ties go to the lower index.
    """
    out = np.empty(len(idx), dtype=np.int64)
    for lo in range(0, len(idx), chunk):
        out[lo:lo + chunk] = (onehot5(idx[lo:lo + chunk]) @ centroids.T).argmax(axis=1)
    return out


def cluster_labels(idx: np.ndarray, n_clusters: int | None = 10, distance_threshold: float | None = None,
                   exact_limit: int = EXACT_LIMIT, seed: int = 0) -> tuple[np.ndarray, str]:
    """Raw cluster labels (arbitrary numbering) of k-mers ``(n, k)`` and the method used.

    Exact average linkage when ``n <= exact_limit``, else the two-stage method of the module
    docstring (seeded subsample of ``exact_limit`` rows, then nearest-cluster assignment of the
    deduplicated k-mers).
    """
    if (n_clusters is None) == (distance_threshold is None):
        raise InputError("give exactly one of n_clusters and distance_threshold")
    if n_clusters is not None and n_clusters < 1:
        raise InputError("n_clusters must be >= 1", value=n_clusters)
    n = len(idx)
    if n <= exact_limit:
        return _agglomerative(onehot5(idx), n_clusters, distance_threshold), "exact"
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, size=exact_limit, replace=False))
    sample_labels = _agglomerative(onehot5(idx[sample]), n_clusters, distance_threshold)
    n_c = int(sample_labels.max()) + 1
    centroids = np.zeros((n_c, idx.shape[1] * 5), dtype=np.float64)
    np.add.at(centroids, sample_labels, onehot5(idx[sample], dtype=np.float64))
    centroids /= np.bincount(sample_labels, minlength=n_c)[:, None]
    unique, inverse = np.unique(idx, axis=0, return_inverse=True)
    labels = assign_to_clusters(unique, centroids.astype(np.float32))[inverse.ravel()]
    # the subsample keeps its exact labels (assignment could move a point between two clusters
    # whose average distance ties closely; the exact result is the reference)
    labels[sample] = sample_labels
    return labels, "two-stage"


def _relabel_by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber clusters 1..C by decreasing size (ties: order of first appearance)."""
    uniq, first, counts = np.unique(labels, return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))
    mapping = np.empty(uniq.max() + 1, dtype=np.int64)
    mapping[uniq[order]] = np.arange(1, len(uniq) + 1)
    return mapping[labels]


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


def consensus(counts: np.ndarray) -> str:
    """Most frequent letter per column of ``(4 or 5, W)`` counts (rows A,C,G,T[,N])."""
    letters = "ACGTN"[: counts.shape[0]]
    return "".join(letters[i] for i in np.asarray(counts).argmax(axis=0))


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
    X = X[:, :4]
    Xrc = X[:, ::-1, ::-1]
    places = _placements(max_shift)

    def build(choice):
        counts = np.zeros((4, width))
        for p, (s, st) in enumerate(places):
            sel = choice == p
            if sel.any():
                src = X[sel] if st == 1 else Xrc[sel]
                counts[:, max_shift + s:max_shift + s + k] += np.einsum("n,nck->ck", weights[sel], src)
        return counts

    choice = np.zeros(n, dtype=np.int64)  # placement 0 = (0, +)
    counts = build(choice)
    for _ in range(n_iter):
        total = counts.sum(axis=0, keepdims=True)
        logodds = np.log2((counts + pseudocount * 0.25) / (total + pseudocount) / 0.25)
        scores = np.stack([np.einsum("nck,ck->n", X if st == 1 else Xrc,
                                     logodds[:, max_shift + s:max_shift + s + k]) for s, st in places], axis=1)
        new = scores.argmax(axis=1)
        if np.array_equal(new, choice):
            break
        choice = new
        counts = build(choice)
    shift = np.array([places[c][0] for c in choice], dtype=np.int64)
    strand = np.array([places[c][1] for c in choice], dtype=np.int64)
    return shift, strand, counts


# ---------------------------------------------------------------- main entry


def cluster_kmers(kmers, n_clusters: int | None = 10, distance_threshold: float | None = None, *,
                  align: bool = True, min_cluster_size: int = 10, seed: int = 0,
                  exact_limit: int = EXACT_LIMIT, max_shift: int | None = None,
                  ic_threshold: float = 0.3) -> ClusterResult:
    """Cluster saliency k-mers and build one motif per large enough cluster.

    Parameters
    ----------
    kmers : DataFrame or sequence of str
        Equal-length k-mers (a :func:`~wtko_captum.kmers.saliency_kmers` table, whose ``label``
        and ``score`` columns then fill per-cluster class counts and mean score).
    n_clusters, distance_threshold :
        Exactly one: cut the average-linkage tree into ``n_clusters`` (paper: 10) or at cosine
        distance ``distance_threshold`` (0..1; a fraction of mismatched positions).
    align : bool
        Align k-mers by shift and strand before building matrices (default on).
    min_cluster_size : int
        Clusters with fewer k-mers are listed but get no motif (paper: 10).
    seed : int
        Seeds the two-stage subsample (the exact method is deterministic).
    exact_limit : int
        Largest number of k-mers clustered exactly (see module docstring).
    max_shift : int, optional
        Largest alignment shift in bp (default ``k // 4``).
    ic_threshold : float
        Bits a column needs to be part of a core motif (see :func:`core_span`).

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
    params = dict(n_clusters=n_clusters, distance_threshold=distance_threshold, align=align,
                  min_cluster_size=min_cluster_size, seed=seed, exact_limit=exact_limit,
                  max_shift=max_shift, ic_threshold=ic_threshold, k=k, n_kmers=n)
    return ClusterResult(labels, shift, strand, pd.DataFrame(rows, columns=CLUSTER_COLUMNS), motifs,
                         unaligned_motifs, counts_by, nsites, method, params)


# ---------------------------------------------------------------- outputs


def plot_logo(probs: np.ndarray, path, title: str = "") -> Path:
    """Information-content logo (bits) of a ``(4, W)`` probability matrix, as PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import logomaker
    import matplotlib.pyplot as plt

    from .atomic import atomic_path

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
    from .atomic import write_text

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
    from track_exporters.meme import write_meme

    from .atomic import write_text

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    table = kmers if isinstance(kmers, pd.DataFrame) else pd.DataFrame({"kmer": list(kmers)})
    written = [write_text(outdir / "clusters.tsv", result.table.to_csv(sep="\t", index=False))]
    if result.motifs:
        written += write_meme(outdir / "clusters.meme", result.motifs, nsites=result.nsites)
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
