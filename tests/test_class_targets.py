"""Contrast targets ("A-vs-B", "class-vs-background"): exact logit differences, the two-class
fallback, per-sequence targets, and attribute_prepared on data with a background class."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

import wtko_captum as wc
from conftest import random_onehot
from wtko_captum.core.errors import InputError


def _model(n_classes: int, names, length: int = 80, seed: int = 0):
    from wtko_captum.models.wtko_cnn import WTKOCNN

    torch.manual_seed(seed)
    m = WTKOCNN(input_length=length, n_classes=n_classes, n_filters=8, n_filters2=8, hidden=8).eval()
    m.class_names = list(names)
    return m


def _grad(model, X, weights):
    """d (sum_c weights[c] * logit_c) / dX, by hand."""
    x = X.clone().requires_grad_(True)
    (model(x) * torch.tensor(weights, dtype=torch.float32)).sum().backward()
    return x.grad


def test_contrast_is_the_exact_logit_difference_and_falls_back_on_two_classes():
    X = torch.from_numpy(random_onehot(6, 80, seed=2))
    three = _model(3, ["KO", "WT", "background"])
    got = wc.attribute(three, X, method="saliency", target="WT-vs-background", device="cpu")
    assert torch.allclose(got, _grad(three, X, [0, 1, -1]), atol=1e-6)
    got = wc.attribute(three, X, method="saliency", target="KO-vs-WT", device="cpu")
    assert torch.allclose(got, _grad(three, X, [1, -1, 0]), atol=1e-6)
    # indices work too; and a contrast through DeepLIFT keeps completeness (the wrapper is linear)
    assert torch.equal(wc.attribute(three, X, method="saliency", target="1-vs-2", device="cpu"),
                       wc.attribute(three, X, method="saliency", target="WT-vs-background", device="cpu"))
    # a two-class model has no background class: WT-vs-background is the class logit difference
    two = _model(2, ["KO", "WT"])
    fallback = wc.attribute(two, X, method="saliency", target="WT-vs-background", device="cpu")
    assert torch.equal(fallback, wc.attribute(two, X, method="saliency", target="diff", device="cpu"))
    assert torch.allclose(wc.attribute(two, X, method="saliency", target="KO-vs-background", device="cpu"),
                          -fallback, atol=1e-6)
    for bad in ("WT-vs-WT", "WT-vs-", "MUT-vs-background"):
        with pytest.raises(InputError):
            wc.attribute(three, X, method="saliency", target=bad, device="cpu")
    with pytest.raises(InputError, match="no 'background' class"):
        wc.attribute(_model(3, ["A", "B", "C"]), X, method="saliency", target="A-vs-background", device="cpu")
    with pytest.raises(InputError, match="each sequence's class"):
        wc.attribute(three, X, method="saliency", target="class-vs-background", device="cpu")


def test_per_sequence_contrasts_equal_separate_calls():
    X = torch.from_numpy(random_onehot(7, 80, seed=3))
    three = _model(3, ["KO", "WT", "background"])
    targets = ["WT-vs-background", "KO-vs-background", "WT-vs-background", 1, "KO-vs-background", 0, 1]
    got = wc.attribute(three, X, method="saliency", target=targets, device="cpu")
    for i, t in enumerate(targets):
        one = wc.attribute(three, X[i:i + 1], method="saliency", target=t, device="cpu")
        assert torch.allclose(got[i], one[0], atol=1e-6), (i, t)


def test_attribute_prepared_class_vs_background(tmp_path):
    """Each condition's rows explained as their class against background; background rows
    left out; the AttributionSet says which contrast explains each row."""
    from wtko_captum.attribution.attribute_prepared import attribute_prepared
    from wtko_captum.core.attribution_set import AttributionSet
    from wtko_captum.core.dataset import load_prepared
    from wtko_captum.preparation.prepare import prepare
    from wtko_captum.preparation.simulate import simulate

    sim = simulate("two-motif", tmp_path / "sim", n=30, length=80, seed=0)
    prepare(tmp_path / "data", wt=[sim["wt"]], ko=[sim["ko"]], width=80, seed=0, background="shuffle")
    data = load_prepared(tmp_path / "data").split("all")
    three = _model(3, ["KO", "WT", "background"])
    out = attribute_prepared(three, tmp_path / "data", tmp_path / "attr", ["saliency"], split="all",
                             target="class-vs-background", chunk_size=16, device="cpu")
    aset = AttributionSet.load(out["saliency"])
    keep = data.regions["class"] != "background"
    assert len(aset) == int(keep.sum()) and set(aset.regions["class"]) == {"WT", "KO"}
    assert aset.target == "class-vs-background"
    assert (aset.regions["target"] == aset.regions["class"] + "-vs-background").all()
    X = torch.from_numpy(data.X[keep.to_numpy()])
    for cls, weights in (("WT", [0, 1, -1]), ("KO", [1, 0, -1])):
        rows = np.flatnonzero(aset.regions["class"].to_numpy() == cls)
        assert np.allclose(aset.attr[rows], _grad(three, X[rows], weights).numpy(), atol=1e-5)
    # with another target the background rows are still left out, unless asked for
    out = attribute_prepared(three, tmp_path / "data", tmp_path / "attr2", ["saliency"], split="all",
                             target="pred", include_background=True, device="cpu")
    assert len(AttributionSet.load(out["saliency"])) == len(data)
    out = attribute_prepared(three, tmp_path / "data", tmp_path / "attr3", ["saliency"], split="all",
                             target="WT-vs-KO", device="cpu")
    assert len(AttributionSet.load(out["saliency"])) == int(keep.sum())
    assert json.loads((out["saliency"] / "meta.json").read_text())["target"] == "WT-vs-KO"
    # a two-class model: class-vs-background is each class against the other
    two = _model(2, ["KO", "WT"])
    prepare(tmp_path / "data2", wt=[sim["wt"]], ko=[sim["ko"]], width=80, seed=0)
    out = attribute_prepared(two, tmp_path / "data2", tmp_path / "attr4", ["saliency"], split="all",
                             target="class-vs-background", device="cpu")
    aset = AttributionSet.load(out["saliency"])
    data2 = load_prepared(tmp_path / "data2")
    sign = np.where(aset.regions["class"].to_numpy() == "WT", 1.0, -1.0)[:, None, None]
    diff = _grad(two, torch.from_numpy(data2.X), [-1, 1]).numpy()
    assert np.allclose(aset.attr, sign * diff, atol=1e-5)


def test_cli_attribute_class_vs_background(tmp_path):
    from wtko_captum.cli import main
    from wtko_captum.core.checkpoint import save_checkpoint
    from wtko_captum.preparation.prepare import prepare
    from wtko_captum.preparation.simulate import simulate

    sim = simulate("two-motif", tmp_path / "sim", n=20, length=80, seed=0)
    prepare(tmp_path / "data", wt=[sim["wt"]], ko=[sim["ko"]], width=80, seed=0, background="shuffle")
    three = _model(3, ["KO", "WT", "background"])
    save_checkpoint(tmp_path / "model.pt", three, "wtko_cnn", ["KO", "WT", "background"])
    assert main(["attribute", str(tmp_path / "model.pt"), str(tmp_path / "data"), "--split", "all", "--target",
                 "class-vs-background", "-o", str(tmp_path / "attr"), "-q"]) == 0
    regions = pd.read_csv(tmp_path / "attr" / "saliency" / "regions.bed", sep="\t")
    assert set(regions["target"]) == {"WT-vs-background", "KO-vs-background"}
    assert main(["attribute", str(tmp_path / "model.pt"), str(tmp_path / "data"), "--target", "WT-vs-MUT",
                 "-o", str(tmp_path / "bad"), "-q"]) == 2
