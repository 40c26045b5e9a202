"""``compare_sets``: which known motifs each motif finder found, in one table.

The NeuronMotif paper's comparison: run every finder on the same model (first-layer filter
motifs, saliency k-mer clusters, TF-MoDISco patterns, NeuronMotif of layer 1 and of layer 2)
and count the distinct database motifs (JASPAR) each one matches at Tomtom q < 0.001.

Inputs are output directories; each is recognised by the motif file it holds:

========== ===================== ==========================================
finder     motif file            written by
========== ===================== ==========================================
neurons    ``clusters.pfm.meme`` ``wtko neurons`` (every demixed cluster, as the paper counts)
modisco    ``patterns.pfm.meme`` ``wtko modisco``
kmers      ``clusters.meme``     ``wtko kmers``
filters    ``filters.meme``      ``wtko filters``
========== ===================== ==========================================

A MEME file may be given instead of a directory. Every motif of every set is a Tomtom query
against the database; q-values are per query over the whole database (as the MEME suite's
Tomtom computes them), so a set's count does not depend on the other sets.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from wtko_captum.core.errors import InputError

#: (finder, motif file) in the order a directory is recognised.
MOTIF_FILES = (("neurons", "clusters.pfm.meme"), ("modisco", "patterns.pfm.meme"), ("kmers", "clusters.meme"),
               ("filters", "filters.meme"))


@dataclass
class MotifSetComparison:
    """found: one row per database motif matched by any set (``q_LABEL``/``motif_LABEL``: each
    set's best q-value and the motif that reached it); counts: one row per set; matches: every
    (set, motif, database motif) pair at q <= the threshold; paths: files written."""

    found: pd.DataFrame
    counts: pd.DataFrame
    matches: pd.DataFrame
    summary: str = ""
    paths: dict = field(default_factory=dict)


def motif_set(path) -> tuple[str, Path]:
    """``(finder, motif file)`` of an output directory (or a MEME file: finder ``meme``)."""
    path = Path(path)
    if path.is_file():
        return "meme", path
    if not path.is_dir():
        raise InputError("no such directory or MEME file", path=path)
    for finder, name in MOTIF_FILES:
        if (path / name).is_file():
            return finder, path / name
    raise InputError("not the output of a motif finder (none of "
                     + ", ".join(name for _, name in MOTIF_FILES) + " in it)", path=path)


def _labels(paths: list[Path], labels) -> list[str]:
    if labels is None:
        labels = [p.stem if p.is_file() else p.name for p in paths]
    if len(labels) != len(paths):
        raise InputError(f"{len(labels)} labels for {len(paths)} motif sets")
    if len(set(labels)) != len(labels):
        raise InputError("two motif sets have the same label (name them with labels=/--labels)",
                         value=",".join(labels))
    return list(labels)


def compare_sets(paths, out=None, *, labels=None, motif_db=None, q: float = 0.001) -> MotifSetComparison:
    """Count the database motifs each motif set matches, and which sets share them.

    Parameters
    ----------
    paths : sequence of path
        Output directories of motif finders (see the module docstring) or MEME files.
    out : path, optional
        Output directory: ``found.tsv``, ``counts.tsv``, ``matches.tsv``, ``summary.md``.
        Nothing is written when None.
    labels : sequence of str, optional
        A column label per set (default: the directory name or file stem).
    motif_db : dict or path, optional
        The database (default: the bundled JASPAR 2020 CORE vertebrates).
    q : float
        A motif matches a database motif at Tomtom q-value <= ``q`` (the paper: 0.001).

    Returns
    -------
    MotifSetComparison
    """
    from wtko_captum.core.atomic import atomic_dir
    from wtko_captum.core.motif_db import load_motifs
    from wtko_captum.motifs.tomtom import read_motifs, tomtom

    paths = [Path(p) for p in paths]
    if len(paths) < 2:
        raise InputError("give at least two motif sets to compare")
    sets = [motif_set(p) for p in paths]
    labels = _labels(paths, labels)
    db = read_motifs(motif_db) if motif_db is not None else load_motifs()
    names = {key.split()[0]: (key.split(maxsplit=1) + [""])[1] for key in db}

    match_rows, count_rows = [], []
    for label, (finder, file) in zip(labels, sets):
        motifs = load_motifs(file)
        table = tomtom(motifs, db, thresh=q) if motifs else pd.DataFrame(columns=["Query_ID", "Target_ID"])
        for _, r in table.iterrows():
            match_rows.append({"set": label, "motif": r["Query_ID"], "jaspar_id": r["Target_ID"],
                               "jaspar_name": r["Target_name"], "p": r["p-value"], "q": r["q-value"],
                               "offset": r["Optimal_offset"], "strand": r["Orientation"]})
        count_rows.append({"set": label, "finder": finder, "path": str(file), "motifs": len(motifs),
                           "motifs_matched": int(table["Query_ID"].nunique()),
                           "jaspar_motifs": int(table["Target_ID"].nunique())})
    matches = pd.DataFrame(match_rows, columns=["set", "motif", "jaspar_id", "jaspar_name", "p", "q", "offset",
                                                "strand"])
    counts = pd.DataFrame(count_rows)

    best = matches.sort_values("q", kind="stable").drop_duplicates(["set", "jaspar_id"])
    found = pd.DataFrame({"jaspar_id": sorted(best["jaspar_id"].unique())})
    found["jaspar_name"] = found["jaspar_id"].map(names)
    for label in labels:
        sub = best[best["set"] == label].set_index("jaspar_id")
        found[f"q_{label}"] = found["jaspar_id"].map(sub["q"])
        found[f"motif_{label}"] = found["jaspar_id"].map(sub["motif"])
    found["n_sets"] = found[[f"q_{label}" for label in labels]].notna().sum(axis=1)
    found = found.sort_values(["n_sets", "jaspar_id"], ascending=[False, True], kind="stable").reset_index(drop=True)
    only = {label: int(((found["n_sets"] == 1) & found[f"q_{label}"].notna()).sum()) for label in labels}
    counts["jaspar_only_this_set"] = counts["set"].map(only)

    summary = summary_markdown(counts, found, labels, q)
    result = MotifSetComparison(found, counts, matches, summary)
    if out is not None:
        out = Path(out)
        with atomic_dir(out) as tmp:
            found.to_csv(tmp / "found.tsv", sep="\t", index=False, float_format="%.3g")
            counts.to_csv(tmp / "counts.tsv", sep="\t", index=False)
            matches.to_csv(tmp / "matches.tsv", sep="\t", index=False, float_format="%.6g")
            (tmp / "summary.md").write_text(summary)
        result.paths = {n: out / n for n in ("found.tsv", "counts.tsv", "matches.tsv", "summary.md")}
    return result


def summary_markdown(counts: pd.DataFrame, found: pd.DataFrame, labels: list[str], q: float) -> str:
    """The counts table and the database motifs with the sets that found each, as Markdown."""
    lines = [f"Distinct database motifs matched at Tomtom q <= {q:g}", "",
             "| set | finder | motifs | motifs matched | database motifs | only this set |", "|---|---|---|---|---|---|"]
    for _, r in counts.iterrows():
        lines.append(f"| {r['set']} | {r['finder']} | {r['motifs']} | {r['motifs_matched']} | {r['jaspar_motifs']} "
                     f"| {r['jaspar_only_this_set']} |")
    lines += ["", "| database motif | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for _, r in found.iterrows():
        cells = [f"{r[f'q_{label}']:.1g}" if pd.notna(r[f"q_{label}"]) else "" for label in labels]
        lines.append(f"| {r['jaspar_id']} {r['jaspar_name']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
