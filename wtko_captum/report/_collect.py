"""What a run directory holds: found by the file names each stage writes, never assumed.

A run directory is what ``wtko run``/``wtko demo`` write (one subdirectory per stage), or any
folder laid out the same way by hand. Everything is optional: the report shows what is there
and says what is not.

The outputs the report knows are declared in four tables (:data:`MOTIF_SETS`,
:data:`RESULT_TABLES`, :data:`FEATURE_FILES`, :data:`BIGWIGS`), so a new stage's output is shown
by adding one line to one of them. A folder no line names is still shown: its MEME files as motif sets, its
TSV tables as results and its BED files as features of the track view, titled by the folder.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MotifSetSpec:
    """A stage's motif file and what sits beside it.

    ``meme`` is a glob inside ``folder`` (the first match is used); ``table`` holds one row
    per motif whose ``id_column`` equals the motif's id (the first word of its MEME name) and
    whose other columns are shown next to the logo; ``tomtom`` is a Tomtom table of these
    motifs against a database (``Query_ID``, ``Target_ID``, ``Target_name``, ``q-value``).
    """

    key: str
    title: str
    folder: str
    meme: str
    table: str | None = None
    id_column: str | None = None
    tomtom: str | None = None
    about: str = ""


@dataclass(frozen=True)
class ResultSpec:
    """A stage's result tables and figures (globs inside ``folder``)."""

    key: str
    title: str
    folder: str
    tables: tuple[str, ...] = ("*.tsv",)
    figures: tuple[str, ...] = ("*.png",)
    about: str = ""


@dataclass(frozen=True)
class BigWigSpec:
    """BigWigs (glob ``path``) of signal over the genome, sliced to the chosen windows and drawn
    as ``graph`` (an igv.js graph type: ``dynseq`` for per-base attributions, ``bar`` else);
    ``title`` may use ``{stem}``, the file name without ``.bw``."""

    key: str
    title: str
    path: str
    graph: str = "bar"


@dataclass(frozen=True)
class FeatureSpec:
    """A BED file (0-based half-open) drawn as a feature track under the attribution tracks."""

    key: str
    title: str
    path: str
    color: str = "#444444"


MOTIF_SETS: tuple[MotifSetSpec, ...] = (
    MotifSetSpec("kmers", "Saliency k-mer clusters", "motifs", "clusters.meme", "clusters.tsv", "motif_id",
                 "tomtom.tsv", "high-saliency k-mers clustered into motifs (the WTKO paper's method)"),
    MotifSetSpec("filters", "First-layer filters", "filters", "filters.meme", "filters.tsv", "motif_id",
                 None, "activation-weighted motifs of the first convolution's filters"),
    MotifSetSpec("modisco", "TF-MoDISco-lite patterns", "modisco", "patterns.pfm.meme", "patterns.tsv", "pattern",
                 "tomtom.tsv", "seqlets of high contribution clustered into patterns (position frequencies)"),
    MotifSetSpec("neurons", "Neuron motifs", "neurons", "motifs.meme", "dictionary.tsv", "id", "tomtom.tsv",
                 "motifs of individual convolution neurons (NeuronMotif), de-duplicated into a dictionary"),
)

