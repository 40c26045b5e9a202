"""``prepare --motif-instances``: bound vs unbound instances of one motif (AgentBind's task).

Among all instances of a transcription factor's motif in a genome, which are bound? The steps,
each a small function below:

1. **scan** the genome (or a list of regions) for the motif with FIMO (memelite), both strands,
   one chromosome at a time in tiles, so a whole genome never sits in memory as one-hot;
2. **label** each instance bound when it overlaps a peak of the bound set (ChIP-seq peaks),
   else unbound; one instance per site (a site matching on both strands keeps its better
   strand);
3. cut a **window** of ``width`` bp centred on the instance and measure its GC content;
4. **split** by chromosome like ``wtko prepare`` (or, on a genome with too few chromosomes,
   seeded fractions of clusters of overlapping windows, so no window overlaps another split);
5. **match** bound and unbound instances within each split on bins of -log10 p-value (and of
   GC content): in every bin the larger class is downsampled (seeded) to the smaller, so motif
   strength (and GC) cannot tell the classes apart;
6. optionally **mask the core**: the instance's own bases become N (all-zero columns), so a
   model must use the context;
7. write a prepared-data directory (:mod:`wtko_captum.core.dataset`) that ``wtko train`` and
   ``wtko attribute`` read unchanged, plus ``instances.tsv``: every instance found, with its
   p-value, strand, GC, label, split and whether it was kept and why not.

Coordinates are 0-based half-open; base ``i`` of a window is genome base ``start + i``. In
``regions.tsv`` the columns ``peak_start``/``peak_end`` hold the motif instance (the core) and
``summit`` its centre; ``source``/``line`` point at the instance's line of ``instances.tsv``.
"""
from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from wtko_captum.core.atomic import atomic_dir
from wtko_captum.core.dataset import PREPARED_FORMAT, REGION_COLUMNS
from wtko_captum.core.errors import InputError, near_miss
from wtko_captum.preparation.prepare import EXCLUDED_COLUMNS, SPLITS, PrepareResult

log = logging.getLogger("wtko_captum")

#: label 0, label 1
CLASS_NAMES = ("unbound", "bound")
#: one row per instance found (``instances.tsv``)
INSTANCE_COLUMNS = [
    "instance",      # 0-based instance number (the row order)
    "chrom", "start", "end",        # the motif match, 0-based half-open
    "strand",        # + : the motif reads left to right on the genome's forward strand
    "score", "p_value", "neg_log10_p", "p_bin",
    "window_start", "window_end",   # the window centred on the instance
    "gc",            # G+C fraction of the window's A,C,G,T bases (NaN off the chromosome)
    "gc_bin", "n_fraction",
    "label",         # 1 bound, 0 unbound
    "class", "peak",                # the bound peak it overlaps (chrom:start-end) or ""
    "split",         # train | val | test ("" when dropped before splitting)
    "kept",          # yes | no
    "reason",        # why not kept (empty when kept)
    "detail",
]
TILE = 1_000_000         # bases scanned per tile (plus motif width - 1 of overlap)
TILES_PER_CALL = 16      # tiles per FIMO call: 16 x 4 x 1 Mb int8 = 64 MB of one-hot


@dataclass
class MotifInstancesResult(PrepareResult):
    """:class:`~wtko_captum.preparation.prepare.PrepareResult` plus the instances table."""

    instances: pd.DataFrame | None = None


# ---------------------------------------------------------------- inputs
def resolve_motif(motif: str, motif_db=None) -> tuple[str, np.ndarray]:
    """``(key, (4, W) probability matrix)`` of ``motif`` (JASPAR id, TF name, ...) in
    ``motif_db`` (default: the bundled JASPAR 2020 vertebrates)."""
    from wtko_captum.core.motif_db import find_motif, load_motifs

    return find_motif(load_motifs(motif_db), motif)


def read_bound(path, sizes: dict[str, int]) -> dict[str, np.ndarray]:
    """Bound peaks (BED3+ / narrowPeak) merged per chromosome: ``{chrom: (k, 2) int64}``
    sorted, disjoint ``[start, end)`` intervals. Only chromosomes of the genome are kept.

    Raises :class:`InputError` when the file holds no peak, or none on a genome chromosome.
    """
    from wtko_captum.preparation.peaks import read_peaks

    peaks = read_peaks(path)
    if not peaks:
        raise InputError("the bound set is empty: no peak in the file (need BED3+ or narrowPeak lines)",
                         path=path)
    off = [p for p in peaks if p.chrom not in sizes]
    if len(off) == len(peaks):
        p = peaks[0]
        raise InputError(f"the bound set is empty on this genome: none of its {len(peaks)} peaks lies on a "
                         f"chromosome of the genome{near_miss(p.chrom, sizes)}", path=path, line=p.line,
                         value=p.chrom)
    if off:
        log.warning("warning: %d of %d bound peaks lie on chromosomes missing from the genome (ignored)",
                    len(off), len(peaks))
    return _merge({c: [(p.start, p.end) for p in peaks if p.chrom == c] for c in {p.chrom for p in peaks} & set(sizes)})


