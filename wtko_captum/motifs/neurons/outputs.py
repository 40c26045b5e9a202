"""What ``neurons`` writes: per-neuron JSON, logo figures (PNG, SVG) and HTML pages, the motif
dictionary (MEME, through the exporter registry) and the tables.

Layout of an output directory::

    summary.tsv       one row per neuron
    clusters.tsv      one row per demixed cluster
    dictionary.tsv    one row per de-duplicated motif (its JASPAR best match)
    motifs.meme       the dictionary (MEME v4, nsites = segments merged into each entry)
    neurons.json      parameters, the layer analysis, every neuron's files
    index.html        a table of the neurons linking to their pages
    neurons/LAYER.CHANNEL.{json,png,svg,html}
    seeds/            the previous layer's run when it seeded this one (same layout)

Window positions are 0-based, half-open, in bp from the start of the neuron's receptive field.
Figures are drawn on :class:`matplotlib.figure.Figure` with the Agg canvas, never through
pyplot. Pages are self-contained (inline SVG and CSS, no scripts), and their content sits in
one ``<section class="wtko-neuron">`` that a report can lift as it is.
"""
from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from wtko_captum.core.atomic import atomic_path, write_text

CSS = """
.wtko-neuron{font-family:system-ui,sans-serif;font-size:14px;color:#222;max-width:1100px}
.wtko-neuron h2{font-size:18px;margin:.3em 0}
.wtko-neuron table{border-collapse:collapse;margin:.6em 0}
.wtko-neuron td,.wtko-neuron th{border:1px solid #ccc;padding:2px 6px;text-align:left}
.wtko-neuron th{background:#f3f3f3}
.wtko-neuron code{font-family:ui-monospace,monospace}
.wtko-neuron svg{max-width:100%;height:auto}
"""


def _float(x, digits: int = 4):
    return None if x is None or (isinstance(x, float) and not np.isfinite(x)) else round(float(x), digits)


def _matrix(pwm: np.ndarray) -> list[list[float]]:
    return [[round(float(v), 5) for v in row] for row in np.asarray(pwm)]


def _motif_record(m) -> dict:
    return {"n": m.n, "mean_activation": _float(m.mean_activation), "max_activation": _float(m.max_activation),
            "consensus": m.consensus, "ic": _float(m.total_ic), "quality": _float(m.quality),
            "pwm": _matrix(m.pwm), "ic_per_position": [round(float(v), 4) for v in m.ic],
            "segments": [{"start": s.start, "end": s.end, "consensus": s.consensus, "ic": _float(s.ic)}
                         for s in m.segments]}


def neuron_record(neuron, substructure: dict) -> dict:
    """The JSON of one neuron: samples, the stacked motif, the clusters (matrices rows A,C,G,T,
    columns = window positions), segments with their dictionary motif and JASPAR match, the
    tree and its one-line syntax."""
    s = neuron.samples
    clusters = []
    for c in neuron.clusters:
        rec = {"cluster": c.index, **_motif_record(c.motif), "consensus_activation": _float(c.consensus_activation),
               "match": c.match}
        for seg, motif, match in zip(rec["segments"], c.segment_motifs, c.segment_matches):
            seg["motif"], seg["match"] = motif, match
        clusters.append(rec)
    return {
        "neuron": neuron.id, "layer": neuron.layer, "channel": neuron.channel,
        "receptive_field": substructure["receptive_field"], "pools": substructure["pools"],
        "samples": {"method": s.method, "evaluated": s.n_evaluated, "positive": s.n_positive, "kept": len(s.values),
                    "generations": s.generations,
                    "max_activation": _float(s.values.max()) if len(s.values) else None,
                    "mean_activation": _float(s.values.mean()) if len(s.values) else None},
        "stack": _motif_record(neuron.stack) if neuron.stack is not None else None,
        "clusters": clusters, "tree": neuron.tree, "syntax": neuron.syntax, "match": neuron.match,
    }


# ---- figures -------------------------------------------------------------------------------
COLORS = {"A": "#109648", "C": "#255c99", "G": "#f7b32b", "T": "#d62839"}
_GLYPHS: dict[str, object] = {}


def _glyph(letter: str):
    """The outline of ``letter`` scaled to the unit square (cached): a logo letter is this path
    stretched to its column's width and its information height."""
    if letter not in _GLYPHS:
        from matplotlib.font_manager import FontProperties
        from matplotlib.path import Path as MPath
        from matplotlib.textpath import TextPath

        path = TextPath((0, 0), letter, size=1, prop=FontProperties(family="DejaVu Sans", weight="bold"))
        v = path.vertices
        lo, hi = v.min(axis=0), v.max(axis=0)
        _GLYPHS[letter] = MPath((v - lo) / (hi - lo), path.codes)
    return _GLYPHS[letter]


