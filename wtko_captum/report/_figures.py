"""Figures for the HTML report as inline SVG: the stages' own figures (learning curve, confusion
matrix) drawn again as SVG, the ROC and precision-recall curves, and motif logos.

Figures come from :func:`wtko_captum.core.figures.new_figure` (no pyplot state). SVG is
cleaned for inlining in HTML5: no XML prolog, DOCTYPE, metadata or namespace URIs (the HTML
parser puts ``<svg>`` in the SVG namespace itself), so the report carries no URL of any kind
outside the vendored igv.js. Text stays text (``svg.fonttype = none``): smaller than glyph
paths, drawn in the browser's own sans-serif, never a web font. Logos are small SVGs that place
four shared letter glyphs (logomaker's shapes, defined once per page) with transforms.
"""
from __future__ import annotations

import base64
import functools
import io
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

_SVG_CLEAN = [
    (re.compile(r"<\?xml[^>]*\?>\s*"), ""),
    (re.compile(r"<!DOCTYPE[^>]*>\s*"), ""),
    (re.compile(r"<metadata>.*?</metadata>\s*", re.S), ""),
    (re.compile(r'\s+xmlns(:\w+)?="[^"]*"'), ""),
]
_SVG_RC = {"svg.fonttype": "none", "svg.hashsalt": "wtko-report", "font.family": "sans-serif"}


def _clean_svg(text: str) -> str:
    for pattern, repl in _SVG_CLEAN:
        text = pattern.sub(repl, text)
    return text.strip()


def svg_text(fig) -> str:
    """The figure as an inline ``<svg>`` element (cleaned as the module says)."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context(_SVG_RC):
        fig.savefig(buf, format="svg", bbox_inches="tight")
    return _clean_svg(buf.getvalue())


def _tidy(*axes) -> None:
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, frameon=False)
        ax.spines[["top", "right"]].set_visible(False)


def _svg_of(draw, *args, **kwargs) -> str:
    """The SVG a stage's own ``draw(..., path)`` figure function writes, cleaned for inlining."""
    import matplotlib

    with tempfile.TemporaryDirectory(prefix="wtko-report-") as tmp:
        path = Path(tmp) / "figure.svg"
        with matplotlib.rc_context(_SVG_RC):
            draw(*args, path, **kwargs)
        return _clean_svg(path.read_text(encoding="utf-8"))


def learning_curve(history: pd.DataFrame, best_epoch: int | None = None, metric: str = "val_auroc") -> str:
    """Training's learning curve (``history``: its ``metrics.csv``; ``best_epoch``, chosen by
    ``metric``, marked) as SVG."""
    from wtko_captum.training.figures import plot_learning_curve

    return _svg_of(plot_learning_curve, history, best_epoch=best_epoch, metric=metric)


def confusion_matrix(matrix, class_names) -> str:
    """Evaluation's confusion matrix (rows = true class; counts and row percentages) as SVG."""
    from wtko_captum.training.figures import plot_confusion_matrix

    return _svg_of(plot_confusion_matrix, matrix, class_names)


def roc_pr(predictions: pd.DataFrame, class_names) -> str:
    """ROC (left) and precision-recall (right) curves from an evaluation's ``predictions.tsv``,
    one curve per class (one-vs-rest on ``prob_<class>``), with the areas in the legend, as SVG."""
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    from wtko_captum.core.figures import new_figure

    fig = new_figure(8.0, 3.2)
    ax1, ax2 = fig.subplots(1, 2)
    truth = predictions["class"].astype(str).to_numpy()
    # two classes: one curve (the second class is the positive one, as evaluate's auROC)
    shown = class_names[1:] if len(class_names) == 2 else class_names
    for name in shown:
        y = truth == str(name)
        if y.all() or not y.any():
            continue
        score = predictions[f"prob_{name}"].to_numpy()
        fpr, tpr, _ = roc_curve(y, score)
        prec, rec, _ = precision_recall_curve(y, score)
        ax1.plot(fpr, tpr, label=f"{name}: auROC {auc(fpr, tpr):.3f}")
        ax2.plot(rec, prec, label=f"{name}: auPRC {average_precision_score(y, score):.3f}")
        ax2.axhline(y.mean(), color="grey", lw=0.6, ls=":")
    ax1.plot([0, 1], [0, 1], color="grey", lw=0.6, ls=":")
    ax1.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.02))
    ax2.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    _tidy(ax1, ax2)
    fig.tight_layout()
    return svg_text(fig)


