"""Simulated WT/KO sequence sets with known planted motifs: ground truth for benchmarks.

Three presets:

``agentbind`` (the AgentBind paper's simulation benchmark)
    Background bases drawn i.i.d. with P(A, C, G, T) = (0.3, 0.2, 0.2, 0.3). Every sequence
    carries a GATA1 site (JASPAR MA0035.4) at its centre; the positive class (``WT``) also
    carries 1-3 non-overlapping TAL1-type sites (JASPAR MA0091.1 TAL1::TCF3, the TAL1
    heterodimer motif of JASPAR 2020 vertebrates), their number drawn from a Poisson
    distribution truncated to 1..3. Negatives (``KO``) carry the GATA1 site only, so the
    centre motif alone cannot separate the classes.

``two-motif``
    Uniform background. Class ``WT`` carries one site of a KLF/SP motif (default JASPAR
    MA0039.4 KLF4), class ``KO`` one site of AP-1 (MA0099.3 FOS::JUN), at a random position
    and strand (the paper's RelA finding: SP/KLF up in WT, AP-1 up in KO). Per-class motif
    sets with frequencies, and motifs shared by both classes, build harder cases (a dominant
    motif in one class and a weak one in the other; see :func:`motif_sets`).

``neuronmotif-toy`` (the NeuronMotif paper's toy)
    8 bp sequences. Class ``WT``: a ZEB1 motif (JASPAR MA0103.3) at two positions 1 bp apart,
    half of the sequences each: its most informative 6 bp (the core, CACCTG) starts at
    position 2 or 1, and the motif's own flanking columns fill the rest of the window. Class
    ``KO``: uniform random sequences. A CNN with one max-pool of 2 cannot tell the two shifts
    apart after the pool, so its second-layer neuron is the paper's textbook multifaceted
    neuron. ``motifs=(A, B)`` plants motif A at the first position and B at the second.

Every site is sampled base by base from the motif's probability matrix (so sites vary like
real ones), on a random strand. Output directory::

    WT.fa, KO.fa          one FASTA per class; headers ``chrom:start-end`` (0-based half-open)
    genome.fa             the synthetic chromosomes chr1..chr10: each sequence is placed at
                          its header's interval, sequences back to back, so the windows can be
                          re-extracted (and bigWigs written) like real peaks
    genome.chrom.sizes    their sizes
    motifs.tsv            every planted site (the ground truth): see :data:`MOTIF_COLUMNS`
    sim.json              all parameters, motif keys, class meaning, counts

Sequences of both classes are dealt round-robin over chr1..chr10, so the default splits of
``wtko prepare`` (test chr6, chr7; validation chr8) all receive both classes.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from wtko_captum.core.atomic import atomic_dir
from wtko_captum.core.errors import InputError
from wtko_captum.core.motif_db import find_motif, load_motifs, motif_id, motif_name
from wtko_captum.core.sequence import ALPHABET, reverse_complement

PRESETS = {
    "agentbind": dict(
        n=1000, length=1000, background=(0.3, 0.2, 0.2, 0.3),
        motifs=("MA0035.4", "MA0091.1"),  # centre motif (all sequences), partner (positives)
        partner_rate=1.0, max_partner=3,
    ),
    "two-motif": dict(
        n=1000, length=600, background=(0.25, 0.25, 0.25, 0.25),
        motifs=("MA0039.4", "MA0099.3"),  # WT motif, KO motif
    ),
    "neuronmotif-toy": dict(
        n=2000, length=8, background=(0.25, 0.25, 0.25, 0.25),
        motifs=("MA0103.3", "MA0103.3"),  # motif with its core at position 2, and at position 1
    ),
}
CLASS_NAMES = ["KO", "WT"]  # label 0, 1
N_CHROMS = 10

MOTIF_COLUMNS = [
    "name",       # the sequence: its FASTA header chrom:start-end
    "class",      # WT | KO
    "label",      # 1 = WT, 0 = KO
    "seq_index",  # 0-based index of the sequence in its class FASTA
    "chrom", "start", "end",        # the site in genome coordinates (0-based half-open)
    "seq_start", "seq_end",         # the site within the sequence (0-based half-open)
    "strand",     # + : the motif reads left to right in the FASTA; - : on the reverse strand
    "motif_id", "motif_name",
    "role",       # agentbind: core | partner; two-motif: WT | KO | shared
    "site",       # the planted bases as they appear in the FASTA (+ strand)
    "log_odds",   # log2 P(site | motif) / P(site | background), on the motif's strand
]


def simulate(preset: str, out, *, n: int | None = None, length: int | None = None, seed: int = 0,
             motifs=None, motif_db=None, n_chroms: int = N_CHROMS, shared=None, frequencies=None,
             shared_frequency: float = 1.0, sets: dict | None = None) -> dict[str, Path]:
    """Write a simulated labelled dataset with its ground-truth motif table.

    Parameters
    ----------
    preset : {"agentbind", "two-motif", "neuronmotif-toy"}
    out : path
        Output directory (written atomically; replaced if it exists).
    n : int, optional
        Sequences per class (default 1000).
    length : int, optional
        Sequence length in bp (default 1000 for agentbind, 600 for two-motif, 8 for
        neuronmotif-toy).
    seed : int
        Same preset, parameters and seed give byte-identical outputs.
    motifs : sequence of 2 str, optional
        Motif queries (JASPAR id, ``jaspar:ID``, ``"ID NAME"`` or TF name, see
        :func:`wtko_captum.core.motif_db.find_motif`). agentbind: (centre motif, partner motif);
        two-motif: (WT motif, KO motif); neuronmotif-toy: (motif at the first position, motif
        1 bp to the left). A comma-separated string is accepted.
    motif_db : path, optional
        MEME file to look motifs up in (default: bundled JASPAR 2020 vertebrates).
    n_chroms : int
        Number of synthetic chromosomes chr1..chrK (default 10).
    shared, frequencies, shared_frequency, sets :
        two-motif only; see :func:`motif_sets`. ``shared``: motif(s) planted in both classes;
        ``frequencies``: the fraction of WT and of KO sequences carrying their class motif
        (default 1, 1); ``shared_frequency``: the fraction of each class carrying each shared
        motif; ``sets``: the general form, ``{"WT": {query: fraction}, "KO": {...},
        "shared": {...}}`` (instead of ``motifs``/``shared``/``frequencies``).

    Returns
    -------
    dict
        Paths: ``dir``, ``wt`` (WT.fa), ``ko`` (KO.fa), ``motifs`` (motifs.tsv), ``params``
        (sim.json), ``genome`` (genome.fa), ``chrom_sizes`` (genome.chrom.sizes).
    """
    if preset not in PRESETS:
        raise InputError(f"unknown simulation preset {preset!r}; choose one of {', '.join(PRESETS)}")
    cfg = dict(PRESETS[preset])
    n = int(cfg["n"] if n is None else n)
    length = int(cfg["length"] if length is None else length)
    if n < 1:
        raise InputError("--n must be at least 1 sequence per class", value=n)
    if n_chroms < 1:
        raise InputError("n_chroms must be at least 1", value=n_chroms)
    if isinstance(motifs, str):
        motifs = [m for m in (t.strip() for t in motifs.split(",")) if m]
    queries = list(cfg["motifs"] if not motifs else motifs)
    if len(queries) != 2:
        raise InputError(f"--motifs takes two motifs (ID,ID) for preset {preset!r}", value=",".join(queries))
    db = load_motifs(motif_db)
    keys = [find_motif(db, q)[0] for q in queries]
    pwms = [db[k] for k in keys]
    background = np.asarray(cfg["background"], dtype=np.float64)
    rng = np.random.default_rng(seed)
    design = None
    if preset == "two-motif" and (sets or shared or frequencies is not None):
        design = motif_sets(db, sets, motifs=queries, shared=shared, frequencies=frequencies,
                            shared_frequency=shared_frequency)
    elif sets or shared or frequencies is not None:
        raise InputError(f"per-class motif sets and shared motifs are for the two-motif preset, not {preset!r}")

    if design is not None:
        sites = _plant_sets(rng, n, length, design, db)
        meaning = {cls: "; ".join(f"{motif_name(k)} in {f:.0%}" for k, f in design[cls].items()) or "no motif"
                   for cls in ("WT", "KO")}
        if design["shared"]:
            meaning["shared"] = "; ".join(f"{motif_name(k)} in {f:.0%} of each class" for k, f in design["shared"].items())
    elif preset == "agentbind":
        sites = _plant_agentbind(rng, n, length, pwms, keys, cfg)
        meaning = {"WT": f"positive: {motif_name(keys[0])} at the centre + 1-{cfg['max_partner']} "
                         f"{motif_name(keys[1])} sites",
                   "KO": f"negative: {motif_name(keys[0])} at the centre only"}
    elif preset == "neuronmotif-toy":
        if length < TOY_CORE + 2:
            raise InputError(f"--length {length} is too short for the neuronmotif-toy preset (at least "
                             f"{TOY_CORE + 2} bp)")
        sites = {"WT": [], "KO": []}
        meaning = {"WT": f"the core of {motif_name(keys[0])} at position {_toy_start(length)} or of "
                         f"{motif_name(keys[1])} at {_toy_start(length) - 1} (half each), motif flanks around it",
                   "KO": "uniform random sequences"}
    else:
        sites = _plant_two_motif(rng, n, length, pwms, keys)
        meaning = {"WT": f"one {motif_name(keys[0])} site", "KO": f"one {motif_name(keys[1])} site"}

    seqs = {cls: _background(rng, n, length, background) for cls in ("WT", "KO")}
    rows = []
    if preset == "neuronmotif-toy":
        rows = _plant_toy(rng, seqs["WT"], length, pwms, keys, background)
    for cls in ("WT", "KO"):
        for i, plan in enumerate(sites[cls]):
            for role, key, pwm, pos, strand in plan:
                site = _sample_site(rng, pwm)
                if strand == "-":
                    site = reverse_complement(site)
                seqs[cls][i][pos:pos + len(site)] = list(site)
                rows.append(dict(cls=cls, seq_index=i, seq_start=pos, seq_end=pos + len(site), strand=strand,
                                 key=key, role=role, site=site,
                                 log_odds=_log_odds(site, pwm, strand, background)))

    layout, sizes = _layout(n, length, n_chroms)
    params = dict(
        preset=preset, seed=seed, n_per_class=n, length=length, background=dict(zip(ALPHABET, background.tolist())),
        motifs={role: key for role, key in zip(_roles(preset), keys)}, motif_db=str(motif_db or "bundled JASPAR 2020"),
        class_names=CLASS_NAMES, classes=meaning, n_chroms=n_chroms, chrom_sizes=sizes,
        n_sites=len(rows), coordinates="0-based half-open; headers chrom:start-end",
    )
    if design is not None:
        params["motifs"] = {role: list(design[role]) for role in ("WT", "KO", "shared")}
        params["frequencies"] = {role: dict(design[role]) for role in ("WT", "KO", "shared")}
    if preset == "agentbind":
        params.update(partner_rate=cfg["partner_rate"], max_partner=cfg["max_partner"],
                      partner_count="Poisson(partner_rate) truncated to 1..max_partner, positives only")
    from wtko_captum import __version__
    params["package_version"] = __version__
    return _write(out, seqs, rows, layout, sizes, params)


def _roles(preset):
    return {"agentbind": ("core", "partner"), "neuronmotif-toy": ("shift0", "shift1")}.get(preset, ("WT", "KO"))


# ---- the NeuronMotif toy: one motif at two shifts 1 bp apart ------------------------------
TOY_CORE = 6  # bp of the motif's most informative window (ZEB1: CACCTG)


def _toy_start(length: int) -> int:
    """Where the first shift's core starts (2 in 8 bp: the second's starts 1 bp to the left)."""
    return (length - TOY_CORE) // 2 + 1


def _toy_window(pwm: np.ndarray, length: int, core_start: int) -> tuple[np.ndarray, int]:
    """``(4, length)`` matrix with the motif's most informative ``TOY_CORE`` columns starting at
    ``core_start`` and its other columns around them (uniform where the motif ends), and the
    motif column at the core's start."""
    p = np.clip(pwm, 1e-12, 1)
    ic = 2 + (p * np.log2(p)).sum(axis=0)
    width = min(TOY_CORE, pwm.shape[1])
    anchor = int(np.argmax([ic[i:i + width].sum() for i in range(pwm.shape[1] - width + 1)]))
    out = np.full((4, length), 0.25)
    for j in range(length):
        c = anchor - core_start + j
        if 0 <= c < pwm.shape[1]:
            out[:, j] = pwm[:, c]
    return out, width