def read_scan_regions(path, sizes: dict[str, int]) -> dict[str, np.ndarray]:
    """Regions to scan (BED3+), clipped to the chromosomes and merged: ``{chrom: (k, 2)}``."""
    from wtko_captum.preparation.peaks import read_peaks

    regions = read_peaks(path)
    if not regions:
        raise InputError("no region to scan in the --regions file", path=path)
    for r in regions:
        if r.chrom not in sizes:
            raise InputError(f"chromosome not in the genome{near_miss(r.chrom, sizes)}", path=path,
                             line=r.line, value=r.chrom)
    by_chrom: dict[str, list] = {}
    for r in regions:
        if r.start < sizes[r.chrom]:
            by_chrom.setdefault(r.chrom, []).append((r.start, min(r.end, sizes[r.chrom])))
    return _merge(by_chrom)


def _merge(by_chrom: dict[str, list]) -> dict[str, np.ndarray]:
    out = {}
    for chrom, ivs in by_chrom.items():
        ivs = sorted(ivs)
        merged = [list(ivs[0])]
        for s, e in ivs[1:]:
            if s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        out[chrom] = np.asarray(merged, dtype=np.int64)
    return out


# ---------------------------------------------------------------- scanning
def scan_motif(genome, key: str, pwm: np.ndarray, *, pvalue: float = 1e-4, regions=None,
               verbose: bool = False) -> pd.DataFrame:
    """Every FIMO hit of one motif, both strands, chromosome by chromosome.

    Parameters
    ----------
    genome : :class:`wtko_captum.core.genome.Genome` (``open_genome``): any FASTA or 2bit
    key : str
        The motif's name (``"MA0035.4 GATA1"``).
    pwm : ``(4, W)`` probability matrix, rows A,C,G,T.
    pvalue : float
        FIMO p-value threshold (a hit has p < ``pvalue``).
    regions : dict, optional
        ``{chrom: (k, 2)}`` intervals to scan (default: every chromosome whole). A hit lies
        entirely inside one interval.

    Windows holding an N (or any non-ACGT letter) are never hits.

    Returns
    -------
    DataFrame
        chrom, start, end (0-based half-open, forward-strand coordinates for either strand),
        strand, score, p_value; sorted by chrom (genome order), start, strand.
    """
    from tqdm.auto import tqdm

    from wtko_captum.core.sequence import encode_indices

    pwm = np.ascontiguousarray(pwm, dtype=np.float64)
    w = pwm.shape[1]
    chroms = list(genome.keys()) if regions is None else [c for c in genome.keys() if c in regions]
    parts = []
    for chrom in tqdm(chroms, desc="scan", unit="chrom", disable=not verbose):
        idx = encode_indices(genome.fetch(chrom, 0, genome.sizes[chrom]))[0]
        intervals = regions[chrom] if regions is not None else np.array([[0, len(idx)]])
        # tile j owns the hits starting in [t0, own_end); its sequence reaches w - 1 further
        tiles = [(t0, min(t0 + TILE, b), min(t0 + TILE + w - 1, b))
                 for a, b in intervals for t0 in range(int(a), int(b), TILE)]
        for g in range(0, len(tiles), TILES_PER_CALL):
            group = tiles[g:g + TILES_PER_CALL]
            parts.append(_scan_tiles(idx, group, chrom, key, pwm, pvalue))
    cols = ["chrom", "start", "end", "strand", "score", "p_value"]
    hits = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
    order = {c: i for i, c in enumerate(chroms)}
    hits = hits.assign(_c=hits["chrom"].map(order)).sort_values(["_c", "start", "strand"], kind="stable")
    return hits[cols].reset_index(drop=True)


