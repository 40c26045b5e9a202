"""Figures: one way to make and save them, shared by every stage that draws.

Figures are built on :class:`matplotlib.figure.Figure` with the Agg canvas, never through
``pyplot``: no global backend switch, no figure registry to leak, safe in threads and under
any backend the user's session has selected. matplotlib is imported inside the functions.
"""
from __future__ import annotations

from pathlib import Path

from wtko_captum.core.atomic import atomic_path


def new_figure(width: float, height: float):
    """A matplotlib Figure on the Agg canvas (inches), outside pyplot's global state."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=120)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path) -> Path:
    """Save ``fig`` atomically; the format comes from the suffix (png, pdf, svg)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=Path(path).suffix.lstrip(".") or "png", bbox_inches="tight")
    return Path(path)
