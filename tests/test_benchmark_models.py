"""wtko benchmark models: every architecture trained, scored and timed per seed; resumable per
(architecture, seed); settings checked; the table is the runs' mean and sd."""
import json

import numpy as np
import pandas as pd
import pytest

from wtko_captum.core.errors import InputError

pytestmark = pytest.mark.slow  # trains four tiny runs (~5 s on an idle core)

OPTIONS = {"wtko_cnn": dict(n_filters=4, n_filters2=4, filter_width=5, filter_width2=5, hidden=4),
           "cnn4": dict(n_filters=4, n_filters_deep=4, filter_width=4, hidden=4)}
BUDGET = dict(epochs=2, patience=2, batch_size=8, lr=3e-3, device="cpu", verbose=False)


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    from attr_helpers import make_prepared

    from wtko_captum.benchmark.models import benchmark_models

    root = tmp_path_factory.mktemp("bench")
    _, data, _ = make_prepared(root, n=40, length=60, n_test=16)
    result = benchmark_models(data, root / "out", models=["wtko_cnn", "cnn4"], seeds=2, model_options=OPTIONS,
                              **BUDGET)
    return dict(root=root, data=data, out=root / "out", result=result)


def test_every_run_is_trained_scored_and_summarised(bench):
    out = bench["out"]
    runs = pd.read_csv(out / "runs.tsv", sep="\t")
    assert list(zip(runs["model"], runs["seed"])) == [("wtko_cnn", 0), ("wtko_cnn", 1), ("cnn4", 0), ("cnn4", 1)]
    for _, r in runs.iterrows():
        metrics = json.loads((out / "runs" / r["model"] / f"seed_{r['seed']}" / "eval" / "metrics.json").read_text())
        assert r["accuracy"] == pytest.approx(metrics["accuracy"]) and metrics["n"] == 16
        assert r["f1_WT"] == pytest.approx(metrics["WT"]["f1"]) and r["inference_seq_per_s"] > 0
        assert r["train_seconds"] > 0 and 1 <= r["best_epoch"] <= 2
    seeds_differ = runs.groupby("model")["auroc"].nunique()
    assert (seeds_differ >= 1).all()
    summary = pd.read_csv(out / "summary.tsv", sep="\t").set_index("model")
    for name, g in runs.groupby("model"):
        assert summary.loc[name, "accuracy_mean"] == pytest.approx(g["accuracy"].mean())
        assert summary.loc[name, "auroc_sd"] == pytest.approx(g["auroc"].std(ddof=1), nan_ok=True)
        assert summary.loc[name, "parameters_mean"] == g["parameters"].iloc[0]
    md = (out / "summary.md").read_text()
    assert md.count("\n") == 4 and "| wtko_cnn |" in md and "±" in md
    assert (out / "roc.png").stat().st_size > 1000


def test_resume_skips_finished_runs_and_other_settings_are_refused(bench):
    from wtko_captum.benchmark.models import benchmark_models

    out = bench["out"]
    done = out / "runs" / "cnn4" / "seed_1" / "result.json"
    stamps = {p: p.stat().st_mtime_ns for p in (done, out / "runs" / "cnn4" / "seed_1" / "model" / "model.pt")}
    (out / "runs" / "wtko_cnn" / "seed_1" / "result.json").unlink()  # as if killed before that run finished
    again = benchmark_models(bench["data"], out, models=["wtko_cnn", "cnn4"], seeds=2, model_options=OPTIONS,
                             **BUDGET)
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # finished runs are not redone
    pd.testing.assert_frame_equal(again["runs"].drop(columns=["inference_seq_per_s", "train_seconds"]),
                                  bench["result"]["runs"].drop(columns=["inference_seq_per_s", "train_seconds"]))
    with pytest.raises(InputError, match=r"other settings \(epochs\)"):
        benchmark_models(bench["data"], out, models=["cnn4"], seeds=2, model_options=OPTIONS,
                         **{**BUDGET, "epochs": 3})


