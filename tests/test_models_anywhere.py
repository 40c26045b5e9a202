"""Models from anywhere: bpnet-lite weights through a plain state dict (count output exact under
DeepLIFT, profile output refused unless bpnet-lite's own rule is asked for), a model named by
``module:factory`` loading only when the same spec is named again, and IG's integration rule
through the dispatcher."""
import sys

import numpy as np
import pytest
import torch

from conftest import random_onehot
from wtko_captum.attribution.attribute import attribute
from wtko_captum.attribution.methods._references import make_references
from wtko_captum.core.checkpoint import checkpoint_from_state_dict, load_model
from wtko_captum.core.errors import CheckpointError, InputError, NoRuleError

import bpnetlite  # noqa: F401  (the [bpnet] extra; installed with [test])
L = 160


@pytest.fixture(scope="module")
def bpnet_lite():
    """A small bpnet-lite BPNet with seeded weights and two control tracks, as bpnet-lite makes it."""
    from bpnetlite.bpnet import BPNet

    torch.manual_seed(0)
    model = BPNet(n_filters=8, n_layers=2, n_outputs=2, n_control_tracks=2, verbose=False).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)  # larger outputs than the default init: differences well above rounding
    return model


@pytest.fixture(scope="module")
def state_dict_file(bpnet_lite, tmp_path_factory):
    path = tmp_path_factory.mktemp("bpnet") / "bpnet_sd.pt"
    torch.save(bpnet_lite.state_dict(), path)
    return path


def _theirs(wrapper_cls, bpnet_lite):
    from bpnetlite.bpnet import ControlWrapper

    return wrapper_cls(ControlWrapper(bpnet_lite)).eval()


@pytest.mark.parametrize("output", ["counts", "profile"])
def test_imported_bpnet_predicts_what_bpnet_lite_predicts(state_dict_file, bpnet_lite, tmp_path, output):
    from bpnetlite.bpnet import CountWrapper, ProfileWrapper

    path = checkpoint_from_state_dict(state_dict_file, tmp_path / "m.pt", model="bpnet", input_length=L,
                                      output=output)
    model = load_model(path)
    assert model.config["n_filters"] == 8 and model.config["n_layers"] == 2 and model.config["n_control_tracks"] == 2
    X = torch.from_numpy(random_onehot(5, L, seed=1))
    theirs = _theirs(CountWrapper if output == "counts" else ProfileWrapper, bpnet_lite)
    with torch.no_grad():
        torch.testing.assert_close(model(X), theirs(X))


def test_bpnet_counts_deeplift_shap_is_exact_and_equals_bpnet_lites(state_dict_file, bpnet_lite, tmp_path):
    from bpnetlite.attribute import deep_lift_shap
    from bpnetlite.bpnet import CountWrapper

    model = load_model(checkpoint_from_state_dict(state_dict_file, tmp_path / "c.pt", model="bpnet",
                                                  input_length=L))
    X = torch.from_numpy(random_onehot(4, L, seed=2))
    refs = make_references(X, "shuffle", n=5, seed=0)
    ours = attribute(model, X, "deeplift_shap", target=0, reference=refs)
    with torch.no_grad():
        diff = model(X)[:, 0] - model(refs.reshape(-1, 4, L))[:, 0].reshape(4, 5).mean(1)
    err = ((ours * X).sum((1, 2)) - diff).abs()
    assert diff.abs().mean() > 1e-2 and err.max() < 1e-4 * diff.abs().mean()
    theirs = deep_lift_shap(_theirs(CountWrapper, bpnet_lite), X, references=refs, hypothetical=True,
                            device="cpu", warning_threshold=1e9)
    torch.testing.assert_close(ours, theirs.float(), rtol=1e-4, atol=1e-5 * ours.abs().max().item())


def test_bpnet_profile_deeplift_refuses_unless_bpnet_lites_rule_is_asked_for(state_dict_file, bpnet_lite, tmp_path):
    from bpnetlite.attribute import deep_lift_shap
    from bpnetlite.bpnet import ProfileWrapper

    from wtko_captum.models.bpnet import ProfileScaling

    model = load_model(checkpoint_from_state_dict(state_dict_file, tmp_path / "p.pt", model="bpnet",
                                                  input_length=L, output="profile"))
    X = torch.from_numpy(random_onehot(4, L, seed=3))
    for method in ("deeplift", "deeplift_shap"):
        with pytest.raises(NoRuleError, match=r"'scaling' \(wtko_captum.models.bpnet.ProfileScaling\)"):
            attribute(model, X, method, target=0)
    # methods without rules work on it
    assert attribute(model, X, "saliency", target=0).abs().sum() > 0
    # bpnet-lite's own convention, asked for explicitly, reproduces bpnet-lite's scores
    refs = make_references(X, "shuffle", n=4, seed=1)
    ours = attribute(model, X, "deeplift_shap", target=0, reference=refs,
                     additional_nonlinear_ops={ProfileScaling: "rescale"})
    theirs = deep_lift_shap(_theirs(ProfileWrapper, bpnet_lite), X, references=refs, hypothetical=True,
                            device="cpu", warning_threshold=1e9).float()
    r = np.corrcoef(ours.flatten().numpy(), theirs.flatten().numpy())[0, 1]
    assert r > 0.999, r
    torch.testing.assert_close(ours, theirs, rtol=1e-3, atol=1e-4 * theirs.abs().max().item())


