"""``neurons``: NeuronMotif in PyTorch: the motifs and motif syntax each convolutional neuron
of a layer detects, demixed from what its max-pools blur together.

For each channel of the layer (one neuron at one position):

1. **sample** sequences of the receptive-field width that activate it
   (:mod:`~wtko_captum.motifs.neurons.sampling`: enumeration for narrow fields, else the
   paper's genetic algorithm seeded from the previous layer's motifs);
2. **demix** them backwards through the max-pools of its substructure by k-means on each
   pool's input (:mod:`~wtko_captum.motifs.neurons.demixing`);
3. build one **motif per cluster** by activation-binned stacking, with information content,
   segments and a quality score (:mod:`~wtko_captum.motifs.neurons.pwm`); the stack of all
   samples is kept beside them, as the blurred mixture stacking alone gives;
4. join each neuron's motifs into a **tree** with gap ranges
   (:mod:`~wtko_captum.motifs.neurons.syntax`), after de-duplicating every segment of every
   neuron into one **dictionary** by Tomtom (:mod:`~wtko_captum.motifs.neurons.dictionary`),
   matched against JASPAR.

The receptive field, the pools and how to compute a neuron come from the model itself
(:mod:`~wtko_captum.motifs.neurons.substructure`), for any registered architecture.

Reference: Wei, Wang & Zhang (2022), NeuronMotif: deciphering cis-regulatory codes by
layer-wise demixing of deep neural networks, PNAS 120: e2216698120.
"""
from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from wtko_captum.core.errors import InputError
from wtko_captum.core.registry import motif_finder
from wtko_captum.motifs.neurons.dictionary import Dictionary, best_matches, build_dictionary
from wtko_captum.motifs.neurons.pwm import ClusterMotif, cluster_motif
from wtko_captum.motifs.neurons.sampling import Samples, SeedMotif

log = logging.getLogger(__name__)

FLANK = 2  # bp of context kept around a cluster's segments when it is matched to JASPAR


@dataclass
class Cluster:
    """One demixed cluster of a neuron: its motif, the indices of its samples, the activation
    of its consensus sequence relative to the neuron's best sample, its best JASPAR match, and
    per segment the dictionary motif and best JASPAR match."""

    index: int
    motif: ClusterMotif
    members: np.ndarray
    consensus_activation: float
    match: dict | None = None
    segment_motifs: list = field(default_factory=list)
    segment_matches: list = field(default_factory=list)


@dataclass
class Neuron:
    """One analysed neuron (channel ``channel`` of ``layer``)."""

    layer: str
    channel: int
    samples: Samples
    stack: ClusterMotif | None
    clusters: list[Cluster]
    tree: dict = field(default_factory=dict)
    syntax: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.layer}.{self.channel}"

    @property
    def match(self) -> dict | None:
        """The best JASPAR match over the neuron's clusters (smallest q)."""
        found = [c.match for c in self.clusters if c.match]
        return min(found, key=lambda m: (m["q"], m["p"])) if found else None


@dataclass
class NeuronsResult:
    """Everything ``neurons`` found: ``neurons``, the ``dictionary``, tables ``summary`` (one
    row per neuron) and ``clusters`` (one per cluster), the layer analysis ``substructure``,
    the ``params``, where the seed motifs came from, and the ``paths`` written."""

    neurons: list[Neuron]
    dictionary: Dictionary
    summary: pd.DataFrame
    clusters: pd.DataFrame
    substructure: dict
    params: dict
    seed_motifs: str | None = None
    paths: list[Path] = field(default_factory=list)

    def neuron(self, channel: int) -> Neuron:
        return next(n for n in self.neurons if n.channel == channel)


# ---- inputs --------------------------------------------------------------------------------
def _channels(channels, n: int) -> list[int]:
    if channels is None or (isinstance(channels, str) and not channels.strip()):
        return list(range(n))
    if isinstance(channels, str):
        try:
            channels = [int(c) for c in channels.split(",") if c.strip()]
        except ValueError:
            raise InputError("channels are comma-separated integers", value=channels) from None
    channels = [int(c) for c in channels]
    bad = [c for c in channels if not 0 <= c < n]
    if bad:
        raise InputError(f"the layer has channels 0..{n - 1}", value=",".join(map(str, bad)))
    return sorted(set(channels))


def _check(name, value, lo, hi=None):
    if value is None or value < lo or (hi is not None and value > hi):
        rng = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise InputError(f"{name} must be {rng}", value=value)


