"""``compare``: which TF-MoDISco pattern is which saliency k-mer cluster.

Inputs are the two output directories:

* ``modisco_dir`` (``wtko modisco``): ``patterns.pfm.meme``, ``patterns.tsv``, ``seqlets.tsv``;
* ``kmers_dir`` (``wtko kmers``): ``clusters.meme`` (keys ``clusterC CONSENSUS``),
  ``clusters.tsv`` and ``kmers.tsv`` (one row per k-mer with its ``cluster``).

Similarity: Tomtom (:mod:`wtko_captum.motifs.tomtom`) of every pattern against every cluster motif and
of every cluster against every pattern. Tomtom's p-values take their null from the target
columns, so a handful of targets gives unreliable p-values (memelite warns below 25): the
targets are therefore the other side's motifs *plus* the JASPAR database, and q-values are
per query over all of them, exactly as if the other side's motifs were added to JASPAR. The
JASPAR rows of the same runs give each side's JASPAR matches.

A pattern and a cluster are a *pair* when each is the other's best match (smallest
``p = max(p pattern->cluster, p cluster->pattern)``) and q <= ``q`` in at least one
direction. Positional agreement of a pair: the fraction of the cluster's k-mers whose peak
base (the k-mer centre, genome coordinates) lies inside a seqlet of the paired pattern.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from wtko_captum.core.errors import InputError

log = logging.getLogger("wtko_captum")


@dataclass
class CompareResult:
    """similarity: one row per pattern x cluster; pairs: matched pairs (+ unmatched motifs of
    either side); jaspar: best JASPAR matches of both sides; paths: files written."""

    similarity: pd.DataFrame
    pairs: pd.DataFrame
    jaspar: pd.DataFrame
    summary: str = ""
    paths: dict = field(default_factory=dict)


def _need(path: Path, what: str) -> Path:
    if not path.is_file():
        raise InputError(f"missing {path.name} ({what})", path=path)
    return path


def load_modisco_dir(path) -> dict:
    """patterns (``{name: (4, W)}`` from patterns.pfm.meme), the patterns table and seqlets."""
    from wtko_captum.core.motif_db import load_motifs

    path = Path(path)
    motifs = load_motifs(_need(path / "patterns.pfm.meme", "run `wtko modisco` first"))
    table = pd.read_csv(_need(path / "patterns.tsv", "wtko modisco output"), sep="\t")
    seqlets = pd.read_csv(_need(path / "seqlets.tsv", "wtko modisco output"), sep="\t",
                          dtype={"chrom": str})
    return {"motifs": motifs, "table": table, "seqlets": seqlets}


def load_kmers_dir(path) -> dict:
    """cluster motifs (clusters.meme), clusters.tsv and kmers.tsv (None when absent)."""
    from wtko_captum.core.motif_db import load_motifs

    path = Path(path)
    motifs = load_motifs(_need(path / "clusters.meme", "run `wtko kmers` first"))
    table = pd.read_csv(_need(path / "clusters.tsv", "wtko kmers output"), sep="\t")
    kmers = None
    if (path / "kmers.tsv").is_file():
        kmers = pd.read_csv(path / "kmers.tsv", sep="\t", dtype={"chrom": str})
    return {"motifs": motifs, "table": table, "kmers": kmers}


def _short(key: str) -> str:
    return key.split()[0]


def directional(queries: dict, targets: dict, db: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tomtom of ``queries`` against ``targets`` + ``db``: (rows whose target is in
    ``targets``, rows whose target is in ``db``), both with q-values over all targets."""
    from wtko_captum.motifs.tomtom import tomtom

    clash = {_short(k) for k in targets} & {_short(k) for k in db}
    if clash:
        raise InputError(f"motif ids occur in both the compared set and the database: {sorted(clash)[:3]}")
    table = tomtom(queries, {**targets, **db}, thresh=1.0)
    own = {_short(k) for k in targets}
    inside = table["Target_ID"].isin(own)
    return table[inside].reset_index(drop=True), table[~inside].reset_index(drop=True)