def test_pickled_model_is_refused_and_wrong_weights_are_named(bpnet_lite, tmp_path):
    torch.save(bpnet_lite, tmp_path / "whole.torch")  # how bpnet-lite saves: a pickle with code
    with pytest.raises(CheckpointError, match="refused: not a plain state dict"):
        checkpoint_from_state_dict(tmp_path / "whole.torch", tmp_path / "m.pt", model="bpnet", input_length=L)
    assert not (tmp_path / "m.pt").exists()
    torch.save({"conv.weight": torch.zeros(3, 4, 5)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not weights of model 'bpnet'"):
        checkpoint_from_state_dict(tmp_path / "other.pt", tmp_path / "m.pt", model="bpnet", input_length=L)
    with pytest.raises(InputError, match="n_classes must be 1"):
        checkpoint_from_state_dict(bpnet_lite.state_dict(), tmp_path / "m.pt", model="bpnet", input_length=L,
                                   class_names=["a", "b"])


def test_import_model_cli(state_dict_file, tmp_path, capsys):
    from wtko_captum.cli import main

    out = tmp_path / "counts.pt"
    assert main(["import-model", str(state_dict_file), "--model", "bpnet", "--input-length", str(L), "-o", str(out)]) == 0
    assert "'n_layers': 2" in capsys.readouterr().out
    assert main(["import-model", str(tmp_path / "missing.pt"), "--model", "bpnet", "--input-length", "160",
                 "-o", str(tmp_path / "x.pt")]) == 2
    assert "state dict file not found" in capsys.readouterr().err
    model = load_model(out)
    assert model.class_names == ["output"] and model.config["output"] == "counts"


FACTORY = '''
import torch
from torch import nn

def build(input_length, n_classes, width=3):
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv1d(4, width, 5), nn.ReLU(), nn.Flatten(), nn.Linear(width * (input_length - 4), n_classes))
'''


def test_module_factory_checkpoint_loads_only_when_the_spec_is_named(tmp_path, monkeypatch):
    from wtko_captum.core.architecture import build_model
    from wtko_captum.core.checkpoint import save_checkpoint

    (tmp_path / "my_nets.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = "my_nets:build"
    with pytest.raises(CheckpointError, match="you name it yourself"):
        build_model(spec, input_length=30, n_classes=2)
    net = build_model(spec, input_length=30, n_classes=2, trusted_spec=spec, width=4)
    save_checkpoint(tmp_path / "m.pt", net, spec, ["KO", "WT"])
    with pytest.raises(CheckpointError, match="--model my_nets:build"):
        load_model(tmp_path / "m.pt")
    again = load_model(tmp_path / "m.pt", trusted_spec=spec)
    X = torch.from_numpy(random_onehot(3, 30, seed=4))
    with torch.no_grad():
        torch.testing.assert_close(again(X), net(X))
    assert again.config["width"] == 4
    sys.modules.pop("my_nets", None)


def test_integrated_gradients_rule_through_the_dispatcher(tiny_wtko):
    from captum.attr import IntegratedGradients

    X = torch.from_numpy(random_onehot(3, 120, seed=5))
    ours = attribute(tiny_wtko, X, "integrated_gradients", target=1, rule="riemann_trapezoid", n_steps=20)
    ref = IntegratedGradients(tiny_wtko).attribute(X.clone().requires_grad_(), baselines=torch.zeros_like(X),
                                                   target=1, n_steps=20, method="riemann_trapezoid").detach()
    torch.testing.assert_close((ours * X).sum(1), ref.sum(1), rtol=1e-4, atol=1e-6)
    gauss = attribute(tiny_wtko, X, "integrated_gradients", target=1, n_steps=20)
    assert not torch.allclose(ours, gauss)  # the rule reached captum
    with pytest.raises(InputError, match="riemann_trapezoid"):
        attribute(tiny_wtko, X, "integrated_gradients", target=1, rule="simpson")
