"""A real bound-vs-unbound example (AgentBind's task) from the bundled NFE2 data.

    .venv/bin/python benchmarks/bound_unbound_nfe2.py -o nfe2_bench/ [--seeds 5]

The package ships real ENCODE GM12878 NFE2 ChIP-seq data (``wtko_captum/data/nfe2_gm12878``):
713 bound regions and 713 unbound control regions of ~235 bp, with their hg19 coordinates,
and no genome. This script

1. lays the regions of each chromosome out in hg19 order on one sequence per chromosome, 500 N
   between neighbours (``genome.fa``), and writes the bound regions' intervals on it
   (``bound.bed``): a genome made of real sequence where every base is either in an NFE2 peak
   or in an unbound control region;
2. runs ``wtko prepare --motif-instances`` for the NFE2 motif (JASPAR MA0841.1): every FIMO
   instance at p < 1e-3, bound if it lies in a peak, 100 bp windows (no N allowed, so a window
   never reaches the spacers), split into seeded fractions (30% test, 15% validation) of
   clusters of overlapping windows (the held-out chromosomes 6-8 hold too few instances for a
   test set), bound and unbound matched on -log10 p bins of 0.1 within each split: under
   ``core`` the instance is left in place, under ``masked`` it is replaced by N, and
   ``masked+gc`` also matches GC bins of 0.1;
3. trains a small WTKO-CNN per condition and seed and reports the test auROC (mean ± sd), and
   on the ``core`` data explains the test windows with Grad-CAM and runs AgentBind's 5-mer
   enrichment with the core excluded.

Because matching leaves equal motif strength in both classes, a test auROC above 0.5 says the
flanks around the instance carry the binding signal, which is AgentBind's question.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
NFE2 = ROOT / "wtko_captum" / "data" / "nfe2_gm12878"
PREFIX = "wgEncodeSydhTfbsGm12878Nfe2hStdAlnRep0"
GAP = 500
CONDITIONS = {"core": dict(mask_core=False), "masked": dict(mask_core=True),
              "masked+gc": dict(mask_core=True, match_gc=True, gc_bin=0.1)}


def build_genome(out: Path) -> tuple[Path, Path]:
    """``genome.fa`` and ``bound.bed`` from the bundled bound and unbound regions."""
    from wtko_captum.core.dataset import read_fasta_records

    by_chrom = defaultdict(list)
    for suffix, bound in ((".tr.fa", True), (".test.fa", True), (".neg.tr.fa", False), (".neg.test.fa", False)):
        for header, seq in read_fasta_records(NFE2 / f"{PREFIX}{suffix}"):
            chrom, span = header.split(":")
            by_chrom[chrom].append((int(span.split("-")[0]), seq, bound))
    out.mkdir(parents=True, exist_ok=True)
    fa, bed = out / "genome.fa", out / "bound.bed"
    with open(fa, "w") as g, open(bed, "w") as b:
        for chrom in sorted(by_chrom, key=lambda c: (len(c), c)):
            parts, pos = ["N" * GAP], GAP
            for start, seq, bound in sorted(by_chrom[chrom]):
                if bound:
                    b.write(f"{chrom}\t{pos}\t{pos + len(seq)}\thg19:{start}\n")
                parts += [seq, "N" * GAP]
                pos += len(seq) + GAP
            s = "".join(parts)
            g.write(f">{chrom}\n" + "\n".join(s[i:i + 60] for i in range(0, len(s), 60)) + "\n")
    return fa, bed


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-o", "--out", type=Path, required=True)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--epochs", type=int, default=30)
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    from wtko_captum.attribution.attribute_prepared import attribute_prepared
    from wtko_captum.core.checkpoint import load_model
    from wtko_captum.core.dataset import load_prepared
    from wtko_captum.motifs.enrich import enrich
    from wtko_captum.preparation.motif_instances import prepare_motif_instances
    from wtko_captum.training.train import evaluate_split, train

    fa, bed = build_genome(args.out)
    rows, results = [], {}
    for name, opts in CONDITIONS.items():
        data_dir = args.out / f"data_{name}"
        res = prepare_motif_instances(data_dir, "MA0841.1", bed, fa, width=100, pvalue=1e-3, pvalue_bin=0.1,
                                      test_chroms=(), val_chroms=(), test_fraction=0.3, val_fraction=0.15,
                                      seed=0, **opts)
        data = load_prepared(data_dir)
        counts = {s: int((data.regions["split"] == s).sum()) for s in ("train", "val", "test")}
        aurocs = []
        for seed in range(args.seeds):
            model_path = train(data_dir, args.out / f"model_{name}" / f"seed_{seed}", seeds=(seed,),
                               epochs=args.epochs, patience=8, batch_size=32, accumulation=1, device="cpu",
                               verbose=False, model_options=dict(n_filters=32, n_filters2=32, hidden=32))
            model = load_model(model_path)
            aurocs.append(evaluate_split(model, data.split("test"), torch.device("cpu"))["auroc"])
        inst = res.instances
        results[name] = dict(counts=counts, n_instances=len(inst), n_bound=int(inst["label"].sum()),
                             auroc=aurocs, mean=float(np.mean(aurocs)), sd=float(np.std(aurocs, ddof=1)))
        rows.append(f"| {name} | {len(inst)} ({int(inst['label'].sum())} bound) | {counts['train']} / "
                    f"{counts['val']} / {counts['test']} | {np.mean(aurocs):.3f} ± {np.std(aurocs, ddof=1):.3f} |")
    # Grad-CAM on the core data, then AgentBind's 5-mer enrichment without the core
    model_path = args.out / "model_core" / "seed_0" / "model.pt"
    attr = attribute_prepared(model_path, args.out / "data_core", args.out / "attr", ["grad_cam"], split="all",
                              target=1, device="cpu")
    kmers = enrich(args.out / "data_core", args.out / "kmers5", split="all", kmer_k=5, attr=attr["grad_cam"],
                   kmer_positive=1, exclude_core=True).kmers
    results["kmers5_top"] = kmers.head(10).to_dict(orient="records")
    (args.out / "results.json").write_text(json.dumps(results, indent=2, default=float) + "\n")
    print("| data | instances (p < 1e-3) | train / val / test windows | test auROC (mean ± sd, "
          f"{args.seeds} seeds) |\n|---|---|---|---|")
    print("\n".join(rows))
    print("\ntop 5-mers by Fisher p (Grad-CAM, bound windows, core excluded):")
    print(kmers.head(10)[["kmer", "n_top", "n_total", "odds_ratio", "p_value", "q_value"]].to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
