"""Evaluate a trained checkpoint on one split of a prepared-data directory (default: test).

Output directory (written atomically)::

    metrics.json           {"split", "n", "accuracy", "auroc", "auprc",
                            "<class>": {"precision", "recall", "f1", "support"} per class,
                            "positive_class", "confusion_matrix", "model", "data", ...}
    confusion_matrix.json  {"labels": [...], "matrix": [[...]]}: rows true, columns predicted
    confusion_matrix.png
    predictions.tsv        chrom, start, end (the window, 0-based half-open), name, label,
                           class, prob_<class> per class, predicted

auROC / auPRC score class index 1 (``WT``) against the rest; with more than two classes they
are macro one-vs-rest averages. Undefined values (a split holding one class) are ``null``.

Multi-task data and models (one sigmoid output per task): metrics.json holds per task
accuracy, precision, recall, F1 (positive = probability > 0.5), auROC, auPRC and support (positives),
and ``accuracy``/``auroc``/``auprc`` are the means over tasks; confusion_matrix.json one 2x2
matrix per task (no figure); predictions.tsv the ``task:<name>`` labels, ``prob_<name>`` per task
and ``predicted`` (the tasks called, ``+``-joined).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from wtko_captum.core.atomic import atomic_dir
from wtko_captum.core.errors import CheckpointError, InputError


def evaluate(model_path, data, out, *, split: str = "test", device="auto", batch_size: int = 256) -> dict:
    """Score ``model_path`` on ``split`` of ``data`` and write metrics, plots and predictions.

    Parameters
    ----------
    model_path : path
        A checkpoint written by ``wtko train`` (loaded with ``weights_only=True``).
    data : path or :class:`wtko_captum.core.dataset.PreparedData`
        Prepared data whose window width equals the checkpoint's input length.
    out : path
        Output directory (replaced if it exists).
    split : {"test", "val", "train", "all"}
    device : "auto" | "cpu" | "cuda"
    batch_size : int

    Returns
    -------
    dict
        The content of metrics.json.

    Raises
    ------
    CheckpointError
        Not a data-only wtko checkpoint, another architecture the data cannot feed, another
        input length, or other class names than the data's.
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    from wtko_captum.core.checkpoint import load_model
    from wtko_captum.core.dataset import PreparedData, load_prepared
    from wtko_captum.core.device import resolve_device
    from wtko_captum.training.figures import plot_confusion_matrix
    from wtko_captum.training.train import predict_proba, ranking_metrics

    prepared = data if isinstance(data, PreparedData) else load_prepared(data)
    if split not in ("train", "val", "test", "all"):
        raise InputError("split must be one of train, val, test, all", value=split)
    dev = resolve_device(device)
    model, ckpt = load_model(model_path, input_length=prepared.width, device=dev, with_checkpoint=True)
    prepared = prepared.for_checkpoint(ckpt)
    class_names = prepared.class_names
    if list(ckpt["class_names"]) != class_names:
        raise CheckpointError(f"{model_path}: checkpoint classes {ckpt['class_names']} differ from the "
                              f"data's {class_names}")
    subset = prepared.split(split)
    if len(subset) == 0:
        raise InputError(f"no regions in the {split!r} split", path=prepared.path)
    sigmoid = getattr(model, "outputs", "softmax") == "sigmoid"
    if sigmoid != bool(prepared.tasks):
        raise CheckpointError(f"{model_path}: a model with {'one sigmoid output per task' if sigmoid else 'softmax classes'} "
                              f"cannot be scored on {'task' if prepared.tasks else 'class'} labels")
    if sigmoid:
        return _evaluate_tasks(model, ckpt, model_path, prepared, subset, split, dev, batch_size, Path(out))

    probs = predict_proba(model, subset.X, dev, batch_size=batch_size)
    y = subset.y
    pred = probs.argmax(1)
    labels = list(range(len(class_names)))
    prec, rec, f1, support = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    cm = confusion_matrix(y, pred, labels=labels)
    metrics = dict(split=split, n=int(len(y)), accuracy=float((pred == y).mean()), **ranking_metrics(y, probs))
    for i, name in enumerate(class_names):
        metrics[name] = dict(precision=float(prec[i]), recall=float(rec[i]), f1=float(f1[i]), support=int(support[i]))
    training = ckpt.get("training") or {}
    metrics.update(
        positive_class=class_names[1] if len(class_names) == 2 else None,
        class_names=class_names,
        confusion_matrix=dict(labels=class_names, matrix=cm.tolist(), rows="true", columns="predicted"),
        model=str(model_path), model_identity=model.identity, architecture=ckpt["architecture"],
        data=str(prepared.path) if prepared.path else None,
        selected_by=f"validation {training.get('selection_metric', 'auROC')} at epoch {training.get('best_epoch')}",
    )
    metrics = _json_safe(metrics)

    out = Path(out)
    with atomic_dir(out) as tmp:
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        (tmp / "confusion_matrix.json").write_text(
            json.dumps(dict(labels=class_names, matrix=cm.tolist(), rows="true", columns="predicted"), indent=2) + "\n")
        plot_confusion_matrix(cm, class_names, tmp / "confusion_matrix.png",
                              title=f"{split}: accuracy {metrics['accuracy']:.3f}, n = {len(y)}")
        _predictions_table(subset, probs, class_names).to_csv(tmp / "predictions.tsv", sep="\t", index=False,
                                                             float_format="%.6g")
    return metrics


