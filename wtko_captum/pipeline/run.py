"""Run a whole pipeline from one config (``wtko run config.toml``; ``wtko demo`` uses a bundled one).

The config has one table per stage, in pipeline order; a stage runs when its table is present.
Keys are the keyword arguments of the stage's library function, spelled like the CLI flags
with underscores (``n_shuffles``, not ``--n-shuffles``). Relative paths are relative to the
config file. Every stage writes into its own subdirectory of the output directory::

    [prepare]    -> OUT/data/        [train]   -> OUT/model/      [evaluate] -> OUT/eval/
    [attribute]  -> OUT/attr/<method>/
    [export]     -> OUT/tracks/      [tracks]  -> OUT/tracks.ini, OUT/igv/ and a rendered region
    [kmers]      -> OUT/motifs/      [filters] -> OUT/filters/    [tomtom]  -> OUT/motifs/tomtom.tsv
    [modisco]    -> OUT/modisco/     [compare] -> OUT/compare/    [enrich]   -> OUT/enrich/
    [report]     -> OUT/report.html  (runs last whether or not the table is present: the HTML
                    report of whatever the run produced; skipped only by ``stages``)

Precedence: ``--set stage.key=value`` on the command line, then the config file, then the
library defaults. Only the CLI reads config; the library functions take explicit arguments.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

from wtko_captum.pipeline.config import STAGE_ORDER

log = logging.getLogger(__name__)


def _path(base: Path, value):
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [_path(base, v) for v in value]
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def run(cfg: dict, out, *, stages: list[str] | None = None, verbose: bool = True) -> dict:
    """Run the stages present in ``cfg`` (or only ``stages``) into directory ``out``.

    Returns ``{stage: result}`` where each result is what the stage's library function returned.
    """
    from wtko_captum.core.atomic import output_dir

    out = output_dir(out)
    base = Path(cfg.get("pipeline", {}).get("base_dir", "."))
    ctx = {"out": out, "base": base, "verbose": verbose, "results": {}}
    wanted = [s for s in STAGE_ORDER if (s in cfg or s == "report") and (stages is None or s in stages)]
    for stage in wanted:
        t0 = time.perf_counter()
        log.info("== %s", stage)
        ctx["results"][stage] = STAGES[stage](dict(cfg.get(stage, {})), ctx)
        log.info("== %s done in %.1f s", stage, time.perf_counter() - t0)
    return ctx["results"]


# ---- stages: each maps a config table onto one library call --------------------------------

def _prepare(c, ctx):
    from wtko_captum.preparation.prepare import prepare

    base = ctx["base"]
    for key in ("wt", "ko", "table", "genome", "sequences", "labels"):
        if key in c:
            c[key] = _path(base, c[key])
    return prepare(ctx["out"] / "data", verbose=ctx["verbose"], **c)


def _train(c, ctx):
    from wtko_captum.training.train import train

    return train(ctx["out"] / "data", ctx["out"] / "model", verbose=ctx["verbose"], **c)


def _evaluate(c, ctx):
    from wtko_captum.training.evaluate import evaluate

    return evaluate(ctx["out"] / "model" / "model.pt", ctx["out"] / "data", ctx["out"] / "eval", **c)


def _attribute(c, ctx):
    from wtko_captum.attribution.attribute_prepared import attribute_prepared

    methods = c.pop("methods", ["saliency"])
    return attribute_prepared(ctx["out"] / "model" / "model.pt", ctx["out"] / "data", ctx["out"] / "attr",
                              methods, verbose=ctx["verbose"], **c)


def _attribution_dirs(ctx, methods=None) -> dict[str, Path]:
    attr = ctx["out"] / "attr"
    found = {p.name: p for p in sorted(attr.iterdir()) if (p / "meta.json").is_file()} if attr.is_dir() else {}
    return {m: p for m, p in found.items() if methods is None or m in methods}


def _export(c, ctx):
    import json

    from wtko_captum.core.export import export

    base = ctx["base"]
    sizes_file = _path(base, c.pop("chrom_sizes", None))
    genome = _path(base, c.pop("genome", None))
    tracks = c.pop("tracks", ["projected", "maxabs"])
    written = []
    for method, path in _attribution_dirs(ctx, c.pop("methods", None)).items():
        hypothetical = json.loads((path / "meta.json").read_text()).get("hypothetical", False)
        wanted = [t for t in tracks if t != "hypothetical" or hypothetical]
        written += export("bigwig", path, ctx["out"] / "tracks", chrom_sizes=sizes_file, genome=genome,
                          tracks=wanted, prefix=method, **c)
    return written


def _tracks(c, ctx):
    from wtko_captum.core.export import export
    from wtko_captum.core.intervals import rank_regions, read_intervals
    from wtko_captum.report.region import plot_region, zoom_region

    out, tracks_dir = ctx["out"], ctx["out"] / "tracks"
    peaks = out / "data" / "regions.tsv"
    genome = c.get("genome")
    fasta = _path(ctx["base"], genome) if genome and Path(str(genome)).suffix in (".fa", ".fasta", ".fna") else None
    igv_genome = str(fasta) if fasta else (genome or "hg19")
    n_top = int(c.get("top", 20))
    ini = export("tracks_ini", tracks_dir, out / "tracks.ini", peaks=peaks, genome=fasta)[0]
    igv = export("igv", tracks_dir, out / "igv" / "session.xml", genome=igv_genome, peaks=peaks, top=n_top,
                 batch=out / "igv" / "snapshots.txt", snapshot_dir=out / "igv" / "snapshots")
    session, batch = igv[0], igv[-1]
    projected = sorted(tracks_dir.glob("*.projected.bw"))
    # the regions the IGV session lists, ranked the same way: max |projected attribution|
    regions = rank_regions(projected[0], read_intervals(peaks), n_top) if projected else []
    pngs, zooms = [], []
    for i, region in enumerate(regions[: int(c.get("plots", 1))]):
        pngs.append(plot_region(ini, f"{region.chrom}:{region.start}-{region.end}", out / f"region{i + 1}.png",
                                genome=fasta))
        if projected:  # 50 bp around the max |projected| base: the logo track draws letters there
            zoom = zoom_region(projected[0], region.chrom, region.start, region.end, 50)
            zooms.append(plot_region(ini, zoom, out / f"region{i + 1}_zoom.png", genome=fasta))
    return {"ini": ini, "session": session, "batch": batch, "plots": pngs, "zooms": zooms, "regions": regions}


def _kmers(c, ctx):
    from wtko_captum.motifs.kmers import kmer_motifs

    method = c.pop("method", "saliency")
    return kmer_motifs(ctx["out"] / "attr" / method, ctx["out"] / "motifs", **c)


def _filters(c, ctx):
    from wtko_captum.motifs.filters import find_filter_motifs

    return find_filter_motifs(ctx["out"] / "model", ctx["out"] / "filters", data=ctx["out"] / "data", **c)


def _tomtom(c, ctx):
    from wtko_captum.motifs.tomtom import tomtom, write_tomtom

    query = _path(ctx["base"], c.pop("query", None)) or ctx["out"] / "motifs" / "clusters.meme"
    db = _path(ctx["base"], c.pop("motif_db", None))
    table = tomtom(str(query), None if db is None else str(db), **c)
    write_tomtom(ctx["out"] / "motifs" / "tomtom.tsv", table)
    return table


def _modisco(c, ctx):
    from wtko_captum.core.registry import get_registry

    method = c.pop("method", "deeplift_shap")
    finder = get_registry().get("motif_finders", "modisco")
    return finder(ctx["out"] / "attr" / method, ctx["out"] / "modisco", **c)


def _compare(c, ctx):
    from wtko_captum.motifs.compare import compare

    return compare(ctx["out"] / "modisco", ctx["out"] / "motifs", ctx["out"] / "compare", **c)


def _enrich(c, ctx):
    from wtko_captum.motifs.enrich import enrich

    if "attr" in c:
        c["attr"] = ctx["out"] / "attr" / c["attr"]
    return enrich(ctx["out"] / "data", ctx["out"] / "enrich", **c)


def _report(c, ctx):
    from wtko_captum.report.html import report

    if "regions" in c and Path(str(c["regions"])).suffix:  # a BED file, relative to the config
        c["regions"] = str(_path(ctx["base"], c["regions"]))
    return report(ctx["out"], ctx["out"] / "report.html", verbose=ctx["verbose"], **c)


STAGES: dict[str, Callable] = {
    "prepare": _prepare,
    "train": _train,
    "evaluate": _evaluate,
    "attribute": _attribute,
    "export": _export,
    "tracks": _tracks,
    "kmers": _kmers,
    "filters": _filters,
    "tomtom": _tomtom,
    "modisco": _modisco,
    "compare": _compare,
    "enrich": _enrich,
    "report": _report,
}
