"""wtko evaluate: metrics agree with the predictions they summarise; bad checkpoints refused."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from wtko_captum.core.checkpoint import save_checkpoint
from wtko_captum.cli import main
from wtko_captum.core.errors import CheckpointError
from wtko_captum.training.evaluate import evaluate
from wtko_captum.models.wtko_cnn import WTKOCNN


@pytest.fixture(scope="module")
def evaluated(two_motif_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval") / "eval"
    metrics = evaluate(two_motif_run["model"], two_motif_run["data"], out, device="cpu")
    return metrics, out


def test_metrics_match_predictions(evaluated, two_motif_run):
    metrics, out = evaluated
    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk == metrics
    assert {"accuracy", "auroc", "auprc", "WT", "KO", "n", "split"} <= set(metrics)
    assert metrics["split"] == "test" and metrics["n"] == 240
    pred = pd.read_csv(out / "predictions.tsv", sep="\t")
    assert list(pred.columns) == ["chrom", "start", "end", "name", "label", "class", "prob_KO", "prob_WT",
                                  "predicted"]
    assert set(pred["chrom"]) == {"chr6", "chr7"}  # the held-out chromosomes only
    assert (pred["end"] - pred["start"] == 200).all()
    assert np.allclose(pred["prob_KO"] + pred["prob_WT"], 1, atol=1e-5)
    assert (pred["class"] == np.where(pred["label"] == 1, "WT", "KO")).all()
    assert metrics["accuracy"] == pytest.approx((pred["predicted"] == pred["class"]).mean())
    assert metrics["auroc"] == pytest.approx(roc_auc_score(pred["label"], pred["prob_WT"]), abs=1e-4)
    assert metrics["auprc"] == pytest.approx(average_precision_score(pred["label"], pred["prob_WT"]), abs=1e-4)
    assert metrics["auroc"] >= 0.85
    wt = pred[pred["class"] == "WT"]
    assert metrics["WT"]["recall"] == pytest.approx((wt["predicted"] == "WT").mean())
    assert metrics["WT"]["precision"] == pytest.approx((pred.loc[pred["predicted"] == "WT", "class"] == "WT").mean())
    assert metrics["WT"]["support"] == 120
    cm = json.loads((out / "confusion_matrix.json").read_text())
    assert cm["labels"] == ["KO", "WT"]
    m = np.array(cm["matrix"])
    assert m.sum() == 240 and m[1, 1] == ((pred["class"] == "WT") & (pred["predicted"] == "WT")).sum()
    assert (out / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    # predictions carry genome coordinates: the window re-extracted from the genome is the sequence
    from wtko_captum.core.dataset import read_fasta_records

    genome = dict(read_fasta_records(two_motif_run["genome"]))
    seqs = dict(read_fasta_records(two_motif_run["data"] / "sequences.fa"))
    row = pred.iloc[7]
    assert genome[row["chrom"]][row["start"]:row["end"]] == seqs[row["name"]]


def test_other_splits(two_motif_run, tmp_path):
    m = evaluate(two_motif_run["model"], two_motif_run["data"], tmp_path / "v", split="val", device="cpu")
    assert m["split"] == "val" and m["n"] == 120
    assert set(pd.read_csv(tmp_path / "v" / "predictions.tsv", sep="\t")["chrom"]) == {"chr8"}


def test_checkpoint_of_another_input_length(two_motif_run, tmp_path):
    torch.manual_seed(0)
    other = save_checkpoint(tmp_path / "m300.pt", WTKOCNN(input_length=300, n_filters=4, n_filters2=4, hidden=4),
                            "wtko_cnn", ["KO", "WT"])
    with pytest.raises(CheckpointError, match="input length 300 bp, data has 200 bp"):
        evaluate(other, two_motif_run["data"], tmp_path / "out", device="cpu")
    assert not (tmp_path / "out").exists()


def test_checkpoint_of_another_architecture(two_motif_run, tmp_path):
    ckpt = torch.load(two_motif_run["model"], weights_only=True)
    ckpt["architecture"] = "my_unreleased_net"
    torch.save(ckpt, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="'my_unreleased_net' is not installed"):
        evaluate(tmp_path / "other.pt", two_motif_run["data"], tmp_path / "out", device="cpu")
    ckpt["architecture"] = "danq"  # installed, but these weights and options are not a DanQ's
    torch.save(ckpt, tmp_path / "danq.pt")
    with pytest.raises(CheckpointError, match="model 'danq' does not take option.*n_filters2"):
        evaluate(tmp_path / "danq.pt", two_motif_run["data"], tmp_path / "out", device="cpu")
    ckpt = torch.load(two_motif_run["model"], weights_only=True)
    ckpt["class_names"] = ["unbound", "bound"]
    torch.save(ckpt, tmp_path / "classes.pt")
    with pytest.raises(CheckpointError, match="classes"):
        evaluate(tmp_path / "classes.pt", two_motif_run["data"], tmp_path / "out", device="cpu")
    assert not (tmp_path / "out").exists()


def test_cli_evaluate(two_motif_run, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["evaluate", str(two_motif_run["model"]), str(two_motif_run["data"]), "-o", str(out),
                 "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "auROC=" in printed and "WT: precision=" in printed
    assert json.loads((out / "metrics.json").read_text())["n"] == 240
    bad = tmp_path / "bad.pt"
    bad.write_text("not a checkpoint")
    assert main(["evaluate", str(bad), str(two_motif_run["data"]), "-o", str(tmp_path / "x"), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("wtko evaluate: error:") and len(err.splitlines()) == 1
