"""wtko enrich: known-motif enrichment WT vs KO (FIMO + Fisher), and AgentBind k-mer enrichment."""
from __future__ import annotations

HELP = "known-motif enrichment between the classes (FIMO scan, Fisher's exact test, BH q)"
STAGE = "motifs"
DESCRIPTION = """Validate what the model learned the way the paper did with HOMER: scan every
database motif over the sequences of one split with FIMO (memelite, p < 1e-4, both strands),
count the sequences of each class with a hit, and test each motif with Fisher's exact test
(two-sided; Benjamini-Hochberg q over all motifs).

outputs (in -o DIR):
  enrichment.tsv   motif, motif_id, motif_name, n_hits_<class>, n_<class>, pct_<class> (WT
                   then KO), odds_ratio (WT over KO), p_value, q_value, enriched_in
  enrichment.png   % WT vs % KO sequences with a hit, top motifs by p-value
  summary.md       the motifs enriched in each class (q <= 0.05)
  kmer_enrichment.tsv   with --kmer-enrichment K: the AgentBind analysis. Every K-mer window
                   of the positive sequences (the attribution target's class) is scored by its
                   mean attribution; the top 1% are "top"; per distinct K-mer: n_top, n_total,
                   odds_ratio, one-sided Fisher p_value, q_value

example:
  wtko enrich data/ -o enrich/
  wtko enrich data/ -o enrich/ --split all --kmer-enrichment 5 --attr attr/saliency
  wtko enrich data/ --attr attr/grad_cam --kmer-enrichment 5 --exclude-core -o kmers5/
                   # AgentBind: data from prepare --motif-instances, core motif left out
"""


def add_arguments(p):
    from wtko_captum.cli.options import add_motif_db, add_out, fraction, positive_int, pvalue

    p.add_argument("data", help="prepared-data directory (wtko prepare)")
    add_out(p, "output directory (replaced if it exists)")
    p.add_argument("--split", default="test", choices=["test", "val", "train", "all"],
                   help="which sequences to scan (default: test, as the paper validated)")
    add_motif_db(p, old=("--motifs", "--db"))
    p.add_argument("--p", type=pvalue, default=1e-4, dest="pvalue", help="FIMO hit p-value (default: 1e-4)")
    p.add_argument("--top", type=positive_int, default=20, help="motifs in the bar plot (default: 20)")
    g = p.add_argument_group("k-mer enrichment (AgentBind)")
    g.add_argument("--kmer-enrichment", type=positive_int, default=None, metavar="K",
                   help="also score K-mers (5 as published) by mean attribution")
    g.add_argument("--attr", default=None, help="attribution directory for --kmer-enrichment")
    g.add_argument("--kmer-top", type=fraction, default=0.01,
                   help="fraction of windows called top (default: 0.01)")
    g.add_argument("--kmer-class", default=None,
                   help="class whose sequences are slid over (default: the attribution target)")
    g.add_argument("--canonical", action="store_true",
                   help="count a k-mer and its reverse complement together")
    g.add_argument("--exclude-core", action="store_true",
                   help="leave out k-mers touching the core motif (data from prepare --motif-instances)")


def run(args) -> int:
    import logging

    from wtko_captum.motifs.enrich import enrich, top_for_class

    res = enrich(args.data, args.out, split=args.split, motif_db=args.motif_db, p=args.pvalue,
                 top=args.top, kmer_k=args.kmer_enrichment, attr=args.attr,
                 kmer_top_fraction=args.kmer_top, kmer_positive=args.kmer_class,
                 kmer_canonical=args.canonical, exclude_core=args.exclude_core)
    log = logging.getLogger("wtko_captum")
    for cls in sorted(set(res.table["enriched_in"]) - {"-"}):
        best = top_for_class(res.table, cls, n=5, q=0.05)
        names = ", ".join(f"{n} (q={q:.2g})" for n, q in zip(best["motif_name"], best["q_value"])) or "none"
        log.info("enriched in %s: %s", cls, names)
    log.info("wrote %s", ", ".join(str(p) for p in res.paths.values()))
    return 0
