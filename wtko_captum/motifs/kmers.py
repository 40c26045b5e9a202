"""Saliency k-mers: the WTKO paper's rule for turning attributions into sequence snippets.

For every sequence of an :class:`~wtko_captum.core.attribution_set.AttributionSet` the ``top``
positions with the highest per-position score (default ``maxabs``: max over the 4 channels of
|attribution|, the paper's max|gradient|) are "saliency peaks"; a ``k`` bp window centred on each
peak is cut out of the sequence and N-padded where it runs past the window's edge.

Centring (fixed, also for even ``k``): the k-mer of a peak at window position ``p`` covers
window positions ``[p - k // 2, p - k // 2 + k)``, so the peak base sits at 0-based offset
``k // 2`` of the k-mer: for ``k = 20`` ten bases before it and nine after, for ``k = 21`` ten
on each side.

Coordinates are 0-based half-open. Window base ``i`` of region ``n`` is genome base
``regions.start[n] + i`` (the AttributionSet convention); a k-mer's genome interval is
``[start + p - k // 2, start + p - k // 2 + k)``, always ``k`` long, including the N-padded
part outside the window (``pad_left`` / ``pad_right`` say how many bases of each end are that
padding, so ``[start + pad_left, end - pad_right)`` are the bases actually taken from the window).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from wtko_captum.core.errors import InputError
from wtko_captum.core.registry import motif_finder

KMER_COLUMNS = ["seq_index", "name", "chrom", "start", "end", "strand", "position", "rank", "score",
                "kmer", "label", "prediction", "pad_left", "pad_right"]
SCORES = ("maxabs", "projected", "abs_projected")
_LETTERS = np.frombuffer(b"ACGTN", dtype=np.uint8)


def position_scores(attrset, score: str = "maxabs") -> np.ndarray:
    """``(N, L)`` per-position score used to rank saliency peaks.

    ``maxabs``: max over channels of |attr| (the paper; sign-blind).
    ``projected``: attr x one-hot summed over channels (signed: only positive evidence ranks high).
    ``abs_projected``: |projected| (either sign).
    """
    if score == "abs_projected":
        return np.abs(attrset.per_position("projected"))
    if score in SCORES:
        return attrset.per_position(score)
    raise InputError(f"unknown k-mer score {score!r}; use one of {', '.join(SCORES)}")


def top_positions(scores: np.ndarray, top: int = 3, min_distance: int = 0) -> np.ndarray:
    """The ``top`` highest-scoring positions of each row, greedily, best first.

    Parameters
    ----------
    scores : ndarray (N, L)
    top : int
        Peaks per sequence (fewer when the sequence runs out of allowed positions).
    min_distance : int
        Minimum distance ``|p - q|`` in bp between two peaks of one sequence; a position closer
        than this to an already chosen peak is skipped. 0 or 1 = no constraint (the published
        rule, where the top positions are often neighbours); ``min_distance = k`` makes the
        k-mers of a sequence non-overlapping.

    Returns
    -------
    ndarray (N, top) int64
        Positions, ``-1`` where no position was left. Ties go to the lower position.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2:
        raise InputError(f"scores must be (N, L), got shape {scores.shape}")
    if top < 1:
        raise InputError("top must be >= 1", value=top)
    if min_distance < 0:
        raise InputError("min_distance must be >= 0", value=min_distance)
    n, length = scores.shape
    # NaN scores (e.g. an attribution that failed on a window) never become peaks
    work = np.where(np.isnan(scores), -np.inf, scores)
    out = np.full((n, top), -1, dtype=np.int64)
    rows = np.arange(n)
    positions = np.arange(length)
    free = np.ones((n, length), dtype=bool)
    for t in range(min(top, length)):
        masked = np.where(free, work, -np.inf)
        best = masked.argmax(axis=1)  # argmax returns the first (lowest) position among ties
        ok = free[rows, best] & np.isfinite(masked[rows, best])
        out[ok, t] = best[ok]
        if min_distance > 1:
            near = np.abs(positions[None, :] - best[:, None]) < min_distance
            free &= ~(near & ok[:, None])
        free[rows[ok], best[ok]] = False
    return out


def _base_indices(X: np.ndarray) -> np.ndarray:
    """``(N, L)`` int8: 0..3 for A,C,G,T, 4 for an all-zero (N) column."""
    return np.where(X.sum(axis=1) > 0, X.argmax(axis=1), 4).astype(np.int8)


