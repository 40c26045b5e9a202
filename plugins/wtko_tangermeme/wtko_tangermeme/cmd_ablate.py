"""wtko ablate: shuffle or N-mask positions or k-mers and report the change in prediction."""
from __future__ import annotations

from wtko_captum.cli.options import add_batch_size, add_device, add_out, add_seed, positive_int, split_list

HELP = "shuffle or N-mask positions or k-mers of real sequences and report the change in prediction"
STAGE = "explain"
DESCRIPTION = """Ablate parts of the sequences of one split and report how the model's class
probabilities change (tangermeme ablate).

--positions takes window coordinates, 0-based and end-exclusive (290-310 = bases 290..309 of
every window). --kmers finds each k-mer on both strands of every sequence; only sequences
that contain it are counted. --mode shuffle (default) shuffles the bases in place
(--n-shuffles times, averaged); --mode mask replaces them with N (all-zero columns).

Writes OUT/ablation.tsv (one row per range / k-mer) and OUT/ablation.png.

example:
  wtko ablate model/model.pt data/ --positions 290-310 --kmers TGACTCA,CACGTG -o ablate/
  wtko ablate model/model.pt data/ --kmers TGACTCA --mode mask -o ablate_mask/
"""


def add_arguments(p):
    p.add_argument("model", help="checkpoint written by `wtko train`")
    p.add_argument("data", help="prepared-data directory (`wtko prepare`)")
    add_out(p, "output directory")
    p.add_argument("--positions", help="comma-separated START-END window ranges (0-based, end exclusive)")
    p.add_argument("--kmers", help="comma-separated k-mers (both strands)")
    p.add_argument("--mode", default="shuffle", choices=["shuffle", "mask"], help="(default: shuffle)")
    p.add_argument("--n-shuffles", type=positive_int, default=20, help="shuffles per sequence (default: 20)")
    p.add_argument("--split", default="test", help="(default: test)")
    p.add_argument("--limit", type=positive_int, help="only the first N sequences of the split")
    add_batch_size(p)
    add_device(p)
    add_seed(p)


def run(args) -> int:
    from wtko_tangermeme.ablate import ablate_prepared, parse_positions

    res = ablate_prepared(args.model, args.data, args.out,
                          positions=parse_positions(args.positions) if args.positions else None,
                          kmers=split_list(args.kmers) or None, mode=args.mode, split=args.split,
                          n_shuffles=args.n_shuffles, seed=args.seed, batch_size=args.batch_size,
                          device=args.device, limit=args.limit)
    if not args.quiet:
        cols = [c for c in res["data"].columns if c in ("what", "mode", "n") or c.startswith("delta_p_")]
        print(res["data"][cols].to_string(index=False, float_format=lambda v: f"{v:+.4f}"))
    return 0
