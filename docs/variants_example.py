"""The README's `wtko variants` example, end to end on a simulated genome (reproducible).

    .venv/bin/python docs/variants_example.py [--work variants_example] [--figure docs/variants_region.png]

1. ``wtko simulate --preset two-motif``: WT windows carry a KLF4 site, KO windows an AP-1 site,
   placed on synthetic chromosomes (``genome.fa``); ``motifs.tsv`` says where every site is.
2. ``wtko prepare`` and ``wtko train`` (a WTKO-CNN with 32 filters per layer on 300 bp windows,
   the test suite's quick setting).
3. A VCF written from the ground truth, on the held-out test chromosomes (chr6, chr7): an SNV in
   each of 6 KLF4 sites (the site's most conserved base changed to its least likely base), a
   deletion of each of 6 AP-1 sites, an insertion of a KLF4 consensus, a multi-allelic
   background SNV, a symbolic allele, and 20 background SNVs at least 60 bp from any site.
4. ``wtko variants ... --method deeplift_shap --tracks``, then ``wtko plot`` of the strongest
   SNV's ref/alt/Δ tracks (pyGenomeTracks).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

WTKO = str(Path(sys.executable).with_name("wtko"))


def sh(*args):
    print("$ wtko", " ".join(map(str, args)), flush=True)
    subprocess.run([WTKO, *map(str, args)], check=True)


def fasta(path) -> dict[str, str]:
    seqs, name = {}, None
    for line in Path(path).read_text().splitlines():
        if line.startswith(">"):
            name = line[1:].split()[0]
            seqs[name] = []
        else:
            seqs[name].append(line.strip().upper())
    return {k: "".join(v) for k, v in seqs.items()}


def write_vcf(sim: Path, out: Path, seed: int = 0) -> Path:
    from wtko_captum.core.motif_db import find_motif, load_motifs

    rng = np.random.default_rng(seed)
    g = fasta(sim / "genome.fa")
    truth = pd.read_csv(sim / "motifs.tsv", sep="\t")
    test = truth[truth["chrom"].isin(["chr6", "chr7"])]
    db = load_motifs(None)
    rows = []
    for _, r in test[test["class"] == "WT"].head(6).iterrows():
        pwm = np.asarray(db[find_motif(db, r.motif_id)[0]]).T  # (W, 4)
        col = int(np.argmax((pwm * np.log2(np.clip(pwm, 1e-9, 1) / 0.25)).sum(1)))  # most informative column
        worst = "ACGT"[int(np.argmin(pwm[col]))]
        if r.strand == "-":
            col, worst = len(pwm) - 1 - col, "ACGT"["TGCA".index(worst)]
        p = int(r.start) + col
        if g[r.chrom][p] != worst:
            rows.append((r.chrom, p + 1, f"KLF4_site_snv_{r.chrom}_{p}", g[r.chrom][p], worst))
    for _, r in test[test["class"] == "KO"].head(6).iterrows():
        ref = g[r.chrom][int(r.start) - 1:int(r.end)]
        rows.append((r.chrom, int(r.start), f"AP1_site_del_{r.chrom}_{r.start}", ref, ref[0]))
    sites = test.sort_values(["chrom", "start"])
    n_bg = 0
    while n_bg < 20:
        chrom = ["chr6", "chr7"][n_bg % 2]
        p = int(rng.integers(1000, len(g[chrom]) - 1000))
        s = sites[sites["chrom"] == chrom]
        if ((s["start"] - 60 < p) & (s["end"] + 60 > p)).any():
            continue
        rows.append((chrom, p + 1, f"background_{chrom}_{p}", g[chrom][p], "ACGT"[("ACGT".index(g[chrom][p]) + 1) % 4]))
        n_bg += 1
    p = rows[-1][1] + 200
    rows.append(("chr7", p, "KLF4_insertion", g["chr7"][p - 1], g["chr7"][p - 1] + "GGGGTGGGGC"))
    p += 300
    rows.append(("chr7", p, "background_multiallelic", g["chr7"][p - 1],
                 ",".join(b for b in "ACGT" if b != g["chr7"][p - 1])))
    rows.append(("chr7", p + 100, "symbolic", g["chr7"][p + 99], "<DEL>"))
    rows.sort(key=lambda r: (r[0], r[1]))
    lines = ["##fileformat=VCFv4.2", *[f"##contig=<ID={c},length={len(s)}>" for c, s in g.items()],
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    lines += [f"{c}\t{p}\t{i}\t{r}\t{a}\t.\tPASS\t." for c, p, i, r, a in rows]
    out.write_text("\n".join(lines) + "\n")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="variants_example", help="working directory (replaced)")
    ap.add_argument("--figure", default="docs/variants_region.png")
    ap.add_argument("--method", default="deeplift_shap")
    args = ap.parse_args(argv)
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    sh("simulate", "--preset", "two-motif", "--n", 1000, "--length", 300, "--seed", 0, "-o", work / "sim")
    sh("prepare", "--wt", work / "sim/WT.fa", "--ko", work / "sim/KO.fa", "--width", 300, "-o", work / "data")
    sh("train", work / "data", "-o", work / "model", "--epochs", 25, "--patience", 5, "--lr", 3e-3,
       "--batch-size", 32, "--accumulation", 1, "--model-option", "n_filters=32", "--model-option", "n_filters2=32",
       "--model-option", "hidden=32", "--device", "cpu")
    vcf = write_vcf(work / "sim", work / "calls.vcf")
    sh("variants", work / "model/model.pt", "--vcf", vcf, "--genome", work / "sim/genome.fa", "--method",
       args.method, "--tracks", "--ism-window", 40, "--device", "cpu", "-o", work / "var")
    scores = pd.read_csv(work / "var/scores.tsv", sep="\t")
    snv = scores[scores["kind"] == "snv"].sort_values("abs_delta", ascending=False).iloc[0]
    p = int(snv["norm_start"])
    sh("plot", work / "var/tracks.ini", "--region", f"{snv['chrom']}:{p - 30}-{p + 31}", "--no-logo",
       "--title", f"{snv['id']}: {snv['ref']}>{snv['alt']}, delta P(WT) = {snv['delta']:+.3f} ({snv['band']})",
       "--width", 24, "-o", args.figure)
    print(scores.sort_values("abs_delta", ascending=False)[["id", "kind", "p_ref", "p_alt", "delta", "band"]]
          .head(12).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
