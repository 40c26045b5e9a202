"""Attribution speed: wtko-captum's methods next to the raw captum / tangermeme call doing the
same computation, in the same run. Not a test.

    .venv/bin/python benchmarks/attribution.py --n 512 [--threads 2] [--repeats 5] [--device cpu]

WTKO-CNN (published size, random weights, eval mode), 600 bp, seeded random sequences.
Built for a shared machine: every comparison is **interleaved** (ours, reference, ours,
reference, ... ``--repeats`` times, after a warm-up call of each), the ratio is taken within
each repeat and the table reports the **median** ratio (and the median throughputs), so load
that comes and goes hits both sides alike. The ratio is also given in process CPU time, which
other processes' load barely moves. torch threads are set explicitly (``--threads``) and the
machine load (``os.getloadavg``) is printed at the start and the end.

Slow methods run on fewer sequences (``--slow-n``, ``--ism-n``, ``--ism-baseline-n``);
throughput is per sequence either way. The DeepLIFT-SHAP floor is relative to the saliency
throughput measured in the same repeats (bound: saliency / 20, i.e. 10 references x one
forward + one backward row each).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

import torch


def _clock(fn, n):
    """``(sequences per wall second, sequences per CPU second)`` of one call of ``fn``."""
    w, c = time.perf_counter(), time.process_time()
    fn()
    w, c = time.perf_counter() - w, time.process_time() - c
    return n / w, n / max(c, 1e-9)


def interleaved(calls, repeats):
    """Run ``calls`` (a list of ``(fn, n)``) round-robin ``repeats`` times after one warm-up
    each; returns per call the lists of wall and CPU throughputs (one entry per repeat)."""
    for fn, _ in calls:
        fn()
    wall = [[] for _ in calls]
    cpu = [[] for _ in calls]
    for _ in range(repeats):
        for i, (fn, n) in enumerate(calls):
            w, c = _clock(fn, n)
            wall[i].append(w)
            cpu[i].append(c)
    return wall, cpu


def median_ratio(a, b):
    return statistics.median(x / y for x, y in zip(a, b))


def batched(fn, X, bs):
    return lambda: [fn(X[s:s + bs]) for s in range(0, len(X), bs)]


def load():
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=512, help="sequences for the fast methods")
    ap.add_argument("--slow-n", type=int, default=64, help="sequences for IG / DeepLIFT(-SHAP)")
    ap.add_argument("--ism-n", type=int, default=16, help="sequences for our ISM")
    ap.add_argument("--ism-baseline-n", type=int, default=2, help="sequences for tangermeme ISM")
    ap.add_argument("--repeats", type=int, default=5, help="interleaved repeats per comparison")
    ap.add_argument("--fast-repeats", type=int, default=15,
                    help="interleaved repeats for saliency / input x gradient / Grad-CAM (each "
                         "call is short, so their ratio needs more repeats to settle)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (0 = torch default)")
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args(argv)
    from captum.attr import (DeepLift, InputXGradient, IntegratedGradients, LayerGradCam,
                             Saliency)
    from tangermeme.deep_lift_shap import deep_lift_shap
    import tangermeme.saturation_mutagenesis as tsm

    from wtko_captum.core.device import resolve_device
    from wtko_captum.attribution.methods._references import make_references
    from wtko_captum.attribution.methods.deeplift import deeplift
    from wtko_captum.attribution.methods.deeplift_shap import deeplift_shap
    from wtko_captum.attribution.methods.grad_cam import grad_cam
    from wtko_captum.attribution.methods.input_x_gradient import input_x_gradient
    from wtko_captum.attribution.methods.integrated_gradients import integrated_gradients
    from wtko_captum.attribution.methods.saliency import saliency
    from wtko_captum.models.wtko_cnn import WTKOCNN
    from wtko_tangermeme.ism import ism

    if a.threads:
        torch.set_num_threads(a.threads)
    start_load = load()
    print(f"load average at start (1/5/15 min): {start_load}; {os.cpu_count()} CPUs; "
          f"torch threads {torch.get_num_threads()}", file=sys.stderr)
    dev = resolve_device(a.device)
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    model = WTKOCNN(input_length=600).eval().to(dev)
    X = torch.eye(4)[torch.randint(0, 4, (a.n, 600))].transpose(1, 2).contiguous()
    Xs, Xi = X[:a.slow_n], X[:a.ism_n]
    T, R, bs = 1, a.repeats, 128
    rows = []

    def on(x):
        return x.to(dev).requires_grad_()

    def compare(name, ours, n, refs, floor="", repeats=None):
        """Interleave ``ours`` with each reference call; one table row per reference."""
        calls = [(ours, n)] + [(fn, nr) for _, fn, nr in refs]
        wall, cpu = interleaved(calls, repeats or R)
        for i, (ref_name, _, nr) in enumerate(refs, start=1):
            rows.append(dict(name=name, ours=statistics.median(wall[0]), ref_name=ref_name,
                             ref=statistics.median(wall[i]), ratio=median_ratio(wall[0], wall[i]),
                             cpu_ratio=median_ratio(cpu[0], cpu[i]), n=n, n_ref=nr, floor=floor))
            r = rows[-1]
            print(f"  {name}: ours {r['ours']:.1f}/s, {ref_name} {r['ref']:.1f}/s, "
                  f"median ratio {r['ratio']:.2f} (cpu {r['cpu_ratio']:.2f})", file=sys.stderr)
        return wall, cpu

    with torch.no_grad():
        fwd = statistics.median(interleaved([(batched(lambda x: model(x.to(dev)), X, bs), a.n)],
                                            R)[0][0])

    # --- gradients: adapter overhead over the raw captum call ---
    grad_floor = dict(floor="overhead <= 10% (>= 0.91)", repeats=a.fast_repeats)
    compare("saliency", lambda: saliency(model, X, target=T, batch_size=bs, device=dev), a.n,
            [("captum Saliency", batched(lambda x: Saliency(model).attribute(
                on(x), target=T, abs=False).cpu(), X, bs), a.n)], **grad_floor)
    compare("input_x_gradient", lambda: input_x_gradient(model, X, target=T, batch_size=bs,
                                                         device=dev), a.n,
            [("captum InputXGradient", batched(lambda x: InputXGradient(model).attribute(
                on(x), target=T).cpu(), X, bs), a.n)], **grad_floor)
    compare("grad_cam", lambda: grad_cam(model, X, target=T, batch_size=bs, device=dev), a.n,
            [("captum LayerGradCam", batched(lambda x: LayerGradCam(model, model.conv1).attribute(
                on(x), target=T, relu_attributions=True).cpu(), X, bs), a.n)],
            **grad_floor)

    compare("integrated_gradients (50 steps, zero)",
            lambda: integrated_gradients(model, Xs, target=T, n_steps=50, batch_size=8, device=dev),
            a.slow_n,
            [("captum IntegratedGradients", batched(lambda x: IntegratedGradients(model).attribute(
                on(x), baselines=torch.zeros_like(x, device=dev), target=T, n_steps=50).cpu(),
                Xs, 8), a.slow_n)])
    compare("deeplift (zero; captum is not exact here)",
            lambda: deeplift(model, Xs, target=T, device=dev), a.slow_n,
            [("captum DeepLift", batched(lambda x: DeepLift(model).attribute(
                on(x), baselines=torch.zeros_like(x, device=dev), target=T).cpu(), Xs, bs),
              a.slow_n)])

    # --- DeepLIFT-SHAP: against tangermeme, and against the saliency bound, same repeats ---
    refs = make_references(Xs, "shuffle", 10, 0)
    t_ref = statistics.median(interleaved([(lambda: make_references(Xs, "shuffle", 10, 0),
                                            a.slow_n)], R)[0][0])
    wall, cpu = compare(
        "deeplift_shap (10 shuffles, exact)",
        lambda: deeplift_shap(model, Xs, target=T, n_shuffles=10, seed=0, device=dev),
        a.slow_n,
        [("tangermeme deep_lift_shap (not exact)",
          lambda: deep_lift_shap(model, Xs, target=T, references=refs, hypothetical=True,
                                 device=dev, batch_size=bs), a.slow_n),
         ("saliency / 20 (the bound)",
          lambda: saliency(model, X, target=T, batch_size=bs, device=dev), a.n / 20),
         ("deeplift_shap backend=tangermeme (exact)",
          lambda: deeplift_shap(model, Xs, target=T, reference=refs, backend="tangermeme",
                                device=dev), a.slow_n)])
    rows[-2].update(floor=">= 0.8 of the bound", n_ref=f"{a.n} (saliency)")
    bound_ratio, bound_cpu = median_ratio(wall[0], wall[2]), median_ratio(cpu[0], cpu[2])

    # --- ISM: against tangermeme's fastISM (forced) and plain batched ISM ---
    Xb = Xi[:a.ism_baseline_n]

    def fast_ism():
        old = tsm._FAST_MIN_SECONDS
        tsm._FAST_MIN_SECONDS = 0.0  # force fastISM (it falls back to plain ISM for short jobs)
        try:
            tsm.saturation_mutagenesis(model, Xb, raw_outputs=True, device=dev, batch_size=256,
                                       fast=True)
        finally:
            tsm._FAST_MIN_SECONDS = old

    compare("ism (exact, delta path)", lambda: ism(model, Xi, target=T, device=dev), a.ism_n,
            [("tangermeme fastISM (forced)", fast_ism, len(Xb)),
             ("tangermeme plain batched ISM",
              lambda: tsm.saturation_mutagenesis(model, Xb, raw_outputs=True, device=dev,
                                                 batch_size=256, fast=False), len(Xb))])
    rows[-2]["floor"] = ">= 1 (fastISM)"
    rows[-1]["floor"] = "aim >= 10"

    print(f"\nWTKO-CNN 600 bp, device {dev}, torch threads {torch.get_num_threads()}, "
          f"{a.fast_repeats} (gradients) / {R} (others) interleaved repeats (medians); load "
          f"average (1/5/15 min) at start {start_load}, at end {load()}; forward pass alone "
          f"{fwd:.0f} seq/s; dinucleotide shuffles (10/seq) {t_ref:.0f} seq/s\n")
    print("| method | ours (seq/s) | reference call | reference (seq/s) | ours / reference "
          "(median, wall) | same, CPU time | N (ours/ref) | floor |")
    print("|---|---:|---|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['name']} | {r['ours']:.1f} | {r['ref_name']} | {r['ref']:.1f} | "
              f"{r['ratio']:.2f} | {r['cpu_ratio']:.2f} | {r['n']}/{r['n_ref']} | {r['floor']} |")
    print(f"\nDeepLIFT-SHAP (exact, 10 shuffles) reaches {bound_ratio:.2f} of the bound "
          f"saliency/20 (CPU time: {bound_cpu:.2f}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
