"""The usage check: motifs inserted into shuffled backgrounds (tangermeme marginalize), the
change of each class's log-odds, and the verdict when a class has no learned motif."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from conftest import random_onehot
from wtko_captum.core.sequence import decode
from wtko_captum.motifs.usage import log_odds, motif_usage, shuffled_backgrounds, usage_verdict

MOTIF = "GATAAG"


class MotifModel(nn.Module):
    """Logit ``gain`` for class ``hit`` when the sequence holds MOTIF (forward strand), 0 for
    every other class and every other sequence."""

    def __init__(self, n_classes: int, hit: int, gain: float = 3.0, both_strands: bool = False):
        super().__init__()
        from wtko_captum.core.sequence import reverse_complement

        sites = [MOTIF] + ([reverse_complement(MOTIF)] if both_strands else [])
        w = torch.zeros(len(sites), 4, len(MOTIF))
        for f, site in enumerate(sites):
            for j, b in enumerate(site):
                w[f, "ACGT".index(b), j] = 1
        self.conv = nn.Conv1d(4, len(sites), len(MOTIF), bias=False)
        self.conv.weight.data = w
        self.n, self.hit, self.gain = n_classes, hit, gain

    def forward(self, x):
        h = torch.relu(self.conv(x).amax(dim=(1, 2)) - (len(MOTIF) - 1))  # 1 at a full match, else 0
        out = torch.zeros(len(x), self.n)
        out[:, self.hit] = self.gain * h
        return out


def _backgrounds():
    X = shuffled_backgrounds(random_onehot(80, 60, seed=4), n=50, seed=0)
    keep = [i for i, s in enumerate(decode(X.numpy())) if MOTIF not in s and "CTTATC" not in s]
    return X[keep]


def test_shuffled_backgrounds_are_seeded_dinucleotide_shuffles():
    from collections import Counter

    X = random_onehot(30, 60, seed=1)
    a, b = shuffled_backgrounds(X, n=10, seed=3), shuffled_backgrounds(X, n=10, seed=3)
    assert a.shape == (10, 4, 60) and torch.equal(a, b)
    src = decode(X)
    for s in decode(a.numpy()):  # each is a dinucleotide shuffle of one of the sequences
        dn = Counter(s[i:i + 2] for i in range(59))
        assert any(Counter(t[i:i + 2] for i in range(59)) == dn for t in src)


def test_log_odds_of_each_class_against_the_rest():
    logits = torch.tensor([[0.0, 1.0, 2.0], [3.0, -1.0, 0.5]])
    lo = log_odds(logits)
    for n in range(2):
        p = torch.softmax(logits[n].double(), 0)
        for c in range(3):
            assert lo[n, c].item() == pytest.approx(math.log(p[c] / (1 - p[c])), abs=1e-9)


def test_motif_usage_is_the_exact_change_of_log_odds():
    X = _backgrounds()
    model = MotifModel(3, hit=1, gain=3.0)
    pwm = np.eye(4)[["ACGT".index(b) for b in MOTIF]].T  # a matrix is inserted as its consensus
    table = motif_usage(model, {"m": pwm, "rc": "CTTATC", "other": "ACGTAC"}, X, ["KO", "WT", "background"],
                        device="cpu").set_index("motif")
    # before: logits 0,0,0 (log-odds -log 2 each); after MOTIF: 0,3,0
    assert table.loc["m", "effect_WT"] == pytest.approx(3.0, abs=1e-6)
    assert table.loc["m", "delta_p_WT"] == pytest.approx(math.exp(3) / (math.exp(3) + 2) - 1 / 3, abs=1e-6)
    assert table.loc["m", "consensus"] == MOTIF and table.loc["m", "n"] == len(X)
    # both orientations are inserted and each class reports the one that raises it most: the
    # reverse complement finds the forward-strand model too, and leaves KO unchanged (0)
    assert table.loc["rc", "effect_WT"] == pytest.approx(3.0, abs=1e-6)
    assert table.loc["m", "effect_KO"] == pytest.approx(0.0, abs=1e-9)
    assert table.loc["other", "effect_WT"] == pytest.approx(0.0, abs=1e-9)
    assert table.loc["other", "p_WT_before"] == pytest.approx(1 / 3)
    # a model that sees the motif on both strands lowers KO in either orientation: exactly
    both = motif_usage(MotifModel(3, hit=1, both_strands=True), {"m": MOTIF}, X, ["KO", "WT", "background"],
                       device="cpu").set_index("motif")
    assert both.loc["m", "effect_KO"] == pytest.approx(math.log(2) - math.log(math.exp(3) + 1), abs=1e-6)


def test_verdict_warns_when_a_class_has_no_used_motif():
    X = _backgrounds()
    two = MotifModel(2, hit=1)
    table = motif_usage(two, {"WT.cluster1": MOTIF, "KO.cluster1": "ACGTAC"}, X, ["KO", "WT"], device="cpu")
    v = usage_verdict(table, ["KO", "WT"], labels={"WT.cluster1": "GATAAG (GATA1)"})
    assert v["used"] == {"KO": [], "WT": ["WT.cluster1"]} and v["top"]["WT"] == "WT.cluster1"
    assert v["warning"] == ("the model separates WT from KO by the presence or absence of GATAAG (GATA1); "
                            "no KO motif was learned: train with --background")
    # with a background class the advice is not to train with --background again
    three = MotifModel(3, hit=1)
    t3 = motif_usage(three, {"WT.cluster1": MOTIF, "KO.cluster1": "ACGTAC"}, X, ["KO", "WT", "background"],
                     device="cpu")
    v3 = usage_verdict(t3, ["KO", "WT"], has_background=True)
    assert v3["warning"].startswith("no KO motif was learned") and "--background" not in v3["warning"]
    # a motif for each class: no warning; none at all: a note, no warning
    both = table.assign(effect_KO=[0.0, 1.0])
    assert usage_verdict(both, ["KO", "WT"])["warning"] is None
    none = usage_verdict(table.assign(effect_WT=0.0), ["KO", "WT"])
    assert none["warning"] is None and "no discovered motif" in none["note"]
    # the threshold is the documented min_effect
    assert usage_verdict(table, ["KO", "WT"], min_effect=3.5)["used"]["WT"] == []
