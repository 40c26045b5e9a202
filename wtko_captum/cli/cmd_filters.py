"""wtko filters: first-layer convolution filters as motifs, recurring across seeded runs."""
from __future__ import annotations

HELP = "first-layer filter motifs (weights and activations) and those recurring across seeded runs"
STAGE = "motifs"
DESCRIPTION = """For each first-layer filter: the argmax consensus of its weights (the WTKO
paper) and an activation matrix: every subsequence activating the filter above --threshold x
its maximum activation (over the sequences of --split) is stacked into a count matrix.
With several checkpoints (MODEL/model.pt and MODEL/seed_*/model.pt) filters are matched
between runs with Tomtom (reciprocal best hits, q < --q); groups present in at least
--min-runs runs are reported with their JASPAR matches.

Outputs in OUT/:
  filters.tsv     run filter motif_id weight_consensus activation_consensus n_sites
                  max_activation ic
  filters.meme    activation matrices (MEME v4; nsites = stacked subsequences)
  recurring.tsv   group n_runs n_filters median_q members representative consensus
                  jaspar_matches
  matches.tsv     the reciprocal Tomtom matches between runs

Per class (--no-by-class turns it off): for each filter of the first run, the sequences of
each class holding a site (filters.tsv: seqs_<class>, frac_<class>) and the class it is
enriched in (Fisher's exact test, Benjamini-Hochberg q < 0.05; enriched_in). Each class's
filters, ranked by its sequences with a site (primary = the largest), with JASPAR matches and
the usage check (the filter motif inserted into shuffled sequences: whose log-odds rise) go to
classes.tsv, classes.meme, usage.tsv and classes.md, with a warning when one class has no
filter the model responds to.

example:
  wtko filters model/ data/ -o filters/
  wtko filters model/ data/ -o filters/ --split test --threshold 0.6 --min-runs 3
"""


def add_arguments(p):
    from wtko_captum.cli.options import (add_batch_size, add_device, add_motif_db, add_out, add_seed,
                                         positive_float, positive_int, pvalue, probability)

    p.add_argument("model", help="training output directory (model.pt, seed_*/model.pt) or a model.pt")
    p.add_argument("data", help="prepared-data directory (wtko prepare output)")
    add_out(p, "output directory")
    p.add_argument("--split", default="all", choices=["all", "train", "val", "test"],
                   help="sequences to compute activations on (default: all)")
    p.add_argument("--threshold", type=probability, default=0.5,
                   help="fraction of a filter's maximum activation a subsequence must exceed (default: 0.5)")
    p.add_argument("--min-runs", type=positive_int, default=2, help="report motifs found in at least this many runs (default: 2)")
    p.add_argument("--q", type=pvalue, default=0.05, help="Tomtom q-value for a match (default: 0.05)")
    p.add_argument("--max-sequences", type=positive_int, default=None, help="seeded random subset of sequences (speed)")
    add_motif_db(p, "motif database for the JASPAR matches (default: bundled JASPAR 2020)")
    add_device(p)
    add_batch_size(p, 256)
    add_seed(p)
    p.add_argument("--no-by-class", dest="by_class", action="store_false",
                   help="skip the per-class report (classes.tsv, classes.md)")
    p.add_argument("--min-effect", type=positive_float, default=0.5,
                   help="change of a class's log-odds that makes an inserted filter motif used for it (default: 0.5)")


def run(args) -> int:
    import logging

    from wtko_captum.motifs.filters import find_filter_motifs

    log = logging.getLogger("wtko_captum")
    res = find_filter_motifs(args.model, args.out, data=args.data, split=args.split, threshold=args.threshold,
                             min_runs=args.min_runs, q_threshold=args.q, batch_size=args.batch_size,
                             device=args.device, motif_db=args.motif_db, max_sequences=args.max_sequences,
                             by_class=args.by_class, min_effect=args.min_effect, seed=args.seed)
    log.info("%d runs, %d filters -> %s/filters.meme", len(res["runs"]), len(res["table"]), args.out)
    rec = res["recurring"]
    if len(rec):
        for _, r in rec.iterrows():
            log.info("  %s in %d runs: %s  %s", r["group"], r["n_runs"], r["consensus"],
                     r["jaspar_matches"].split(";")[0] or "no JASPAR match")
    elif len(res["runs"]) > 1:
        log.info("no motif recurs in >= %d runs", args.min_runs)
    if res.get("classes") is not None and not args.quiet:
        from wtko_captum.motifs.classes import report

        print(report(res["classes"]))
        print(f"per-class filters: {args.out}/classes.md, classes.tsv")
    return 0
