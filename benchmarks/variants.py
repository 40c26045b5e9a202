"""Variant-scoring speed: ``wtko variants`` next to a plain loop of two forward passes per variant
and tangermeme's ``substitution_effect``, in the same run. Not a test.

    .venv/bin/python benchmarks/variants.py [--n 2000] [--spacing 20,100,1000] [--repeats 3]
                                            [--threads 1] [--figure docs/variants_benchmark.png]

WTKO-CNN (published size: 600 bp, 64/128 filters; random weights, eval mode) on the real 1 Mb
mouse region shipped in tests/data. For each mean spacing between variants (bp), ``--n`` SNVs
are drawn at random positions of the region (seeded) and written as a VCF. Compared on the same
alleles, all giving the same Δ (checked to 1e-4 in logits):

``wtko variants``      the whole command as a user runs it (VCF parsing and checks, scoring,
                       scores.tsv, annotated.vcf.gz + index, skipped.tsv, summary plot; no ISM)
``scorer, tower``      the scoring step alone, shared-tower route (what the WTKO-CNN declares)
``scorer, batched``    the scoring step alone, plain batched forward passes (any model)
``plain loop``         per variant: fetch the window, build ref and alt, one-hot, two forward
                       passes (batch 1) -- what a user writes without a tool
``tangermeme``         tangermeme.variant_effect.substitution_effect on the reference windows
                       (one-hot built beforehand; that time is added), batched like ours

``--memory 3000,30000`` instead runs ``wtko variants`` alone, in a fresh process per size, on that
many SNVs (one per ``--spacing`` bp, the first value) and reports the peak resident memory
(streaming keeps it flat) and the whole command's variants per CPU second at that size.

Built for a shared machine: the calls run interleaved (``--repeats`` rounds after a warm-up),
each ratio is taken within a round and the median is reported, in wall and in CPU time.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
GENOME = ROOT / "tests" / "data" / "genomes" / "mouse_chr17_1Mb_region.fa"


def make_model(length=600, seed=0):
    from wtko_captum.core.architecture import build_model

    torch.manual_seed(seed)
    m = build_model("wtko_cnn", input_length=length, n_classes=2)
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm1d):
            mod.running_mean.normal_(0, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
    m.class_names = ["KO", "WT"]
    return m.eval()


def plain_model(model):
    """The same network without the tower declaration (the route any model gets)."""
    plain = torch.nn.Sequential(model)
    plain.input_length, plain.class_names = model.input_length, model.class_names
    return plain


def write_vcf(path, genome, chrom, spacing, n, seed):
    """``n`` SNVs at sorted random positions, mean spacing ``spacing`` bp, from the region's middle."""
    rng = np.random.default_rng(seed)
    size = len(genome[chrom])
    span = min(size - 2000, spacing * n)
    lo = (size - span) // 2
    pos = np.sort(rng.choice(np.arange(lo, lo + span), size=n, replace=False))
    lines = ["##fileformat=VCFv4.2", f"##contig=<ID={chrom},length={size}>",
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    for p in pos:
        ref = str(genome[chrom][int(p)]).upper()
        alt = "ACGT"[("ACGT".index(ref) + 1 + int(rng.integers(0, 3))) % 4]
        lines.append(f"{chrom}\t{p + 1}\t.\t{ref}\t{alt}\t.\t.\t.")
    Path(path).write_text("\n".join(lines) + "\n")
    return pos


def plain_loop(model, fasta, chrom, pos, alts, L):
    """Two forward passes per variant, the window fetched and encoded each time."""
    from wtko_captum.core.sequence import one_hot

    out = np.empty((len(pos), 2, 2))
    with torch.no_grad():
        for i, (p, alt) in enumerate(zip(pos, alts)):
            s = int(p) - L // 2
            ref_w = str(fasta[chrom][s:s + L]).upper()
            alt_w = ref_w[:L // 2] + alt + ref_w[L // 2 + 1:]
            out[i, 0] = model(torch.from_numpy(one_hot(ref_w))).numpy()[0]
            out[i, 1] = model(torch.from_numpy(one_hot(alt_w))).numpy()[0]
    return out


def tangermeme_effect(model, fasta, chrom, pos, alts, L, batch_size):
    from tangermeme.variant_effect import substitution_effect

    from wtko_captum.core.sequence import one_hot

    X = torch.from_numpy(one_hot([str(fasta[chrom][int(p) - L // 2:int(p) - L // 2 + L]).upper() for p in pos]))
    subs = torch.tensor([[i, L // 2, "ACGT".index(a)] for i, a in enumerate(alts)])
    res = substitution_effect(model, X, subs, batch_size=batch_size, device="cpu")
    return np.stack([res.y_before.numpy(), res.y_after.numpy()], axis=1)


def clock(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w, time.process_time() - c, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="SNVs per spacing")
    ap.add_argument("--spacing", default="20,100,1000", help="mean bp between variants (comma-separated)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--figure", default=None, help="write a bar chart of variants/s here (PNG)")
    ap.add_argument("--json", default=None, help="write the numbers here")
    ap.add_argument("--memory", default=None, help="comma-separated numbers of SNVs for the peak-memory runs")
    args = ap.parse_args(argv)
    if args.memory:
        return memory([int(n) for n in args.memory.split(",")], args)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.WARNING)

    import pyfaidx

    from wtko_captum.variants._vcf import VcfReader, split_record
    from wtko_captum.variants._windows import CheckOptions, Windows
    from wtko_captum.variants._score import Scorer
    from wtko_captum.variants.variants import variants

    L = 600
    model = make_model(L)
    plain = plain_model(model)
    fasta = pyfaidx.Fasta(str(GENOME), as_raw=True)
    chrom = next(iter(fasta.keys()))
    print(f"load average {os.getloadavg()[0]:.2f}; torch threads {torch.get_num_threads()}; "
          f"WTKO-CNN {L} bp; {args.n} SNVs per spacing; {args.repeats} interleaved repeats", flush=True)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        genome = Windows(GENOME, L)
        for spacing in [int(s) for s in args.spacing.split(",")]:
            vcf = tmp / f"s{spacing}.vcf"
            pos = write_vcf(vcf, fasta, chrom, spacing, args.n, seed=spacing)
            reader = VcfReader(vcf)
            alleles = []
            for index, line, rec in reader.records():
                r = split_record(index, line, rec, vcf)
                genome.check(r, CheckOptions(), vcf)
                alleles += r.alleles
            alts = [a.nalt for a in alleles]
            calls = {
                "wtko variants": lambda: variants(model, vcf, GENOME, tmp / "out", ism_window=0, top=0,
                                                  batch_size=args.batch_size, device="cpu"),
                "scorer, tower": lambda: Scorer(model, genome, torch.device("cpu"), args.batch_size, False)(alleles),
                "scorer, batched": lambda: Scorer(plain, genome, torch.device("cpu"), args.batch_size,
                                                  False)(alleles),
                "plain loop": lambda: plain_loop(model, fasta, chrom, pos, alts, L),
                "tangermeme substitution_effect": lambda: tangermeme_effect(model, fasta, chrom, pos, alts, L,
                                                                            args.batch_size),
            }
            # correctness first: every route gives the plain loop's logits
            want = plain_loop(model, fasta, chrom, pos, alts, L)
            for name in ("scorer, tower", "scorer, batched"):
                ref, alt = calls[name]()
                err = max(np.abs(ref - want[:, 0]).max(), np.abs(alt - want[:, 1]).max())
                assert err < 1e-4, (name, err)
            tm = calls["tangermeme substitution_effect"]()
            assert np.abs(tm - want).max() < 1e-4
            wall = {k: [] for k in calls}
            cpu = {k: [] for k in calls}
            for _ in range(args.repeats):
                for name, fn in calls.items():
                    w, c, _ = clock(fn)
                    wall[name].append(args.n / w)
                    cpu[name].append(args.n / max(c, 1e-9))
            base_w, base_c = wall["plain loop"], cpu["plain loop"]
            for name in calls:
                row = dict(spacing=spacing, call=name, n=args.n,
                           variants_per_s=statistics.median(wall[name]),
                           variants_per_cpu_s=statistics.median(cpu[name]),
                           vs_plain_wall=statistics.median(a / b for a, b in zip(wall[name], base_w)),
                           vs_plain_cpu=statistics.median(a / b for a, b in zip(cpu[name], base_c)))
                results.append(row)
                print(f"spacing {spacing:>5} bp  {name:<32} {row['variants_per_s']:8.0f} variants/s  "
                      f"x{row['vs_plain_wall']:.2f} wall  x{row['vs_plain_cpu']:.2f} CPU vs plain loop", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    if args.figure:
        plot(results, args.figure, args)
    return 0


_MEMORY_RUN = """
import resource, sys, time, torch
sys.path.insert(0, {bench!r})
torch.set_num_threads({threads})
from variants import make_model, GENOME
from wtko_captum.variants.variants import variants
model = make_model(600)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.process_time()
variants(model, {vcf!r}, GENOME, {out!r}, ism_window=0, top=0, device="cpu")
print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.process_time() - t)
"""


def memory(sizes, args) -> int:
    """Peak RSS of ``wtko variants`` on VCFs of ``sizes`` SNVs, one fresh process each."""
    import subprocess

    import pyfaidx

    fasta = pyfaidx.Fasta(str(GENOME), as_raw=True)
    chrom = next(iter(fasta.keys()))
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            vcf = Path(tmp) / f"m{n}.vcf"
            write_vcf(vcf, fasta, chrom, int(args.spacing.split(",")[0]), n, seed=n)
            code = _MEMORY_RUN.format(bench=str(Path(__file__).parent), threads=args.threads, vcf=str(vcf),
                                      out=str(Path(tmp) / f"out{n}"))
            res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            before, peak, cpu = res.stdout.split()
            print(f"{n:>8} SNVs: peak RSS {int(peak) / 1024:.0f} MiB (after loading {int(before) / 1024:.0f} MiB), "
                  f"{n / float(cpu):.0f} variants per CPU second", flush=True)
    return 0


def plot(results, path, args):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    spacings = sorted({r["spacing"] for r in results})
    names = list(dict.fromkeys(r["call"] for r in results))
    fig = Figure(figsize=(9, 3.8), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    width = 0.8 / len(names)
    colours = ["#b2182b", "#ef8a62", "#fddbc7", "#999999", "#2166ac"]
    for j, name in enumerate(names):
        vals = [next(r["variants_per_cpu_s"] for r in results if r["spacing"] == s and r["call"] == name)
                for s in spacings]
        bars = ax.bar(np.arange(len(spacings)) + (j - (len(names) - 1) / 2) * width, vals, width, label=name,
                      color=colours[j % len(colours)], edgecolor="black", lw=0.4)
        for b, s in zip(bars, spacings):
            ratio = next(r["vs_plain_cpu"] for r in results if r["spacing"] == s and r["call"] == name)
            ax.text(b.get_x() + b.get_width() / 2, b.get_height(), f"{ratio:.1f}x", ha="center", va="bottom",
                    fontsize=6.5)
    ax.set_xticks(range(len(spacings)), [f"1 SNV per {s} bp" for s in spacings])
    ax.set_ylabel("variants per CPU second")
    ax.set_title(f"WTKO-CNN 600 bp, {args.n} SNVs on the 1 Mb mouse region, CPU, {args.threads} thread(s); "
                 "labels: ratio to the plain loop", fontsize=8.5)
    ax.legend(fontsize=7, frameon=False, ncol=2)
    fig.savefig(path, bbox_inches="tight")


if __name__ == "__main__":
    sys.exit(main())
