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

example:
  wtko filters model/ data/ -o filters/
  wtko filters model/ data/ -o filters/ --split test --threshold 0.6 --min-runs 3
"""


def add_arguments(p):
    from wtko_captum.cli.options import (add_batch_size, add_device, add_motif_db, add_out, add_seed,
                                         positive_int, pvalue, probability)

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


def run(args) -> int:
    import logging

    from wtko_captum.motifs.filters import find_filter_motifs

    log = logging.getLogger("wtko_captum")
    res = find_filter_motifs(args.model, args.out, data=args.data, split=args.split, threshold=args.threshold,
                             min_runs=args.min_runs, q_threshold=args.q, batch_size=args.batch_size,
                             device=args.device, motif_db=args.motif_db, max_sequences=args.max_sequences,
                             seed=args.seed)
    log.info("%d runs, %d filters -> %s/filters.meme", len(res["runs"]), len(res["table"]), args.out)
    rec = res["recurring"]
    if len(rec):
        for _, r in rec.iterrows():
            log.info("  %s in %d runs: %s  %s", r["group"], r["n_runs"], r["consensus"],
                     r["jaspar_matches"].split(";")[0] or "no JASPAR match")
    elif len(res["runs"]) > 1:
        log.info("no motif recurs in >= %d runs", args.min_runs)
    return 0
