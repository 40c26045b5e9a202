"""Multi-task data and models (DeepSEA/Basset style: one sigmoid output per task) through
prepare, train, evaluate and attribute, on the real ASCL1/CTCF tiles (tests/data)."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

from wtko_captum.core.errors import CheckpointError, InputError

SLICE = "sequences/deepaccess_slice"
TINY = dict(n_filters=8, n_filters_deep=8, filter_width=8, hidden=8)


@pytest.fixture(scope="module")
def run(tmp_path_factory, request):
    from wtko_captum.preparation.tasks import prepare_tasks
    from wtko_captum.training.train import train

    data_dir = request.config.rootpath / "tests" / "data" / SLICE
    root = tmp_path_factory.mktemp("multitask")
    data = prepare_tasks(root / "data", data_dir / "tiles.fa", data_dir / "labels.tsv").path
    model = train(data, root / "model", model="cnn4", epochs=3, patience=3, batch_size=64, accumulation=1, lr=3e-3,
                  device="cpu", model_options=TINY, verbose=False)
    return dict(root=root, data=data, model=model, src=data_dir)


def test_prepared_tasks_keep_every_label_at_its_coordinates(run):
    from wtko_captum.core.dataset import load_prepared

    d = load_prepared(run["data"])
    assert d.tasks == ["ASCL1", "CTCF"] and d.class_names == d.tasks and d.width == 100
    labels = pd.read_csv(run["src"] / "labels.tsv", sep="\t")
    headers = [line[1:].strip() for line in open(run["src"] / "tiles.fa") if line.startswith(">")]
    truth = dict(zip(headers, labels.to_numpy()))
    assert len(d) == len(truth) == 2695
    source = [f"{c}:{s}-{e}" for c, s, e in zip(d.regions["chrom"], d.regions["peak_start"], d.regions["peak_end"])]
    got = dict(zip(source, d.Y))
    assert all((got[k] == truth[k]).all() for k in truth)  # each tile keeps its own labels
    short = d.regions["peak_end"] - d.regions["peak_start"] < 100  # centred in 100 bp, N-padded
    assert short.any() and (d.regions.loc[short, "pad_left"] + d.regions.loc[short, "pad_right"] > 0).all()
    assert set(d.regions.loc[d.regions["split"] == "test", "chrom"]) == {"chr6", "chr7"}
    both = d.regions[(d.Y == 1).all(1)]
    assert len(both) == 95 and set(both["class"]) == {"ASCL1+CTCF"}


def test_training_uses_one_sigmoid_per_task_and_evaluate_scores_each(run, tmp_path):
    from sklearn.metrics import roc_auc_score

    from wtko_captum.core.checkpoint import load_model
    from wtko_captum.training.evaluate import evaluate

    model, ckpt = load_model(run["model"], with_checkpoint=True)
    assert model.outputs == "sigmoid" and ckpt["class_names"] == ["ASCL1", "CTCF"]
    assert ckpt["training"]["loss"] == "binary cross-entropy per task"
    history = pd.read_csv(run["model"].parent / "metrics.csv")
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0] < 0.75  # BCE per task starts ~0.69
    m = evaluate(run["model"], run["data"], tmp_path / "eval", split="test")
    pred = pd.read_csv(tmp_path / "eval" / "predictions.tsv", sep="\t")
    for t in ("ASCL1", "CTCF"):
        auroc = roc_auc_score(pred[f"task:{t}"], pred[f"prob_{t}"])
        assert m[t]["auroc"] == pytest.approx(auroc, abs=2e-4)  # the table rounds to 6 digits
        assert m[t]["support"] == int(pred[f"task:{t}"].sum())
        assert m[t]["accuracy"] == pytest.approx(((pred[f"prob_{t}"] > 0.5) == pred[f"task:{t}"]).mean())
    assert m["auroc"] == pytest.approx(np.mean([m["ASCL1"]["auroc"], m["CTCF"]["auroc"]]))
    X = torch.from_numpy(__import__("wtko_captum.core.dataset", fromlist=["x"]).load_prepared(run["data"])
                         .split("test").X[:5])
    with torch.no_grad():
        np.testing.assert_allclose(pred[["prob_ASCL1", "prob_CTCF"]].to_numpy()[:5],
                                   torch.sigmoid(model(X)).numpy(), rtol=1e-4, atol=1e-6)
    cm = json.loads((tmp_path / "eval" / "confusion_matrix.json").read_text())["per_task"]["CTCF"]
    assert sum(map(sum, cm)) == len(pred) and cm[1][0] + cm[1][1] == m["CTCF"]["support"]


def test_attribute_takes_a_task_by_name_or_index_and_refuses_pred(run):
    from wtko_captum.attribution.attribute import attribute
    from wtko_captum.core.checkpoint import load_model
    from wtko_captum.core.dataset import load_prepared

    model = load_model(run["model"])
    X = torch.from_numpy(load_prepared(run["data"]).split("test").X[:4])
    by_name = attribute(model, X, "deeplift_shap", target="CTCF", n_shuffles=3, seed=0)
    by_index = attribute(model, X, "deeplift_shap", target=1, n_shuffles=3, seed=0)
    torch.testing.assert_close(by_name, by_index)
    assert not torch.allclose(by_name, attribute(model, X, "deeplift_shap", target="ASCL1", n_shuffles=3, seed=0))
    with pytest.raises(InputError, match="one sigmoid output per task: choose a task by name or index"):
        attribute(model, X, "saliency", target="pred")


def test_task_models_and_class_data_do_not_mix(run, tmp_path):
    from wtko_captum.training.evaluate import evaluate
    from attr_helpers import make_prepared

    model_path, class_data, _ = make_prepared(tmp_path, length=100)
    with pytest.raises(CheckpointError):
        evaluate(run["model"], class_data, tmp_path / "e")


def test_a_multi_task_model_trained_elsewhere_is_imported_with_sigmoid_outputs(run, tmp_path):
    """A plain state dict + `import-model --outputs sigmoid --class-names`: the imported model
    scores like the one trained here; imported as softmax classes it is refused on task data."""
    from wtko_captum.cli import main
    from wtko_captum.core.checkpoint import load_model
    from wtko_captum.training.evaluate import evaluate

    torch.save(load_model(run["model"]).state_dict(), tmp_path / "sd.pt")
    common = ["import-model", str(tmp_path / "sd.pt"), "--model", "cnn4", "--input-length", "100",
              "--class-names", "ASCL1,CTCF", "-q"] + [a for k, v in TINY.items() for a in ("--model-option", f"{k}={v}")]
    assert main(common + ["--outputs", "sigmoid", "-o", str(tmp_path / "tasks.pt")]) == 0
    imported = evaluate(tmp_path / "tasks.pt", run["data"], tmp_path / "e1", device="cpu")
    here = evaluate(run["model"], run["data"], tmp_path / "e2", device="cpu")
    for task in ("ASCL1", "CTCF"):
        assert imported[task] == here[task]
    assert imported["auroc"] == here["auroc"]
    assert main(common + ["-o", str(tmp_path / "classes.pt")]) == 0
    with pytest.raises(CheckpointError, match="softmax classes cannot be scored on task labels"):
        evaluate(tmp_path / "classes.pt", run["data"], tmp_path / "e3", device="cpu")


def test_task_table_errors_name_file_line_and_value(run, tmp_path):
    from wtko_captum.preparation.tasks import prepare_tasks

    bad = tmp_path / "labels.tsv"
    bad.write_text("A\tB\n1\t0\n")
    with pytest.raises(InputError, match="label table has 2 rows for 2695 sequences"):
        prepare_tasks(tmp_path / "d", run["src"] / "tiles.fa", bad)
    rows = ["A\tB"] + ["1\t0"] * 2695
    rows[3] = "1\t2"
    bad.write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError, match=r"labels.tsv:4: label values must be 0 or 1 \(column 'B'.*\(got '2'\)"):
        prepare_tasks(tmp_path / "d", run["src"] / "tiles.fa", bad)
    assert not (tmp_path / "d").exists()


def test_attribution_set_of_a_task_model_carries_sigmoid_probabilities(run, tmp_path):
    from wtko_captum.attribution.attribute_prepared import attribute_prepared
    from wtko_captum.core.attribution_set import AttributionSet
    from wtko_captum.core.checkpoint import load_model

    written = attribute_prepared(run["model"], run["data"], tmp_path / "attr", ["saliency"], target="CTCF",
                                 limit=6, device="cpu", verbose=False)
    aset = AttributionSet.load(written["saliency"])
    with torch.no_grad():
        p = torch.sigmoid(load_model(run["model"])(torch.from_numpy(aset.X))).numpy()
    np.testing.assert_allclose(aset.regions[["p_ASCL1", "p_CTCF"]].to_numpy(), p, atol=1e-5)
    called = ["+".join(t for t, q in zip(("ASCL1", "CTCF"), row) if q > 0.5) or "none" for row in p]
    assert list(aset.regions["pred_class"]) == called and aset.meta["target"] == 1


def test_prepare_cli_tasks_flag_keeps_every_row_with_its_labels(run, tmp_path):
    """`wtko prepare --sequences S --labels L --tasks`: multi-task data from the CLI, no row dropped
    (a labelled set without --tasks drops the 95 rows positive for both factors)."""
    from wtko_captum.cli import main
    from wtko_captum.core.dataset import load_prepared

    src = run["src"]
    assert main(["prepare", "--sequences", str(src / "tiles.fa"), "--labels", str(src / "labels.tsv"), "--tasks",
                 "-o", str(tmp_path / "d"), "-q"]) == 0
    d = load_prepared(tmp_path / "d")
    n = sum(1 for line in (src / "tiles.fa").read_text().splitlines() if line.startswith(">"))
    assert d.tasks == ["ASCL1", "CTCF"] and len(d.regions) == n
    assert main(["prepare", "--sequences", str(src / "tiles.fa"), "--tasks", "-o", str(tmp_path / "e"), "-q"]) == 2
    assert not (tmp_path / "e").exists()
