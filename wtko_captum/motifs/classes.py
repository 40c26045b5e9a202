"""Motifs of each class: any attribution motif finder run on each condition's sequences.

The WTKO paper reports primary and secondary motifs per condition. Pooled discovery (all
sequences at once) ranks motifs by how often they occur overall, so a weak condition's motifs
drown in the dominant one's. :func:`find_by_class` runs a registered motif finder (``kmers``,
``modisco`` or a plugin's) on the sequences of each condition separately, ranks each
condition's motifs by their number of sites (the largest is the primary motif, the others
secondary), matches them to the motif database (Tomtom), and checks with
:mod:`wtko_captum.motifs.usage` which of them the model responds to; a motif whose insertion
lowers its own class's log-odds is ranked ``against`` (evidence against the class, such as a
fragment of the other class's motif), never primary. When a condition has no
motif the model responds to, the summary says so: the model then recognises it only by the
absence of the other condition's motif, and pooled or per-class motifs alike are the other
condition's.

Attributions made with ``--target class-vs-background`` (each sequence explained as its own
class against background, on a model trained with ``wtko prepare --background``) give each
condition's own motifs; with ``pred`` or ``diff`` each condition's sequences still carry the
evidence for their class against the other.

Output (under ``out``)::

    by_class/<class>/    the finder's own outputs for that class's sequences
    classes.tsv          one row per motif: class, rank (primary / secondary / against), motif id
                         ``<class>.<id>``, consensus, sites, share of the class's sites,
                         best database match (Tomtom q), and with the usage check the effect
                         of inserting it on each class's log-odds and the classes it is used for
    classes.meme         every class's motifs, ids ``<class>.<id>`` (MEME v4, nsites kept)
    usage.tsv            the usage check (:func:`wtko_captum.motifs.usage.motif_usage`)
    classes.json         the same summary as data: per class its primary and secondary motifs,
                         the usage verdict and the warning
    classes.md           the summary for people, the warning first
"""
from __future__ import annotations

import inspect
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from wtko_captum.core.dataset import BACKGROUND
from wtko_captum.core.errors import InputError

log = logging.getLogger("wtko_captum")

CLASS_COLUMNS = ["class", "rank", "motif", "key", "consensus", "nsites", "share", "jaspar_id", "jaspar_name",
                 "jaspar_q"]


@dataclass
class ClassMotifs:
    """What :func:`find_by_class` found. ``table``: classes.tsv; ``usage``: usage.tsv (None
    without a model); ``verdict``: :func:`~wtko_captum.motifs.usage.usage_verdict` (None
    without a model); ``sequences``: sequences per class; ``paths``: files written."""

    table: pd.DataFrame
    usage: pd.DataFrame | None = None
    verdict: dict | None = None
    sequences: dict = field(default_factory=dict)
    paths: dict = field(default_factory=dict)

    @property
    def warning(self) -> str | None:
        return (self.verdict or {}).get("warning")

    def motifs_of(self, cls: str) -> pd.DataFrame:
        """The rows of one class: primary, secondary (by size), then those against it."""
        return self.table[self.table["class"] == cls].reset_index(drop=True)

    def primary(self, cls: str) -> pd.Series | None:
        """The primary motif of one class (None when it has none)."""
        sub = self.table[(self.table["class"] == cls) & (self.table["rank"] == "primary")]
        return sub.iloc[0] if len(sub) else None


def row_classes(attrset) -> np.ndarray:
    """The class name of every row of an AttributionSet: its ``class`` column, else the name of
    its ``label`` (``""`` where unknown)."""
    regions = attrset.regions
    if "class" in regions:
        return regions["class"].astype(str).to_numpy()
    names = [str(c) for c in attrset.class_names or []]
    labels = regions["label"].to_numpy()
    return np.array([names[int(v)] if 0 <= int(v) < len(names) else "" for v in labels], dtype=object)


