"""wtko variants: the effect of every variant of a VCF on the model's prediction."""
from __future__ import annotations

HELP = "variant effects from a VCF: Δ prediction (alt − ref), annotated VCF, ref/alt/Δ attribution tracks"
STAGE = "explain"
DESCRIPTION = """Score every ALT allele of a VCF with a trained model: the model is run on the
window centred on the variant with the reference allele and with the alternative allele, and
the effect is

  Δ = P(alt) − P(ref)   of the target class (softmax probability; the task's own sigmoid
                        for a multi-task model or one output)

with the log-odds Δ, the Δ of the raw output (logit) and of every class's probability, and a
band: strong |Δ| > 0.5, moderate |Δ| >= 0.2, weak below (--strong, --moderate).

Records: plain or bgzipped VCF (not plain gzip: htslib reads only BGZF), with or without a
tabix/CSI index; --region reads only the records whose POS lies inside (0-based half-open
like BED: chr1:1000-2000 is bcftools' chr1:1001-2000). Multi-allelic records are split per ALT. Alleles are normalised (trimmed and
left-aligned) first. Insertions and deletions are scored by replacement with the window
re-centred on the new allele (--indels skip lists them instead). Symbolic (<DEL>), breakend
and '*' alleles are listed in skipped.tsv with the reason. REF must match the genome (an error
naming the record, unless --skip-ref-mismatch); a chromosome missing from the genome is an
error that names the chr-prefix fix (or --skip-unknown-chroms). Windows past a chromosome end
are N-padded (--drop-edge skips them). The VCF is streamed: memory stays flat.

outputs (in -o DIR):
  scores.tsv          one row per scored allele: chrom, pos, id, ref, alt, the normalised
                      allele, window start (0-based), target, out_ref/out_alt/delta_out,
                      p_ref/p_alt/delta, logodds_delta, abs_delta, band, and p_ref_<class>,
                      p_alt_<class>, delta_<class> for every class
  annotated.vcf.gz    every input record, INFO WTKO_DELTA, WTKO_LOGODDS, WTKO_BAND, WTKO_PREF,
  (+ .tbi)            WTKO_PALT, WTKO_DOUT, WTKO_D_<class>, WTKO_SKIP (one value per ALT);
                      bgzipped and tabix-indexed (when the input is sorted)
  skipped.tsv         every allele not scored, with the reason
  summary.png         histogram of Δ with the bands, and the top variants
  ism/                in-silico mutagenesis heatmaps (Δ P of every substitution) around the
                      --top variants, --ism-window bases wide (0: none), and ism.tsv
  attr/<method>/{ref,alt,delta}/   with --method: attributions of the top variants'
                      reference and alternative windows (AttributionSets; alt and Δ in the
                      reference window's genome coordinates)
  tracks/, tracks.ini, igv_session.xml   with --tracks: <method>.{ref,alt,delta}.projected.bw,
                      variants.bed (coloured by band), a pyGenomeTracks ini and an IGV session
  meta.json           parameters, counts, the scoring route

examples:
  wtko variants model/model.pt --vcf calls.vcf.gz --genome mm10.fa -o var/
  wtko variants model/model.pt --vcf calls.vcf.gz --genome mm10.fa --method deeplift_shap \\
                --tracks --ism-window 40 -o var/
  wtko variants model/model.pt --vcf calls.vcf.gz --genome mm10.fa --region chr17:64000000-65000000 \\
                --target diff --rc-average -o var/
  wtko plot var/tracks.ini --region chr17:64500100-64500160 -o variant.png
"""


