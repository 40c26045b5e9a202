"""Checkpoints are self-describing data: round trip, and refusal of anything else."""
from __future__ import annotations

import pickle

import pytest
import torch

from wtko_captum.core.checkpoint import load_model, read_checkpoint, save_checkpoint
from wtko_captum.cli import main
from wtko_captum.core.errors import CheckpointError
from wtko_captum.models.wtko_cnn import WTKOCNN


class _Evil:
    """Unpickling this would create ``path`` (code execution through __reduce__)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_round_trip_is_exact_and_self_describing(tmp_path, tiny_wtko):
    path = save_checkpoint(tmp_path / "m.pt", tiny_wtko, "wtko_cnn", ["KO", "WT"], genome_build="mm10",
                           training={"best_epoch": 3, "seed": 7})
    raw = torch.load(path, weights_only=True)  # loads with plain torch, as data
    assert raw["architecture"] == "wtko_cnn" and raw["input_length"] == 120
    assert raw["class_names"] == ["KO", "WT"] and raw["genome_build"] == "mm10"
    assert raw["training"] == {"best_epoch": 3, "seed": 7} and raw["package_version"]
    assert raw["config"]["n_filters"] == 8 and raw["config"]["batchnorm"] is True
    model = load_model(path)
    assert not model.training and model.class_names == ["KO", "WT"]
    x = torch.rand(5, 4, 120)
    with torch.no_grad():
        assert torch.equal(model(x), tiny_wtko(x))
    assert model.identity.startswith("wtko_cnn@")
    assert load_model(path).identity == model.identity


def test_no_batchnorm_round_trip(tmp_path):
    torch.manual_seed(1)
    m = WTKOCNN(input_length=100, n_filters=4, n_filters2=4, hidden=4, batchnorm=False).eval()
    assert not any(isinstance(x, torch.nn.BatchNorm1d) for x in m.modules())
    path = save_checkpoint(tmp_path / "m.pt", m, "wtko_cnn", ["KO", "WT"])
    loaded = load_model(path)
    assert loaded.config["batchnorm"] is False
    x = torch.rand(3, 4, 100)
    with torch.no_grad():
        assert torch.equal(loaded(x), m(x))


@pytest.mark.parametrize("how", ["pickle", "torch.save"])
def test_pickle_carrying_code_is_refused_and_not_executed(tmp_path, how):
    marker = tmp_path / "pwned"
    bad = tmp_path / "evil.pt"
    if how == "pickle":
        bad.write_bytes(pickle.dumps({"format": "wtko_captum.checkpoint", "x": _Evil(marker)}, protocol=2))
    else:
        torch.save({"format": "wtko_captum.checkpoint", "x": _Evil(marker)}, bad)
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="refused"):
        load_model(bad)
    assert not marker.exists()
    # and through the CLI on real prepared data: exit 2, no output directory
    from wtko_captum.preparation.prepare import prepare
    from wtko_captum.preparation.simulate import simulate

    sim = simulate("two-motif", tmp_path / "sim", n=20, length=120)
    prepare(tmp_path / "data", wt=[sim["wt"]], ko=[sim["ko"]], width=120)
    assert main(["evaluate", str(bad), str(tmp_path / "data"), "-o", str(tmp_path / "ev"), "-q"]) == 2
    assert not marker.exists() and not (tmp_path / "ev").exists()


def test_not_a_checkpoint(tmp_path, tiny_wtko):
    sd = tmp_path / "state_dict.pt"
    torch.save(tiny_wtko.state_dict(), sd)
    with pytest.raises(CheckpointError, match="not a wtko_captum checkpoint"):
        read_checkpoint(sd)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00not a zip nor a pickle" * 10)
    with pytest.raises(CheckpointError, match="refused"):
        read_checkpoint(junk)
    good = save_checkpoint(tmp_path / "m.pt", tiny_wtko, "wtko_cnn", ["KO", "WT"])
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError):
        read_checkpoint(truncated)
    with pytest.raises(CheckpointError, match="not found"):
        read_checkpoint(tmp_path / "missing.pt")


def test_checkpoint_of_another_architecture_or_length(tmp_path, tiny_wtko):
    path = save_checkpoint(tmp_path / "m.pt", tiny_wtko, "wtko_cnn", ["KO", "WT"])
    with pytest.raises(CheckpointError, match="input length 120 bp, data has 600 bp"):
        load_model(path, input_length=600)
    with pytest.raises(CheckpointError, match="architecture 'wtko_cnn', expected 'deepsea'"):
        load_model(path, architecture="deepsea")
    ckpt = torch.load(path, weights_only=True)
    ckpt["architecture"] = "not_installed_cnn"
    torch.save(ckpt, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="'not_installed_cnn' is not installed"):
        load_model(tmp_path / "other.pt")
    ckpt = torch.load(path, weights_only=True)
    ckpt["config"]["n_filters"] = 16  # weights of another shape than the config says
    torch.save(ckpt, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="do not fit"):
        load_model(tmp_path / "mismatch.pt")
    ckpt = torch.load(path, weights_only=True)
    del ckpt["state_dict"]
    torch.save(ckpt, tmp_path / "incomplete.pt")
    with pytest.raises(CheckpointError, match="missing state_dict"):
        load_model(tmp_path / "incomplete.pt")
