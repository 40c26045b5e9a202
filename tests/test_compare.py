"""wtko compare: pairs modisco patterns with k-mer clusters of the same planted motif."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from motif_helpers import planted_attrset
from wtko_captum.motifs.compare import compare, points_in_intervals
from wtko_captum.core.errors import InputError
from wtko_captum.core.sequence import one_hot, reverse_complement


def _pfm(sites):
    return one_hot(list(sites)).mean(axis=0).astype(np.float64) * 0.96 + 0.01


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    """A k-mer directory from the real kmers/cluster code on the planted set, and a modisco
    directory built from the planted sites (seqlets = the sites of 80% of the sequences)."""
    from track_exporters.meme import write_meme
    from wtko_captum.motifs.cluster import cluster_kmers, write_clusters
    from wtko_captum.motifs.kmers import saliency_kmers

    tmp = tmp_path_factory.mktemp("compare")
    aset, genome, sites = planted_attrset()
    km = saliency_kmers(aset, k=20, top=1)
    res = cluster_kmers(km, n_clusters=4)
    write_clusters(res, km, tmp / "motifs", logos=False, meme=False)
    km.assign(cluster=res.labels).to_csv(tmp / "motifs" / "kmers.tsv", sep="\t", index=False)

    mod = tmp / "modisco"
    mod.mkdir()
    starts = aset.regions["start"].to_numpy()
    rows = []
    for s in sites.itertuples():
        if s.example_idx % 10 >= 8:
            continue
        g0 = starts[s.example_idx] + s.pos
        seq = genome[g0:g0 + s.width]
        rows.append({"chrom": "chrS", "start": g0, "end": g0 + s.width,
                     "pattern": "pos_patterns.pattern_0" if s.motif == "GATA" else "pos_patterns.pattern_1",
                     "label": int(s.motif == "GATA"),
                     "sequence": seq if s.strand == "+" else reverse_complement(seq)})
    seqlets = pd.DataFrame(rows)
    seqlets.to_csv(mod / "seqlets.tsv", sep="\t", index=False)
    write_meme({p: _pfm(seqlets.loc[seqlets["pattern"] == p, "sequence"]) for p in
                ("pos_patterns.pattern_0", "pos_patterns.pattern_1")}, mod / "patterns.pfm.meme")
    pd.DataFrame({"pattern": ["pos_patterns.pattern_0", "pos_patterns.pattern_1"],
                  "seqlets_in_KO": [0, (seqlets["label"] == 0).sum()],
                  "seqlets_in_WT": [(seqlets["label"] == 1).sum(), 0]}).to_csv(mod / "patterns.tsv", sep="\t", index=False)
    return tmp, km.assign(cluster=res.labels), seqlets, res


def _cluster_of(res, site):
    for key in res.motifs:
        cons = key.split()[1]
        if site in cons or reverse_complement(site) in cons:
            return key.split()[0]
    return None


def test_pairs_same_planted_motif(dirs, tmp_path):
    tmp, km, seqlets, res = dirs
    out = compare(tmp / "modisco", tmp / "motifs", tmp_path / "cmp")
    both = out.pairs[out.pairs["found_by"] == "both"].set_index("pattern")
    # GATA pattern pairs with the cluster whose k-mers are mostly WT GATA sites, AP-1 with KO
    gata, ap1 = both.loc["pos_patterns.pattern_0"], both.loc["pos_patterns.pattern_1"]
    assert gata["pattern_class"] == "WT" and ap1["pattern_class"] == "KO"
    assert ap1["cluster_class"] == "KO"
    assert ap1["cluster"] == _cluster_of(res, "TGACTCA")
    assert gata["q"] < 0.05 and ap1["q"] < 0.05
    assert any(n in ap1["pattern_jaspar"].upper() for n in ("JUN", "FOS", "JDP2", "BATF", "NFE2", "BACH"))
    assert "GATA" in gata["pattern_jaspar"].upper()
    # positional agreement equals a direct count of k-mer centres inside the pattern's seqlets
    for pattern, row in both.iterrows():
        sub = km[km["cluster"] == int(row["cluster"].removeprefix("cluster"))]
        centres = sub["start"].to_numpy() + 10
        sl = seqlets[seqlets["pattern"] == pattern]
        expect = np.mean([((sl["start"] <= c) & (c < sl["end"])).any() for c in centres])
        assert row["positional_agreement"] == pytest.approx(expect)
        assert row["n_kmers"] == len(sub)
    assert ap1["positional_agreement"] > 0.5
    # outputs
    sim = pd.read_csv(tmp_path / "cmp" / "similarity.tsv", sep="\t")
    assert len(sim) == 2 * len(res.motifs)
    assert {"p_pc", "q_pc", "p_cp", "q_cp", "offset_pc", "strand_pc", "offset_cp", "strand_cp"} <= set(sim)
    assert (tmp_path / "cmp" / "heatmap.png").stat().st_size > 3000
    md = (tmp_path / "cmp" / "summary.md").read_text()
    assert "Found by both (2)" in md and "k-mer clusters only" in md


def test_points_in_intervals():
    iv = pd.DataFrame({"chrom": ["a", "a", "a", "b"], "start": [10, 15, 40, 0], "end": [20, 25, 41, 5]})
    got = points_in_intervals(["a", "a", "a", "a", "a", "b", "b", "c"], [9, 10, 24, 25, 40, 4, 5, 1], iv)
    assert got.tolist() == [False, True, True, False, True, True, False, False]


def test_cli_and_missing_inputs(dirs, tmp_path):
    from wtko_captum.cli import main

    tmp, *_ = dirs
    assert main(["compare", str(tmp / "modisco"), str(tmp / "motifs"), "-o", str(tmp_path / "c"), "-q"]) == 0
    assert (tmp_path / "c" / "pairs.tsv").is_file()
    with pytest.raises(InputError, match="clusters.meme"):
        compare(tmp / "modisco", tmp_path, None)
    assert main(["compare", str(tmp_path), str(tmp / "motifs"), "-o", str(tmp_path / "d")]) == 2