def condition_subsets(attrset) -> dict:
    """``{class: AttributionSet of its rows}`` for every condition present (background and
    unlabelled rows left out), in class-name order of the set (else order of appearance)."""
    from wtko_captum.core.attribution_set import AttributionSet

    classes = row_classes(attrset)
    present = [c for c in dict.fromkeys(classes.tolist()) if c and c != BACKGROUND]
    order = [str(c) for c in attrset.class_names or []]
    present.sort(key=lambda c: order.index(c) if c in order else len(order))
    out = {}
    for cls in present:
        m = classes == cls
        out[cls] = AttributionSet(attrset.X[m], attrset.attr[m], attrset.regions[m], attrset.method,
                                  attrset.hypothetical, attrset.target, attrset.params, attrset.model_identity,
                                  attrset.class_names, dict(attrset.extra))
    return out


def _finder(finder):
    from wtko_captum.core.registry import FinderInfo, get_registry

    func = get_registry().get("motif_finders", finder) if isinstance(finder, str) else finder
    info = getattr(func, "wtko_info", None) or FinderInfo()
    if info.input != "attributions":
        raise InputError(f"per-class discovery runs finders of attributions; {finder!r} takes a "
                         f"{info.input} (wtko filters reports the classes of its filters itself)")
    if not info.motifs:
        raise InputError(f"motif finder {finder!r} does not declare the motif file it writes "
                         "(motif_finder(motifs=...)), so its motifs cannot be ranked per class")
    return func, info


def _load_model(model, attrset):
    """The model for the usage check: ``model`` (a module or a checkpoint path), else the
    checkpoint the attributions were made with, when it is still there; None otherwise."""
    import torch

    from wtko_captum.core.checkpoint import load_model

    if isinstance(model, torch.nn.Module):
        return model
    path = model if model is not None else attrset.extra.get("model")
    if path is None or not Path(str(path)).is_file():
        if model is not None:
            raise InputError("model checkpoint not found", path=model)
        return None
    return load_model(path, input_length=attrset.X.shape[-1])


def find_by_class(finder, attributions, out, *, model=None, usage: bool = True, min_effect: float | None = None,
                  n_background: int = 200, min_sequences: int = 20, motif_db=None, seed: int = 0,
                  device="auto", batch_size: int = 128, **options) -> ClassMotifs:
    """Run a motif finder on each condition's sequences and summarise each condition's motifs.

    Parameters
    ----------
    finder : str or callable
        A registered motif finder of attributions that declares its motif file (``kmers``,
        ``modisco``, a plugin's).
    attributions : AttributionSet or path
        Any file or directory an attribution reader claims; its regions' ``class`` (or
        ``label``) says each sequence's condition.
    out : path
        Output directory (see the module docstring); the finder writes ``by_class/<class>/``.
    model : torch.nn.Module or path, optional
        The model for the usage check; default the checkpoint recorded in the attributions.
    usage : bool
        Run the usage check (skipped, and said so, when no model can be found).
    min_effect : float, optional
        Change of log-odds a motif needs to count as used (default
        :data:`~wtko_captum.motifs.usage.MIN_EFFECT`).
    n_background : int
        Shuffled background sequences the motifs are inserted into.
    min_sequences : int
        A class with fewer sequences is left out (too few for a finder).
    motif_db : path, optional
        Database for the best matches (default: bundled JASPAR 2020).
    seed, device, batch_size
        As everywhere; ``seed`` also goes to the finder when it takes one.
    **options
        The finder's own options.

    Returns
    -------
    ClassMotifs
    """
    from wtko_captum.core.atomic import output_dir, path_component
    from wtko_captum.core.motif_db import motif_field
    from wtko_captum.core.readers import read
    from wtko_captum.core.sequence import consensus

    func, info = _finder(finder)
    attrset = read(attributions, kind="attributions")
    subsets = condition_subsets(attrset)
    if not subsets:
        raise InputError("the attributions name no condition class for their sequences (no class or label "
                         "column), so they cannot be split by class")
    params = inspect.signature(func).parameters
    if "seed" in params:
        options = {"seed": seed, **options}
    if "motif_db" in params and motif_db is not None:
        options = {"motif_db": motif_db, **options}
    out = output_dir(out)
    output_dir(out / "by_class")
    rows, motifs, nsites, sequences = [], {}, {}, {}
    for cls, sub in subsets.items():
        sequences[cls] = len(sub)
        if len(sub) < min_sequences:
            log.warning("warning: %s has %d sequences (< %d): no per-class motifs for it", cls, len(sub),
                        min_sequences)
            continue
        cdir = out / "by_class" / path_component(cls, "class name")
        log.info("%s motifs of %s: %d sequences -> %s", getattr(finder, "__name__", finder), cls, len(sub), cdir)
        func(sub, cdir, **options)
        mfile = cdir / info.motifs
        found = read(mfile, kind="motifs") if mfile.is_file() else {}
        sites = motif_field(found, "nsites") or {}
        keys = sorted(found, key=lambda k: -sites.get(k, 0))  # stable: file order among ties
        total = sum(sites.get(k, 0) for k in keys) or 1
        for r, key in enumerate(keys):
            mid = f"{cls}.{key.split()[0]}"
            cons = consensus(found[key])
            motifs[f"{mid} {cons}"] = found[key]
            nsites[f"{mid} {cons}"] = int(sites.get(key, 0))
            rows.append({"class": cls, "rank": "primary" if r == 0 else "secondary", "motif": mid, "key": key,
                         "consensus": cons, "nsites": int(sites.get(key, 0)),
                         "share": round(sites.get(key, 0) / total, 4)})
    table = pd.DataFrame(rows, columns=CLASS_COLUMNS[:7])
    model_ = None
    if usage and motifs:
        model_ = _load_model(model, attrset)
        if model_ is None:
            log.info("usage check skipped: the model %r is not at hand (give model=... / --checkpoint)",
                     attrset.extra.get("model"))
    return summarise_classes(table, motifs, nsites, out, sequences=sequences, model=model_, X=attrset.X,
                             class_names=attrset.class_names, motif_db=motif_db, min_effect=min_effect,
                             n_background=n_background, seed=seed, device=device, batch_size=batch_size,
                             header={"finder": getattr(finder, "__name__", finder), "method": attrset.method,
                                     "target": attrset.target})


