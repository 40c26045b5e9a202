"""``scan()``: attribution and prediction tracks over whole chromosomes or BED regions.

The genome is tiled into windows of the model's input length at ``stride``
(:mod:`wtko_captum.scan._tiling`); windows are grouped into shards, each with a halo of the
windows that reach into it, so each shard's bases are final; shards run on an engine (processes
on this machine, or dask.distributed) through one shard function
(:func:`wtko_captum.scan._shard.run_shard`); each shard's result is stored atomically, and one
ordered writer turns the shards into bigWigs. Output directory::

    OUT/<method>.<track>.bw        per-base attribution tracks (projected, maxabs, hypothetical_A..T)
    OUT/<method>.tracks.json       what the tracks mean (as ``wtko export bigwig`` writes it)
    OUT/prediction.p_<class>.bw    the model's softmax probability of the window centred nearest each base
    OUT/skipped.bed                windows with no base (all N; no value written) and windows past a chromosome end
    OUT/manifest.json              options, their fingerprint, every shard and its status
    OUT/shards/                    per-shard results (removed when the bigWigs are written, unless kept)

Overlapping windows are merged per base with the rules of ``wtko export bigwig``
(:mod:`wtko_captum.core.tracks`; mean by default), and a scan at ``stride`` = input length
writes the values ``attribute`` + ``export bigwig`` write for the same windows. A run stopped
at any moment (``kill -9`` included) and started again with the same options computes only
the missing shards and writes the same bigWigs; other options are refused.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

import torch

from wtko_captum.core.errors import InputError
from wtko_captum.scan._engines import make_engine
from wtko_captum.scan._shard import ScanJob, ShardTask
from wtko_captum.scan._store import Manifest, ShardStore
from wtko_captum.scan._tiling import Tiling, chromosome_spans, read_shard_sequence, region_spans
from wtko_captum.scan._writer import WRITERS, write_bigwigs, write_skipped

log = logging.getLogger("wtko_captum.scan")

#: batches per shard by default (a shard then holds a whole number of batches with its halo)
BATCHES_PER_SHARD = 8


def scan(model, genome, out, *, methods=("saliency",), chroms=None, bed=None, stride: int | None = None,
         target="pred", tracks=("projected", "maxabs"), overlap: str = "mean", options: dict | None = None,
         batch_size: int = 128, device="auto", seed: int | None = 0, rc_average: bool = False,
         shard_size: int | None = None, engine: str = "local", workers: int | None = None,
         scheduler: str | None = None, max_zooms: int = 10, keep_shards: bool = False,
         writer: str = "figwig", verbose: bool = False) -> dict:
    """Scan chromosomes (or BED regions) of ``genome`` with ``model``; write bigWigs to ``out``.

    Parameters
    ----------
    model : str, Path or torch.nn.Module
        A checkpoint (``wtko train``) or a loaded model with ``input_length``.
    genome : str or Path
        Genome FASTA (plain, bgzip or gzip) or ``.2bit``
        (:func:`wtko_captum.core.genome.open_genome`); read one shard's bases at a time.
    out : str or Path
        Output directory (see the module docstring); a previous run there is resumed.
    methods : sequence of str
        Registered attribution methods (``wtko plugins``).
    chroms : sequence of str, optional
        Chromosomes to scan (default: all). Give this or ``bed``.
    bed : str or Path, optional
        Regions to scan (BED, 0-based); overlapping regions are merged.
    stride : int, optional
        Bases between window starts, 1 to the input length (default: half the input length).
    target : int or str
        Class index or name, ``"pred"`` (each window's predicted class) or ``"diff"`` (logit
        WT minus KO). With overlapping windows a fixed target keeps the merged track one
        quantity; ``"pred"`` may average windows explained for different classes.
    tracks : sequence of {"projected", "maxabs", "hypothetical"}
    overlap : {"mean", "max-abs", "nearest-summit"}
        How a base covered by several windows gets its value (as ``wtko export bigwig``).
    options : dict
        Method options (``n_shuffles``, ``n_steps``, ``reference``, ``layer``, ``backend``);
        each method takes those its signature has. ``None`` values are ignored.
    batch_size : int
        Windows per model call; every call gets exactly this many (see
        :mod:`wtko_captum.scan._shard` for why).
    device : {"auto", "cpu", "cuda"}
    seed : int
        Seed of stochastic methods (their references are seeded per window content).
    rc_average : bool
        Average each window's scores with its reverse complement's.
    shard_size : int, optional
        Windows a shard owns (default: ``8 * batch_size`` minus the halo, so a shard's batches
        are full). Does not change the output.
    engine : {"local", "dask"}
    workers : int, optional
        Processes (local) or LocalCluster workers (dask); default: the CPUs available.
    scheduler : str, optional
        Address of a running dask scheduler (``tcp://host:8786``); workers must have this
        package installed.
    max_zooms : int
        bigWig zoom levels (0: none).
    keep_shards : bool
        Keep ``OUT/shards`` after the bigWigs are written.
    writer : {"figwig", "pybigwig"}
        The bigWig writer (the same values; figwig measured faster).

    Returns
    -------
    dict
        ``bigwigs`` (list of Path), ``manifest``, ``skipped`` (paths), ``n_shards``,
        ``computed`` (shards computed by this call), ``seconds``, ``shard_seconds`` (the
        computed shards' time on their workers, summed), ``windows``, ``bases``, ``max_rss_mb``
        (peak memory of a worker).
    """
    t0 = time.perf_counter()
    if writer not in WRITERS:
        raise InputError(f"unknown bigWig writer {writer!r}; choose from {', '.join(WRITERS)}")
    out = Path(out)
    plan = ScanPlan.create(model, genome, methods=methods, chroms=chroms, bed=bed, stride=stride, target=target,
                           tracks=tracks, overlap=overlap, options=options, batch_size=batch_size,
                           device=device, seed=seed, rc_average=rc_average, shard_size=shard_size,
                           max_zooms=max_zooms)
    eng = make_engine(engine, workers, scheduler)
    from wtko_captum.core.atomic import output_dir, output_lock

    with output_lock(out):
        output_dir(out)
        manifest, store = plan.open(out)
        if manifest.state == "complete":
            log.info("%s: scan already complete; nothing to do", out)
            return plan.summary(out, manifest, 0, t0, [])
        plan.check_space(out, manifest)
        computed, rss = plan.compute(eng, manifest, store, verbose)
        manifest.state = "writing"
        manifest.save()
        written = plan.write(out, manifest, store, writer, verbose)
        if not keep_shards:
            store.remove()
    return plan.summary(out, manifest, computed, t0, rss, written)


class ScanPlan:
    """The validated inputs of a scan: model, genome, tiling and the job every shard runs."""

    def __init__(self, model, model_src, fasta, genome, sizes, tiling: Tiling, job: ScanJob, options: dict,
                 class_names: list[str], hypothetical: dict[str, bool]):
        self.model, self.model_src, self.fasta, self.genome = model, model_src, fasta, genome
        self.sizes, self.tiling, self.job, self.options = sizes, tiling, job, options
        self.class_names, self.hypothetical = class_names, hypothetical
        self.shards = tiling.shards()
        self.shard_seconds = 0.0  # summed over the shards computed by this call, on their workers

    @classmethod
    def create(cls, model, genome, *, methods, chroms, bed, stride, target, tracks, overlap, options,
               batch_size, device, seed, rc_average, shard_size, max_zooms) -> "ScanPlan":
        """Check every input before any work starts."""
        from wtko_captum import __version__
        from wtko_captum.attribution.attribute import accepted_options, get_method, method_info
        from wtko_captum.attribution.attribute_prepared import method_defaults
        from wtko_captum.core.device import resolve_device
        from wtko_captum.core.genome import open_genome
        from wtko_captum.core.tracks import check_overlap, expand_tracks

        model, model_src = _load(model)
        width = _input_length(model)
        fasta = open_genome(genome)
        sizes = dict(fasta.sizes)
        if chroms and bed:
            raise InputError("give --chroms or --bed, not both")
        if bed:
            from wtko_captum.core.intervals import read_intervals

            spans, where = region_spans(read_intervals(bed), sizes, path=bed), {"bed": _digest_file(bed)}
        else:
            spans, where = chromosome_spans(sizes, list(chroms or [])), {"chroms": list(chroms or [])}
        stride = int(stride or max(width // 2, 1))
        batch_size = int(batch_size)
        if batch_size < 1:
            raise InputError("--batch-size must be at least 1", value=batch_size)
        halo = -(-width // stride) - 1
        shard_windows = int(shard_size or max(BATCHES_PER_SHARD * batch_size - halo, 1))
        tiling = Tiling.plan(spans, sizes, width, stride, shard_windows)

        methods = [methods] if isinstance(methods, str) else list(methods)
        if not methods:
            raise InputError("no attribution method given")
        if len(set(methods)) != len(methods):
            raise InputError("a method is listed twice", value=methods)
        names = expand_tracks(tracks)
        check_overlap(overlap)
        given = {k: v for k, v in (options or {}).items() if v is not None}
        method_options, effective, hypothetical = {}, {}, {}
        for m in methods:
            func = get_method(m)  # an unknown method fails here, before any work
            used, _ = accepted_options(func, given)
            method_options[m] = used
            effective[m] = {**method_defaults(func), **used}
            hypothetical[m] = bool(method_info(func).hypothetical)
            if any(t.startswith("hypothetical_") for t in names) and not hypothetical[m]:
                raise InputError(f"hypothetical tracks need hypothetical attributions; method {m!r} gives "
                                 "projected scores only: use --tracks projected,maxabs")
        n_out, class_names, target = _target(model, target, width)
        from wtko_captum.core.atomic import path_component

        for name, what in [(m, "method") for m in methods] + [(c, "class name") for c in class_names]:
            path_component(name, what)  # both name output files
        dev = resolve_device(device)
        job = ScanJob(width=width, stride=stride, methods=tuple(methods), method_options=method_options,
                      tracks=tuple(names), overlap=overlap, target=target, batch_size=batch_size, seed=seed,
                      rc_average=bool(rc_average), device=str(dev), n_outputs=n_out)
        fp_options = {
            "package_version": __version__, "model_identity": _identity(model), "width": width,
            "genome": {"sizes": _digest_text(json.dumps(list(sizes.items()))), "bytes": Path(genome).stat().st_size},
            **where, "stride": stride, "shard_size": shard_windows, "methods": methods,
            "method_options": effective, "tracks": names, "overlap": overlap, "target": target,
            "batch_size": batch_size, "seed": seed, "rc_average": bool(rc_average), "device": dev.type,
            "max_zooms": int(max_zooms),
        }
        return cls(model, model_src, fasta, genome, sizes, tiling, job, fp_options, class_names, hypothetical)

    # ---- steps --------------------------------------------------------------------------------
    def open(self, out: Path) -> tuple[Manifest, ShardStore]:
        """The manifest (a previous run's checked against these options) and the shard store,
        with the shards already stored marked done."""
        info = {"model": self.model_src, "genome": str(self.genome), "n_windows": self.tiling.n_windows,
                "n_bases": self.tiling.n_bases, "halo_windows": self.tiling.halo,
                "class_names": self.class_names, "spans": len(self.tiling.spans)}
        manifest = Manifest(out / "manifest.json", self.options, self.shards, info)
        old = Manifest.previous(manifest.path)
        store = ShardStore(out, manifest.fp)
        if old is not None:
            manifest.check_compatible(old)
            outputs = [out / p for p in old.get("outputs", [])]
            if old.get("state") == "complete" and outputs and all(p.is_file() for p in outputs):
                manifest.state, manifest.outputs = "complete", old["outputs"]
                for s in self.shards:
                    manifest.mark(s.index)
                return manifest, store
        for s in self.shards:
            if store.done(s.index):
                manifest.mark(s.index)
        if old is not None:
            log.info("%s: resuming: %d of %d shard(s) already done", out, manifest.n_done, len(self.shards))
        manifest.save()
        return manifest, store

    def check_space(self, out: Path, manifest: Manifest) -> None:
        """Stop before the work when the disk cannot hold the shards still to compute (float32
        per base and track) and the bigWigs (about half that, compressed)."""
        from wtko_captum.core.atomic import check_free_space

        per_base = 4 * (len(self.job.methods) * len(self.job.tracks) + len(self.class_names))
        pending = sum(s.length for s in self.shards if manifest.status[s.index] != "done")
        check_free_space(out, per_base * pending + per_base * self.tiling.n_bases // 2 + (16 << 20),
                         f"{len(self.shards)} shard(s) and {len(self.outputs(out))} bigWig(s)")

    def tasks(self, manifest: Manifest):
        """The shards not done yet, with their bases (read lazily, one shard at a time)."""
        for shard in self.shards:
            if manifest.status[shard.index] != "done":
                yield ShardTask(shard, read_shard_sequence(self.fasta, shard, self.tiling.width, self.tiling.stride))

    def compute(self, engine, manifest: Manifest, store: ShardStore, verbose: bool) -> tuple[int, list[float]]:
        """Run the pending shards on ``engine``; store each as it arrives. Returns the number
        computed and the workers' peak memory (MB) as reported with each shard."""
        from tqdm.auto import tqdm

        pending = [s for s in self.shards if manifest.status[s.index] != "done"]
        if not pending:
            return 0, []
        done_bases = sum(s.length for s in self.shards if manifest.status[s.index] == "done")
        log.info("scan: %d shard(s) to compute of %d (%s); %d window(s) of %d bp at stride %d, %s",
                 len(pending), len(self.shards), engine.describe(), self.tiling.n_windows, self.tiling.width,
                 self.tiling.stride, ", ".join(self.job.methods))
        threads = torch.get_num_threads()
        rss, computed, self.shard_seconds = [], 0, 0.0
        bar = tqdm(total=self.tiling.n_bases, initial=done_bases, unit="bp", unit_scale=True, desc="scan",
                   disable=not verbose)
        try:
            engine.start(self.model, self.job)
            for task, result in engine.map_unordered(self.tasks(manifest)):
                store.write(task.shard, result)
                manifest.mark(task.shard.index)
                manifest.save(every=0.5)
                rss.append(result["max_rss_mb"])
                self.shard_seconds += result["seconds"]
                computed += 1
                bar.update(task.shard.length)
        finally:
            bar.close()
            engine.close()
            torch.set_num_threads(threads)
        manifest.save()
        return computed, rss

    def outputs(self, out: Path) -> list[tuple[Path, str, str | None, int]]:
        """``(path, kind, method, row)`` of every bigWig, in the order written."""
        from wtko_captum.core.atomic import path_component

        files = [(out / f"{path_component(m, 'method')}.{t}.bw", "track", m, i)
                 for m in self.job.methods for i, t in enumerate(self.job.tracks)]
        files += [(out / f"prediction.p_{path_component(c, 'class name')}.bw", "pred", None, i)
                  for i, c in enumerate(self.class_names)]
        return files

    def write(self, out: Path, manifest: Manifest, store: ShardStore, writer: str, verbose: bool) -> list[Path]:
        """The ordered writer: every bigWig, skipped.bed, the sidecars; the manifest marked complete."""
        outputs = self.outputs(out)
        header = {c: n for c, n in self.sizes.items()}
        metas = write_bigwigs(store, self.shards, outputs, header, writer=writer,
                              max_zooms=self.options["max_zooms"], progress=verbose)
        n_skipped, n_padded = write_skipped(out / "skipped.bed", metas)
        sidecars = [self._sidecar(out, m) for m in self.job.methods]
        written = [p for p, *_ in outputs] + sidecars + [out / "skipped.bed"]
        log.info("scan: wrote %d bigWig(s) in %s; %d window(s) with no base skipped (gaps), %d past a "
                 "chromosome end (N-padded); see skipped.bed", len(outputs), out, n_skipped, n_padded)
        manifest.state = "complete"
        manifest.outputs = [p.name for p in written]
        manifest.save()
        return written

    def _sidecar(self, out: Path, method: str) -> Path:
        from wtko_captum.core.atomic import path_component, write_text
        from wtko_captum.core.tracks import DESCRIPTIONS, TRACKS_SIDECAR_FORMAT

        doc = {
            "format": TRACKS_SIDECAR_FORMAT, "version": 1, "file_format": "bigWig",
            "overlap": self.job.overlap, "gaps": "no value at N bases and outside chromosomes (never 0)",
            "coordinates": f"genome scan: windows of {self.job.width} bp every {self.job.stride} bp, 0-based",
            "n_sets_averaged": 1, "sources": [str(out / "manifest.json")], "method": method, "methods": [method],
            "hypothetical": self.hypothetical[method], "target": self.job.target,
            "model_identity": self.options["model_identity"], "window_length": self.job.width,
            "method_options": self.options["method_options"][method],
            "tracks": [{"track": t, "file": f"{path_component(method)}.{t}.bw", "description": DESCRIPTIONS[t]}
                       for t in self.job.tracks],
        }
        return write_text(out / f"{path_component(method)}.tracks.json", json.dumps(doc, indent=2, default=str) + "\n")

    def summary(self, out: Path, manifest: Manifest, computed: int, t0: float, rss: list[float],
                written: list[Path] | None = None) -> dict:
        written = written if written is not None else [out / p for p in manifest.outputs]
        return {"bigwigs": [p for p in written if p.suffix == ".bw"], "manifest": manifest.path,
                "skipped": out / "skipped.bed", "n_shards": len(self.shards), "computed": computed,
                "seconds": time.perf_counter() - t0, "windows": self.tiling.n_windows, "bases": self.tiling.n_bases,
                "shard_seconds": self.shard_seconds, "max_rss_mb": max(rss) if rss else None,
                "job": asdict(self.job)}


# ---- helpers ---------------------------------------------------------------------------------------
def _load(model):
    from wtko_captum.core.checkpoint import load_model

    if isinstance(model, torch.nn.Module):
        return model.eval(), getattr(model, "identity", None) or type(model).__name__
    return load_model(model), str(model)


def _input_length(model) -> int:
    width = getattr(model, "input_length", None) or (getattr(model, "config", None) or {}).get("input_length")
    if not width:
        raise InputError("the model does not say its input length (model.input_length or config['input_length'])")
    return int(width)


def _target(model, target, width: int):
    """``(n_outputs, class_names, target)``: target as an output index, ``"pred"`` or ``"diff"``."""
    from wtko_captum.core.targets import SPECIAL_TARGETS, class_names_of, diff_indices, predict_logits, resolve_class

    with torch.no_grad():
        n_out = int(predict_logits(model.eval().cpu(), torch.zeros(1, 4, width), 1, "cpu").shape[1])
    names = class_names_of(model, n_out) or [f"output{i}" for i in range(n_out)]
    if isinstance(target, str) and target.strip().lower() in SPECIAL_TARGETS:
        target = target.strip().lower()
        if target == "diff":
            diff_indices(class_names_of(model, n_out), n_out)  # a clear error for a model without WT/KO
        return n_out, names, target
    return n_out, names, resolve_class(target, class_names_of(model, n_out), n_out)


def _identity(model) -> str:
    ident = getattr(model, "identity", None)
    if ident:
        return str(ident)
    import hashlib

    h = hashlib.sha1()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().float().numpy().tobytes())
    return f"{type(model).__name__}@{h.hexdigest()[:12]}"


def _digest_text(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _digest_file(path) -> str:
    import hashlib

    path = Path(path)
    if not path.is_file():
        raise InputError("BED file not found", path=path)
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]