def draw_logo(ax, pwm: np.ndarray, ic: np.ndarray) -> None:
    """An information-content logo of a ``(4, W)`` probability matrix on ``ax``: at each
    position the letters stacked by probability, the largest on top, total height the
    position's IC (bits). Letters are one cached outline each, stretched by an affine
    transform: logomaker builds and measures every glyph, 100x slower for a layer's logos."""
    from matplotlib.patches import PathPatch
    from matplotlib.transforms import Affine2D

    heights = np.asarray(pwm) * np.asarray(ic)[None, :]
    for j in range(heights.shape[1]):
        y = 0.0
        for b in np.argsort(heights[:, j], kind="stable"):
            h = float(heights[b, j])
            if h <= 1e-3:
                continue
            letter = "ACGT"[b]
            t = Affine2D().scale(0.9, h).translate(j - 0.45, y) + ax.transData
            ax.add_artist(PathPatch(_glyph(letter), transform=t, facecolor=COLORS[letter], edgecolor="none"))
            y += h


def plot_neuron(neuron, paths) -> list[Path]:
    """One logo per row, aligned on the receptive field: the stacked samples (what stacking or
    averaging gives) on top, then each demixed cluster; segments shaded. Written to every path
    in ``paths`` (format from the suffix: .png, .svg)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = [("stacked samples (no demixing)", neuron.stack)] + [
        (_cluster_title(c), c.motif) for c in neuron.clusters]
    rows = [(t, m) for t, m in rows if m is not None]
    width = rows[0][1].pwm.shape[1] if rows else 1
    fig = Figure(figsize=(max(4.5, 0.3 * width + 1.2), 1.3 * max(len(rows), 1) + 0.3), dpi=110)
    FigureCanvasAgg(fig)
    for i, (title, m) in enumerate(rows):
        ax = fig.add_subplot(len(rows), 1, i + 1)
        draw_logo(ax, m.pwm, m.ic)
        for seg in m.segments:
            ax.axvspan(seg.start - 0.5, seg.end - 0.5, color="#fff3c4", lw=0, zorder=0)
        ax.set_ylim(0, 2)
        ax.set_xlim(-0.5, width - 0.5)
        ax.set_xticks(range(0, width, 5 if width > 20 else 1))
        ax.set_ylabel("bits", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_title(title, fontsize=8, loc="left")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    if rows:
        fig.axes[-1].set_xlabel(f"position in the {width} bp receptive field of {neuron.id}", fontsize=8)
    fig.tight_layout()
    written = []
    for path in paths:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=Path(path).suffix.lstrip("."))
        written.append(Path(path))
    return written


def _cluster_title(c) -> str:
    m = c.motif
    match = f", JASPAR {c.match['name']} (q {c.match['q']:.1g})" if c.match else ""
    return f"cluster {c.index}: {m.n} seqs, IC {m.total_ic:.1f} bits{match}"


# ---- pages ---------------------------------------------------------------------------------
def neuron_section(record: dict, svg: str) -> str:
    """The ``<section class="wtko-neuron">`` of one neuron (figure, clusters, syntax)."""
    e = html.escape
    s = record["samples"]
    lines = [f'<section class="wtko-neuron" id="{e(record["neuron"])}">',
             f"<h2>Neuron {e(record['neuron'])}</h2>",
             f"<p>Receptive field {record['receptive_field']} bp; max-pools: "
             f"{e(', '.join(p['name'] + ' (' + str(p['kernel']) + ')' for p in record['pools']) or 'none')}. "
             f"Samples: {s['kept']} kept of {s['positive']} positive ({e(s['method'])}, {s['evaluated']} evaluated"
             f"{', ' + str(s['generations']) + ' generations' if s['generations'] else ''}).</p>"]
    if record["syntax"]:
        lines.append("<p>Syntax: " + "; ".join(f"<code>{e(x)}</code>" for x in record["syntax"]) + "</p>")
    lines.append(svg)
    lines.append("<table><tr><th>cluster</th><th>sequences</th><th>mean activation</th><th>consensus</th>"
                 "<th>IC (bits)</th><th>quality</th><th>segments (window bp: motif, best JASPAR)</th>"
                 "<th>best JASPAR match (q)</th></tr>")
    for c in record["clusters"]:
        segs = "<br>".join(
            f"{g['start']}-{g['end']}: <code>{e(g['consensus'])}</code> {e(g.get('motif') or '')}"
            + (f" ({e(g['match']['name'])})" if g.get("match") else "") for g in c["segments"]) or "-"
        match = f"{e(c['match']['name'])} ({c['match']['q']:.2g})" if c.get("match") else "-"
        lines.append(f"<tr><td>{c['cluster']}</td><td>{c['n']}</td><td>{c['mean_activation']}</td>"
                     f"<td><code>{e(c['consensus'])}</code></td><td>{c['ic']}</td><td>{c['quality']}</td>"
                     f"<td>{segs}</td><td>{match}</td></tr>")
    lines.append("</table></section>")
    return "\n".join(lines)


def page(title: str, body: str) -> str:
    """A self-contained HTML document."""
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body>\n{body}\n</body></html>\n")


def _svg_text(path: Path) -> str:
    text = path.read_text()
    return text[text.index("<svg"):]


def index_page(summary: pd.DataFrame, layer: str) -> str:
    e = html.escape
    rows = ["<section class=\"wtko-neuron\">", f"<h2>NeuronMotif: layer {e(layer)}</h2>",
            "<table><tr><th>neuron</th><th>samples</th><th>clusters</th><th>best JASPAR match (q)</th>"
            "<th>syntax</th></tr>"]
    for _, r in summary.iterrows():
        match = f"{e(str(r['best_jaspar']))} ({r['best_q']:.2g})" if isinstance(r["best_jaspar"], str) \
            and r["best_jaspar"] else "-"
        rows.append(f"<tr><td><a href=\"neurons/{e(r['neuron'])}.html\">{e(r['neuron'])}</a></td>"
                    f"<td>{r['samples']}</td><td>{r['clusters']}</td><td>{match}</td>"
                    f"<td><code>{e(str(r['syntax']))}</code></td></tr>")
    rows.append("</table></section>")
    return page(f"NeuronMotif {layer}", "\n".join(rows))


# ---- the whole output ----------------------------------------------------------------------
def write_outputs(result, out: Path, *, figures: bool = True) -> list[Path]:
    """Write every file of ``result`` (a :class:`~wtko_captum.motifs.neurons.neurons.NeuronsResult`)
    under ``out`` (an existing directory); returns the paths written."""
    from wtko_captum.core.export import export

    out = Path(out)
    written = []
    index = {}
    for n in result.neurons:
        files = {kind: out / "neurons" / f"{n.id}.{kind}" for kind in ("json", "png", "svg", "html")}
        record = neuron_record(n, result.substructure)
        written.append(write_text(files["json"], json.dumps(record, indent=1) + "\n"))
        if figures:
            written += plot_neuron(n, [files["png"], files["svg"]])
            written.append(write_text(files["html"], page(f"neuron {n.id}",
                                                          neuron_section(record, _svg_text(files["svg"])))))
        else:
            files = {"json": files["json"]}
        index[n.id] = {k: str(v.relative_to(out)) for k, v in files.items()}
    d = result.dictionary
    if d.motifs:
        written += export("meme", d.motifs, out / "motifs.meme",
                          nsites={k: len(d.members[k.split()[0]]) for k in d.motifs})
    # every demixed cluster's whole matrix: what the paper matches to JASPAR per neuron
    cluster_pwms = {f"{n.id}.c{c.index} {c.motif.consensus}": c.motif.pwm for n in result.neurons for c in n.clusters}
    if cluster_pwms:
        written += export("meme", cluster_pwms, out / "clusters.pfm.meme",
                          nsites={k: c.motif.n for k, c in zip(cluster_pwms, (c for n in result.neurons
                                                                              for c in n.clusters))})
    for name, table in (("summary.tsv", result.summary), ("clusters.tsv", result.clusters),
                        ("dictionary.tsv", d.table)):
        written.append(write_text(out / name, table.to_csv(sep="\t", index=False, float_format="%.6g")))
    if figures:
        written.append(write_text(out / "index.html", index_page(result.summary, result.substructure["layer"])))
    meta = {"params": result.params, "substructure": result.substructure, "neurons": index,
            "seed_motifs": result.seed_motifs}
    written.append(write_text(out / "neurons.json", json.dumps(meta, indent=1, default=str) + "\n"))
    return written


def read_cluster_motifs(path) -> tuple[str, list[tuple[str, np.ndarray, list[tuple[int, int]]]]]:
    """The layer and the cluster motifs of a ``neurons`` output directory:
    ``[(source, pwm (4, W), [(start, end), ...segments]), ...]``."""
    from wtko_captum.core.errors import InputError

    path = Path(path)
    meta_path = path / "neurons.json"
    if not meta_path.is_file():
        raise InputError("not a `wtko neurons` output directory (no neurons.json)", path=path)
    meta = json.loads(meta_path.read_text())
    motifs = []
    for nid, files in meta["neurons"].items():
        rec = json.loads((path / files["json"]).read_text())
        for c in rec["clusters"]:
            motifs.append((f"{nid}/c{c['cluster']}", np.asarray(c["pwm"], dtype=np.float64),
                           [(g["start"], g["end"]) for g in c["segments"]]))
    return meta["substructure"]["layer"], motifs

