"""wtko benchmark explainers: every method run, timed and scored against planted motifs.

A linear toy model whose saliency is known in closed form checks the five metrics against
numbers worked out by hand; the command on a trained AgentBind-simulation model is checked
against an independent recomputation (autograd saliency, masks from motifs.tsv's in-sequence
coordinates, sklearn's auROC); a scaled-down ``--preset agentbind`` runs end to end, twice
(the second run resumes from the first).
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from wtko_captum.benchmark.explainers import (benchmark_explainers, expand_methods, parse_method_spec,
                                              read_truth, registered_methods, split_methods, summarise)
from wtko_captum.cli import main
from wtko_captum.core.errors import InputError


class ToyCNN(torch.nn.Module):
    """A second architecture for the preset (conv, ReLU, global max pool, linear): no attention."""

    def __init__(self, input_length, n_classes, n_filters=8, width=12):
        super().__init__()
        self.conv = torch.nn.Conv1d(4, n_filters, width)
        self.relu = torch.nn.ReLU()
        self.fc = torch.nn.Linear(n_filters, n_classes)

    def forward(self, x):
        return self.fc(self.relu(self.conv(x)).amax(dim=2))


class Linear(torch.nn.Module):
    """logits = [0, sum(W * x)]: the gradient of class 1 is W for every input."""

    def __init__(self, W):
        super().__init__()
        self.W = torch.nn.Parameter(torch.as_tensor(W, dtype=torch.float32))

    def forward(self, x):
        s = (x * self.W).sum(dim=(1, 2))
        return torch.stack([torch.zeros_like(s), s], dim=1)


def _hand_case():
    # 2 sequences x 20 bp; per-base importance v is the same for every sequence and channel
    v = np.zeros(20)
    v[3], v[0], v[16] = 5.0, 4.0, 1.0
    W = np.tile(v, (4, 1))
    X = np.zeros((2, 4, 20), dtype=np.float32)
    X[:, 0, :] = 1  # poly-A
    mask = np.zeros((2, 20), dtype=bool)
    mask[0, 2:6] = True    # site A
    mask[0, 10:12] = True  # site B
    mask[1, 15:19] = True  # site C
    return Linear(W), X, mask


def test_metrics_equal_hand_computed_values():
    model, X, mask = _hand_case()
    t = benchmark_explainers(model, X, mask, methods=["saliency", "input_x_gradient"], target=1).set_index("method")
    for method in ("saliency", "input_x_gradient"):  # both give v at every observed base
        r = t.loc[method]
        assert r["status"] == "ok" and r["n_sequences"] == 2 and r["n_sites"] == 3 and r["n_top"] == 2
        # top 5% of 20 bp = 1 base per sequence: base 3 both times; in site A for seq 0 only
        assert r["accuracy"] == 0.5
        assert r["chance"] == pytest.approx(10 / 40) and r["enrichment"] == pytest.approx(2.0)
        # no site has half of its bases on top (A: 1 of 4)
        assert r["recall"] == 0.0
        # motif scores [5, 1, 0 x 8] vs background [5, 4, 4, 1, 0 x 26]:
        # (29.5 + 26.5 + 8 * 13) / (10 * 30) pairs
        assert r["auroc"] == pytest.approx(160 / 300)
        # (6 / 10) / (14 / 30)
        assert r["snr"] == pytest.approx(9 / 7)
        assert r["seconds"] > 0 and r["seq_per_s"] == pytest.approx(2 / r["seconds"])
    assert t["slowdown"].min() == pytest.approx(1.0)
    assert t["slowdown"].max() == pytest.approx(t["seconds"].max() / t["seconds"].min())


def test_top_in_other_and_a_failing_method_is_reported_not_fatal():
    model, X, mask = _hand_case()
    other = np.zeros_like(mask)
    other[1, 3] = True  # the "core": seq 1's top base
    t = benchmark_explainers(model, X, mask, other_mask=other,
                             methods=["saliency", "grad_cam(layer=no_such_layer)"], target=1).set_index("method")
    assert t.loc["saliency", "top_in_other"] == 0.5
    bad = t.loc["grad_cam(layer=no_such_layer)"]
    assert bad["status"] != "ok" and "no_such_layer" in bad["status"] and np.isnan(bad["accuracy"])


def test_method_specs():
    assert split_methods("saliency, ism(fast=false, centre=false),grad_cam(layer=conv1)") == [
        "saliency", "ism(fast=false, centre=false)", "grad_cam(layer=conv1)"]
    assert parse_method_spec("ism(fast=false, centre=false)") == ("ism", {"fast": False, "centre": False})
    assert parse_method_spec("integrated_gradients(n_steps=8)") == ("integrated_gradients", {"n_steps": 8})
    assert parse_method_spec("saliency") == ("saliency", {})
    everything = registered_methods()
    assert expand_methods(None) == everything and "ism" in everything and "saliency" in everything
    assert expand_methods(["all", "ism(fast=false)", "saliency"]) == everything + ["ism(fast=false)"]
    with pytest.raises(InputError, match="NAME"):
        parse_method_spec("ism(fast=false")
    model, X, mask = _hand_case()
    with pytest.raises(InputError, match="does not take"):
        benchmark_explainers(model, X, mask, methods=["saliency(n_steps=3)"])
    with pytest.raises(Exception, match="no_such_method"):
        benchmark_explainers(model, X, mask, methods=["no_such_method"])


def test_summarise_mean_and_sd_over_seeds():
    rows = []
    for seed, acc in ((0, 0.5), (1, 0.7), (2, 0.9)):
        rows.append(dict(model="m", seed=seed, method="saliency", status="ok", seconds=1.0 + seed, seq_per_s=10.0,
                         slowdown=1.0, accuracy=acc, recall=0.1, auroc=0.8, snr=2.0, chance=0.1,
                         enrichment=acc / 0.1, top_in_other=np.nan, n_sequences=5))
    s = summarise(pd.DataFrame(rows)).iloc[0]
    assert s["n_seeds"] == 3 and s["accuracy"] == pytest.approx(0.7)
    assert s["accuracy_sd"] == pytest.approx(0.2)  # sample sd of 0.5, 0.7, 0.9
    assert s["seconds"] == pytest.approx(2.0) and s["recall_sd"] == pytest.approx(0.0)


def test_read_truth_from_a_bed(tmp_path):
    bed = tmp_path / "sites.bed"
    bed.write_text("chr1\t10\t22\tsiteA\nchr2\t5\t9\tsiteB\n")
    t = read_truth(bed)
    assert list(t["chrom"]) == ["chr1", "chr2"] and list(t["start"]) == [10, 5] and set(t["role"]) == {"site"}
    with pytest.raises(InputError, match="not found"):
        read_truth(tmp_path / "missing.bed")


# ----------------------------------------------------------------------------- the command
@pytest.mark.slow
def test_command_matches_an_independent_recomputation(agentbind_run, tmp_path):
    from sklearn.metrics import roc_auc_score

    from wtko_captum.core.checkpoint import load_model
    from wtko_captum.core.dataset import load_prepared

    out = tmp_path / "bench"
    rc = main(["benchmark", "explainers", str(agentbind_run["model"]), str(agentbind_run["data"]),
               "--truth", str(agentbind_run["truth"]), "--method", "saliency,ism,attention",
               "--max-sequences", "30", "-q", "-o", str(out)])
    assert rc == 0
    table = pd.read_csv(out / "explainers.tsv", sep="\t").set_index("method")
    assert list(table.index) == ["saliency", "ism", "attention"] and (table["status"] == "ok").all()
    assert (table["n_sequences"] == 30).all() and (table["model"] == "wtko_cnn").all()

    # independent: the first 30 test windows with a TAL1 (partner) site, sites by in-sequence coordinates
    test = load_prepared(agentbind_run["data"]).split("test")
    truth = pd.read_csv(agentbind_run["truth"], sep="\t")
    partner = truth[truth["role"] == "partner"]
    names = [n for n in test.regions["name"] if n in set(partner["name"])][:30]
    rows = test.regions.reset_index().set_index("name").loc[names, "index"].to_numpy()
    X = torch.from_numpy(test.X[rows]).requires_grad_(True)
    mask = np.zeros((30, test.width), dtype=bool)
    core = np.zeros_like(mask)
    for i, n in enumerate(names):
        for _, r in truth[truth["name"] == n].iterrows():
            (mask if r["role"] == "partner" else core)[i, r["seq_start"]:r["seq_end"]] = True
    model = load_model(agentbind_run["model"])
    model(X)[:, 1].sum().backward()
    score = X.grad.abs().amax(dim=1).numpy().astype(np.float64)
    top = np.zeros_like(mask)
    k = int(np.ceil(0.05 * test.width))
    for i in range(30):
        top[i, np.argsort(-score[i], kind="stable")[:k]] = True
    sites = [(i, s, e) for i, n in enumerate(names) for s, e in
             zip(partner.loc[partner["name"] == n, "seq_start"], partner.loc[partner["name"] == n, "seq_end"])]
    expect = dict(accuracy=mask[top].mean(), recall=np.mean([top[i, s:e].mean() >= 0.5 for i, s, e in sites]),
                  auroc=roc_auc_score(mask.ravel(), score.ravel()), snr=score[mask].mean() / score[~mask].mean(),
                  chance=mask.mean(), top_in_other=core[top].mean())
    r = table.loc["saliency"]
    for key, value in expect.items():
        assert r[key] == pytest.approx(value, rel=1e-4, abs=1e-6), key
    assert r["n_sites"] == len(sites)
    # the model learnt TAL1: every method far above chance, and the GATA1 core ignored
    assert (table["enrichment"] > 2).all() and (table.loc[["saliency", "ism"], "enrichment"] > 5).all()
    assert (table["top_in_other"] < table["accuracy"] / 4).all()
    # the Markdown table shows the TSV's numbers
    md = (out / "summary.md").read_text()
    assert f"| saliency | {r['seq_per_s']:.3g} |" in md and f"{r['accuracy']:.3f}" in md
    assert (out / "metrics.png").stat().st_size > 10_000
    meta = json.loads((out / "benchmark.json").read_text())
    assert meta["methods"] == ["attention", "ism", "saliency"] and meta["device"] == "cpu"


@pytest.mark.slow
def test_preset_scaled_down_end_to_end_and_resume(tmp_path, registry):
    registry.add("models", "toy_cnn", ToyCNN)
    out = tmp_path / "preset"
    args = ["benchmark", "explainers", "--preset", "agentbind", "--scale", "0.01", "--length", "200",
            "--epochs", "2", "--seeds", "2", "--models", "wtko_cnn,toy_cnn",
            "--method", "saliency,ism(fast=false),attention",
            "--model-option", "n_filters=8", "--model-option", "wtko_cnn.n_filters2=8",
            "--model-option", "wtko_cnn.hidden=8", "--model-option", "toy_cnn.width=10", "--batch-size", "32", "-q",
            "-o", str(out)]
    assert main(args) == 0
    meta = json.loads((out / "data" / "meta.json").read_text())
    # the published 50:1:1 proportions at 1% (260 sequences per class on 52 chromosomes)
    assert meta["counts"] == {"train": {"WT": 250, "KO": 250}, "val": {"WT": 5, "KO": 5},
                              "test": {"WT": 5, "KO": 5}}
    sim = json.loads((out / "sim" / "sim.json").read_text())
    assert sim["background"] == {"A": 0.3, "C": 0.2, "G": 0.2, "T": 0.3} and sim["length"] == 200
    assert sim["motifs"] == {"core": "MA0035.4 GATA1", "partner": "MA0091.1 TAL1::TCF3"}
    table = pd.read_csv(out / "explainers.tsv", sep="\t")
    assert len(table) == 12 and sorted(set(table["seed"])) == [0, 1] and set(table["model"]) == {"wtko_cnn", "toy_cnn"}
    assert set(table["method"]) == {"saliency", "ism(fast=false)", "attention"}
    ok = table["status"] == "ok"
    # the toy model has no attention layer: that method is reported, the others still ran
    assert set(table.loc[~ok, "model"]) == {"toy_cnn"} and set(table.loc[~ok, "method"]) == {"attention"}
    assert (table.loc[ok, "n_sequences"] == 5).all()  # the 5 test positives
    # each architecture got the options it takes: n_filters for both, the rest by name
    from wtko_captum.core.checkpoint import read_checkpoint

    wtko = read_checkpoint(out / "models" / "wtko_cnn" / "seed_0" / "model.pt")["config"]
    toy = read_checkpoint(out / "models" / "toy_cnn" / "seed_1" / "model.pt")["config"]
    assert (wtko["n_filters"], wtko["n_filters2"], wtko["hidden"]) == (8, 8, 8)
    assert (toy["n_filters"], toy["width"]) == (8, 10) and "hidden" not in toy
    summary = pd.read_csv(out / "summary.tsv", sep="\t").set_index(["model", "method"])
    sal = table[(table["method"] == "saliency") & (table["model"] == "wtko_cnn")]
    assert summary.loc[("wtko_cnn", "saliency"), "accuracy"] == pytest.approx(sal["accuracy"].mean())
    assert summary.loc[("wtko_cnn", "saliency"), "accuracy_sd"] == pytest.approx(sal["accuracy"].std(ddof=1))
    md = (out / "summary.md").read_text()
    assert "±" in md and "| toy_cnn | attention | not run:" in md and "| model | method |" in md
    bench = json.loads((out / "benchmark.json").read_text())
    assert set(bench["model_test_auroc"]) == {"wtko_cnn/0", "wtko_cnn/1", "toy_cnn/0", "toy_cnn/1"}
    assert bench["sizes"] == {"train": 500, "val": 10, "test": 10}

    # the same command again resumes: nothing retrained, the same numbers
    ckpt = out / "models" / "wtko_cnn" / "seed_1" / "model.pt"
    stamp = ckpt.stat().st_mtime_ns
    assert main(args) == 0
    assert ckpt.stat().st_mtime_ns == stamp
    pd.testing.assert_frame_equal(pd.read_csv(out / "explainers.tsv", sep="\t"), table)
    # other parameters in the same directory: refused
    assert main([a if a != "0.01" else "0.02" for a in args]) == 2


def test_preset_and_command_errors(tmp_path, capsys):
    assert main(["benchmark", "explainers", "--preset", "agentbind", "--models", "no_such_net", "-o",
                 str(tmp_path / "b")]) == 2
    assert "no_such_net" in capsys.readouterr().err
    assert main(["benchmark", "explainers", "--preset", "agentbind", "--scale", "0.001", "-o",
                 str(tmp_path / "b")]) == 2
    assert "--scale" in capsys.readouterr().err
    assert main(["benchmark", "explainers", "-o", str(tmp_path / "b")]) == 2
    assert "MODEL [MODEL ...] DATA --truth" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_a_map_without_signal_has_no_snr_and_plots(tmp_path):
    """An all-zero map (a rectified Grad-CAM with no positive evidence does this) has a nan
    signal-to-noise ratio, not infinity; a map zero in the background only has an infinite one,
    and the figure draws neither as a bar (no non-finite axis limits)."""
    import warnings

    from wtko_captum.benchmark.explainers import plot_benchmark, score_explainer, summarise

    mask = np.zeros((2, 20), dtype=bool)
    mask[:, 5:9] = True
    zero = score_explainer(np.zeros((2, 20)), mask)
    assert np.isnan(zero["snr"]) and zero["auroc"] == 0.5
    only_motif = score_explainer(mask.astype(float), mask)
    assert only_motif["snr"] == np.inf and only_motif["auroc"] == 1.0
    model, X, hand_mask = _hand_case()
    table = benchmark_explainers(model, X, hand_mask, methods=["saliency", "input_x_gradient"], target=1)
    table["model"], table["seed"] = "toy", 0
    table.loc[0, "snr"] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        path = plot_benchmark(summarise(table), tmp_path / "metrics.png")
    assert path.stat().st_size > 10_000