def cut_kmers(X: np.ndarray, seq_index: np.ndarray, position: np.ndarray, k: int) -> np.ndarray:
    """``(M,)`` k-mer strings centred on ``position`` of sequences ``seq_index`` of ``X``.

    ``X`` is ``(N, 4, L)`` one-hot; the k-mer covers ``[position - k // 2, position - k // 2 + k)``
    and is N-padded outside ``[0, L)``.
    """
    if k < 1:
        raise InputError("k must be >= 1", value=k)
    idx = _base_indices(np.asarray(X))
    padded = np.pad(idx, ((0, 0), (k, k)), constant_values=4)
    offsets = np.asarray(position)[:, None] - k // 2 + k + np.arange(k)[None, :]
    letters = _LETTERS[padded[np.asarray(seq_index)[:, None], offsets]]
    return np.array([row.tobytes().decode("ascii") for row in letters], dtype=object)


def saliency_kmers(attrset, k: int = 20, top: int = 3, min_distance: int = 0,
                   score: str = "maxabs") -> pd.DataFrame:
    """Cut the saliency k-mers of an AttributionSet (the WTKO paper's rule).

    Parameters
    ----------
    attrset : AttributionSet
        ``X`` and ``attr`` ``(N, 4, L)``; regions give each window's genome interval.
    k : int
        k-mer length in bp (paper: 20). Centring: the peak is at 0-based offset ``k // 2``.
    top : int
        Saliency peaks per sequence (paper: 3).
    min_distance : int
        Minimum bp between two peaks of one sequence (0 = published rule; see
        :func:`top_positions`).
    score : str
        Per-position score: ``maxabs`` (paper), ``projected`` or ``abs_projected``.

    Returns
    -------
    DataFrame
        One row per k-mer, sequences in input order and peaks best first, columns
        :data:`KMER_COLUMNS`: ``seq_index`` (row of the AttributionSet), ``name``, ``chrom``,
        ``start``/``end`` (the k-mer's genome interval, 0-based half-open, ``k`` long),
        ``strand`` (the region's), ``position`` (0-based peak position in the window), ``rank``
        (1 = best peak of its sequence), ``score``, ``kmer`` (N-padded at window edges),
        ``label``, ``prediction``, ``pad_left``/``pad_right`` (N added at each end).
    """
    if k < 1:
        raise InputError("k must be >= 1", value=k)
    scores = position_scores(attrset, score)
    peaks = top_positions(scores, top=top, min_distance=min_distance)
    seq_index, rank0 = np.nonzero(peaks >= 0)
    position = peaks[seq_index, rank0]
    length = attrset.X.shape[-1]
    left = position - k // 2
    regions = attrset.regions
    start = regions["start"].to_numpy(np.int64)[seq_index] + left
    table = pd.DataFrame({
        "seq_index": seq_index.astype(np.int64),
        "name": regions["name"].astype(str).to_numpy()[seq_index],
        "chrom": regions["chrom"].astype(str).to_numpy()[seq_index],
        "start": start,
        "end": start + k,
        "strand": regions["strand"].astype(str).to_numpy()[seq_index],
        "position": position,
        "rank": rank0 + 1,
        "score": scores[seq_index, position].astype(np.float64),
        "kmer": cut_kmers(attrset.X, seq_index, position, k) if len(position) else np.array([], dtype=object),
        "label": regions["label"].to_numpy()[seq_index],
        "prediction": regions["prediction"].to_numpy()[seq_index],
        "pad_left": np.clip(-left, 0, k),
        "pad_right": np.clip(left + k - length, 0, k),
    })
    return table[KMER_COLUMNS]


def kmers_bed(kmers: pd.DataFrame) -> pd.DataFrame:
    """The k-mers as BED6+ rows: the part of each k-mer taken from its window.

    chrom, start, end (``[start + pad_left, end - pad_right)``, clipped at 0), name
    (``<region>:<rank>``), score (the saliency score), strand, then kmer, position, label,
    prediction, seq_index (and cluster when the table has one). K-mers with no base inside
    the genome (start clipped past end) are left out.
    """
    start = np.maximum(kmers["start"].to_numpy() + kmers["pad_left"].to_numpy(), 0)
    end = kmers["end"].to_numpy() - kmers["pad_right"].to_numpy()
    keep = end > start  # a peak in the N padding of a window that starts before base 0
    kmers, start, end = kmers[keep], start[keep], end[keep]
    bed = pd.DataFrame({
        "chrom": kmers["chrom"].to_numpy(),
        "start": start,
        "end": np.maximum(end, start),
        "name": (kmers["name"].astype(str) + ":" + kmers["rank"].astype(str)).to_numpy(),
        "score": kmers["score"].to_numpy(),
        "strand": kmers["strand"].to_numpy(),
        "kmer": kmers["kmer"].to_numpy(),
        "position": kmers["position"].to_numpy(),
        "label": kmers["label"].to_numpy(),
        "prediction": kmers["prediction"].to_numpy(),
        "seq_index": kmers["seq_index"].to_numpy(),
    })
    if "cluster" in kmers:
        bed["cluster"] = kmers["cluster"].to_numpy()
    return bed


