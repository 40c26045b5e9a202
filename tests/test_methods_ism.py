"""ISM equals brute-force single-base substitution scoring to 1e-4."""
import pytest
import torch
from torch import nn

from conftest import random_onehot
from wtko_tangermeme.ism import ism, supports_local


def _brute_force(model, X, target):
    N, A, L = X.shape
    out = torch.zeros(N, A, L)
    with torch.no_grad():
        y0 = model(X)[:, target]
        for n in range(N):
            edits = []
            for p in range(L):
                for b in range(A):
                    x = X[n].clone()
                    x[:, p] = 0
                    x[b, p] = 1
                    edits.append(x)
            y = model(torch.stack(edits))[:, target].reshape(L, A).T
            out[n] = (y - y0[n]) * (1 - X[n])
    return out


def test_ism_local_path_equals_brute_force(tiny_wtko):
    X = torch.from_numpy(random_onehot(3, 120, seed=30))
    X[1, :, 10:14] = 0  # N bases: all four substitutions scored
    assert supports_local(tiny_wtko)
    fast = ism(tiny_wtko, X, target=1, batch_size=500, centre=False)
    brute = _brute_force(tiny_wtko, X, 1)
    assert fast.shape == X.shape and fast.dtype == torch.float32
    torch.testing.assert_close(fast, brute, rtol=0, atol=1e-4)
    assert (fast * X).abs().max() == 0  # the observed base scores exactly 0
    assert (fast[1, :, 10:14] != 0).all()
    assert (fast[:, :, 119] == 0).all()  # base 119 is outside every receptive field
    assert brute.abs().max() > 1e-3  # not vacuous
    torch.testing.assert_close(fast, brute, rtol=1e-3, atol=1e-6)


def test_ism_generic_model_goes_through_tangermeme():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(4, 6, 5), nn.ReLU(), nn.Flatten(), nn.Linear(6 * 26, 2)).eval()
    X = torch.from_numpy(random_onehot(2, 30, seed=31))
    assert not supports_local(model)
    torch.testing.assert_close(ism(model, X, target=0, centre=False), _brute_force(model, X, 0), rtol=0,
                               atol=1e-5)


def _randomised(model, seed):
    torch.manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
        model.fc2.weight.mul_(200.0)  # logits of order 1-10, as a trained model's
    return model.eval()


@pytest.mark.parametrize("config", [
    dict(),  # the tiny WTKO-CNN shape
    dict(batchnorm=False, filter_width=7, filter_width2=5, pool=3),  # other window offsets
])
def test_ism_delta_path_equals_brute_force(config, monkeypatch):
    """The layer-by-layer delta path (taken for the WTKO-CNN: the generic slice path is
    disabled here) equals brute force, N columns and both sequence ends included."""
    import wtko_tangermeme.ism as ism_mod
    from wtko_captum.models.wtko_cnn import WTKOCNN

    model = _randomised(WTKOCNN(input_length=121, n_filters=8, n_filters2=16, hidden=8,
                                **config), seed=3)
    monkeypatch.setattr(ism_mod, "_ism_local", None)  # fail loudly if the delta path is skipped
    X = torch.from_numpy(random_onehot(3, 121, seed=33))
    X[0, :, :3] = 0
    X[2, :, 115:] = 0
    fast = ism(model, X, target=0, batch_size=97, centre=False)  # several passes per residue group
    brute = _brute_force(model, X, 0)
    assert brute.abs().max() > 0.1
    torch.testing.assert_close(fast, brute, rtol=1e-4, atol=1e-4)
    assert (fast * X).abs().max() == 0


def test_ism_slice_path_equals_brute_force(tiny_wtko, monkeypatch):
    """The generic receptive-field slice path (models with the attention-pooling shape but not
    the WTKO-CNN layer layout) stays exact."""
    import wtko_tangermeme.ism as ism_mod

    monkeypatch.setattr(ism_mod, "_tower_layers", lambda model: None)
    X = torch.from_numpy(random_onehot(2, 120, seed=34))
    X[1, :, 50:52] = 0
    torch.testing.assert_close(ism(tiny_wtko, X, target=1, batch_size=300, centre=False),
                               _brute_force(tiny_wtko, X, 1), rtol=0, atol=1e-4)


def test_ism_default_is_mean_centred_so_the_observed_base_carries_importance(tiny_wtko):
    X = torch.from_numpy(random_onehot(2, 120, seed=33))
    raw = _brute_force(tiny_wtko, X, 1)
    centred = ism(tiny_wtko, X, target=1)
    torch.testing.assert_close(centred, raw - raw.mean(dim=1, keepdim=True), rtol=0, atol=1e-4)
    # projected score = -(sum of the 3 alternatives' effects) / 4: positive where mutating hurts
    projected = (centred * X).sum(1)
    torch.testing.assert_close(projected, -raw.sum(1) / 4, rtol=0, atol=1e-4)
    assert projected.abs().max() > 1e-3


def test_ism_says_which_route_ran_and_passes_fast_to_tangermeme(tiny_wtko, caplog, monkeypatch):
    import logging

    import tangermeme.saturation_mutagenesis as tsm

    X = torch.from_numpy(random_onehot(1, 120, seed=32))
    with caplog.at_level(logging.INFO, logger="wtko_tangermeme.ism"):
        ism(tiny_wtko, X, target=1)
    assert "delta route" in caplog.text
    seen = []
    real = tsm.saturation_mutagenesis
    monkeypatch.setattr(tsm, "saturation_mutagenesis", lambda *a, **k: seen.append(k["fast"]) or real(*a, **k))
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(4, 3, 5), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 26, 2)).eval()
    Xs = torch.from_numpy(random_onehot(1, 30, seed=33))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="wtko_tangermeme.ism"):
        a = ism(model, Xs, target=0, centre=False)
        b = ism(model, Xs, target=0, centre=False, fast=False)
    assert seen == [True, False] and "tangermeme route (saturation_mutagenesis, fast=False)" in caplog.text
    torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