def _scan_tiles(idx: np.ndarray, tiles, chrom: str, key: str, pwm: np.ndarray, pvalue: float) -> pd.DataFrame:
    """FIMO over a batch of tiles of one chromosome's base indices (N-padded to one length)."""
    from memelite import fimo

    w = pwm.shape[1]
    length = max(e - t0 for t0, _, e in tiles)
    batch = np.full((len(tiles), length), 4, dtype=np.int8)
    for j, (t0, _, e) in enumerate(tiles):
        batch[j, :e - t0] = idx[t0:e]
    X = np.zeros((len(tiles), 5, length), dtype=np.int8)
    np.put_along_axis(X, batch[:, None, :].astype(np.int64), 1, axis=1)
    df = fimo({key: pwm}, np.ascontiguousarray(X[:, :4]), threshold=pvalue)[0]
    j = df["sequence_name"].to_numpy(dtype=np.int64)
    s = df["start"].to_numpy(dtype=np.int64)
    t0 = np.array([t[0] for t in tiles], dtype=np.int64)[j]
    own = np.array([t[1] for t in tiles], dtype=np.int64)[j]
    end = np.array([t[2] for t in tiles], dtype=np.int64)[j]
    start = t0 + s
    # memelite scores an N as 0, so a weak motif "matches" runs of N: FIMO proper never scores
    # a window holding an ambiguous base, and neither do we
    n_before = np.zeros((len(tiles), length + 1), dtype=np.int32)
    np.cumsum(batch == 4, axis=1, out=n_before[:, 1:])
    has_n = n_before[j, s + w] > n_before[j, s]
    # owned by this tile, inside the interval (not reaching into the padding), no N
    keep = (start < own) & (start + w <= end) & ~has_n
    return pd.DataFrame({"chrom": chrom, "start": start[keep], "end": start[keep] + w,
                         "strand": df["strand"].to_numpy()[keep],
                         "score": df["score"].to_numpy(dtype=np.float64)[keep],
                         "p_value": df["p-value"].to_numpy(dtype=np.float64)[keep]})


