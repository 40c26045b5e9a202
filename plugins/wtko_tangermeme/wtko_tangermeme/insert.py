"""Motif insertion (tangermeme ``marginalize``): the marginal effect of a motif on predictions.

Each motif (a consensus string such as ``CACGTG``, or a JASPAR/MEME id or name resolved to the
argmax consensus of its matrix) is written over the centre of every background sequence with
:func:`tangermeme.marginalize.marginalize`, and the model's class probabilities before and
after are compared. Backgrounds: dinucleotide-shuffled test sequences (tangermeme's
``dinucleotide_shuffle``; default), or the real test sequences of one class.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from wtko_captum.api import InputError
from wtko_captum.api import consensus

log = logging.getLogger("wtko_captum.insert")

_CONSENSUS = re.compile(r"^[ACGTN]+$", re.IGNORECASE)


# ---- motifs -----------------------------------------------------------------------------------
def resolve_motif(spec: str, motif_db=None) -> tuple[str, str]:
    """``(label, consensus)`` for a consensus string or a motif id / name.

    ``CACGTG`` -> itself (N keeps the background base); ``jaspar:MA0099.3``, ``MA0099.3``,
    ``FOS::JUN`` -> looked up in ``motif_db`` (any motif file; default the bundled JASPAR 2020
    vertebrates) and turned into its argmax consensus.
    """
    spec = str(spec).strip()
    if not spec:
        raise InputError("empty motif")
    if _CONSENSUS.match(spec) and not spec.lower().startswith("jaspar:"):
        return spec.upper(), spec.upper()
    from wtko_captum.api import find_motif, load_motifs

    motifs = load_motifs(motif_db) if motif_db is not None else None
    key, pwm = find_motif(motifs, spec)
    return key, consensus(pwm)


# ---- backgrounds ------------------------------------------------------------------------------
def background_sequences(data, *, split: str = "test", background: str = "shuffle",
                         n: int | None = 200, seed: int = 0) -> tuple[torch.Tensor, str]:
    """Background one-hot ``(B, 4, L)`` float32 and a description.

    ``data``: a :class:`~wtko_captum.core.dataset.PreparedData` or its directory. ``background``:
    ``shuffle`` (one dinucleotide shuffle of each sequence of ``split``), or a class name
    (``WT``/``KO``: that class's real sequences). ``n`` caps the number (seeded subsample).
    """
    from wtko_captum.api import PreparedData, load_prepared

    if not isinstance(data, PreparedData):
        data = load_prepared(data)
    part = data.split(split)
    if len(part) == 0:
        raise InputError(f"split {split!r} has no sequences", path=data.path)
    kind = background.strip()
    if kind.lower() != "shuffle":
        names = part.class_names
        match = [i for i, c in enumerate(names) if c.lower() == kind.lower()]
        if not match:
            raise InputError(f"unknown background {background!r}; use shuffle or a class name "
                             f"({', '.join(names)})")
        part = part.subset(part.y == match[0])
        if len(part) == 0:
            raise InputError(f"no {names[match[0]]} sequences in split {split!r}")
    X = torch.from_numpy(part.X.astype(np.float32))
    rng = np.random.default_rng(seed)
    if n is not None and len(X) > n:
        X = X[np.sort(rng.choice(len(X), n, replace=False))]
    if kind.lower() == "shuffle":
        from tangermeme.ersatz import dinucleotide_shuffle

        X = dinucleotide_shuffle(X, n=1, random_state=seed, allow_N=True)[:, 0].float()
        return X, f"dinucleotide-shuffled {split} sequences (n={len(X)}, seed={seed})"
    return X, f"{kind} {split} sequences (n={len(X)})"


# ---- effects ----------------------------------------------------------------------------------
def summarise_effect(before: torch.Tensor, after: torch.Tensor, class_names: list[str]) -> dict:
    """Mean/sd change in class probabilities (and in logit WT-KO when both exist).

    ``before`` ``(N, k)`` logits; ``after`` ``(N, k)`` or ``(N, n, k)`` (averaged over ``n``).
    """
    before, after = before.float(), after.float()
    if after.ndim == 3:
        p_after = torch.softmax(after, -1).mean(1)
        l_after = after.mean(1)
    else:
        p_after, l_after = torch.softmax(after, -1), after
    p_before = torch.softmax(before, -1)
    row = {"n": int(len(before))}
    names = class_names if len(class_names) == before.shape[1] else [str(i) for i in range(before.shape[1])]
    for i, c in enumerate(names):
        d = (p_after[:, i] - p_before[:, i]).numpy()
        row[f"p_{c}_before"] = float(p_before[:, i].mean())
        row[f"p_{c}_after"] = float(p_after[:, i].mean())
        row[f"delta_p_{c}_mean"] = float(d.mean())
        row[f"delta_p_{c}_sd"] = float(d.std(ddof=1)) if len(d) > 1 else 0.0
    upper = [c.upper() for c in names]
    if "WT" in upper and "KO" in upper:
        w, k = upper.index("WT"), upper.index("KO")
        d = ((l_after[:, w] - l_after[:, k]) - (before[:, w] - before[:, k])).numpy()
        row["delta_logit_diff_mean"] = float(d.mean())
        row["delta_logit_diff_sd"] = float(d.std(ddof=1)) if len(d) > 1 else 0.0
    return row


def focus_class(class_names: list[str]) -> str:
    """The class whose probability change a plot shows: WT when present, else the last class."""
    upper = [c.upper() for c in class_names]
    return class_names[upper.index("WT")] if "WT" in upper else class_names[-1]


def insert_motifs(model, X: torch.Tensor, motifs, *, start: int | None = None, batch_size: int = 128,
                  device="cpu", class_names=None, motif_db=None) -> pd.DataFrame:
    """Insert each motif at the centre (or ``start``) of every background sequence.

    Parameters
    ----------
    model : torch.nn.Module returning ``(N, k)`` logits.
    X : ``(B, 4, L)`` float32 background one-hot.
    motifs : list of str, consensus strings or motif ids/names (see :func:`resolve_motif`).
    start : int, optional, 0-based position of the motif's first base (default: centred,
        tangermeme's rule).

    Returns
    -------
    DataFrame, one row per motif: motif, key, consensus, start, n, p_<class>_before/_after,
    delta_p_<class>_mean/_sd, delta_logit_diff_mean/_sd (WT-KO).
    """
    from tangermeme.marginalize import marginalize

    from wtko_captum.api import resolve_device

    dev = resolve_device(device)
    model = model.eval().to(dev)
    class_names = list(class_names or getattr(model, "class_names", []) or [])
    length = X.shape[-1]
    rows = []
    for spec in motifs:
        key, cons = resolve_motif(spec, motif_db)
        if len(cons) > length:
            raise InputError(f"motif {spec!r} ({len(cons)} bp) is longer than the sequences ({length} bp)")
        pos = start if start is not None else length // 2 - len(cons) // 2
        if not 0 <= pos <= length - len(cons):
            raise InputError(f"--start {pos} puts {spec!r} outside the {length} bp sequences")
        with torch.no_grad():
            res = marginalize(model, X, cons, start=pos, batch_size=batch_size, device=dev)
        rows.append({"motif": spec, "key": key, "consensus": cons, "start": int(pos),
                     **summarise_effect(res.y_before, res.y_after, class_names)})
    return pd.DataFrame(rows)


def plot_effects(table: pd.DataFrame, path, class_names, *, label_col: str = "motif",
                 title: str = "") -> Path:
    """Bar chart of the mean change in P(focus class) per row, sd error bars; PNG, atomic."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from wtko_captum.api import atomic_path

    c = focus_class(list(class_names))
    fig, ax = plt.subplots(figsize=(max(4, 0.6 * len(table) + 2), 3.5))
    vals = table[f"delta_p_{c}_mean"].to_numpy()
    ax.bar(range(len(table)), vals, yerr=table[f"delta_p_{c}_sd"].to_numpy(), capsize=3,
           color=["#c0392b" if v > 0 else "#2e86c1" for v in vals])
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(table)))
    ax.set_xticklabels(table[label_col].astype(str), rotation=45, ha="right", fontsize=8)
    ax.set_ylabel(f"change in P({c})")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
    return Path(path)


