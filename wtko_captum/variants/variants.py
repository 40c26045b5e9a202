"""``variants()``: the effect of each variant of a VCF on a model's prediction.

For every ALT allele the model is run on the window centred on the reference allele and on
the window with the alternative allele in its place (see :mod:`wtko_captum.variants._windows`);
the effect is Δ = P(alt) − P(ref) of the target class, with its log-odds Δ, the Δ of the raw
output and of every class's probability, and a band: strong (|Δ| > 0.5), moderate
(|Δ| ≥ 0.2) or weak. The VCF is streamed in chunks, so memory does not grow with the number of
variants; inputs are checked in a first pass before any scoring, so a bad record stops the
run before the work starts, and every output is written atomically.
"""
from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from wtko_captum.core.atomic import atomic_dir
from wtko_captum.core.errors import InputError
from wtko_captum.variants._effects import check_thresholds, effects, resolve_target
from wtko_captum.variants._outputs import (SKIPPED_COLUMNS, AnnotatedVcf, Histogram, TableWriter, TopVariants,
                                           allele_rows, info_columns, score_columns, skipped_rows)
from wtko_captum.variants._score import Scorer
from wtko_captum.variants._vcf import VcfReader, chrom_error, parse_region, split_record
from wtko_captum.variants._windows import CheckOptions, Windows

log = logging.getLogger("wtko_captum.variants")


@dataclass
class VariantsResult:
    """What :func:`variants` wrote and found."""

    out: Path
    n_records: int
    n_scored: int
    skipped: dict[str, int]
    bands: dict[str, int]
    route: str
    files: dict[str, Path] = field(default_factory=dict)
    top: list[dict] = field(default_factory=list)

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())