RESULT_TABLES: tuple[ResultSpec, ...] = (
    ResultSpec("region_plots", "Rendered regions", ".", (), ("region*.png",),
               "the top-scoring windows drawn by pyGenomeTracks (`wtko plot`), with sequence-logo tracks"),
    ResultSpec("filters", "First-layer filters across runs", "filters", ("recurring.tsv", "matches.tsv"), (),
               "filter motifs found again in other seeds' models (reciprocal Tomtom matches) and their "
               "JASPAR matches"),
    ResultSpec("compare", "Comparison of motif sets", "compare", ("pairs.tsv", "jaspar.tsv", "counts.tsv", "found.tsv"),
               ("heatmap.png",),
               "modisco patterns set against the k-mer clusters (pairs matched by Tomtom), or which JASPAR "
               "motifs each finder found"),
    ResultSpec("enrich", "Known-motif enrichment between the classes", "enrich",
               ("enrichment.tsv", "kmer_enrichment.tsv"), ("enrichment.png",),
               "FIMO hits of database motifs counted per class, Fisher's exact test, BH q-values"),
    ResultSpec("neurons", "Neuron motifs: tables", "neurons", ("summary.tsv", "clusters.tsv"), (),
               "per-neuron motifs and their clusters"),
    ResultSpec("variants", "Variant effects", "variants", ("scores.tsv", "ism/ism.tsv", "skipped.tsv"),
               ("summary.png", "ism/*.png"),
               "predicted effect of each variant (alternative minus reference allele), and the in-silico "
               "mutagenesis around the top variants"),
    ResultSpec("insert", "Motif insertion", "insert", ("insertion.tsv",), ("insertion.png",),
               "change in prediction when a motif is inserted at the centre of background sequences"),
    ResultSpec("ablate", "Ablation", "ablate", ("ablation.tsv",), ("ablation.png",),
               "change in prediction when positions or k-mers are shuffled or masked"),
)

FEATURE_FILES: tuple[FeatureSpec, ...] = (
    FeatureSpec("seqlets", "TF-MoDISco seqlets", "modisco/seqlets.bed", "#b2182b"),
    FeatureSpec("kmers", "saliency k-mers", "motifs/kmers.bed", "#2166ac"),
    FeatureSpec("neurons", "neuron motif sites", "neurons/*.bed", "#1b7837"),
)

BIGWIGS: tuple[BigWigSpec, ...] = (
    BigWigSpec("scan", "scan: {stem}", "scan/*.projected.bw", "dynseq"),
    BigWigSpec("scan", "scan: {stem}", "scan/prediction.*.bw", "bar"),
    BigWigSpec("variants", "variants: {stem}", "variants/tracks/*.projected.bw", "dynseq"),
)

# folders a stage writes that hold no motif set, result table or feature file for the report
_KNOWN_FOLDERS = {"data", "model", "eval", "attr", "tracks", "tracks.files", "igv", "scan"}


@dataclass
class MotifSet:
    spec: MotifSetSpec
    meme: Path
    table: Path | None = None
    tomtom: Path | None = None


@dataclass
class Result:
    spec: ResultSpec
    tables: list[Path] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)


@dataclass
class Features:
    spec: FeatureSpec
    path: Path


@dataclass
class Signal:
    spec: BigWigSpec
    path: Path

    @property
    def title(self) -> str:
        return self.spec.title.format(stem=self.path.name[: -len(".bw")])


@dataclass
class RunContents:
    """Paths of everything the report can show; ``None`` / empty where a stage did not run."""

    root: Path
    data_meta: Path | None = None
    regions: Path | None = None
    training: Path | None = None
    history: Path | None = None
    runs: Path | None = None
    metrics: Path | None = None
    predictions: Path | None = None
    enrichment: Path | None = None
    variant_scores: Path | None = None
    attributions: dict[str, Path] = field(default_factory=dict)
    bigwigs: list[Path] = field(default_factory=list)
    motif_sets: list[MotifSet] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    features: list[Features] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any((self.data_meta, self.training, self.metrics, self.attributions, self.motif_sets,
                        self.results))


def _file(path: Path) -> Path | None:
    return path if path.is_file() else None


def _first(folder: Path, pattern: str | None) -> Path | None:
    if pattern is None or not folder.is_dir():
        return None
    return next(iter(sorted(p for p in folder.glob(pattern) if p.is_file())), None)


def _all(folder: Path, patterns) -> list[Path]:
    found: list[Path] = []
    for pattern in patterns:
        found += [p for p in sorted(folder.glob(pattern)) if p.is_file() and p not in found]
    return found


