"""DeepLIFT / DeepLIFT-SHAP are exact on the WTKO-CNN with attention.

Completeness: sum(attr * X) == f(x) - mean f(ref) to <= 1e-3 relative; a sequence's result does
not depend on its batch; the engine equals captum's DeepLift and tangermeme's deep_lift_shap on
an attention-free model (where those libraries are right).
"""
import warnings

import pytest
import torch
from torch import nn

from conftest import random_onehot
from wtko_captum.attribution.methods._references import make_references
from wtko_captum.attribution.methods.deeplift import deeplift
from wtko_captum.attribution.methods.deeplift_shap import deeplift_shap


def _f(model, X, target):
    with torch.no_grad():
        return model(X)[:, target]


def _assert_complete(attr, X, diff):
    total = (attr * X).sum((1, 2))
    err = (total - diff).abs()
    assert err.max() <= 1e-3 * diff.abs().mean(), (err.max(), diff.abs().mean())
    assert diff.abs().mean() > 1e-4  # the check is not vacuous


@pytest.mark.parametrize("reference", ["zero", "shuffle"])
def test_deeplift_completeness_with_attention(tiny_wtko, device, reference):
    X = torch.from_numpy(random_onehot(8, 120, seed=5))
    deltas = []
    attr = deeplift(tiny_wtko, X, target=1, reference=reference, seed=3, device=device,
                    deltas_out=deltas)
    refs = make_references(X, reference, n=1, seed=3)[:, 0]
    diff = _f(tiny_wtko, X, 1) - _f(tiny_wtko, refs, 1)
    _assert_complete(attr, X, diff)
    assert deltas[0].shape == (8,) and deltas[0].abs().max() < 1e-5
    assert attr.dtype == torch.float32 and attr.device.type == "cpu"


@pytest.mark.parametrize("backend", ["exact", "tangermeme"])
def test_deeplift_shap_completeness_with_attention(tiny_wtko, backend):
    X = torch.from_numpy(random_onehot(6, 120, seed=6))
    attr = deeplift_shap(tiny_wtko, X, target=0, n_shuffles=5, seed=1, backend=backend)
    refs = make_references(X, "shuffle", n=5, seed=1)
    diff = _f(tiny_wtko, X, 0) - _f(tiny_wtko, refs.reshape(-1, 4, 120), 0).reshape(6, 5).mean(1)
    _assert_complete(attr, X, diff)


def test_backends_agree_and_unpatched_tangermeme_is_not_exact(tiny_wtko):
    """The tangermeme backend equals the engine; plain tangermeme (product treated as linear)
    misses completeness on this model, so the adapter's fix is what makes it exact."""
    from tangermeme.deep_lift_shap import deep_lift_shap

    X = torch.from_numpy(random_onehot(6, 120, seed=7))
    a = deeplift_shap(tiny_wtko, X, target=1, n_shuffles=4, seed=0)
    b = deeplift_shap(tiny_wtko, X, target=1, n_shuffles=4, seed=0, backend="tangermeme")
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6 * a.abs().max().item())
    refs = make_references(X, "shuffle", n=4, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = deep_lift_shap(tiny_wtko, X, target=1, references=refs, hypothetical=True,
                               device="cpu")
    diff = _f(tiny_wtko, X, 1) - _f(tiny_wtko, refs.reshape(-1, 4, 120), 1).reshape(6, 4).mean(1)
    err = ((plain * X).sum((1, 2)) - diff).abs().mean() / diff.abs().mean()
    assert err > 1e-3


def test_deeplift_shap_batch_independent(tiny_wtko):
    X = torch.from_numpy(random_onehot(6, 120, seed=8))
    whole = deeplift_shap(tiny_wtko, X, target=1, n_shuffles=4, seed=2, batch_size=24)
    single = torch.cat([deeplift_shap(tiny_wtko, X[i:i + 1], target=1, n_shuffles=4,
                                      seed=2, batch_size=3) for i in range(6)])
    mixed = deeplift_shap(tiny_wtko, torch.cat([X[3:], torch.from_numpy(random_onehot(2, 120, 9)),
                                                X[:3]]), target=1, n_shuffles=4, seed=2)
    scale = whole.abs().max().item()
    torch.testing.assert_close(single, whole, rtol=1e-4, atol=1e-5 * scale)
    torch.testing.assert_close(torch.cat([mixed[5:], mixed[:3]]), whole, rtol=1e-4,
                               atol=1e-5 * scale)
    # the same seed gives the same result; another seed other references
    again = deeplift_shap(tiny_wtko, X, target=1, n_shuffles=4, seed=2)
    other = deeplift_shap(tiny_wtko, X, target=1, n_shuffles=4, seed=3)
    assert torch.equal(again, whole) and not torch.allclose(other, whole)


def _attention_free(maxpool=True):
    torch.manual_seed(1)
    pool = (lambda: nn.MaxPool1d(2)) if maxpool else (lambda: nn.AvgPool1d(2))
    return nn.Sequential(
        nn.Conv1d(4, 8, 7), nn.ReLU(), pool(), nn.Conv1d(8, 8, 5), nn.ReLU(),
        pool(), nn.Flatten(), nn.Linear(8 * 11, 16), nn.ReLU(), nn.Linear(16, 2),
    ).eval()


def test_engine_equals_captum_deeplift_without_attention():
    """captum's max-pool rule spreads a window's change differently from tangermeme's (both are
    complete); the engine follows tangermeme's, so captum is compared on an average-pool model."""
    from captum.attr import DeepLift

    model = _attention_free(maxpool=False)
    X = torch.from_numpy(random_onehot(5, 60, seed=10))
    ours = deeplift(model, X, target=1, reference="zero") * X  # zero reference: x * m
    theirs = DeepLift(model).attribute(X.clone().requires_grad_(), baselines=torch.zeros_like(X),
                                       target=1).detach()
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-6)


