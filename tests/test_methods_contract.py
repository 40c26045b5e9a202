"""Every built-in method passes the attribution contract (shape, dtype, CPU, seed determinism,
batch independence where deterministic, the tangermeme ``marginalize(func=...)`` call form)."""
import pytest
import torch

from conftest import random_onehot
from wtko_captum.attribution.contract import check_method
from wtko_captum.core.registry import get_registry

METHODS = ["saliency", "input_x_gradient", "integrated_gradients", "deeplift", "deeplift_shap",
           "grad_cam", "guided_grad_cam", "attention", "ism"]
OPTIONS = {"integrated_gradients": {"n_steps": 8, "reference": "shuffle"},
           "deeplift": {"reference": "shuffle"}, "deeplift_shap": {"n_shuffles": 3}}


@pytest.mark.parametrize("name", METHODS)
def test_builtin_method_contract(tiny_wtko, name):
    func = get_registry().get("attributions", name)
    assert hasattr(func, "wtko_info")
    X = torch.from_numpy(random_onehot(3, 120, seed=40))
    check_method(func, tiny_wtko, X, target=1, seed=0, **OPTIONS.get(name, {}))
    assert not tiny_wtko.training