def summarise_classes(table: pd.DataFrame, motifs: dict, nsites: dict, out, *, sequences: dict, model=None,
                      X=None, class_names=(), motif_db=None, min_effect: float | None = None,
                      n_background: int = 200, seed: int = 0, device="auto", batch_size: int = 128,
                      header: dict | None = None) -> ClassMotifs:
    """Match each class's motifs to the database, check which the model uses, and write the
    summary files (classes.tsv, classes.meme, usage.tsv, classes.json, classes.md) in ``out``.

    ``table``: one row per motif with class, rank, motif (``<class>.<id>``), key, consensus,
    nsites, share, classes' motifs ranked by size within each class; ``motifs`` / ``nsites``:
    ``{"<class>.<id> CONSENSUS": (4, W)}`` and their site counts; ``sequences``: sequences per
    class; ``model`` (None: no usage check) and ``X`` ``(N, 4, L)``, the sequences whose
    dinucleotide shuffles the motifs are inserted into.
    """
    from wtko_captum.core.atomic import output_dir, write_text
    from wtko_captum.core.export import export
    from wtko_captum.motifs.usage import MIN_EFFECT

    min_effect = MIN_EFFECT if min_effect is None else float(min_effect)
    out = output_dir(out)
    table = _with_matches(table.reset_index(drop=True), motifs, motif_db)
    result = ClassMotifs(table, sequences=dict(sequences))
    if model is not None and motifs:
        result.usage, result.verdict = _usage(model, X, class_names, table, motifs, min_effect, n_background, seed,
                                              device, batch_size)
        table = result.table = _with_usage(table, result.usage, result.verdict)
    paths = {"classes.tsv": write_text(out / "classes.tsv", table.to_csv(sep="\t", index=False,
                                                                        float_format="%.4g"))}
    if motifs:
        paths["classes.meme"] = export("meme", motifs, out / "classes.meme", nsites=nsites)[0]
    if result.usage is not None:
        paths["usage.tsv"] = write_text(out / "usage.tsv", result.usage.to_csv(sep="\t", index=False,
                                                                              float_format="%.4g"))
    summary = class_summary(result, **(header or {}))
    paths["classes.json"] = write_text(out / "classes.json", json.dumps(summary, indent=2, default=str) + "\n")
    paths["classes.md"] = write_text(out / "classes.md", summary_markdown(summary))
    result.paths = paths
    if result.warning:
        log.warning("warning: %s", result.warning)
    return result


