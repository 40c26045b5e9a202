"""wtko benchmark: measurements that compare (one subcommand per benchmark)."""
from __future__ import annotations

HELP = ("benchmarks: `wtko benchmark models` (architectures compared on one dataset), "
        "`wtko benchmark explainers` (attribution methods scored on planted motifs)")
STAGE = "model"
DESCRIPTION = """Benchmarks, one subcommand each:

  models       train, score and time every architecture on one dataset (the WTKO paper's comparison)
  explainers   run every attribution method on a model and score it against planted motifs
               (AgentBind's five metrics: run time, accuracy, recall, auROC, signal-to-noise)

`wtko benchmark SUBCOMMAND --help` explains each.
"""

#: the benchmarks: subcommand name -> module with HELP, DESCRIPTION, add_arguments(p), run(args)
SUBCOMMANDS = {"models": "wtko_captum.cli.benchmark_models",
               "explainers": "wtko_captum.cli.benchmark_explainers"}


def add_arguments(p):
    import importlib

    from wtko_captum.cli import add_verbosity
    from wtko_captum.cli.options import HelpFormatter

    sub = p.add_subparsers(dest="benchmark", metavar="BENCHMARK")
    for name, module in SUBCOMMANDS.items():
        mod = importlib.import_module(module)
        e = sub.add_parser(name, help=mod.HELP, description=mod.DESCRIPTION, formatter_class=HelpFormatter)
        mod.add_arguments(e)
        add_verbosity(e)
        e.set_defaults(_benchmark=mod.run)
    p.set_defaults(_parser=p)


def run(args) -> int:
    if not getattr(args, "_benchmark", None):
        args._parser.error(f"choose a benchmark: {', '.join(SUBCOMMANDS)}")
    return args._benchmark(args)
