"""wtko demo: the whole pipeline on bundled real data."""
from __future__ import annotations

HELP = "run the whole pipeline on bundled real data (NFE2 bound vs unbound, GM12878)"
STAGE = "pipeline"
DESCRIPTION = """Run every stage on the bundled ENCODE GM12878 NFE2 ChIP-seq regions (644 + 69 bound
vs 644 + 69 unbound, hg19): prepare, train (a few epochs), evaluate, attribute (saliency,
DeepLIFT-SHAP, ISM), bigWig tracks, tracks.ini + a rendered region, IGV session, saliency
k-mer clusters, filter motifs, Tomtom vs JASPAR, TF-MoDISco-lite, their comparison and
known-motif enrichment. Takes a few minutes on 2 CPU cores.

The pipeline is the bundled config wtko_captum/data/demo.toml; `wtko run` takes your own.

examples:
  wtko demo                         # writes ./wtko_demo/
  wtko demo -o /tmp/d --set train.epochs=3
  wtko demo --stages prepare,train,evaluate
"""


def add_arguments(p):
    from wtko_captum.cli.options import add_out

    add_out(p, "output directory", default="wtko_demo")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="STAGE.KEY=VALUE",
                   help="override a config value, e.g. train.epochs=3 (repeatable)")
    p.add_argument("--stages", help="comma-separated subset of stages to run (default: all)")


def run(args) -> int:
    from wtko_captum.pipeline.demo import demo, summarise
    from wtko_captum.cli.options import split_list

    demo(args.out, overrides=args.overrides, stages=split_list(args.stages) or None, verbose=not args.quiet)
    print(summarise(args.out))
    return 0
