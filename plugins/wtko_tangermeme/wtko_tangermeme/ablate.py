"""Ablation (tangermeme ``ablate``): shuffle or N-mask given positions or k-mers and report the
change in prediction.

Positions are window coordinates, 0-based half-open (``290-310`` = bases 290..309 of every
sequence); they go through :func:`tangermeme.ablate.ablate`, with tangermeme's ``shuffle``
(``mode="shuffle"``, ``n_shuffles`` shuffles averaged) or a masking function that writes
all-zero (N) columns (``mode="mask"``). k-mers are found in each sequence on both strands;
every occurrence is shuffled or masked, and only the sequences that contain the k-mer count.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from wtko_captum.api import InputError

from wtko_tangermeme.insert import plot_effects, summarise_effect, write_table

log = logging.getLogger("wtko_captum.ablate")

MODES = ("shuffle", "mask")


def parse_positions(text: str) -> list[tuple[int, int]]:
    """``"290-310,100-120"`` -> ``[(290, 310), (100, 120)]`` (0-based half-open)."""
    out = []
    for part in [p.strip() for p in str(text).split(",") if p.strip()]:
        m = re.fullmatch(r"(\d+)\s*[-:]\s*(\d+)", part)
        if not m:
            raise InputError("positions must look like START-END (0-based, end exclusive)", value=part)
        s, e = int(m.group(1)), int(m.group(2))
        if e <= s:
            raise InputError("position range is empty (end must be > start)", value=part)
        out.append((s, e))
    return out


def _mask_fn(X, start, end, n=1, random_state=None, **kw):
    """tangermeme shuffle_fn form: ``(N, n, 4, L)`` copies with ``[start, end)`` set to N."""
    Xn = X.unsqueeze(1).repeat(1, n, 1, 1).clone()
    Xn[..., start:end] = 0
    return Xn


def kmer_spans(seq: str, kmer: str) -> list[tuple[int, int]]:
    """0-based half-open spans of ``kmer`` and of its reverse complement in ``seq`` (overlaps kept)."""
    from wtko_captum.api import reverse_complement

    seq, spans = seq.upper(), set()
    for k in {kmer.upper(), reverse_complement(kmer.upper())}:
        i = seq.find(k)
        while i >= 0:
            spans.add((i, i + len(k)))
            i = seq.find(k, i + 1)
    return sorted(spans)


def _perturb_spans(x: torch.Tensor, spans, mode: str, n: int, rng) -> torch.Tensor:
    """``(n, 4, L)`` copies of one ``(4, L)`` sequence with each span shuffled or masked."""
    out = x.unsqueeze(0).repeat(n, 1, 1).clone()
    for s, e in spans:
        if mode == "mask":
            out[:, :, s:e] = 0
        else:
            for j in range(n):
                out[j, :, s:e] = out[j, :, s:e][:, torch.from_numpy(rng.permutation(e - s))]
    return out


def ablate(model, X: torch.Tensor, *, positions=None, kmers=None, mode: str = "shuffle",
           n_shuffles: int = 20, seed: int = 0, batch_size: int = 128, device="cpu",
           class_names=None) -> pd.DataFrame:
    """Change in prediction when positions or k-mers are shuffled or N-masked.

    Parameters
    ----------
    model : torch.nn.Module returning ``(N, k)`` logits.
    X : ``(N, 4, L)`` float32 one-hot.
    positions : list of ``(start, end)`` window coordinates (0-based, half-open).
    kmers : list of str; occurrences on both strands are perturbed.
    mode : ``shuffle`` (``n_shuffles`` seeded shuffles, predictions averaged) or ``mask``.

    Returns
    -------
    DataFrame, one row per position range / k-mer: what, kind, mode, n (sequences counted),
    n_occurrences (k-mers), p_<class>_before/_after, delta_p_<class>_mean/_sd,
    delta_logit_diff_mean/_sd.
    """
    from tangermeme.ablate import ablate as tm_ablate
    from tangermeme.ersatz import shuffle
    from tangermeme.predict import predict

    from wtko_captum.api import resolve_device
    from wtko_captum.api import decode

    if mode not in MODES:
        raise InputError(f"unknown ablation mode {mode!r}; use {' or '.join(MODES)}")
    if not positions and not kmers:
        raise InputError("nothing to ablate: give positions (e.g. 290-310) or k-mers (e.g. CACGTG)")
    dev = resolve_device(device)
    model = model.eval().to(dev)
    class_names = list(class_names or getattr(model, "class_names", []) or [])
    n = 1 if mode == "mask" else int(n_shuffles)
    length = X.shape[-1]
    rows = []
    with torch.no_grad():
        for s, e in positions or []:
            if e > length:
                raise InputError(f"positions {s}-{e} run past the {length} bp sequences")
            res = tm_ablate(model, X, s, e, n=n, shuffle_fn=_mask_fn if mode == "mask" else shuffle,
                            random_state=seed, batch_size=batch_size, device=dev)
            rows.append({"what": f"{s}-{e}", "kind": "positions", "mode": mode,
                         **summarise_effect(res.y_before, res.y_after, class_names), "n_occurrences": len(X)})
        seqs = decode(X.numpy()) if kmers else []
        for kmer in kmers or []:
            if not re.fullmatch(r"[ACGTacgt]+", kmer):
                raise InputError("k-mers must be A/C/G/T strings", value=kmer)
            rng = np.random.default_rng(seed)
            hits = [(i, kmer_spans(s, kmer)) for i, s in enumerate(seqs)]
            hits = [(i, sp) for i, sp in hits if sp]
            if not hits:
                log.warning("k-mer %s occurs in none of the %d sequences", kmer, len(X))
                rows.append({"what": kmer, "kind": "kmer", "mode": mode, "n": 0, "n_occurrences": 0})
                continue
            idx = torch.tensor([i for i, _ in hits])
            pert = torch.cat([_perturb_spans(X[i], sp, mode, n, rng) for i, sp in hits])
            before = predict(model, X[idx], batch_size=batch_size, device=dev)
            after = predict(model, pert, batch_size=batch_size, device=dev).reshape(len(idx), n, -1)
            rows.append({"what": kmer, "kind": "kmer", "mode": mode,
                         **summarise_effect(before, after, class_names),
                         "n_occurrences": int(sum(len(sp) for _, sp in hits))})
    return pd.DataFrame(rows)


def ablate_prepared(model_path, data_dir, out, *, positions=None, kmers=None, mode: str = "shuffle",
                    split: str = "test", n_shuffles: int = 20, seed: int = 0, batch_size: int = 128,
                    device="cpu", limit: int | None = None) -> dict:
    """``wtko ablate``: ablation on a prepared split; writes ``out/ablation.tsv`` and
    ``out/ablation.png``. Returns ``{"table", "plot", "data"}``."""
    from wtko_captum.api import load_model
    from wtko_captum.api import load_prepared

    data = load_prepared(data_dir)
    part = data.split(split)
    if len(part) == 0:
        raise InputError(f"split {split!r} has no sequences", path=data_dir)
    if limit is not None:
        part = part.subset(np.arange(len(part)) < int(limit))
    model = model_path if isinstance(model_path, torch.nn.Module) else load_model(model_path, input_length=data.width)
    names = list(getattr(model, "class_names", None) or data.class_names)
    if isinstance(positions, str):
        positions = parse_positions(positions)
    table = ablate(model, torch.from_numpy(part.X.astype(np.float32)), positions=positions, kmers=kmers,
                   mode=mode, n_shuffles=n_shuffles, seed=seed, batch_size=batch_size, device=device,
                   class_names=names)
    out = Path(out)
    tsv = write_table(table, out / "ablation.tsv")
    shown = table[table["n"] > 0]
    png = plot_effects(shown, out / "ablation.png", names, label_col="what",
                       title=f"{mode} ablation, {split} sequences (n={len(part)})") if len(shown) else None
    return {"table": tsv, "plot": png, "data": table}