def _with_matches(table: pd.DataFrame, motifs: dict, motif_db) -> pd.DataFrame:
    """Add each motif's best database match (Tomtom, q over the database per motif)."""
    from wtko_captum.motifs.tomtom import best_matches, tomtom

    table = table.assign(jaspar_id="", jaspar_name="", jaspar_q=np.nan)
    if not motifs:
        return table
    best = best_matches(tomtom(motifs, motif_db, thresh=1.0)).set_index("Query_ID")
    for i, mid in enumerate(table["motif"]):
        if mid in best.index:
            b = best.loc[mid]
            table.loc[i, ["jaspar_id", "jaspar_name", "jaspar_q"]] = [b["Target_ID"], b["Target_name"], b["q-value"]]
    return table


def display_name(row) -> str:
    """``CONSENSUS (JASPAR name)`` when the best match has q < 0.05, else the consensus."""
    q = row.get("jaspar_q", np.nan)
    name = row.get("jaspar_name", "")
    return f"{row['consensus']} ({name})" if name and pd.notna(q) and q < 0.05 else str(row["consensus"])


def _usage(model, X, class_names, table, motifs, min_effect, n_background, seed, device, batch_size):
    from wtko_captum.core.targets import class_names_of, has_background
    from wtko_captum.motifs.usage import motif_usage, shuffled_backgrounds, usage_verdict

    names = class_names_of(model) or [str(c) for c in class_names]
    backgrounds = shuffled_backgrounds(X, n_background, seed)
    by_id = {k.split()[0]: v for k, v in motifs.items()}
    usage = motif_usage(model, by_id, backgrounds, names, batch_size=batch_size, device=device)
    labels = {r["motif"]: display_name(r) for _, r in table.iterrows()}
    verdict = usage_verdict(usage, [c for c in names if c != BACKGROUND], labels=labels, min_effect=min_effect,
                            has_background=has_background(names))
    verdict["n_background"] = int(len(backgrounds))
    verdict["class_names"] = names
    return usage, verdict


def _with_usage(table: pd.DataFrame, usage: pd.DataFrame, verdict: dict) -> pd.DataFrame:
    """Add the usage effects; a motif whose insertion lowers its own class's log-odds by the
    verdict's ``min_effect`` or more is evidence *against* that class (a fragment of another
    class's motif, a negative modisco pattern): rank ``against``, never the primary motif."""
    effects = usage.set_index("motif")[[c for c in usage.columns if c.startswith("effect_")]]
    table = table.merge(effects, left_on="motif", right_index=True, how="left")
    used = {m: [c for c, ms in verdict["used"].items() if m in ms] for m in table["motif"]}
    table["used_for"] = [",".join(used[m]) for m in table["motif"]]
    own = np.array([r.get(f"effect_{r['class']}", np.nan) for _, r in table.iterrows()], dtype=float)
    against = own <= -verdict["min_effect"]
    parts = []
    for cls in dict.fromkeys(table["class"]):
        m = (table["class"] == cls).to_numpy()
        keep, bad = table[m & ~against].copy(), table[m & against].copy()
        keep["rank"] = ["primary" if i == 0 else "secondary" for i in range(len(keep))]
        bad["rank"] = "against"
        parts += [keep, bad]
    return pd.concat(parts, ignore_index=True) if parts else table


