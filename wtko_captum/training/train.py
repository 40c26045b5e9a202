"""Train a sequence classifier on a prepared-data directory, as the WTKO paper trained its CNN.

Adam (lr 1e-3, weight decay 1e-4), cross-entropy (class-weighted when ``meta.json`` carries
class weights, i.e. when ``prepare`` did not balance the classes), mini-batches with gradient
accumulation (4 batches per optimiser step), mixed precision on CUDA only, up to ``epochs``
epochs with early stopping. The checkpoint kept is the epoch with the best auROC on the
**validation** split; the test split is never looked at here (the paper selected on test,
which leaks; ``wtko evaluate`` reports test once).

Output directory (one seed)::

    model.pt             best-validation checkpoint (wtko_captum.core.checkpoint format)
    metrics.csv          one row per epoch: train/val loss, accuracy, val auROC/auPRC, seconds
    learning_curve.png   loss and accuracy/auROC per epoch, best epoch marked
    training.json        the training summary also stored inside model.pt

With several seeds each run goes to ``seed_K/`` (the layout above), ``model.pt`` is a copy of
the run with the best validation auROC, and ``runs.tsv`` lists the runs.
"""
from __future__ import annotations

import json
import logging
import math
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from wtko_captum.core.atomic import atomic_dir
from wtko_captum.core.errors import InputError, WtkoError
from wtko_captum.core.targets import predict_logits

log = logging.getLogger("wtko_captum")

SELECTION_METRIC = "val_auroc"


def train(data, out, *, model: str = "wtko_cnn", epochs: int = 100, patience: int = 10,
          batch_size: int = 64, lr: float = 1e-3, weight_decay: float = 1e-4, accumulation: int = 4,
          rc_augment: bool = False, seeds=(0,), device="auto", model_options: dict | None = None,
          fold: int | None = None, verbose: bool = True, **old) -> Path:
    """Train ``model`` on the train split, select on the validation split.

    Parameters
    ----------
    data : path or :class:`wtko_captum.core.dataset.PreparedData`
        A prepared-data directory (``wtko prepare`` output). Sequences ``(N, 4, L)``.
    out : path
        Output directory, written atomically (replaced if it exists).
    model : str
        A registered model name (``wtko plugins --kind models``), or ``"package.module:factory"``
        for a model that is not a plugin (the model contract: ``wtko_captum.core.architecture``).
    epochs, patience : int
        At most ``epochs`` epochs; stop after ``patience`` epochs without a better
        validation auROC.
    batch_size, accumulation : int
        Mini-batch size and batches per optimiser step (effective batch
        ``batch_size * accumulation``).
    lr, weight_decay : float
        Adam parameters.
    rc_augment : bool
        Replace each training sequence by its reverse complement with probability 0.5
        (drawn anew every epoch from the seed).
    seeds : int or sequence of int
        One run per seed. Same data, options and seed give the same weights on CPU.
    device : "auto" | "cpu" | "cuda"
    model_options : dict, optional
        The model's own constructor options, e.g. ``{"batchnorm": False}`` (the authors'
        released code). ``input_length`` and ``n_classes`` come from the data.
    fold : int, optional
        With data prepared in K folds (``prepare --folds K``): hold out fold ``fold`` for
        testing and fold ``fold + 1`` (mod K) for validation, train on the rest. Recorded in
        the checkpoint, so ``evaluate`` and ``attribute`` use the same splits.
    verbose : bool
        tqdm progress bar and per-run log lines.

    Returns
    -------
    Path
        ``out/model.pt``.
    """
    from wtko_captum.core.dataset import PreparedData, load_prepared
    from wtko_captum.core.deprecation import renamed_keywords
    from wtko_captum.core.device import resolve_device

    renamed = renamed_keywords("train", old, {"architecture": "model", "model_config": "model_options"})
    model = renamed.get("model", model)
    model_options = renamed.get("model_options", model_options)

    prepared = data if isinstance(data, PreparedData) else load_prepared(data)
    prepared = prepared.with_fold(fold)
    seeds = [int(seeds)] if isinstance(seeds, (int, np.integer)) else [int(s) for s in seeds]
    if not seeds:
        raise WtkoError("train: give at least one seed")
    if len(set(seeds)) != len(seeds):
        raise WtkoError(f"train: seeds repeat ({seeds})")
    for name, value in (("epochs", epochs), ("batch_size", batch_size), ("accumulation", accumulation)):
        if int(value) < 1:
            raise WtkoError(f"train: {name} must be at least 1 (got {value})")
    dev = resolve_device(device)
    train_set, val_set, val_note = _train_val(prepared)
    opts = dict(architecture=model, epochs=int(epochs), patience=int(patience), batch_size=int(batch_size),
                lr=float(lr), weight_decay=float(weight_decay), accumulation=int(accumulation),
                rc_augment=bool(rc_augment), model_options=dict(model_options or {}))
    data_summary = _data_summary(prepared, val_note)
    out = Path(out)
    with atomic_dir(out) as tmp:
        if len(seeds) == 1:
            _train_one(train_set, val_set, prepared, tmp, seeds[0], dev, opts, data_summary, verbose)
        else:
            runs = []
            for seed in seeds:
                summary = _train_one(train_set, val_set, prepared, tmp / f"seed_{seed}", seed, dev, opts,
                                     data_summary, verbose)
                runs.append(dict(seed=seed, best_epoch=summary["best_epoch"], epochs_run=summary["epochs_run"],
                                 **{f"val_{k}": v for k, v in summary["val"].items()},
                                 seconds=summary["seconds"], checkpoint=f"seed_{seed}/model.pt"))
            import pandas as pd

            table = pd.DataFrame(runs)
            score = table["val_auroc"].fillna(-np.inf) if table["val_auroc"].notna().any() else -table["val_loss"]
            best = int(np.argmax(score.to_numpy()))  # first of ties: lowest listed seed
            table["selected"] = [i == best for i in range(len(table))]
            table.to_csv(tmp / "runs.tsv", sep="\t", index=False, float_format="%.6g")
            shutil.copyfile(tmp / f"seed_{runs[best]['seed']}" / "model.pt", tmp / "model.pt")
            shutil.copyfile(tmp / f"seed_{runs[best]['seed']}" / "training.json", tmp / "training.json")
            if verbose:
                log.info("seed %d has the best validation auROC (%.3f); copied to %s",
                         runs[best]["seed"], runs[best]["val_auroc"], out / "model.pt")
    return out / "model.pt"


