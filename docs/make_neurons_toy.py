"""Make docs/neurons_toy.png: the NeuronMotif toy neuron, its blurred stack and its two demixed clusters.

    .venv/bin/python docs/make_neurons_toy.py

The same model as tests/test_neurons.py: ``wtko simulate --preset neuronmotif-toy`` (ZEB1 at
two shifts, 1,000 sequences per class, seed 0) and the paper's 2-layer CNN (Conv1d 3 x 5 bp,
ReLU, MaxPool 2, Conv1d 1 x 2) trained full-batch for 300 Adam steps; then
``neurons(model, "conv2")`` writes its logo figure, copied here.
"""
from __future__ import annotations

import shutil
import tempfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from wtko_captum.core.dataset import read_fasta_records
from wtko_captum.core.sequence import one_hot
from wtko_captum.motifs.neurons.neurons import neurons
from wtko_captum.preparation.simulate import simulate


def main():
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        sim = simulate("neuronmotif-toy", Path(tmp) / "toy", n=1000, seed=0)
        wt = one_hot([s for _, s in read_fasta_records(sim["wt"])])
        ko = one_hot([s for _, s in read_fasta_records(sim["ko"])])
        X = torch.as_tensor(np.concatenate([wt, ko]))
        y = torch.as_tensor(np.r_[np.ones(len(wt)), np.zeros(len(ko))], dtype=torch.float32)
        torch.manual_seed(0)
        model = nn.Sequential(OrderedDict(conv1=nn.Conv1d(4, 3, 5), relu1=nn.ReLU(), pool1=nn.MaxPool1d(2),
                                          conv2=nn.Conv1d(3, 1, 2), flatten=nn.Flatten()))
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        for _ in range(300):
            loss = nn.functional.binary_cross_entropy_with_logits(model(X)[:, 0], y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        res = neurons(model.eval(), "conv2", Path(tmp) / "out", input_length=8, verbose=False)
        shutil.copy(Path(tmp) / "out" / "neurons" / "conv2.0.png", Path(__file__).parent / "neurons_toy.png")
        print(res.summary.to_string(index=False))
        print(res.clusters.to_string(index=False))


if __name__ == "__main__":
    main()