def variants(model, vcf, genome, out, *, target=None, region: str | None = None, rc_average: bool = False,
             indels: str = "score", skip_ref_mismatch: bool = False, skip_unknown_chroms: bool = False,
             drop_edge: bool = False, strong: float = 0.5, moderate: float = 0.2, methods=(),
             tracks: bool = False, top: int = 10, ism_window: int = 40, options: dict | None = None,
             batch_size: int = 128, chunk_size: int = 2048, device="auto", seed: int = 0,
             verbose: bool = False) -> VariantsResult:
    """Score every variant of a VCF with a model and write the results to ``out``.

    Parameters
    ----------
    model : path or torch.nn.Module
        A checkpoint (``model.pt``) or any model mapping ``(N, 4, L)`` one-hot to logits
        ``(N, k)``; ``L`` is its ``input_length``. ``class_names`` name the outputs;
        ``outputs == "sigmoid"`` (a multi-task checkpoint) makes each output an independent
        task, its probability the sigmoid of its own logit.
    vcf : path
        VCF, plain or bgzipped, indexed or not. Multi-allelic records are split per ALT.
    genome : path
        The assembly the VCF was called on: FASTA (plain, bgzip or gzip; indexed when
        needed) or ``.2bit``.
    out : path
        Output directory (written atomically; replaced when it exists).
    target : int, str or None
        The class Δ is measured on: an index, a class name, ``"pred"`` (each variant's class
        predicted on its reference window) or ``"diff"`` (logit WT − logit KO; Δ of P(WT)).
        Default: the last output (WT for a KO/WT model).
    region : str, optional
        ``chrom`` or ``chrom:start-end``, 0-based half-open like BED (bcftools' 1-based
        ``chr1:1001-2000`` is ``chr1:1000-2000`` here): records whose POS lies inside.
    rc_average : bool
        Average each window's logits with its reverse complement's.
    indels : {"score", "skip"}
        Insertions, deletions and complex length changes: scored by replacement with the
        window re-centred on the new allele, or listed in skipped.tsv.
    skip_ref_mismatch, skip_unknown_chroms : bool
        List such records in skipped.tsv instead of stopping with an error.
    drop_edge : bool
        Skip variants whose window crosses a chromosome end (default: N-pad, as for peaks).
    strong, moderate : float
        |Δ| thresholds of the bands (strong: |Δ| > strong; moderate: |Δ| >= moderate).
    methods : sequence of str
        Attribution methods (any registered one): ref, alt and Δ attributions of the ``top``
        variants, saved as AttributionSets in ``out/attr/<method>/{ref,alt,delta}``.
    tracks : bool
        Also export them as bigWig tracks with a BED of the variants (``out/tracks/``), a
        pyGenomeTracks ``tracks.ini`` and an IGV session. Needs ``methods``.
    top : int
        How many variants (largest |Δ|) get attributions and ISM heatmaps.
    ism_window : int
        Bases around each top variant mutated to every other base for the ISM heatmaps
        (0: none).
    options : dict, optional
        Attribution method options (``n_shuffles``, ``n_steps``, ``reference`` ...); each
        method uses those it takes.
    batch_size, chunk_size : int
        Windows per forward pass; alleles per streamed chunk.
    device : {"auto", "cpu", "cuda"}
    seed : int
        Seeds stochastic attribution methods.
    verbose : bool
        Progress bar.

    Returns
    -------
    VariantsResult
    """
    from wtko_captum.core.device import resolve_device

    _check_arguments(indels, strong, moderate, methods, tracks, top, ism_window, batch_size, chunk_size)
    model, identity = _load(model)
    dev = resolve_device(device)
    model = model.eval().to(dev)
    length = _input_length(model)
    k, names = _output_names(model, length, dev)
    tgt = resolve_target(target, names, k, sigmoid=getattr(model, "outputs", "softmax") == "sigmoid")
    gen = Windows(genome, length)
    reg = parse_region(region) if region else None
    if reg is not None and reg[0] not in gen.sizes:
        raise chrom_error(reg[0], gen.sizes, gen.path, None, None)
    reader = VcfReader(vcf, reg)
    opts = CheckOptions(indels, skip_ref_mismatch, skip_unknown_chroms, drop_edge)
    n_records = _validate(reader, gen, opts)
    if n_records == 0:
        where = f" inside {region}" if region else ""
        raise InputError(f"no VCF records{where}; nothing to score", path=reader.path)

    out = Path(out)
    meta = dict(model=identity or type(model).__name__, target=tgt.label, window=length,
                rc_average=bool(rc_average), strong=strong, moderate=moderate, indels=indels,
                drop_edge=bool(drop_edge), region=region, vcf=str(vcf), genome=str(genome))
    with atomic_dir(out) as tmp:
        stream = _Stream(tmp, reader, gen, opts, tgt, model, dev, batch_size, rc_average, strong, moderate,
                         top, meta)
        stream.run(chunk_size, n_records, verbose)
        files = stream.close()
        top_items = stream.top.items()
        from wtko_captum.variants._plots import plot_summary

        files["summary"] = plot_summary(stream.hist, top_items, tmp / "summary.png", strong=strong,
                                        moderate=moderate, target_label=tgt.label,
                                        n_skipped=sum(stream.skipped.values()))
        explained = top_items[:top]
        if explained and ism_window > 0:
            from wtko_captum.variants._explain import StrandAverage, ism_heatmaps

            ism_model = StrandAverage(model).eval() if rc_average else model
            ism_heatmaps(ism_model, gen, explained, tgt, ism_window, tmp / "ism", dev=dev, batch_size=batch_size)
            files["ism"] = tmp / "ism"
        if explained and methods:
            files.update(_explain_top(model, gen, explained, tgt, list(methods), tmp, options or {}, tracks,
                                      rc_average=rc_average, batch_size=batch_size, device=dev, seed=seed,
                                      identity=identity, verbose=verbose))
        result = VariantsResult(out, n_records, stream.n_scored, dict(stream.skipped), dict(stream.hist.bands),
                                stream.scorer.route,
                                top=[dict(label=a.label, kind=a.kind, delta=float(r["delta"]), band=str(r["band"]))
                                     for a, r in top_items[:max(top, 1)]])
        meta.update(n_records=n_records, n_scored=stream.n_scored, skipped=result.skipped, bands=result.bands,
                    route=result.route, top=[a.label for a, _ in explained], methods=list(methods),
                    class_names=list(tgt.class_names))
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
        files["meta"] = tmp / "meta.json"
    result.files = {k: out / Path(v).relative_to(tmp) for k, v in files.items()}
    log.info("variants: %d record(s), %d allele(s) scored (%s route), %d skipped; %s -> %s", n_records,
             result.n_scored, result.route, result.n_skipped,
             ", ".join(f"{n} {b}" for b, n in result.bands.items()), out)
    return result


def _check_arguments(indels, strong, moderate, methods, tracks, top, ism_window, batch_size, chunk_size):
    if indels not in ("score", "skip"):
        raise InputError("indels must be 'score' or 'skip'", value=indels)
    check_thresholds(strong, moderate)
    if tracks and not methods:
        raise InputError("tracks need an attribution method (--method saliency, deeplift_shap, ...)")
    for name, v, lo in (("top", top, 0), ("ism_window", ism_window, 0), ("batch_size", batch_size, 1),
                        ("chunk_size", chunk_size, 1)):
        if int(v) < lo:
            raise InputError(f"{name} must be >= {lo}", value=v)
    if methods:
        from wtko_captum.attribution.attribute import get_method

        for m in methods:  # an unknown method fails before any work
            get_method(m)


def _load(model):
    if isinstance(model, torch.nn.Module):
        return model, getattr(model, "identity", None)
    from wtko_captum.core.checkpoint import load_model

    m = load_model(model)
    return m, m.identity


def _input_length(model) -> int:
    length = getattr(model, "input_length", None) or (getattr(model, "config", None) or {}).get("input_length")
    if not length:
        raise InputError("the model does not say its input length (set model.input_length, or load a "
                         "checkpoint written by `wtko train`)")
    return int(length)


