"""NeuronMotif speed: neurons per minute and peak memory for a WTKO-CNN's second layer.

    .venv/bin/python benchmarks/neurons.py                              # a seeded, untrained WTKO-CNN
    .venv/bin/python benchmarks/neurons.py --model wtko_demo/model/model.pt --channels 8
    .venv/bin/python benchmarks/neurons.py --device cuda --channels 32  # on a GPU

Not a test. Each configuration runs :func:`wtko_captum.motifs.neurons.neurons.neurons` in a
child process (so ``ru_maxrss`` is its own peak) on the first ``--channels`` channels of
``--layer`` (default conv2, receptive field 29 bp: the genetic algorithm), its sampling seeded
from the first layer analysed in the same child (exhaustive enumeration of 4^10 windows, timed
separately). Configurations:

* ``paper-no-demixing``: the defaults of ``wtko neurons`` (20,000 samples, population 2,000,
  200 generations at most, patience 10), all samples stacked into one motif: the peer;
* ``paper``: the same with demixing, so the ratio is the cost of demixing;
* ``fast``: 5,000 samples, population 1,000, 100 generations at most (the README's comparison).

Reported: wall and CPU seconds of the layer (excluding the first layer), neurons per CPU
minute and per wall minute, peak RSS. On a shared machine wall time measures the neighbours
too, so the CPU figures are the ones to compare; the load average is printed at start and end.
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

CONFIGS = {
    "paper-no-demixing": dict(samples=20000, population=None, max_generations=200, demix=False),
    "paper": dict(samples=20000, population=None, max_generations=200, demix=True),
    "fast": dict(samples=5000, population=1000, max_generations=100, demix=True),
}


def load(args):
    import torch

    from wtko_captum.core.architecture import build_model
    from wtko_captum.core.checkpoint import load_model

    if args.model:
        return load_model(args.model)
    torch.manual_seed(0)
    return build_model("wtko_cnn", input_length=600, n_classes=2).eval()


def child(args) -> None:
    import torch

    from wtko_captum.motifs.neurons.neurons import neurons

    torch.set_num_threads(args.threads)
    model = load(args)
    cfg = CONFIGS[args.child]
    with tempfile.TemporaryDirectory() as tmp:
        neurons(model, "conv1", f"{tmp}/conv1", figures=False, seed=0, device=args.device, verbose=False)
        t0, c0 = time.perf_counter(), time.process_time()
        res = neurons(model, args.layer, None, channels=list(range(args.channels)), figures=False, seed=0,
                      device=args.device, verbose=False, seed_motifs=f"{tmp}/conv1", **cfg)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps(dict(wall=wall, cpu=cpu, rss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                          clusters=len(res.clusters), samples=int(res.summary["samples"].sum()),
                          generations=float(res.summary["generations"].mean()))))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="a checkpoint (default: a seeded, untrained WTKO-CNN of 600 bp)")
    p.add_argument("--layer", default="conv2")
    p.add_argument("--channels", type=int, default=4, help="neurons per configuration (default: 4)")
    p.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated subset of the configurations")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args)
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    print(f"{args.layer}, {args.channels} neurons, device {args.device}, {args.threads} thread(s), "
          f"model {args.model or 'untrained WTKO-CNN (seed 0)'}")
    print("| configuration | wall s | CPU s | neurons / CPU min | neurons / wall min | peak RSS MB | clusters "
          "| mean generations | CPU ratio to the peer |")
    print("|---|---|---|---|---|---|---|---|---|")
    got = {}
    for name in args.configs.split(","):
        cmd = [sys.executable, __file__, "--child", name, "--layer", args.layer, "--channels", str(args.channels),
               "--device", args.device, "--threads", str(args.threads)] + (["--model", args.model] if args.model else [])
        r = got[name] = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                                   .strip().splitlines()[-1])
        peer = got.get("paper-no-demixing")
        ratio = f"{r['cpu'] / peer['cpu']:.2f}" if peer else "-"
        n = args.channels
        print(f"| {name} | {r['wall']:.1f} | {r['cpu']:.1f} | {60 * n / r['cpu']:.2f} | {60 * n / r['wall']:.2f} "
              f"| {r['rss']:.0f} | {r['clusters']} | {r['generations']:.1f} | {ratio} |", flush=True)
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