def attribution_dirs(root: Path) -> dict[str, Path]:
    """``{method: directory}`` of the AttributionSets under ``root/attr`` (a ``meta.json`` each)."""
    attr = root / "attr"
    if not attr.is_dir():
        return {}
    found = {}
    for path in sorted(attr.iterdir()):
        meta = path / "meta.json"
        if meta.is_file():
            try:
                method = json.loads(meta.read_text()).get("method") or path.name
            except json.JSONDecodeError:
                log.warning("%s is not valid JSON: attribution set left out", meta)
                continue
            found[str(method) if str(method) not in found else path.name] = path
    return found


def _kept_seed_history(model: Path, training: Path | None) -> Path | None:
    """With several seeds the epochs are in ``seed_K/metrics.csv``: those of the seed kept."""
    if training is None:
        return None
    try:
        seed = json.loads(training.read_text()).get("seed")
    except json.JSONDecodeError:
        return None
    return _file(model / f"seed_{seed}" / "metrics.csv")


def collect(root) -> RunContents:
    """Find what the run in ``root`` produced (see the module docstring)."""
    root = Path(root)
    run = RunContents(root=root)
    run.data_meta = _file(root / "data" / "meta.json")
    run.regions = _file(root / "data" / "regions.tsv")
    run.training = _file(root / "model" / "training.json")
    run.history = _file(root / "model" / "metrics.csv") or _kept_seed_history(root / "model", run.training)
    run.runs = _file(root / "model" / "runs.tsv")
    run.metrics = _file(root / "eval" / "metrics.json")
    run.predictions = _file(root / "eval" / "predictions.tsv")
    run.enrichment = _file(root / "enrich" / "enrichment.tsv")
    run.variant_scores = _file(root / "variants" / "scores.tsv")
    run.attributions = attribution_dirs(root)
    run.bigwigs = sorted((root / "tracks").glob("*.bw")) if (root / "tracks").is_dir() else []

    claimed: set[Path] = set()
    for spec in MOTIF_SETS:
        folder = root / spec.folder
        meme = _first(folder, spec.meme)
        if meme is None:
            continue
        table = _first(folder, spec.table)
        run.motif_sets.append(MotifSet(spec, meme, table, _first(folder, spec.tomtom)))
        claimed.add(folder)
    for spec in RESULT_TABLES:
        folder = root / spec.folder
        if not folder.is_dir():
            continue
        tables, figures = _all(folder, spec.tables), _all(folder, spec.figures)
        if tables or figures:
            run.results.append(Result(spec, tables, figures))
            claimed.add(folder)
    for spec in FEATURE_FILES:
        for path in sorted(root.glob(spec.path)):
            if path.is_file():
                run.features.append(Features(spec, path))
    for spec in BIGWIGS:
        for path in sorted(root.glob(spec.path)):
            if path.is_file():
                run.signals.append(Signal(spec, path))
    _collect_unnamed(root, run, claimed)
    return run


def _collect_unnamed(root: Path, run: RunContents, claimed: set[Path]) -> None:
    """Folders no spec names: their motif files, tables and BED files, titled by the folder."""
    featured = {f.path for f in run.features}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if folder in claimed or folder.name in _KNOWN_FOLDERS or folder.name.startswith("."):
            continue
        meme = _first(folder, "*.meme")
        if meme is not None:
            spec = MotifSetSpec(folder.name, f"Motifs: {folder.name}", folder.name, meme.name,
                                tomtom="tomtom.tsv" if (folder / "tomtom.tsv").is_file() else None)
            run.motif_sets.append(MotifSet(spec, meme, None, _first(folder, spec.tomtom)))
        tables = [p for p in _all(folder, ("*.tsv",)) if p.name != "tomtom.tsv" or meme is None]
        figures = _all(folder, ("*.png",))
        if tables or figures:
            run.results.append(Result(ResultSpec(folder.name, f"Results: {folder.name}", folder.name), tables, figures))
        for bed in _all(folder, ("*.bed",)):
            if bed not in featured:
                run.features.append(Features(FeatureSpec(folder.name, f"{folder.name}: {bed.stem}", bed.name), bed))
