"""k-mer clustering at scale: time, peak memory and agreement with exact average linkage.

    .venv/bin/python benchmarks/cluster.py                 # 300k k-mers, realistic + pure noise
    .venv/bin/python benchmarks/cluster.py --n 60000 --data realistic

Not a test. Two simulated k-mer sets (k = 20), each clustered by
:func:`wtko_captum.motifs.cluster.cluster_kmers` (``--clusters`` 10, default ``exact_limit``):

* ``realistic``: saliency k-mers are dominated by motif instances. 75% of the k-mers carry
  one site sampled from a bundled JASPAR 2020 PWM of six TFs with unequal shares (FOS::JUN
  MA0099.3 .25, KLF4 MA0039.4 .15, CTCF MA0139.1 .10, GATA1 MA0035.4 .10, CEBPB MA0466.2
  .08, FOXA1 MA0148.4 .07, scaled to 1 - ``--background``), its start at the k-mer's centre
  shifted uniformly by up to ``--max-shift`` bp (the saliency peak falls on different bases
  of a motif; overhang is cut), each k-mer reverse-complemented with probability 1/2; the
  rest (``--background``, default 25%) are uniform random k-mers. Flanks are uniform.
* ``noise``: uniform random k-mers only (no structure at all; the worst case).

Per set, the full clustering runs in a child process (so ``ru_maxrss`` is its own peak):
wall and CPU time, peak RSS. Then on a seeded subsample S of ``--ari-n`` k-mers, exact
average linkage of S is the reference and the adjusted Rand index (ARI) is reported for:

* ``full run on S``: the labels the full two-stage run gave to S (what a user gets) vs
  exact clustering of S;
* ``two-stage on S``: the two-stage method run on S alone at the full run's compression
  (distinct k-mers per micro-cluster) vs exact clustering of S;
* the exact method's own stability, the ceiling any approximation can be held to: exact(S)
  vs exact clustering of the same S with ties broken in another order (Hamming distances tie
  constantly, so average linkage has many equally exact trees), vs exact clustering of S
  with 5% of the k-mers dropped (on the kept 95%), and vs exact
  clustering of S with half its k-mers replaced by others from the full set (on the shared
  half; the full run's labels come from a different sample than S in the same way).

Time is also reported as CPU seconds, because on a shared machine wall time measures the
neighbours too; the load average is printed at start and end.
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

TFS = [("MA0099.3", 0.25), ("MA0039.4", 0.15), ("MA0139.1", 0.10), ("MA0035.4", 0.10),
       ("MA0466.2", 0.08), ("MA0148.4", 0.07)]


def simulate_realistic(n: int, k: int = 20, background: float = 0.25, max_shift: int = 2,
                       seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(n, k)`` int8 base indices of motif-dominated k-mers and ``(n,)`` source (TF index in
    :data:`TFS`, ``len(TFS)`` = background); see the module docstring."""
    from wtko_captum.core.motif_db import find_motif, load_motifs

    db = load_motifs()
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, 4, size=(n, k)).astype(np.int8)
    share = np.array([w for _, w in TFS])
    share = share / share.sum() * (1 - background)
    kind = rng.choice(len(TFS) + 1, size=n, p=np.r_[share, background])
    for t, (mid, _) in enumerate(TFS):
        pwm = find_motif(db, mid)[1]
        w = pwm.shape[1]
        rows = np.flatnonzero(kind == t)
        cum = np.cumsum(pwm, axis=0)  # inverse-CDF sampling of each column
        site = (rng.random((len(rows), w))[:, None, :] > cum[None]).sum(axis=1).clip(0, 3)
        start = (k - w) // 2 + rng.integers(-max_shift, max_shift + 1, size=len(rows))
        for j in range(w):
            pos = start + j
            inside = (pos >= 0) & (pos < k)
            idx[rows[inside], pos[inside]] = site[inside, j]
    rc = rng.random(n) < 0.5
    idx[rc] = 3 - idx[rc, ::-1]
    return idx, kind


def simulate_noise(n: int, k: int = 20, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4, size=(n, k)).astype(np.int8)


def simulate(data: str, n: int, args) -> np.ndarray:
    if data == "realistic":
        return simulate_realistic(n, background=args.background, max_shift=args.max_shift, seed=args.seed)[0]
    return simulate_noise(n, seed=args.seed)


