"""wtko tomtom: compare motifs with JASPAR (or any MEME file) the way MEME's Tomtom does."""
from __future__ import annotations

HELP = "compare motifs with a motif database (Tomtom via memelite; default JASPAR 2020)"
STAGE = "motifs"
DESCRIPTION = """Compare every motif of a MEME file with a motif database and write Tomtom's
own TSV table (the columns of MEME's `tomtom -text`) plus the target's TF name:

  Query_ID Target_ID Optimal_offset p-value E-value q-value Overlap
  Query_consensus Target_consensus Orientation Target_name

Default database: the bundled JASPAR 2020 CORE vertebrates (746 motifs). Scores are
memelite's (Euclidean column distance, complete scores, both strands); p-values agree with
MEME's tomtom (log10 correlation 0.9998 on the regression set); E = p x targets; q =
Benjamini-Hochberg per query. Offsets: query column j sits on target column j + offset of
the target in the reported orientation.

example:
  wtko tomtom motifs/clusters.meme -o motifs/tomtom.tsv
  wtko tomtom modisco/patterns.pfm.meme --db my_db.meme --thresh 0.01 --thresh-by p -o t.tsv
"""


def add_arguments(p):
    from wtko_captum.cli.options import add_motif_db, add_out, pvalue

    p.add_argument("motifs", help="query motifs (any motif file: MEME, JASPAR, HOMER, a motif table)")
    add_out(p, "output TSV")
    add_motif_db(p, "target motifs (default: bundled JASPAR 2020 CORE vertebrates)")
    p.add_argument("--thresh", type=pvalue, default=0.5,
                   help="keep matches with value <= this (default: 0.5, MEME's default)")
    p.add_argument("--thresh-by", choices=["q", "p", "E"], default="q",
                   help="which value --thresh applies to (default: q)")
    p.add_argument("--dist", choices=["ed"], default="ed",
                   help="column distance: ed = Euclidean, the one memelite implements (default)")
    p.add_argument("--norc", action="store_true", help="do not align reverse complements of the targets")


def run(args) -> int:
    import logging

    from wtko_captum.motifs.tomtom import best_matches, tomtom, write_tomtom

    table = tomtom(args.motifs, args.motif_db, thresh=args.thresh, thresh_by=args.thresh_by,
                   dist=args.dist, reverse_complement=not args.norc)
    write_tomtom(args.out, table)
    best = best_matches(table)
    log = logging.getLogger("wtko_captum")
    log.info("%d matches for %d queries -> %s", len(table), best["Query_ID"].nunique(), args.out)
    for _, row in best.iterrows():
        log.info("  %-20s %-10s %-16s q=%.3g", row["Query_ID"], row["Target_ID"], row["Target_name"],
                 row["q-value"])
    return 0
