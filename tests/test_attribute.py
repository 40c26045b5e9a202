"""The attribute() dispatcher: targets, input forms, reverse-complement averaging, bad input,
and the method contract check."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import wtko_captum as wc
from wtko_captum.attribution.attribute import predicted_classes
from attr_helpers import make_model
from conftest import random_onehot
from wtko_captum.attribution.contract import ContractError, check_method
from wtko_captum.core.errors import InputError, PluginError, WtkoError
from wtko_captum.core.registry import attribution_method
from wtko_captum.core.sequence import decode, reverse_complement_onehot


@attribution_method(hypothetical=True)
def grad(model, X, args=None, *, target=0, batch_size=64, device="cpu", random_state=None,
         verbose=False):
    """Plain autograd gradient of one output (the dispatcher's test double)."""
    x = X.clone().to(device).requires_grad_(True)
    (g,) = torch.autograd.grad(model(x)[:, target].sum(), x)
    return g.detach().float().cpu()


def hand_grad(model, X, rows_target):
    """d logit[n, t_n] / d X[n] written out by hand, one sequence at a time."""
    out = []
    for x, t in zip(X, rows_target):
        x = x[None].clone().requires_grad_(True)
        model(x)[0, int(t)].backward()
        out.append(x.grad[0])
    return torch.stack(out)


@pytest.fixture
def reg(registry):
    registry.add("attributions", "grad_test", grad)
    return registry


@pytest.fixture
def model():
    m = make_model(120)
    # centre the logit difference so that "pred" sees both classes in a small sample
    X = torch.from_numpy(random_onehot(64, 120, seed=5))
    with torch.no_grad():
        d = m(X)
        m.fc2.bias[1] -= (d[:, 1] - d[:, 0]).median()
    return m


@pytest.fixture
def X():
    return torch.from_numpy(random_onehot(10, 120, seed=2))


def test_class_targets_match_hand_gradient(reg, model, X):
    want_wt = hand_grad(model, X, [1] * len(X))
    for target in (1, "WT", "wt", "1"):
        got = wc.attribute(model, X, "grad_test", target=target)
        assert got.dtype == torch.float32 and got.shape == X.shape and got.device.type == "cpu"
        torch.testing.assert_close(got, want_wt, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(wc.attribute(model, X, "grad_test", target="KO"),
                               hand_grad(model, X, [0] * len(X)), rtol=1e-5, atol=1e-7)
    assert not torch.allclose(want_wt, hand_grad(model, X, [0] * len(X)))


def test_pred_target_uses_each_sequences_predicted_class(reg, model, X):
    pred = model(X).argmax(1)
    assert 0 < int(pred.sum()) < len(X), "fixture should predict both classes"
    got = wc.attribute(model, X, "grad_test", target="pred")
    torch.testing.assert_close(got, hand_grad(model, X, pred), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(predicted_classes(model, X), pred.numpy())


def test_diff_target_is_logit_wt_minus_ko(reg, model, X):
    got = wc.attribute(model, X, "grad_test", target="diff")
    want = hand_grad(model, X, [1] * len(X)) - hand_grad(model, X, [0] * len(X))
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


def test_diff_wrapper_keeps_extra_outputs_and_layers(model, X):
    from wtko_captum.core.targets import LogitDiff

    w = LogitDiff(model, 1, 0)
    y, att = w(X, return_attention=True)
    logits, att0 = model(X, return_attention=True)
    torch.testing.assert_close(y[:, 0], logits[:, 1] - logits[:, 0])
    torch.testing.assert_close(att, att0)
    assert w.get_submodule("conv1") is model.conv1 and w.class_names == ["WT-KO"]


def test_model_mode_is_restored_and_dropout_is_off(reg, model, X):
    model.train()
    a = wc.attribute(model, X, "grad_test", target=1)
    assert model.training  # the caller's mode comes back
    torch.testing.assert_close(a, hand_grad(model.eval(), X, [1] * len(X)), rtol=1e-5, atol=1e-7)


def test_string_and_array_inputs_agree(reg, model, X):
    seqs = decode(X.numpy())
    a = wc.attribute(model, seqs, "grad_test", target=1)
    b = wc.attribute(model, X.numpy(), "grad_test", target=1)
    c = wc.attribute(model, X, "grad_test", target=1)
    torch.testing.assert_close(a, c)
    torch.testing.assert_close(b, c)


def test_rc_average(reg, model, X):
    got = wc.attribute(model, X, "grad_test", target=1, rc_average=True)
    rc = reverse_complement_onehot(X)
    want = 0.5 * (hand_grad(model, X, [1] * len(X))
                  + reverse_complement_onehot(hand_grad(model, rc, [1] * len(X))))
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
    # strand symmetric: the reverse complement's averaged map is this one mapped over
    got_rc = wc.attribute(model, rc, "grad_test", target=1, rc_average=True)
    torch.testing.assert_close(reverse_complement_onehot(got_rc), got, rtol=1e-5, atol=1e-7)


def test_options_reach_the_method_and_unknown_options_are_refused(registry, model, X):
    seen = {}

    @attribution_method(hypothetical=False)
    def opt_method(model, X, args=None, *, target=0, n_steps=10, reference="zero"):
        seen.update(target=target, n_steps=n_steps, reference=reference)
        return X * 0.5

    registry.add("attributions", "opt_method", opt_method)
    out = wc.attribute(model, X, "opt_method", target="KO", n_steps=7, reference="shuffle")
    assert seen == {"target": 0, "n_steps": 7, "reference": "shuffle"}
    torch.testing.assert_close(out, X * 0.5)
    with pytest.raises(InputError, match=r"does not take option\(s\) n_shuffles; it takes: target, n_steps, reference"):
        wc.attribute(model, X, "opt_method", n_shuffles=3)


@pytest.mark.parametrize("bad, match", [
    (lambda X: X.permute(0, 2, 1), r"looks like \(N, L, 4\).*X.permute\(0, 2, 1\)"),
    (lambda X: torch.cat([X, X[:, :1]], 1), "must have 4 channels.*got 5"),
    (lambda X: X[:, 0], r"must be \(N, 4, L\)"),
    (lambda X: X[:0], "holds no sequences"),
    (lambda X: ["ACGT", "ACG"], "same length"),
    (lambda X: X * float("nan"), "NaN"),
])
def test_bad_input_shapes(reg, model, X, bad, match):
    with pytest.raises(InputError, match=match):
        wc.attribute(model, bad(X), "grad_test", target=1)


def test_bad_targets_and_models(reg, model, X):
    with pytest.raises(InputError, match=r"target index out of range: the model has 2 outputs \(0=KO, 1=WT\)"):
        wc.attribute(model, X, "grad_test", target=2)
    with pytest.raises(InputError, match=r"unknown target class 'MUT'; choose one of KO, WT, pred, diff"):
        wc.attribute(model, X, "grad_test", target="MUT")
    with pytest.raises(InputError, match="did you mean 'WT'"):
        wc.attribute(model, X, "grad_test", target="WTT")

    class Flat(torch.nn.Module):
        def forward(self, x):
            return x.sum(dim=(1, 2))

    with pytest.raises(InputError, match=r"output has shape \(2,\) for 2 sequences; expected \(2, n_outputs\)"):
        wc.attribute(Flat(), X, "grad_test", target=0)

    class Pair(torch.nn.Module):
        def forward(self, x):
            return x.sum(-1), x.sum(1)

    with pytest.raises(InputError, match="returned a tuple of 2 items"):
        wc.attribute(Pair(), X, "grad_test", target=0)
    with pytest.raises(PluginError, match="unknown attribution method 'nope'; available: .*grad_test"):
        wc.attribute(model, X, "nope")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message when CUDA is absent")
def test_cuda_absent_is_a_clear_error(reg, model, X):
    with pytest.raises(WtkoError, match="no CUDA device is available"):
        wc.attribute(model, X, "grad_test", device="cuda")


def test_attribute_on_cuda_when_present(reg, model, X, device):
    got = wc.attribute(model, X, "grad_test", target=1, device=device)
    assert got.device.type == "cpu"
    torch.testing.assert_close(got, hand_grad(model.cpu(), X, [1] * len(X)), rtol=1e-4, atol=1e-6)


def test_contract_passes_a_good_method_and_names_each_failure(model, X):
    report = check_method(grad, model, X[:4], target=1)
    assert {"shape", "dtype", "device", "finite", "deterministic under a seed",
            "batch independent", "tangermeme.marginalize"} <= set(report["checks"])

    def undeclared_float64(model, X, args=None, target=0, random_state=None):
        return X.double()

    with pytest.raises(ContractError, match="not declared.*dtype torch.float64"):
        check_method(undeclared_float64, model, X[:3])

    @attribution_method(stochastic=True)
    def unseeded(model, X, args=None, target=0, random_state=None):
        return torch.rand(X.shape)  # ignores random_state

    with pytest.raises(ContractError, match="differ"):
        check_method(unseeded, model, X[:3])

    @attribution_method()
    def batch_mixing(model, X, args=None, target=0, random_state=None):
        return X - X.mean(0, keepdim=True)  # depends on the other sequences of the batch

    with pytest.raises(ContractError, match="scores differently alone"):
        check_method(batch_mixing, model, X[:3])
