"""The model zoo: every registered method on every architecture (tiny versions).

Completeness where a method promises it (DeepLIFT, DeepLIFT-SHAP with both backends: to 1e-3;
integrated gradients: within its quadrature error), ISM equal to brute-force substitution,
gradients equal to autograd, Grad-CAM on a sensible default layer, and a clear error where a
method does not apply (attention needs a model that declares its attention pooling). Every
architecture also round-trips through a self-describing checkpoint."""
import pytest
import torch
from torch import nn

from conftest import random_onehot
from wtko_captum.attribution.attribute import attribute
from wtko_captum.attribution.methods._references import make_references
from wtko_captum.core.architecture import build_model
from wtko_captum.core.errors import InputError
from wtko_captum.core.registry import get_registry

L, N, OUT = 60, 3, 3
#: tiny versions: the published shapes scaled down so the whole matrix runs in seconds
TINY = {
    "wtko_cnn": dict(n_filters=6, n_filters2=8, filter_width=5, filter_width2=5, hidden=8),
    "cnn4": dict(n_filters=6, n_filters_deep=8, filter_width=4, hidden=8),
    "cnn_lstm": dict(n_filters=6, filter_width=5, pool=2, lstm_hidden=5, hidden=8),
    "transformer": dict(d_model=8, n_heads=2, d_ff=12, n_layers=2, hidden=8),
    "cnn_transformer": dict(n_filters=8, filter_width=5, pool=2, n_heads=2, d_ff=12, n_layers=1, hidden=8),
    "deepsea": dict(n_filters1=6, n_filters2=8, n_filters3=8, filter_width=3, pool=2, hidden=8),
    "danq": dict(n_filters=6, filter_width=5, pool=4, lstm_hidden=5, hidden=8),
    "basset": dict(n_filters1=6, filter_width1=5, pool1=2, n_filters2=6, filter_width2=3, pool2=2, n_filters3=6,
                   filter_width3=3, pool3=2, hidden=8),
}
#: the layer Grad-CAM picks by default: the first conv's rectified output (the per-base
#: embedding for the transformer, which has no conv stem)
GRAD_CAM_LAYER = {"wtko_cnn": "relu1", "cnn4": "features.1", "cnn_lstm": "relu1", "transformer": "embed",
                  "cnn_transformer": "relu1", "deepsea": "relu1", "danq": "relu1", "basset": "relu1"}
RULE_METHODS = ("deeplift", "deeplift_shap", "deeplift_shap_tangermeme")


def _model(name):
    torch.manual_seed(0)
    model = build_model(name, input_length=L, n_classes=OUT, **TINY[name])
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(2.0)  # outputs of O(1): differences far above float rounding
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return model.eval()


@pytest.fixture(scope="module")
def models():
    return {name: _model(name) for name in TINY}


@pytest.fixture(scope="module")
def X():
    x = torch.from_numpy(random_onehot(N, L, seed=3))
    x[1, :, 20:23] = 0  # an N run
    return x


def _f(model, X, target):
    with torch.no_grad():
        return model(X)[:, target]


def test_every_architecture_is_registered_and_round_trips(models, tmp_path):
    from wtko_captum.core.checkpoint import load_model, save_checkpoint

    assert set(TINY) <= set(get_registry().names("models"))
    X = torch.from_numpy(random_onehot(2, L, seed=9))
    for name, model in models.items():
        save_checkpoint(tmp_path / f"{name}.pt", model, name, ["a", "b", "c"])
        again = load_model(tmp_path / f"{name}.pt")
        assert type(again) is type(model) and again.config == model.config
        with torch.no_grad():
            torch.testing.assert_close(again(X), model(X))


def _conv(c_in, c_out, k):
    return c_in * c_out * k + c_out


def _dense(n_in, n_out):
    return n_in * n_out + n_out


#: the published networks' trainable parameters, counted by hand from the papers' layer tables
#: (torch's LSTM carries two bias vectors per gate, Keras's one: DanQ's Keras count is 2,560 lower)
PUBLISHED = {
    # DeepSEA, 1,000 bp, 919 features: conv 320x8, pool 4, conv 480x8, pool 4, conv 960x8
    # (53 positions left), dense 925, output 919
    ("deepsea", 1000, 919): _conv(4, 320, 8) + _conv(320, 480, 8) + _conv(480, 960, 8) + _dense(960 * 53, 925)
    + _dense(925, 919),
    # DanQ, 1,000 bp, 919 features: conv 320x26, pool 13 (75 positions), BiLSTM 320 per direction,
    # dense 925, output 919
    ("danq", 1000, 919): _conv(4, 320, 26) + 2 * (4 * 320 * (320 + 320) + 2 * 4 * 320) + _dense(640 * 75, 925)
    + _dense(925, 919),
    # Basset, 600 bp, 164 cell types: conv 300x19 (+BN), pool 3, conv 200x11 (+BN), pool 4,
    # conv 200x7 (+BN), pool 4 (10 positions), dense 1000, dense 1000, output 164
    ("basset", 600, 164): _conv(4, 300, 19) + 2 * 300 + _conv(300, 200, 11) + 2 * 200 + _conv(200, 200, 7) + 2 * 200
    + _dense(200 * 10, 1000) + _dense(1000, 1000) + _dense(1000, 164),
}


@pytest.mark.parametrize("key", list(PUBLISHED))
def test_published_architectures_have_the_published_shapes(key):
    name, length, outputs = key
    with torch.device("meta"):  # shapes only: no 200 MB of weights to fill
        model = build_model(name, input_length=length, n_classes=outputs)
        y = model.eval()(torch.zeros(2, 4, length))
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == PUBLISHED[key]
    assert tuple(y.shape) == (2, outputs)