def class_summary(result: ClassMotifs, *, finder: str = "", method=None, target=None) -> dict:
    """The per-class summary as data (what classes.json holds)."""
    classes = {}
    for cls, n in result.sequences.items():
        sub = result.motifs_of(cls)
        rows = [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
                for r in sub.to_dict("records")]
        classes[cls] = {"n_sequences": int(n),
                        "primary": next((r for r in rows if r["rank"] == "primary"), None),
                        "secondary": [r for r in rows if r["rank"] == "secondary"],
                        "against": [r for r in rows if r["rank"] == "against"]}
    out = {"finder": finder, "classes": classes, "warning": result.warning}
    if method is not None:
        out.update(method=method, target=target)
    if result.verdict is not None:
        out["usage"] = {k: v for k, v in result.verdict.items() if k != "warning"}
    return out


def summary_markdown(summary: dict) -> str:
    """classes.md: the warning, then each class's primary and secondary motifs."""
    lines = [f"# Motifs of each class ({summary.get('finder', '')}"
             + (f", {summary['method']} attributions, target {summary['target']}" if summary.get("method") else "")
             + ")", ""]
    if summary.get("warning"):
        lines += [f"**Warning: {summary['warning']}.**", ""]
    usage = summary.get("usage")
    for cls, c in summary["classes"].items():
        lines += [f"## {cls} ({c['n_sequences']} sequences)", ""]
        if c["primary"] is None:
            lines += ["(no motif found)" if not c["against"] else
                      "(no motif for this class: every motif found lowers its log-odds when inserted)"]
        for r in ([c["primary"]] if c["primary"] else []) + c["secondary"] + c["against"]:
            match = (f"{r['jaspar_name']} ({r['jaspar_id']}, q={r['jaspar_q']:.2g})"
                     if r.get("jaspar_q") is not None and r["jaspar_q"] < 0.05 else "no database match (q < 0.05)")
            effect = ""
            if usage is not None and r.get(f"effect_{cls}") is not None:
                effect = f"; inserted: {cls} log-odds {r[f'effect_{cls}']:+.2f}"
                if r.get("used_for"):
                    effect += f" (used for {r['used_for']})"
            lines.append(f"- {r['rank']}: {r['motif']} `{r['consensus']}`, {r['nsites']} sites "
                         f"({100 * r['share']:.0f}%); {match}{effect}")
        lines.append("")
    if usage is not None:
        lines += ["## Usage check", "",
                  f"Each motif's consensus inserted (both strands) at the centre of {usage['n_background']} "
                  f"dinucleotide-shuffled sequences; effect = mean change of a class's log-odds; a motif is "
                  f"used for a class when the effect is at least {usage['min_effect']:g}.", ""]
        for cls, ms in usage["used"].items():
            lines.append(f"- {cls}: " + (", ".join(ms) if ms else "no motif with a positive effect"))
        if usage.get("note"):
            lines += ["", usage["note"] + "."]
        lines.append("")
    else:
        lines += ["(usage check not run: no model)", ""]
    return "\n".join(lines)


def n_conditions(attributions) -> int:
    """How many condition classes an attribution set's sequences belong to."""
    from wtko_captum.core.readers import read

    classes = row_classes(read(attributions, kind="attributions"))
    return len({c for c in classes.tolist() if c and c != BACKGROUND})


def report(result: ClassMotifs) -> str:
    """A few lines for the terminal: each class's primary and secondary motifs, then the warning."""
    lines = []
    for cls, n in result.sequences.items():
        sub = result.motifs_of(cls)
        ranked = sub[sub["rank"] != "against"]
        if not len(ranked):
            lines.append(f"{cls} ({n} sequences): no motif" + (f" ({len(sub)} found, all against {cls})"
                                                               if len(sub) else ""))
            continue
        parts = [f"{r['motif']} {display_name(r)} [{r['rank']}, {r['nsites']} sites]" for _, r in ranked.head(3).iterrows()]
        more = f" (+{len(ranked) - 3} more)" if len(ranked) > 3 else ""
        lines.append(f"{cls} ({n} sequences): " + "; ".join(parts) + more)
    if result.warning:
        lines.append(f"warning: {result.warning}")
    return "\n".join(lines)