def _output_names(model, length: int, dev) -> tuple[int, list[str]]:
    from wtko_captum.core.targets import check_output, class_names_of

    with torch.no_grad():
        k = int(check_output(model(torch.zeros(1, 4, length, device=dev)), 1).shape[1])
    return k, class_names_of(model, k)


def _validate(reader: VcfReader, gen: Windows, opts: CheckOptions) -> int:
    """Read every record once and check it (format, chromosome, REF) before any scoring."""
    n = 0
    for index, line, rec in reader.records():
        gen.check(split_record(index, line, rec, reader.path), opts, reader.path)
        n += 1
    return n


class _Stream:
    """The streaming pass: chunks of records -> scores -> the three output files."""

    def __init__(self, tmp: Path, reader, gen, opts, target, model, dev, batch_size, rc_average, strong,
                 moderate, top, meta):
        self.reader, self.gen, self.opts, self.target = reader, gen, opts, target
        self.strong, self.moderate = strong, moderate
        self.scorer = Scorer(model, gen, dev, batch_size, rc_average)
        self.scores = TableWriter(tmp / "scores.tsv", score_columns(target.class_names))
        self.skipped_out = TableWriter(tmp / "skipped.tsv", SKIPPED_COLUMNS)
        header_meta = ",".join(f"{k}={str(v).replace(',', ';')}" for k, v in meta.items()
                               if k in ("model", "target", "window", "rc_average", "strong", "moderate"))
        self.vcf = AnnotatedVcf(tmp / "annotated.vcf.gz", reader.header_text, target, header_meta)
        self.hist = Histogram()
        self.top = TopVariants(max(top, 20))
        self.skipped: Counter = Counter()
        self.n_scored = 0

    def run(self, chunk_size: int, n_records: int, verbose: bool) -> None:
        from tqdm.auto import tqdm

        chunk, n_alleles = [], 0
        with tqdm(total=n_records, unit="record", desc="variants", disable=not verbose) as bar:
            for index, line, rec in self.reader.records():
                record = split_record(index, line, rec, self.reader.path)
                self.gen.check(record, self.opts, self.reader.path)
                chunk.append(record)
                n_alleles += len(record.alleles)
                if n_alleles >= chunk_size:
                    self._chunk(chunk)
                    bar.update(len(chunk))
                    chunk, n_alleles = [], 0
            if chunk:
                self._chunk(chunk)
                bar.update(len(chunk))

    def _chunk(self, records) -> None:
        scored = [a for r in records for a in r.alleles if a.skip is None]
        skipped = [a for r in records for a in r.alleles if a.skip is not None]
        row_of: dict[tuple[int, int], int] = {}
        info: dict[str, list[str]] = {}
        if scored:
            ref, alt = self.scorer(scored)
            eff = effects(ref, alt, self.target, self.strong, self.moderate)
            starts = [self.gen.ref_start(a) for a in scored]
            padded = [self.gen.crosses_end(a) for a in scored]
            table = pd.concat([allele_rows(scored, starts, padded), pd.DataFrame(eff)], axis=1)
            self.scores.write(table)
            info = info_columns(eff, self.target)
            row_of = {(a.record, a.allele): i for i, a in enumerate(scored)}
            self.hist.add(eff["delta"], eff["band"])
            self.top.add(scored, eff)
            self.n_scored += len(scored)
        self.skipped_out.write(skipped_rows(skipped))
        self.skipped.update(a.skip for a in skipped)
        for r in records:
            rows = {a.allele: row_of[(a.record, a.allele)] for a in r.alleles if (a.record, a.allele) in row_of}
            self.vcf.write(r, rows, info)

    def close(self) -> dict[str, Path]:
        self.scores.close()
        self.skipped_out.close()
        vcf_paths = self.vcf.close()
        files = {"scores": self.scores.path, "skipped": self.skipped_out.path, "vcf": vcf_paths[0]}
        if len(vcf_paths) > 1:
            files["vcf_index"] = vcf_paths[1]
        return files


def _explain_top(model, gen, top, target, methods, tmp: Path, options, tracks, *, rc_average, batch_size,
                 device, seed, identity, verbose) -> dict[str, Path]:
    from wtko_captum.variants._explain import ROLES, attribution_sets, write_tracks

    files: dict[str, Path] = {}
    sets_by_method = {}
    for method in methods:
        sets = attribution_sets(model, gen, top, target, method, options=options, rc_average=rc_average,
                                batch_size=batch_size, device=device, seed=seed, model_identity=identity,
                                verbose=verbose)
        for role in ROLES:
            sets[role].save(tmp / "attr" / method / role)
        files[f"attr_{method}"] = tmp / "attr" / method
        sets_by_method[method] = sets
    if tracks:
        write_tracks(sets_by_method, top, gen, tmp)
        files.update(tracks=tmp / "tracks", tracks_ini=tmp / "tracks.ini", igv=tmp / "igv_session.xml")
    return files