def _evaluate_tasks(model, ckpt, model_path, prepared, subset, split, dev, batch_size, out: Path) -> dict:
    """Multi-task scoring: every task on its own (positive = sigmoid probability > 0.5), and the
    means over tasks as ``accuracy``/``auroc``/``auprc``."""
    import pandas as pd

    from wtko_captum.training.train import predict_proba, task_metrics

    tasks = prepared.tasks
    probs = predict_proba(model, subset.X, dev, batch_size=batch_size, multi_task=True)
    Y = subset.Y
    per = task_metrics(Y, probs)

    def mean(key):
        vals = [m[key] for m in per if not math.isnan(m[key])]
        return float(np.mean(vals)) if vals else float("nan")

    training = ckpt.get("training") or {}
    matrices = {}
    for j, t in enumerate(tasks):
        y, call = Y[:, j].astype(int), (probs[:, j] > 0.5).astype(int)
        matrices[t] = [[int(((y == a) & (call == b)).sum()) for b in (0, 1)] for a in (0, 1)]
    metrics = dict(split=split, n=int(len(Y)), tasks=tasks, accuracy=mean("accuracy"), auroc=mean("auroc"),
                   auprc=mean("auprc"), **dict(zip(tasks, per)), outputs="sigmoid", class_names=tasks,
                   confusion_matrix=dict(per_task=matrices, rows="true 0/1", columns="called 0/1"),
                   model=str(model_path), model_identity=model.identity, architecture=ckpt["architecture"],
                   data=str(prepared.path) if prepared.path else None,
                   selected_by=f"validation {training.get('selection_metric', 'auROC')} at epoch "
                               f"{training.get('best_epoch')}")
    metrics = _json_safe(metrics)
    reg = subset.regions
    table = pd.DataFrame({"chrom": reg["chrom"].astype(str), "start": reg["start"], "end": reg["end"],
                          "name": reg["name"]})
    for j, t in enumerate(tasks):
        table[f"task:{t}"] = Y[:, j].astype(int)
    for j, t in enumerate(tasks):
        table[f"prob_{t}"] = probs[:, j]
    table["predicted"] = ["+".join(t for t, p in zip(tasks, row) if p > 0.5) or "none" for row in probs]
    with atomic_dir(out) as tmp:
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        (tmp / "confusion_matrix.json").write_text(json.dumps(metrics["confusion_matrix"], indent=2) + "\n")
        table.to_csv(tmp / "predictions.tsv", sep="\t", index=False, float_format="%.6g")
    return metrics


def _predictions_table(subset, probs: np.ndarray, class_names):
    import pandas as pd

    reg = subset.regions
    table = pd.DataFrame({"chrom": reg["chrom"].astype(str), "start": reg["start"], "end": reg["end"],
                          "name": reg["name"], "label": reg["label"],
                          "class": [class_names[i] for i in subset.y]})
    for i, name in enumerate(class_names):
        table[f"prob_{name}"] = probs[:, i]
    table["predicted"] = [class_names[i] for i in probs.argmax(1)]
    return table


def _json_safe(obj):
    """NaN -> None so metrics.json stays valid JSON."""
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, float) and math.isnan(obj):
        return None
    return obj
