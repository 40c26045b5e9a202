"""Benchmark: attribution bigWig export vs a bare pyBigWig fixed-step write of the same values.

    .venv/bin/python benchmarks/bigwig.py              # 100k regions x 600 bp
    .venv/bin/python benchmarks/bigwig.py --n 10000 --n 100000

For each N, each case runs in its own subprocess (so ``ru_maxrss`` is that case's peak):

* ``bare``: per window, ``addEntries(chrom, start, values=..., span=1, step=1)`` of the
  projected and maxabs values into two bigWigs; windows 1000 bp apart (no overlap, since a
  bare write cannot resolve overlaps);
* ``ours, no overlap``: :func:`track_exporters.bigwig.write_bigwig` on the same layout;
* ``ours, overlap``: windows 300 bp apart (every base covered by two windows), merged with
  ``--overlap`` (default mean);
* ``ours, overlap, no zooms``: the same with ``max_zooms=0``. libBigWig builds every zoom
  level in memory when a file is closed (~3 bytes per written base, in the bare write too), so
  this case isolates the memory of our own streaming code.

Inputs are generated lazily from a pool of 512 random windows (one-hot with N runs and
float32 attributions), indexed by row, so input memory is the same constant for every N and
peak RSS shows the writer's own memory. Both writers compute projected and maxabs from the
same (N, 4, L) chunks. Throughput counts the whole write including ``close()`` (index and zoom
levels) and is computed from the process's CPU time (user + system), because on a shared
machine wall time mostly measures the neighbours; wall time is printed too. Floor: ours with overlap resolution >= 0.6 x bare throughput, flat memory.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HG19 = Path(__file__).resolve().parents[1] / "tests/data/genomes/hg19.chrom.sizes"
L = 600
POOL = 512
CHUNK = 256


class LazyArray:
    """Row-indexable stand-in for an ``(N, 4, L)`` array: row n is pool[n % POOL]."""

    def __init__(self, pool: np.ndarray, n: int):
        self.pool, self.shape, self.dtype = pool, (n, 4, pool.shape[-1]), pool.dtype

    def __getitem__(self, rows):
        return self.pool[np.asarray(rows) % len(self.pool)]


class LazySet:
    def __init__(self, regions, X, attr):
        self.regions, self.X, self.attr = regions, X, attr
        self.method, self.hypothetical, self.target, self.model_identity = "bench", True, None, None


def layout(n: int, step: int, sizes: dict):
    """Windows ``step`` bp apart, filling chromosomes in order (1k bp margin at each end)."""
    import pandas as pd

    chroms, starts = [], []
    left = n
    for chrom, size in sizes.items():
        k = min(left, max(0, (size - 2000 - L) // step))
        chroms.append(np.full(k, chrom, dtype=object))
        starts.append(1000 + step * np.arange(k, dtype=np.int64))
        left -= k
        if not left:
            break
    if left:
        raise SystemExit(f"{n} windows at step {step} do not fit in hg19")
    starts = np.concatenate(starts)
    return pd.DataFrame({"chrom": np.concatenate(chroms), "start": starts, "end": starts + L,
                         "name": np.arange(n).astype(str)})


def make_inputs(n: int, step: int, sizes: dict):
    r = np.random.default_rng(0)
    X = np.eye(4, dtype=np.float32)[r.integers(0, 4, (POOL, L))].transpose(0, 2, 1).copy()
    for i in range(0, POOL, 7):  # some N runs, as real genomes have
        a = r.integers(0, L - 20)
        X[i, :, a:a + 20] = 0
    attr = r.normal(size=X.shape).astype(np.float32)
    return LazySet(layout(n, step, sizes), LazyArray(X, n), LazyArray(attr, n))


def run_bare(s, sizes, out: Path):
    import pyBigWig

    files = [pyBigWig.open(str(out / f"bare.{t}.bw"), "w") for t in ("projected", "maxabs")]
    for bw in files:
        bw.addHeader(list(sizes.items()), maxZooms=10)
    chrom = s.regions["chrom"].to_numpy()
    start = s.regions["start"].to_numpy()
    n = len(start)
    for c0 in range(0, n, CHUNK):
        rows = np.arange(c0, min(c0 + CHUNK, n))
        X, a = s.X[rows], s.attr[rows].astype(np.float64)
        proj, mx = (a * X).sum(axis=1), np.abs(a).max(axis=1)
        for k, row in enumerate(rows):
            files[0].addEntries(chrom[row], int(start[row]), values=proj[k], span=1, step=1)
            files[1].addEntries(chrom[row], int(start[row]), values=mx[k], span=1, step=1)
    for bw in files:
        bw.close()


def child(args) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from track_exporters.bigwig import write_bigwig
    from wtko_captum.core.genome import read_chrom_sizes

    sizes = read_chrom_sizes(HG19)
    step = 300 if args.case.startswith("overlap") else 1000
    s = make_inputs(args.n, step, sizes)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        if args.case == "bare":
            run_bare(s, sizes, Path(tmp))
        else:
            write_bigwig(s, tmp, chrom_sizes=sizes, tracks=["projected", "maxabs"], overlap=args.overlap,
                         max_zooms=0 if args.case == "overlap-nozoom" else 10)
        dt = time.perf_counter() - t0
        mb = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 2**20
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    peak = ru1.ru_maxrss
    print(json.dumps({"wall_seconds": dt, "seconds": cpu, "maxrss_mb": peak / 1024, "before_write_mb": base_rss / 1024,
                      "output_mb": mb}))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, action="append", help="regions (repeatable; default 100000)")
    p.add_argument("--overlap", default="mean", choices=["mean", "max-abs", "nearest-summit"])
    p.add_argument("--case", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.case:
        args.n = args.n[0]
        child(args)
        return 0
    rows = []
    for n in args.n or [100_000]:
        res = {}
        for case in ("bare", "nooverlap", "overlap", "overlap-nozoom"):
            cmd = [sys.executable, __file__, "--case", case, "--n", str(n), "--overlap", args.overlap]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"})
            res[case] = json.loads(out.stdout.strip().splitlines()[-1])
            r = res[case]
            label = {"bare": "bare pyBigWig fixed-step", "nooverlap": "wtko, no overlap",
                     "overlap": f"wtko, 2x overlap ({args.overlap})",
                     "overlap-nozoom": f"wtko, 2x overlap ({args.overlap}), max_zooms=0"}[case]
            bases = n * L if case in ("bare", "nooverlap") else (n - 1) * 300 + L  # bases with a value per track
            rows.append((n, label, n / r["seconds"], n / r["seconds"] / (n / res["bare"]["seconds"]),
                         r["maxrss_mb"], r["maxrss_mb"] - r["before_write_mb"], r["output_mb"],
                         bases / r["seconds"] / 1e6))
            print(f"{n:>8} {label:<32} {rows[-1][2]:>9,.0f} regions/s (CPU; wall {n / r['wall_seconds']:,.0f})  "
                  f"x{rows[-1][3]:.2f} of bare  "
                  f"peak RSS {r['maxrss_mb']:.0f} MiB (+{rows[-1][5]:.0f} while writing)", flush=True)
    print("\n| regions | writer | regions/CPU-s | vs bare | Mbases/CPU-s per track | peak RSS MiB "
          "| RSS growth while writing MiB | output MiB |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for n, label, rate, rel, rss, grow, mb, mbases in rows:
        print(f"| {n:,} | {label} | {rate:,.0f} | {rel:.2f} | {mbases:.2f} | {rss:.0f} | {grow:.0f} | {mb:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
