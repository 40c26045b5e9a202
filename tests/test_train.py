"""wtko train: learns a two-motif set, deterministic, selects on validation only."""
from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from wtko_captum.core.checkpoint import load_model, read_checkpoint
from wtko_captum.cli import main
from wtko_captum.core.dataset import load_prepared
from wtko_captum.core.errors import InputError, WtkoError
from wtko_captum.training.train import _class_weights, evaluate_split, train

TINY = dict(batch_size=16, accumulation=2, device="cpu", verbose=False,
            model_options=dict(n_filters=4, n_filters2=4, hidden=4))


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models train faster on one thread than on two contended ones."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """A small prepared two-motif set (40 per class, 100 bp)."""
    from wtko_captum.preparation.prepare import prepare
    from wtko_captum.preparation.simulate import simulate

    root = tmp_path_factory.mktemp("tiny")
    sim = simulate("two-motif", root / "sim", n=40, length=100, seed=5)
    prepare(root / "data", wt=[sim["wt"]], ko=[sim["ko"]], width=100)
    return root / "data"


def test_two_motif_reaches_test_auroc(two_motif_run):
    """Training works on a planted problem: test auROC >= 0.85 on a simulated two-motif set."""
    data = load_prepared(two_motif_run["data"])
    model = load_model(two_motif_run["model"])
    test = evaluate_split(model, data.split("test"), torch.device("cpu"))
    assert test["n"] == 240  # chr6 + chr7 = 2 of 10 synthetic chromosomes
    assert test["auroc"] >= 0.85
    assert test["accuracy"] >= 0.75


def test_agentbind_run_learns_the_partner_motif(agentbind_run):
    """GATA1 sits in both classes; only the TAL1::TCF3 partner sites separate them."""
    data = load_prepared(agentbind_run["data"])
    test = evaluate_split(load_model(agentbind_run["model"]), data.split("test"), torch.device("cpu"))
    assert test["auroc"] >= 0.85


def test_training_outputs_and_validation_selection(two_motif_run):
    out = two_motif_run["model"].parent
    hist = pd.read_csv(out / "metrics.csv")
    assert list(hist.columns) == ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "val_auroc",
                                  "val_auprc", "seconds"]
    assert hist["train_loss"].iloc[-1] < hist["train_loss"].iloc[0] - 0.1
    ckpt = read_checkpoint(two_motif_run["model"])
    summary = ckpt["training"]
    # best checkpoint = the first epoch with the highest VALIDATION auROC; no test metric anywhere
    assert summary["best_epoch"] == int(hist.loc[hist["val_auroc"].idxmax(), "epoch"])
    assert summary["selection_metric"] == "val_auroc"
    assert summary["val"]["auroc"] == pytest.approx(hist["val_auroc"].max(), abs=1e-5)
    assert "test" not in json.dumps({k: v for k, v in summary.items() if k != "data"})
    assert summary["data"]["counts"]["test"] == {"KO": 120, "WT": 120}
    assert summary["data"]["counts"]["val"] == {"KO": 60, "WT": 60}
    assert summary["seed"] == 0 and summary["hyperparameters"]["lr"] == 3e-3
    assert ckpt["input_length"] == 200 and ckpt["class_names"] == ["KO", "WT"]
    assert json.loads((out / "training.json").read_text())["best_epoch"] == summary["best_epoch"]
    png = (out / "learning_curve.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    # the model predicts the validation split as well as the summary says
    data = load_prepared(two_motif_run["data"])
    val = evaluate_split(load_model(two_motif_run["model"]), data.split("val"), torch.device("cpu"))
    assert val["auroc"] == pytest.approx(summary["val"]["auroc"], abs=1e-6)


def _weights(path):
    return read_checkpoint(path)["state_dict"]


def test_deterministic_on_cpu(tiny_data, tmp_path):
    a = train(tiny_data, tmp_path / "a", epochs=2, seeds=3, rc_augment=True, **TINY)
    b = train(tiny_data, tmp_path / "b", epochs=2, seeds=3, rc_augment=True, **TINY)
    c = train(tiny_data, tmp_path / "c", epochs=2, seeds=4, rc_augment=True, **TINY)
    wa, wb, wc = _weights(a), _weights(b), _weights(c)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)
    # the caller's global RNG is untouched by a seeded run
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train(tiny_data, tmp_path / "d", epochs=1, seeds=0, **TINY)
    assert torch.equal(torch.rand(3), expected)


def test_rc_augment_changes_training(tiny_data, tmp_path):
    a = train(tiny_data, tmp_path / "a", epochs=1, seeds=0, rc_augment=False, **TINY)
    b = train(tiny_data, tmp_path / "b", epochs=1, seeds=0, rc_augment=True, **TINY)
    wa, wb = _weights(a), _weights(b)
    assert not all(torch.equal(wa[k], wb[k]) for k in wa)


def test_multiple_seeds(tiny_data, tmp_path):
    path = train(tiny_data, tmp_path / "m", epochs=2, seeds=(0, 1, 2), **TINY)
    runs = pd.read_csv(tmp_path / "m" / "runs.tsv", sep="\t")
    assert list(runs["seed"]) == [0, 1, 2] and runs["selected"].sum() == 1
    best = runs.loc[runs["selected"]].iloc[0]
    assert best["val_auroc"] == runs["val_auroc"].max()
    assert path.read_bytes() == (tmp_path / "m" / f"seed_{best['seed']}" / "model.pt").read_bytes()
    for s in (0, 1, 2):
        assert (tmp_path / "m" / f"seed_{s}" / "metrics.csv").is_file()


def test_early_stopping(tiny_data, tmp_path):
    # lr = 0 and no BatchNorm: the validation auROC cannot improve after epoch 1
    cfg = dict(TINY, model_options=dict(TINY["model_options"], batchnorm=False))
    train(tiny_data, tmp_path / "e", epochs=20, patience=2, lr=0.0, weight_decay=0.0, seeds=0, **cfg)
    hist = pd.read_csv(tmp_path / "e" / "metrics.csv")
    assert list(hist["epoch"]) == [1, 2, 3]
    summary = read_checkpoint(tmp_path / "e" / "model.pt")["training"]
    assert summary["best_epoch"] == 1 and summary["stopped_early"] is True


def test_class_weights_from_meta():
    class D:
        class_names = ["KO", "WT"]

        def __init__(self, w):
            self.meta = {"class_weights": w}

    assert _class_weights(D([1.0, 1.0])) is None  # balanced: plain cross-entropy
    assert _class_weights(D([0.75, 1.5])) == [0.75, 1.5]
    assert _class_weights(D({"WT": 2.0, "KO": 0.5})) == [0.5, 2.0]


def test_no_validation_split_carves_from_train_never_test(tiny_data, tmp_path):
    data = load_prepared(tiny_data)
    regions = data.regions.copy()
    regions.loc[regions["split"] == "val", "split"] = "train"
    data.regions = regions
    train(data, tmp_path / "nv", epochs=1, seeds=0, **TINY)
    summary = read_checkpoint(tmp_path / "nv" / "model.pt")["training"]
    assert "10% of train" in summary["data"]["validation"]


def test_bad_training_input(tiny_data, tmp_path):
    with pytest.raises(InputError, match="meta.json"):
        train(tmp_path, tmp_path / "x", epochs=1, **TINY)
    data = load_prepared(tiny_data)
    only_wt = data.subset(data.y == 1)
    with pytest.raises(InputError, match="no KO regions"):
        train(only_wt, tmp_path / "x", epochs=1, **TINY)
    with pytest.raises(WtkoError, match="epochs must be at least 1"):
        train(data, tmp_path / "x", epochs=0, **TINY)
    assert not (tmp_path / "x").exists()


def test_cli_train_no_batchnorm(tiny_data, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["train", str(tiny_data), "-o", str(out), "--epochs", "1", "--no-batchnorm", "--batch-size", "32",
                 "--device", "cpu", "-q"]) == 0
    ckpt = read_checkpoint(out / "model.pt")
    assert ckpt["config"]["batchnorm"] is False
    assert not any("bn" in k and "running_mean" in k for k in ckpt["state_dict"])
    assert ckpt["training"]["hyperparameters"]["batch_size"] == 32
    assert main(["train", str(tiny_data), "-o", str(tmp_path / "bad"), "--seeds", "x", "-q"]) == 2
    assert "--seeds" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
