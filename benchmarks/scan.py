"""Benchmark: `wtko scan` throughput per method and engine, against the bare model forward pass
over the same windows, plus the bigWig writer (figwig vs pyBigWig) on the same shards.

    .venv/bin/python benchmarks/scan.py                       # defaults below, ~15 min on 2 busy cores
    .venv/bin/python benchmarks/scan.py --methods saliency --region-bp 30000   # a quick look

Setup: the bundled real 1 Mb mouse region (tests/data/genomes/mouse_chr17_1Mb_region.fa); a
WTKO-CNN at the published size (600 bp, 64 + 128 filters; ``--model`` for a checkpoint,
default: seeded random weights, which cost the same as trained ones); windows every
``--stride`` bases (300: every base in two windows) over the first ``--region-bp`` bases.

Cases (each in its own subprocess, so ``ru_maxrss`` and CPU time are that case's own):

* ``forward``: the bare ``model(X)`` over the same windows, in batches of ``--batch-size``, one
  torch thread: the physical limit of this CPU for this model;
* ``attribute``: ``attribute(model, X, method)`` over the same windows in one call (no
  tiling, no store, no writer): the method's own cost;
* ``scan local 1``, ``scan local 2``, ``scan dask 2``: ``scan()`` on those windows with 1 or 2
  local processes, or a dask LocalCluster of 2 workers; the whole run (planning, workers
  starting, shards, the ordered writer) is timed.

Rates are bases scanned per second. On a shared machine wall time mostly measures the
neighbours, so each case also reports bases per CPU-second (user + system of the case and its
workers), and scan cases the bases per second of shard compute (``shard_seconds``: the time
on the workers, without process start-up). The writer case scans the whole region with
saliency (keeping the shards) and then writes the same shards with each writer in turn.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GENOME = ROOT / "tests/data/genomes/mouse_chr17_1Mb_region.fa"
MAMMAL_BP = 2.7e9


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_case(case: dict) -> dict:
    """Run one case in a subprocess; add its wall and CPU time (workers included)."""
    cpu0, t0 = _cpu_children(), time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--case", json.dumps(case)], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)})
    if proc.returncode != 0:
        raise RuntimeError(f"case {case} failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out.update(wall=time.perf_counter() - t0, cpu=_cpu_children() - cpu0)
    return out


# ---- inside a case subprocess ----------------------------------------------------------------------
def _model(path):
    import torch

    from wtko_captum.core.checkpoint import load_model, save_checkpoint
    from wtko_captum.models.wtko_cnn import WTKOCNN

    if path:
        return load_model(path), path
    torch.manual_seed(0)
    model = WTKOCNN(input_length=600).eval()
    tmp = Path(tempfile.mkdtemp()) / "model.pt"
    save_checkpoint(tmp, model, "wtko_cnn", ["KO", "WT"])
    return load_model(tmp), str(tmp)


def _windows(case):
    """One-hot windows of the region, on the scan's own grid."""
    from wtko_captum.core.genome import open_genome
    from wtko_captum.scan._shard import windows_onehot
    from wtko_captum.scan._tiling import Tiling, read_shard_sequence

    fasta = open_genome(case["genome"])
    chrom = next(iter(fasta.keys()))
    sizes = {chrom: fasta.sizes[chrom]}
    t = Tiling.plan([(chrom, 0, min(case["region_bp"], sizes[chrom]))], sizes, 600, case["stride"], 10 ** 9)
    shard = t.shards()[0]
    return windows_onehot(read_shard_sequence(fasta, shard, 600, case["stride"]), 600, case["stride"]), t.n_bases


def _options(method):
    return {"n_shuffles": 10} if method == "deeplift_shap" else {}


