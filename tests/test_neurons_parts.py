"""NeuronMotif's parts: layer analysis from the model, sampling, stacking/IC/segments, trees,
the Tomtom dictionary. Tiny seeded models; every expected value is computed independently."""
from __future__ import annotations

import itertools
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from wtko_captum.core.errors import InputError
from wtko_captum.motifs.neurons import pwm as P
from wtko_captum.motifs.neurons.sampling import (balance, enumerate_samples, genetic_samples, onehot,
                                                 seed_gains, seed_population, SeedMotif)
from wtko_captum.motifs.neurons.substructure import analyse, list_layers
from wtko_captum.motifs.neurons.syntax import build_tree, describe


def basset_like(length: int = 100, seed: int = 0) -> nn.Sequential:
    """A small Basset-shaped stack: conv(7, same padding) BN ReLU pool3, conv(5) BN ReLU pool2,
    conv(3), flatten, linear."""
    torch.manual_seed(seed)
    net = nn.Sequential(OrderedDict(
        conv1=nn.Conv1d(4, 12, 7, padding=3), bn1=nn.BatchNorm1d(12), relu1=nn.ReLU(), pool1=nn.MaxPool1d(3),
        conv2=nn.Conv1d(12, 16, 5), bn2=nn.BatchNorm1d(16), relu2=nn.ReLU(), pool2=nn.MaxPool1d(2),
        conv3=nn.Conv1d(16, 8, 3), relu3=nn.ReLU(), flatten=nn.Flatten(),
        fc=nn.LazyLinear(2)))
    net(torch.zeros(1, 4, length))  # materialise the lazy layer
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    net.config = {"input_length": length}
    return net.eval()