def write_table(table: pd.DataFrame, path) -> Path:
    from wtko_captum.api import write_text

    return write_text(path, table.to_csv(sep="\t", index=False, float_format="%.6g"))


def insert_prepared(model_path, data_dir, out, motifs, *, split: str = "test", background: str = "shuffle",
                    n_background: int | None = 200, start: int | None = None, seed: int = 0,
                    batch_size: int = 128, device="cpu", motif_db=None) -> dict:
    """``wtko insert``: motifs into backgrounds from a prepared split; writes
    ``out/insertion.tsv`` and ``out/insertion.png``. Returns ``{"table", "plot", "data"}``."""
    from wtko_captum.api import load_model
    from wtko_captum.api import load_prepared

    data = load_prepared(data_dir)
    model = model_path if isinstance(model_path, torch.nn.Module) else load_model(model_path, input_length=data.width)
    motifs = [m for m in motifs if str(m).strip()]
    if not motifs:
        raise InputError("no motifs given (e.g. --motifs jaspar:MA0099.3,CACGTG)")
    X, desc = background_sequences(data, split=split, background=background, n=n_background, seed=seed)
    names = list(getattr(model, "class_names", None) or data.class_names)
    table = insert_motifs(model, X, motifs, start=start, batch_size=batch_size, device=device,
                          class_names=names, motif_db=motif_db)
    table.insert(len(table.columns), "background", desc)
    out = Path(out)
    tsv = write_table(table, out / "insertion.tsv")
    png = plot_effects(table, out / "insertion.png", names, title=f"motif inserted at the centre of {desc}")
    log.info("insertion effects -> %s, %s", tsv, png)
    return {"table": tsv, "plot": png, "data": table}
