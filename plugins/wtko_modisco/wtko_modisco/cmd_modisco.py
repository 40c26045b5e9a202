"""wtko modisco: TF-MoDISco-lite patterns and seqlets from hypothetical attributions."""
from __future__ import annotations

HELP = "run TF-MoDISco-lite on hypothetical attributions (deeplift_shap, ism)"
STAGE = "motifs"
DESCRIPTION = """Run TF-MoDISco-lite (the wtko_modisco plugin) on an attribution directory whose
scores are hypothetical (every base scored: deeplift_shap, ism) and write its results where
genome browsers and the MEME suite read them.

outputs (in -o DIR):
  modisco_results.h5   modisco-lite's own results (readable by `modisco report` etc.)
  report/motifs.html   modisco-lite's HTML report: CWM logos + top-3 JASPAR matches (Tomtom
                       through memelite; the MEME-suite binary is not needed)
  patterns.pfm.meme    per pattern, the seqlets' frequency matrix, trimmed to the CWM support
  patterns.cwm.meme    the same columns from the CWM's positive part
  patterns.tsv         pattern, metacluster, n_seqlets, consensus, seqlets per class,
                       best JASPAR match
  tomtom.tsv           Tomtom of patterns.pfm.meme against JASPAR (wtko tomtom's columns)
  seqlets.bed          every seqlet in GENOME coordinates (0-based half-open), strand '-' for
                       reverse-complement seqlets; the genome sequence there (reverse
                       complemented on '-') is the seqlet's sequence
  seqlets.tsv          the same with window coordinates, region, label and sequence

per class (--by-class, the default when the sequences belong to two or more classes):
modisco on each class's sequences alone, in OUT/by_class/<class>/, with each class's primary
(largest) and secondary patterns, their JASPAR matches and the usage check (each pattern
inserted into dinucleotide-shuffled sequences) in OUT/classes.tsv, classes.meme, usage.tsv and
classes.md; a pattern that lowers its own class's log-odds (a negative pattern, a fragment of
the other class's motif) is ranked "against". Attribute with --target class-vs-background.

example:
  wtko modisco attr/deeplift_shap -o modisco/
  wtko modisco attr/ism -o modisco_ism/ --max-seqlets 5000 --window 400
"""


def add_arguments(p):
    from wtko_captum.cli.options import add_by_class, add_motif_db, add_out, add_seed, positive_int

    p.add_argument("attr", help="attribution directory with hypothetical scores (wtko attribute)")
    add_out(p, "output directory (replaced if it exists)")
    p.add_argument("--max-seqlets", type=positive_int, default=2000,
                   help="seqlets per metacluster (default: 2000)")
    p.add_argument("--window", type=positive_int, default=None,
                   help="use only the centred WINDOW bp of each sequence (default: all)")
    p.add_argument("--sliding-window", type=positive_int, default=20, help="seqlet core size (default: 20)")
    p.add_argument("--flank", type=positive_int, default=5, help="flank added to seqlets (default: 5)")
    p.add_argument("--trim-size", type=positive_int, default=30, help="pattern trim size (default: 30)")
    p.add_argument("--n-leiden", type=positive_int, default=2, help="Leiden clusterings (default: 2)")
    p.add_argument("--min-metacluster-size", type=positive_int, default=100,
                   help="fewest seqlets of a sign for modisco to cluster them (default: 100)")
    p.add_argument("--min-cluster-size", type=positive_int, default=20,
                   help="fewest seqlets in a final pattern (default: 20)")
    add_motif_db(p, "MEME motif database for the report and Tomtom (default: bundled JASPAR 2020)",
                 old=("--motifs", "--db"))
    p.add_argument("--no-report", action="store_true", help="skip the HTML report (logos)")
    add_by_class(p)
    add_seed(p)


def run(args) -> int:
    import logging

    from wtko_modisco import run_modisco

    options = dict(max_seqlets=args.max_seqlets, window=args.window, sliding_window_size=args.sliding_window,
                   flank_size=args.flank, trim_to_window_size=args.trim_size, n_leiden_runs=args.n_leiden,
                   min_metacluster_size=args.min_metacluster_size, final_min_cluster_size=args.min_cluster_size,
                   report=not args.no_report, verbose=args.verbose)
    res = run_modisco(args.attr, args.out, motif_db=args.motif_db, **options)
    log = logging.getLogger("wtko_captum")
    for _, r in res.patterns.iterrows():
        log.info("  %-24s %5d seqlets  %-20s %s", r["pattern"], r["n_seqlets"], r["consensus"],
                 r["jaspar_name"] or "-")
    _by_class(args, options)
    return 0


def _by_class(args, options: dict) -> None:
    from wtko_captum.api import find_by_class
    from wtko_captum.cli.options import by_class_options
    from wtko_captum.motifs.classes import n_conditions, report

    if not (args.by_class if args.by_class is not None else n_conditions(args.attr) >= 2):
        return
    res = find_by_class("modisco", args.attr, args.out, motif_db=args.motif_db, seed=args.seed,
                        **by_class_options(args), **options)
    if not args.quiet:
        print(report(res))
        print(f"per-class patterns: {args.out}/classes.md, classes.tsv, by_class/")
