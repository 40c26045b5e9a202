"""Attribution speed: wtko-captum's methods next to the raw captum / tangermeme call doing the
same computation, in the same run (issue 3 item 5). Not a test.

    .venv/bin/python benchmarks/attribution.py --n 512 [--device cpu|cuda|auto]

WTKO-CNN (published size, random weights, eval mode), 600 bp, seeded random sequences.
Prints a markdown table: sequences/second for ours and the reference call, their ratio, and
the floors from the issue. Slow methods run on fewer sequences (``--slow-n``, ``--ism-n``);
throughput is per sequence either way.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings

import torch


def timed(fn, n):
    t = time.perf_counter()
    fn()
    return n / (time.perf_counter() - t)


def batched(fn, X, bs):
    return lambda: [fn(X[s:s + bs]) for s in range(0, len(X), bs)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=512, help="sequences for the fast methods")
    ap.add_argument("--slow-n", type=int, default=64, help="sequences for IG / DeepLIFT(-SHAP)")
    ap.add_argument("--ism-n", type=int, default=16, help="sequences for our ISM")
    ap.add_argument("--ism-baseline-n", type=int, default=2, help="sequences for tangermeme ISM")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    a = ap.parse_args(argv)
    from captum.attr import (DeepLift, InputXGradient, IntegratedGradients, LayerGradCam,
                             Saliency)
    from tangermeme.deep_lift_shap import deep_lift_shap
    import tangermeme.saturation_mutagenesis as tsm

    from wtko_captum.device import resolve_device
    from wtko_captum.methods._references import make_references
    from wtko_captum.methods.deeplift import deeplift
    from wtko_captum.methods.deeplift_shap import deeplift_shap
    from wtko_captum.methods.grad_cam import grad_cam
    from wtko_captum.methods.input_x_gradient import input_x_gradient
    from wtko_captum.methods.integrated_gradients import integrated_gradients
    from wtko_captum.methods.saliency import saliency
    from wtko_captum.models.wtko_cnn import WTKOCNN
    from wtko_tangermeme.ism import ism

    if a.threads:
        torch.set_num_threads(a.threads)
    dev = resolve_device(a.device)
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    model = WTKOCNN(input_length=600).eval().to(dev)
    X = torch.eye(4)[torch.randint(0, 4, (a.n, 600))].transpose(1, 2).contiguous()
    Xs, Xi = X[:a.slow_n], X[:a.ism_n]
    T = 1
    rows = []

    def row(name, ours, ref, ref_name, n, n_ref=None, floor=""):
        rows.append((name, ours, ref, ref_name, n, n_ref or n, floor))
        print(f"  {name}: ours {ours:.1f}/s, {ref_name} {ref:.1f}/s", file=sys.stderr)

    def on(x):
        return x.to(dev).requires_grad_()

    # warm-up (first calls pay for lazy imports, numba JIT of the shuffle, allocator)
    saliency(model, X[:4], target=T, device=dev)
    make_references(X[:2], "shuffle", 2, 0)
    bs = 128
    with torch.no_grad():
        fwd = timed(batched(lambda x: model(x.to(dev)), X, bs), a.n)
    sal = timed(lambda: saliency(model, X, target=T, batch_size=bs, device=dev), a.n)
    raw = timed(batched(lambda x: Saliency(model).attribute(on(x), target=T, abs=False).cpu(), X, bs), a.n)
    row("saliency", sal, raw, "captum Saliency", a.n, floor="overhead <= 10%")
    ours = timed(lambda: input_x_gradient(model, X, target=T, batch_size=bs, device=dev), a.n)
    raw = timed(batched(lambda x: InputXGradient(model).attribute(on(x), target=T).cpu(), X, bs), a.n)
    row("input_x_gradient", ours, raw, "captum InputXGradient", a.n, floor="overhead <= 10%")
    ours = timed(lambda: grad_cam(model, X, target=T, batch_size=bs, device=dev), a.n)
    raw = timed(batched(lambda x: LayerGradCam(model, model.conv1).attribute(
        on(x), target=T, relu_attributions=True).cpu(), X, bs), a.n)
    row("grad_cam", ours, raw, "captum LayerGradCam", a.n, floor="overhead <= 10%")

    ours = timed(lambda: integrated_gradients(model, Xs, target=T, n_steps=50, batch_size=8,
                                              device=dev), a.slow_n)
    raw = timed(batched(lambda x: IntegratedGradients(model).attribute(
        on(x), baselines=torch.zeros_like(x, device=dev), target=T, n_steps=50).cpu(), Xs, 8), a.slow_n)
    row("integrated_gradients (50 steps, zero)", ours, raw, "captum IntegratedGradients", a.slow_n)
    ours = timed(lambda: deeplift(model, Xs, target=T, device=dev), a.slow_n)
    raw = timed(batched(lambda x: DeepLift(model).attribute(
        on(x), baselines=torch.zeros_like(x, device=dev), target=T).cpu(), Xs, bs), a.slow_n)
    row("deeplift (zero; captum is not exact here)", ours, raw, "captum DeepLift", a.slow_n)

    refs = make_references(Xs, "shuffle", 10, 0)
    t_ref = timed(lambda: make_references(Xs, "shuffle", 10, 0), a.slow_n)
    ours = timed(lambda: deeplift_shap(model, Xs, target=T, n_shuffles=10, random_state=0,
                                       device=dev), a.slow_n)
    tmb = timed(lambda: deeplift_shap(model, Xs, target=T, reference=refs, backend="tangermeme",
                                      device=dev), a.slow_n)
    raw = timed(lambda: deep_lift_shap(model, Xs, target=T, references=refs, hypothetical=True,
                                       device=dev, batch_size=bs), a.slow_n)
    row("deeplift_shap (10 shuffles, exact)", ours, raw, "tangermeme deep_lift_shap (not exact)",
        a.slow_n, floor=f">= 0.8 x saliency/20 = {0.8 * sal / 20:.1f}/s")
    row("deeplift_shap backend=tangermeme (exact)", tmb, raw, "tangermeme deep_lift_shap (not exact)",
        a.slow_n)

    ours = timed(lambda: ism(model, Xi, target=T, device=dev), a.ism_n)
    Xb = Xi[:a.ism_baseline_n]
    old = tsm._FAST_MIN_SECONDS
    tsm._FAST_MIN_SECONDS = 0.0  # force fastISM (it falls back to plain ISM for short jobs)
    try:
        fast = timed(lambda: tsm.saturation_mutagenesis(model, Xb, raw_outputs=True, device=dev,
                                                        batch_size=256, fast=True), len(Xb))
    finally:
        tsm._FAST_MIN_SECONDS = old
    plain = timed(lambda: tsm.saturation_mutagenesis(model, Xb, raw_outputs=True, device=dev,
                                                     batch_size=256, fast=False), len(Xb))
    row("ism (exact, local receptive field)", ours, fast, "tangermeme fastISM (forced)", a.ism_n,
        len(Xb), floor=">= fastISM; aim >= 10x plain")
    row("ism (exact, local receptive field)", ours, plain, "tangermeme plain batched ISM", a.ism_n,
        len(Xb))

    print(f"\nWTKO-CNN 600 bp, device {dev}, torch threads {torch.get_num_threads()}; "
          f"forward pass alone {fwd:.0f} seq/s; dinucleotide shuffles (10/seq) {t_ref:.0f} seq/s\n")
    print("| method | ours (seq/s) | reference call | reference (seq/s) | ours / reference | N (ours/ref) | floor |")
    print("|---|---:|---|---:|---:|---:|---|")
    for name, o, r, rn, n, nr, floor in rows:
        print(f"| {name} | {o:.1f} | {rn} | {r:.1f} | {o / r:.2f} | {n}/{nr} | {floor} |")
    print(f"\nDeepLIFT-SHAP bound saliency/20 = {sal / 20:.1f} seq/s; ours reaches "
          f"{rows[5][1] / (sal / 20):.2f} of it.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
