"""wtko train: fit a model on prepared data, keep the best-validation checkpoint."""
from __future__ import annotations

NAME = "train"
HELP = "train the WTKO-CNN (or another registered model) on a prepared-data directory"
ORDER = 20
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
  wtko train data/ -o model/ --no-batchnorm              # the authors' released code
"""


def add_arguments(p):
    from wtko_captum.cli._common import add_device

    p.add_argument("data", help="prepared-data directory (from `wtko prepare`)")
    p.add_argument("-o", "--out", required=True, help="output directory (replaced if it exists)")
    p.add_argument("--architecture", default="wtko_cnn", help="registered model (default: wtko_cnn; "
                   "see `wtko plugins list --kind models`)")
    p.add_argument("--epochs", type=int, default=100, help="maximum epochs (default: 100)")
    p.add_argument("--patience", type=int, default=10,
                   help="stop after this many epochs without a better validation auROC (default: 10)")
    p.add_argument("--batch-size", type=int, default=64, help="sequences per batch (default: 64)")
    p.add_argument("--accumulation", type=int, default=4,
                   help="batches per optimiser step (gradient accumulation, default: 4)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default: 1e-3)")
    p.add_argument("--weight-decay", type=float, default=1e-4, help="Adam weight decay (default: 1e-4)")
    p.add_argument("--seeds", default="1", metavar="K|S1,S2,..",
                   help="a number K of seeded runs (seeds 0..K-1) or an explicit comma list (default: 1 run, seed 0)")
    p.add_argument("--rc-augment", action="store_true",
                   help="reverse-complement each training sequence with probability 0.5 per epoch")
    p.add_argument("--no-batchnorm", action="store_true",
                   help="WTKO-CNN without BatchNorm, as in the authors' released code")
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

    from wtko_captum.training.train import train

    config = {"batchnorm": False} if args.no_batchnorm else None
    path = train(args.data, args.out, architecture=args.architecture, epochs=args.epochs, patience=args.patience,
                 batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay,
                 accumulation=args.accumulation, rc_augment=args.rc_augment, seeds=parse_seeds(args.seeds),
                 device=args.device, model_config=config, verbose=not args.quiet)
    logging.getLogger("wtko_captum").info("checkpoint: %s", path)
    return 0
