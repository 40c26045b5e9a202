"""Figures of ``wtko variants``: the summary of Δ over all variants and the in-silico
mutagenesis heatmap around a variant (Agg canvas, never pyplot)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from wtko_captum.core.figures import new_figure, save_figure

BAND_COLORS = {"strong": "#b2182b", "moderate": "#ef8a62", "weak": "#999999"}


def plot_summary(hist, top: list[tuple], path, *, strong: float, moderate: float, target_label: str,
                 n_skipped: int) -> Path:
    """Left: histogram of Δ (log counts) with the band thresholds; right: the top variants' Δ.

    ``hist``: a :class:`~wtko_captum.variants._outputs.Histogram`; ``top``: ``[(allele, row)]``
    by decreasing |Δ| (at most 20 are drawn).
    """
    fig = new_figure(11, 4.2)
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.2, 1]})
    centres = 0.5 * (hist.edges[1:] + hist.edges[:-1])
    size = np.abs(centres)
    for name, inside in (("weak", size < moderate), ("moderate", (size >= moderate) & (size <= strong)),
                         ("strong", size > strong)):
        ax1.stairs(np.where(inside, hist.counts, 0), hist.edges, fill=True, color=BAND_COLORS[name], label=name)
    if hist.counts.max(initial=0) > 100:
        ax1.set_yscale("log")
        ax1.set_ylim(bottom=0.8)
    for x in (-strong, -moderate, moderate, strong):
        ax1.axvline(x, color="black", lw=0.6, ls=":")
    ax1.set_xlim(-1, 1)
    ax1.set_xlabel(f"Δ = P(alt) − P(ref) of {target_label}")
    ax1.set_ylabel("alleles" + (" (log scale)" if ax1.get_yscale() == "log" else ""))
    n = int(hist.counts.sum())
    ax1.set_title(f"{n} alleles scored, {n_skipped} skipped: " + ", ".join(
        f"{hist.bands[b]} {b}" for b in ("strong", "moderate", "weak")), fontsize=9)
    shown = top[:20]
    if shown:
        labels = [f"{a.label} ({a.kind})" for a, _ in shown][::-1]
        vals = [float(r["delta"]) for _, r in shown][::-1]
        ax2.barh(range(len(vals)), vals, color=[BAND_COLORS[str(r["band"])] for _, r in shown][::-1])
        ax2.set_yticks(range(len(vals)), labels, fontsize=7)
        ax2.axvline(0, color="black", lw=0.6)
        m = max(abs(v) for v in vals) or 1.0
        ax2.set_xlim(-1.05 * m, 1.05 * m)
    ax2.set_xlabel("Δ")
    ax2.set_title(f"top {len(shown)} alleles by |Δ|", fontsize=9)
    return save_figure(fig, path)


def plot_ism(ref: dict, alt: dict, path, *, title: str) -> Path:
    """Heatmaps of Δ P for every substitution around a variant, in its reference window (top)
    and its alternative window (bottom).

    ``ref``/``alt``: dicts with ``delta (4, W)``, ``seq`` (the W observed bases),
    ``positions (W,)`` (genome coordinates, 0-based; -1 for inserted bases) and ``allele``
    ``(lo, hi)`` (the variant's columns).
    """
    W = ref["delta"].shape[1]
    fig = new_figure(max(6.0, 0.16 * W + 1.5), 4.2)
    axes = fig.subplots(2, 1, sharex=False)
    m = max(np.abs(ref["delta"]).max(), np.abs(alt["delta"]).max(), 1e-6)
    for ax, d, name in ((axes[0], ref, "reference"), (axes[1], alt, "alternative")):
        im = ax.imshow(d["delta"], cmap="RdBu_r", vmin=-m, vmax=m, aspect="auto", interpolation="nearest")
        for j, b in enumerate(d["seq"]):
            if b in "ACGT":
                ax.plot(j, "ACGT".index(b), "k.", ms=2.5)
        lo, hi = d["allele"]
        ax.add_patch(_rect(lo - 0.5, -0.5, hi - lo, 4))
        ax.set_yticks(range(4), list("ACGT"))
        step = max(1, d["delta"].shape[1] // 10)
        ticks = list(range(0, d["delta"].shape[1], step))
        ax.set_xticks(ticks, [str(d["positions"][j]) if d["positions"][j] >= 0 else "ins" for j in ticks],
                      fontsize=7)
        ax.set_ylabel(name, fontsize=8)
    axes[1].set_xlabel("genome position (0-based); dots: observed base; box: the variant")
    fig.colorbar(im, ax=list(axes), shrink=0.8, label="Δ P of each substitution")
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def _rect(x, y, w, h):
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), w, h, fill=False, edgecolor="black", lw=1.2)
