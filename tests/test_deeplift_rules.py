"""DeepLIFT's layer rules: a layer without a rule is refused before any work (naming it and the
methods that work), a model declares its own rules (class attribute or additional_nonlinear_ops,
tangermeme's form included), and a completeness miss is an error, never a warning."""
import pytest
import torch
from torch import nn

from conftest import random_onehot
from wtko_captum.attribution.attribute import attribute
from wtko_captum.attribution.methods._references import make_references
from wtko_captum.attribution.methods.deeplift import deeplift
from wtko_captum.attribution.methods.deeplift_rules import deeplift_plan, rule_for
from wtko_captum.attribution.methods.deeplift_shap import deeplift_shap
from wtko_captum.core.errors import CompletenessError, NoRuleError


def _diff(model, X, refs, target):
    with torch.no_grad():
        K = refs.shape[1]
        return model(X)[:, target] - model(refs.reshape(-1, *X.shape[1:]))[:, target].reshape(len(X), K).mean(1)


def _complete(attr, X, diff, rel=1e-4):
    err = ((attr * X).sum((1, 2)) - diff).abs()
    assert diff.abs().mean() > 1e-3  # not vacuous
    assert err.max() <= rel * diff.abs().mean(), (err.max(), diff.abs().mean())


class Squash(nn.Module):
    """A custom elementwise nonlinearity the engine does not know."""

    def forward(self, x):
        return x / (1 + x.abs())


class DeclaredSquash(Squash):
    deeplift_rule = "rescale"


def _net(act: nn.Module, length=40):
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv1d(4, 6, 5), act, nn.AdaptiveMaxPool1d(1), nn.Flatten(),
                         nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 2)).eval()


def test_unknown_leaf_is_refused_naming_path_type_and_working_methods():
    model = _net(Squash())
    X = torch.from_numpy(random_onehot(3, 40, seed=1))
    for method in ("deeplift", "deeplift_shap"):
        with pytest.raises(NoRuleError) as err:
            attribute(model, X, method, target=1)
        msg = str(err.value)
        assert "'1'" in msg and "Squash" in msg and method in msg
        for works in ("saliency", "integrated_gradients", "ism"):
            assert works in msg
        assert "deeplift_shap," not in msg.split("work on it:")[1]  # rule-based methods not offered


@pytest.mark.parametrize("layer", [nn.LSTM(4, 3, batch_first=True), nn.MultiheadAttention(4, 1, batch_first=True),
                                   nn.TransformerEncoderLayer(4, 1, 8, batch_first=True)])
def test_opaque_layers_are_refused(layer):
    with pytest.raises(NoRuleError, match=type(layer).__name__):
        deeplift_plan(nn.Sequential(nn.Conv1d(4, 4, 3), layer))


def test_known_linear_layers_pass_and_overridden_forward_does_not():
    model = nn.Sequential(nn.Conv1d(4, 4, 3), nn.BatchNorm1d(4), nn.Dropout(0.1), nn.Identity(), nn.AvgPool1d(2),
                          nn.Flatten(), nn.Linear(8, 2))
    assert deeplift_plan(model) == []

    class Shifted(nn.ReLU):  # a subclass that computes something else is not a ReLU
        def forward(self, x):
            return torch.relu(x - 1)

    assert rule_for(Shifted()) is None and rule_for(nn.ReLU()) == "rescale"


def test_class_attribute_declares_a_rule_and_the_result_is_exact():
    model = _net(DeclaredSquash())
    X = torch.from_numpy(random_onehot(5, 40, seed=2))
    refs = make_references(X, "shuffle", n=4, seed=0)
    attr = deeplift_shap(model, X, target=1, reference=refs)
    _complete(attr, X, _diff(model, X, refs, 1))


@pytest.mark.parametrize("rule", ["rescale", "tangermeme"])
def test_additional_nonlinear_ops_through_the_dispatcher(rule):
    """tangermeme's own option: a rule name, or a tangermeme rule function (``_nonlinear``)."""
    from tangermeme.deep_lift_shap import _nonlinear

    model = _net(Squash())
    X = torch.from_numpy(random_onehot(5, 40, seed=3))
    ops = {Squash: "rescale" if rule == "rescale" else _nonlinear}
    attr = attribute(model, X, "deeplift", target=0, reference="zero", additional_nonlinear_ops=ops)
    _complete(attr, X, _diff(model, X, torch.zeros(5, 1, 4, 40), 0))
    named = deeplift(model, X, target=0, additional_nonlinear_ops={Squash: "rescale"})
    torch.testing.assert_close(attr, named, rtol=1e-4, atol=1e-6)


def test_layernorm_gets_tangermemes_rule_and_is_complete():
    torch.manual_seed(0)

    class Tok(nn.Module):
        deeplift_rule = "linear"  # a transpose

        def forward(self, x):
            return x.transpose(1, 2)

    model = nn.Sequential(nn.Conv1d(4, 8, 5), Tok(), nn.LayerNorm(8), nn.GELU(), nn.Flatten(),
                          nn.Linear(8 * 26, 2)).eval()
    with torch.no_grad():
        model[2].weight.uniform_(0.5, 1.5)
        model[2].bias.uniform_(-0.5, 0.5)
    X = torch.from_numpy(random_onehot(4, 30, seed=4))
    refs = make_references(X, "shuffle", n=3, seed=1)
    attr = deeplift_shap(model, X, target=1, reference=refs)
    _complete(attr, X, _diff(model, X, refs, 1), rel=1e-3)
    with pytest.raises(CompletenessError):  # LayerNorm treated as linear: the rule is what makes it exact
        deeplift_shap(model, X, target=1, reference=refs, additional_nonlinear_ops={nn.LayerNorm: "linear"})


def test_adaptive_max_pool_rule_equals_max_pool():
    X = torch.from_numpy(random_onehot(4, 40, seed=5))
    a = _net(nn.ReLU())
    b = _net(nn.ReLU())
    b[2] = nn.MaxPool1d(36)
    refs = make_references(X, "shuffle", n=3, seed=2)
    torch.testing.assert_close(deeplift_shap(a, X, target=1, reference=refs),
                               deeplift_shap(b, X, target=1, reference=refs))


class Gated(nn.Module):
    """A bare function between layers (x * sigmoid(x) written inline): no module, no rule."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 5)
        self.fc = nn.Linear(4 * 36, 2)

    def forward(self, x):
        h = self.conv(x)
        return self.fc((h * torch.sigmoid(3 * h)).flatten(1))


def test_completeness_miss_is_an_error_not_a_warning():
    torch.manual_seed(0)
    model = Gated().eval()
    X = torch.from_numpy(random_onehot(4, 40, seed=6))
    with pytest.raises(CompletenessError, match="completeness"):
        deeplift(model, X, target=1)
    with pytest.raises(CompletenessError):
        deeplift_shap(model, X, target=1, n_shuffles=3, seed=0, backend="tangermeme")


def test_tangermeme_backend_refuses_like_the_engine():
    with pytest.raises(NoRuleError, match="Squash"):
        deeplift_shap(_net(Squash()), torch.from_numpy(random_onehot(2, 40, seed=7)), backend="tangermeme",
                      n_shuffles=2, seed=0)


def test_tangermeme_backend_missing_gives_the_install_hint(registry):
    registry._entries["attributions"].pop("deeplift_shap_tangermeme")
    with pytest.raises(Exception, match="wtko-tangermeme-plugin"):
        deeplift_shap(_net(nn.ReLU()), torch.from_numpy(random_onehot(2, 40, seed=8)), backend="tangermeme",
                      n_shuffles=2, seed=0)
