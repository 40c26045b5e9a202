"""wtko simulate: seeded, self-consistent ground truth."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from wtko_captum.core.dataset import read_fasta_records
from wtko_captum.core.errors import InputError
from wtko_captum.core.motif_db import find_motif, load_motifs
from wtko_captum.core.sequence import ALPHABET, reverse_complement
from wtko_captum.preparation.simulate import MOTIF_COLUMNS, read_ground_truth, simulate


def _digest(d):
    return {p.name: hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


def _seqs(path):
    return {h: s for h, s in read_fasta_records(path)}


def test_simulate_is_deterministic_and_seed_dependent(tmp_path):
    a = simulate("two-motif", tmp_path / "a", n=40, length=100, seed=3)
    b = simulate("two-motif", tmp_path / "b", n=40, length=100, seed=3)
    c = simulate("two-motif", tmp_path / "c", n=40, length=100, seed=4)
    assert _digest(a["dir"]) == _digest(b["dir"])
    assert _digest(a["dir"])["WT.fa"] != _digest(c["dir"])["WT.fa"]


@pytest.mark.parametrize("preset", ["two-motif", "agentbind"])
def test_ground_truth_matches_sequences(tmp_path, preset):
    paths = simulate(preset, tmp_path / "sim", n=60, length=160, seed=0)
    truth = read_ground_truth(paths["dir"])
    assert list(truth.columns) == MOTIF_COLUMNS
    seqs = {"WT": _seqs(paths["wt"]), "KO": _seqs(paths["ko"])}
    assert len(seqs["WT"]) == len(seqs["KO"]) == 60
    genome = _seqs(paths["genome"])
    db = load_motifs()
    params = json.loads(paths["params"].read_text())
    bg = np.array([params["background"][b] for b in ALPHABET])
    for row in truth.itertuples():
        seq = seqs[row._2][row.name]  # _2 = "class"
        site = seq[row.seq_start:row.seq_end]
        assert site == row.site
        # genome coordinates: the same bases at the same place of the synthetic chromosome
        assert genome[row.chrom][row.start:row.end] == site
        chrom, span = row.name.split(":")
        assert chrom == row.chrom and int(span.split("-")[0]) + row.seq_start == row.start
        # the planted bases are a likely draw of the PWM on the stated strand
        _, pwm = find_motif(db, row.motif_id)
        assert pwm.shape[1] == row.seq_end - row.seq_start
        s = reverse_complement(site) if row.strand == "-" else site
        idx = [ALPHABET.index(b) for b in s]
        lo = np.sum(np.log2(pwm[idx, np.arange(len(s))] + 1e-9) - np.log2(bg[idx]))
        assert lo == pytest.approx(row.log_odds, abs=1e-3)
    # sampled sites score far above random background windows of the same width
    assert truth["log_odds"].median() > 8
    rng = np.random.default_rng(0)
    key, pwm = find_motif(db, truth["motif_id"].iloc[0])
    rand = rng.choice(4, size=(500, pwm.shape[1]), p=bg)
    rand_lo = (np.log2(pwm[rand, np.arange(pwm.shape[1])] + 1e-9) - np.log2(bg[rand])).sum(1)
    assert np.median(rand_lo) < 0 < truth.loc[truth.motif_id == truth.motif_id.iloc[0], "log_odds"].median()


def test_two_motif_design(tmp_path):
    paths = simulate("two-motif", tmp_path / "sim", n=50, length=120, seed=1, motifs="MA0079.4,FOS::JUN")
    truth = read_ground_truth(paths["motifs"])
    assert set(truth.loc[truth["class"] == "WT", "motif_id"]) == {"MA0079.4"}
    assert set(truth.loc[truth["class"] == "KO", "motif_id"]) == {"MA0099.3"}
    assert truth.groupby(["class", "seq_index"]).size().eq(1).all()
    assert set(truth["strand"]) == {"+", "-"}
    assert truth["seq_start"].nunique() > 20  # random positions


def test_agentbind_design(tmp_path):
    paths = simulate("agentbind", tmp_path / "sim", n=200, length=200, seed=2)
    truth = read_ground_truth(paths["dir"])
    core = truth[truth.role == "core"]
    assert len(core) == 400 and set(core.motif_id) == {"MA0035.4"}
    assert core.seq_start.nunique() == 1 and core.seq_start.iloc[0] == (200 - 11) // 2
    partner = truth[truth.role == "partner"]
    assert set(partner["class"]) == {"WT"} and set(partner.motif_id) == {"MA0091.1"}
    counts = partner.groupby("seq_index").size().reindex(range(200), fill_value=0)
    assert counts.min() >= 1 and counts.max() == 3
    # truncated Poisson(1) on 1..3 has mean 1.5
    assert 1.35 < counts.mean() < 1.65
    # sites within a sequence never overlap
    for _, g in truth[truth["class"] == "WT"].groupby("seq_index"):
        iv = sorted(zip(g.seq_start, g.seq_end))
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(iv, iv[1:]))
    # background composition (A,C,G,T) = (0.3,0.2,0.2,0.3)
    text = "".join(_seqs(paths["ko"]).values())
    freq = np.array([text.count(b) for b in ALPHABET]) / len(text)
    assert np.allclose(freq, [0.3, 0.2, 0.2, 0.3], atol=0.015)


def test_layout_covers_default_splits(tmp_path):
    paths = simulate("two-motif", tmp_path / "sim", n=30, length=100, seed=0)
    for cls in ("wt", "ko"):
        chroms = [h.split(":")[0] for h, _ in read_fasta_records(paths[cls])]
        assert {"chr6", "chr7", "chr8"} <= set(chroms)
    sizes = pd.read_csv(paths["chrom_sizes"], sep="\t", header=None, names=["chrom", "size"])
    assert sizes["size"].sum() == 2 * 30 * 100


def test_bad_arguments(tmp_path):
    with pytest.raises(InputError, match="unknown simulation preset"):
        simulate("three-motif", tmp_path / "x")
    with pytest.raises(InputError, match="did you mean"):
        simulate("two-motif", tmp_path / "x", motifs="MA0039.4,GATA11", n=5, length=50)
    with pytest.raises(InputError, match="too short"):
        simulate("agentbind", tmp_path / "x", n=5, length=30)
    assert not (tmp_path / "x").exists()