def as_model(model, device="cpu"):
    """``model`` itself, or the model of a checkpoint path (``model.pt`` or its directory)."""
    from wtko_captum.core.checkpoint import load_model

    if isinstance(model, (str, Path)):
        path = Path(model)
        if path.is_dir():
            path = path / "model.pt"
        if not path.is_file():
            raise InputError("model checkpoint not found", path=path)
        return load_model(path, device=device)
    return model


# ---- sampling ------------------------------------------------------------------------------
def _seed_motifs_from(clusters) -> list[SeedMotif]:
    """Paste-able motifs of a previous layer: each cluster's consensus from its first segment's
    start to its last segment's end."""
    out = []
    for source, pwm, segments in clusters:
        if segments:
            lo, hi = segments[0][0], segments[-1][1]
            out.append(SeedMotif(np.asarray(pwm)[:, lo:hi].argmax(axis=0).astype(np.uint8), source))
    return out


def _sample_all(sub, chans, *, samples, bins, seed, population, max_generations, patience, max_enumerate,
                seed_motifs, batch_size, verbose) -> tuple[dict[int, Samples], int]:
    """Samples of every channel; returns them and how many seed placements were useful."""
    from tqdm.auto import tqdm

    from wtko_captum.motifs.neurons.sampling import (default_population, enumerate_samples, genetic_samples,
                                                     seed_gains, seed_population)

    if sub.width <= max_enumerate:
        log.info("%s: enumerating all 4^%d sequences of the receptive field", sub.layer, sub.width)
        return enumerate_samples(sub, chans, samples=samples, bins=bins, seed=seed), 0
    pop = population or default_population(sub.width)
    gains = seed_gains(sub, seed_motifs, seed=seed, batch_size=batch_size) if seed_motifs else []
    n_paste = sub.pools[-1].kernel if sub.pools else 1
    out, useful = {}, 0
    for c in tqdm(chans, desc=f"{sub.layer}: sampling", unit="neuron", disable=not verbose):
        rng = np.random.default_rng([seed, c])
        seeds, n_useful = seed_population(sub.width, seed_motifs, gains, c, pop, n_paste, rng)
        useful += n_useful > 0
        out[c] = genetic_samples(sub, c, seeds, samples=samples, bins=bins, seed=seed * 100003 + c,
                                 max_generations=max_generations, patience=patience)
    return out, useful


# ---- one neuron ----------------------------------------------------------------------------
def _analyse_neuron(sub, channel, smp: Samples, *, demix, groups, min_cluster, bins, seed) -> Neuron:
    from wtko_captum.motifs.neurons.demixing import demix as _demix, stacked
    from wtko_captum.motifs.neurons.sampling import onehot

    if not len(smp.values):
        return Neuron(sub.layer, channel, smp, None, [])
    X = smp.onehot()
    stack = cluster_motif(X, smp.values, bins=bins)
    parts = _demix(sub, smp, groups=groups, min_size=min_cluster, seed=seed) if demix else stacked(smp)
    motifs = [cluster_motif(X[idx], smp.values[idx], bins=bins) for idx in parts]
    cons = onehot(np.stack([m.pwm.argmax(axis=0) for m in motifs]))
    ratio = sub.activations(cons)[:, channel] / float(smp.values.max())
    clusters = [Cluster(i, m, idx, float(r)) for i, (m, idx, r) in enumerate(zip(motifs, parts, ratio))]
    return Neuron(sub.layer, channel, smp, stack, clusters)


def _hull(m: ClusterMotif) -> np.ndarray:
    """The cluster's matrix from ``FLANK`` bp before its first segment to ``FLANK`` after its
    last (the whole window without segments)."""
    if not m.segments:
        return m.pwm
    lo = max(0, m.segments[0].start - FLANK)
    hi = min(m.pwm.shape[1], m.segments[-1].end + FLANK)
    return m.pwm[:, lo:hi]


def _match(row) -> dict | None:
    if row is None:
        return None
    return {"id": row["jaspar_id"], "name": row["jaspar_name"], "p": float(row["p"]), "q": float(row["q"])}


