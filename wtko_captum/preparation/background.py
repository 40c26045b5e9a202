"""A background class for prepared data: what makes each condition different from background.

A WT-vs-KO classifier only has to tell the two conditions apart, and it can do that by the
presence or absence of one motif: the other condition's motif is then never learned, and
every explanation method finds only the first. A third class of background sequences forces
the model to learn what makes *each* condition differ from background as well as from the
other condition, so both conditions' motifs can be explained ("WT vs background", "KO vs
background").

Two kinds of background, both seeded:

``shuffle``
    Dinucleotide shuffles of the peak windows (tangermeme's ``dinucleotide_shuffle``, which
    keeps every dinucleotide count and the first and last base). Composition is matched
    exactly; every motif is destroyed. A shuffle keeps its source window's interval and split
    (so chromosome splits stay honest) and is named ``<window>:shuffle<copy>``; it is not a
    genome sequence, so background rows are never attributed by default.
``genomic``
    GC-matched windows of the genome (tangermeme's ``extract_matching_loci``: the genome tiled
    in windows of the peak width, tiles with more than 10% N dropped, GC content binned by
    0.02) on the chromosomes of each split, outside every input peak and every prepared
    window (any overlap drops a tile).

How many. ``ratio`` background windows per window of the average condition class, in every
split: ``round(ratio * n_peaks / n_conditions)``. With the default ``ratio = 1`` and balanced
conditions the three classes are the same size. Each source peak is used once before any is
used twice (so ``ratio > 1`` with ``shuffle`` gives several shuffles of each peak).

The background class is label ``len(class_names)`` (2 after KO = 0 and WT = 1) and is named
:data:`BACKGROUND`.
"""
from __future__ import annotations

import logging
from collections import Counter

import numpy as np
import pandas as pd

from wtko_captum.core.dataset import BACKGROUND
from wtko_captum.core.errors import InputError

log = logging.getLogger("wtko_captum")

__all__ = ["BACKGROUND", "KINDS", "add_background", "check_options", "class_weights", "genomic_background",
           "n_background", "shuffled_background", "summary_rows"]
KINDS = ("shuffle", "genomic")
#: the other values of ``prepare(background=)``: what a labelled set does with rows positive in
#: no column (:mod:`wtko_captum.preparation.labels`)
LABELLED = ("drop", "class", "error")
#: tiles requested beyond the target number, since tiles overlapping peaks are dropped afterwards
_EXTRA = 0.15
SPLIT_ORDER = ("train", "val", "test")


def check_options(kind: str | None, ratio: float, class_names, genome, folds=None) -> str | None:
    """Validate the background options before any work starts; returns the kind of generated
    background (``shuffle`` or ``genomic``), or None when ``kind`` is what a labelled set does
    with its rows positive in no column (``drop``, ``class``, ``error``; checked there)."""
    if kind is None or kind in LABELLED:
        return None
    if kind not in KINDS:
        raise InputError(f"--background must be one of {', '.join(LABELLED + KINDS)}", value=kind)
    if not (isinstance(ratio, (int, float)) and np.isfinite(ratio) and ratio > 0):
        raise InputError("--background-ratio must be a positive number", value=ratio)
    if BACKGROUND in [str(c).lower() for c in class_names]:
        raise InputError(f"a condition class is named {BACKGROUND!r}, the name of the background class",
                         value=",".join(map(str, class_names)))
    if kind == "genomic" and genome is None:
        raise InputError("--background genomic draws windows from the genome: add --genome genome.fa")
    if kind == "genomic":
        from pathlib import Path

        from wtko_captum.core.genome import sniff_genome

        if Path(genome).is_file() and sniff_genome(genome) != "fasta":
            raise InputError("--background genomic needs an uncompressed FASTA genome (tangermeme's "
                             "extract_matching_loci reads it with pyfaidx)", path=genome)
    if kind == "genomic" and folds is not None:
        raise InputError("--background genomic draws windows per split, not per fold: use --background shuffle "
                         "with --folds")
    return kind


def n_background(n_peaks: int, n_conditions: int, ratio: float) -> int:
    """Background windows for a split with ``n_peaks`` condition windows."""
    return int(round(ratio * n_peaks / max(n_conditions, 1)))