class Functional(nn.Module):
    """F.relu in forward and one MaxPool1d module called twice: no module chain to replay."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(4, 6, 5, padding=2)
        self.pool = nn.MaxPool1d(2)
        self.c2 = nn.Conv1d(6, 6, 3, padding=1)
        self.c3 = nn.Conv1d(6, 5, 3)
        self.config = {"input_length": 80}

    def forward(self, x):
        x = self.pool(torch.relu(self.c1(x)))
        x = self.pool(torch.relu(self.c2(x)))
        return self.c3(x).mean(dim=-1)


class AfterLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv1d(4, 6, 5)
        self.lstm = nn.LSTM(6, 6, batch_first=True, bidirectional=True)
        self.conv2 = nn.Conv1d(12, 4, 3)
        self.config = {"input_length": 40}

    def forward(self, x):
        h, _ = self.lstm(self.conv1(x).transpose(1, 2))
        return self.conv2(h.transpose(1, 2)).mean(-1)


def rf_formula(layers) -> int:
    """Receptive field of a stack of (kernel, stride, dilation) layers, the textbook recursion."""
    rf, jump = 1, 1
    for k, s, d in layers:
        rf += (k - 1) * d * jump
        jump *= s
    return rf


def random_windows(n, width, seed=0):
    return torch.as_tensor(onehot(np.random.default_rng(seed).integers(0, 4, (n, width))))


# ---- the layer analysis --------------------------------------------------------------------
def test_wtko_cnn_receptive_fields_and_pools(tiny_wtko):
    cases = {"conv1": ([(10, 1, 1)], []), "pool1": ([(10, 1, 1), (2, 2, 1)], ["pool1"]),
             "conv2": ([(10, 1, 1), (2, 2, 1), (10, 1, 1)], ["pool1"]),
             "pool2": ([(10, 1, 1), (2, 2, 1), (10, 1, 1), (2, 2, 1)], ["pool1", "pool2"])}
    for layer, (stack, pools) in cases.items():
        sub = analyse(tiny_wtko, layer)
        assert sub.width == rf_formula(stack), layer
        assert [p.name for p in sub.pools] == pools
        assert sub.mode == "replay"
    assert analyse(tiny_wtko, "pool2").width == tiny_wtko.receptive_field == 31
    sub = analyse(tiny_wtko, "conv2")
    assert sub.followers == ["bn2"] and sub.channels == 16 and sub.stride == 2
    assert sub.pools[0].kernel == 2 and sub.pools[0].support == (0, 20)  # conv1 positions of a 29 bp window
    assert sub.previous_layer == "conv1" and analyse(tiny_wtko, "conv1").previous_layer is None


def test_window_activation_equals_the_full_model(tiny_wtko):
    """A neuron computed on its receptive-field window alone equals the same unit in a
    full-length input carrying those bases anywhere its receptive field lies."""
    sub = analyse(tiny_wtko, "conv2")
    x = random_windows(6, 120, seed=3)
    with torch.no_grad():
        feats = tiny_wtko.bn2(tiny_wtko.conv2(tiny_wtko.drop1(tiny_wtko.pool1(tiny_wtko.relu1(tiny_wtko.bn1(
            tiny_wtko.conv1(x)))))))
    for pos in (0, 7, feats.shape[-1] - 1):
        got = sub.activations(x[:, :, 2 * pos:2 * pos + sub.width])
        np.testing.assert_allclose(got, feats[:, :, pos].numpy(), rtol=1e-5, atol=1e-5)


def test_basset_like_sequential_with_padding():
    net = basset_like()
    sub = analyse(net, "conv3")
    assert sub.width == rf_formula([(7, 1, 1), (3, 3, 1), (5, 1, 1), (2, 2, 1), (3, 1, 1)]) == 36
    assert [(p.name, p.kernel) for p in sub.pools] == [("pool1", 3), ("pool2", 2)]
    assert sub.previous_layer == "conv2"
    # replayed windows equal the layer's value in the full model (position 0 of conv3's
    # output sees padding, the analysed middle position does not)
    x = random_windows(5, 100, seed=1)
    out = {}
    h = net.conv3.register_forward_hook(lambda m, a, o: out.setdefault("v", o))
    with torch.no_grad():
        net(x)
    h.remove()
    p = sub.position
    np.testing.assert_allclose(sub.activations(x[:, :, sub.start:sub.start + sub.width]), out["v"][:, :, p].numpy(),
                               rtol=1e-5, atol=1e-5)
    assert sub.start == p * 6 - 3  # stride 3 * 2, conv1's padding of 3


def test_functional_forward_uses_the_embedded_window():
    f = Functional().eval()
    sub = analyse(f, "c3")
    assert sub.mode == "embed"
    assert sub.width == rf_formula([(5, 1, 1), (2, 2, 1), (3, 1, 1), (2, 2, 1), (3, 1, 1)])
    assert [p.name for p in sub.pools] == ["pool", "pool@2"] and [p.call for p in sub.pools] == [0, 1]
    x = random_windows(4, 80, seed=2)
    out = {}
    h = f.c3.register_forward_hook(lambda m, a, o: out.setdefault("v", o))
    with torch.no_grad():
        f(x)
    h.remove()
    got = sub.activations(x[:, :, sub.start:sub.start + sub.width])
    np.testing.assert_allclose(got, out["v"][:, :, sub.position].numpy(), rtol=1e-5, atol=1e-5)
    # the substructure's part of the first pool's input: c1's relu at the window's positions
    maps = sub.pool_maps(x[:, :, sub.start:sub.start + sub.width], 0).reshape(4, 6, -1)
    lo, hi = sub.pools[0].support
    with torch.no_grad():
        ref = torch.relu(f.c1(x))[:, :, lo:hi]
    np.testing.assert_allclose(maps, ref.numpy(), rtol=1e-5, atol=1e-6)


def test_layers_that_cannot_be_analysed(tiny_wtko):
    with pytest.raises(InputError, match="no layer 'conv9'.*conv1, pool1, conv2, pool2"):
        analyse(tiny_wtko, "conv9")
    with pytest.raises(InputError, match="'attention'.*no position axis"):
        analyse(tiny_wtko, "attention")
    with pytest.raises(InputError, match="after 'lstm' \\(LSTM\\), which mixes every position"):
        analyse(AfterLSTM(), "conv2")
    rows = {r["layer"]: r for r in list_layers(AfterLSTM())}
    assert rows["conv1"]["analysable"] and rows["conv1"]["receptive_field"] == 5
    assert not rows["conv2"]["analysable"] and "LSTM" in rows["conv2"]["reason"]


# ---- sampling ------------------------------------------------------------------------------
def test_enumeration_is_exhaustive_and_balanced():
    torch.manual_seed(0)
    net = nn.Sequential(OrderedDict(conv1=nn.Conv1d(4, 3, 5))).eval()
    net.config = {"input_length": 5}
    sub = analyse(net, "conv1")
    got = enumerate_samples(sub, [0, 2], samples=10**6, bins=10, seed=0, block_bytes=4 * 4 ** 5)
    every = np.array(list(itertools.product(range(4), repeat=5)))
    with torch.no_grad():
        ref = net(torch.as_tensor(onehot(every)))[:, :, 0].numpy()
    for c in (0, 2):
        pos = ref[:, c] > 0
        assert got[c].n_positive == pos.sum() and got[c].n_evaluated == 1024
        assert {tuple(s) for s in got[c].seqs} == {tuple(s) for s in every[pos]}  # all positives kept
        order = np.lexsort(got[c].seqs.T[::-1])
        np.testing.assert_allclose(got[c].values[order], ref[pos, c], rtol=1e-5)


def test_balance_caps_each_activation_bin():
    v = np.r_[np.linspace(0.01, 1, 1000), -np.ones(50)]
    keep = balance(v, 100, 10, np.random.default_rng(0))
    counts = np.bincount(np.clip(np.ceil(v[keep] * 10).astype(int) - 1, 0, 9), minlength=10)
    assert counts.tolist() == [10] * 10 and (v[keep] > 0).all()
    sparse = np.r_[np.full(500, 0.05), [1.0, 0.95]]      # the top bin has 2 sequences: both kept
    keep = balance(sparse, 100, 10, np.random.default_rng(0))
    assert {500, 501} <= set(keep.tolist()) and len(keep) == 12


def test_genetic_algorithm_finds_strong_activators(tiny_wtko):
    sub = analyse(tiny_wtko, "conv2")
    rng = np.random.default_rng(0)
    seeds = rng.integers(0, 4, (300, sub.width)).astype(np.uint8)
    start = sub.activations(onehot(seeds))[:, 3]
    s = genetic_samples(sub, 3, seeds, samples=1000, bins=10, seed=0, max_generations=30)
    assert s.method == "genetic" and 1 <= s.generations <= 30 and s.n_evaluated == 300 * (s.generations + 1)
    np.testing.assert_allclose(sub.activations(s.onehot())[:, 3], s.values, rtol=1e-4, atol=1e-5)
    assert (s.values > 0).all() and len({tuple(x) for x in s.seqs}) == len(s.seqs)
    assert s.values.max() > 1.5 * start.max()
    again = genetic_samples(sub, 3, seeds, samples=1000, bins=10, seed=0, max_generations=30)
    np.testing.assert_array_equal(again.seqs, s.seqs)


def test_seeds_paste_the_motifs_that_help(tiny_wtko):
    sub = analyse(tiny_wtko, "conv2")
    motifs = [SeedMotif(np.array([0, 1, 2, 3, 0, 1], np.uint8), "a"), SeedMotif(np.array([2, 2, 2], np.uint8), "b")]
    gains = seed_gains(sub, motifs, n_backgrounds=4, seed=0)
    assert len(gains) == (sub.width - 6 + 1) + (sub.width - 3 + 1)
    # one placement, recomputed by hand
    i, o, g = gains[5]
    bg = np.random.default_rng(0).integers(0, 4, size=(4, sub.width)).astype(np.uint8)
    with_m = bg.copy()
    with_m[:, o:o + len(motifs[i].bases)] = motifs[i].bases
    ref = (sub.activations(onehot(with_m)) - sub.activations(onehot(bg))).mean(axis=0)
    np.testing.assert_allclose(g, ref, rtol=1e-4, atol=1e-5)
    c = int(np.argmax([g[0] for _, _, g in gains]))
    seqs, useful = seed_population(sub.width, motifs, gains, 0, 50, 2, np.random.default_rng(1))
    assert useful == sum(g[0] > 0 for _, _, g in gains) and seqs.shape == (50, sub.width)
    best_i, best_o, _ = gains[c]
    w = len(motifs[best_i].bases)
    assert any((row[best_o:best_o + w] == motifs[best_i].bases).all() for row in seqs)


# ---- motifs per cluster --------------------------------------------------------------------
def test_binned_stacking_weights_bins_by_mean_activation():
    X = onehot(np.array([[0, 0], [0, 1], [1, 1], [2, 3]]))
    v = np.array([1.0, 0.9, 0.2, -1.0])          # bins of (0, 1] in 2: [0.9, 1] and [0.2]
    got = P.binned_pwm(X, v, bins=2)
    top = X[:2].mean(axis=0)
    expected = (0.95 * top + 0.2 * X[2]) / (0.95 + 0.2)
    np.testing.assert_allclose(got, expected)
    np.testing.assert_allclose(P.laplace(np.array([[1.0], [0], [0], [0]]), 6), [[7 / 10], [0.1], [0.1], [0.1]])


def test_segments_ic_quality():
    ic = np.array([0.1, 0.2, 1.8, 1.9, 1.7, 1.2, 0.0, 0.0, 1.9, 1.9, 0.1])
    sm = P.smooth(ic)
    np.testing.assert_allclose(sm[3], (1.8 + 1.9 + 1.7) / 3)
    np.testing.assert_allclose(sm[0], (0.1 + 0.2) / 2)
    spans = P.find_segments(sm)
    assert spans == [(2, 5)]                     # 8-9 is 2 bp: no segment; position 5 smoothed to 0.97
    assert P.find_segments(np.array([1.2, 1.2, 0.3, 1.2, 1.2, 1.2])) == [(3, 6)]
    assert P.widen(spans, ic) == [(2, 6)]        # position 5's own IC (1.2) is over 1 bit
    inside = ic[2:6].mean()
    outside = np.r_[ic[:2], ic[6:]].mean()
    assert P.quality(ic, [(2, 6)]) == pytest.approx(inside - outside)
    assert P.quality(ic, []) == 0.0
    X = onehot(np.array([[0, 1, 2, 3, 0, 1]] * 60))
    m = P.cluster_motif(X, np.ones(60))
    assert m.consensus == "ACGTAC" and [(s.start, s.end) for s in m.segments] == [(0, 6)]
    np.testing.assert_allclose(m.pwm[:, 0], [61 / 64, 1 / 64, 1 / 64, 1 / 64])


# ---- syntax --------------------------------------------------------------------------------
def test_tree_merges_paths_with_gap_ranges():
    tree = build_tree([(0, [("NM1", 0, 0, 6), ("NM2", 9, 9, 14)]),
                       (1, [("NM1", 1, 1, 7), ("NM2", 12, 12, 17)]),
                       (2, [("NM3", 4, 4, 9)]),
                       (3, [("NM1", 2, 2, 8)])])
    assert [c["motif"] for c in tree["children"]] == ["NM1", "NM3"]
    nm1 = tree["children"][0]
    assert nm1["start"] == [0, 2] and nm1["clusters"] == [0, 1, 3] and nm1["ends"] == 1
    nm2 = nm1["children"][0]
    assert nm2["gap"] == [3, 5] and nm2["start"] == [9, 12] and nm2["clusters"] == [0, 1]
    assert describe(tree) == ["NM1@0-2", "NM1@0-2 -[3-5 bp]- NM2@9-12", "NM3@4"]


# ---- dictionary ----------------------------------------------------------------------------
def test_dictionary_merges_copies_and_matches_jaspar():
    from wtko_captum.core.motif_db import load_motifs
    from wtko_captum.motifs.neurons.dictionary import build_dictionary

    db = load_motifs()
    ctcf = db["MA0139.1 CTCF"]
    gata = db["MA0035.4 Gata1"] if "MA0035.4 Gata1" in db else next(v for k, v in db.items() if k.startswith("MA0035.4"))
    rc = ctcf[::-1, ::-1]
    # the widest CTCF copy (most information) represents the entry; a copy 2 columns to the
    # right and a reverse-complement copy join it; GATA1 stays apart
    segs = {"conv2.0/c0/s0": ctcf[:, 1:18], "conv2.1/c0/s0": rc[:, 2:16], "conv2.1/c1/s0": gata,
            "conv2.2/c0/s0": ctcf[:, 3:18]}
    d = build_dictionary(segs, db, q=0.01)
    t = d.table.set_index("id")
    assert len(d.motifs) == 2
    ctcf_id = d.of["conv2.0/c0/s0"]
    assert d.of["conv2.1/c0/s0"] == ctcf_id == d.of["conv2.2/c0/s0"] != d.of["conv2.1/c1/s0"]
    assert d.members[ctcf_id][0] == "conv2.0/c0/s0"
    np.testing.assert_array_equal(d.motifs[f"{ctcf_id} {t.loc[ctcf_id, 'consensus']}"], ctcf[:, 1:18])
    assert t.loc[ctcf_id, "jaspar_name"] == "CTCF" and t.loc[ctcf_id, "n_neurons"] == 3
    assert t.loc[d.of["conv2.1/c1/s0"], "jaspar_id"] == "MA0035.4"
    # where the entry begins relative to each member: the shifted copy starts 2 columns into it
    assert d.align["conv2.0/c0/s0"] == (0, "+")
    assert d.align["conv2.2/c0/s0"] == (-2, "+")
    assert d.align["conv2.1/c0/s0"] == (-1, "-")   # rc[:, 2:16] is column 1 onwards of the rc entry
