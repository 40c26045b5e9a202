"""Motifs of both classes, before and after a background class: the measurement behind the README.

For each dataset and seed, two runs that differ only in ``wtko prepare --background``:

* before: WT vs KO only (the published two-class model);
* after: ``--background shuffle`` (dinucleotide shuffles of the peaks as a third class).

Each run: prepare -> train -> evaluate -> attribute (saliency and DeepLIFT-SHAP, target
``class-vs-background``; on the two-class model that is each class against the other) ->
per-class k-mer clusters and per-class TF-MoDISco-lite (``find_by_class``, with the usage
check) -> which expected motif family each class's motifs match (Tomtom best match, q < 0.05).

Datasets:

* ``pair``: a planted dominant/weak pair (``wtko simulate --preset two-motif --motifs
  CTCF,GATA1``): CTCF (19 bp, 17 bits) in every WT sequence, GATA1 (11 bp, 10 bits) in a
  fraction of the KO sequences (``--ko-frequency``, default 1), uniform background, 200 bp;
* ``oct4``: real Oct4 vs MafK ChIP-seq peaks, 200 bp: Oct4 (POU5F1/SOX2 octamer) vs MafK
  (MARE). By default the bundled sample (tests/data/sequences/oct4_mafk_small, 100 + 100,
  janggu's test set: random splits, motifs looked for in all 200); with ``--oct4-fasta
  sample.fa --mafk-fasta sample2.fa`` janggu's full sets (3,897 + 3,900; ``pip download
  janggu==0.10.2 --no-deps`` and unzip ``janggu/resources/sample.fa``, ``sample2.fa``; GPL-3):
  chromosome splits, motifs looked for in the test chromosomes (chr6, chr7).

Run (one core; heavy: nice it)::

    nice -n 10 python benchmarks/classes.py --dataset pair --seeds 0,1,2 -o /tmp/classes_pair
    nice -n 10 python benchmarks/classes.py --dataset pair --ko-frequency 0.5 --seeds 0 -o /tmp/classes_pair05
    nice -n 10 python benchmarks/classes.py --dataset oct4 --seeds 0,1,2 -o /tmp/classes_oct4

Prints one row per dataset x seed x condition and writes ``results.json``.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = {
    "pair": {"WT": re.compile(r"^CTCF$"), "KO": re.compile(r"^GATA1$")},
    "oct4": {"Oct4": re.compile(r"(?:POU|SOX)", re.I), "MafK": re.compile(r"(?:MAF|NFE2|BACH)", re.I)},
}


def _data(dataset: str, root: Path, seed: int, n: int, background, ko_frequency: float, oct4_fasta=None,
          mafk_fasta=None):
    from wtko_captum.preparation.prepare import prepare
    from wtko_captum.preparation.simulate import simulate

    if dataset == "pair":
        sim = simulate("two-motif", root / "sim", n=n, length=200, seed=seed, motifs="CTCF,GATA1",
                       frequencies=(1.0, ko_frequency))
        prepare(root / "data", wt=[sim["wt"]], ko=[sim["ko"]], width=200, seed=seed, background=background or "drop")
        return "all"  # motifs looked for in every sequence (accuracy: the test split)
    if oct4_fasta is None:  # the bundled sample: 200 sequences, motifs looked for in all of them
        src = ROOT / "tests" / "data" / "sequences" / "oct4_mafk_small"
        prepare(root / "data", wt=[src / "oct4.fa"], ko=[src / "mafk.fa"], width=200, seed=seed,
                background=background or "drop", class_names=("MafK", "Oct4"), split="random", test_fraction=0.2,
                val_fraction=0.15)
        return "all"
    # janggu's full sets (hg19 coordinates): chromosome splits, motifs in the held-out chromosomes
    prepare(root / "data", wt=[oct4_fasta], ko=[mafk_fasta], width=200, seed=seed, background=background or "drop",
            class_names=("MafK", "Oct4"))
    return "test"


def _found(result, cls, family) -> str:
    """The best-matching motif of ``cls`` in ``family`` (q < 0.05), as 'rank name', or '-'."""
    sub = result.motifs_of(cls)
    sub = sub[(sub["jaspar_q"] < 0.05) & sub["jaspar_name"].astype(str).str.contains(family)]
    if not len(sub):
        return "-"
    r = sub.iloc[0]
    return f"{r['rank']} {r['jaspar_name']}"


def run_one(dataset: str, root: Path, seed: int, background, n: int, epochs: int, ko_frequency: float = 1.0,
            oct4_fasta=None, mafk_fasta=None) -> dict:
    import torch

    from wtko_captum.attribution.attribute_prepared import attribute_prepared
    from wtko_captum.core.registry import get_registry
    from wtko_captum.motifs.classes import find_by_class
    from wtko_captum.training.evaluate import evaluate
    from wtko_captum.training.train import train

    torch.set_num_threads(1)
    t0 = time.process_time()
    split = _data(dataset, root, seed, n, background, ko_frequency, oct4_fasta, mafk_fasta)
    model = train(root / "data", root / "model", seeds=(seed,), epochs=epochs, patience=6, batch_size=32,
                  accumulation=1, lr=3e-3, device="cpu", verbose=False,
                  model_options=dict(n_filters=32, n_filters2=32, hidden=32))
    met = evaluate(model, root / "data", root / "eval", split="test", device="cpu")
    attr = attribute_prepared(model, root / "data", root / "attr", ["saliency", "deeplift_shap"], split=split,
                              target="class-vs-background", seed=seed, options=dict(n_shuffles=10))
    km = find_by_class("kmers", attr["saliency"], root / "kmers", n_clusters=10, seed=seed)
    md = None
    if "modisco" in get_registry().names("motif_finders"):
        md = find_by_class("modisco", attr["deeplift_shap"], root / "modisco", seed=seed, report=False,
                           min_metacluster_size=50, final_min_cluster_size=10)
    row = {"dataset": dataset, "ko_frequency": ko_frequency if dataset == "pair" else None, "seed": seed, "background": background or "none",
           "accuracy": met["accuracy"], "wt_vs_ko_auroc": (met.get("contrast") or {}).get("auroc", met["auroc"]),
           "cpu_seconds": round(time.process_time() - t0, 1), "warning_kmers": km.warning,
           "warning_modisco": md.warning if md else None, "classes": {}}
    for cls, family in FAMILIES[dataset].items():
        p = km.primary(cls)
        effect = km.table.loc[km.table["class"] == cls, f"effect_{cls}"].max() if f"effect_{cls}" in km.table else None
        row["classes"][cls] = {
            "kmers_primary": f"{p['consensus']} ({p['jaspar_name']}, q={p['jaspar_q']:.2g})" if p is not None else "-",
            "kmers_found": _found(km, cls, family), "modisco_found": _found(md, cls, family) if md else "n/a",
            "best_usage_effect": None if effect is None else round(float(effect), 2),
        }
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", choices=sorted(FAMILIES), required=True)
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--n", type=int, default=600, help="sequences per class (pair)")
    ap.add_argument("--epochs", type=int, default=25)
    ap.add_argument("--ko-frequency", type=float, default=1.0,
                    help="fraction of KO sequences carrying GATA1 (pair; default 1)")
    ap.add_argument("--oct4-fasta", help="oct4: janggu's full Oct4 set (sample.fa) instead of the bundled sample")
    ap.add_argument("--mafk-fasta", help="oct4: janggu's full MafK set (sample2.fa)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        for background in (None, "shuffle"):
            row = run_one(args.dataset, out / f"seed{seed}_{background or 'none'}", seed, background, args.n,
                          args.epochs, args.ko_frequency, args.oct4_fasta, args.mafk_fasta)
            rows.append(row)
            cls = "; ".join(f"{c}: k-mers {v['kmers_found']}, modisco {v['modisco_found']}, "
                            f"best effect {v['best_usage_effect']}" for c, v in row["classes"].items())
            print(f"{row['dataset']} (KO frequency {row['ko_frequency']}) seed {seed} background={row['background']}: accuracy {row['accuracy']:.3f}, "
                  f"WT-vs-KO auROC {row['wt_vs_ko_auroc']:.3f}; {cls}; warning: {row['warning_kmers'] or '-'} "
                  f"({row['cpu_seconds']} s CPU)", flush=True)
            (out / "results.json").write_text(json.dumps(rows, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
