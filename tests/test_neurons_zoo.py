"""NeuronMotif on every architecture of the model zoo that has a max-pool: the layer after the
first max-pool is analysed end to end (sampling, demixing through the pool, motifs), and the
layers it cannot analyse are refused with the reason."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from wtko_captum.core.errors import InputError

# (architecture, input length, the layer after the first max-pool, a layer without a position axis)
ZOO = [("wtko_cnn", 200, "conv2", "fc1"), ("basset", 300, "conv2", "fc1"), ("deepsea", 300, "conv2", "fc1"),
       ("cnn4", 200, "features.4", None), ("cnn_lstm", 200, "conv2", "fc1"), ("danq", 300, "pool", "fc1"),
       ("cnn_transformer", 200, "pool", "fc1")]


@pytest.mark.slow
@pytest.mark.parametrize("name,length,layer,refused", ZOO, ids=[z[0] for z in ZOO])
def test_zoo_layer_after_a_max_pool(name, length, layer, refused):
    from wtko_captum.core.architecture import build_model
    from wtko_captum.motifs.neurons.neurons import neurons
    from wtko_captum.motifs.neurons.substructure import list_layers

    torch.manual_seed(0)
    model = build_model(name, input_length=length, n_classes=2).eval()
    rows = {r["layer"]: r for r in list_layers(model)}
    assert rows[layer]["analysable"] and rows[layer]["pools"], rows[layer]
    res = neurons(model, layer, None, channels=[0], samples=400, population=100, max_generations=3,
                  seed_motifs="none", figures=False, seed=0, verbose=False)
    sub = res.substructure
    assert sub["receptive_field"] == rows[layer]["receptive_field"]
    assert ",".join(f"{p['name']}:{p['kernel']}" for p in sub["pools"]) == rows[layer]["pools"]
    (neuron,) = res.neurons
    assert neuron.samples.method == "genetic" and len(neuron.clusters) >= 1
    assert neuron.samples.seqs.shape[1] == sub["receptive_field"] and (neuron.samples.values > 0).all()
    assert sum(c.motif.n for c in neuron.clusters) == len(neuron.samples.seqs) > 0
    for c in neuron.clusters:
        assert c.motif.pwm.shape == (4, sub["receptive_field"])
        np.testing.assert_allclose(c.motif.pwm.sum(axis=0), 1, atol=1e-6)
    if refused:
        with pytest.raises(InputError, match="no position axis"):
            neurons(model, refused, None, channels=[0], figures=False, verbose=False)