def _plant_toy(rng, wt: list[list[str]], length: int, pwms, keys, background) -> list[dict]:
    """Overwrite the WT sequences: the first half from motif 1 with its core at
    :func:`_toy_start`, the second half from motif 2 with its core 1 bp to the left."""
    rows = []
    first = _toy_start(length)
    for i in range(len(wt)):
        shift = int(i >= len(wt) // 2)
        key, core = keys[shift], first - shift
        window, width = _toy_window(pwms[shift], length, core)
        letters = _sample_site(rng, window)
        wt[i] = list(letters)
        site = letters[core:core + width]
        rows.append(dict(cls="WT", seq_index=i, seq_start=core, seq_end=core + width, strand="+", key=key,
                         role=f"shift{shift}", site=site,
                         log_odds=_log_odds(site, window[:, core:core + width], "+", background)))
    return rows


def _background(rng, n, length, p) -> list[list[str]]:
    idx = rng.choice(4, size=(n, length), p=p)
    letters = np.array(list(ALPHABET))
    return [list(row) for row in letters[idx]]


def _sample_site(rng, pwm: np.ndarray) -> str:
    """One site drawn column by column from a ``(4, W)`` probability matrix."""
    cum = np.cumsum(pwm, axis=0)
    u = rng.random(pwm.shape[1])
    idx = np.minimum((u[None, :] >= cum).sum(axis=0), 3)
    return "".join(ALPHABET[i] for i in idx)


def _log_odds(site: str, pwm: np.ndarray, strand: str, background: np.ndarray) -> float:
    """log2 likelihood ratio of ``site`` (as in the FASTA) under the motif vs the background."""
    s = reverse_complement(site) if strand == "-" else site
    idx = [ALPHABET.index(b) for b in s]
    p = pwm[idx, np.arange(len(idx))]
    return float(np.sum(np.log2(np.clip(p, 1e-9, None)) - np.log2(background[idx])))


def _strand(rng) -> str:
    return "+" if rng.random() < 0.5 else "-"


def _place(rng, occupied: np.ndarray, width: int, what: str) -> int:
    """A random start where ``width`` bases are free; marks them occupied."""
    free = np.convolve(~occupied, np.ones(width, dtype=int), mode="valid") == width
    starts = np.flatnonzero(free)
    if starts.size == 0:
        raise InputError(f"sequence length {occupied.size} bp leaves no room for another {what} site; "
                         f"use a longer --length")
    pos = int(rng.choice(starts))
    occupied[pos:pos + width] = True
    return pos


def _plant_agentbind(rng, n, length, pwms, keys, cfg) -> dict[str, list]:
    core, partner = pwms
    wc, wp = core.shape[1], partner.shape[1]
    if length < wc + cfg["max_partner"] * wp:
        raise InputError(f"--length {length} is too short for the agentbind preset "
                         f"(needs at least {wc + cfg['max_partner'] * wp} bp)")
    # Poisson truncated to 1..max: a positive without a partner site would be label noise.
    ks = np.arange(1, cfg["max_partner"] + 1)
    from math import factorial

    pk = np.array([cfg["partner_rate"] ** k / factorial(int(k)) for k in ks])
    pk /= pk.sum()
    centre = (length - wc) // 2
    plans = {"WT": [], "KO": []}
    for cls in ("WT", "KO"):
        for _ in range(n):
            occupied = np.zeros(length, dtype=bool)
            occupied[centre:centre + wc] = True
            plan = [("core", keys[0], core, centre, _strand(rng))]
            if cls == "WT":
                for _k in range(int(rng.choice(ks, p=pk))):
                    plan.append(("partner", keys[1], partner, _place(rng, occupied, wp, motif_name(keys[1])),
                                 _strand(rng)))
            plans[cls].append(plan)
    return plans


def _plant_two_motif(rng, n, length, pwms, keys) -> dict[str, list]:
    plans = {"WT": [], "KO": []}
    for cls, key, pwm in (("WT", keys[0], pwms[0]), ("KO", keys[1], pwms[1])):
        if length < pwm.shape[1]:
            raise InputError(f"--length {length} is shorter than motif {key} ({pwm.shape[1]} bp)")
        for _ in range(n):
            occupied = np.zeros(length, dtype=bool)
            plans[cls].append([(cls, key, pwm, _place(rng, occupied, pwm.shape[1], motif_name(key)), _strand(rng))])
    return plans


def motif_sets(db: dict, sets: dict | None = None, *, motifs=None, shared=None, frequencies=None,
               shared_frequency: float = 1.0) -> dict[str, dict[str, float]]:
    """The two-motif design as ``{"WT": {key: fraction}, "KO": {...}, "shared": {...}}``.

    Each motif of a class is planted (one site, random position and strand) in that fraction
    of the class's sequences, drawn independently per motif and sequence; a shared motif in
    that fraction of the sequences of *both* classes. A dominant/weak pair is, for example,
    a long, information-rich motif in every WT sequence and a short one in half of the KO
    sequences (``frequencies=(1.0, 0.5)``): presence or absence of the first separates the
    classes alone, and a model may never learn the second.

    Parameters
    ----------
    db : dict
        The motif database queries are looked up in.
    sets : dict, optional
        The general form: ``{"WT": {query: fraction} or [query, ...], "KO": ..., "shared": ...}``
        (a list means fraction 1). Replaces ``motifs``, ``shared`` and ``frequencies``.
    motifs : (str, str)
        The WT and the KO motif.
    shared : str or sequence of str, optional
        Motif(s) planted in both classes (a comma-separated string is accepted).
    frequencies : (float, float), optional
        Fractions of WT and of KO sequences carrying their class motif (default 1, 1).
    shared_frequency : float
        Fraction of the sequences of each class carrying each shared motif.
    """
    def fraction(value, what):
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise InputError(f"the frequency of {what} must be a number in (0, 1]", value=value) from None
        if not 0 < f <= 1:
            raise InputError(f"the frequency of {what} must be in (0, 1]", value=value)
        return f

    if sets is None:
        if isinstance(frequencies, str):
            frequencies = [t for t in frequencies.split(",") if t.strip()]
        freqs = list(frequencies) if frequencies is not None else [1.0, 1.0]
        if len(freqs) != 2:
            raise InputError("--frequencies takes two fractions: WT motif, KO motif", value=freqs)
        if isinstance(shared, str):
            shared = [t.strip() for t in shared.split(",") if t.strip()]
        sets = {"WT": {motifs[0]: freqs[0]}, "KO": {motifs[1]: freqs[1]},
                "shared": {q: shared_frequency for q in shared or ()}}
    unknown = set(sets) - {"WT", "KO", "shared"}
    if unknown:
        raise InputError(f"motif sets are WT, KO and shared; unknown: {', '.join(sorted(unknown))}")
    out: dict[str, dict[str, float]] = {}
    for role in ("WT", "KO", "shared"):
        spec = sets.get(role) or {}
        if isinstance(spec, (list, tuple)):
            spec = {q: 1.0 for q in spec}
        out[role] = {}
        for query, f in spec.items():
            key = find_motif(db, query)[0]
            if key in out[role]:
                raise InputError(f"motif {key} is listed twice for {role}")
            out[role][key] = fraction(f, f"{query} ({role})")
    if not out["WT"] and not out["KO"]:
        raise InputError("the motif sets plant nothing in either class")
    return out


def _plant_sets(rng, n, length, design, db) -> dict[str, list]:
    """Sites of a :func:`motif_sets` design: each class motif, then each shared motif, is
    planted with its frequency, at a free random position and strand."""
    plans = {"WT": [], "KO": []}
    for cls in ("WT", "KO"):
        motifs = [(cls, k, f) for k, f in design[cls].items()] + [("shared", k, f) for k, f in design["shared"].items()]
        for _ in range(n):
            occupied = np.zeros(length, dtype=bool)
            plan = []
            for role, key, f in motifs:
                if f < 1 and rng.random() >= f:
                    continue
                pwm = db[key]
                plan.append((role, key, pwm, _place(rng, occupied, pwm.shape[1], motif_name(key)), _strand(rng)))
            plans[cls].append(plan)
    return plans


def _layout(n, length, n_chroms):
    """Genome placement: ``{(cls, i): (chrom, start)}`` and chromosome sizes.

    Sequence i of either class goes to chromosome ``i % n_chroms`` (so every chromosome, and
    hence every default split, receives both classes); within a chromosome the sequences are
    back to back in the order WT i, KO i, WT i + n_chroms, ...
    """
    fill = [0] * n_chroms
    layout = {}
    for i in range(n):
        c = i % n_chroms
        for cls in ("WT", "KO"):
            layout[(cls, i)] = (f"chr{c + 1}", fill[c])
            fill[c] += length
    sizes = {f"chr{c + 1}": fill[c] for c in range(n_chroms) if fill[c] > 0}
    return layout, sizes


def _write(out, seqs, rows, layout, sizes, params) -> dict[str, Path]:
    import pandas as pd

    out = Path(out)
    length = params["length"]
    with atomic_dir(out) as tmp:
        chrom_seq = {c: [""] * (size // length) for c, size in sizes.items()}
        for cls in ("WT", "KO"):
            with open(tmp / f"{cls}.fa", "w") as fh:
                for i, letters in enumerate(seqs[cls]):
                    chrom, start = layout[(cls, i)]
                    s = "".join(letters)
                    fh.write(f">{chrom}:{start}-{start + length}\n{_wrap(s)}")
                    chrom_seq[chrom][start // length] = s
        with open(tmp / "genome.fa", "w") as fh:
            for c in sizes:
                fh.write(f">{c}\n{_wrap(''.join(chrom_seq[c]))}")
        (tmp / "genome.chrom.sizes").write_text("".join(f"{c}\t{s}\n" for c, s in sizes.items()))
        table = []
        for r in rows:
            chrom, start = layout[(r["cls"], r["seq_index"])]
            table.append({
                "name": f"{chrom}:{start}-{start + length}", "class": r["cls"], "label": CLASS_NAMES.index(r["cls"]),
                "seq_index": r["seq_index"], "chrom": chrom, "start": start + r["seq_start"],
                "end": start + r["seq_end"], "seq_start": r["seq_start"], "seq_end": r["seq_end"],
                "strand": r["strand"], "motif_id": motif_id(r["key"]), "motif_name": motif_name(r["key"]),
                "role": r["role"], "site": r["site"], "log_odds": round(r["log_odds"], 4),
            })
        pd.DataFrame(table, columns=MOTIF_COLUMNS).to_csv(tmp / "motifs.tsv", sep="\t", index=False)
        (tmp / "sim.json").write_text(json.dumps(params, indent=2) + "\n")
    return {"dir": out, "wt": out / "WT.fa", "ko": out / "KO.fa", "motifs": out / "motifs.tsv",
            "params": out / "sim.json", "genome": out / "genome.fa", "chrom_sizes": out / "genome.chrom.sizes"}


def _wrap(seq: str, width: int = 60) -> str:
    return "".join(seq[i:i + width] + "\n" for i in range(0, len(seq), width))


def read_ground_truth(path):
    """The ``motifs.tsv`` ground-truth table of a simulation directory (or the file itself)."""
    import pandas as pd

    path = Path(path)
    if path.is_dir():
        path = path / "motifs.tsv"
    if not path.is_file():
        raise InputError("ground-truth table not found (expected motifs.tsv from `wtko simulate`)", path=path)
    return pd.read_csv(path, sep="\t", dtype={"chrom": str})
