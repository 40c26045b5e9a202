"""``enrich``: known-motif enrichment between the two classes (the paper's HOMER validation),
and the AgentBind 5-mer enrichment of high-attribution windows.

Known motifs: every database motif is scanned over the sequences of one split with FIMO
(memelite) at p < 1e-4, both strands. A sequence "has" a motif when it holds at least one
hit. Per motif and class: sequences with a hit, the percentage, Fisher's exact test (two-sided,
scipy) of hit/no-hit x class, Benjamini-Hochberg q over all motifs. ``enriched_in`` is the
class with the larger percentage.

k-mers (``kmer_enrichment(attrset, k=5)``): every k-mer window of the positive sequences is
scored by the mean per-position attribution over its k bases; the top 1% of windows are "top
k-mers"; for each distinct k-mer a one-sided Fisher's exact test (top vs the rest) and its
odds ratio say whether it is over-represented among the top windows.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from wtko_captum.core.errors import InputError
from wtko_captum.motifs.tomtom import benjamini_hochberg

log = logging.getLogger("wtko_captum")

ENRICH_COLUMNS = ["motif", "motif_id", "motif_name", "n_hits_{a}", "n_{a}", "pct_{a}", "n_hits_{b}",
                  "n_{b}", "pct_{b}", "odds_ratio", "p_value", "q_value", "enriched_in"]


@dataclass
class EnrichResult:
    """What :func:`enrich` computed and wrote.

    table: one row per motif (see :func:`motif_enrichment`); kmers: the k-mer table or None;
    paths: the files written, by role.
    """

    table: pd.DataFrame
    kmers: pd.DataFrame | None = None
    paths: dict = field(default_factory=dict)


def scan_presence(motifs: dict[str, np.ndarray], X: np.ndarray, *, p: float = 1e-4) -> np.ndarray:
    """``(n_motifs, N)`` bool: whether sequence n has a FIMO hit of each motif at p < ``p``.

    X is ``(N, 4, L)`` one-hot; a window holding an N (all-zero column) is never a hit. Both
    strands are scanned.
    """
    from memelite import fimo

    X = np.ascontiguousarray(X, dtype=np.float32)
    keys = list(motifs)
    pwms = {k: np.asarray(motifs[k], dtype=np.float64) for k in keys}
    presence = np.zeros((len(keys), len(X)), dtype=bool)
    if len(X) == 0:
        return presence
    hits = fimo(pwms, X, threshold=p)
    index = {k: i for i, k in enumerate(keys)}
    # memelite scores an N (all-zero column) as 0, so a weak motif "matches" N padding or a
    # masked core; FIMO proper never scores a window holding one, and neither do we
    n_before = np.zeros((len(X), X.shape[-1] + 1), dtype=np.int32)
    np.cumsum(X.sum(axis=1) == 0, axis=1, out=n_before[:, 1:])
    for df in hits:
        if len(df) == 0:
            continue
        # memelite names reverse-strand scans "<name>-rc" in some versions; map both back
        names = df["motif_name"].astype(str).str.replace(r"-rc$", "", regex=True)
        rows = names.map(index).to_numpy()
        seqs = df["sequence_name"].astype(np.int64).to_numpy()
        clean = n_before[seqs, df["end"].to_numpy()] == n_before[seqs, df["start"].to_numpy()]
        presence[rows.astype(np.int64)[clean], seqs[clean]] = True
    return presence


def fisher_table(a_hits, a_n, b_hits, b_n, alternative: str = "two-sided") -> tuple[np.ndarray, np.ndarray]:
    """Fisher's exact test of each row's 2x2 table [[a_hits, a_n - a_hits], [b_hits, b_n - b_hits]].

    Returns (odds ratios, p-values). The odds ratio is the sample one (inf/0/nan possible);
    scipy's ``fisher_exact`` computes both.
    """
    from scipy.stats import fisher_exact

    a_hits, a_n = np.asarray(a_hits, dtype=np.int64), np.broadcast_to(np.asarray(a_n, np.int64), np.shape(a_hits))
    b_hits, b_n = np.asarray(b_hits, dtype=np.int64), np.broadcast_to(np.asarray(b_n, np.int64), np.shape(b_hits))
    odds, pvals = np.empty(len(a_hits)), np.empty(len(a_hits))
    cache: dict[tuple, tuple] = {}
    for i, key in enumerate(zip(a_hits, a_n, b_hits, b_n)):
        if key not in cache:
            ah, an, bh, bn = (int(v) for v in key)
            res = fisher_exact([[ah, an - ah], [bh, bn - bh]], alternative=alternative)
            cache[key] = (float(res[0]), float(res[1]))
        odds[i], pvals[i] = cache[key]
    return odds, pvals


def motif_enrichment(presence: np.ndarray, labels: np.ndarray, motif_keys: list[str],
                     class_names: list[str]) -> pd.DataFrame:
    """The enrichment table from a presence matrix.

    Parameters
    ----------
    presence : (n_motifs, N) bool
    labels : (N,) int class index per sequence (0 or 1)
    motif_keys : "ID NAME" per motif row
    class_names : names of classes 0 and 1 (e.g. ["KO", "WT"])

    Returns
    -------
    DataFrame
        motif, motif_id, motif_name, n_hits_<c>, n_<c>, pct_<c> for the two classes (class 1
        first: WT by default), odds_ratio (odds of a hit in class 1 over class 0), p_value
        (two-sided Fisher), q_value (BH over motifs), enriched_in; sorted by p-value.
    """
    labels = np.asarray(labels)
    a, b = class_names[1], class_names[0]
    in_a, in_b = labels == 1, labels == 0
    n_a, n_b = int(in_a.sum()), int(in_b.sum())
    if n_a == 0 or n_b == 0:
        raise InputError(f"enrichment needs sequences of both classes; got {n_a} {a} and {n_b} {b}")
    hits_a, hits_b = presence[:, in_a].sum(axis=1), presence[:, in_b].sum(axis=1)
    odds, pvals = fisher_table(hits_a, n_a, hits_b, n_b)
    pct_a, pct_b = 100.0 * hits_a / n_a, 100.0 * hits_b / n_b
    ids = [k.split()[0] for k in motif_keys]
    names = [k.split(None, 1)[1] if len(k.split(None, 1)) > 1 else k for k in motif_keys]
    df = pd.DataFrame({
        "motif": motif_keys, "motif_id": ids, "motif_name": names,
        f"n_hits_{a}": hits_a, f"n_{a}": n_a, f"pct_{a}": pct_a,
        f"n_hits_{b}": hits_b, f"n_{b}": n_b, f"pct_{b}": pct_b,
        "odds_ratio": odds, "p_value": pvals, "q_value": benjamini_hochberg(pvals),
        "enriched_in": np.where(pct_a > pct_b, a, np.where(pct_b > pct_a, b, "-")),
    })
    return df.sort_values(["p_value", "motif_id"], kind="stable").reset_index(drop=True)


def top_for_class(table: pd.DataFrame, class_name: str, n: int = 10, q: float | None = None) -> pd.DataFrame:
    """The ``n`` most significant motifs enriched in ``class_name`` (optionally q <= ``q``)."""
    sub = table[table["enriched_in"] == class_name]
    if q is not None:
        sub = sub[sub["q_value"] <= q]
    return sub.head(n)


def plot_enrichment(table: pd.DataFrame, class_names: list[str], path, *, top: int = 20) -> Path:
    """Bar plot of % sequences with a hit, class 1 vs class 0, for the ``top`` motifs by p."""
    from wtko_captum.core.figures import new_figure, save_figure

    a, b = class_names[1], class_names[0]
    sub = table.head(top)
    fig = new_figure(max(6.0, 0.45 * len(sub) + 2), 4.2)
    ax = fig.add_subplot(111)
    x = np.arange(len(sub))
    ax.bar(x - 0.2, sub[f"pct_{a}"], width=0.4, label=a, color="#0072B2")
    ax.bar(x + 0.2, sub[f"pct_{b}"], width=0.4, label=b, color="#D55E00")
    labels = [f"{n}\n(q={q:.1g})" for n, q in zip(sub["motif_name"], sub["q_value"])]
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("% sequences with a FIMO hit")
    ax.set_title(f"known-motif enrichment: {a} vs {b} (top {len(sub)} by Fisher p)")
    ax.legend()
    return save_figure(fig, path)


def kmer_enrichment(attrset, k: int = 5, *, top_fraction: float = 0.01, positive=None,
                    score: str = "projected", canonical: bool = False, exclude=None) -> pd.DataFrame:
    """AgentBind k-mer enrichment: which k-mers the highest-attribution windows are made of.

    Parameters
    ----------
    attrset : AttributionSet (X, attr ``(N, 4, L)``, regions with ``label``)
    k : int
        k-mer length (5 as published).
    top_fraction : float
        Fraction of all k-mer windows (by mean score) called "top" (0.01 as published).
    positive : int or str, optional
        Which sequences are slid over: a class index or class name (rows whose ``label`` is
        it). Default: the attribution target when it names a class, else every sequence.
    score : {"projected", "maxabs"}
        Per-position score (see :meth:`AttributionSet.per_position`).
    canonical : bool
        Count a k-mer and its reverse complement as one (the lexicographically smaller).
    exclude : bool array ``(N, L)``, optional
        Bases no k-mer window may touch (AgentBind excluded the core motif:
        :func:`core_mask`); one row per sequence of ``attrset``.

    Returns
    -------
    DataFrame
        kmer, n_top, n_total, frac_top, odds_ratio, p_value (one-sided Fisher, over-
        representation among top windows), q_value (BH), mean_score; sorted by p-value.
        Windows with an N are skipped.
    """
    from wtko_captum.core.sequence import encode_indices, decode, reverse_complement

    if k < 1 or not 0 < top_fraction < 1:
        raise InputError("need k >= 1 and 0 < top_fraction < 1", value=(k, top_fraction))
    rows = _positive_rows(attrset, positive)
    if not rows.any():
        raise InputError("no positive sequences to slide k-mers over", value=positive)
    pos_scores = attrset.per_position(score)[rows]
    seqs = decode(attrset.X[rows])
    idx = encode_indices(seqs)
    n, length = idx.shape
    if length < k:
        raise InputError(f"sequences of {length} bp are shorter than k={k}")
    # mean score of every window: cumulative sums, (n, L-k+1)
    c = np.concatenate([np.zeros((n, 1)), np.cumsum(pos_scores, axis=1, dtype=np.float64)], axis=1)
    win_score = (c[:, k:] - c[:, :-k]) / k
    windows = np.lib.stride_tricks.sliding_window_view(idx, k, axis=1)  # (n, L-k+1, k)
    valid = (windows < 4).all(axis=2)
    if exclude is not None:
        exclude = np.asarray(exclude, dtype=bool)
        if exclude.shape != (len(attrset), length):
            raise InputError(f"exclusion mask {exclude.shape} does not fit the attributions "
                             f"({len(attrset)}, {length})")
        c_ex = np.concatenate([np.zeros((n, 1), np.int64), np.cumsum(exclude[rows], axis=1)], axis=1)
        valid &= (c_ex[:, k:] - c_ex[:, :-k]) == 0
    if not valid.any():
        raise InputError(f"no {k}-mer window is left (every window holds an N or an excluded base)")
    codes = (windows.astype(np.int64) * (4 ** np.arange(k - 1, -1, -1))).sum(axis=2)
    codes, win_score = codes[valid], win_score[valid]
    if canonical:
        rc_codes = ((3 - windows[valid]).astype(np.int64)[:, ::-1] * (4 ** np.arange(k - 1, -1, -1))).sum(axis=1)
        codes = np.minimum(codes, rc_codes)
    n_top = max(1, int(round(top_fraction * len(codes))))
    # stable order: ties in score broken by position, so the result is deterministic
    order = np.argsort(-win_score, kind="stable")
    is_top = np.zeros(len(codes), dtype=bool)
    is_top[order[:n_top]] = True
    uniq, inv = np.unique(codes, return_inverse=True)
    total = np.bincount(inv, minlength=len(uniq))
    top = np.bincount(inv, weights=is_top, minlength=len(uniq)).astype(np.int64)
    mean_score = np.bincount(inv, weights=win_score, minlength=len(uniq)) / total
    # 2x2: [[kmer in top, kmer not in top], [others in top, others not in top]]
    odds, pvals = fisher_table(top, total, n_top - top, len(codes) - total, alternative="greater")
    kmers = ["".join("ACGT"[(u // 4 ** (k - 1 - j)) % 4] for j in range(k)) for u in uniq]
    df = pd.DataFrame({"kmer": kmers, "n_top": top, "n_total": total, "frac_top": top / total,
                       "odds_ratio": odds, "p_value": pvals, "q_value": benjamini_hochberg(pvals),
                       "mean_score": mean_score})
    if canonical:
        df["reverse_complement"] = [reverse_complement(s) for s in kmers]
    return df.sort_values(["p_value", "kmer"], kind="stable").reset_index(drop=True)


def core_mask(attrset, data) -> np.ndarray:
    """``(N, L)`` bool: the core motif's bases in each window of ``attrset``.

    ``data`` is the prepared-data directory (or :class:`~wtko_captum.core.dataset.PreparedData`)
    written by ``wtko prepare --motif-instances``, whose ``regions.tsv`` holds each window's motif
    instance in ``peak_start``/``peak_end`` (genome coordinates). Windows are matched by name.
    """
    from wtko_captum.core.dataset import PreparedData, load_prepared

    data = data if isinstance(data, PreparedData) else load_prepared(data)
    if data.meta.get("kind") != "motif_instances":
        raise InputError("--exclude-core needs data prepared with `wtko prepare --motif-instances` (its "
                         "regions.tsv holds the core motif of each window)", path=data.path)
    table = data.regions.set_index(data.regions["name"].astype(str))
    names = attrset.regions["name"].astype(str)
    missing = [n for n in names if n not in table.index]
    if missing:
        raise InputError(f"{len(missing)} attribution window(s) are not in the prepared data (first: "
                         f"{missing[0]}); use the data the attributions were made from", path=data.path)
    rows = table.loc[names]
    length = attrset.X.shape[-1]
    pos = np.arange(length)
    s = (rows["peak_start"] - rows["start"]).to_numpy()[:, None]
    e = (rows["peak_end"] - rows["start"]).to_numpy()[:, None]
    return (pos >= s) & (pos < e)


def _positive_rows(attrset, positive) -> np.ndarray:
    labels = attrset.regions["label"].to_numpy()
    names = list(attrset.class_names)
    if positive is None:
        positive = attrset.target
        if isinstance(positive, str) and positive not in names:
            positive = None  # e.g. "pred" or "diff": no single class
    if positive is None:
        return np.ones(len(attrset), dtype=bool)
    if isinstance(positive, str) and not positive.lstrip("-").isdigit():
        if positive not in names:
            raise InputError(f"unknown class {positive!r}; classes: {', '.join(names)}")
        positive = names.index(positive)
    return labels == int(positive)


def enrich(data_dir, out=None, split: str = "test", motif_db=None, p: float = 1e-4, *, top: int = 20,
           kmer_k: int | None = None, attr=None, kmer_top_fraction: float = 0.01,
           kmer_positive=None, kmer_canonical: bool = False, exclude_core: bool = False) -> EnrichResult:
    """Known-motif enrichment of one split of a prepared-data directory (and k-mers).

    Parameters
    ----------
    data_dir : path or PreparedData
        Output of ``wtko prepare``.
    out : path, optional
        Output directory: ``enrichment.tsv``, ``enrichment.png``, ``summary.md`` (and
        ``kmer_enrichment.tsv`` with ``kmer_k``). Nothing is written when None.
    split : {"test", "val", "train", "all"}
        Which sequences (the paper validated on the test split).
    motif_db : dict or path, optional
        Motif database (default: bundled JASPAR 2020 CORE vertebrates).
    p : float
        FIMO p-value threshold for a hit (1e-4, FIMO's default).
    top : int
        Motifs in the bar plot.
    kmer_k : int, optional
        Also run :func:`kmer_enrichment` with this k on the AttributionSet ``attr``.
    attr : path or AttributionSet, optional
        Needed with ``kmer_k``.
    exclude_core : bool
        k-mer windows touching the core motif are left out (data from ``wtko prepare
        --motif-instances``; :func:`core_mask`).

    Returns
    -------
    EnrichResult
    """
    from wtko_captum.core.atomic import atomic_dir
    from wtko_captum.core.attribution_set import AttributionSet
    from wtko_captum.core.dataset import PreparedData, load_prepared
    from wtko_captum.motifs.tomtom import read_motifs
    from wtko_captum.core.motif_db import load_motifs

    data = data_dir if isinstance(data_dir, PreparedData) else load_prepared(data_dir)
    sub = data.split(split)
    if len(sub) == 0:
        raise InputError(f"split {split!r} holds no sequences (use --split all, train or val)",
                         path=getattr(data, "path", None))
    db = read_motifs(motif_db) if motif_db is not None else load_motifs()
    class_names = data.class_names
    log.info("FIMO scan of %d motifs over %d %s sequences (p < %g)", len(db), len(sub), split, p)
    presence = scan_presence(db, sub.X, p=p)
    table = motif_enrichment(presence, sub.y, list(db), class_names)
    kmers = None
    if kmer_k:
        if attr is None:
            raise InputError("k-mer enrichment needs an attribution directory (--attr)")
        aset = attr if isinstance(attr, AttributionSet) else AttributionSet.load(attr)
        kmers = kmer_enrichment(aset, kmer_k, top_fraction=kmer_top_fraction,
                                positive=kmer_positive, canonical=kmer_canonical,
                                exclude=core_mask(aset, data) if exclude_core else None)
    elif exclude_core:
        raise InputError("--exclude-core applies to the k-mer enrichment: add --kmer-enrichment K --attr DIR")
    result = EnrichResult(table, kmers)
    if out is not None:
        out = Path(out)
        with atomic_dir(out) as tmp:
            table.to_csv(tmp / "enrichment.tsv", sep="\t", index=False, float_format="%.6g")
            plot_enrichment(table, class_names, tmp / "enrichment.png", top=top)
            if kmers is not None:
                kmers.to_csv(tmp / "kmer_enrichment.tsv", sep="\t", index=False, float_format="%.6g")
            (tmp / "summary.md").write_text(summary_markdown(table, class_names, kmers, split=split, p=p))
        names = ["enrichment.tsv", "enrichment.png", "summary.md"] + (["kmer_enrichment.tsv"] if kmers is not None else [])
        result.paths = {n: out / n for n in names}
    return result


def summary_markdown(table: pd.DataFrame, class_names: list[str], kmers: pd.DataFrame | None = None,
                     *, split: str = "test", p: float = 1e-4, n: int = 8, q: float = 0.05) -> str:
    """A short markdown report: the top motifs enriched in each class (q <= 0.05)."""
    a, b = class_names[1], class_names[0]
    lines = [f"# Known-motif enrichment ({split} split, FIMO p < {p:g})", ""]
    for cls, other in ((a, b), (b, a)):
        best = top_for_class(table, cls, n=n, q=q)
        lines.append(f"## Enriched in {cls} (q <= {q:g}): {int(((table['enriched_in'] == cls) & (table['q_value'] <= q)).sum())} motifs")
        lines.append("")
        if len(best):
            lines.append(f"| motif | % {cls} | % {other} | odds ratio ({cls}/{other}) | q |")
            lines.append("|---|---|---|---|---|")
            for _, r in best.iterrows():
                # the table's odds ratio is class 1 over class 0: invert it for class 0's rows
                odds = r["odds_ratio"] if cls == a else (1 / r["odds_ratio"] if r["odds_ratio"] else np.inf)
                lines.append(f"| {r['motif_id']} {r['motif_name']} | {r[f'pct_{cls}']:.1f} | "
                             f"{r[f'pct_{other}']:.1f} | {odds:.3g} | {r['q_value']:.2g} |")
        else:
            lines.append("(none)")
        lines.append("")
    if kmers is not None:
        lines += ["## k-mers over-represented among the top-scoring windows", "",
                  "| k-mer | in top | total | odds ratio | q |", "|---|---|---|---|---|"]
        for _, r in kmers.head(n).iterrows():
            lines.append(f"| {r['kmer']} | {r['n_top']} | {r['n_total']} | {r['odds_ratio']:.3g} | {r['q_value']:.2g} |")
        lines.append("")
    return "\n".join(lines)
