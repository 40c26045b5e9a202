"""NeuronMotif end to end: the paper's toy (a trained 2-layer CNN whose second-layer neuron sees
ZEB1 at two shifts), a WTKO-CNN with planted filters through the CLI, the motif finder."""
from __future__ import annotations

import json
from collections import OrderedDict

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

KMERS = ["TGACTCAGCA", "CCACGTGGTC", "GGGATTAACG", "ATGCAAATGA"]


@pytest.fixture
def wtko(capsys):
    """``wtko(*args, rc=0)`` runs the CLI in this process; returns ``(stdout, stderr)``."""
    from wtko_captum.cli import main

    def run(*args, rc=0):
        capsys.readouterr()
        got = main([str(a) for a in args])
        out, err = capsys.readouterr()
        assert got == rc, err[-2000:]
        return out, err

    return run


# ---- the paper's toy -----------------------------------------------------------------------
def paper_toy_cnn() -> nn.Sequential:
    """The NeuronMotif paper's toy CNN: Conv1d(3 filters, 5 bp), ReLU, MaxPool(2), Conv1d(1, 2)."""
    return nn.Sequential(OrderedDict(conv1=nn.Conv1d(4, 3, 5), relu1=nn.ReLU(), pool1=nn.MaxPool1d(2),
                                     conv2=nn.Conv1d(3, 1, 2), flatten=nn.Flatten()))


