"""The regions a report's track view offers: one row per attributed window, and the selection.

Windows are 0-based half-open (``start``, ``end``), exactly as the AttributionSets store them;
``locus`` is the 1-based inclusive string a genome browser's search box takes.

Selections (``regions=``):

``topN``   the union of: the N windows with the highest attribution (max |projected score| of
           the primary method), for each class the N windows predicted as that class with the
           highest probability, the N misclassified windows predicted most confidently, and
           (when the run scored variants) the windows holding the N variants of largest
           predicted effect |Δ| among those inside an attributed window;
``all``    every attributed window;
a file     a BED/narrowPeak/regions table: the windows overlapping any of its intervals.

Every selected row lists the groups that chose it (``groups``), which the region picker filters on.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from wtko_captum.core.errors import InputError

_TOP = re.compile(r"^top(\d+)$", re.I)


def check_spec(spec) -> str:
    """``spec`` if it is a selection this module understands, else an :class:`InputError`."""
    text = str(spec).strip()
    m = _TOP.match(text)
    if m and int(m.group(1)) < 1:
        raise InputError("regions topN needs N >= 1", value=text)
    if not (m or text.lower() == "all" or Path(text).is_file()):
        raise InputError("regions must be topN (e.g. top20), all, or an existing BED file of intervals", value=text)
    return text


def class_of(values, class_names) -> list[str]:
    """Class names for integer labels (``-1`` or out of range -> ``""``), strings kept."""
    out = []
    for v in values:
        if isinstance(v, str) and not v.lstrip("-").isdigit():
            out.append(v)
            continue
        i = int(v) if pd.notna(v) else -1
        out.append(str(class_names[i]) if 0 <= i < len(class_names) else "")
    return out


def region_table(sets: dict, predictions: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per window of the first set in ``sets`` (``{method: AttributionSet}``).

    Columns: ``row`` (index into that set), chrom, start, end, name, locus, ``true``,
    ``predicted`` (class names), ``p_<class>`` for each class, ``p_predicted``, ``correct``,
    and ``score_<method>`` = max |projected attribution| over the window for every set whose
    windows are the same (others get NaN; their tracks still show where they overlap).
    Predictions come from the sets' regions when stored there, else from ``predictions``
    (an evaluation's ``predictions.tsv``, matched by window name).
    """
    first = next(iter(sets.values()))
    names = [str(c) for c in (first.class_names or [])]
    reg = first.regions
    table = pd.DataFrame({"row": np.arange(len(reg)), "chrom": reg["chrom"].astype(str),
                          "start": reg["start"].astype(np.int64), "end": reg["end"].astype(np.int64),
                          "name": reg["name"].astype(str)})
    table["locus"] = [f"{c}:{max(s, 0) + 1}-{e}" for c, s, e in zip(table["chrom"], table["start"], table["end"])]
    table["true"] = class_of(reg["class"] if "class" in reg else reg["label"], names)
    probs = {n: reg[f"p_{n}"] for n in names if f"p_{n}" in reg}
    predicted = reg["pred_class"].astype(str).tolist() if "pred_class" in reg else class_of(reg["prediction"], names)
    if (len(probs) < len(names) or not any(predicted)) and predictions is not None:
        pred = predictions.set_index(predictions["name"].astype(str))
        pred = pred[~pred.index.duplicated()].reindex(table["name"])
        probs = {n: pred[f"prob_{n}"].to_numpy() for n in names if f"prob_{n}" in pred}
        if "predicted" in pred:
            predicted = pred["predicted"].fillna("").astype(str).tolist()
    table["predicted"] = predicted
    for n, p in probs.items():
        table[f"p_{n}"] = np.asarray(p, dtype=float)
    if probs:
        p = np.column_stack([table[f"p_{n}"] for n in probs])
        table["p_predicted"] = np.nanmax(p, axis=1)
    else:
        table["p_predicted"] = np.nan
    table["correct"] = [(t == p) if t and p else None for t, p in zip(table["true"], table["predicted"])]
    key = list(zip(table["chrom"], table["start"], table["end"]))
    for method, aset in sets.items():
        score = np.abs(aset.per_position("projected")).max(axis=1)
        if len(aset) == len(table) and (aset.regions["start"].to_numpy() == table["start"].to_numpy()).all():
            table[f"score_{method}"] = score
        else:
            own = dict(zip(zip(aset.regions["chrom"].astype(str), aset.regions["start"], aset.regions["end"]), score))
            table[f"score_{method}"] = [own.get(k, np.nan) for k in key]
    return table


def primary_method(methods, preferred: str | None = None) -> str:
    """The method that ranks windows by attribution: ``preferred``, else DeepLIFT-SHAP, else
    the first (DeepLIFT-SHAP's scores are exact Shapley-style contributions of the observed bases)."""
    methods = list(methods)
    if preferred is not None:
        if preferred not in methods:
            raise InputError(f"no attributions for method {preferred!r}; the run has: {', '.join(methods)}")
        return preferred
    return next((m for m in ("deeplift_shap", "deeplift", "integrated_gradients", "ism") if m in methods),
                methods[0])