def similarity_table(pc: pd.DataFrame, cp: pd.DataFrame) -> pd.DataFrame:
    """Join the two directions: one row per (pattern, cluster)."""
    a = pc.rename(columns={"Query_ID": "pattern", "Target_ID": "cluster", "p-value": "p_pc",
                           "q-value": "q_pc", "Optimal_offset": "offset_pc", "Orientation": "strand_pc",
                           "Overlap": "overlap_pc"})[["pattern", "cluster", "p_pc", "q_pc", "offset_pc",
                                                      "strand_pc", "overlap_pc"]]
    b = cp.rename(columns={"Query_ID": "cluster", "Target_ID": "pattern", "p-value": "p_cp",
                           "q-value": "q_cp", "Optimal_offset": "offset_cp", "Orientation": "strand_cp",
                           "Overlap": "overlap_cp"})[["pattern", "cluster", "p_cp", "q_cp", "offset_cp",
                                                      "strand_cp", "overlap_cp"]]
    sim = a.merge(b, on=["pattern", "cluster"], how="outer")
    sim["p"] = sim[["p_pc", "p_cp"]].max(axis=1)
    sim["q"] = sim[["q_pc", "q_cp"]].min(axis=1)
    return sim.sort_values(["pattern", "p"], kind="stable").reset_index(drop=True)


def best_pairs(sim: pd.DataFrame, q: float = 0.05) -> pd.DataFrame:
    """Mutual best (pattern, cluster) pairs with q <= ``q`` in at least one direction."""
    if sim.empty:
        return sim.assign(mutual=pd.Series(dtype=bool))
    best_c = sim.loc[sim.groupby("pattern")["p"].idxmin()]
    best_p = sim.loc[sim.groupby("cluster")["p"].idxmin()][["pattern", "cluster"]]
    mutual = best_c.merge(best_p.assign(mutual=True), on=["pattern", "cluster"], how="left")
    mutual["mutual"] = mutual["mutual"].fillna(False).astype(bool)
    return mutual[mutual["mutual"] & (mutual["q"] <= q)].reset_index(drop=True)


def points_in_intervals(chrom, pos, intervals: pd.DataFrame) -> np.ndarray:
    """Whether each genome base (``chrom[i]``, ``pos[i]``) lies in one of ``intervals``
    (chrom, start, end; 0-based half-open)."""
    chrom, pos = np.asarray(chrom).astype(str), np.asarray(pos, dtype=np.int64)
    hit = np.zeros(len(pos), dtype=bool)
    for c, sub in intervals.groupby(intervals["chrom"].astype(str)):
        sel = np.flatnonzero(chrom == c)
        if not len(sel):
            continue
        # merge overlapping intervals, then one binary search per point
        iv = sub[["start", "end"]].to_numpy(dtype=np.int64)
        iv = iv[np.argsort(iv[:, 0], kind="stable")]
        starts, ends = [iv[0, 0]], [iv[0, 1]]
        for s, e in iv[1:]:
            if s <= ends[-1]:
                ends[-1] = max(ends[-1], e)
            else:
                starts.append(s)
                ends.append(e)
        starts, ends = np.array(starts), np.array(ends)
        j = np.searchsorted(starts, pos[sel], side="right") - 1
        hit[sel] = (j >= 0) & (pos[sel] < ends[np.clip(j, 0, None)])
    return hit


def positional_agreement(kmers: pd.DataFrame | None, seqlets: pd.DataFrame, cluster: str,
                         pattern: str) -> tuple[float, int]:
    """(fraction, n) of cluster ``cluster``'s k-mers whose centre base lies in a seqlet of
    ``pattern``; (nan, 0) when the k-mer table has no cluster column."""
    if kmers is None or "cluster" not in kmers or not {"chrom", "start", "end"} <= set(kmers):
        return float("nan"), 0
    c = int(str(cluster).removeprefix("cluster"))
    sub = kmers[kmers["cluster"] == c]
    if not len(sub):
        return float("nan"), 0
    k = (sub["end"] - sub["start"]).to_numpy()
    centre = sub["start"].to_numpy() + k // 2  # the saliency peak: offset k // 2 of its k-mer
    hit = points_in_intervals(sub["chrom"], centre, seqlets[seqlets["pattern"] == pattern])
    return float(hit.mean()), int(len(sub))


def class_of(n1: int, n0: int, total1: int, total0: int, class_names) -> tuple[str, float]:
    """The class a motif's instances are enriched in (vs all instances of its side) and the
    two-sided Fisher p-value."""
    from scipy.stats import fisher_exact

    if n1 + n0 == 0:
        return "-", 1.0
    p = float(fisher_exact([[n1, n0], [max(total1 - n1, 0), max(total0 - n0, 0)]])[1])
    frac, base = n1 / (n1 + n0), total1 / max(total1 + total0, 1)
    return (class_names[1] if frac > base else class_names[0] if frac < base else "-"), p