def _annotate(neurons: list[Neuron], database, dedup_q: float) -> Dictionary:
    """Dictionary of every segment, each cluster's and segment's JASPAR match, the trees."""
    from wtko_captum.motifs.neurons.syntax import build_tree, describe

    segments, hulls = {}, {}
    for n in neurons:
        for c in n.clusters:
            hulls[f"{n.id}/c{c.index}"] = _hull(c.motif)
            for j, s in enumerate(c.motif.segments):
                segments[f"{n.id}/c{c.index}/s{j}"] = s.pwm
    dictionary = build_dictionary(segments, database, q=dedup_q, neuron_of=lambda k: k.split("/")[0])
    matches = best_matches({**hulls, **segments}, database).set_index("query") if hulls else pd.DataFrame()
    for n in neurons:
        paths = []
        for c in n.clusters:
            key = f"{n.id}/c{c.index}"
            c.match = _match(matches.loc[key]) if key in matches.index else None
            c.segment_motifs = [dictionary.of.get(f"{key}/s{j}") for j in range(len(c.motif.segments))]
            c.segment_matches = [_match(matches.loc[f"{key}/s{j}"]) if f"{key}/s{j}" in matches.index else None
                                 for j in range(len(c.motif.segments))]
            if c.motif.segments:
                path = []
                for j, (m, s) in enumerate(zip(c.segment_motifs, c.motif.segments)):
                    shift, strand = dictionary.align.get(f"{key}/s{j}", (0, "+"))
                    path.append((m if strand == "+" else f"{m}(-)", s.start + shift, s.start, s.end))
                paths.append((c.index, path))
        n.tree = build_tree(paths)
        n.syntax = describe(n.tree)
    return dictionary


def _tables(neurons: list[Neuron]) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, crow = [], []
    for n in neurons:
        s, best = n.samples, n.match
        ics = [c.motif.total_ic for c in n.clusters]
        rows.append({"neuron": n.id, "layer": n.layer, "channel": n.channel, "method": s.method,
                     "evaluated": s.n_evaluated, "positive": s.n_positive, "samples": len(s.values),
                     "generations": s.generations,
                     "max_activation": float(s.values.max()) if len(s.values) else np.nan,
                     "clusters": len(n.clusters), "segments": sum(len(c.motif.segments) for c in n.clusters),
                     "stack_ic": n.stack.total_ic if n.stack is not None else np.nan,
                     "mean_cluster_ic": float(np.mean(ics)) if ics else np.nan,
                     "motifs": ",".join(sorted({m for c in n.clusters for m in c.segment_motifs if m},
                                               key=lambda x: int(x[2:]))),
                     "best_jaspar": best["name"] if best else "", "best_jaspar_id": best["id"] if best else "",
                     "best_q": best["q"] if best else np.nan, "syntax": "; ".join(n.syntax)})
        for c in n.clusters:
            m = c.motif
            crow.append({"neuron": n.id, "cluster": c.index, "n": m.n, "mean_activation": m.mean_activation,
                         "max_activation": m.max_activation, "consensus": m.consensus, "ic": m.total_ic,
                         "quality": m.quality, "consensus_activation": c.consensus_activation,
                         "segments": ";".join(f"{s.start}-{s.end}:{s.consensus}:{mid or ''}"
                                              for s, mid in zip(m.segments, c.segment_motifs)),
                         "jaspar_id": c.match["id"] if c.match else "", "jaspar_name": c.match["name"] if c.match else "",
                         "p": c.match["p"] if c.match else np.nan, "q": c.match["q"] if c.match else np.nan})
    summary = pd.DataFrame(rows)
    clusters = pd.DataFrame(crow, columns=["neuron", "cluster", "n", "mean_activation", "max_activation", "consensus",
                                           "ic", "quality", "consensus_activation", "segments", "jaspar_id",
                                           "jaspar_name", "p", "q"])
    return summary, clusters