def add_arguments(p):
    from wtko_captum.cli.options import (add_batch_size, add_device, add_out, add_seed, positive_int, nonneg_int,
                                         probability)

    p.add_argument("model", help="checkpoint written by `wtko train` (model.pt)")
    p.add_argument("--vcf", required=True, help="VCF, plain or bgzipped (.vcf, .vcf.gz), indexed or not")
    p.add_argument("--genome", required=True,
                   help="the genome the VCF was called on: FASTA (plain, bgzip or gzip) or .2bit")
    add_out(p, "output directory (replaced if it exists)")
    p.add_argument("--region", help="only records with POS inside chrom or chrom:start-end (0-based half-open)")
    p.add_argument("--target", default=None,
                   help="class Δ is measured on: a name (WT, KO) or index, pred (each variant's class "
                        "predicted on its reference window) or diff (logit WT − logit KO; Δ of P(WT)) "
                        "(default: the last class, WT for a KO/WT model)")
    p.add_argument("--rc-average", action="store_true",
                   help="average each window's logits with its reverse complement's")
    p.add_argument("--indels", default="score", choices=["score", "skip"],
                   help="insertions/deletions: score by replacement with the window re-centred, or skip "
                        "(default: score)")
    p.add_argument("--skip-ref-mismatch", action="store_true",
                   help="list records whose REF differs from the genome in skipped.tsv instead of stopping")
    p.add_argument("--skip-unknown-chroms", action="store_true",
                   help="list records on chromosomes the genome lacks in skipped.tsv instead of stopping")
    p.add_argument("--drop-edge", action="store_true",
                   help="skip variants whose window crosses a chromosome end (default: N-pad it)")
    p.add_argument("--strong", type=probability, default=0.5, help="|Δ| above this is strong (default: 0.5)")
    p.add_argument("--moderate", type=probability, default=0.2,
                   help="|Δ| at or above this is moderate (default: 0.2)")
    g = p.add_argument_group("explaining the top variants")
    g.add_argument("--top", type=nonneg_int, default=10,
                   help="how many variants (largest |Δ|) get ISM heatmaps and attributions (default: 10)")
    g.add_argument("--ism-window", type=nonneg_int, default=40,
                   help="bases around each top variant mutated for the ISM heatmap (default: 40; 0: none)")
    g.add_argument("--method", "--attribute", dest="method", default=None,
                   help="comma-separated attribution methods for the top variants' ref/alt/Δ "
                        "(any registered method; see `wtko plugins`)")
    g.add_argument("--tracks", action="store_true",
                   help="write the attributions as bigWig tracks + variants BED, tracks.ini and an IGV session")
    g.add_argument("--n-shuffles", type=positive_int, help="dinucleotide-shuffled references (deeplift_shap)")
    g.add_argument("--n-steps", type=positive_int, help="integration steps (integrated_gradients)")
    g.add_argument("--reference", help="reference/baseline: zero or shuffle (deeplift, integrated_gradients)")
    g.add_argument("--layer", help="layer name for layer methods (grad_cam)")
    add_batch_size(p, what="windows per forward pass")
    p.add_argument("--chunk-size", type=positive_int, default=2048,
                   help="alleles read and scored per step (memory; default: 2048)")
    add_device(p)
    add_seed(p)


def run(args) -> int:
    import logging

    from wtko_captum.cli.options import split_list
    from wtko_captum.variants.variants import variants

    target = args.target
    if target is not None and target.lstrip("-").isdigit():
        target = int(target)
    options = {"n_shuffles": args.n_shuffles, "n_steps": args.n_steps, "reference": args.reference,
               "layer": args.layer}
    result = variants(
        args.model, args.vcf, args.genome, args.out, target=target, region=args.region,
        rc_average=args.rc_average, indels=args.indels, skip_ref_mismatch=args.skip_ref_mismatch,
        skip_unknown_chroms=args.skip_unknown_chroms, drop_edge=args.drop_edge, strong=args.strong,
        moderate=args.moderate, methods=split_list(args.method), tracks=args.tracks, top=args.top,
        ism_window=args.ism_window, options=options, batch_size=args.batch_size, chunk_size=args.chunk_size,
        device=args.device, seed=args.seed, verbose=not args.quiet)
    log = logging.getLogger("wtko_captum")
    for row in result.top[:5]:
        log.info("  %-40s %-9s Δ %+.3f  %s", row["label"], row["kind"], row["delta"], row["band"])
    if result.skipped:
        log.info("skipped: %s (see skipped.tsv)", ", ".join(f"{n} {r}" for r, n in sorted(result.skipped.items())))
    return 0