def _class_names(pattern_table: pd.DataFrame) -> list[str]:
    cols = [c.removeprefix("seqlets_in_") for c in pattern_table.columns if c.startswith("seqlets_in_")]
    return cols if len(cols) == 2 else ["0", "1"]


def compare(modisco_dir, kmers_dir, out=None, *, motif_db=None, q: float = 0.05) -> CompareResult:
    """Compare modisco patterns with k-mer clusters; write TSVs, a heatmap and a summary.

    Parameters
    ----------
    modisco_dir, kmers_dir : path
        Outputs of ``wtko modisco`` and ``wtko kmers``.
    out : path, optional
        Output directory: ``similarity.tsv``, ``pairs.tsv``, ``jaspar.tsv``, ``heatmap.png``,
        ``summary.md``. Nothing is written when None.
    motif_db : dict or path, optional
        Database used as Tomtom background and for the JASPAR matches (default bundled JASPAR).
    q : float
        q-value a pair (and a JASPAR match) needs.

    Returns
    -------
    CompareResult
    """
    from wtko_captum.core.atomic import atomic_dir
    from wtko_captum.core.motif_db import load_motifs
    from wtko_captum.motifs.tomtom import best_matches, read_motifs

    mod, km = load_modisco_dir(modisco_dir), load_kmers_dir(kmers_dir)
    db = read_motifs(motif_db) if motif_db is not None else load_motifs()
    pc, pj = directional(mod["motifs"], km["motifs"], db)
    cp, cj = directional(km["motifs"], mod["motifs"], db)
    sim = similarity_table(pc, cp)
    pairs = best_pairs(sim, q)
    classes = _class_names(mod["table"])

    # class enrichment of each motif against all instances of its side
    pt = mod["table"].set_index("pattern")
    ct = km["table"].assign(cluster_id=lambda t: "cluster" + t["cluster"].astype(str)).set_index("cluster_id")
    c0, c1 = f"seqlets_in_{classes[0]}", f"seqlets_in_{classes[1]}"
    p_tot1, p_tot0 = int(pt[c1].sum()) if c1 in pt else 0, int(pt[c0].sum()) if c0 in pt else 0
    k_tot1, k_tot0 = int(ct["n_label1"].clip(lower=0).sum()), int(ct["n_label0"].clip(lower=0).sum())

    def pattern_class(name):
        if name not in pt.index or c1 not in pt:
            return "-", 1.0
        return class_of(int(pt.loc[name, c1]), int(pt.loc[name, c0]), p_tot1, p_tot0, classes)

    def cluster_class(name):
        if name not in ct.index:
            return "-", 1.0
        return class_of(max(int(ct.loc[name, "n_label1"]), 0), max(int(ct.loc[name, "n_label0"]), 0),
                        k_tot1, k_tot0, classes)

    jaspar_rows = []
    for side, table in (("pattern", pj), ("cluster", cj)):
        for _, r in best_matches(table, n=3).iterrows():
            jaspar_rows.append({"side": side, "motif": r["Query_ID"], "jaspar_id": r["Target_ID"],
                                "jaspar_name": r["Target_name"], "p": r["p-value"], "q": r["q-value"],
                                "offset": r["Optimal_offset"], "strand": r["Orientation"]})
    jaspar = pd.DataFrame(jaspar_rows, columns=["side", "motif", "jaspar_id", "jaspar_name", "p", "q",
                                                "offset", "strand"])

    def top_jaspar(side, name):
        sub = jaspar[(jaspar["side"] == side) & (jaspar["motif"] == name) & (jaspar["q"] <= q)]
        return ", ".join(sub["jaspar_name"].head(3)) or "-"

    rows = []
    for _, r in pairs.iterrows():
        frac, n = positional_agreement(km["kmers"], mod["seqlets"], r["cluster"], r["pattern"])
        rows.append({"pattern": r["pattern"], "cluster": r["cluster"], "p": r["p"], "q": r["q"],
                     "offset": r["offset_pc"], "strand": r["strand_pc"], "positional_agreement": frac,
                     "n_kmers": n, "pattern_class": pattern_class(r["pattern"])[0],
                     "cluster_class": cluster_class(r["cluster"])[0],
                     "pattern_jaspar": top_jaspar("pattern", r["pattern"]),
                     "cluster_jaspar": top_jaspar("cluster", r["cluster"]), "found_by": "both"})
    paired_p, paired_c = set(pairs["pattern"]), set(pairs["cluster"])
    for name in (_short(k) for k in mod["motifs"]):
        if name not in paired_p:
            rows.append({"pattern": name, "cluster": "", "pattern_class": pattern_class(name)[0],
                         "pattern_jaspar": top_jaspar("pattern", name), "found_by": "modisco only"})
    for name in (_short(k) for k in km["motifs"]):
        if name not in paired_c:
            rows.append({"pattern": "", "cluster": name, "cluster_class": cluster_class(name)[0],
                         "cluster_jaspar": top_jaspar("cluster", name), "found_by": "k-mer clusters only"})
    pair_table = pd.DataFrame(rows, columns=["pattern", "cluster", "p", "q", "offset", "strand",
                                             "positional_agreement", "n_kmers", "pattern_class",
                                             "cluster_class", "pattern_jaspar", "cluster_jaspar", "found_by"])
    summary = summary_markdown(pair_table, q)
    result = CompareResult(sim, pair_table, jaspar, summary)
    if out is not None:
        out = Path(out)
        with atomic_dir(out) as tmp:
            sim.to_csv(tmp / "similarity.tsv", sep="\t", index=False, float_format="%.6g")
            pair_table.to_csv(tmp / "pairs.tsv", sep="\t", index=False, float_format="%.6g")
            jaspar.to_csv(tmp / "jaspar.tsv", sep="\t", index=False, float_format="%.6g")
            plot_heatmap(sim, tmp / "heatmap.png")
            (tmp / "summary.md").write_text(summary)
        result.paths = {n: out / n for n in ("similarity.tsv", "pairs.tsv", "jaspar.tsv", "heatmap.png",
                                             "summary.md")}
    return result