@pytest.mark.slow
def test_toy_stacking_blurs_demixing_recovers_zeb1(tmp_path):
    from wtko_captum.attribution.attribute import attribute
    from wtko_captum.core.dataset import read_fasta_records
    from wtko_captum.core.motif_db import load_motifs
    from wtko_captum.core.sequence import one_hot
    from wtko_captum.motifs.cluster import information_content
    from wtko_captum.motifs.neurons.neurons import neurons
    from wtko_captum.motifs.tomtom import tomtom
    from wtko_captum.preparation.simulate import _toy_start, _toy_window, simulate

    sim = simulate("neuronmotif-toy", tmp_path / "toy", n=1000, seed=0)
    wt = one_hot([s for _, s in read_fasta_records(sim["wt"])])
    ko = one_hot([s for _, s in read_fasta_records(sim["ko"])])
    X = torch.as_tensor(np.concatenate([wt, ko]))
    y = torch.as_tensor(np.r_[np.ones(len(wt)), np.zeros(len(ko))], dtype=torch.float32)
    torch.manual_seed(0)
    model = paper_toy_cnn()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(300):  # full batch: 4,000 sequences of 8 bp
        loss = nn.functional.binary_cross_entropy_with_logits(model(X)[:, 0], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    assert ((model(X)[:, 0] > 0).float() == y).float().mean() > 0.98

    demixed = neurons(model, "conv2", tmp_path / "out", input_length=8, verbose=False)
    stacked = neurons(model, "conv2", None, input_length=8, demix=False, figures=False, verbose=False)
    neuron, stack = demixed.neurons[0], stacked.neurons[0].clusters[0]
    assert demixed.substructure["receptive_field"] == 8 and neuron.samples.method == "enumeration"
    assert neuron.samples.n_evaluated == 4 ** 8

    zeb1 = "MA0103.3 ZEB1"
    db = load_motifs()
    planted = [_toy_window(db[zeb1], 8, _toy_start(8) - shift)[0] for shift in (0, 1)]

    # demixing: one cluster per shift, each the planted matrix and ZEB1 by Tomtom
    assert len(neuron.clusters) == 2
    nearest = [int(np.argmin([((c.motif.pwm - p) ** 2).sum() for p in planted])) for c in neuron.clusters]
    assert sorted(nearest) == [0, 1]
    for c in neuron.clusters:
        assert c.match["id"] == "MA0103.3", c.match
        assert c.motif.total_ic > stack.motif.total_ic + 2
    # stacking blurs the two shifts: less information, a worse match to ZEB1
    assert neuron.stack.total_ic == pytest.approx(stack.motif.total_ic)

    def p_zeb1(pwm):
        t = tomtom({"q": pwm}, db, thresh=1.0)
        return float(t.loc[t["Target_ID"] == "MA0103.3", "p-value"].iloc[0])

    assert all(p_zeb1(stack.motif.pwm) > 10 * p_zeb1(c.motif.pwm) for c in neuron.clusters)
    # so does averaging saliency over the planted sequences (positive part per base)
    sal = attribute(model, torch.as_tensor(wt), "saliency", target=0).numpy().mean(axis=0)
    pos = np.clip(sal, 0, None)
    total = pos.sum(axis=0, keepdims=True)
    sal_pwm = np.where(total > 0, pos / np.where(total > 0, total, 1), 0.25)
    best = tomtom({"saliency": sal_pwm}, db, thresh=1.0).iloc[0]
    assert best["Target_ID"] != "MA0103.3"
    assert all(p_zeb1(sal_pwm) > 10 * p_zeb1(c.motif.pwm) for c in neuron.clusters)
    # the syntax: one dictionary motif seen at two start positions 1 bp apart
    assert len(neuron.tree["children"]) == 1
    lo, hi = neuron.tree["children"][0]["start"]
    assert hi - lo == 1
    assert information_content(neuron.clusters[0].motif.pwm).sum() == pytest.approx(neuron.clusters[0].motif.total_ic)

    # the files: per-neuron JSON/figures/page, the dictionary through the MEME exporter
    out = tmp_path / "out"
    rec = json.loads((out / "neurons" / "conv2.0.json").read_text())
    assert [c["n"] for c in rec["clusters"]] == [c.motif.n for c in neuron.clusters]
    np.testing.assert_allclose(np.array(rec["clusters"][0]["pwm"]), neuron.clusters[0].motif.pwm, atol=1e-5)
    page = (out / "neurons" / "conv2.0.html").read_text()
    assert '<section class="wtko-neuron" id="conv2.0">' in page and "<svg" in page and "ZEB1" in page
    assert (out / "neurons" / "conv2.0.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from wtko_captum.core.readers import read

    meme = read(out / "motifs.meme", kind="motifs")
    assert list(meme) == list(demixed.dictionary.motifs)
    pwms = read(out / "clusters.pfm.meme", kind="motifs")
    assert list(pwms) == [f"conv2.0.c{c.index} {c.motif.consensus}" for c in neuron.clusters]
    np.testing.assert_allclose(list(pwms.values())[1], neuron.clusters[1].motif.pwm, atol=1e-5)
    summary = pd.read_csv(out / "summary.tsv", sep="\t")
    assert summary.loc[0, "best_jaspar_id"] == "MA0103.3" and summary.loc[0, "clusters"] == 2


# ---- a WTKO-CNN with planted filters, through the CLI ----------------------------------------
def planted_wtko(path):
    """A WTKO-CNN (no BatchNorm) whose first-layer filter f detects ``KMERS[f]`` (activation
    2 x matches - 16: positive for at most one mismatch) and whose second-layer neuron 0 fires
    on filter 0 at its kernel position 4 (the k-mer at window position 8 or 9: the max-pool of
    2 hides which), neuron 1 on filter 1 at kernel position 1 and filter 2 at 8 together
    (k-mer 1 at 2 or 3, k-mer 2 at 16 or 17: 3-5 bp between them)."""
    from wtko_captum.core.checkpoint import save_checkpoint
    from wtko_captum.core.sequence import one_hot
    from wtko_captum.models.wtko_cnn import WTKOCNN

    torch.manual_seed(0)
    m = WTKOCNN(input_length=60, n_filters=4, n_filters2=2, hidden=4, batchnorm=False)
    with torch.no_grad():
        m.conv1.weight.copy_(torch.as_tensor(2 * one_hot(KMERS) - 1))
        m.conv1.bias.fill_(-6.0)
        m.conv2.weight.zero_()
        m.conv2.weight[0, 0, 4] = 1.0
        m.conv2.bias[0] = -1.0
        m.conv2.weight[1, 1, 1] = 1.0
        m.conv2.weight[1, 2, 8] = 1.0
        m.conv2.bias[1] = -5.0
    save_checkpoint(path, m.eval(), "wtko_cnn", ["KO", "WT"])
    return path


@pytest.mark.slow
def test_planted_wtko_cnn_through_the_cli(tmp_path, wtko):
    model = planted_wtko(tmp_path / "model.pt")
    listing = wtko("neurons", model, "--list-layers")[0].splitlines()
    rows = {line.split("\t")[0]: line.split("\t") for line in listing[1:]}
    assert rows["conv2"][3] == "29" and rows["conv2"][4] == "pool1:2" and rows["pool2"][3] == "31"
    assert set(rows) == {"conv1", "pool1", "conv2", "pool2"}

    out = tmp_path / "neurons"
    wtko("neurons", model, "--layer", "conv2", "--population", "300", "--max-generations", "30",
         "--samples", "3000", "--groups", "2", "--seed", "0", "--no-figures", "-q", "-o", out)
    # the first layer, analysed first to seed the second: each filter's k-mer, exactly
    l1 = pd.read_csv(out / "seeds" / "clusters.tsv", sep="\t")
    assert l1["consensus"].tolist() == KMERS
    assert (l1["segments"].str.split(":").str[0] == "0-10").all()
    assert json.loads((out / "seeds" / "neurons.json").read_text())["substructure"]["receptive_field"] == 10

    meta = json.loads((out / "neurons.json").read_text())
    assert meta["substructure"]["receptive_field"] == 29 and meta["seed_motifs"].startswith("layer conv1")
    clusters = pd.read_csv(out / "clusters.tsv", sep="\t")
    summary = pd.read_csv(out / "summary.tsv", sep="\t").set_index("neuron")
    assert summary.loc["conv2.0", "method"] == "genetic" and summary.loc["conv2.0", "samples"] >= 250
    # neuron 0: every cluster is k-mer 0 at window position 8 or 9, both shifts found
    starts = set()
    for cons in clusters.loc[clusters["neuron"] == "conv2.0", "consensus"]:
        at = [i for i in (8, 9) if cons[i:i + 10] == KMERS[0]]
        assert at, cons
        starts.update(at)
    assert starts == {8, 9}
    assert summary.loc["conv2.0", "syntax"].endswith("@8-9")
    assert summary.loc["conv2.0", "stack_ic"] < summary.loc["conv2.0", "mean_cluster_ic"]
    # neuron 1: k-mer 1 then k-mer 2, 3-5 bp apart
    dictionary = pd.read_csv(out / "dictionary.tsv", sep="\t")
    ids = {k: dictionary.loc[dictionary["consensus"].str.contains(k[2:8]), "id"].tolist() for k in KMERS[1:3]}
    assert ids[KMERS[1]] and ids[KMERS[2]]
    (a,), (b,) = ids[KMERS[1]], ids[KMERS[2]]
    assert summary.loc["conv2.1", "syntax"] == f"{a}@2-3 -[3-5 bp]- {b}@16-17"
    assert summary.loc["conv2.1", "clusters"] == 4  # k = pool window 2 x 2 groups: the four shift pairs

    # the same run from the saved first layer gives the same second layer
    again = tmp_path / "again"
    wtko("neurons", model, "--layer", "conv2", "--population", "300", "--max-generations", "30",
         "--samples", "3000", "--groups", "2", "--seed", "0", "-q", "--seed-motifs", out / "seeds",
         "--no-figures", "-o", again)
    pd.testing.assert_frame_equal(pd.read_csv(again / "clusters.tsv", sep="\t"), clusters)
    assert not (again / "seeds").exists() and (again / "neurons" / "conv2.1.json").is_file()
    assert not (again / "neurons" / "conv2.1.png").exists()


def test_cli_errors_and_the_motif_finder(tmp_path, wtko):
    model = planted_wtko(tmp_path / "model.pt")
    err = wtko("neurons", model, "--layer", "attention", "-o", tmp_path / "x", rc=2)[1]
    assert "no position axis" in err and "conv1, pool1, conv2, pool2" in err
    assert not (tmp_path / "x").exists()
    err = wtko("neurons", model, "--layer", "conv2", "--channels", "5", "-o", tmp_path / "x", rc=2)[1]
    assert "channels 0..1" in err
    err = wtko("motifs", "--finder", "neurons", model, "-o", tmp_path / "y", rc=2)[1]
    assert "--layer" in err and "conv1, pool1, conv2, pool2" in err
    wtko("motifs", "--finder", "neurons", model, "-o", tmp_path / "y", "--layer", "conv1", "--channels", "0,3",
         "--no-figures")
    t = pd.read_csv(tmp_path / "y" / "clusters.tsv", sep="\t")
    assert t["consensus"].tolist() == [KMERS[0], KMERS[3]]
    from wtko_captum.core.registry import get_registry

    info = get_registry().get("motif_finders", "neurons").wtko_info
    assert info.input == "model"