def variant_intervals(scores_tsv) -> pd.DataFrame:
    """The scored variants of a ``wtko variants`` table as 0-based half-open intervals of their
    reference allele (``chrom``, ``start``, ``end``, ``name``, ``abs_delta``, ``delta``: the
    signed effect), largest |Δ| first."""
    df = pd.read_csv(scores_tsv, sep="\t", dtype={"chrom": str, "id": str, "ref": str})
    if df.empty or not {"chrom", "pos", "ref", "abs_delta"} <= set(df.columns):
        return pd.DataFrame(columns=["chrom", "start", "end", "name", "abs_delta", "delta"])
    start = df["pos"].astype(np.int64) - 1                      # VCF POS is 1-based
    locus = df["chrom"] + ":" + df["pos"].astype(str)
    name = df["id"].where(df["id"].notna() & (df["id"] != "."), locus) if "id" in df else locus
    out = pd.DataFrame({"chrom": df["chrom"], "start": start, "end": start + df["ref"].str.len().clip(lower=1),
                        "name": name.astype(str), "abs_delta": df["abs_delta"].astype(float),
                        "delta": df["delta"].astype(float) if "delta" in df else df["abs_delta"].astype(float)})
    return out.sort_values("abs_delta", ascending=False, kind="stable").reset_index(drop=True)


def _inside_a_window(table: pd.DataFrame, intervals: pd.DataFrame) -> np.ndarray:
    """For each interval, whether it overlaps any window of ``table`` (half-open; vectorised per
    chromosome, so a VCF of millions of variants is checked at once)."""
    inside = np.zeros(len(intervals), dtype=bool)
    for chrom, win in table.groupby("chrom"):
        on = np.flatnonzero((intervals["chrom"] == str(chrom)).to_numpy())
        if not len(on):
            continue
        order = np.argsort(win["start"].to_numpy(), kind="stable")
        starts = win["start"].to_numpy()[order]
        reach = np.maximum.accumulate(win["end"].to_numpy()[order])   # furthest end among windows starting earlier
        k = np.searchsorted(starts, intervals["end"].to_numpy()[on], side="left")   # windows with start < end
        inside[on] = (k > 0) & (reach[np.maximum(k - 1, 0)] > intervals["start"].to_numpy()[on])
    return inside


def _overlapping(table: pd.DataFrame, chrom: str, start: int, end: int) -> np.ndarray:
    """Positions in ``table`` of the windows overlapping ``chrom:start-end`` (half-open)."""
    return np.flatnonzero((table["chrom"] == str(chrom)).to_numpy() & (table["start"].to_numpy() < end)
                          & (table["end"].to_numpy() > start))


def select(table: pd.DataFrame, spec, *, method: str, variants: pd.DataFrame | None = None) -> pd.DataFrame:
    """The selected rows of ``table`` with a ``groups`` column (see the module docstring),
    ordered by the primary method's score (highest first). ``variants``: scored variants
    (:func:`variant_intervals`, largest |Δ| first) whose windows ``topN`` adds."""
    groups: dict[int, list[str]] = {}

    def add(idx, label):
        for i in idx:
            groups.setdefault(int(i), []).append(label)

    score = table[f"score_{method}"]
    text = check_spec(spec)
    m = _TOP.match(text)
    if m:
        n = int(m.group(1))
        add(score.dropna().sort_values(ascending=False).index[:n], "top attribution")
        for cls in sorted(set(table["predicted"]) - {""}):
            col = f"p_{cls}"
            if col in table:
                pick = table[table["predicted"] == cls][col].sort_values(ascending=False)
                add(pick.index[:n], f"top predicted {cls}")
        wrong = table[table["correct"] == False]  # noqa: E712 (None = unknown stays out)
        add(wrong["p_predicted"].sort_values(ascending=False).index[:n], "misclassified")
        if variants is not None and len(variants):
            for v in variants[_inside_a_window(table, variants)].head(n).itertuples():
                add(table.index[_overlapping(table, v.chrom, v.start, v.end)], "top variant")
    elif text.lower() == "all":
        add(table.index, "all")
    else:
        from wtko_captum.core.intervals import read_intervals

        path = Path(text)
        wanted = read_intervals(path)
        hit = np.zeros(len(table), dtype=bool)
        for chrom, sub in wanted.groupby("chrom"):
            on = (table["chrom"] == str(chrom)).to_numpy()
            s, e = table["start"].to_numpy(), table["end"].to_numpy()
            for a, b in zip(sub["start"], sub["end"]):
                hit |= on & (s < b) & (e > a)
        if not hit.any():
            raise InputError("none of these intervals overlaps an attributed window", path=path)
        add(np.flatnonzero(hit), path.name)
    chosen = table.loc[sorted(groups)].copy()
    chosen["groups"] = [groups[i] for i in chosen.index]
    return chosen.sort_values(f"score_{method}", ascending=False, na_position="last", kind="stable")