def _train_val(prepared):
    """The train and validation subsets; a seeded 10 % of train when there is no val split."""
    train_set = prepared.split("train")
    val_set = prepared.split("val")
    note = "validation split from prepare"
    if len(train_set) == 0:
        raise InputError("no training regions (split column has no 'train' rows)", path=prepared.path)
    if len(val_set) == 0:
        # Never select on test: carve a validation set out of train instead, stratified.
        rng = np.random.default_rng(0)
        y = train_set.y
        take = np.zeros(len(y), dtype=bool)
        for c in np.unique(y):
            idx = np.flatnonzero(y == c)
            k = max(1, int(round(0.1 * len(idx)))) if len(idx) > 1 else 0
            take[rng.choice(idx, size=k, replace=False)] = True
        val_set, train_set = train_set.subset(take), train_set.subset(~take)
        note = "no validation split in the data: a seeded, stratified 10% of train (seed 0)"
        log.warning("train: %s", note)
    if prepared.tasks:
        Y = train_set.Y
        flat = [t for j, t in enumerate(prepared.tasks) if Y[:, j].min() == Y[:, j].max()]
        if flat:
            raise InputError(f"the training split has only positives or only negatives for task(s) "
                             f"{', '.join(flat)}", path=prepared.path)
        return train_set, val_set, note
    missing = set(range(len(prepared.class_names))) - set(np.unique(train_set.y).tolist())
    if missing:
        names = [prepared.class_names[i] for i in sorted(missing)]
        raise InputError(f"the training split has no {', '.join(names)} regions", path=prepared.path)
    return train_set, val_set, note


