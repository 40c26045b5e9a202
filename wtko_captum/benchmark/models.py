"""Architectures compared on one dataset: the WTKO paper's comparison, reproducible.

Every architecture is trained on the same prepared data, split, budget and seeds
(:func:`wtko_captum.training.train.train`, model selected on the validation split), scored once
on the test split (:func:`wtko_captum.training.evaluate.evaluate`) and timed. Each
(architecture, seed) run lives in its own directory and is finished when its ``result.json``
exists, so an interrupted benchmark resumes where it stopped and gives the table an
uninterrupted one would.

Output directory::

    benchmark.json            the settings (a re-run with other settings is refused), versions,
                              threads, architectures that cannot take the data (with the reason)
    runs/<model>/seed_<s>/    model/ (the training output), eval/ (metrics.json, predictions.tsv),
                              result.json (the run's numbers; written last)
    runs.tsv                  one row per run
    summary.tsv               per architecture: mean and sd over seeds of every metric
    summary.md                the Markdown table (mean ± sd)
    roc.png                   test ROC per architecture (mean over seeds: TPR averaged at each FPR)

Metrics (test split): accuracy, auROC and auPRC (positive class = class index 1; macro
one-vs-rest with more classes; for multi-task data the means over tasks, as ``wtko evaluate``
gives them), precision/recall/F1 per class (or per task), trainable parameters, training
time (seconds, the whole run with early stopping) and inference throughput (test sequences per
second through ``predict_proba`` in batches of 256, best of three passes after a warm-up, in
this process with its torch threads).
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from wtko_captum.core.errors import InputError

log = logging.getLogger("wtko_captum")

#: the architectures ``"all"`` means: every registered model, in this order first
ZOO = ("wtko_cnn", "cnn4", "cnn_lstm", "transformer", "cnn_transformer", "deepsea", "danq", "basset")
#: the WTKO paper's RelA test accuracies (the published comparison)
PAPER_RELA = {"wtko_cnn": 0.68, "cnn4": 0.64, "cnn_lstm": 0.63, "transformer": 0.60, "cnn_transformer": 0.62}


def resolve_models(models, input_length: int, n_classes: int, model_options: dict) -> tuple[list[str], dict]:
    """``(names, skipped)``: the architectures to run (``"all"`` or a list) and, for ``"all"``,
    those that cannot take this data, with the reason. A named one that cannot is an error."""
    from wtko_captum.core.architecture import architectures, build_model

    every = "all" in ([models] if isinstance(models, str) else list(models))
    names = ([m for m in ZOO if m in architectures()] + [m for m in architectures() if m not in ZOO]
             if every else [models] if isinstance(models, str) else list(models))
    if not names:
        raise InputError("no architectures to benchmark")
    runnable, skipped = [], {}
    for name in names:
        try:
            build_model(name, input_length=input_length, n_classes=n_classes, trusted_spec=name,
                        **model_options.get(name, {}))
        except Exception as exc:  # a plugin that cannot take this data: reported, not fatal, for "all"
            if not every:
                raise InputError(f"model {name!r} cannot be trained on this data: {exc}") from None
            skipped[name] = str(exc)
            continue
        runnable.append(name)
    return runnable, skipped


def benchmark_models(data, out, *, models="all", seeds=3, epochs: int = 30, patience: int = 10,
                     batch_size: int = 64, accumulation: int = 1, lr: float = 1e-3, weight_decay: float = 1e-4,
                     model_options: dict | None = None, device="auto", verbose: bool = True) -> dict:
    """Train, evaluate and time every architecture in ``models`` for every seed.

    Parameters
    ----------
    data : path or PreparedData
        A prepared-data directory with train, val (or a carved 10 % of train) and test splits.
    out : path
        Output directory (see the module docstring); a re-run with the same settings resumes.
    models : ``"all"`` or list of str
        Registered architectures (or ``module:factory`` specs).
    seeds : int or list of int
        ``K`` (seeds ``0..K-1``) or the seeds themselves; one training run per seed.
    epochs, patience, batch_size, accumulation, lr, weight_decay
        The training budget, the same for every architecture (see :func:`train`).
    model_options : dict, optional
        ``{architecture: {option: value}}`` passed to that architecture's constructor.
    device : "auto" | "cpu" | "cuda"

    Returns
    -------
    dict with ``runs`` (DataFrame, one row per run), ``summary`` (DataFrame) and ``paths``.
    """
    import torch
    from tqdm.auto import tqdm

    from wtko_captum import __version__
    from wtko_captum.core.atomic import make_dirs, write_marker, write_text
    from wtko_captum.core.dataset import PreparedData, load_prepared
    from wtko_captum.core.device import resolve_device

    prepared = data if isinstance(data, PreparedData) else load_prepared(data)
    seeds = list(range(int(seeds))) if isinstance(seeds, (int, np.integer)) else [int(s) for s in seeds]
    if not seeds:
        raise InputError("give at least one seed")
    if len(prepared.split("test")) == 0:
        raise InputError("the data has no test split to score on", path=prepared.path)
    model_options = {k: dict(v) for k, v in (model_options or {}).items()}
    names, skipped = resolve_models(models, prepared.width, len(prepared.class_names), model_options)
    dev = resolve_device(device)
    settings = dict(data=str(prepared.path) if prepared.path else None, models=names, seeds=seeds,
                    epochs=int(epochs), patience=int(patience), batch_size=int(batch_size),
                    accumulation=int(accumulation), lr=float(lr), weight_decay=float(weight_decay),
                    model_options=model_options)
    out = Path(out)
    _check_settings(out, settings)
    meta = dict(settings=settings, skipped=skipped, device=str(dev), threads=torch.get_num_threads(),
                torch_version=torch.__version__, wtko_captum_version=__version__,
                class_names=prepared.class_names, width=prepared.width)
    make_dirs(out)
    write_marker(out)  # an output of this tool (it may be replaced or resumed later)
    write_text(out / "benchmark.json", json.dumps(meta, indent=2) + "\n")
    for name, why in skipped.items():
        log.warning("benchmark: %s skipped: %s", name, why)

    results = []
    jobs = [(name, seed) for name in names for seed in seeds]
    bar = tqdm(jobs, desc="benchmark models", unit="run", disable=not verbose)
    for name, seed in bar:
        bar.set_postfix(model=name, seed=seed)
        results.append(_run(prepared, out / "runs" / name / f"seed_{seed}", name, seed, settings, dev))
    bar.close()
    runs = pd.DataFrame(results)
    summary = summarise(runs, prepared.class_names)
    paths = write_tables(out, runs, summary, prepared.class_names)
    return dict(runs=runs, summary=summary, paths=paths)


def _check_settings(out: Path, settings: dict) -> None:
    """Refuse to resume a benchmark made with other settings (its runs would be mixed in)."""
    path = out / "benchmark.json"
    if not path.is_file():
        if out.exists() and any(out.iterdir()):
            raise InputError("the output directory exists and holds no benchmark; choose another -o", path=out)
        return
    old = json.loads(path.read_text()).get("settings", {})
    differ = [k for k in settings if k != "models" and old.get(k) != json.loads(json.dumps(settings[k]))]
    if differ:
        raise InputError(f"the output directory holds a benchmark made with other settings ({', '.join(differ)}); "
                         "use another -o, or the same settings to resume", path=path)


def _run(prepared, run_dir: Path, name: str, seed: int, settings: dict, dev) -> dict:
    """Train, evaluate and time one (architecture, seed); the stored result when it is done."""
    from wtko_captum.core.atomic import write_text
    from wtko_captum.core.checkpoint import load_model
    from wtko_captum.training.evaluate import evaluate
    from wtko_captum.training.train import train

    done = run_dir / "result.json"
    if done.is_file():
        return json.loads(done.read_text())
    model_path = train(prepared, run_dir / "model", model=name, seeds=(seed,), epochs=settings["epochs"],
                       patience=settings["patience"], batch_size=settings["batch_size"],
                       accumulation=settings["accumulation"], lr=settings["lr"],
                       weight_decay=settings["weight_decay"], device=dev,
                       model_options=settings["model_options"].get(name), verbose=False)
    metrics = evaluate(model_path, prepared, run_dir / "eval", split="test", device=dev)
    model, ckpt = load_model(model_path, trusted_spec=name, device=dev, with_checkpoint=True)
    training = ckpt.get("training") or {}
    result = dict(model=name, seed=seed, parameters=sum(p.numel() for p in model.parameters() if p.requires_grad),
                  accuracy=metrics["accuracy"], auroc=metrics["auroc"], auprc=metrics["auprc"],
                  train_seconds=training.get("seconds"), best_epoch=training.get("best_epoch"),
                  epochs_run=training.get("epochs_run"),
                  inference_seq_per_s=_throughput(model, prepared.split("test").X, dev))
    for cls in prepared.class_names:
        for k in ("precision", "recall", "f1"):
            result[f"{k}_{cls}"] = metrics[cls][k]
    write_text(done, json.dumps(result, indent=2) + "\n")
    return result


def _throughput(model, X, dev, repeats: int = 3) -> float:
    """Test sequences per second through ``predict_proba`` (best of ``repeats`` after a warm-up)."""
    from wtko_captum.training.train import predict_proba

    predict_proba(model, X[:256], dev)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        predict_proba(model, X, dev)
        best = min(best, time.perf_counter() - t0)
    return len(X) / best


METRICS = ("accuracy", "auroc", "auprc")


def summarise(runs: pd.DataFrame, class_names) -> pd.DataFrame:
    """Per architecture (in run order): mean and sd over seeds of every numeric column."""
    cols = [c for c in runs.columns if c not in ("model", "seed") and pd.api.types.is_numeric_dtype(runs[c])]
    rows = []
    for name, g in runs.groupby("model", sort=False):
        row = {"model": name, "seeds": len(g)}
        for c in cols:
            row[f"{c}_mean"] = float(g[c].mean())
            row[f"{c}_sd"] = float(g[c].std(ddof=1)) if len(g) > 1 else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def markdown_table(summary: pd.DataFrame, class_names) -> str:
    """The summary as a Markdown table: mean ± sd over seeds."""
    def pm(row, c, fmt="{:.3f}"):
        m, s = row[f"{c}_mean"], row[f"{c}_sd"]
        return fmt.format(m) + ("" if np.isnan(s) else " ± " + fmt.format(s))

    head = (["model", "params", "accuracy", "auROC", "auPRC"] + [f"F1 {c}" for c in class_names]
            + [f"P/R {c}" for c in class_names] + ["train s", "seq/s", "seeds"])
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for _, r in summary.iterrows():
        cells = [r["model"], f"{int(r['parameters_mean']):,}", pm(r, "accuracy"), pm(r, "auroc"), pm(r, "auprc")]
        cells += [pm(r, f"f1_{c}") for c in class_names]
        cells += [f"{r[f'precision_{c}_mean']:.2f}/{r[f'recall_{c}_mean']:.2f}" for c in class_names]
        cells += [pm(r, "train_seconds", "{:.0f}"), f"{r['inference_seq_per_s_mean']:,.0f}", str(int(r["seeds"]))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_tables(out: Path, runs: pd.DataFrame, summary: pd.DataFrame, class_names) -> dict:
    """runs.tsv, summary.tsv, summary.md and roc.png in ``out``; returns their paths."""
    from wtko_captum.core.atomic import atomic_path, write_text

    paths = {}
    for key, table in (("runs.tsv", runs), ("summary.tsv", summary)):
        with atomic_path(out / key) as tmp:
            table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
        paths[key] = out / key
    paths["summary.md"] = write_text(out / "summary.md", markdown_table(summary, class_names))
    paths["roc.png"] = plot_roc(out, runs, out / "roc.png")
    return paths


def plot_roc(out: Path, runs: pd.DataFrame, path: Path) -> Path:
    """One ROC curve per architecture on the test split: each seed's curve interpolated on a
    common FPR grid and the TPRs averaged (the band is ± sd over seeds)."""
    from sklearn.metrics import roc_curve

    from wtko_captum.core.figures import new_figure, save_figure

    grid = np.linspace(0, 1, 201)
    fig = new_figure(5.5, 5.0)
    ax = fig.add_subplot(1, 1, 1)
    for name, g in runs.groupby("model", sort=False):
        tprs = []
        for seed in g["seed"]:
            y, score = _test_scores(out / "runs" / name / f"seed_{seed}" / "eval" / "predictions.tsv")
            if len(np.unique(y)) < 2:
                continue
            fpr, tpr, _ = roc_curve(y, score)
            tprs.append(np.interp(grid, fpr, tpr))
        if not tprs:
            continue
        mean, sd = np.mean(tprs, axis=0), np.std(tprs, axis=0)
        line, = ax.plot(grid, mean, lw=1.6, label=f"{name} (auROC {g['auroc'].mean():.3f})")
        if len(tprs) > 1:
            ax.fill_between(grid, np.clip(mean - sd, 0, 1), np.clip(mean + sd, 0, 1), color=line.get_color(),
                            alpha=0.12, lw=0)
    ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.01),
           title="test ROC, mean over seeds")
    ax.legend(loc="lower right", fontsize=7, frameon=False)
    return save_figure(fig, path)


def _test_scores(predictions: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(y, score)`` from evaluate's predictions.tsv: positive class = the second class column
    (class index 1); with more classes, every class one-vs-rest, pooled (micro average); for a
    multi-task model (``task:<name>`` label columns) every task's 0/1 label against its own
    sigmoid probability, pooled over tasks."""
    table = pd.read_csv(predictions, sep="\t")
    probs = [c for c in table.columns if c.startswith("prob_")]
    names = [c[len("prob_"):] for c in probs]
    if f"task:{names[0]}" in table.columns:
        return (table[[f"task:{n}" for n in names]].to_numpy().astype(int).ravel(),
                table[probs].to_numpy().ravel())
    y = table["class"].astype(str).map({n: i for i, n in enumerate(names)}).to_numpy()
    if len(names) == 2:
        return (y == 1).astype(int), table[probs[1]].to_numpy()
    onehot = np.eye(len(names))[y]
    return onehot.ravel(), table[probs].to_numpy().ravel()
