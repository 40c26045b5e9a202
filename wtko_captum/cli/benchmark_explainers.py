"""``wtko benchmark explainers``: AgentBind's benchmark of attribution methods (a subcommand of
``wtko benchmark``)."""
from __future__ import annotations

HELP = "which attribution method finds the planted motifs, and how fast (AgentBind's benchmark)"
DESCRIPTION = """Run each attribution method (every registered one by default) on a
model, time it, and score its per-base importance (max |score| over the 4 bases) against
ground-truth motif positions:

  run time   sequences per second, every method timed in this one process on the same
             sequences (one untimed warm-up call first); "x fastest" = time / fastest method's
  accuracy   fraction of each sequence's top 5% bases that lie in embedded motifs
             (with chance = the motif-base fraction, and enrichment = accuracy / chance)
  recall     fraction of embedded motif instances with at least half of their bases in the top 5%
  auROC      of motif bases vs background bases, all bases pooled, as the threshold sweeps
  signal/noise  mean score in motifs / mean score in background

A method that cannot run on a model (e.g. attention on a model without attention) is listed
with its error instead of failing the whole benchmark.

two ways to run it:
  --preset agentbind   simulate -> prepare -> train -> benchmark at the paper's sizes: 1 kb
                       sequences, P(A,C,G,T) = .3,.2,.2,.3, GATA1 at every centre, 1-3 TAL1::TCF3
                       sites (truncated Poisson) in the positives; 50,000 train / 1,000 val /
                       1,000 test. --scale shrinks every split (0.1 = 5,000 / 100 / 100);
                       --models trains each architecture, --seeds N averages over N training seeds
                       (mean ± sd). The truth is the TAL1 sites of the test positives. A re-run
                       with the same -o and parameters resumes.
  MODEL [MODEL ...] DATA --truth FILE
                       your checkpoints on a split of a prepared-data directory; FILE is the
                       motifs.tsv of `wtko simulate` (or its directory) or a BED of motif sites,
                       in genome coordinates.

outputs (in -o DIR):
  explainers.tsv   one row per model x seed x method: seconds, cpu_seconds, seq_per_s, slowdown,
                   accuracy, recall, auroc, snr, chance, enrichment, top_in_other (fraction of top
                   bases in sites not scored as truth, e.g. the GATA1 core), counts
  summary.tsv      mean and sd over seeds per model and method
  summary.md       the Markdown table
  metrics.png      bars per method (one colour per model), sd as error bars
  benchmark.json   parameters, device, threads, model test auROCs, versions

examples:
  wtko benchmark explainers --preset agentbind -o bench/                  # full size
  wtko benchmark explainers --preset agentbind --scale 0.05 --seeds 3 -o bench_small/
  wtko benchmark explainers --preset agentbind --models wtko_cnn,danq --method saliency,ism -o bench/
  wtko benchmark explainers --preset agentbind --scale 0.1 --method "saliency,ism,ism(fast=false)" -o b/
  wtko benchmark explainers model/model.pt sim_data/ --truth sim/motifs.tsv -o bench/
"""


def add_arguments(p):
    from wtko_captum.cli.options import (add_batch_size, add_device, add_out, add_seed, add_split, fraction,
                                         positive_float, positive_int)


    p.add_argument("inputs", nargs="*", metavar="MODEL... DATA",
                   help="checkpoint(s) and a prepared-data directory (not with --preset)")
    p.add_argument("--truth", metavar="FILE", help="ground-truth motif sites: motifs.tsv of `wtko simulate` or a BED")
    p.add_argument("--preset", choices=["agentbind"], help="simulate, train and benchmark in one run")
    add_out(p, "output directory")
    g = p.add_argument_group("methods")
    g.add_argument("--method", default="all",
                   help="comma-separated methods; all = every registered method (default); a method with its own "
                        "options is NAME(KEY=VALUE,...): all,ism(fast=false) times plain ISM beside the fast one")
    g.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="a method option offered to every method that takes it, e.g. n_shuffles=10 (repeatable)")
    g.add_argument("--method-option", action="append", default=[], metavar="METHOD.KEY=VALUE",
                   help="an option for one method, e.g. grad_cam.layer=relu1 (repeatable)")
    g.add_argument("--target", default="1", help="class index or name explained (default: 1, the positive class)")
    s = p.add_argument_group("scoring")
    s.add_argument("--roles", default=None,
                   help="ground-truth roles scored (default: partner for the AgentBind simulation, else all)")
    add_split(s)
    s.add_argument("--max-sequences", type=positive_int, default=None,
                   help="explain only the first N windows holding a ground-truth site")
    s.add_argument("--top-fraction", type=fraction, default=0.05, help="top bases per sequence (default: 0.05)")
    r = p.add_argument_group("--preset agentbind")
    r.add_argument("--scale", type=positive_float, default=1.0, help="fraction of the published sizes (default: 1)")
    r.add_argument("--length", type=positive_int, default=1000, help="sequence length in bp (default: 1000)")
    r.add_argument("--models", default="wtko_cnn",
                   help="comma-separated registered models to train (default: wtko_cnn; `wtko plugins` lists them)")
    r.add_argument("--model-option", action="append", default=[], metavar="[MODEL.]KEY=VALUE",
                   help="a model constructor option: KEY=VALUE for every model that takes it, MODEL.KEY=VALUE "
                        "for one (repeatable)")
    r.add_argument("--seeds", type=positive_int, default=1, help="training seeds per model: mean ± sd (default: 1)")
    r.add_argument("--epochs", type=positive_int, default=100, help="maximum training epochs (default: 100)")
    r.add_argument("--patience", type=positive_int, default=10, help="early-stopping patience (default: 10)")
    r.add_argument("--lr", type=positive_float, default=1e-3, help="Adam learning rate (default: 1e-3)")
    add_batch_size(r, default=64, what="training batch size")
    g.add_argument("--attr-batch-size", type=positive_int, default=None,
                   help="attribution batch size (default: each method's own; ISM counts edited sequences)")
    add_device(p)
    add_seed(p)


