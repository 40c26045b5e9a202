"""wtko evaluate: score a checkpoint on the held-out test split."""
from __future__ import annotations

HELP = "accuracy, precision/recall/F1, auROC, auPRC and predictions of a checkpoint on the test split"
STAGE = "model"
DESCRIPTION = """Score a trained checkpoint on one split of a prepared-data directory (default: the
held-out test chromosomes). The data's window width must equal the checkpoint's input length.

outputs (in -o DIR):
  metrics.json           accuracy, auroc, auprc, per-class precision/recall/f1/support, n, split
  confusion_matrix.json  rows = true class, columns = predicted class
  confusion_matrix.png
  predictions.tsv        chrom, start, end (0-based half-open window), name, label, class,
                         prob_<class> per class, predicted

example:
  wtko evaluate model/model.pt data/ -o eval/
  wtko evaluate model/model.pt data/ -o eval_val/ --split val
"""


def add_arguments(p):
    from wtko_captum.cli.options import add_batch_size, add_device, add_out, add_split

    p.add_argument("model", help="checkpoint from `wtko train` (model.pt)")
    p.add_argument("data", help="prepared-data directory (from `wtko prepare`)")
    add_out(p, "output directory (replaced if it exists)")
    add_split(p)
    add_batch_size(p, default=256)
    add_device(p)


def run(args) -> int:
    from wtko_captum.training.evaluate import evaluate

    m = evaluate(args.model, args.data, args.out, split=args.split, device=args.device, batch_size=args.batch_size)
    fmt = lambda x: "n/a" if x is None else f"{x:.3f}"  # noqa: E731
    if not args.quiet:
        print(f"{m['split']}: n={m['n']} accuracy={fmt(m['accuracy'])} auROC={fmt(m['auroc'])} "
              f"auPRC={fmt(m['auprc'])}")
        for name in m["class_names"]:
            c = m[name]
            task = f" auROC={fmt(c['auroc'])}" if "auroc" in c else ""  # multi-task: per task
            print(f"  {name}: precision={fmt(c['precision'])} recall={fmt(c['recall'])} f1={fmt(c['f1'])}{task} "
                  f"(n={c['support']})")
        figure = "" if m.get("tasks") else ", confusion_matrix.png"
        print(f"outputs: {args.out}/metrics.json, predictions.tsv{figure}")
    return 0
