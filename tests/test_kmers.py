"""Saliency k-mers: the paper's top-3 / 20 bp rule, centring, N padding, min-distance, coordinates."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wtko_captum.core.attribution_set import AttributionSet
from wtko_captum.core.errors import InputError
from wtko_captum.motifs.kmers import KMER_COLUMNS, kmers_bed, saliency_kmers, top_positions
from wtko_captum.core.sequence import decode, one_hot


def _attrset(seqs, peaks, starts=None, chrom="chr2"):
    """AttributionSet whose maxabs saliency is `value` at each (seq, pos, value) in `peaks`,
    0.01 elsewhere; signs and channels vary so only |attr| max over channels matters."""
    X = one_hot(seqs)
    n, _, length = X.shape
    attr = np.full(X.shape, 0.01, dtype=np.float32)
    for i, (s, p, v) in enumerate(peaks):
        attr[s, i % 4, p] = -v if i % 2 else v
    starts = starts if starts is not None else [1000 * (i + 1) for i in range(n)]
    regions = pd.DataFrame({"chrom": chrom, "start": starts, "end": [s + length for s in starts],
                            "name": [f"r{i}" for i in range(n)], "strand": "+",
                            "label": [i % 2 for i in range(n)], "prediction": [1] * n})
    return AttributionSet(X, attr, regions, "saliency")


SEQ0 = "ACGTTGCAAGGCTTACCGATCGATGCATGCAAATTTCCCGGGACGTACGTTAGC"  # 54 bp
SEQ1 = "TTTTGGGGCCCCAAAATGCATGCATGCAGTCAGTCAGTCAACCGGTTACGTAAC"


def test_top3_exact_kmers_and_coordinates():
    s = _attrset([SEQ0, SEQ1], [(0, 25, 9.0), (0, 12, 7.0), (0, 40, 5.0), (1, 30, 4.0),
                               (1, 31, 3.0), (1, 5, 2.0)])
    km = saliency_kmers(s, k=20, top=3)
    assert list(km.columns) == KMER_COLUMNS
    assert km["seq_index"].tolist() == [0, 0, 0, 1, 1, 1]
    assert km["position"].tolist() == [25, 12, 40, 30, 31, 5]
    assert km["rank"].tolist() == [1, 2, 3, 1, 2, 3]
    assert km["score"].tolist() == pytest.approx([9, 7, 5, 4, 3, 2])
    # even k: peak at offset k//2 = 10 -> 10 bases before it, 9 after
    assert km.loc[0, "kmer"] == SEQ0[15:35]
    assert km.loc[0, "kmer"][10] == SEQ0[25]
    assert km.loc[0, "start"] == 1000 + 15 and km.loc[0, "end"] == 1000 + 35
    # the genome interval re-derived from the window sequence gives the k-mer back
    seqs = {0: SEQ0, 1: SEQ1}
    for r in km.itertuples():
        win_start = 1000 * (r.seq_index + 1)
        rebuilt = "".join(seqs[r.seq_index][g - win_start] if 0 <= g - win_start < len(SEQ0) else "N"
                          for g in range(r.start, r.end))
        assert rebuilt == r.kmer
        assert r.end - r.start == 20
    assert km["label"].tolist() == [0, 0, 0, 1, 1, 1]
    assert set(km["chrom"]) == {"chr2"}


def test_odd_k_is_symmetric():
    s = _attrset([SEQ0], [(0, 25, 9.0)])
    km = saliency_kmers(s, k=21, top=1)
    assert km.loc[0, "kmer"] == SEQ0[15:36] and km.loc[0, "kmer"][10] == SEQ0[25]


def test_edge_padding_with_N():
    s = _attrset([SEQ0], [(0, 2, 9.0), (0, 52, 8.0)])
    km = saliency_kmers(s, k=20, top=2)
    assert km.loc[0, "kmer"] == "N" * 8 + SEQ0[:12]
    assert km.loc[0, "pad_left"] == 8 and km.loc[0, "pad_right"] == 0
    assert km.loc[1, "kmer"] == SEQ0[42:] + "N" * 8
    assert km.loc[1, "pad_right"] == 8
    assert km.loc[0, "start"] == 1000 - 8
    bed = kmers_bed(km)
    # the BED holds only the bases taken from the window
    assert bed["start"].tolist() == [1000, 1042] and bed["end"].tolist() == [1012, 1054]
    assert bed["name"].tolist() == ["r0:1", "r0:2"]


def test_window_N_stays_N():
    seq = SEQ0[:20] + "NNNN" + SEQ0[24:]
    s = _attrset([seq], [(0, 22, 9.0)])
    assert saliency_kmers(s, k=8, top=1).loc[0, "kmer"] == seq[18:26]
    assert "NNNN" in seq[18:26]


def test_min_distance_suppresses_neighbours():
    peaks = [(0, 20, 9.0), (0, 21, 8.5), (0, 22, 8.0), (0, 35, 5.0), (0, 5, 4.0)]
    s = _attrset([SEQ0], peaks)
    assert saliency_kmers(s, top=3)["position"].tolist() == [20, 21, 22]  # published rule
    assert saliency_kmers(s, top=3, min_distance=3)["position"].tolist() == [20, 35, 5]
    # min_distance 15: 35 is exactly 15 away (allowed); 5 is 15 away from 20 (allowed)
    assert saliency_kmers(s, top=3, min_distance=15)["position"].tolist() == [20, 35, 5]
    # 16: 35 and 5 are suppressed; the flat background gives the lowest allowed positions
    assert saliency_kmers(s, top=3, min_distance=16)["position"].tolist() == [20, 0, 36]


def test_top_positions_ties_and_exhaustion():
    sc = np.array([[1.0, 3.0, 3.0, 0.0], [np.nan, 2.0, np.nan, np.nan]])
    assert top_positions(sc, top=3).tolist() == [[1, 2, 0], [1, -1, -1]]
    with pytest.raises(InputError):
        top_positions(sc, top=0)


def test_projected_score_uses_observed_base():
    X = one_hot([SEQ0])
    attr = np.zeros_like(X)
    attr[0, :, 10] = [5, 5, 5, 5]        # large but only hypothetical...
    attr[0, :, 30] = 0
    attr[0, np.argmax(X[0, :, 30]), 30] = 2.0  # ...vs the observed base
    attr[0, :, 10] = np.where(X[0, :, 10] > 0, 0.5, 5)
    s = AttributionSet(X, attr, pd.DataFrame({"chrom": ["c"], "start": [0], "end": [54]}), "ism")
    assert saliency_kmers(s, top=1)["position"].tolist() == [10]
    assert saliency_kmers(s, top=1, score="projected")["position"].tolist() == [30]


def test_decode_roundtrip_of_kmers_from_random_set():
    from conftest import random_onehot

    X = random_onehot(5, 100, seed=3)
    attr = np.random.default_rng(0).normal(size=X.shape).astype(np.float32)
    regs = pd.DataFrame({"chrom": "chr1", "start": np.arange(5) * 500, "end": np.arange(5) * 500 + 100})
    km = saliency_kmers(AttributionSet(X, attr, regs, "x"), k=12, top=3, min_distance=12)
    seqs = decode(X)
    for r in km.itertuples():
        lo = r.start - regs.start[r.seq_index]
        full = "N" * 12 + seqs[r.seq_index] + "N" * 12
        assert full[lo + 12:lo + 24] == r.kmer
    # non-overlapping with min_distance = k
    for _, g in km.groupby("seq_index"):
        p = np.sort(g["position"].to_numpy())
        assert np.all(np.diff(p) >= 12)