def test_engine_equals_tangermeme_deep_lift_shap_without_attention():
    from tangermeme.deep_lift_shap import deep_lift_shap

    model = _attention_free()
    X = torch.from_numpy(random_onehot(5, 60, seed=11))
    refs = make_references(X, "shuffle", n=6, seed=4)
    ours = deeplift_shap(model, X, target=0, reference=refs)
    theirs = deep_lift_shap(model, X, target=0, references=refs, hypothetical=True, device="cpu")
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-6)


def _rule_grads(make, module, x_in, r_in, g):
    x_out, r_out = module(x_in), module(r_in)
    return make(module, x_in, x_out, r_in, r_out)(g)[0]


@pytest.mark.parametrize("kind", ["relu", "maxpool"])
def test_fused_kernels_equal_torch_rules(kind, monkeypatch):
    """The numba kernels compute the same multipliers as the torch versions of the rules,
    ties inside pooling windows, exactly-zero changes and |x - r| < 1e-6 included."""
    from wtko_captum.attribution.methods import _exact_deeplift as E
    from wtko_captum.attribution.methods import _kernels

    gen = torch.Generator().manual_seed(0)
    B, K, C, L = 3, 4, 5, 41  # odd L: the last position is dropped by the pool
    x = torch.randint(-2, 3, (B, C, L), generator=gen).float()
    r = torch.randint(-2, 3, (B * K, C, L), generator=gen).float()
    x[0, 0, :4] = torch.tensor([5e-7, -5e-7, 2e-7, 0.0])  # changes below the 1e-6 threshold,
    r[:K, 0, :4] = torch.tensor([-3e-7, 4e-7, 2e-7, 0.0])  # mixed signs and exact zeros
    if kind == "relu":
        module, make = nn.ReLU(), E._elementwise_rule
        assert _kernels.relu_ratio(x, r) is not None  # the fused path is taken
    else:
        module, make = nn.MaxPool1d(2), E._maxpool_rule
        x, r = x.relu(), r.relu()  # many ties at 0
        assert _kernels.maxpool_coef(x, r, 2, L // 2) is not None
    g = torch.randn(module(r).shape, generator=gen)
    fused = _rule_grads(make, module, x, r, g)
    monkeypatch.setattr(_kernels, "USE_NUMBA", False)
    reference = _rule_grads(make, module, x, r, g)
    torch.testing.assert_close(fused, reference, rtol=0, atol=1e-6)
    assert fused.abs().sum() > 0


def test_deeplift_shap_same_with_and_without_fused_kernels(tiny_wtko, monkeypatch):
    from wtko_captum.attribution.methods import _kernels

    X = torch.from_numpy(random_onehot(4, 120, seed=12))
    fused = deeplift_shap(tiny_wtko, X, target=1, n_shuffles=3, seed=5)
    monkeypatch.setattr(_kernels, "USE_NUMBA", False)
    plain = deeplift_shap(tiny_wtko, X, target=1, n_shuffles=3, seed=5)
    torch.testing.assert_close(fused, plain, rtol=1e-5, atol=1e-6 * plain.abs().max().item())


@pytest.mark.parametrize("module", [nn.ELU(), nn.Sigmoid()])
def test_elementwise_rule_other_activations(module):
    """Non-ReLU activations: the rescale ratio, and the derivative at x where |x - r| < 1e-6."""
    from wtko_captum.attribution.methods import _exact_deeplift as E

    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 8, generator=gen)
    r = torch.randn(2 * 3, 3, 8, generator=gen)
    r[:3, 0] = x[0, 0]  # no change: derivative
    r[3:, 1] = x[1, 1] + 5e-7  # change below the threshold: derivative
    g = torch.randn(r.shape, generator=gen)
    got = _rule_grads(E._elementwise_rule, module, x, r, g)
    xe = x.repeat_interleave(3, 0)
    with torch.enable_grad():
        xi = xe.clone().requires_grad_()
        deriv = torch.autograd.grad(module(xi).sum(), xi)[0]
    d = xe - r
    expect = g * torch.where(d.abs() < 1e-6, deriv, (module(xe) - module(r)) / d)
    torch.testing.assert_close(got, expect, rtol=1e-5, atol=1e-6)
