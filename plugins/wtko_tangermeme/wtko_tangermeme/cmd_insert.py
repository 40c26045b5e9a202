"""wtko insert: the marginal effect of motifs inserted into background sequences."""
from __future__ import annotations

from wtko_captum.cli.options import (add_batch_size, add_device, add_motif_db, add_out, add_seed, nonneg_int,
                                     positive_int, split_list)

HELP = "insert motifs at the centre of background sequences and report the change in prediction"
STAGE = "explain"
DESCRIPTION = """Insert each motif at the centre of background sequences (tangermeme
marginalize) and report how the model's class probabilities change.

Motifs are consensus strings (CACGTG; N keeps the background base) or JASPAR/MEME ids and
names (jaspar:MA0099.3, MA0099.3, FOS::JUN), resolved in the bundled JASPAR 2020 vertebrates
file (or --motif-file) to the argmax consensus of the matrix.

Backgrounds: `shuffle` (default): one dinucleotide shuffle of each sequence of --split, so
the composition is kept and the motifs are destroyed; or a class name (WT, KO): the real
sequences of that class.

Writes OUT/insertion.tsv (one row per motif: p_<class>_before/_after, delta_p_<class>_mean/_sd,
delta_logit_diff_mean/_sd for WT-KO) and OUT/insertion.png (mean change in P(WT), sd bars).

example:
  wtko insert model/model.pt data/ --motifs jaspar:MA0099.3,CACGTG -o insert/
  wtko insert model/model.pt data/ --motifs TGACTCA --background KO -o insert_ko/
"""


def add_arguments(p):
    p.add_argument("model", help="checkpoint written by `wtko train`")
    p.add_argument("data", help="prepared-data directory (`wtko prepare`)")
    p.add_argument("--motifs", required=True, help="comma-separated consensus strings or motif ids/names")
    add_out(p, "output directory")
    p.add_argument("--background", default="shuffle",
                   help="shuffle (dinucleotide-shuffled sequences, default) or a class name (WT, KO)")
    p.add_argument("--split", default="test", help="sequences to build backgrounds from (default: test)")
    p.add_argument("--n-background", type=positive_int, default=200,
                   help="at most this many background sequences (seeded subsample; default: 200)")
    p.add_argument("--start", type=nonneg_int, help="0-based position of the motif's first base (default: centred)")
    add_motif_db(p, "motif database to resolve motif ids/names in (default: bundled JASPAR 2020)",
                 old=("--motif-file", "--db"))
    add_batch_size(p)
    add_device(p)
    add_seed(p)


def run(args) -> int:
    from wtko_tangermeme.insert import insert_prepared

    res = insert_prepared(args.model, args.data, args.out, split_list(args.motifs), split=args.split,
                          background=args.background, n_background=args.n_background, start=args.start,
                          seed=args.seed, batch_size=args.batch_size, device=args.device,
                          motif_db=args.motif_db)
    if not args.quiet:
        cols = [c for c in res["data"].columns if c in ("motif", "consensus", "n") or c.startswith("delta_p_")]
        print(res["data"][cols].to_string(index=False, float_format=lambda v: f"{v:+.4f}"))
    return 0