def _scoped(items, what: str) -> tuple[dict, dict]:
    """``["k=1", "m.k=2"]`` -> ``({"k": 1}, {"m": {"k": 2}})``: options for all, and per name."""
    from wtko_captum.cli.options import parse_key_values

    shared, own = {}, {}
    for item in items:
        key, _, _ = str(item).partition("=")
        scope, dot, rest = str(item).partition(".") if "." in key else ("", "", item)
        if dot:
            own.setdefault(scope, {}).update(parse_key_values([rest], what))
        else:
            shared.update(parse_key_values([item], what))
    return shared, own


def run(args) -> int:
    import logging

    from wtko_captum.benchmark.explainers import (agentbind_benchmark, benchmark_prepared, split_methods,
                                                  write_benchmark)
    from wtko_captum.cli.options import parse_key_values, split_list
    from wtko_captum.core.errors import InputError

    methods = split_methods(args.method)
    options = parse_key_values(args.option, "--option")
    shared_methods, per_method = _scoped(args.method_option, "--method-option")
    if shared_methods:
        raise InputError("--method-option is METHOD.KEY=VALUE (use --option for every method)",
                         value=next(iter(shared_methods)))
    target = int(args.target) if args.target.lstrip("-").isdigit() else args.target
    roles = split_list(args.roles) if args.roles else None
    log = logging.getLogger("wtko_captum")
    shared_models, per_model = _scoped(args.model_option, "--model-option")
    if args.preset:
        if args.inputs or args.truth:
            raise InputError("--preset makes its own model, data and truth: drop MODEL DATA and --truth")
        result = agentbind_benchmark(
            args.out, scale=args.scale, length=args.length, models=split_list(args.models), seeds=args.seeds,
            methods=methods, options=options, method_options=per_method,
            model_options=shared_models, per_model_options=per_model, epochs=args.epochs,
            patience=args.patience, batch_size=args.batch_size, lr=args.lr, attr_batch_size=args.attr_batch_size,
            max_sequences=args.max_sequences,
            top_fraction=args.top_fraction, device=args.device, seed=args.seed, verbose=not args.quiet)
        paths = result["paths"]
    else:
        if len(args.inputs) < 2 or not args.truth:
            raise InputError("give MODEL [MODEL ...] DATA --truth FILE, or --preset agentbind")
        import torch

        from wtko_captum.core.device import resolve_device

        from wtko_captum.core.checkpoint import read_checkpoint

        *models, data = args.inputs
        names = [read_checkpoint(m)["architecture"] for m in models]
        labels = {n if names.count(n) == 1 else f"{n} ({m})": m for n, m in zip(names, models)}
        dev = resolve_device(args.device)
        table = benchmark_prepared(labels, data, args.truth, split=args.split, roles=roles,
                                   max_sequences=args.max_sequences, methods=methods, options=options,
                                   method_options=per_method, target=target, top_fraction=args.top_fraction,
                                   batch_size=args.attr_batch_size, device=dev, seed=args.seed,
                                   verbose=not args.quiet)
        meta = dict(models=models, data=data, truth=args.truth, split=args.split, roles=roles,
                    methods=sorted(set(table["method"])), target=target, top_fraction=args.top_fraction,
                    device=str(dev), threads=torch.get_num_threads(), seed=args.seed,
                    timing="wall clock, same process, after one untimed warm-up call on 2 sequences per method")
        paths = write_benchmark(args.out, table, meta)
    if not args.quiet:
        print(paths["summary.md"].read_text())
    log.info("wrote %s", ", ".join(str(p) for p in paths.values()))
    return 0
