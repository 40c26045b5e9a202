"""Does the model use a discovered motif? Insert it into shuffled backgrounds and watch.

A motif found in the attributions is not necessarily one the model *responds* to, and a class
with no motif the model responds to is a class the model recognises only by the absence of
the other class's motif. :func:`motif_usage` measures, for every motif, the model's response
to inserting it (tangermeme's ``marginalize``: the motif written over the centre of each
background sequence, predictions before and after) into dinucleotide-shuffled sequences
(tangermeme's ``dinucleotide_shuffle``: composition kept, motifs destroyed).

The effect on class ``c`` is the mean change of its log-odds,
``log P(c) - log(1 - P(c)) = logit_c - logsumexp(other logits)`` (natural log), over the
backgrounds: unlike the change in probability it has no ceiling when the backgrounds are
already called ``c``, and for two classes it is the change of the class logit difference.
Each motif is inserted as its consensus on both strands; the effect reported for a class is
that of the orientation that raises it most.

:func:`usage_verdict` reads the table: a class with no motif whose effect reaches
``min_effect`` (default :data:`MIN_EFFECT`, a 1.65-fold rise of the odds) while another class
has one is a class the model has not learned a motif for, and the verdict says so in the
words every command prints.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch

from wtko_captum.core.errors import InputError

log = logging.getLogger("wtko_captum")

#: smallest mean change of a class's log-odds (natural log) that counts as a positive effect
MIN_EFFECT = 0.5
#: background sequences per insertion (a seeded subsample of the shuffles)
N_BACKGROUND = 200


def shuffled_backgrounds(X, n: int | None = N_BACKGROUND, seed: int = 0) -> torch.Tensor:
    """One dinucleotide shuffle each of a seeded ``n`` of the sequences ``X`` ``(N, 4, L)``:
    ``(min(n, N), 4, L)`` float32."""
    from tangermeme.ersatz import dinucleotide_shuffle

    X = torch.as_tensor(np.asarray(X, dtype=np.float32))
    if not len(X):
        raise InputError("no sequences to build shuffled backgrounds from")
    if n is not None and len(X) > n:
        X = X[np.sort(np.random.default_rng(seed).choice(len(X), n, replace=False))]
    return dinucleotide_shuffle(X, n=1, random_state=seed, allow_N=True)[:, 0].float()


def log_odds(logits: torch.Tensor) -> torch.Tensor:
    """``(N, k)`` logits -> ``(N, k)`` log-odds of each class against all others."""
    logits = logits.double()
    k = logits.shape[1]
    out = torch.empty_like(logits)
    for c in range(k):
        others = torch.cat([logits[:, :c], logits[:, c + 1:]], dim=1)
        out[:, c] = logits[:, c] - torch.logsumexp(others, dim=1)
    return out


def _consensus(motif) -> str:
    from wtko_captum.core.sequence import consensus

    if isinstance(motif, str):
        return motif.upper()
    m = np.asarray(motif, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != 4:
        raise InputError("a motif must be a consensus string or a (4, W) matrix", value=getattr(m, "shape", m))
    return consensus(m)


def motif_usage(model, motifs: dict, backgrounds: torch.Tensor, class_names, *, batch_size: int = 128,
                device="cpu") -> pd.DataFrame:
    """The model's response to each motif inserted at the centre of the backgrounds.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(N, 4, L)`` one-hot to logits ``(N, k)``.
    motifs : dict
        ``{name: consensus string or (4, W) probability matrix}`` (a matrix is inserted as its
        argmax consensus).
    backgrounds : tensor ``(B, 4, L)``
        Background sequences, e.g. :func:`shuffled_backgrounds`.
    class_names : list of str
        The ``k`` output names.

    Returns
    -------
    DataFrame
        One row per motif: motif, consensus, n (backgrounds) and per class ``c``:
        ``effect_<c>`` (mean change of the log-odds of ``c``, the better orientation),
        ``delta_p_<c>`` (mean change of P(c) in that orientation), ``p_<c>_before``.
        Motifs longer than the sequences are left out (logged).
    """
    from tangermeme.marginalize import marginalize

    from wtko_captum.core.device import resolve_device
    from wtko_captum.core.sequence import reverse_complement

    dev = resolve_device(device)
    names = [str(c) for c in class_names]
    length = backgrounds.shape[-1]
    was_training = model.training
    model = model.eval().to(dev)
    rows = []
    try:
        for name, motif in motifs.items():
            cons = _consensus(motif)
            if len(cons) > length:
                log.info("usage check: %s (%d bp) is longer than the %d bp sequences; skipped", name, len(cons), length)
                continue
            start = length // 2 - len(cons) // 2
            best = None
            for seq in dict.fromkeys((cons, reverse_complement(cons))):
                with torch.no_grad():
                    res = marginalize(model, backgrounds, seq, start=start, batch_size=batch_size,
                                      device=dev, verbose=False)
                before, after = res.y_before.double().cpu(), res.y_after.double().cpu()
                if before.ndim != 2 or before.shape[1] != len(names):
                    raise InputError(f"the model returns {tuple(before.shape)} outputs; expected "
                                     f"(N, {len(names)}) for classes {', '.join(names)}")
                effect = (log_odds(after) - log_odds(before)).mean(0)
                dp = (torch.softmax(after, 1) - torch.softmax(before, 1)).mean(0)
                best = (effect, dp) if best is None else (torch.maximum(best[0], effect),
                                                          torch.where(effect > best[0], dp, best[1]))
                p_before = torch.softmax(before, 1).mean(0)
            row = {"motif": name, "consensus": cons, "n": int(len(backgrounds))}
            for i, c in enumerate(names):
                row[f"effect_{c}"] = float(best[0][i])
                row[f"delta_p_{c}"] = float(best[1][i])
                row[f"p_{c}_before"] = float(p_before[i])
            rows.append(row)
    finally:
        model.train(was_training)
    cols = ["motif", "consensus", "n"] + [f"{k}_{c}" for c in names for k in ("effect", "delta_p")] \
        + [f"p_{c}_before" for c in names]
    return pd.DataFrame(rows, columns=cols)


def usage_verdict(table: pd.DataFrame, conditions, *, labels: dict | None = None,
                  min_effect: float = MIN_EFFECT, has_background: bool = False) -> dict:
    """Which condition has a motif the model responds to, and the warning when one has none.

    Parameters
    ----------
    table : DataFrame
        :func:`motif_usage` output.
    conditions : list of str
        The condition classes (not the background).
    labels : dict, optional
        ``{motif: display name}`` used in the message (e.g. its JASPAR match); default the
        motif's name.
    min_effect : float
        The effect (change of log-odds) a motif needs to count as used for a class.
    has_background : bool
        Whether the model has a background class (then the advice is not "train with
        --background").

    Returns
    -------
    dict
        ``used``: ``{class: [motifs with an effect >= min_effect, strongest first]}``;
        ``top``: ``{class: strongest motif or None}``; ``warning``: the message, or ``None``
        when every condition has a used motif (or none has, see ``note``); ``note``.
    """
    labels = labels or {}
    used, top = {}, {}
    for c in conditions:
        col = f"effect_{c}"
        if col not in table or not len(table):
            used[c] = []
            continue
        sub = table[table[col] >= min_effect].sort_values(col, ascending=False, kind="stable")
        used[c] = sub["motif"].tolist()
    for c in conditions:
        top[c] = used[c][0] if used[c] else None
    without = [c for c in conditions if not used[c]]
    withm = [c for c in conditions if used[c]]
    warning = note = None
    if without and withm:
        lead = withm[0] if len(withm) == 1 else max(withm, key=lambda c: float(
            table.loc[table["motif"] == top[c], f"effect_{c}"].iloc[0]))
        motif = labels.get(top[lead], top[lead])
        missing = " or ".join(without)
        if len(conditions) == 2 and not has_background:
            other = without[0]
            warning = (f"the model separates {lead} from {other} by the presence or absence of {motif}; "
                       f"no {other} motif was learned: train with --background")
        else:
            warning = (f"no {missing} motif was learned (none of the discovered motifs raises the "
                       f"{missing} log-odds by {min_effect:g}); the model recognises {missing} by the absence of "
                       f"{motif}" + ("" if has_background else ": train with --background"))
    elif not withm:
        note = (f"no discovered motif raises any class's log-odds by {min_effect:g} when inserted into "
                "shuffled backgrounds")
    return {"used": used, "top": top, "warning": warning, "note": note, "min_effect": float(min_effect)}
