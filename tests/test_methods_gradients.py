"""Input x gradient, integrated gradients, Grad-CAM, guided Grad-CAM, attention."""
import copy

import pytest
import torch

from conftest import random_onehot
from wtko_captum.attribution.methods._geometry import map_to_input
from wtko_captum.attribution.methods._references import make_references
from wtko_captum.attribution.methods.attention import attention
from wtko_captum.attribution.methods.grad_cam import grad_cam, grad_cam_map, guided_grad_cam
from wtko_captum.attribution.methods.input_x_gradient import input_x_gradient
from wtko_captum.attribution.methods.integrated_gradients import integrated_gradients
from wtko_captum.attribution.methods.saliency import saliency


def test_input_x_gradient_is_x_times_grad(tiny_wtko):
    X = torch.from_numpy(random_onehot(4, 120, seed=12))
    x = X.clone().requires_grad_()
    (g,) = torch.autograd.grad(tiny_wtko(x)[:, 1].sum(), x)
    torch.testing.assert_close(input_x_gradient(tiny_wtko, X, target=1), X * g)


@pytest.fixture(scope="module")
def trained_tiny():
    """A tiny WTKO-CNN trained for 60 steps to call a planted 8-mer (outputs differ by O(1))."""
    from wtko_captum.models.wtko_cnn import WTKOCNN

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the trained weights must not depend on earlier tests' threads
    torch.manual_seed(0)
    model = WTKOCNN(input_length=120, n_filters=8, n_filters2=16, hidden=8)
    X = torch.from_numpy(random_onehot(256, 120, seed=20))
    y = torch.arange(256) % 2
    motif = torch.eye(4)[torch.tensor([2, 0, 3, 0, 1, 3, 2, 1])].T  # GATACTGC
    for i in range(0, 256, 2):
        p = 20 + (i * 7) % 80
        X[i + 1, :, p:p + 8] = motif
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(60):
        idx = torch.randint(0, 256, (64,))
        loss = torch.nn.functional.cross_entropy(model(X[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.set_num_threads(threads)
    Xt = torch.from_numpy(random_onehot(8, 120, seed=21))
    Xt[::2, :, 50:58] = motif
    return model.eval(), Xt


@pytest.mark.parametrize("reference", ["zero", "shuffle"])
def test_integrated_gradients_completeness(trained_tiny, reference):
    """Completeness improves with steps: mean |delta| <= 3 % of mean |f(x) - f(b)| at 50
    Gauss-Legendre steps and <= 1 % at 200. Measured on this ReLU model over training seeds
    0-3 and 1-2 threads: 0.3-2.3 % at 50 steps, 0.13-0.62 % at 200 (ReLU kinks make the
    integrand piecewise smooth, so the error falls roughly as 1/steps, not exponentially)."""
    model, X = trained_tiny
    base = make_references(X, reference, n=1, seed=0)[:, 0]
    with torch.no_grad():
        diff = model(X)[:, 1] - model(base)[:, 1]
    assert diff.abs().mean() > 0.5
    errors = []
    for n_steps, bound in ((50, 0.03), (200, 0.01)):
        deltas = []
        attr = integrated_gradients(model, X, target=1, n_steps=n_steps, reference=reference,
                                    seed=0, deltas_out=deltas)
        err = (attr * X).sum((1, 2)) - diff
        torch.testing.assert_close(deltas[0], err, atol=1e-5, rtol=1e-4)
        assert err.abs().mean() <= bound * diff.abs().mean(), (n_steps, err, diff)
        errors.append(err.abs().mean())
    assert errors[1] < errors[0]
    # observed-base values equal captum's (x - b) * g summed per position
    from captum.attr import IntegratedGradients

    ref = IntegratedGradients(model).attribute(X.clone().requires_grad_(), baselines=base,
                                               target=1, n_steps=200).detach()
    torch.testing.assert_close((attr * X).sum(1), ref.sum(1), rtol=1e-4, atol=1e-5)


def test_map_to_input_mean_over_covering_windows():
    v = torch.tensor([[1.0, 2.0, 3.0]])  # width-2 windows at stride 1 over 4 bases
    torch.testing.assert_close(map_to_input(v, 0, 1, 2, 4), torch.tensor([[1.0, 1.5, 2.5, 3.0]]))
    v = torch.tensor([[1.0, 3.0]])  # width 3, stride 2 over 6 bases; base 5 uncovered
    torch.testing.assert_close(map_to_input(v, 0, 2, 3, 6),
                               torch.tensor([[1.0, 1.0, 2.0, 3.0, 3.0, 0.0]]))



@pytest.mark.parametrize("geom", [(591, 0, 1, 10, 600), (143, 0, 4, 31, 600), (20, -2, 3, 7, 60),
                                  (30, 0, 4, 31, 60), (4, 3, 2, 5, 20)])
def test_map_to_input_equals_cover_matrix(geom):
    """The transposed-convolution form equals the explicit (Lp, L) cover-matrix mean, padding
    (start < 0), strides, windows past the end and uncovered bases included."""
    from wtko_captum.attribution.methods._geometry import _cover

    v = torch.randn(3, geom[0], generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(map_to_input(v, *geom[1:]), v @ _cover(*geom), rtol=1e-5, atol=1e-6)


def test_grad_cam_length_and_zero_where_conv1_cannot_fire(tiny_wtko):
    model = copy.deepcopy(tiny_wtko)
    with torch.no_grad():
        model.conv1.bias.zero_()  # an all-N window then gives conv1 output exactly 0
    X = torch.from_numpy(random_onehot(3, 120, seed=14))
    X[:, :, 40:80] = 0  # N run: conv1 windows j in [40, 70] see only N
    cam = grad_cam_map(model, X, target=1, relu=False, layer="conv1")
    assert cam.shape == (3, 120)
    # input base i is covered by windows [i-9, i]; all of them are inside the N run for i in [49, 70]
    assert (cam[:, 49:71] == 0).all()
    assert (cam[:, :40] != 0).all() and (cam[:, 80:] != 0).all()
    with torch.no_grad():
        fires = model.conv1(X).abs().sum(1) > 0  # (N, 111)
    assert fires[:, :40].all() and not fires[:, 40:71].any()
    attr = grad_cam(model, X, target=1, layer="conv1")  # default relu, placed on the observed base
    assert attr.shape == X.shape and (attr[:, :, 40:80] == 0).all()
    assert ((attr != 0).sum(1) <= 1).all() and attr.abs().sum() > 0


def test_grad_cam_equals_captum_map_upsampled_by_windows(tiny_wtko):
    from captum.attr import LayerGradCam

    X = torch.from_numpy(random_onehot(2, 120, seed=15))
    raw = LayerGradCam(tiny_wtko, tiny_wtko.conv1).attribute(
        X.clone().requires_grad_(), target=0, relu_attributions=True).detach()[:, 0]
    torch.testing.assert_close(grad_cam_map(tiny_wtko, X, target=0, layer="conv1"),
                               map_to_input(raw, 0, 1, 10, 120))
    two = grad_cam_map(tiny_wtko, X, target=0, layer="conv2")
    assert two.shape == (2, 120)


def test_guided_grad_cam_is_map_times_saliency(tiny_wtko):
    X = torch.from_numpy(random_onehot(3, 120, seed=16))
    expect = grad_cam_map(tiny_wtko, X, target=1).unsqueeze(1) * saliency(tiny_wtko, X, target=1)
    torch.testing.assert_close(guided_grad_cam(tiny_wtko, X, target=1), expect)


def test_attention_mapped_through_receptive_field(tiny_wtko):
    X = torch.from_numpy(random_onehot(3, 120, seed=17))
    with torch.no_grad():
        _, w = tiny_wtko(X, return_attention=True)  # (3, L') with L' = 23
    attr = attention(tiny_wtko, X)
    per_base = attr.sum(1)
    rf = tiny_wtko.receptive_field  # 31; position j covers [4j, 4j + 31)
    assert rf == 31 and w.shape[1] == 23
    # base 0 is covered only by position 0; base 4 by positions 0 and 1
    torch.testing.assert_close(per_base[:, 0], w[:, 0])
    torch.testing.assert_close(per_base[:, 4], w[:, :2].mean(1))
    torch.testing.assert_close(per_base[:, 60], w[:, 8:16].mean(1))  # j with 4j <= 60 < 4j+31
    assert (per_base[:, 119] == 0).all()  # 4*22+31 = 119: last base uncovered
    assert ((attr != 0).sum(1) <= 1).all()


def test_grad_cam_default_layer_is_the_rectified_first_conv(tiny_wtko):
    from captum.attr import LayerGradCam

    from wtko_captum.attribution.methods.grad_cam import resolve_layer

    assert resolve_layer(tiny_wtko) is tiny_wtko.relu1
    X = torch.from_numpy(random_onehot(4, 120, seed=41))
    raw = LayerGradCam(tiny_wtko, tiny_wtko.relu1).attribute(
        X.clone().requires_grad_(), target=1, relu_attributions=True).detach()[:, 0]
    torch.testing.assert_close(grad_cam_map(tiny_wtko, X, target=1), map_to_input(raw, 0, 1, 10, 120))
