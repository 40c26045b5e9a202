"""Saliency equals a hand-written autograd gradient of the target logit."""
import numpy as np
import torch

from conftest import random_onehot
from wtko_captum.attribution.methods.saliency import per_position_maxabs, saliency


def test_saliency_equals_autograd_grad(tiny_wtko, device):
    X = torch.from_numpy(random_onehot(6, 120, seed=3))
    for target in (0, 1):
        attr = saliency(tiny_wtko, X, target=target, batch_size=4, device=device)
        x = X.clone().requires_grad_()
        (grad,) = torch.autograd.grad(tiny_wtko(x)[:, target].sum(), x)
        assert attr.dtype == torch.float32 and attr.device.type == "cpu"
        assert attr.shape == X.shape
        torch.testing.assert_close(attr, grad, rtol=1e-5, atol=1e-6)
        assert (attr < 0).any() and (attr > 0).any()  # signed, not captum's default abs


def test_saliency_restores_mode_and_is_batch_independent(tiny_wtko):
    X = torch.from_numpy(random_onehot(5, 120, seed=4))
    tiny_wtko.train()
    a = saliency(tiny_wtko, X, target=1, batch_size=5)
    assert tiny_wtko.training  # restored
    tiny_wtko.eval()
    b = torch.cat([saliency(tiny_wtko, X[i:i + 1], target=1) for i in range(5)])
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_per_position_maxabs():
    a = torch.tensor([[[1.0, -3.0], [-2.0, 0.5], [0.0, 0.0], [0.5, 2.0]]])
    np.testing.assert_allclose(per_position_maxabs(a).numpy(), [[2.0, 3.0]])