# ---- the verb ------------------------------------------------------------------------------
def neurons(model, layer: str, out=None, *, channels=None, samples: int = 20000, bins: int = 10, groups: int = 1,
            min_cluster: int = 50, population: int | None = None, max_generations: int = 200, patience: int = 10,
            max_enumerate: int = 10, demix: bool = True, seed_motifs=None, motif_db=None, dedup_q: float = 0.05,
            input_length: int | None = None, figures: bool = True, seed: int = 0, device="auto",
            batch_size: int = 4096, verbose: bool = True) -> NeuronsResult:
    """Demix the neurons of one layer into motifs and motif syntax (NeuronMotif).

    Parameters
    ----------
    model : nn.Module or path
        Any model mapping ``(N, 4, L)`` one-hot to outputs, or a checkpoint (``model.pt`` or
        its directory). Its device and train/eval mode are restored afterwards.
    layer : str
        Module name of a convolution or pooling layer (``model.named_modules()``), e.g.
        ``conv2``. Its receptive field and max-pools are measured on the model.
    out : path, optional
        Output directory (replaced atomically; layout in :mod:`~wtko_captum.motifs.neurons.outputs`).
    channels : list of int or "3,17", optional
        Neurons to analyse (default: every channel).
    samples : int
        At most this many activating sequences kept per neuron, balanced across ``bins``
        activation bins (the paper keeps up to 100,000).
    bins : int
        Activation bins for balancing the samples and for the weighted stacking (default 10).
    groups : int
        Pattern groups per max-pool position: k-means uses k = pool window x groups.
    min_cluster : int
        Clusters of at most this many sequences are not split further (default 50).
    population : int, optional
        Genetic-algorithm population (default: 1,000 per 20 bp of receptive field, 2,000..5,000).
    max_generations, patience : int
        Stop sampling after ``max_generations`` (200) or ``patience`` (10) generations
        without a higher mean activation.
    max_enumerate : int
        Receptive fields of at most this many bp are enumerated exhaustively (4^width sequences).
    demix : bool
        ``False`` stacks all samples of a neuron into one motif (the blurred baseline).
    seed_motifs : path or "none", optional
        Motifs that seed the sampling of a deeper layer: a ``neurons`` output directory of the
        previous layer; ``None`` runs the previous layer first (written to ``out/seeds``);
        ``"none"`` starts from random sequences.
    motif_db : path, optional
        Motif database for the matches and as Tomtom background (default: bundled JASPAR 2020).
    dedup_q : float
        Tomtom q-value at or below which two segments are one dictionary motif.
    input_length : int, optional
        The model's input length when it does not record it.
    figures : bool
        Write the logos and HTML pages (the JSON and tables are always written).
    seed : int
        Same model, options and seed give the same results on one device.
    device : {"auto", "cpu", "cuda"}
    batch_size : int
        Windows per forward pass.
    verbose : bool
        Progress bars.

    Returns
    -------
    NeuronsResult
    """
    import torch
    from tqdm.auto import tqdm

    from wtko_captum.core.atomic import atomic_dir
    from wtko_captum.core.device import resolve_device
    from wtko_captum.core.motif_db import load_motifs
    from wtko_captum.motifs.neurons.outputs import read_cluster_motifs, write_outputs
    from wtko_captum.motifs.neurons.substructure import analyse
    from wtko_captum.motifs.tomtom import read_motifs

    for name, value, lo, hi in (("samples", samples, 1, None), ("bins", bins, 1, None), ("groups", groups, 1, None),
                                ("min_cluster", min_cluster, 1, None), ("max_generations", max_generations, 1, None),
                                ("patience", patience, 1, None), ("max_enumerate", max_enumerate, 1, 12),
                                ("batch_size", batch_size, 1, None), ("seed", seed, 0, None)):
        _check(name, value, lo, hi)
    if population is not None:
        _check("population", population, 10)
    if not 0 < dedup_q <= 1:
        raise InputError("dedup_q is a q-value in (0, 1]", value=dedup_q)
    if isinstance(seed_motifs, (str, Path)) and str(seed_motifs).lower() != "none" and not Path(seed_motifs).is_dir():
        raise InputError("seed_motifs: not a directory (a `wtko neurons` output of the previous layer, or 'none')",
                         path=seed_motifs)
    dev = resolve_device(device)
    model = as_model(model, dev)
    database = read_motifs(motif_db) if motif_db is not None else load_motifs()
    old_device = next(model.parameters()).device
    was_training = model.training
    params = dict(layer=layer, channels=channels, samples=samples, bins=bins, groups=groups, min_cluster=min_cluster,
                  population=population, max_generations=max_generations, patience=patience,
                  max_enumerate=max_enumerate, demix=demix, motif_db=str(motif_db or "bundled JASPAR 2020"),
                  dedup_q=dedup_q, seed=seed, device=str(dev))
    try:
        model.eval().to(dev)
        with torch.no_grad():
            sub = analyse(model, layer, input_length=input_length, seed=seed)
        chans = _channels(channels, sub.channels)
        with atomic_dir(out) if out is not None else contextlib.nullcontext() as tmp:
            motifs, source, previous = [], None, None
            needs_seeds = sub.width > max_enumerate and not sub.is_first_layer
            if needs_seeds and seed_motifs is None:
                log.info("%s: sampling is seeded from layer %s, analysed first", layer, sub.previous_layer)
                previous = neurons(model, sub.previous_layer, None if tmp is None else tmp / "seeds",
                                   samples=samples, bins=bins, groups=groups, min_cluster=min_cluster,
                                   population=population, max_generations=max_generations, patience=patience,
                                   max_enumerate=max_enumerate, demix=demix, seed_motifs=None, motif_db=motif_db,
                                   dedup_q=dedup_q, input_length=input_length, figures=figures, seed=seed,
                                   device=dev, batch_size=batch_size, verbose=verbose)
                motifs = _seed_motifs_from([(f"{n.id}/c{c.index}", c.motif.pwm,
                                             [(s.start, s.end) for s in c.motif.segments])
                                            for n in previous.neurons for c in n.clusters])
                source = f"layer {sub.previous_layer} (seeds/)"
            elif needs_seeds and str(seed_motifs).lower() != "none":
                prev_layer, clusters = read_cluster_motifs(seed_motifs)
                if prev_layer != sub.previous_layer:
                    log.warning("seed motifs come from layer %s; the layer before %s is %s", prev_layer, layer,
                                sub.previous_layer)
                motifs, source = _seed_motifs_from(clusters), f"layer {prev_layer} ({seed_motifs})"
            if needs_seeds and not motifs:
                source = "none (random sequences)"
            smp, useful = _sample_all(sub, chans, samples=samples, bins=bins, seed=seed, population=population,
                                      max_generations=max_generations, patience=patience,
                                      max_enumerate=max_enumerate, seed_motifs=motifs, batch_size=batch_size,
                                      verbose=verbose)
            if motifs:
                log.info("%s: %d of %d neurons are raised by pasting a seed motif", layer, useful, len(chans))
            found = [_analyse_neuron(sub, c, smp[c], demix=demix, groups=groups, min_cluster=min_cluster,
                                     bins=bins, seed=seed)
                     for c in tqdm(chans, desc=f"{layer}: demixing", unit="neuron", disable=not verbose)]
            dictionary = _annotate(found, database, dedup_q)
            summary, cluster_table = _tables(found)
            result = NeuronsResult(found, dictionary, summary, cluster_table, sub.describe(), params, source)
            if tmp is not None:
                write_outputs(result, tmp, figures=figures)
    finally:
        model.to(old_device).train(was_training)
    if out is not None:
        result.paths = sorted(p for p in Path(out).rglob("*") if p.is_file())
    return result


