"""Split schemes for prepared windows: by chromosome, seeded random, by sequence hash; folds.

``chrom``
    whole chromosomes are held out (test, validation): nothing of a test chromosome is seen in
    training. Needs a chromosome for every window.
``random``
    a seeded fraction of each class (stratified) goes to test and validation.
``hash``
    the split follows from the window's sequence alone: a SHA-1 of the lexicographically
    smaller of the sequence and its reverse complement (upper case) picks it, so identical and
    reverse-complement-identical sequences always land in the same split, across runs,
    machines and input orders.

Folds (K of them) use the same schemes: chromosomes dealt to folds balanced by region count,
stratified random folds, or hash buckets. Fold ``i`` is then the test split, fold
``(i + 1) % K`` validation, the rest training (:func:`wtko_captum.core.dataset.fold_splits`).
"""
from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np

from wtko_captum.core.errors import InputError, near_miss
from wtko_captum.core.sequence import reverse_complement

SCHEMES = ("chrom", "random", "hash")


def hash_unit(sequence: str) -> float:
    """A number in [0, 1) that depends only on the sequence up to reverse complement."""
    s = sequence.upper()
    canonical = min(s, reverse_complement(s))
    return int(hashlib.sha1(canonical.encode()).hexdigest()[:15], 16) / 16 ** 15


def by_chrom(windows, test_chroms, val_chroms, val_fraction: float, rng, n_classes: int) -> str:
    """Set ``w.split`` by chromosome; returns how validation was made (one line).

    Regions on ``test_chroms`` are test, on ``val_chroms`` validation, the rest train. When no
    region lies on ``val_chroms``, a seeded ``val_fraction`` of each class's training regions
    becomes validation instead. A non-empty ``test_chroms`` that holds no region, or test and
    validation chromosomes that hold every region, is an :class:`InputError`.
    """
    test_chroms, val_chroms = set(test_chroms), set(val_chroms) - set(test_chroms)
    counts = Counter(w.split_chrom for w in windows)
    for w in windows:
        c = w.split_chrom
        w.split = "test" if c in test_chroms else "val" if c in val_chroms else "train"
    if test_chroms and not set(counts) & test_chroms:
        hint = "".join(dict.fromkeys(near_miss(c, counts) for c in sorted(test_chroms)))
        present = ", ".join(c for c, _ in counts.most_common(8)) + (", ..." if len(counts) > 8 else "")
        raise InputError(f"no region lies on the test chromosomes {','.join(sorted(test_chroms))}{hint}, so the "
                         f"test split would be empty; the regions are on {present} (choose --test-chroms among "
                         "them, or --split random|hash)")
    if not any(w.split == "train" for w in windows):
        raise InputError(f"the test and validation chromosomes ({','.join(sorted(test_chroms | val_chroms))}) hold "
                         "every region, so the training split would be empty; hold out fewer chromosomes")
    if set(counts) & val_chroms:
        return f"chromosomes {','.join(sorted(val_chroms & set(counts)))}"
    if val_fraction <= 0:
        return "none (no region on the validation chromosomes and --val-fraction 0)"
    for label in range(n_classes):
        idx = [i for i, w in enumerate(windows) if w.split == "train" and w.label == label]
        n_val = int(round(val_fraction * len(idx)))
        for i in rng.choice(idx, size=n_val, replace=False) if n_val else ():
            windows[i].split = "val"
    why = f"no region on {','.join(sorted(val_chroms))}; " if val_chroms else ""
    return f"{why}a random {val_fraction:g} of each class's training regions (seeded)"


def by_random(windows, test_fraction: float, val_fraction: float, rng, n_classes: int) -> str:
    """Stratified seeded split: per class, ``round(f * n)`` windows to test and validation."""
    for w in windows:
        w.split = "train"
    for label in range(n_classes):
        idx = np.array([i for i, w in enumerate(windows) if w.label == label], dtype=np.int64)
        order = rng.permutation(idx)
        n_test, n_val = int(round(test_fraction * len(idx))), int(round(val_fraction * len(idx)))
        for i in order[:n_test]:
            windows[i].split = "test"
        for i in order[n_test:n_test + n_val]:
            windows[i].split = "val"
    return f"seeded random, {val_fraction:g} of each class"


def by_hash(windows, test_fraction: float, val_fraction: float) -> str:
    """Split by :func:`hash_unit` of each window's sequence: below ``test_fraction`` is test,
    below ``test_fraction + val_fraction`` validation."""
    for w in windows:
        u = hash_unit(w.sequence)
        w.split = "test" if u < test_fraction else "val" if u < test_fraction + val_fraction else "train"
    return f"sequence hash, {val_fraction:g}"


def check_nonempty(windows, scheme: str, test_fraction: float) -> None:
    """Training must hold windows, and test too unless the user asked for none."""
    n = Counter(w.split for w in windows)
    option = "--test-chroms" if scheme == "chrom" else "--test-fraction"
    if scheme != "chrom" and test_fraction > 0 and not n["test"]:
        raise InputError(f"the test split is empty ({len(windows)} windows x {option} {test_fraction:g} rounds "
                         f"to none): raise {option} or give more sequences")
    if not n["train"]:
        raise InputError(f"the training split is empty: lower {option} / --val-fraction")


def assign_folds(windows, k: int, scheme: str, rng, n_classes: int) -> dict:
    """Set ``w.fold`` (0..k-1) by ``scheme``; returns a description for meta.json.

    chrom: chromosomes in decreasing region count, each to the fold holding fewest regions so
    far (ties: the lower fold), which balances folds by region count. random: per class, a
    seeded permutation dealt round-robin (stratified). hash: ``floor(hash_unit * k)``.
    """
    if scheme == "chrom":
        counts = Counter(w.split_chrom for w in windows)
        if len(counts) < k:
            raise InputError(f"--folds {k} needs at least {k} chromosomes; the regions are on {len(counts)} "
                             f"({', '.join(sorted(counts))}): use fewer folds or --split random|hash")
        load = [0] * k
        chrom_fold: dict[str, int] = {}
        for chrom, n in sorted(counts.items(), key=lambda cn: (-cn[1], cn[0])):
            f = min(range(k), key=lambda j: (load[j], j))
            chrom_fold[chrom] = f
            load[f] += n
        for w in windows:
            w.fold = chrom_fold[w.split_chrom]
        info = {"chromosomes": {str(f): sorted(c for c, j in chrom_fold.items() if j == f) for f in range(k)}}
    elif scheme == "random":
        for label in range(n_classes):
            idx = [i for i, w in enumerate(windows) if w.label == label]
            for pos, i in enumerate(rng.permutation(np.array(idx, dtype=np.int64))):
                windows[int(i)].fold = pos % k
        info = {}
    else:
        for w in windows:
            w.fold = min(int(hash_unit(w.sequence) * k), k - 1)
        info = {}
    sizes = Counter(w.fold for w in windows)
    empty = [f for f in range(k) if not sizes[f]]
    if empty:
        raise InputError(f"fold {empty[0]} of {k} holds no region ({len(windows)} windows): use fewer folds")
    return {"k": k, "scheme": scheme, "regions": [sizes[f] for f in range(k)], **info}