def plot_heatmap(sim: pd.DataFrame, path) -> Path:
    """-log10 p (the weaker direction) of patterns (rows) x clusters (columns)."""
    from wtko_captum.core.figures import new_figure, save_figure

    mat = sim.pivot(index="pattern", columns="cluster", values="p")
    mat = mat[sorted(mat.columns, key=lambda c: int(str(c).removeprefix("cluster")) if
                     str(c).removeprefix("cluster").isdigit() else 0)]
    val = -np.log10(np.clip(mat.to_numpy(dtype=float), 1e-300, 1))
    fig = new_figure(1.2 + 0.6 * max(len(mat.columns), 2), 1.2 + 0.45 * max(len(mat.index), 2))
    ax = fig.add_subplot(111)
    im = ax.imshow(val, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(mat.columns)))
    ax.set_xticklabels(mat.columns, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(mat.index)))
    ax.set_yticklabels([s.replace("_patterns.pattern_", ":") for s in mat.index], fontsize=8)
    for i in range(val.shape[0]):
        for j in range(val.shape[1]):
            ax.text(j, i, f"{val[i, j]:.0f}", ha="center", va="center", fontsize=7, color="w")
    fig.colorbar(im, ax=ax, label="-log10 Tomtom p (weaker direction)")
    ax.set_title("modisco patterns x k-mer clusters")
    return save_figure(fig, path)


def summary_markdown(pairs: pd.DataFrame, q: float = 0.05) -> str:
    """Which motifs both methods find, which only one finds, and their classes."""
    lines = ["# TF-MoDISco patterns vs saliency k-mer clusters", ""]
    both = pairs[pairs["found_by"] == "both"]
    lines += [f"## Found by both ({len(both)})", ""]
    if len(both):
        lines += ["| pattern | cluster | Tomtom q | k-mers in seqlets | class (pattern / cluster) | JASPAR |",
                  "|---|---|---|---|---|---|"]
        for _, r in both.iterrows():
            agree = "n/a" if pd.isna(r["positional_agreement"]) else f"{100 * r['positional_agreement']:.0f}%"
            jaspar = r["pattern_jaspar"] if r["pattern_jaspar"] != "-" else r["cluster_jaspar"]
            lines.append(f"| {r['pattern']} | {r['cluster']} | {r['q']:.2g} | {agree} | "
                         f"{r['pattern_class']} / {r['cluster_class']} | {jaspar} |")
    else:
        lines.append("(none)")
    for label, col, cls, jas in (("modisco only", "pattern", "pattern_class", "pattern_jaspar"),
                                 ("k-mer clusters only", "cluster", "cluster_class", "cluster_jaspar")):
        sub = pairs[pairs["found_by"] == label]
        lines += ["", f"## Found by {label} ({len(sub)})", ""]
        lines += [f"- {r[col]}: enriched in {r[cls]}; JASPAR (q <= {q:g}): {r[jas]}" for _, r in sub.iterrows()] or ["(none)"]
    lines.append("")
    return "\n".join(lines)