def _methods():
    return get_registry().names("attributions")


@pytest.mark.parametrize("method", _methods())
@pytest.mark.parametrize("name", list(TINY))
def test_method_on_architecture(models, X, name, method):
    model = models[name]
    target = 2
    if method == "attention" and name != "wtko_cnn":
        with pytest.raises(InputError, match="declares its attention pooling"):
            attribute(model, X, method, target=target)
        return
    options = {}
    if method in ("deeplift", "deeplift_shap", "deeplift_shap_tangermeme", "integrated_gradients"):
        options["deltas_out"] = deltas = []
    if method in ("deeplift_shap", "deeplift_shap_tangermeme"):
        options.update(n_shuffles=3)
    if method == "integrated_gradients":
        options.update(n_steps=256, reference="shuffle")
    if method == "ism":
        options.update(centre=False)
    attr = attribute(model, X, method, target=target, seed=1, **options)
    assert attr.shape == X.shape and attr.dtype == torch.float32 and torch.isfinite(attr).all()
    assert attr.abs().sum() > 0

    if method in RULE_METHODS or method == "integrated_gradients":
        n = 1 if method in ("deeplift", "integrated_gradients") else 3
        reference = "zero" if method == "deeplift" else "shuffle"
        refs = make_references(X, reference, n=n, seed=1)
        diff = _f(model, X, target) - _f(model, refs.reshape(-1, 4, L), target).reshape(N, n).mean(1)
        assert diff.abs().mean() > 1e-2  # not vacuous
        bound = 1e-3 if method in RULE_METHODS else 2e-2  # IG: quadrature error (<= 1.1 % at 256 steps)
        assert deltas[0].abs().mean() <= bound * diff.abs().mean(), (deltas[0], diff)
        full = torch.tensor([0, 2])  # rows without N: the projected scores sum to the difference
        err = (attr * X).sum((1, 2))[full] - diff[full]
        torch.testing.assert_close(deltas[0][full], err, rtol=1e-3, atol=1e-5)
        assert err.abs().mean() <= bound * diff.abs().mean()
    elif method in ("saliency", "input_x_gradient"):
        x = X.clone().requires_grad_()
        (g,) = torch.autograd.grad(model(x)[:, target].sum(), x)
        torch.testing.assert_close(attr, g if method == "saliency" else g * X)
    elif method == "ism":
        torch.testing.assert_close(attr, _brute_force_ism(model, X, target), rtol=0, atol=1e-4)
    elif method in ("grad_cam", "guided_grad_cam"):
        from wtko_captum.attribution.methods.grad_cam import resolve_layer

        assert resolve_layer(model) is model.get_submodule(GRAD_CAM_LAYER[name])
    if name in ("cnn_lstm", "danq"):
        assert type(model.lstm.lstm) is nn.LSTM  # the unrolled twin is gone after DeepLIFT


def _brute_force_ism(model, X, target):
    out = torch.zeros_like(X)
    with torch.no_grad():
        y0 = model(X)[:, target]
        for n in range(len(X)):
            edits = X[n].repeat(L * 4, 1, 1).view(L, 4, 4, L)
            for p in range(L):
                edits[p, :, :, p] = torch.eye(4)
            y = model(edits.reshape(-1, 4, L))[:, target].view(L, 4).T
            out[n] = (y - y0[n]) * (1 - X[n])
    return out


@pytest.mark.parametrize("name", ["cnn_lstm", "danq", "transformer", "cnn_transformer"])
def test_deeplift_backends_agree_where_captum_has_no_rule(models, X, name):
    """LSTM and softmax attention: the exact engine and the tangermeme backend give the same
    scores (one rule set, two implementations)."""
    a = attribute(models[name], X, "deeplift_shap", target=1, n_shuffles=3, seed=2)
    b = attribute(models[name], X, "deeplift_shap", target=1, n_shuffles=3, seed=2, backend="tangermeme")
    torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4 * a.abs().max().item())


@pytest.mark.slow
def test_zoo_architectures_train_and_evaluate_through_a_run_config(tmp_path, data_dir):
    """`wtko run` with [train] model = ... and model_options: every new architecture (recurrent,
    attention, the published shapes scaled down) on the real ASCL1 vs CTCF tiles, one epoch each,
    all configs in one interpreter."""
    import json

    from attr_helpers import run_wtko

    from wtko_captum.core.checkpoint import load_model

    src = data_dir / "sequences" / "deepaccess_slice"
    names = [n for n in TINY if n != "wtko_cnn"]
    args = []
    for name in names:
        opts = ", ".join(f"{k} = {v}" for k, v in TINY[name].items())
        cfg = tmp_path / f"{name}.toml"
        cfg.write_text(f'[prepare]\nwt = ["{src / "ascl1_only.fa"}"]\nko = ["{src / "ctcf_only.fa"}"]\nwidth = 100\n'
                       f'[train]\nmodel = "{name}"\nmodel_options = {{ {opts} }}\nepochs = 1\nseeds = [0]\n'
                       f'[evaluate]\nsplit = "test"\n')
        args += (["++"] if args else []) + ["run", cfg, "-o", tmp_path / name, "-q"]
    run_wtko(args)
    for name in names:
        metrics = json.loads((tmp_path / name / "eval" / "metrics.json").read_text())
        assert metrics["architecture"] == name and metrics["n"] == 294  # chr6 + chr7 tiles, balanced
        assert 0 <= metrics["auroc"] <= 1
        model = load_model(tmp_path / name / "model" / "model.pt")
        assert model.config["hidden"] == TINY[name]["hidden"] and model.config["input_length"] == 100