LOGO_COLOURS = {"A": "#008000", "C": "#0000ff", "G": "#ffa600", "T": "#ff0000"}  # logomaker's "classic"


@functools.lru_cache(maxsize=None)
def _glyph_d(letter: str) -> str:
    """SVG path data of logomaker's glyph for ``letter`` filling the unit box, y pointing down.

    The glyph is computed once per letter (logomaker recomputes its text path and Bezier extents
    for every letter of every logo, ~2 s per logo); logos then place it with a transform.
    """
    from logomaker import Glyph
    from matplotlib.path import Path as MplPath

    from wtko_captum.core.figures import new_figure

    ax = new_figure(1, 1).add_subplot()
    path = Glyph(0.0, letter, floor=0.0, ceiling=1.0, ax=ax, width=1.0).patch.get_path()
    cmd = {MplPath.MOVETO: "M", MplPath.LINETO: "L", MplPath.CURVE3: "Q", MplPath.CURVE4: "C"}
    parts = []
    for vertices, code in path.iter_segments(simplify=False, curves=True):
        if code == MplPath.CLOSEPOLY:
            parts.append("Z")
            continue
        xy = np.asarray(vertices, dtype=float).reshape(-1, 2)
        pts = " ".join(f"{x + 0.5:.4f} {1.0 - y:.4f}" for x, y in xy)
        parts.append(f"{cmd[code]}{pts}")
    return "".join(parts)


def glyph_defs() -> str:
    """One hidden ``<svg>`` defining the four letters (``#wtko-glyph-A`` ...) every logo uses."""
    paths = "".join(f'<path id="wtko-glyph-{b}" d="{_glyph_d(b)}"/>' for b in "ACGT")
    return f'<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>{paths}</defs></svg>'


def logo(probs: np.ndarray, *, px_per_column: int = 11, height: int = 36) -> str:
    """Information-content logo of a ``(4, W)`` probability matrix (rows A, C, G, T) as an
    inline ``<svg>``: letter heights in bits (0-2), the tallest on top, glyphs from
    :func:`glyph_defs` (which the page must contain once)."""
    from wtko_captum.motifs.cluster import information_content

    probs = np.asarray(probs, dtype=np.float64)
    probs = probs / probs.sum(axis=0, keepdims=True).clip(min=1e-12)
    bits = probs * information_content(probs).clip(0, 2)[None, :]
    w = probs.shape[1]
    uses = []
    for j in range(w):
        floor = 0.0
        for i in np.argsort(bits[:, j], kind="stable"):
            h = float(bits[i, j])
            if h < 0.005:
                continue
            top = 2.0 - floor - h
            letter = "ACGT"[i]
            uses.append(f'<use href="#wtko-glyph-{letter}" fill="{LOGO_COLOURS[letter]}" '
                        f'transform="translate({j + 0.05:g} {top:.3f}) scale(0.9 {h:.3f})"/>')
            floor += h
    return (f'<svg class="logo" viewBox="0 0 {w} 2" preserveAspectRatio="none" width="{w * px_per_column}" '
            f'height="{height}" role="img"><line x1="0" y1="2" x2="{w}" y2="2" stroke="#999" stroke-width="0.04"/>'
            + "".join(uses) + "</svg>")


def file_data_uri(path) -> str:
    """An existing PNG/SVG/JPEG file as a data URI (figures other stages drew)."""
    path = Path(path)
    mime = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}[
        path.suffix.lower()]
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")
