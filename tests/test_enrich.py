"""Known-motif enrichment (FIMO + Fisher) and AgentBind k-mer enrichment."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy.stats import fisher_exact

from wtko_captum.core.attribution_set import AttributionSet
from wtko_captum.motifs.enrich import enrich, kmer_enrichment, motif_enrichment, top_for_class
from wtko_captum.core.errors import InputError
from wtko_captum.core.sequence import one_hot

MAF_FAMILY = re.compile(r"MAF|NFE2|NRL|BACH", re.I)
POU_SOX = re.compile(r"POU|SOX", re.I)
AP1 = re.compile(r"^(FOS|FOSL\d|JUN[BD]?|JDP2|BATF\d?|ATF3)(::|\(|$)", re.I)


@pytest.fixture(scope="module")
def oct4_mafk(tmp_path_factory):
    """The real Oct4 / MafK ChIP-seq peaks (janggu), prepared with MafK as class 1."""
    from wtko_captum.preparation.prepare import prepare

    d = tmp_path_factory.mktemp("om") / "data"
    src = __import__("pathlib").Path(__file__).parent / "data" / "sequences" / "oct4_mafk_small"
    prepare(d, wt=[src / "mafk.fa"], ko=[src / "oct4.fa"], width=200, balance_classes=False,
            class_names=("Oct4", "MafK"))
    return d


def test_oct4_mafk_finds_maf_and_pou_sox(oct4_mafk, tmp_path):
    res = enrich(oct4_mafk, tmp_path / "enrich", split="all")
    mafk = top_for_class(res.table, "MafK", n=10, q=0.05)
    oct4 = top_for_class(res.table, "Oct4", n=10, q=0.05)
    # the MAF/NFE2 family leads the MafK class: all of its top 8 (measured: Mafb 77% vs 5%)
    assert all(MAF_FAMILY.search(n) for n in mafk["motif_name"].head(8))
    assert mafk.iloc[0]["q_value"] < 1e-15
    assert (mafk["motif_name"] == "MAF::NFE2").any()
    # Oct4: Pou5f1::Sox2 first (56% vs 10%)
    assert oct4.iloc[0]["motif_name"] == "Pou5f1::Sox2" and oct4.iloc[0]["q_value"] < 1e-6
    assert all(POU_SOX.search(n) for n in oct4["motif_name"])
    # files
    tsv = pd.read_csv(tmp_path / "enrich" / "enrichment.tsv", sep="\t")
    assert len(tsv) == 746 and {"pct_MafK", "pct_Oct4", "q_value", "enriched_in"} <= set(tsv.columns)
    assert (tmp_path / "enrich" / "enrichment.png").stat().st_size > 5000
    md = (tmp_path / "enrich" / "summary.md").read_text()
    assert "Enriched in MafK" in md and "Mafb" in md and "Pou5f1::Sox2" in md


def test_two_motif_simulation_ranks_planted_motifs(tmp_path):
    """WT carries KLF4 (MA0039.4), KO FOS::JUN (MA0099.3): each class's top motif is the
    planted one or its AP-1 family member."""
    from wtko_captum.preparation.prepare import prepare
    from wtko_captum.preparation.simulate import simulate

    simulate("two-motif", tmp_path / "sim", n=200, length=200, seed=0)
    prepare(tmp_path / "data", wt=[tmp_path / "sim" / "WT.fa"], ko=[tmp_path / "sim" / "KO.fa"], width=200)
    res = enrich(tmp_path / "data", None, split="all")
    wt, ko = top_for_class(res.table, "WT", n=3), top_for_class(res.table, "KO", n=3)
    assert wt.iloc[0]["motif_id"] == "MA0039.4" and wt.iloc[0]["q_value"] < 1e-20
    assert all(AP1.search(n) for n in ko["motif_name"])
    assert "MA0099.3" in set(ko["motif_id"])
    assert ko.iloc[0]["q_value"] < 1e-20


def test_motif_enrichment_matches_scipy_fisher():
    rng = np.random.default_rng(0)
    presence = rng.random((5, 60)) < np.array([0.1, 0.3, 0.5, 0.7, 0.9])[:, None]
    labels = np.repeat([0, 1], 30)
    presence[0, labels == 1] = True  # motif 0: every class-1 sequence
    keys = [f"M{i} TF{i}" for i in range(5)]
    t = motif_enrichment(presence, labels, keys, ["KO", "WT"]).set_index("motif_id")
    for i in range(5):
        a, b = presence[i, labels == 1].sum(), presence[i, labels == 0].sum()
        odds, p = fisher_exact([[a, 30 - a], [b, 30 - b]])
        row = t.loc[f"M{i}"]
        assert (row["n_hits_WT"], row["n_hits_KO"]) == (a, b)
        assert row["p_value"] == pytest.approx(p) and row["pct_WT"] == pytest.approx(100 * a / 30)
        if np.isfinite(odds):
            assert row["odds_ratio"] == pytest.approx(odds)
    assert t.index[0] == "M0" and t.loc["M0", "enriched_in"] == "WT"
    assert (np.diff(t["p_value"].to_numpy()) >= 0).all()
    with pytest.raises(InputError, match="both classes"):
        motif_enrichment(presence[:, :30], labels[:30], keys, ["KO", "WT"])


def _planted_attrset(kmer="GATAA", n=60, length=100, seed=0):
    """Random sequences, class 1 with `kmer` planted at 3 places carrying large attributions."""
    rng = np.random.default_rng(seed)
    seqs, labels = [], []
    X_attr = []
    for i in range(n):
        s = list(rng.choice(list("ACGT"), size=length))
        a = rng.normal(0, 0.1, size=(4, length)).astype(np.float32)
        label = i % 2
        if label == 1:
            for pos in (10, 45, 80):
                s[pos:pos + len(kmer)] = kmer
                a[:, pos:pos + len(kmer)] += 3.0
        seqs.append("".join(s))
        labels.append(label)
        X_attr.append(a)
    X = one_hot(seqs)
    regions = pd.DataFrame({"chrom": "chr1", "start": np.arange(n) * 1000, "end": np.arange(n) * 1000 + length,
                            "label": labels})
    return AttributionSet(X, np.stack(X_attr), regions, "test", hypothetical=True, target="WT",
                          class_names=["KO", "WT"])


def test_kmer_enrichment_finds_planted_kmer():
    aset = _planted_attrset()
    t = kmer_enrichment(aset, 5)
    assert t.iloc[0]["kmer"] == "GATAA"
    assert t.iloc[0]["odds_ratio"] > 50 and t.iloc[0]["q_value"] < 1e-10
    # only class-1 (WT, the target) sequences were slid over: 30 seqs x 96 windows
    assert t["n_total"].sum() == 30 * 96
    assert t["n_top"].sum() == round(0.01 * 30 * 96)
    # canonical merges GATAA with TTATC
    c = kmer_enrichment(aset, 5, canonical=True)
    assert c.iloc[0]["kmer"] == "GATAA" and c.iloc[0]["reverse_complement"] == "TTATC"
    assert kmer_enrichment(aset, 5, positive="KO")["n_total"].sum() == 30 * 96


def test_cli_enrich_with_kmers(oct4_mafk, tmp_path):
    from wtko_captum.cli import main

    aset = _planted_attrset()
    aset.save(tmp_path / "attr")
    out = tmp_path / "e"
    assert main(["enrich", str(oct4_mafk), "-o", str(out), "--split", "all", "--kmer-enrichment", "5",
                 "--attr", str(tmp_path / "attr"), "-q"]) == 0
    k = pd.read_csv(out / "kmer_enrichment.tsv", sep="\t")
    assert k.iloc[0]["kmer"] == "GATAA"
    assert main(["enrich", str(tmp_path / "nope"), "-o", str(out)]) == 2


def test_scan_presence_never_counts_a_window_with_n():
    """memelite scores an N as 0, so a weak motif "matches" a run of N; FIMO proper does not."""
    from memelite import fimo

    from wtko_captum.motifs.enrich import scan_presence

    weak = np.full((4, 6), 0.25)
    weak[0, 0], weak[1:, 0] = 0.4, 0.2
    X = np.zeros((3, 4, 40), dtype=np.float32)
    X[1, 0, :] = 1                       # poly-A: a real (weak) match
    X[2, 0, :20] = 1                     # poly-A then 20 N
    raw = fimo({"weak": weak}, X, threshold=0.5)[0]
    assert set(raw["sequence_name"]) == {0, 1, 2}  # memelite alone: the all-N sequence "matches"
    assert scan_presence({"weak": weak}, X, p=0.5).tolist() == [[False, True, True]]
    X[2, 0, :20] = 0                     # now all N
    assert scan_presence({"weak": weak}, X, p=0.5).tolist() == [[False, True, False]]
