"""wtko kmers: the WTKO paper's saliency k-mers and their agglomerative clusters."""
from __future__ import annotations

HELP = "saliency k-mers (top positions per sequence) and their agglomerative clusters as motifs"
STAGE = "motifs"
DESCRIPTION = """Cut k-mers around the highest-scoring positions of every sequence of an
attribution directory (the WTKO paper's rule: top 3 positions by max|attribution| over the 4
bases, 20 bp centred on each, N-padded at the window edges; the peak sits at 0-based offset
k//2 of its k-mer), cluster them (5-channel one-hot A,C,G,T,N, cosine distance, average
linkage) and build one motif per cluster of at least --min-cluster-size k-mers.

Outputs in OUT/:
  kmers.tsv       one row per k-mer: seq_index name chrom start end strand position rank
                  score kmer label prediction pad_left pad_right cluster align_shift
                  align_strand (start/end: the k-mer's genome interval, 0-based half-open)
  kmers.bed       BED6+ of the k-mers (the bases taken from the window), name = cluster
  clusters.tsv    one row per cluster (largest = primary): size, consensus, core motif, IC
  clusters.meme   the core motifs (MEME v4) -> wtko tomtom, MEME suite
  alignment.tsv   aligned vs unaligned core motifs: IC and best JASPAR matches (Tomtom)
  logos/clusterC.png, fasta/clusterC.fa (k-mers for de novo MEME), meme/clusterC/ if
  `meme` is on PATH

Honest clusters: a k-mer that matches no cluster better than 99% of random k-mers do
(log-odds against the cluster's aligned members, itself left out; --noise-alpha 0.01) is
unassigned (cluster 0, "unassigned" in kmers.bed) and in no motif; clusters.tsv counts each
cluster's k-mers per class (n_<class>) and says "enriched_in" a class only where Fisher's
exact test is significant (Benjamini-Hochberg q < 0.05 over clusters x classes).

Per class (--by-class, the default when the sequences belong to two or more classes): the
same k-mer clustering on each class's sequences alone, in OUT/by_class/<class>/, with each
class's primary (largest) and secondary motifs, their JASPAR matches and a usage check (each
motif inserted into dinucleotide-shuffled sequences: which class's log-odds it raises) in
OUT/classes.tsv, classes.meme, usage.tsv, classes.md. When one class has no motif the model
responds to, it says so: "the model separates WT from KO by the presence or absence of MOTIF;
no KO motif was learned: train with --background". Attribute with --target
class-vs-background for each class's own motifs.

example:
  wtko kmers attr/saliency -o motifs/
  wtko kmers attr/saliency -o motifs/ --min-distance 10 --clusters 6
  wtko kmers attr/deeplift_shap -o motifs_dls/ --score projected --distance-threshold 0.6
"""


def add_arguments(p):
    from wtko_captum.cli.options import (add_by_class, add_motif_db, add_out, add_seed, bounded, nonneg_int,
                                         positive_int)

    p.add_argument("attributions", help="attribution directory (wtko attribute output, e.g. attr/saliency)")
    add_out(p, "output directory")
    g = p.add_argument_group("k-mers")
    g.add_argument("--k", type=positive_int, default=20, help="k-mer length in bp (default: 20)")
    g.add_argument("--top", type=positive_int, default=3, help="saliency peaks per sequence (default: 3)")
    g.add_argument("--min-distance", type=nonneg_int, default=0,
                   help="minimum bp between two peaks of a sequence (default: 0 = published rule; "
                        "--min-distance K gives non-overlapping k-mers)")
    g.add_argument("--score", choices=["maxabs", "projected", "abs_projected"], default="maxabs",
                   help="per-position score (default: maxabs, the paper's max|gradient|)")
    g = p.add_argument_group("clustering")
    cut = g.add_mutually_exclusive_group()
    cut.add_argument("--clusters", type=positive_int, default=None, help="number of clusters (default: 10)")
    cut.add_argument("--distance-threshold", type=bounded(float, 0, 1, lo_open=True), default=None,
                     help="cut the tree at this cosine distance instead (fraction of mismatched positions)")
    g.add_argument("--no-align", action="store_true",
                   help="build matrices from the k-mers as cut (the paper) instead of aligning them "
                        "by shift and strand")
    g.add_argument("--min-cluster-size", type=positive_int, default=10,
                   help="smallest cluster turned into a motif (default: 10)")
    g.add_argument("--exact-limit", type=positive_int, default=5000,
                   help="most distinct k-mers clustered exactly; above: two-stage (default: 5000)")
    g.add_argument("--noise-alpha", type=bounded(float, 0, 1, lo_open=True, hi_open=True), default=0.01,
                   help="the noise bin: unassign k-mers matching no cluster better than this fraction of random "
                        "k-mers do (default: 0.01)")
    g.add_argument("--no-noise-bin", action="store_true", help="keep every k-mer in a cluster (the paper)")
    g.add_argument("--no-cluster", action="store_true", help="only write the k-mer table and BED")
    g.add_argument("--no-tomtom", action="store_true", help="skip the JASPAR comparison (alignment.tsv)")
    add_motif_db(p, "motif database the cluster motifs are compared with (default: bundled JASPAR 2020)")
    add_seed(p)
    add_by_class(p)


def run(args) -> int:
    import logging
    import shutil

    from wtko_captum.motifs.kmers import kmer_motifs

    log = logging.getLogger("wtko_captum")
    n_clusters = None if args.distance_threshold is not None else (args.clusters or 10)
    options = dict(k=args.k, top=args.top, min_distance=args.min_distance, score=args.score, n_clusters=n_clusters,
                   distance_threshold=args.distance_threshold, align=not args.no_align,
                   min_cluster_size=args.min_cluster_size, exact_limit=args.exact_limit, seed=args.seed,
                   noise_alpha=None if args.no_noise_bin else args.noise_alpha, cluster=not args.no_cluster,
                   tomtom=not args.no_tomtom, motif_db=args.motif_db)
    res = kmer_motifs(args.attributions, args.out, **options)
    log.info("%d k-mers -> %s/kmers.tsv, kmers.bed", len(res["kmers"]), args.out)
    cl = res["result"]
    if cl is not None:
        log.info("%d clusters (%s); %d motifs -> %s/clusters.meme", cl.labels.max(), cl.method,
                 len(cl.motifs), args.out)
        if shutil.which("meme") is None:
            log.info("MEME suite not on PATH: no de novo MEME per cluster (fasta/ holds its input)")
    if res["alignment"] is not None:
        for _, r in res["alignment"].iterrows():
            log.info("  cluster%-3d IC %.1f bits (unaligned %.1f)  %s", r["cluster"], r["ic_core"],
                     r["ic_core_unaligned"], r["jaspar"].split(";")[0] or "no JASPAR match")
    if cl is not None and not args.no_cluster:
        run_by_class(args, "kmers", options)
    return 0


def run_by_class(args, finder: str, options: dict) -> None:
    """Per-class discovery after the pooled run, when asked for or when there are classes."""
    from wtko_captum.cli.options import by_class_options
    from wtko_captum.motifs.classes import find_by_class, n_conditions, report

    wanted = args.by_class if args.by_class is not None else n_conditions(args.attributions) >= 2
    if not wanted:
        return
    options = {k: v for k, v in options.items() if k != "seed"}
    res = find_by_class(finder, args.attributions, args.out, seed=args.seed, **by_class_options(args), **options)
    if not args.quiet:
        print(report(res))
        print(f"per-class motifs: {args.out}/classes.md, classes.tsv, by_class/")
