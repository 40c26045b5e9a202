"""``wtko demo``: the whole pipeline on bundled real data, with no arguments.

It runs the bundled ``data/demo.toml`` through :func:`wtko_captum.pipeline.run.run`, exactly as
``wtko run`` would, then prints where each output is and a short summary of what was found.
"""
from __future__ import annotations

import json
from pathlib import Path

from wtko_captum.pipeline.config import apply_overrides, load_config
from wtko_captum.pipeline.run import run

DEMO_CONFIG = Path(__file__).parents[1] / "data" / "demo.toml"


def demo(out="wtko_demo", *, overrides=None, stages=None, verbose: bool = True) -> dict:
    """Run the demo pipeline into ``out``; returns the per-stage results."""
    cfg = apply_overrides(load_config(DEMO_CONFIG), overrides or [])
    return run(cfg, out, stages=stages, verbose=verbose)


def summarise(out) -> str:
    """A short human summary of a pipeline output directory (whatever stages ran)."""
    out = Path(out)
    lines = [f"wtko outputs in {out}/"]
    where = [
        ("data", "prepared windows, splits, summary.tsv, excluded.tsv"),
        ("model", "model.pt checkpoint, metrics.csv, learning_curve.png"),
        ("eval", "metrics.json, confusion_matrix.png, predictions.tsv"),
        ("attr", "one AttributionSet per method (X.npz, attr.npz, regions.bed, meta.json)"),
        ("tracks", "per-base attribution bigWigs"),
        ("tracks.ini", "pyGenomeTracks config (stock `pyGenomeTracks --tracks tracks.ini ...` renders it)"),
        ("region1.png", "rendered top-scoring region"),
        ("region1_zoom.png", "50 bp around its strongest base, with sequence-logo tracks"),
        ("igv", "IGV session.xml and a batch script for snapshots"),
        ("motifs", "saliency k-mers, clusters, clusters.meme, tomtom.tsv, logos/"),
        ("filters", "first-layer filter motifs (filters.meme)"),
        ("modisco", "TF-MoDISco-lite patterns, seqlets.bed, report/"),
        ("compare", "modisco patterns vs k-mer clusters: pairs.tsv, heatmap.png, summary.md"),
        ("enrich", "known-motif enrichment between the classes: enrichment.tsv, enrichment.png"),
        ("report.html", "everything above in one HTML file with igv.js tracks (opens offline)"),
    ]
    for name, what in where:
        if (out / name).exists():
            lines.append(f"  {str(out / name):<32} {what}")
    metrics = out / "eval" / "metrics.json"
    if metrics.is_file():
        m = json.loads(metrics.read_text())
        lines.append(f"test metrics: accuracy {m['accuracy']:.3f}, auROC {m['auroc']:.3f}, auPRC {m['auprc']:.3f} "
                     f"(n = {m.get('n', '?')})")
    lines += _motif_summary(out)
    if (out / "report.html").is_file():
        lines.append(f"report: {out / 'report.html'} ({(out / 'report.html').stat().st_size / 1e6:.1f} MB; "
                     "open it in any browser, no network needed)")
    return "\n".join(lines)


def _motif_summary(out: Path) -> list[str]:
    import pandas as pd

    lines = []
    tomtom = out / "motifs" / "tomtom.tsv"
    clusters = out / "motifs" / "clusters.tsv"
    if tomtom.is_file() and clusters.is_file():
        tt = pd.read_csv(tomtom, sep="\t", comment="#")
        cl = pd.read_csv(clusters, sep="\t")
        lines.append("k-mer clusters (largest first) and their best JASPAR matches:")
        for _, row in cl.head(6).iterrows():
            cid = f"cluster{int(row['cluster'])}"
            hits = tt[tt["Query_ID"] == cid].sort_values("q-value").head(3)
            names = ", ".join(f"{t} (q={q:.1g})" for t, q in zip(hits["Target_name"], hits["q-value"])) or "no match"
            lines.append(f"  {cid:<10} {int(row['n_kmers']):>4} k-mers  {row.get('core_consensus', ''):<16} {names}")
    enrich = out / "enrich" / "enrichment.tsv"
    if enrich.is_file():
        en = pd.read_csv(enrich, sep="\t")
        sig = en[en["q_value"] <= 0.05]
        lines.append(f"known motifs enriched between the classes (FIMO p < 1e-4, BH q <= 0.05): {len(sig)}")
        for cls, grp in sig.groupby("enriched_in"):
            top = grp.sort_values("q_value").head(5)
            lines.append(f"  in {cls}: " + ", ".join(top["motif_name"].astype(str)))
    pairs = out / "compare" / "pairs.tsv"
    if pairs.is_file():
        pr = pd.read_csv(pairs, sep="\t")
        if "found_by" in pr:
            lines.append("modisco vs k-mer clusters: " + ", ".join(f"{k}: {v}" for k, v in pr["found_by"].value_counts().items()))
    return lines