def _data_summary(prepared, val_note) -> dict:
    regions = prepared.regions
    counts = {}
    if len(regions):
        for (split, cls), k in regions.groupby(["split", "class"]).size().items():
            counts.setdefault(str(split), {})[str(cls)] = int(k)
    meta = prepared.meta
    return dict(path=str(prepared.path) if prepared.path else None, width=prepared.width,
                class_names=prepared.class_names, counts=counts, validation=val_note,
                genome=meta.get("genome"), genome_build=meta.get("genome_build"),
                class_weights=meta.get("class_weights"), fold=prepared.fold)


def _class_weights(prepared) -> list[float] | None:
    """Loss weights from meta.json (a list in class-index order or a {class: weight} dict)."""
    w = prepared.meta.get("class_weights")
    if not w:
        return None
    if isinstance(w, dict):
        w = [float(w.get(c, 1.0)) for c in prepared.class_names]
    w = [float(v) for v in w]
    return None if all(abs(v - 1.0) < 1e-12 for v in w) else w


def _train_one(train_set, val_set, prepared, run_dir: Path, seed: int, dev, opts, data_summary, verbose) -> dict:
    from tqdm.auto import tqdm

    from wtko_captum.core.checkpoint import save_checkpoint
    from wtko_captum.core.architecture import build_model
    from wtko_captum.training.figures import plot_learning_curve
    from wtko_captum.core.sequence import reverse_complement_onehot

    run_dir.mkdir(parents=True, exist_ok=True)
    class_names = prepared.class_names
    multi = bool(prepared.tasks)  # one independent sigmoid output per task
    amp = dev.type == "cuda"
    weights = None if multi else _class_weights(prepared)
    t0 = time.perf_counter()
    # Fork the global RNG so a seeded run neither depends on nor disturbs the caller's state
    # (dropout draws from it).
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        model = build_model(opts["architecture"], input_length=prepared.width, n_classes=len(class_names),
                            trusted_spec=opts["architecture"], **opts["model_options"])
        model.to(dev)
        optimiser = torch.optim.Adam(model.parameters(), lr=opts["lr"], weight_decay=opts["weight_decay"])
        loss_fn = torch.nn.BCEWithLogitsLoss() if multi else torch.nn.CrossEntropyLoss(
            weight=torch.tensor(weights, dtype=torch.float32, device=dev) if weights else None)
        scaler = torch.amp.GradScaler("cuda", enabled=amp)
        gen = torch.Generator().manual_seed(seed)
        X = torch.from_numpy(np.ascontiguousarray(train_set.X))
        y = torch.from_numpy(train_set.Y if multi else np.array(train_set.y, dtype=np.int64))
        history, best, best_state, since_best = [], None, None, 0
        bar = tqdm(range(1, opts["epochs"] + 1), desc=f"train seed {seed}", unit="epoch",
                   disable=not verbose, leave=False)
        for epoch in bar:
            te = time.perf_counter()
            model.train()
            order = torch.randperm(len(y), generator=gen)
            flips = torch.rand(len(y), generator=gen) < 0.5 if opts["rc_augment"] else None
            batches = [order[i:i + opts["batch_size"]] for i in range(0, len(order), opts["batch_size"])]
            acc_steps = opts["accumulation"]
            tot_loss, tot_correct = 0.0, 0
            optimiser.zero_grad(set_to_none=True)
            for b, idx in enumerate(batches):
                xb = X[idx]
                if flips is not None:
                    f = flips[idx]
                    xb[f] = reverse_complement_onehot(xb[f])  # X[idx] is a copy: the data stay put
                xb, yb = xb.to(dev, non_blocking=True), y[idx].to(dev, non_blocking=True)
                # the last group of batches may be shorter than `accumulation`: average over it
                group = min(acc_steps, len(batches) - (b // acc_steps) * acc_steps)
                with torch.autocast(device_type=dev.type, dtype=torch.float16, enabled=amp):
                    logits = model(xb)
                loss = loss_fn(logits.float(), yb)
                scaler.scale(loss / group).backward()
                if (b + 1) % acc_steps == 0 or b + 1 == len(batches):
                    scaler.step(optimiser)
                    scaler.update()
                    optimiser.zero_grad(set_to_none=True)
                tot_loss += float(loss.detach()) * len(idx)
                tot_correct += _correct(logits.detach(), yb, multi)
            val = evaluate_split(model, val_set, dev, loss_fn=loss_fn, amp=amp, multi_task=multi)
            row = dict(epoch=epoch, train_loss=tot_loss / len(y), train_acc=tot_correct / len(y),
                       val_loss=val["loss"], val_acc=val["accuracy"], val_auroc=val["auroc"],
                       val_auprc=val["auprc"], seconds=time.perf_counter() - te)
            history.append(row)
            score = _selection_score(row)
            if best is None or score > best["score"] + 1e-9:
                best = dict(score=score, epoch=epoch, val=val)
                best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
                since_best = 0
            else:
                since_best += 1
            bar.set_postfix(loss=f"{row['train_loss']:.3f}", val_auroc=_fmt(row["val_auroc"]),
                            best=best["epoch"])
            if since_best >= opts["patience"]:
                break
        bar.close()
        model.load_state_dict(best_state)
    seconds = time.perf_counter() - t0
    import pandas as pd

    hist = pd.DataFrame(history)
    hist.to_csv(run_dir / "metrics.csv", index=False, float_format="%.6g")
    plot_learning_curve(hist, run_dir / "learning_curve.png", best_epoch=best["epoch"],
                        title=f"{opts['architecture']} seed {seed}: best epoch {best['epoch']} "
                              f"(val auROC {_fmt(best['val']['auroc'])})")
    summary = dict(
        seed=seed, best_epoch=best["epoch"], epochs_run=len(history), max_epochs=opts["epochs"],
        stopped_early=len(history) < opts["epochs"], selection_metric=SELECTION_METRIC,
        val={k: best["val"][k] for k in ("loss", "accuracy", "auroc", "auprc")},
        hyperparameters={k: v for k, v in opts.items()}, loss_class_weights=weights,
        device=str(dev), mixed_precision=amp, seconds=round(seconds, 2), torch_version=torch.__version__,
        data=data_summary, loss="binary cross-entropy per task" if multi else "cross-entropy",
    )
    save_checkpoint(run_dir / "model.pt", model.cpu(), opts["architecture"], class_names,
                    genome_build=data_summary.get("genome_build"), training=summary,
                    outputs="sigmoid" if multi else "softmax")
    (run_dir / "training.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    if verbose:
        log.info("seed %d: best epoch %d of %d, val auROC %s, accuracy %.3f (%.1f s) -> %s",
                 seed, best["epoch"], len(history), _fmt(best["val"]["auroc"]), best["val"]["accuracy"],
                 seconds, run_dir / "model.pt")
    return summary


def _correct(logits: torch.Tensor, y: torch.Tensor, multi_task: bool) -> float:
    """Correct calls in a batch: argmax = class; per task (logit > 0 = positive), the fraction
    of a sequence's tasks called right."""
    if multi_task:
        return float(((logits > 0) == (y > 0.5)).float().mean(1).sum())
    return int((logits.argmax(1) == y).sum())


def _selection_score(row) -> float:
    """Validation auROC; minus the validation loss when auROC is undefined (one class)."""
    auroc = row["val_auroc"]
    return float(auroc) if auroc is not None and not math.isnan(auroc) else -float(row["val_loss"])


def _fmt(x) -> str:
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


@torch.no_grad()
def predict_proba(model, X, device, *, batch_size: int = 256, amp: bool = False,
                  multi_task: bool = False) -> np.ndarray:
    """Probabilities ``(N, n_outputs)`` float64 for one-hot ``X`` ``(N, 4, L)``: softmax over
    the classes, or (``multi_task``) an independent sigmoid per task.

    The model's train/eval mode is restored afterwards.
    """
    was_training = model.training
    model.eval()
    try:
        logits = predict_logits(model, torch.as_tensor(np.ascontiguousarray(X)), batch_size, device, amp=amp)
    finally:
        model.train(was_training)
    if not len(logits):
        return np.zeros((0, 2))
    p = torch.sigmoid(logits) if multi_task else torch.softmax(logits, dim=1)
    return p.double().numpy()


def evaluate_split(model, subset, device, *, loss_fn=None, amp: bool = False, batch_size: int = 256,
                   multi_task: bool = False) -> dict:
    """Loss, accuracy, auROC and auPRC of ``model`` on a :class:`PreparedData` subset.

    Classes: auROC / auPRC are for class index 1 (WT) vs the rest with two classes, macro
    one-vs-rest otherwise; NaN when the subset holds a single class. Tasks (``multi_task``):
    the means over tasks of each task's accuracy (at probability 0.5), auROC and auPRC (tasks
    whose labels are all equal are left out of the ranking means).
    """
    probs = predict_proba(model, subset.X, device, batch_size=batch_size, amp=amp, multi_task=multi_task)
    if multi_task:
        Y = subset.Y
        res = dict(n=int(len(Y)), accuracy=float(((probs > 0.5) == (Y > 0.5)).mean()) if len(Y) else float("nan"))
        if loss_fn is not None and len(Y):
            p = torch.from_numpy(probs).clamp(1e-7, 1 - 1e-7)
            res["loss"] = float(torch.nn.functional.binary_cross_entropy(p, torch.from_numpy(Y).double()))
        else:
            res["loss"] = float("nan")
        per = task_metrics(Y, probs)
        res.update(auroc=_nanmean([m["auroc"] for m in per]), auprc=_nanmean([m["auprc"] for m in per]))
        return res
    y = subset.y
    res = dict(n=int(len(y)), accuracy=float((probs.argmax(1) == y).mean()) if len(y) else float("nan"))
    if loss_fn is not None and len(y):
        logp = torch.log(torch.from_numpy(probs).float().clamp_min(1e-12))
        w = loss_fn.weight.cpu() if getattr(loss_fn, "weight", None) is not None else None
        res["loss"] = float(torch.nn.functional.nll_loss(logp, torch.from_numpy(np.array(y, dtype=np.int64)), weight=w))
    else:
        res["loss"] = float("nan")
    res.update(ranking_metrics(y, probs))
    return res


def _nanmean(values) -> float:
    values = [v for v in values if not math.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def task_metrics(Y: np.ndarray, probs: np.ndarray) -> list[dict]:
    """Per task: accuracy, precision, recall, F1 (positive = probability > 0.5), auROC, auPRC and
    ``support`` (the positives), from labels ``(N, T)`` and sigmoid probabilities ``(N, T)``."""
    from sklearn.metrics import average_precision_score, precision_recall_fscore_support, roc_auc_score

    out = []
    for j in range(Y.shape[1]):
        y, p = Y[:, j].astype(int), probs[:, j]
        call = (p > 0.5).astype(int)
        prec, rec, f1, _ = precision_recall_fscore_support(y, call, average="binary", zero_division=0)
        both = len(np.unique(y)) == 2
        out.append(dict(accuracy=float((call == y).mean()), precision=float(prec), recall=float(rec),
                        f1=float(f1), auroc=float(roc_auc_score(y, p)) if both else float("nan"),
                        auprc=float(average_precision_score(y, p)) if both else float("nan"),
                        support=int(y.sum()), n=int(len(y))))
    return out


def ranking_metrics(y: np.ndarray, probs: np.ndarray) -> dict:
    """``{"auroc", "auprc"}`` from labels ``(N,)`` and probabilities ``(N, n_classes)``."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.asarray(y)
    if len(np.unique(y)) < 2:
        return dict(auroc=float("nan"), auprc=float("nan"))
    if probs.shape[1] == 2:
        return dict(auroc=float(roc_auc_score(y, probs[:, 1])), auprc=float(average_precision_score(y, probs[:, 1])))
    onehot = np.eye(probs.shape[1])[y]
    present = onehot.sum(0) > 0
    return dict(auroc=float(roc_auc_score(y, probs, multi_class="ovr", labels=list(range(probs.shape[1])))),
                auprc=float(average_precision_score(onehot[:, present], probs[:, present], average="macro")))