def one_per_site(hits: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A site matching on both strands is one instance: keep the strand with the smaller p
    (``+`` on a tie). Returns ``(instances, the other strands' hits)``."""
    ranked = hits.assign(_minus=(hits["strand"] != "+").astype(int)).sort_values(
        ["chrom", "start", "p_value", "_minus"], kind="stable")
    first = ~ranked.duplicated(["chrom", "start", "end"])
    keep = ranked[first].sort_index()
    return keep.drop(columns="_minus"), ranked[~first].sort_index().drop(columns="_minus")


# ---------------------------------------------------------------- labels, windows, GC
def label_bound(inst: pd.DataFrame, bound: dict[str, np.ndarray]) -> tuple[np.ndarray, list[str]]:
    """``(labels, peaks)``: 1 where the instance overlaps a bound peak (at least one base), and
    that (merged) peak as ``chrom:start-end``, else 0 and ``""``."""
    labels = np.zeros(len(inst), dtype=np.int64)
    peaks = [""] * len(inst)
    chrom = inst["chrom"].astype(str).to_numpy()
    starts, ends = inst["start"].to_numpy(), inst["end"].to_numpy()
    for c in pd.unique(chrom):
        ivs = bound.get(c)
        if ivs is None:
            continue
        rows = np.flatnonzero(chrom == c)
        k = np.searchsorted(ivs[:, 0], ends[rows], side="left") - 1  # last peak starting before the end
        hit = (k >= 0) & (ivs[np.maximum(k, 0), 1] > starts[rows])
        labels[rows[hit]] = 1
        for r, kk in zip(rows[hit], k[hit]):
            peaks[r] = f"{c}:{ivs[kk, 0]}-{ivs[kk, 1]}"
    return labels, peaks


def window_stats(genome, inst: pd.DataFrame, width: int) -> pd.DataFrame:
    """Window start/end centred on each instance, GC fraction and N fraction of the window.

    Windows past a chromosome end get NaN GC and n_fraction 1 (they are dropped later).
    """
    from wtko_captum.core.sequence import encode_indices

    centre = inst["start"].to_numpy() + (inst["end"].to_numpy() - inst["start"].to_numpy()) // 2
    ws = centre - width // 2
    gc = np.full(len(inst), np.nan)
    n_fraction = np.ones(len(inst))
    chrom = inst["chrom"].astype(str).to_numpy()
    for c in pd.unique(chrom):
        idx = encode_indices(genome.fetch(c, 0, genome.sizes[c]))[0]
        for r in np.flatnonzero(chrom == c):
            a, b = ws[r], ws[r] + width
            if a < 0 or b > len(idx):
                continue
            counts = np.bincount(idx[a:b], minlength=5)
            acgt = counts[:4].sum()
            gc[r] = (counts[1] + counts[2]) / acgt if acgt else np.nan
            n_fraction[r] = counts[4] / width
    return pd.DataFrame({"window_start": ws, "window_end": ws + width, "gc": gc, "n_fraction": n_fraction})


# ---------------------------------------------------------------- splits
def assign_splits(inst: pd.DataFrame, test_chroms, val_chroms, *, test_fraction: float = 0.0,
                  val_fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, dict[str, str]]:
    """Split per instance (``train``/``val``/``test``) and a note per split saying how.

    By chromosome first, as ``wtko prepare`` does. When no instance lies on ``test_chroms``
    (or ``val_chroms``), a seeded ``test_fraction`` (``val_fraction``) of the training
    instances becomes test (validation) instead, drawn as whole clusters of overlapping
    windows so that no base appears in two splits.
    """
    rng = np.random.default_rng(seed)
    chrom = inst["chrom"].astype(str).to_numpy()
    split = np.where(np.isin(chrom, list(test_chroms)), "test",
                     np.where(np.isin(chrom, list(set(val_chroms) - set(test_chroms))), "val", "train")).astype(object)
    notes = {"train": "all other chromosomes"}
    clusters = _overlap_clusters(inst)
    for name, chroms, fraction in (("test", test_chroms, test_fraction), ("val", val_chroms, val_fraction)):
        if (split == name).any():
            notes[name] = f"chromosomes {','.join(sorted(set(chrom[split == name])))}"
            continue
        if fraction <= 0:
            log.warning("warning: no instance on the %s chromosomes %s: the %s split is empty (--%s-fraction "
                        "takes a seeded fraction instead)", name, ",".join(chroms) or "(none given)", name, name)
            notes[name] = (f"none (no instance on {','.join(chroms) or 'the given chromosomes'} and "
                           f"--{name}-fraction 0)")
            continue
        train = split == "train"
        size = np.bincount(clusters[train], minlength=clusters.max() + 1)
        ids = np.flatnonzero(size)
        order = rng.permutation(ids)
        # whole clusters, in a seeded order, until the fraction is reached
        n_before = np.concatenate([[0], np.cumsum(size[order])[:-1]])
        taken = order[n_before < fraction * train.sum()]
        split[train & np.isin(clusters, taken)] = name
        why = f"no instance on {','.join(chroms)}; " if chroms else ""
        notes[name] = f"{why}a seeded {fraction:g} of the instances, as whole clusters of overlapping windows"
    return split, notes


def _overlap_clusters(inst: pd.DataFrame) -> np.ndarray:
    """Cluster id per instance: windows on one chromosome that overlap (transitively) share one."""
    order = np.lexsort((inst["window_start"].to_numpy(), inst["chrom"].astype(str).to_numpy()))
    chrom = inst["chrom"].astype(str).to_numpy()[order]
    ws, we = inst["window_start"].to_numpy()[order], inst["window_end"].to_numpy()[order]
    ids = np.empty(len(inst), dtype=np.int64)
    cid, reach, prev = -1, None, None
    for i in range(len(order)):
        if chrom[i] != prev or ws[i] >= reach:
            cid, reach, prev = cid + 1, we[i], chrom[i]
        reach = max(reach, we[i])
        ids[order[i]] = cid
    return ids


# ---------------------------------------------------------------- matching
def bin_index(values: np.ndarray, width: float) -> np.ndarray:
    """``floor(values / width)`` robust to float noise (0.3 / 0.1 is bin 3, not 2)."""
    return np.floor(np.round(np.asarray(values, dtype=np.float64) / width, 9)).astype(np.int64)


def match_bins(labels: np.ndarray, strata: np.ndarray, rng) -> tuple[np.ndarray, dict]:
    """Within each stratum keep as many bound as unbound instances (seeded downsampling).

    Parameters
    ----------
    labels : (n,) 0/1
    strata : (n,) hashable stratum key per instance (bin ids joined), ``None`` = not eligible
    rng : numpy Generator

    Returns
    -------
    keep : (n,) bool
    per_bin : ``{stratum: (n_bound, n_unbound, n_kept_each)}``
    """
    keep = np.zeros(len(labels), dtype=bool)
    per_bin = {}
    groups: dict = {}
    for i, s in enumerate(strata):
        if s is not None:
            groups.setdefault(s, []).append(i)
    for s in sorted(groups):
        rows = np.asarray(groups[s])
        bound, unbound = rows[labels[rows] == 1], rows[labels[rows] == 0]
        k = min(len(bound), len(unbound))
        per_bin[s] = (len(bound), len(unbound), k)
        for cls in (bound, unbound):
            keep[cls if len(cls) == k else rng.choice(cls, size=k, replace=False)] = True
    return keep, per_bin


# ---------------------------------------------------------------- the whole step
def prepare_motif_instances(out, motif: str, bound, genome, *, regions=None, width: int = 1000,
                            pvalue: float = 1e-4, pvalue_bin: float = 0.1, match_gc: bool = False,
                            gc_bin: float = 0.05, mask_core: bool = False, motif_db=None,
                            test_chroms=("chr6", "chr7"), val_chroms=("chr8",), test_fraction: float = 0.1,
                            val_fraction: float = 0.1, max_n: float = 0.0, genome_build: str | None = None,
                            seed: int = 0, verbose: bool = False) -> MotifInstancesResult:
    """Build a prepared-data directory of bound vs unbound instances of one motif.

    Parameters
    ----------
    out : path
        Output directory (written atomically): the prepared-data layout of
        :mod:`wtko_captum.core.dataset` (label 1 = bound, 0 = unbound) plus ``instances.tsv``
        (every instance, :data:`INSTANCE_COLUMNS`) and ``matching.png``.
    motif : str
        JASPAR id, ``jaspar:ID``, full key or TF name in ``motif_db``.
    bound : path
        Peaks of the bound set (BED3+ / narrowPeak, e.g. ChIP-seq of the same factor). An
        instance overlapping a peak by at least one base is bound.
    genome : path
        Genome: FASTA (plain, gzip, bgzip) or 2bit (:func:`wtko_captum.core.genome.open_genome`).
    regions : path, optional
        BED of regions to scan instead of the whole genome.
    width : int
        Window length in bp, centred on the instance (1000 as published).
    pvalue : float
        FIMO threshold: instances have p < ``pvalue`` (both strands).
    pvalue_bin : float
        Width of the -log10 p bins bound and unbound instances are matched in (0.1 as
        published); 0 matches on GC only (or just balances the classes).
    match_gc, gc_bin : bool, float
        Also match on bins of window GC fraction of this width.
    mask_core : bool
        Replace the instance's own bases by N (all-zero one-hot columns).
    motif_db : path, optional
        Motif database (default: bundled JASPAR 2020 CORE vertebrates).
    test_chroms, val_chroms : sequences of str
        Chromosomes held out (as ``wtko prepare``).
    test_fraction, val_fraction : float
        Used when no instance lies on the test / validation chromosomes: this seeded fraction
        of instances, as whole clusters of overlapping windows.
    max_n : float
        Drop windows whose fraction of N bases (before masking) exceeds this.
    seed : int
        Seed for the splits and the matching.

    Returns
    -------
    MotifInstancesResult

    Raises
    ------
    InputError
        Unknown motif, empty bound set, no instance found, no bound instance, no bin holding
        both classes - before anything is written.
    """
    from wtko_captum.core.genome import open_genome

    _check_numbers(width, pvalue, pvalue_bin, gc_bin, max_n, test_fraction, val_fraction)
    key, pwm = resolve_motif(motif, motif_db)
    ref = open_genome(genome)
    sizes = dict(ref.sizes)
    bound_ivs = read_bound(bound, sizes)
    scan_ivs = read_scan_regions(regions, sizes) if regions is not None else None

    hits = scan_motif(ref, key, pwm, pvalue=pvalue, regions=scan_ivs, verbose=verbose)
    if hits.empty:
        where = f"the regions of {regions}" if scan_ivs is not None else str(genome)
        raise InputError(f"no instance of {key} at p < {pvalue:g} in {where}; raise --pvalue")
    inst, other_strand = one_per_site(hits)
    inst = inst.reset_index(drop=True)
    labels, peaks = label_bound(inst, bound_ivs)
    if not labels.any():
        raise InputError(f"none of the {len(inst)} instances of {key} overlaps a peak of the bound set "
                         f"(is it the same genome build?)", path=bound)
    if labels.all():
        raise InputError(f"all {len(inst)} instances of {key} overlap a bound peak: no unbound instance to "
                         "compare with (scan a larger genome or more --regions)", path=bound)
    table = _instance_table(inst, labels, peaks, window_stats(ref, inst, width), pvalue_bin, gc_bin)
    _drop(table, table["window_start"] < 0, "crosses_chrom_end", "window starts before the chromosome")
    size = table["chrom"].map(sizes).to_numpy()
    _drop(table, table["window_end"].to_numpy() > size, "crosses_chrom_end", "window ends past the chromosome")
    _drop(table, table["n_fraction"] > max_n, "too_many_N", f"N fraction above --max-n {max_n:g}")

    alive = table["reason"] == ""
    split, notes = assign_splits(table[alive], test_chroms, val_chroms, test_fraction=test_fraction,
                                 val_fraction=val_fraction, seed=seed)
    table.loc[alive, "split"] = split
    bins = _match(table, pvalue_bin, match_gc, np.random.default_rng(seed + 1))
    kept = table[table["kept"] == "yes"]
    if kept.empty:
        raise InputError(_no_pairs_message(bins, table, pvalue_bin, match_gc))
    order = {s: i for i, s in enumerate(SPLITS)}  # train, val, test; instance order within a split
    kept = kept.assign(_o=kept["split"].map(order)).sort_values(["_o", "instance"], kind="stable")

    params = {"width": width, "pvalue": pvalue, "pvalue_bin": pvalue_bin, "match_gc": match_gc,
              "gc_bin": gc_bin, "mask_core": mask_core, "max_n": max_n, "test_fraction": test_fraction,
              "val_fraction": val_fraction}
    excluded = _excluded_table(table, other_strand)
    meta = _meta(key, pwm, table, kept, bins, excluded, n_hits=len(hits), genome=genome, genome_build=genome_build,
                 bound=bound, regions=regions, splits={"test_chroms": list(test_chroms), "val_chroms": list(val_chroms),
                                                       **notes}, params=params, seed=seed)
    result = MotifInstancesResult(Path(out), _summary(table), excluded, meta, table[INSTANCE_COLUMNS])
    _write(result, kept, _extract(ref, kept, mask_core))
    log.info("%s: %d instances (%d bound, %d unbound); kept %d matched pairs", key, len(table),
             meta["motif_instances"]["n_bound"], meta["motif_instances"]["n_unbound"], len(kept) // 2)
    return result


def _meta(key, pwm, table, kept, bins, excluded, *, n_hits, genome, genome_build, bound, regions, splits,
          params, seed) -> dict:
    """meta.json: the prepared-data fields ``wtko train`` reads, and what was scanned and matched."""
    from wtko_captum import __version__
    from wtko_captum.core.motif_db import motif_id, motif_name

    counts = {s: {CLASS_NAMES[lab]: int(((kept["split"] == s) & (kept["label"] == lab)).sum()) for lab in (1, 0)}
              for s in SPLITS}
    return {
        "format": PREPARED_FORMAT, "kind": "motif_instances", "width": int(params["width"]),
        "class_names": list(CLASS_NAMES), "genome": str(genome), "genome_build": genome_build,
        "class_weights": [1.0, 1.0], "balanced": True, "seed": int(seed), "splits": splits,
        "counts": counts, "excluded": dict(Counter(excluded["reason"])),
        "inputs": {"bound": str(bound), "regions": str(regions) if regions is not None else None},
        "motif_instances": {
            "motif": key, "motif_id": motif_id(key), "motif_name": motif_name(key),
            "motif_width": int(pwm.shape[1]), "n_hits": int(n_hits), "n_instances": int(len(table)),
            "n_bound": int(table["label"].sum()), "n_unbound": int((table["label"] == 0).sum()),
            "n_kept": int(len(kept)), "bins": {_bin_name(k): list(v) for k, v in bins.items()},
            "core": "regions.tsv peak_start/peak_end; summit = its centre",
        },
        "params": params,
        "wtko_captum_version": __version__,
    }


def _write(result: MotifInstancesResult, kept: pd.DataFrame, sequences: list[str]) -> None:
    """The directory, atomically: the prepared-data files, instances.tsv and matching.png."""
    regions_df = _regions_table(kept)
    info = result.meta["motif_instances"]
    with atomic_dir(result.path) as tmp:
        regions_df.to_csv(tmp / "regions.tsv", sep="\t", index=False)
        with open(tmp / "sequences.fa", "w") as fh:
            for name, seq in zip(regions_df["name"], sequences):
                fh.write(f">{name}\n{seq}\n")
        result.summary.to_csv(tmp / "summary.tsv", sep="\t", index=False)
        result.excluded.to_csv(tmp / "excluded.tsv", sep="\t", index=False)
        result.instances.to_csv(tmp / "instances.tsv", sep="\t", index=False, float_format="%.6g")
        plot_matching(result.instances, tmp / "matching.png",
                      title=f"{info['motif_name']} instances, p < {result.meta['params']['pvalue']:g}")
        (tmp / "meta.json").write_text(json.dumps(result.meta, indent=2) + "\n")


def _check_numbers(width, pvalue, pvalue_bin, gc_bin, max_n, test_fraction, val_fraction) -> None:
    if width < 1:
        raise InputError("--width must be a positive number of bp", value=width)
    if not 0 < pvalue <= 1:
        raise InputError("--pvalue must be in (0, 1]", value=pvalue)
    if pvalue_bin < 0 or gc_bin <= 0:
        raise InputError("bin widths must be positive (--match-pvalue-bins 0 turns p-value matching off)",
                         value=(pvalue_bin, gc_bin))
    if not 0 <= max_n <= 1:
        raise InputError("--max-n must be in [0, 1]", value=max_n)
    for name, v in (("--test-fraction", test_fraction), ("--val-fraction", val_fraction)):
        if not 0 <= v < 1:
            raise InputError(f"{name} must be in [0, 1)", value=v)


def _instance_table(inst, labels, peaks, stats, pvalue_bin, gc_bin) -> pd.DataFrame:
    t = inst.reset_index(drop=True).copy()
    t.insert(0, "instance", np.arange(len(t)))
    t["neg_log10_p"] = -np.log10(t["p_value"].to_numpy())
    t["p_bin"] = bin_index(t["neg_log10_p"], pvalue_bin) if pvalue_bin > 0 else 0
    t = pd.concat([t, stats.reset_index(drop=True)], axis=1)
    gc = t["gc"].to_numpy()
    t["gc_bin"] = np.where(np.isfinite(gc), bin_index(np.minimum(np.nan_to_num(gc), 1 - 1e-12), gc_bin), -1)
    t["label"] = labels
    t["class"] = [CLASS_NAMES[lab] for lab in labels]
    t["peak"] = peaks
    t["split"] = ""
    t["kept"] = "no"
    t["reason"] = ""
    t["detail"] = ""
    return t


def _drop(table: pd.DataFrame, mask, reason: str, detail: str) -> None:
    """Mark instances not yet dropped as dropped for ``reason`` (the first reason wins)."""
    mask = np.asarray(mask) & (table["reason"] == "").to_numpy()
    table.loc[mask, "reason"] = reason
    table.loc[mask, "detail"] = detail


def _stratum(row_p, row_gc, match_p: bool, match_gc: bool):
    return (int(row_p) if match_p else 0, int(row_gc) if match_gc else 0)


def _bin_name(key) -> str:
    split, (p, g) = key
    return f"{split} p_bin {p} gc_bin {g}"


def _match(table: pd.DataFrame, pvalue_bin: float, match_gc: bool, rng) -> dict:
    """Match within each split; marks kept / unmatched rows; returns the per-bin counts."""
    alive = (table["reason"] == "").to_numpy()
    strata = np.array([None] * len(table), dtype=object)
    for i in np.flatnonzero(alive):
        strata[i] = (table.at[i, "split"], _stratum(table.at[i, "p_bin"], table.at[i, "gc_bin"],
                                                    pvalue_bin > 0, match_gc))
    keep, bins = match_bins(table["label"].to_numpy(), strata, rng)
    table.loc[keep, "kept"] = "yes"
    for i in np.flatnonzero(alive & ~keep):
        nb, nu, _ = bins[strata[i]]
        lone = nb == 0 or nu == 0
        table.at[i, "reason"] = "no_partner_in_bin" if lone else "matching_downsampled"
        table.at[i, "detail"] = f"{_bin_name(strata[i])}: {nb} bound, {nu} unbound"
    lonely = {k: v for k, v in bins.items() if v[2] == 0}
    if lonely:
        n = sum(v[0] + v[1] for v in lonely.values())
        log.warning("warning: %d bin(s) hold only one class (%d instance(s) dropped, reason no_partner_in_bin "
                    "in instances.tsv)", len(lonely), n)
    return bins


def _no_pairs_message(bins, table, pvalue_bin, match_gc) -> str:
    alive = table["reason"].isin(["", "no_partner_in_bin", "matching_downsampled"])
    if not alive.any():
        reasons = Counter(table["reason"])
        return ("every instance was dropped before matching ("
                + ", ".join(f"{n} {r}" for r, n in reasons.items()) + "); try a smaller --width or a larger --max-n")
    per_split = {}
    for (split, _), (b, u, _) in bins.items():
        n = per_split.setdefault(split, [0, 0, 0])
        n[0], n[1], n[2] = n[0] + b, n[1] + u, n[2] + 1
    shown = "; ".join(f"{split}: {b} bound and {u} unbound in {k} bin(s)" for split, (b, u, k) in per_split.items())
    what = "-log10 p" + (" and GC" if match_gc else "") if pvalue_bin > 0 else "GC" if match_gc else "split"
    return (f"no {what} bin holds both bound and unbound instances, so nothing can be matched ({shown}); "
            "use wider bins (--match-pvalue-bins, --gc-bin), a larger --pvalue, or check that every split "
            "holds bound peaks")


def _extract(genome, kept: pd.DataFrame, mask_core: bool) -> list[str]:
    """Window sequences of the kept instances (core bases replaced by N with ``mask_core``)."""
    out = []
    for chrom, a, b, s, e in zip(kept["chrom"], kept["window_start"], kept["window_end"], kept["start"], kept["end"]):
        seq = genome.fetch(chrom, int(a), int(b))
        if mask_core:
            seq = seq[:s - a] + "N" * (e - s) + seq[e - a:]
        out.append(seq)
    return out


def _regions_table(kept: pd.DataFrame) -> pd.DataFrame:
    """regions.tsv rows (prepared-data format), in the order of ``kept``."""
    names = [f"{c}:{a}-{b}" for c, a, b in zip(kept["chrom"], kept["window_start"], kept["window_end"])]
    if len(set(names)) != len(names):  # two instances with one centre cannot both be kept
        raise AssertionError("duplicate window names")
    centre = kept["start"].to_numpy() + (kept["end"].to_numpy() - kept["start"].to_numpy()) // 2
    df = pd.DataFrame({
        "chrom": kept["chrom"].to_numpy(), "start": kept["window_start"].to_numpy(),
        "end": kept["window_end"].to_numpy(), "name": names, "label": kept["label"].to_numpy(),
        "class": kept["class"].to_numpy(), "split": kept["split"].to_numpy(), "summit": centre,
        "peak_start": kept["start"].to_numpy(), "peak_end": kept["end"].to_numpy(),
        "pad_left": 0, "pad_right": 0, "source": "instances.tsv",
        "line": kept["instance"].to_numpy() + 2,  # 1-based, after the header line
        "coordinates": "genome",
    })
    return df[REGION_COLUMNS]


def _summary(table: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for split in SPLITS:
        for lab in (1, 0):
            sel = (table["split"] == split) & (table["label"] == lab)
            rows.append({"split": split, "class": CLASS_NAMES[lab], "label": lab,
                         "n_before_balance": int(sel.sum()),
                         "n": int((sel & (table["kept"] == "yes")).sum()),
                         "chromosomes": ",".join(sorted(set(table.loc[sel, "chrom"].astype(str))))})
    return pd.DataFrame(rows)


def _excluded_table(table: pd.DataFrame, other_strand: pd.DataFrame) -> pd.DataFrame:
    """excluded.tsv in the prepare format: every instance not kept (and each site's other strand)."""
    gone = table[table["kept"] == "no"]
    rows = pd.DataFrame({
        "name": [f"{c}:{a}-{b}" for c, a, b in zip(gone["chrom"], gone["window_start"], gone["window_end"])],
        "chrom": gone["chrom"], "start": gone["window_start"], "end": gone["window_end"],
        "class": gone["class"], "source": "instances.tsv", "line": gone["instance"] + 2,
        "reason": gone["reason"], "kept": "no", "detail": gone["detail"]})
    other = pd.DataFrame({
        "name": [f"{c}:{a}-{b}({s})" for c, a, b, s in zip(other_strand["chrom"], other_strand["start"],
                                                          other_strand["end"], other_strand["strand"])],
        "chrom": other_strand["chrom"], "start": other_strand["start"], "end": other_strand["end"],
        "class": "", "source": "FIMO", "line": 0, "reason": "same_site_other_strand", "kept": "no",
        "detail": "the site's better-scoring strand is the instance"})
    return pd.concat([rows, other], ignore_index=True)[EXCLUDED_COLUMNS]


def plot_matching(table: pd.DataFrame, path, *, title: str = "") -> Path:
    """-log10 p of bound vs unbound instances, all found (left) and kept after matching (right)."""
    from wtko_captum.core.figures import new_figure, save_figure

    fig = new_figure(9.0, 3.4)
    finite = table["neg_log10_p"].to_numpy()
    edges = np.linspace(finite.min(), finite.max() + 1e-9, 31) if len(finite) else np.linspace(0, 1, 31)
    for k, (sub, what) in enumerate(((table, "all instances"), (table[table["kept"] == "yes"], "kept (matched)"))):
        ax = fig.add_subplot(1, 2, k + 1)
        for lab, colour in ((1, "#0072B2"), (0, "#D55E00")):
            v = sub.loc[sub["label"] == lab, "neg_log10_p"]
            ax.hist(v, bins=edges, alpha=0.6, color=colour, label=f"{CLASS_NAMES[lab]} ({len(v)})")
        ax.set_xlabel("-log10 p (FIMO)")
        ax.set_ylabel("instances")
        ax.set_title(what, fontsize=9)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)