def test_all_skips_models_that_cannot_take_the_data_with_the_reason(bench, tmp_path):
    from wtko_captum.benchmark.models import resolve_models

    names, skipped = resolve_models("all", 250, 2, {})
    assert names[:8] == ["wtko_cnn", "cnn4", "cnn_lstm", "transformer", "cnn_transformer", "deepsea", "danq",
                         "basset"]
    assert "bpnet" in skipped and "n_classes must be 1" in skipped["bpnet"]
    with pytest.raises(InputError, match="'bpnet' cannot be trained on this data"):
        resolve_models(["bpnet"], 250, 2, {})
    with pytest.raises(InputError, match="'deepsea' cannot be trained on this data: .*too short"):
        resolve_models(["deepsea"], 20, 2, {})


def test_cli_resumes_and_prints_the_table(bench, capsys):
    from wtko_captum.cli import main

    args = ["benchmark", "models", str(bench["data"]), "-o", str(bench["out"]), "--models", "wtko_cnn,cnn4",
            "--seeds", "2", "--epochs", "2", "--patience", "2", "--batch-size", "8", "--lr", "3e-3",
            "--device", "cpu", "-q"]
    for name, opts in OPTIONS.items():
        args += [a for k, v in opts.items() for a in ("--model-option", f"{name}.{k}={v}")]
    assert main(args) == 0
    assert "other settings" not in capsys.readouterr().err
    assert np.isfinite(pd.read_csv(bench["out"] / "summary.tsv", sep="\t")["accuracy_mean"]).all()
    assert main(args + ["--epochs", "5"]) == 2  # the last --epochs wins: other settings
    assert "holds a benchmark made with other settings (epochs)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["benchmark"])  # no benchmark named: a usage error
    assert exc.value.code == 2 and "choose a benchmark: models" in capsys.readouterr().err


def test_multi_task_data_is_benchmarked_per_task_and_plotted(tmp_path, data_dir):
    """DeepSEA/Basset-style data (one 0/1 label per task): the table carries each task's
    metrics, and the ROC pools every task's labels against its own sigmoid probability."""
    from sklearn.metrics import roc_auc_score

    from wtko_captum.benchmark.models import _test_scores, benchmark_models
    from wtko_captum.core.dataset import load_prepared
    from wtko_captum.preparation.tasks import prepare_tasks

    src = data_dir / "sequences" / "deepaccess_slice"
    data = prepare_tasks(tmp_path / "data", src / "tiles.fa", src / "labels.tsv").path
    result = benchmark_models(data, tmp_path / "out", models=["cnn4"], seeds=1, model_options=OPTIONS,
                              **{**BUDGET, "epochs": 1, "patience": 1, "batch_size": 64})
    run = tmp_path / "out" / "runs" / "cnn4" / "seed_0"
    metrics = json.loads((run / "eval" / "metrics.json").read_text())
    row = result["runs"].iloc[0]
    for task in ("ASCL1", "CTCF"):
        assert row[f"f1_{task}"] == pytest.approx(metrics[task]["f1"])
    assert row["auroc"] == pytest.approx(metrics["auroc"])
    y, score = _test_scores(run / "eval" / "predictions.tsv")
    test = load_prepared(data).split("test")
    assert len(y) == 2 * len(test) and y.sum() == test.Y.sum()  # every task's label, none lost
    table = pd.read_csv(run / "eval" / "predictions.tsv", sep="\t")
    pooled = np.concatenate([table[["task:ASCL1", "task:CTCF"]].to_numpy().ravel()[None],
                             table[["prob_ASCL1", "prob_CTCF"]].to_numpy().ravel()[None]])
    assert roc_auc_score(y, score) == pytest.approx(roc_auc_score(pooled[0], pooled[1]))
    assert "| cnn4 |" in (tmp_path / "out" / "summary.md").read_text() and "F1 CTCF" in (
        tmp_path / "out" / "summary.md").read_text()
    assert (tmp_path / "out" / "roc.png").stat().st_size > 1000
