"""Tables for the report: a DataFrame as header + cells with display text and a sort key.

The template renders them as ``<table class="sortable">``; the page's script sorts on the
``data-sort`` keys (numbers compare as numbers, text as text), so the shown text can be
rounded while sorting stays exact.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class Cell:
    text: str
    sort: str | float | None = None
    svg: str | None = None          # inline SVG markup made by this package (a logo)
    title: str | None = None        # hover text
    muted: bool = False


@dataclass
class Table:
    columns: list[str]
    numeric: list[bool]
    rows: list[list[Cell]]
    caption: str = ""
    note: str = ""
    row_attrs: list[dict] = field(default_factory=list)


def fmt(value) -> Cell:
    """One cell: floats to 3 significant digits (p/q-like tiny values in scientific form),
    NaN/None empty, booleans yes/no, everything else as text; the sort key is the raw value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Cell("", None, muted=True)
    if isinstance(value, (bool, np.bool_)):
        return Cell("yes" if value else "no", int(value))
    if isinstance(value, (int, np.integer)):
        return Cell(str(int(value)), int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if not math.isfinite(v):
            return Cell(str(v), v)
        if v != 0 and abs(v) < 1e-3:
            return Cell(f"{v:.2e}", v)
        return Cell(f"{v:.4g}" if abs(v) >= 1000 else f"{v:.3g}", v)
    return Cell(str(value), str(value))


def from_frame(df: pd.DataFrame, *, max_rows: int = 1000, caption: str = "", source: str = "") -> Table:
    """``df`` as a :class:`Table`, the first ``max_rows`` rows (the note says how many were left out)."""
    shown = df.head(max_rows)
    numeric = [pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]) for c in df.columns]
    rows = [[fmt(v) for v in row] for row in shown.itertuples(index=False, name=None)]
    note = ""
    if len(df) > max_rows:
        note = f"first {max_rows} of {len(df)} rows" + (f"; all in {source}" if source else "")
    return Table([str(c) for c in df.columns], numeric, rows, caption=caption, note=note)
