"""``wtko benchmark models``: the subcommand's parser and its thin call into the library."""
from __future__ import annotations

HELP = "train, score and time every architecture on one dataset (the WTKO paper's comparison)"
DESCRIPTION = """Train each architecture on the same prepared data, split, budget and seeds (model
selected on the validation split), score it once on the test split and time it; write the table
the WTKO paper compares (accuracy, per-class precision/recall/F1, auROC, auPRC, mean ± sd over
seeds, parameters, training time, inference sequences/s) and one ROC figure.

Each (architecture, seed) run is kept in its own directory: an interrupted benchmark re-run with
the same -o and settings resumes where it stopped (finished runs are not repeated). A re-run with
other settings is refused; more architectures may be added to the same -o.

outputs (in -o DIR):
  summary.md     the table (mean ± sd over seeds)
  summary.tsv    the same numbers, one row per architecture
  runs.tsv       one row per (architecture, seed)
  roc.png        test ROC per architecture (TPR averaged over seeds at each FPR)
  benchmark.json settings, threads, versions, architectures that cannot take the data
  runs/MODEL/seed_S/  model/ (checkpoint, learning curve), eval/ (metrics.json, predictions.tsv)

examples:
  wtko benchmark models data/ -o bench/ --models all --seeds 3 --epochs 30
  wtko benchmark models data/ -o bench/ --models wtko_cnn,cnn4,danq --seeds 5
  wtko benchmark models data/ -o bench/ --models deepsea --model-option deepsea.hidden=256
"""


def add_arguments(p):
    from wtko_captum.cli.options import add_device, add_out, add_training_budget

    p.add_argument("data", help="prepared-data directory (from `wtko prepare`)")
    add_out(p, "output directory (resumed when it holds the same benchmark)")
    p.add_argument("--models", default="all",
                   help="comma-separated architectures, or all (default: every registered one that can take "
                        "the data; `wtko plugins --kind models` lists them)")
    p.add_argument("--seeds", default="3", metavar="K|S1,S2,..",
                   help="K seeded runs per architecture (seeds 0..K-1) or a comma list (default: 3)")
    add_training_budget(p, epochs=30, accumulation=1)
    p.add_argument("--model-option", action="append", default=[], metavar="MODEL.KEY=VALUE",
                   help="an option of one architecture's constructor, e.g. transformer.patch=4 (repeatable)")
    add_device(p)


def run(args) -> int:
    import logging

    from wtko_captum.benchmark.models import benchmark_models
    from wtko_captum.cli.cmd_train import parse_seeds
    from wtko_captum.cli.options import parse_key_values, split_list
    from wtko_captum.core.errors import InputError

    options: dict = {}
    for item in args.model_option:
        name, dot, rest = str(item).partition(".")
        if not dot:
            raise InputError("--model-option must be MODEL.KEY=VALUE", value=item)
        options.setdefault(name, {}).update(parse_key_values([rest], "--model-option"))
    result = benchmark_models(args.data, args.out, models=split_list(args.models), seeds=parse_seeds(args.seeds),
                              epochs=args.epochs, patience=args.patience, batch_size=args.batch_size,
                              accumulation=args.accumulation, lr=args.lr, weight_decay=args.weight_decay,
                              model_options=options, device=args.device, verbose=not args.quiet)
    if not args.quiet:
        print(result["paths"]["summary.md"].read_text())
    logging.getLogger("wtko_captum").info("wrote %s", ", ".join(str(p) for p in result["paths"].values()))
    return 0
