"""wtko run: a whole pipeline from one TOML config."""
from __future__ import annotations

HELP = "run a pipeline from a TOML config (one table per stage)"
STAGE = "pipeline"
DESCRIPTION = """Run the stages listed in a TOML config, in pipeline order, into one output directory.

Each table is a stage; its keys are the stage's options with underscores (n_shuffles, not
--n-shuffles). Relative paths are relative to the config file. Precedence: --set, then the
file, then defaults. Start from the demo's config:
  python -c "import wtko_captum.pipeline.demo as d; print(d.DEMO_CONFIG.read_text())" > my.toml

example config:
  [prepare]
  wt = ["WT.narrowPeak"]
  ko = ["KO.narrowPeak"]
  genome = "mm10.fa"
  [train]
  epochs = 100
  [evaluate]
  [attribute]
  methods = ["saliency", "deeplift_shap"]

examples:
  wtko run my.toml -o out/
  wtko run my.toml -o out/ --set train.epochs=5 --stages train,evaluate
"""


def add_arguments(p):
    from wtko_captum.cli.options import add_out

    p.add_argument("config", help="TOML file")
    add_out(p, "output directory")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="STAGE.KEY=VALUE",
                   help="override a config value (repeatable)")
    p.add_argument("--stages", help="comma-separated subset of stages to run (default: all in the file)")


def run(args) -> int:
    from wtko_captum.pipeline.demo import summarise
    from wtko_captum.pipeline.config import apply_overrides, load_config
    from wtko_captum.pipeline.run import run as run_pipeline
    from wtko_captum.cli.options import split_list

    cfg = apply_overrides(load_config(args.config), args.overrides)
    run_pipeline(cfg, args.out, stages=split_list(args.stages) or None, verbose=not args.quiet)
    print(summarise(args.out))
    return 0