def as_strings(idx: np.ndarray) -> list[str]:
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)[idx]
    return [r.tobytes().decode() for r in letters]


def child(args) -> None:
    """Full run in this process: writes labels (.npy) and a JSON line of measurements."""
    from wtko_captum.motifs.cluster import cluster_kmers

    kmers = as_strings(simulate(args.data, args.n, args))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0, c0 = time.perf_counter(), time.process_time()
    res = cluster_kmers(kmers, args.clusters, exact_limit=args.exact_limit, seed=args.seed)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    np.save(args.labels_out, res.labels)
    print(json.dumps(dict(wall=wall, cpu=cpu, rss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                          rss_before=rss0, method=res.method, n_clusters=int(res.labels.max()),
                          n_motifs=len(res.motifs), sizes=res.table["n_kmers"].tolist())))


def evaluate(data: str, args) -> dict:
    from sklearn.metrics import adjusted_rand_score as ari

    from wtko_captum.motifs.cluster import cluster_labels

    with tempfile.TemporaryDirectory() as tmp:
        lab_path = Path(tmp) / "labels.npy"
        cmd = [sys.executable, __file__, "--child", "--data", data, "--labels-out", str(lab_path)] + [
            f"--{a.replace('_', '-')}={getattr(args, a)}" for a in
            ("n", "clusters", "exact_limit", "seed", "background", "max_shift")]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        full = json.loads(out.strip().splitlines()[-1])
        full_labels = np.load(lab_path)
    idx = simulate(data, args.n, args)
    n_unique = len(np.unique(idx, axis=0))
    rng = np.random.default_rng(args.seed + 1)
    S = rng.choice(args.n, args.ari_n, replace=False)
    exact, _ = cluster_labels(idx[S], args.clusters, exact_limit=10**9)
    m = max(2, round(args.ari_n * args.exact_limit / n_unique)) if n_unique > args.exact_limit else args.ari_n
    two, method = cluster_labels(idx[S], args.clusters, exact_limit=m, seed=args.seed)
    keep = np.sort(rng.choice(args.ari_n, int(0.95 * args.ari_n), replace=False))
    drop5, _ = cluster_labels(idx[S][keep], args.clusters, exact_limit=10**9)
    half = args.ari_n // 2
    others = rng.choice(np.setdiff1d(np.arange(args.n), S), args.ari_n - half, replace=False)
    swap, _ = cluster_labels(idx[np.r_[S[:half], others]], args.clusters, exact_limit=10**9)
    ties = cluster_labels(idx[S], args.clusters, exact_limit=10 ** 9, tie_seed=args.seed)[0]
    return dict(data=data, n_unique=n_unique, full=full, m_sub=m, method_sub=method,
                ari_full=ari(exact, full_labels[S]), ari_two=ari(exact, two), ari_ties=ari(exact, ties),
                ari_drop5=ari(exact[keep], drop5), ari_swap=ari(exact[:half], swap[:half]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=300_000)
    ap.add_argument("--data", default="realistic,noise", help="comma list of realistic, noise")
    ap.add_argument("--clusters", type=int, default=10)
    ap.add_argument("--exact-limit", type=int, default=5000)
    ap.add_argument("--ari-n", type=int, default=8000)
    ap.add_argument("--background", type=float, default=0.25)
    ap.add_argument("--max-shift", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--labels-out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    rows = [evaluate(d, args) for d in args.data.split(",")]
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"\nn = {args.n} k-mers (k = 20), --clusters {args.clusters}, exact_limit {args.exact_limit}, "
          f"ARI subsample S = {args.ari_n}")
    print("| data | distinct | method | wall s | CPU s | peak RSS MiB | ARI full run on S | "
          "ARI two-stage on S | exact self: other tie order | exact self: 5% dropped | "
          "exact self: half replaced |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        f = r["full"]
        print(f"| {r['data']} | {r['n_unique']} | {f['method']} | {f['wall']:.0f} | {f['cpu']:.0f} | "
              f"{f['rss']:.0f} | {r['ari_full']:.3f} | {r['ari_two']:.3f} ({r['m_sub']} micro-clusters) | "
              f"{r['ari_ties']:.3f} | {r['ari_drop5']:.3f} | {r['ari_swap']:.3f} |")
    for r in rows:
        print(f"{r['data']}: cluster sizes {r['full']['sizes']}")


if __name__ == "__main__":
    main()