@motif_finder(input="model", description="NeuronMotif: demix each neuron of a conv or pool layer into motifs "
                                         "and motif syntax (sampling, k-means through the max-pools, Tomtom)")
def find_neuron_motifs(model, out, *, layer: str | None = None, channels: str | None = None, samples: int = 20000,
                       bins: int = 10, groups: int = 1, min_cluster: int = 50, demix: bool = True,
                       seed_motifs: str | None = None, motif_db: str | None = None, figures: bool = True,
                       seed: int = 0, device: str = "auto", batch_size: int = 4096) -> dict:
    """The ``neurons`` motif finder: :func:`neurons` on a checkpoint, written to ``out``.

    Parameters
    ----------
    model : path
        ``model.pt`` or its training directory.
    out : path
        Output directory.
    layer : str
        the convolution or pooling layer to analyse (required; an error lists the candidates)
    channels : str
        comma-separated channels (default: all)
    samples : int
        activating sequences kept per neuron
    bins : int
        activation bins for balancing and stacking
    groups : int
        pattern groups per max-pool position (k = pool window x groups)
    min_cluster : int
        clusters of at most this many sequences are not split
    demix : bool
        demix through the max-pools (off: one stacked motif per neuron)
    seed_motifs : str
        previous layer's `neurons` output to seed sampling, or none (default: run it first)
    motif_db : str
        motif database (default: bundled JASPAR 2020)
    figures : bool
        write logos and HTML pages
    seed, device, batch_size
        as everywhere

    Returns
    -------
    dict: ``result`` (:class:`NeuronsResult`), ``paths``.
    """
    if layer is None:
        from wtko_captum.motifs.neurons.substructure import candidate_layers

        candidates = candidate_layers(as_model(model, "cpu"))
        raise InputError(f"give the layer to analyse (--layer); this model's convolution and pooling layers: "
                         f"{', '.join(candidates)}")
    result = neurons(model, layer, out, channels=channels, samples=samples, bins=bins, groups=groups,
                     min_cluster=min_cluster, demix=demix, seed_motifs=seed_motifs, motif_db=motif_db,
                     figures=figures, seed=seed, device=device, batch_size=batch_size)
    return {"result": result, "paths": result.paths}
