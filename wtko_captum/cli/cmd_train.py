"""wtko train: fit a model on prepared data, keep the best-validation checkpoint."""
from __future__ import annotations

HELP = "train the WTKO-CNN (or another registered model) on a prepared-data directory"
STAGE = "model"
DESCRIPTION = """Train a classifier on the train split of a `wtko prepare` directory and keep the
epoch with the best auROC on the VALIDATION split (the test split is never used here; score it
once with `wtko evaluate`).

Training as published: Adam (lr 1e-3, weight decay 1e-4), cross-entropy (class-weighted when
prepare ran with --no-balance), batches of 64 with gradient accumulation over 4 batches, mixed
precision on CUDA, up to 100 epochs, early stopping after --patience epochs without a better
validation auROC.

outputs (in -o DIR):
  model.pt            the checkpoint (self-describing, loads with torch.load(weights_only=True))
  metrics.csv         per epoch: train/val loss and accuracy, val auROC/auPRC, seconds
  learning_curve.png  loss and accuracy/auROC per epoch, best epoch marked
  training.json       the training summary (also inside model.pt)
  with --seeds K: seed_<i>/ per run, runs.tsv, and model.pt = the best-validation run

examples:
  wtko train data/ -o model/
  wtko train data/ -o model/ --seeds 5 --rc-augment      # five seeded runs (filter analysis)
  wtko train data/ -o model/ --model-option batchnorm=false   # the authors' released code
  wtko train data/ -o model/ --model my_pkg.nets:build         # a model that is not a plugin
  wtko train data/ -o model_f2/ --fold 2      # data from `wtko prepare --folds K`: fold 2 held out
"""


def add_arguments(p):
    from wtko_captum.cli.options import add_device, add_option, add_out, add_training_budget, nonneg_int

    p.add_argument("data", help="prepared-data directory (from `wtko prepare`)")
    add_out(p, "output directory (replaced if it exists)")
    add_option(p, "--model", old=("--architecture",), dest="model", default="wtko_cnn",
               help="a registered model (default: wtko_cnn; `wtko plugins --kind models` lists them) or "
                    "PACKAGE.MODULE:FACTORY for a model class or factory that is not a plugin (it must "
                    "take input_length and n_classes keywords)")
    p.add_argument("--model-option", action="append", default=[], metavar="KEY=VALUE",
                   help="an option of the model's constructor, e.g. batchnorm=false or n_filters=32 (repeatable)")
    add_training_budget(p)
    p.add_argument("--seeds", default="1", metavar="K|S1,S2,..",
                   help="a number K of seeded runs (seeds 0..K-1) or an explicit comma list (default: 1 run, seed 0)")
    p.add_argument("--fold", type=nonneg_int, default=None, metavar="I",
                   help="with data from `wtko prepare --folds K`: test on fold I, validate on fold I+1, train on "
                        "the rest (recorded in the checkpoint; evaluate and attribute follow it)")
    p.add_argument("--rc-augment", action="store_true",
                   help="reverse-complement each training sequence with probability 0.5 per epoch")
    p.add_argument("--no-batchnorm", action="store_true", help=__import__("argparse").SUPPRESS)
    add_device(p)


def parse_seeds(text: str) -> list[int]:
    """'5' -> [0..4]; '3,7' -> [3, 7]."""
    from wtko_captum.core.errors import InputError

    text = str(text).strip()
    try:
        if "," in text:
            return [int(t) for t in text.split(",") if t.strip()]
        k = int(text)
    except ValueError:
        raise InputError("--seeds takes a count (5) or a comma list of seeds (0,3,7)", value=text) from None
    if k < 1:
        raise InputError("--seeds must be at least 1", value=text)
    return list(range(k))


def run(args) -> int:
    import logging

    import sys

    from wtko_captum.cli.options import parse_key_values
    from wtko_captum.training.train import train

    config = parse_key_values(args.model_option, "--model-option")
    if args.no_batchnorm:
        print("wtko train: warning: --no-batchnorm is deprecated and will be removed in the next release; "
              "use --model-option batchnorm=false", file=sys.stderr)
        config["batchnorm"] = False
    path = train(args.data, args.out, model=args.model, epochs=args.epochs, patience=args.patience,
                 batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
                 accumulation=args.accumulation, rc_augment=args.rc_augment, seeds=parse_seeds(args.seeds),
                 device=args.device, model_options=config, fold=args.fold, verbose=not args.quiet)
    logging.getLogger("wtko_captum").info("checkpoint: %s", path)
    return 0