def case_main(case: dict) -> dict:
    import torch

    torch.set_num_threads(1)
    model, path = _model(case.get("model"))
    if case["kind"] == "forward":
        X, n_bases = _windows(case)
        t0 = time.perf_counter()
        with torch.no_grad():
            for i in range(0, len(X), case["batch_size"]):
                model(torch.from_numpy(X[i:i + case["batch_size"]]))
        return {"bases": n_bases, "windows": len(X), "inner": time.perf_counter() - t0,
                "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if case["kind"] == "attribute":
        from wtko_captum.attribution.attribute import attribute

        X, n_bases = _windows(case)
        t0 = time.perf_counter()
        attribute(model, X, case["method"], 1, batch_size=case["batch_size"], seed=0, **_options(case["method"]))
        return {"bases": n_bases, "windows": len(X), "inner": time.perf_counter() - t0,
                "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    from wtko_captum.scan import scan

    out = Path(tempfile.mkdtemp()) / "scan"
    bed = out.parent / "region.bed"
    from wtko_captum.core.genome import open_genome

    chrom = next(iter(open_genome(case["genome"]).keys()))
    bed.write_text(f"{chrom}\t0\t{case['region_bp']}\n")
    if case["kind"] == "writer":
        return writer_case(case, model, bed, out)
    res = scan(model, case["genome"], out, methods=[case["method"]], bed=bed, stride=case["stride"], target=1,
               options=_options(case["method"]), batch_size=case["batch_size"], device="cpu",
               shard_size=case["shard_size"], engine=case["engine"], workers=case["workers"])
    shutil.rmtree(out.parent, ignore_errors=True)
    return {"bases": res["bases"], "windows": res["windows"], "inner": res["seconds"],
            "shard_seconds": res["shard_seconds"], "max_rss_mb": res["max_rss_mb"], "n_shards": res["n_shards"]}


def writer_case(case, model, bed, out) -> dict:
    import numpy as np
    import pyBigWig

    from wtko_captum.scan import scan
    from wtko_captum.scan._store import ShardStore
    from wtko_captum.scan._writer import write_bigwigs
    from wtko_captum.scan.scan import ScanPlan

    kw = dict(methods=["saliency"], bed=bed, stride=case["stride"], target=1, options={}, chroms=None,
              batch_size=case["batch_size"], device="cpu", seed=0, rc_average=False, tracks=["projected", "maxabs"],
              overlap="mean", shard_size=None, max_zooms=10)
    scan(model, case["genome"], out, keep_shards=True, workers=1, **kw)
    plan = ScanPlan.create(model, case["genome"], **kw)
    manifest = json.loads((out / "manifest.json").read_text())
    store = ShardStore(out, manifest["fingerprint"])
    times, files = {}, {}
    for writer in ("figwig", "pybigwig"):
        d = out / writer
        outputs = [(d / p.name, *rest) for p, *rest in plan.outputs(out)]
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        write_bigwigs(store, plan.shards, outputs, plan.sizes, writer=writer, max_zooms=10)
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        times[writer] = {"wall": time.perf_counter() - t0,
                         "cpu": (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime),
                         "bytes": sum(p.stat().st_size for p, *_ in outputs)}
        files[writer] = [p for p, *_ in outputs]
    same = True
    for a, b in zip(files["figwig"], files["pybigwig"]):
        fa, fb = pyBigWig.open(str(a)), pyBigWig.open(str(b))
        for c, n in fa.chroms().items():
            same &= bool(np.array_equal(np.array(fa.values(c, 0, n)), np.array(fb.values(c, 0, n)), equal_nan=True))
    n_values = len(files["figwig"]) * plan.tiling.n_bases
    shutil.rmtree(out.parent, ignore_errors=True)
    return {"writers": times, "same_values": same, "values_written": n_values, "n_files": len(files["figwig"]),
            "n_shards": len(plan.shards)}


# ---- driver ----------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", help=argparse.SUPPRESS)
    ap.add_argument("--genome", default=str(GENOME))
    ap.add_argument("--model", help="a checkpoint (default: seeded random WTKO-CNN, 600 bp)")
    ap.add_argument("--methods", default="saliency,deeplift_shap,ism")
    ap.add_argument("--region-bp", type=int, default=100_000)
    ap.add_argument("--writer-bp", type=int, default=1_000_001, help="bases scanned for the writer case")
    ap.add_argument("--stride", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--shard-size", type=int, default=63, help="windows per shard (2 batches minus the halo)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    if args.case:
        print(json.dumps(case_main(json.loads(args.case))))
        return
    base = dict(genome=args.genome, model=args.model, region_bp=args.region_bp, stride=args.stride,
                batch_size=args.batch_size, shard_size=args.shard_size)
    print(f"load average before: {os.getloadavg()}", flush=True)
    results = {"forward": run_case({**base, "kind": "forward"})}
    fwd = results["forward"]
    print(f"forward: {fwd['bases'] / fwd['inner']:.0f} bp/s (inner), {fwd['windows']} windows", flush=True)
    for method in args.methods.split(","):
        results[method] = {"attribute": run_case({**base, "kind": "attribute", "method": method})}
        for engine, workers in (("local", 1), ("local", 2), ("dask", 2)):
            r = run_case({**base, "kind": "scan", "method": method, "engine": engine, "workers": workers})
            results[method][f"{engine} {workers}"] = r
            print(f"{method} {engine} {workers}: {r['bases'] / r['wall']:.0f} bp/s wall, "
                  f"{r['bases'] / r['cpu']:.0f} bp per CPU-s, {r['bases'] / r['shard_seconds'] * workers:.0f} bp/s "
                  f"shard compute, {r['max_rss_mb']:.0f} MB/worker", flush=True)
    results["writer"] = run_case({**base, "kind": "writer", "region_bp": args.writer_bp})
    print(f"load average after: {os.getloadavg()}", flush=True)
    print(report(results, args))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


def report(results: dict, args) -> str:
    fwd = results["forward"]
    fwd_rate = fwd["bases"] / fwd["inner"]
    lines = [f"windows of 600 bp every {args.stride} bp over {fwd['bases']:,} bp ({fwd['windows']} windows), "
             f"batch {args.batch_size}, one torch thread per process",
             f"bare forward pass: {fwd_rate:,.0f} bp/s", "",
             "| method | case | bp/s (wall) | bp per CPU-s | bp/s per worker (shard compute) | "
             "share of forward-pass speed | peak memory per worker |",
             "|---|---|---|---|---|---|---|"]
    for method, cases in results.items():
        if method in ("forward", "writer"):
            continue
        att = cases["attribute"]
        rate = att["bases"] / att["inner"]
        lines.append(f"| {method} | bare `attribute()` | {rate:,.0f} | {att['bases'] / att['cpu']:,.0f} | {rate:,.0f} | "
                     f"{rate / fwd_rate:.3f} | {att['max_rss_mb']:.0f} MB |")
        for name, r in cases.items():
            if name == "attribute":
                continue
            per_worker = r["bases"] / r["shard_seconds"]
            lines.append(f"| {method} | scan {name} | {r['bases'] / r['wall']:,.0f} | {r['bases'] / r['cpu']:,.0f} | "
                         f"{per_worker:,.0f} | {per_worker / fwd_rate:.3f} | {r['max_rss_mb']:.0f} MB |")
    lines += ["", "projection, whole mammalian genome (2.7 Gb), stride as above, from scan local 1's bases per "
              "CPU-second (start-up included), linear in workers; no GPU was available to measure:", ""]
    lines += ["| method | CPU-hours | 16 CPU workers | 64 CPU workers | 256 CPU workers |", "|---|---|---|---|---|"]
    for method, cases in results.items():
        if method in ("forward", "writer"):
            continue
        r = cases["local 1"]
        hours = MAMMAL_BP / (r["bases"] / r["cpu"]) / 3600
        lines.append(f"| {method} | {hours:,.0f} | " + " | ".join(f"{hours / n:,.1f} h" for n in (16, 64, 256)) + " |")
    w = results["writer"]
    lines += ["", f"ordered writer, {w['n_files']} bigWigs from {w['n_shards']} shards "
              f"({w['values_written']:,} values), same values: {w['same_values']}", "",
              "| writer | wall | CPU | values per CPU-s | file bytes |", "|---|---|---|---|---|"]
    for name, t in w["writers"].items():
        lines.append(f"| {name} | {t['wall']:.2f} s | {t['cpu']:.2f} s | {w['values_written'] / t['cpu']:,.0f} | "
                     f"{t['bytes']:,} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