def _sources(rng, n_peaks: int, n: int) -> np.ndarray:
    """``n`` source indices: every peak once (random order) before any twice."""
    if n_peaks == 0 or n == 0:
        return np.zeros(0, dtype=np.int64)
    reps = -(-n // n_peaks)
    return np.concatenate([rng.permutation(n_peaks) for _ in range(reps)])[:n]


def shuffled_background(sequences: list[str], n: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """``n`` dinucleotide shuffles of ``sequences`` (equal-length strings).

    Returns the source index of each shuffle and the shuffled strings (N stays N). Each
    shuffle's seed depends on ``seed``, its source and its copy number only, not on the batch.
    """
    import torch
    from tangermeme.ersatz import dinucleotide_shuffle

    from wtko_captum.core.sequence import decode, one_hot

    rng = np.random.default_rng(seed)
    src = _sources(rng, len(sequences), n)
    if not len(src):
        return src, []
    copy = np.zeros(len(src), dtype=np.int64)
    seen: Counter = Counter()
    for i, s in enumerate(src):
        copy[i] = seen[s]
        seen[s] += 1
    seeds = [int(np.random.SeedSequence([seed, int(s), int(c)]).generate_state(1)[0] % (2**31 - 1))
             for s, c in zip(src, copy)]
    X = torch.from_numpy(one_hot([sequences[i] for i in src]))
    shuffled = dinucleotide_shuffle(X, n=1, random_state=seeds, allow_N=True)[:, 0]
    return src, decode(shuffled.numpy())


def _overlaps(chrom, start, end, intervals: dict) -> np.ndarray:
    """Whether each interval overlaps any of ``intervals`` (``{chrom: (starts, ends)}`` sorted by
    start, ends as running maximum)."""
    hit = np.zeros(len(start), dtype=bool)
    for i, (c, s, e) in enumerate(zip(chrom, start, end)):
        iv = intervals.get(c)
        if iv is None:
            continue
        starts, max_ends = iv
        j = np.searchsorted(starts, e, side="left") - 1  # the last interval starting before e
        hit[i] = j >= 0 and max_ends[j] > s
    return hit


def _interval_index(exclude: pd.DataFrame) -> dict:
    out = {}
    for c, g in exclude.groupby(exclude["chrom"].astype(str)):
        order = np.argsort(g["start"].to_numpy(), kind="stable")
        starts = g["start"].to_numpy(np.int64)[order]
        ends = np.maximum.accumulate(g["end"].to_numpy(np.int64)[order])
        out[c] = (starts, ends)
    return out


def genomic_background(targets: pd.DataFrame, genome, width: int, n: int, exclude: pd.DataFrame,
                       seed: int, taken: set | None = None) -> pd.DataFrame:
    """``n`` GC-matched genome windows for the condition windows ``targets`` (chrom, start, end).

    tangermeme's ``extract_matching_loci`` tiles the targets' chromosomes in ``width`` bp
    windows and picks tiles whose GC bins match the targets'; tiles overlapping ``exclude``
    (every peak and window) or already ``taken`` are dropped, and a seeded ``n`` of the rest
    kept. Returns chrom, start, end (0-based half-open), ``gc`` of each chosen window; fewer
    than ``n`` rows when the chromosomes run out (logged).
    """
    from tangermeme.match import extract_matching_loci

    rng = np.random.default_rng(seed)
    want = int(np.ceil(n * (1 + _EXTRA)))
    src = _sources(rng, len(targets), want)
    loci = targets.iloc[src][["chrom", "start", "end"]].reset_index(drop=True)
    # the targets must lie inside their chromosome for tangermeme (N-padded windows do not)
    matched = extract_matching_loci(loci, str(genome), in_window=width, out_window=width, max_n_perc=0.1,
                                    gc_bin_width=0.02, random_state=seed, verbose=False)
    matched = matched.reset_index(drop=True)
    matched["chrom"] = matched["chrom"].astype(str)
    drop = _overlaps(matched["chrom"], matched["start"].to_numpy(), matched["end"].to_numpy(),
                     _interval_index(exclude))
    if taken:
        drop |= np.array([(c, s) in taken for c, s in zip(matched["chrom"], matched["start"])], dtype=bool)
    kept = matched[~drop]
    if len(kept) > n:
        kept = kept.iloc[np.sort(rng.choice(len(kept), n, replace=False))]
    if len(kept) < n:
        log.warning("warning: only %d of %d GC-matched background windows found outside the peaks on %s",
                    len(kept), n, ",".join(sorted(set(targets["chrom"].astype(str)))))
    return kept.reset_index(drop=True)


def _gc(seq: str) -> float:
    s = seq.upper()
    acgt = sum(s.count(b) for b in "ACGT")
    return (s.count("G") + s.count("C")) / acgt if acgt else float("nan")


def add_background(regions: pd.DataFrame, sequences: list[str], *, kind: str, class_names,
                   ratio: float = 1.0, genome=None, exclude: pd.DataFrame | None = None,
                   seed: int = 0) -> tuple[pd.DataFrame, list[str], dict]:
    """Append a background class to a prepared regions table and its sequences.

    Parameters
    ----------
    regions : DataFrame
        The prepared regions (``wtko_captum.core.dataset`` columns), in ``sequences`` order.
    sequences : list of str
        The window sequences, ``width`` letters each.
    kind : {"shuffle", "genomic"}
    class_names : list of str
        The condition classes (label 0, 1, ...); the background becomes the next label.
    ratio : float
        Background windows per window of the average condition class, per split.
    genome : path
        Genome FASTA (``genomic`` only).
    exclude : DataFrame, optional
        chrom, start, end of every input peak: no genomic window overlaps one (nor any
        prepared window).
    seed : int

    Returns
    -------
    (regions, sequences, info)
        The tables with the background rows added (ordered train, val, test, background rows
        after the conditions of their split) and ``info`` for ``meta.json``: kind, ratio,
        label, counts and mean GC per split.
    """
    from wtko_captum.core.dataset import REGION_COLUMNS

    label = len(class_names)
    columns = REGION_COLUMNS + (["fold"] if "fold" in regions else [])  # a shuffle keeps its source's fold
    width = len(sequences[0]) if sequences else 0
    n_cond = len(class_names)
    rows, seqs, info = [], [], {"kind": kind, "ratio": float(ratio), "class": BACKGROUND, "label": label,
                                "seed": int(seed), "splits": {}}
    if kind == "genomic":
        from wtko_captum.core.genome import open_genome

        fasta = open_genome(genome)
        windows = regions.loc[regions["coordinates"] == "genome", ["chrom", "start", "end"]]
        exclude = pd.concat([exclude, windows]) if exclude is not None else windows
        info["method"] = ("tangermeme extract_matching_loci: GC bins of 0.02, tiles with <= 10% N, "
                          "outside every peak and window")
    else:
        info["method"] = "tangermeme dinucleotide_shuffle of the peak windows"
    taken: set = set()
    for k, split in enumerate(SPLIT_ORDER):
        part = np.flatnonzero(regions["split"].to_numpy() == split)
        n = n_background(len(part), n_cond, ratio)
        if n == 0:
            continue
        sub = regions.iloc[part]
        first = len(seqs)
        split_seed = int(np.random.SeedSequence([seed, k]).generate_state(1)[0] % (2**31 - 1))
        if kind == "shuffle":
            src, shuffled = shuffled_background([sequences[i] for i in part], n, split_seed)
            copies: Counter = Counter()
            for s, seq in zip(src, shuffled):
                r = sub.iloc[int(s)]
                copies[int(s)] += 1
                rows.append({**{c: r[c] for c in columns}, "name": f"{r['name']}:shuffle{copies[int(s)]}",
                             "label": label, "class": BACKGROUND, "source": "background:shuffle"})
                seqs.append(seq)
        else:
            inside = sub[(sub["pad_left"] == 0) & (sub["pad_right"] == 0) & (sub["coordinates"] == "genome")]
            if not len(inside):
                log.warning("warning: no %s window lies inside its chromosome: no genomic background there", split)
                continue
            picked = genomic_background(inside, genome, width, n, exclude, split_seed, taken)
            for c, s, e in zip(picked["chrom"], picked["start"], picked["end"]):
                taken.add((c, int(s)))
                rows.append({"chrom": c, "start": int(s), "end": int(e), "name": f"{c}:{int(s)}-{int(e)}",
                             "label": label, "class": BACKGROUND, "split": split, "summit": int(s) + width // 2,
                             "peak_start": int(s), "peak_end": int(e), "pad_left": 0, "pad_right": 0,
                             "source": "background:genomic", "line": 0, "coordinates": "genome"})
                seqs.append(fasta.fetch(c, int(s), int(e)))
        got = seqs[first:]
        info["splits"][split] = {
            "n": len(got), "requested": n,
            "gc_conditions": round(float(np.nanmean([_gc(sequences[i]) for i in part])), 4),
            "gc_background": round(float(np.nanmean([_gc(s) for s in got])), 4) if got else None,
        }
    if not rows:
        log.warning("warning: no background window added (no condition window in any split)")
        return regions, list(sequences), info
    bg = pd.DataFrame(rows, columns=columns)
    table = pd.concat([regions, bg], ignore_index=True)
    all_seqs = list(sequences) + seqs
    order = np.argsort([SPLIT_ORDER.index(s) for s in table["split"]], kind="stable")
    table = table.iloc[order].reset_index(drop=True)
    return table, [all_seqs[i] for i in order], info


def class_weights(regions: pd.DataFrame, n_classes: int) -> list[float]:
    """Inverse-frequency loss weights ``n / (K * n_c)`` of the training split, by label."""
    train = regions.loc[regions["split"] == "train", "label"].to_numpy()
    n = np.bincount(train, minlength=n_classes)
    return [round(len(train) / (n_classes * c), 6) if c else 0.0 for c in n]


def summary_rows(info: dict, split_notes: dict) -> pd.DataFrame:
    """Rows of ``summary.tsv`` for the background class (one per split)."""
    return pd.DataFrame([{"split": s, "class": BACKGROUND, "label": info["label"],
                          "n_before_balance": info["splits"].get(s, {}).get("n", 0),
                          "n": info["splits"].get(s, {}).get("n", 0), "chromosomes": split_notes[s]}
                         for s in SPLIT_ORDER])