def read_kmers(path) -> pd.DataFrame:
    """Read a ``kmers.tsv`` written by ``wtko kmers`` (needs at least a ``kmer`` column)."""
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise InputError("k-mer table not found", path=path)
    table = pd.read_csv(path, sep="\t", dtype={"chrom": str, "kmer": str, "name": str})
    if "kmer" not in table:
        raise InputError("k-mer table has no 'kmer' column", path=path)
    return table


@motif_finder(input="attributions",
              description="the WTKO paper's saliency k-mers, clustered into aligned motifs (agglomerative, cosine)")
def kmer_motifs(attributions, out, *, k: int = 20, top: int = 3, min_distance: int = 0,
                score: str = "maxabs", n_clusters: int | None = 10, distance_threshold: float | None = None,
                align: bool = True, min_cluster_size: int = 10, exact_limit: int = 5000, seed: int = 0,
                cluster: bool = True, tomtom: bool = True, motif_db=None) -> dict:
    """The whole ``wtko kmers`` stage: k-mers, clusters, motifs and their files under ``out``.

    Parameters
    ----------
    attributions : AttributionSet, or a path any attribution reader claims
        The scores to cut k-mers from.
    out : path
        Output directory.
    k : int
        k-mer length in bp, the peak at offset k//2
    top : int
        saliency peaks per sequence
    min_distance : int
        minimum bp between two peaks of a sequence (0 = the published rule)
    score : str
        per-position score: maxabs (the paper's max|gradient|), projected or abs_projected
    n_clusters : int
        number of clusters
    distance_threshold : float
        cut the tree at this cosine distance instead of at n_clusters
    align : bool
        align each k-mer to its cluster by shift and strand before building its matrix
    min_cluster_size : int
        smallest cluster turned into a motif
    exact_limit : int
        most distinct k-mers clustered exactly; above it, two-stage clustering
    seed : int
        random seed of the two-stage clustering
    cluster : bool
        cluster the k-mers (else only the k-mer table and BED)
    tomtom : bool
        compare the cluster motifs with the motif database (alignment.tsv)
    motif_db : path
        motif database for the comparison (default: bundled JASPAR 2020)

    Writes ``kmers.tsv`` (with
    ``cluster``, ``align_shift``, ``align_strand`` when clustered), ``kmers.bed`` (BED6+ through
    the ``bed`` exporter, name = cluster), and through
    :func:`wtko_captum.motifs.cluster.write_clusters` ``clusters.tsv``, ``clusters.meme``, ``logos/``,
    ``fasta/`` (``meme/`` when MEME is on PATH); with ``tomtom`` also ``alignment.tsv``
    (:func:`wtko_captum.motifs.cluster.alignment_report` against ``database``, default JASPAR).

    Returns ``dict(kmers=DataFrame, result=ClusterResult or None, alignment=DataFrame or None,
    out=Path)``.
    """
    from pathlib import Path

    from wtko_captum.core.export import export

    from wtko_captum.core.atomic import output_dir, write_text
    from wtko_captum.core.readers import read

    attrset = read(attributions, kind="attributions")
    if distance_threshold is not None:
        n_clusters = None
    out = Path(out)
    table = saliency_kmers(attrset, k=k, top=top, min_distance=min_distance, score=score)
    result = report = None
    if cluster and len(table):
        from wtko_captum.motifs.cluster import alignment_report, cluster_kmers, write_clusters

        result = cluster_kmers(table, n_clusters, distance_threshold, align=align,
                               min_cluster_size=min_cluster_size, seed=seed, exact_limit=exact_limit)
        table["cluster"] = result.labels
        table["align_shift"] = result.shift
        table["align_strand"] = result.strand
        write_clusters(result, table, out)
        if tomtom and result.motifs:
            report = alignment_report(result, motif_db)
            write_text(out / "alignment.tsv", report.to_csv(sep="\t", index=False))
    output_dir(out)
    write_text(out / "kmers.tsv", table.to_csv(sep="\t", index=False))
    bed = kmers_bed(table)
    if "cluster" in bed:
        bed["name"] = "cluster" + bed["cluster"].astype(str)
    if len(bed):
        export("bed", bed, out / "kmers.bed", extra_cols=[c for c in ("kmer", "position", "label", "prediction",
                                                                   "seq_index") if c in bed])
    return {"kmers": table, "result": result, "alignment": report, "out": out}
