"""wtko compare: which TF-MoDISco pattern is which saliency k-mer cluster."""
from __future__ import annotations

HELP = "pair TF-MoDISco patterns with saliency k-mer clusters (Tomtom both ways, positions, JASPAR)"
STAGE = "motifs"
DESCRIPTION = """Compare the motifs of `wtko modisco` (patterns.pfm.meme, patterns.tsv, seqlets.tsv)
with those of `wtko kmers` (clusters.meme, clusters.tsv, kmers.tsv).

Similarity is Tomtom in both directions (pattern -> cluster and cluster -> pattern), with the
JASPAR database added to the targets so the p-values have a proper null; a pattern and a
cluster are paired when each is the other's best match and q <= --q in at least one
direction. For each pair, positional agreement is the fraction of the cluster's k-mers whose
centre base lies inside a seqlet of the pattern (genome coordinates).

outputs (in -o DIR):
  similarity.tsv  pattern x cluster: p_pc q_pc offset_pc strand_pc overlap_pc (pattern as
                  query), the same _cp (cluster as query), p (weaker direction), q (better)
  pairs.tsv       pairs and unpaired motifs: found_by (both / modisco only / k-mer clusters
                  only), positional_agreement, each side's class and JASPAR matches
  jaspar.tsv      top 3 JASPAR matches of every pattern and cluster
  heatmap.png     -log10 p, patterns x clusters
  summary.md      which motifs both methods find, which only one, and their classes (a
                  motif is "enriched in" a class only where Fisher's exact test says so,
                  Benjamini-Hochberg q < --q over the motifs of its side)

per class: when both directories hold per-class runs (by_class/<class>/, written by `wtko
kmers` and `wtko modisco` when the sequences belong to several classes), each class is
compared on its own into OUT/by_class/<class>/, and summary.md adds each class's primary
motif on both sides, the pairs, and the usage warnings of either side (e.g. "the model
separates WT from KO by the presence or absence of MOTIF; no KO motif was learned: train with
--background").

example:
  wtko compare modisco/ motifs/ -o compare/
"""


def add_arguments(p):
    from wtko_captum.cli.options import add_motif_db, add_out, pvalue

    p.add_argument("modisco", help="output directory of wtko modisco")
    p.add_argument("kmers", help="output directory of wtko kmers")
    add_out(p, "output directory (replaced if it exists)")
    p.add_argument("--q", type=pvalue, default=0.05, help="q-value a pair needs (default: 0.05)")
    add_motif_db(p, "motif database for the background and JASPAR matches (default: bundled JASPAR 2020)",
                 old=("--motifs", "--db"))


def run(args) -> int:
    import logging

    from wtko_captum.motifs.compare import compare

    res = compare(args.modisco, args.kmers, args.out, motif_db=args.motif_db, q=args.q)
    logging.getLogger("wtko_captum").info("%s\nwrote %s", res.summary,
                                          ", ".join(str(p) for p in res.paths.values()))
    for w in res.warnings:
        print(f"warning: {w}")
    return 0
