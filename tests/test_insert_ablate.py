"""wtko insert / wtko ablate: effects equal hand-made substitutions on a model whose answer
is known, motif ids resolve through JASPAR, backgrounds and k-mer matching are right."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from attr_helpers import make_prepared
from wtko_captum.core.errors import InputError
from wtko_captum.core.sequence import one_hot, reverse_complement
from wtko_tangermeme.ablate import ablate, kmer_spans, parse_positions
from wtko_tangermeme.insert import background_sequences, consensus, insert_motifs, resolve_motif


class MotifDetector(nn.Module):
    """logit WT = a * (best match of CACGTG, in matching bases, anywhere); logit KO = 0."""

    def __init__(self, motif="CACGTG", a=0.8):
        super().__init__()
        self.conv = nn.Conv1d(4, 1, len(motif), bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.from_numpy(one_hot(motif))[0][None])
        self.a = a
        self.class_names = ["KO", "WT"]

    def forward(self, x):
        score = self.conv(x).amax(dim=-1)[:, 0] * self.a
        return torch.stack([torch.zeros_like(score), score], dim=1)


def probs(model, X):
    with torch.no_grad():
        return torch.softmax(model(X), -1)


@pytest.fixture
def X():
    r = np.random.default_rng(4)
    return torch.from_numpy(one_hot(["".join(r.choice(list("ACGT"), 80)) for _ in range(12)]))


def test_insertion_equals_hand_substitution_and_known_answer(X):
    model = MotifDetector()
    table = insert_motifs(model, X, ["CACGTG", "GGGGGG"])
    row = table.set_index("motif").loc["CACGTG"]
    assert row["start"] == 80 // 2 - 3 and row["n"] == 12
    manual = X.clone()
    manual[:, :, 37:43] = torch.from_numpy(one_hot("CACGTG"))[0]
    p0, p1 = probs(model, X)[:, 1], probs(model, manual)[:, 1]
    # the detector sees a perfect 6/6 match after insertion: P(WT) = sigmoid(6a) exactly
    assert row["p_WT_after"] == pytest.approx(1 / (1 + math.exp(-6 * 0.8)), abs=1e-6)
    assert row["p_WT_after"] == pytest.approx(float(p1.mean()), abs=1e-6)
    assert row["delta_p_WT_mean"] == pytest.approx(float((p1 - p0).mean()), abs=1e-6)
    assert row["delta_p_WT_sd"] == pytest.approx(float((p1 - p0).std()), abs=1e-6)
    assert row["delta_p_KO_mean"] == pytest.approx(-row["delta_p_WT_mean"], abs=1e-6)
    assert row["delta_logit_diff_mean"] > 0
    # a motif the model does not look for can only tie or lower the best match
    assert table.set_index("motif").loc["GGGGGG", "delta_p_WT_mean"] < row["delta_p_WT_mean"]


def test_jaspar_ids_resolve_to_argmax_consensus():
    from wtko_captum.core.motif_db import find_motif

    key, cons = resolve_motif("jaspar:MA0099.3")
    assert key == "MA0099.3 FOS::JUN" and cons == consensus(find_motif(None, "MA0099.3")[1])
    assert "TGAGTCA" in cons  # the AP-1 site
    assert resolve_motif("cacgtg") == ("CACGTG", "CACGTG")
    with pytest.raises(InputError, match="not found"):
        resolve_motif("MA9999.1")


def test_backgrounds(tmp_path):
    _, data, seqs = make_prepared(tmp_path)  # 16 test rows, labels alternate KO/WT
    Xs, desc = background_sequences(data, background="shuffle", seed=1)
    assert Xs.shape == (16, 4, 120) and "dinucleotide-shuffled" in desc
    from wtko_captum.core.dataset import load_prepared

    real = load_prepared(data).split("test").X
    # composition kept, order changed (tangermeme dinucleotide shuffle)
    np.testing.assert_array_equal(Xs.numpy().sum(-1), real.sum(-1))
    assert not np.array_equal(Xs.numpy(), real)
    np.testing.assert_array_equal(background_sequences(data, background="shuffle", seed=1)[0], Xs)
    Xw, desc = background_sequences(data, background="WT")
    np.testing.assert_array_equal(Xw.numpy(), real[1::2])
    assert background_sequences(data, background="KO", n=3)[0].shape[0] == 3
    with pytest.raises(InputError, match="unknown background 'MUT'"):
        background_sequences(data, background="MUT")


def test_ablate_positions_mask_equals_hand_masking(X):
    model = MotifDetector()
    t = ablate(model, X, positions=[(10, 30)], mode="mask")
    manual = X.clone()
    manual[:, :, 10:30] = 0
    d = probs(model, manual)[:, 1] - probs(model, X)[:, 1]
    assert t.loc[0, "what"] == "10-30" and t.loc[0, "n"] == 12
    assert t.loc[0, "delta_p_WT_mean"] == pytest.approx(float(d.mean()), abs=1e-6)
    assert parse_positions("290-310, 0:5") == [(290, 310), (0, 5)]
    with pytest.raises(InputError):
        parse_positions("310-290")


def test_ablate_kmers_both_strands_and_shuffle_is_seeded(X):
    seqs = ["AACACGTGAA" + "T" * 20, "GGTCACTTTT" + "A" * 20, "C" * 30]
    Xk = torch.from_numpy(one_hot(seqs))
    assert kmer_spans(seqs[1], "AGTGA") == [(2, 7)]  # found as its reverse complement TCACT
    assert reverse_complement("AGTGA") == "TCACT"
    model = MotifDetector()
    t = ablate(model, Xk, kmers=["CACGTG", "GAGAGAGA", "GGGGGGGG"], mode="mask")
    r = t.set_index("what")
    assert r.loc["CACGTG", "n"] == 1 and r.loc["CACGTG", "n_occurrences"] == 1  # palindrome: one span
    # masking the only perfect match drops P(WT) for that sequence
    assert r.loc["CACGTG", "delta_p_WT_mean"] < 0
    assert r.loc["GAGAGAGA", "n"] == 0
    assert r.loc["GGGGGGGG", "n"] == 1  # CCCCCCCC on the other strand of sequence 2
    a = ablate(model, X, positions=[(30, 50)], kmers=["ACG"], n_shuffles=4, seed=3)
    b = ablate(model, X, positions=[(30, 50)], kmers=["ACG"], n_shuffles=4, seed=3)
    pd.testing.assert_frame_equal(a, b)


def test_insert_and_ablate_cli(tmp_path, capsys):
    from wtko_captum.cli import main

    model_path, data, _ = make_prepared(tmp_path)
    assert main(["insert", str(model_path), str(data), "--motifs", "jaspar:MA0099.3,CACGTG",
                 "--n-background", "8", "--device", "cpu", "-o", str(tmp_path / "ins")]) == 0
    table = pd.read_csv(tmp_path / "ins" / "insertion.tsv", sep="\t")
    assert list(table["motif"]) == ["jaspar:MA0099.3", "CACGTG"] and (table["n"] == 8).all()
    assert (tmp_path / "ins" / "insertion.png").read_bytes()[:4] == b"\x89PNG"
    assert "delta_p_WT_mean" in capsys.readouterr().out
    assert main(["ablate", str(model_path), str(data), "--positions", "50-70", "--kmers", "ACGT",
                 "--mode", "mask", "-q", "--device", "cpu", "-o", str(tmp_path / "abl")]) == 0
    table = pd.read_csv(tmp_path / "abl" / "ablation.tsv", sep="\t")
    assert list(table["what"]) == ["50-70", "ACGT"] and table.loc[0, "n"] == 16
    assert main(["insert", str(model_path), str(data), "--motifs", "MA9999.9", "-o", str(tmp_path / "x")]) == 2
    assert "not found" in capsys.readouterr().err
