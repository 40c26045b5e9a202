"""First-layer filters as motifs, and the motifs that recur across seeded training runs.

For each filter of the first convolution (``(F, 4, w)`` weights):

* the **weight consensus**: the argmax base of each weight column (the WTKO paper's equation);
* the **activation matrix**: every length-``w`` subsequence whose activation exceeds
  ``threshold`` x the filter's maximum activation over all sequences is stacked into a count
  matrix (Basset/DeepBind style). The activation is the first block's output as the network
  sees it: conv1, then bn1 and relu1 when the model has them (the WTKO-CNN does). Position
  ``j`` of the conv output covers input bases ``[j, j + w)`` (no padding), N columns count
  nothing.

Across runs (several seeded checkpoints of one training), each filter's activation matrix is
compared with every other run's by Tomtom (:mod:`wtko_captum.motifs.tomtom`); filters joined by
reciprocal best matches with ``q < q_threshold`` form groups, and a group present in at least ``min_runs`` runs is
a recurring motif, reported with its JASPAR matches.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from wtko_captum.core.errors import InputError
from wtko_captum.core.registry import motif_finder
from wtko_captum.core.sequence import consensus

log = logging.getLogger(__name__)


@dataclass
class FilterMotifs:
    """Filter motifs of one checkpoint.

    ``weights`` ``(F, 4, w)``; ``consensus`` the argmax strings; ``counts`` ``(F, 4, w)`` stacked
    activating subsequences; ``n_sites`` ``(F,)``; ``max_activation`` ``(F,)``; ``present``
    ``(N, F)``: which sequences hold a site of each filter.
    """

    run: str
    weights: np.ndarray
    consensus: list
    counts: np.ndarray
    n_sites: np.ndarray
    max_activation: np.ndarray
    present: np.ndarray | None = None  # (N, F) bool: the sequence has at least one site of the filter

    def motifs(self) -> dict[str, np.ndarray]:
        """``{"<run>_f<j> CONSENSUS": (4, w) probabilities}`` of filters with at least one site."""
        out = {}
        for j in range(len(self.counts)):
            if self.n_sites[j] > 0:
                c = self.counts[j]
                out[f"{self.run}_f{j} {self.consensus[j]}"] = c / c.sum(axis=0, keepdims=True).clip(1e-12)
        return out


def first_conv(model):
    """The first ``Conv1d`` of ``model`` and a function mapping its output to the activation
    (bn1 and relu1 applied when present)."""
    import torch

    conv = getattr(model, "conv1", None)
    if conv is None:
        conv = next((m for m in model.modules() if isinstance(m, torch.nn.Conv1d)), None)
    if conv is None:
        raise InputError("model has no Conv1d layer")
    post = [m for m in (getattr(model, "bn1", None), getattr(model, "relu1", None)) if m is not None]

    def activate(x):
        for m in post:
            x = m(x)
        return x

    return conv, activate


def weight_consensus(weights: np.ndarray) -> list[str]:
    """Argmax base per column of ``(F, 4, w)`` filter weights."""
    return [consensus(w) for w in np.asarray(weights)]


def filter_motifs_one(model, X: np.ndarray, *, threshold: float = 0.5, batch_size: int = 256,
                      device: str = "cpu", run: str = "run0") -> FilterMotifs:
    """Weight consensus and activation count matrices of one model's first-layer filters.

    Parameters
    ----------
    model : torch.nn.Module
        Eval mode is used; its device and mode are restored.
    X : ndarray (N, 4, L)
        One-hot sequences the activations are computed on.
    threshold : float
        Fraction of each filter's maximum activation (over all of ``X``) a subsequence must
        exceed to be stacked (default 0.5).
    """
    import torch

    if not 0 <= threshold < 1:
        raise InputError("threshold is a fraction of the maximum activation in [0, 1)", value=threshold)
    conv, activate = first_conv(model)
    weights = conv.weight.detach().cpu().numpy().astype(np.float64)
    n_f, _, w = weights.shape
    was_training = model.training
    old_device = next(model.parameters()).device
    model.eval().to(device)
    X = np.asarray(X, dtype=np.float32)

    def batches():
        for lo in range(0, len(X), batch_size):
            xb = torch.from_numpy(X[lo:lo + batch_size]).to(device)
            with torch.no_grad():
                yield xb, activate(conv(xb))

    try:
        max_act = np.full(n_f, -np.inf)
        for _, act in batches():
            max_act = np.maximum(max_act, act.amax(dim=(0, 2)).cpu().numpy())
        counts = np.zeros((n_f, 4, w))
        n_sites = np.zeros(n_f, dtype=np.int64)
        present = []
        cut = torch.as_tensor(threshold * np.maximum(max_act, 0), dtype=torch.float32, device=device)
        for xb, act in batches():
            mask = ((act > cut[None, :, None]) & (act > 0)).float()  # (B, F, L')
            n_sites += mask.sum(dim=(0, 2)).long().cpu().numpy()
            present.append((mask.amax(dim=2) > 0).cpu().numpy())
            span = act.shape[-1]
            for o in range(w):  # column o of the filter sees input base j + o
                counts[:, :, o] += torch.einsum("bfl,bcl->fc", mask, xb[:, :, o:o + span]).cpu().numpy()
    finally:
        model.to(old_device).train(was_training)
    present = np.concatenate(present) if present else np.zeros((0, n_f), dtype=bool)
    return FilterMotifs(run, weights, weight_consensus(weights), counts, n_sites, max_act, present)


def class_presence(present: np.ndarray, labels: np.ndarray, class_names, *, alpha: float = 0.05) -> pd.DataFrame:
    """Per filter: how many sequences of each class hold a site, and the class it is enriched in.

    ``present`` ``(N, F)``, ``labels`` ``(N,)`` class indices. For filter ``j`` and class ``X``:
    sequences of ``X`` with a site against the other sequences with one, Fisher's exact test
    (two-sided), Benjamini-Hochberg over filters x classes; ``enriched_in`` is the class with
    odds ratio > 1 and q < ``alpha`` (smallest q), empty when none.

    Returns one row per filter: ``seqs_<class>`` (sequences with a site), ``frac_<class>``,
    enriched_in, enrichment_or, enrichment_q.
    """
    from scipy.stats import fisher_exact

    from wtko_captum.motifs.tomtom import best_enrichment

    names = [str(c) for c in class_names]
    labels = np.asarray(labels)
    n_class = {i: int((labels == i).sum()) for i in range(len(names))}
    rows, tests = [], []
    for j in range(present.shape[1]):
        has = present[:, j]
        row = {}
        for i, name in enumerate(names):
            a = int((has & (labels == i)).sum())
            row[f"seqs_{name}"] = a
            row[f"frac_{name}"] = round(a / n_class[i], 4) if n_class[i] else float("nan")
            if n_class[i]:
                b = n_class[i] - a
                c = int(has.sum()) - a
                d = len(labels) - n_class[i] - c
                odds, p = fisher_exact([[a, b], [c, d]])
                tests.append((j, name, float(odds), float(p)))
        rows.append(row)
    best, _ = best_enrichment(tests, alpha)
    for j, row in enumerate(rows):
        name, odds, qv = best.get(j, ("", float("nan"), float("nan")))
        row.update(enriched_in=name, enrichment_or=odds, enrichment_q=qv)
    return pd.DataFrame(rows)


def recurring_motifs(runs: list[FilterMotifs], *, min_runs: int = 2, q_threshold: float = 0.05,
                     database=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Match filters between runs with Tomtom and group those that recur.

    Each filter's activation matrix is compared with every filter of every other run; two
    filters of different runs that are each other's best match with ``q < q_threshold`` (both
    ways) are joined; connected components are groups, ordered by runs, then median q. Returns ``(matches, groups)``: ``matches`` one row per edge (query,
    target, p, q); ``groups`` one row per group seen in ``>= min_runs`` runs: group, n_runs,
    n_filters, median_q, members, representative (the member with the most sites), its consensus and its
    best JASPAR matches (Tomtom q-value < ``q_threshold``, up to 3).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from wtko_captum.motifs.tomtom import tomtom_arrays

    per_run = [r.motifs() for r in runs]
    keys = [k for m in per_run for k in m]
    run_of = np.array([i for i, m in enumerate(per_run) for _ in m])
    all_motifs = {k: v for m in per_run for k, v in m.items()}
    if len(keys) < 2 or len(runs) < 2:
        return pd.DataFrame(columns=["query", "target", "p", "q"]), pd.DataFrame()
    db = _database(database)
    # pad the targets with the database so Tomtom's background is a real motif collection
    targets = dict(all_motifs)
    targets.update({k: v for k, v in db.items() if k not in targets})
    res = tomtom_arrays(all_motifs, targets)
    p = res["p"][:, : len(keys)]
    from wtko_captum.motifs.tomtom import benjamini_hochberg

    q = np.vstack([benjamini_hochberg(row) for row in res["p"]])[:, : len(keys)]
    best = {}  # (filter, other run) -> its best match there
    for i in range(len(keys)):
        for r in range(len(runs)):
            cols = np.flatnonzero(run_of == r)
            if r != run_of[i] and len(cols):
                best[i, r] = int(cols[np.argmin(p[i, cols])])
    # reciprocal best hits only: one-way best matches chain weak, low-information filters
    # (GC-rich noise) into one large group
    edges = [(i, j, p[i, j], q[i, j]) for (i, r), j in best.items()
             if i < j and best.get((j, run_of[i])) == i and max(q[i, j], q[j, i]) < q_threshold]
    matches = pd.DataFrame([(keys[i].split()[0], keys[j].split()[0], pv, qv) for i, j, pv, qv in edges],
                           columns=["query", "target", "p", "q"])
    if edges:
        e = np.array([(i, j) for i, j, _, _ in edges])
        graph = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(len(keys), len(keys)))
        _, comp = connected_components(graph, directed=False)
    else:
        comp = np.arange(len(keys))
    sites = {f"{r.run}_f{j}": int(r.n_sites[j]) for r in runs for j in range(len(r.n_sites))}
    rows = []
    for g in np.unique(comp):
        members = np.flatnonzero(comp == g)
        n_runs = len(set(run_of[members]))
        if n_runs < min_runs:
            continue
        ids = [keys[m].split()[0] for m in members]
        rep = members[int(np.argmax([sites[i] for i in ids]))]
        inside = [qv for i, j, _, qv in edges if comp[i] == g]
        rows.append({"n_runs": n_runs, "n_filters": len(members), "median_q": float(np.median(inside)),
                     "members": ",".join(ids),
                     "representative": keys[rep].split()[0], "consensus": keys[rep].split()[1],
                     "_key": keys[rep]})
    groups = pd.DataFrame(rows)
    if len(groups):
        groups = groups.sort_values(["n_runs", "median_q"], ascending=[False, True], kind="stable").reset_index(drop=True)
        groups.insert(0, "group", [f"recurring{i + 1}" for i in range(len(groups))])
        jas = tomtom_arrays({k: all_motifs[k] for k in groups["_key"]}, db)
        db_keys = list(db)
        hits = []
        for row_p in jas["p"]:
            row_q = benjamini_hochberg(row_p)
            order = [i for i in np.argsort(row_p, kind="stable")[:3] if row_q[i] < q_threshold]
            hits.append(";".join(f"{db_keys[i]} (q={row_q[i]:.2g})" for i in order))
        groups["jaspar_matches"] = hits
        groups = groups.drop(columns="_key")
    return matches, groups


def _database(database):
    from wtko_captum.core.motif_db import load_motifs

    if database is None or isinstance(database, (str, Path)):
        return load_motifs(database)
    return dict(database)


def find_checkpoints(model_path) -> list[Path]:
    """``model.pt`` files of a training output: the file itself, ``<dir>/model.pt`` and every
    ``<dir>/seed_*/model.pt`` (seeded repeats), sorted."""
    path = Path(model_path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError("model checkpoint or training directory not found", path=path)
    found = ([path / "model.pt"] if (path / "model.pt").is_file() else []) + sorted(path.glob("seed_*/model.pt"))
    if not found:
        raise InputError("no model.pt (nor seed_*/model.pt) in the training directory", path=path)
    return found


def filter_motifs(checkpoints, data, *, split: str = "all", threshold: float = 0.5,
                  min_runs: int = 2, q_threshold: float = 0.05, batch_size: int = 256,
                  device: str = "cpu", database=None, max_sequences: int | None = None,
                  seed: int = 0) -> dict:
    """Filter motifs of one or several checkpoints and the motifs recurring across them.

    Parameters
    ----------
    checkpoints : path or list of paths
        ``model.pt`` files, or a training directory (see :func:`find_checkpoints`).
    data : path or PreparedData or ndarray (N, 4, L)
        Sequences the activations are computed on (a prepared-data directory: ``split`` rows).
    split : str
        Split of a prepared-data directory (``all``, ``train``, ``val``, ``test``).
    threshold : float
        Activation fraction of each filter's maximum (default 0.5).
    min_runs : int
        A recurring motif is found in at least this many runs.
    max_sequences : int, optional
        Seeded random subset of the sequences (speed).

    Returns
    -------
    dict
        ``runs`` (list of :class:`FilterMotifs`), ``table`` (one row per run and filter: run,
        filter, motif_id, weight_consensus, n_sites, max_activation, ic), ``matches`` and
        ``recurring`` (see :func:`recurring_motifs`), ``motifs`` (all activation motifs).
    """
    from wtko_captum.core.checkpoint import load_model
    from wtko_captum.motifs.cluster import information_content

    if isinstance(checkpoints, (str, Path)):
        checkpoints = find_checkpoints(checkpoints)
    checkpoints = [Path(c) for c in checkpoints]
    X, labels, class_names = _sequences(data, split)
    if max_sequences is not None and len(X) > max_sequences:
        pick = np.sort(np.random.default_rng(seed).choice(len(X), max_sequences, replace=False))
        X = X[pick]
        labels = labels[pick] if labels is not None else None
    names = _run_names(checkpoints)
    runs = []
    for name, ckpt in zip(names, checkpoints):
        model = load_model(ckpt, device=device)
        runs.append(filter_motifs_one(model, X, threshold=threshold, batch_size=batch_size,
                                      device=device, run=name))
    rows = []
    for r in runs:
        for j in range(len(r.n_sites)):
            probs = r.counts[j] / r.counts[j].sum(axis=0, keepdims=True).clip(1e-12) if r.n_sites[j] else None
            rows.append({"run": r.run, "filter": j, "motif_id": f"{r.run}_f{j}",
                         "weight_consensus": r.consensus[j], "activation_consensus":
                         "".join("ACGT"[i] for i in r.counts[j].argmax(axis=0)) if r.n_sites[j] else "",
                         "n_sites": int(r.n_sites[j]), "max_activation": float(r.max_activation[j]),
                         "ic": float(information_content(probs).sum()) if probs is not None else 0.0})
    table = pd.DataFrame(rows)
    if labels is not None and len(table):
        table = pd.concat([table, pd.concat([class_presence(r.present, labels, class_names) for r in runs],
                                            ignore_index=True)], axis=1)
    matches, recurring = recurring_motifs(runs, min_runs=min_runs, q_threshold=q_threshold, database=database) \
        if len(runs) > 1 else (pd.DataFrame(), pd.DataFrame())
    motifs = {k: v for r in runs for k, v in r.motifs().items()}
    return {"runs": runs, "table": table, "matches": matches, "recurring": recurring,
            "motifs": motifs, "nsites": {k: int(r.n_sites[int(k.split()[0].rsplit("_f", 1)[1])])
                                         for r in runs for k in r.motifs()},
            "X": X, "labels": labels, "class_names": class_names, "checkpoints": checkpoints}


def filter_classes(result: dict, out, *, model=None, motif_db=None, min_effect: float | None = None,
                   seed: int = 0, device="cpu", batch_size: int = 256):
    """Each class's filter motifs (those of the first run enriched in it, see
    :func:`class_presence`), ranked by the class's sequences with a site (the largest is the
    primary motif), with their database matches and the usage check: written as classes.tsv,
    classes.meme, usage.tsv, classes.json and classes.md in ``out`` (see
    :func:`wtko_captum.motifs.classes.summarise_classes`). ``None`` without class labels."""
    from wtko_captum.core.dataset import BACKGROUND
    from wtko_captum.motifs.classes import summarise_classes

    if result.get("labels") is None or not len(result["table"]):
        return None
    run = result["runs"][0]
    table = result["table"][result["table"]["run"] == run.run].reset_index(drop=True)
    labels, names = result["labels"], [str(c) for c in result["class_names"]]
    conditions = [c for c in names if c != BACKGROUND and (labels == names.index(c)).any()]
    rows, motifs, nsites = [], {}, {}
    own = run.motifs()
    by_filter = {int(k.split()[0].rsplit("_f", 1)[1]): k for k in own}
    for cls in conditions:
        sub = table[(table["enriched_in"] == cls) & table["filter"].isin(list(by_filter))]
        sub = sub.sort_values(f"seqs_{cls}", ascending=False, kind="stable")
        total = int(sub[f"seqs_{cls}"].sum()) or 1
        for r, (_, f) in enumerate(sub.iterrows()):
            key = by_filter[int(f["filter"])]
            mid = f"{cls}.{f['motif_id']}"
            cons = f["activation_consensus"]
            motifs[f"{mid} {cons}"] = own[key]
            nsites[f"{mid} {cons}"] = int(f[f"seqs_{cls}"])
            rows.append({"class": cls, "rank": "primary" if r == 0 else "secondary", "motif": mid, "key": key,
                         "consensus": cons, "nsites": int(f[f"seqs_{cls}"]),
                         "share": round(int(f[f"seqs_{cls}"]) / total, 4)})
    from wtko_captum.motifs.classes import CLASS_COLUMNS

    model_ = None
    if motifs:
        from wtko_captum.core.checkpoint import load_model

        model_ = load_model(result["checkpoints"][0], device=device)
    sequences = {c: int((labels == names.index(c)).sum()) for c in conditions}
    return summarise_classes(pd.DataFrame(rows, columns=CLASS_COLUMNS[:7]), motifs, nsites, out,
                             sequences=sequences, model=model_, X=result["X"], class_names=names,
                             motif_db=motif_db, min_effect=min_effect, seed=seed, device=device,
                             batch_size=batch_size,
                             header={"finder": "filters", "method": f"first-layer filters of {run.run}",
                                     "target": "sequences with a site, per class"})


@motif_finder(input="model", motifs="filters.meme",
              description="first-layer filter motifs: weight consensus and activation-stacked "
                          "matrices, recurring across seeded runs")
def find_filter_motifs(model, out, *, data, split: str = "all", threshold: float = 0.5, min_runs: int = 2,
                       q_threshold: float = 0.05, motif_db=None, max_sequences: int | None = None,
                       by_class: bool = True, min_effect: float = 0.5, batch_size: int = 256,
                       device: str = "auto", seed: int = 0) -> dict:
    """First-layer filter motifs of ``model`` written to ``out`` (the ``filters`` motif finder).

    Parameters
    ----------
    model : path
        A training directory (``model.pt``, ``seed_*/model.pt``) or a ``model.pt``.
    out : path
        Output directory.
    data : path
        prepared-data directory whose sequences the activations are computed on
    split : str
        which split's sequences (train, val, test or all)
    threshold : float
        fraction of a filter's maximum activation a subsequence must exceed to be stacked
    min_runs : int
        report motifs found in at least this many runs
    q_threshold : float
        Tomtom q-value for two filters (or a filter and a JASPAR motif) to match
    motif_db : path
        motif database for the JASPAR matches (default: bundled JASPAR 2020)
    max_sequences : int
        a seeded random subset of this many sequences (speed)
    by_class : bool
        report each class's filters (enriched in its sequences, Fisher) with the usage check
    min_effect : float
        change of a class's log-odds that makes an inserted filter motif used for it
    batch_size, device, seed
        as everywhere

    Returns
    -------
    dict: the :func:`filter_motifs` result plus ``classes`` (the
    :class:`~wtko_captum.motifs.classes.ClassMotifs` of :func:`filter_classes`, or None) and
    ``paths`` (the files written).
    """
    from wtko_captum.core.atomic import output_dir
    from wtko_captum.core.device import resolve_device

    out = output_dir(out)  # refused before any work when another program wrote it; marked as ours
    dev = resolve_device(device)
    result = filter_motifs(model, data, split=split, threshold=threshold, min_runs=min_runs,
                           q_threshold=q_threshold, batch_size=batch_size, device=dev,
                           database=motif_db, max_sequences=max_sequences, seed=seed)
    paths = write_filters(result, out)
    classes = None
    if by_class:
        classes = filter_classes(result, out, motif_db=motif_db, min_effect=min_effect, seed=seed, device=dev,
                                 batch_size=batch_size)
        if classes is not None:
            paths += list(classes.paths.values())
    return {**result, "classes": classes, "paths": paths}


def write_filters(result: dict, outdir) -> list[Path]:
    """``filters.tsv``, ``filters.meme`` (activation matrices), ``recurring.tsv`` and
    ``matches.tsv`` under ``outdir``; returns the paths written."""
    from wtko_captum.core.atomic import write_text
    from wtko_captum.core.export import export

    outdir = Path(outdir)
    written = [write_text(outdir / "filters.tsv", result["table"].to_csv(sep="\t", index=False))]
    if result["motifs"]:
        written += export("meme", result["motifs"], outdir / "filters.meme", nsites=result["nsites"])
    written.append(write_text(outdir / "recurring.tsv", result["recurring"].to_csv(sep="\t", index=False)))
    written.append(write_text(outdir / "matches.tsv", result["matches"].to_csv(sep="\t", index=False)))
    return written


def _sequences(data, split: str):
    """``(X (N, 4, L), labels (N,) or None, class names)`` of the sequences to scan."""
    from wtko_captum.core.dataset import PreparedData, load_prepared

    if isinstance(data, np.ndarray):
        return data.astype(np.float32), None, []
    if not isinstance(data, PreparedData):
        data = load_prepared(data)
    part = data.split(split)
    if not len(part.X):
        raise InputError(f"no sequences in split {split!r}", path=data.path)
    return part.X, part.y, part.class_names


def _run_names(paths: list[Path]) -> list[str]:
    """``seed_3/model.pt`` -> ``seed_3``; a lone ``model.pt`` -> ``run0`` (made unique)."""
    names = []
    for i, p in enumerate(paths):
        name = p.parent.name if p.parent.name.startswith("seed_") else f"run{i}"
        names.append(name if name not in names else f"{name}_{i}")
    return names
