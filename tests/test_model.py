import pytest
import torch

from wtko_captum.core.architecture import architectures, build_model
from wtko_captum.models.wtko_cnn import WTKOCNN


def test_published_architecture_shapes():
    model = build_model("wtko_cnn", input_length=600, n_classes=2).eval()
    assert "wtko_cnn" in architectures()
    x = torch.zeros(3, 4, 600)
    logits, att = model(x, return_attention=True)
    assert logits.shape == (3, 2)
    assert att.shape == (3, WTKOCNN.attention_length(600)) == (3, 143)
    torch.testing.assert_close(att.sum(-1), torch.ones(3))
    assert model.conv1.out_channels == 64 and model.conv1.kernel_size == (10,)
    assert model.conv2.out_channels == 128 and model.fc1.out_features == 64
    assert isinstance(model.bn1, torch.nn.BatchNorm1d)


@pytest.mark.parametrize("length", [100, 600, 2000])
def test_input_lengths(length):
    model = WTKOCNN(input_length=length).eval()
    assert model(torch.zeros(2, 4, length)).shape == (2, 2)


def test_no_batchnorm_reproduces_released_code():
    model = WTKOCNN(batchnorm=False)
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in model.modules())


def test_every_activation_is_its_own_module():
    model = WTKOCNN()
    relus = [m for m in model.modules() if isinstance(m, torch.nn.ReLU)]
    assert len(relus) == 3 and len({id(m) for m in relus}) == 3


def test_receptive_field_is_exact():
    """Changing a base outside [4j, 4j + rf) leaves attention position j's features unchanged."""
    torch.manual_seed(0)
    model = WTKOCNN(input_length=100).eval()
    rf = model.receptive_field
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (1, 100)), 4).float().transpose(1, 2)
    base = model.features(x)
    j = 5
    for pos in range(100):
        y = x.clone()
        y[0, :, pos] = torch.roll(y[0, :, pos], 1)
        changed = not torch.allclose(model.features(y)[0, :, j], base[0, :, j])
        inside = 4 * j <= pos < 4 * j + rf
        assert changed <= inside  # outside the field nothing may change
    assert rf == 31


def test_too_short_input_rejected():
    with pytest.raises(ValueError, match="too short"):
        WTKOCNN(input_length=20)
