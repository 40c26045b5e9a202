"""TF-MoDISco-lite plugin: planted motifs recovered, seqlet BED coordinates exact."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from motif_helpers import PLANTED, contains_motif, planted_attrset, write_fasta
from wtko_captum.core.errors import InputError
from wtko_captum.core.sequence import reverse_complement


@pytest.fixture(scope="module")
def modisco_run(tmp_path_factory):
    """One modisco run through the CLI on the planted set (about 15 s)."""
    from wtko_captum.cli import main

    tmp = tmp_path_factory.mktemp("modisco")
    aset, genome, sites = planted_attrset()
    aset.save(tmp / "attr")
    write_fasta(tmp / "genome.fa", "chrS", genome)
    assert main(["modisco", str(tmp / "attr"), "-o", str(tmp / "out"), "--max-seqlets", "500", "-q",
                 "--no-by-class"]) == 0  # per class: tests/test_classes.py
    return tmp, aset, genome, sites


def test_patterns_recover_planted_motifs(modisco_run):
    tmp, aset, _, _ = modisco_run
    pat = pd.read_csv(tmp / "out" / "patterns.tsv", sep="\t")
    pos = pat[pat["metacluster"] == "pos"]
    gata = pos[[contains_motif(c, PLANTED["GATA"]) for c in pos["consensus"]]]
    ap1 = pos[[contains_motif(c, PLANTED["AP1"]) for c in pos["consensus"]]]
    assert len(gata) >= 1 and len(ap1) >= 1
    # each pattern's seqlets come from the class its motif was planted in
    assert gata["seqlets_in_WT"].sum() >= 50 and gata["seqlets_in_KO"].sum() == 0
    assert ap1["seqlets_in_KO"].sum() >= 50 and ap1["seqlets_in_WT"].sum() == 0
    # the AP-1 pattern's best JASPAR match is an AP-1 (bZIP) factor
    assert ap1.iloc[0]["jaspar_name"].upper().startswith(("JDP2", "FOS", "JUN", "BATF", "ATF", "NFE2", "BACH"))
    from memelite.io import read_meme

    for kind in ("pfm", "cwm"):
        motifs = read_meme(str(tmp / "out" / f"patterns.{kind}.meme"))
        assert set(motifs) == set(pat["pattern"])
        for m in motifs.values():
            assert np.allclose(m.sum(axis=0), 1, atol=1e-3)
    html = (tmp / "out" / "report" / "motifs.html").read_text()
    assert "pos_patterns.pattern_0" in html and "match0" in html
    tt = pd.read_csv(tmp / "out" / "tomtom.tsv", sep="\t")
    assert set(tt["Query_ID"]) <= set(pat["pattern"]) and "Target_name" in tt


def test_seqlet_bed_matches_genome(modisco_run):
    """The genome at each BED interval (reverse complemented on '-') is the seqlet sequence
    modisco stored, and each seqlet covers its planted site."""
    import pyfaidx

    from wtko_modisco import read_patterns

    tmp, aset, genome, sites = modisco_run
    bed = pd.read_csv(tmp / "out" / "seqlets.bed", sep="\t", comment="#", header=None)
    bed = bed.iloc[:, :8]
    bed.columns = ["chrom", "start", "end", "name", "score", "strand", "example_idx", "sequence"]
    assert len(bed) >= 100 and set(bed["strand"]) == {"+", "-"}
    fa = pyfaidx.Fasta(str(tmp / "genome.fa"))
    for r in bed.itertuples():
        seq = str(fa[r.chrom][r.start:r.end]).upper()
        assert (reverse_complement(seq) if r.strand == "-" else seq) == r.sequence
    # ... and that sequence is modisco's own (from the h5), pattern by pattern
    h5_seqs = sorted(
        "".join("ACGT"[j] for j in s.argmax(axis=1))
        for p in read_patterns(tmp / "out" / "modisco_results.h5") for s in p["seqlets"]["sequence"])
    assert h5_seqs == sorted(bed["sequence"])
    # every seqlet overlaps the planted site of its sequence
    site = sites.set_index("example_idx")
    starts = aset.regions["start"].to_numpy()
    for r in bed.itertuples():
        s = site.loc[r.example_idx]
        g0 = starts[r.example_idx] + s["pos"]
        assert r.start < g0 + s["width"] and g0 < r.end


def test_seqlets_table_crop_and_minus_strand_regions():
    """Window crop offsets and '-' strand regions map to the right genome bases."""
    from wtko_modisco.modisco import seqlets_table

    aset, genome, _ = planted_attrset(n=4, length=60)
    X = aset.X.transpose(0, 2, 1)
    # a fake pattern: seqlet [5, 15) of row 1 as given (crop 10 -> window [15, 25)), and
    # [0, 8) of row 2 reverse complemented
    seq_a = X[1, 15:25]
    seq_b = X[2, 0:8][::-1, ::-1]
    pat = {"name": "pos_patterns.pattern_0", "seqlets": {
        "example_idx": np.array([1, 2]), "start": np.array([5, -10]), "end": np.array([15, -2]),
        "is_revcomp": np.array([False, True]), "sequence": np.stack([seq_a, np.zeros_like(seq_a)]),
        "contrib_scores": np.zeros((2, 10, 4))}}
    pat["seqlets"]["sequence"][1, :8] = seq_b
    t = seqlets_table([pat], aset, crop=10)
    r0, r1 = t.iloc[0], t.iloc[1]
    assert (r0["start"], r0["end"], r0["strand"]) == (aset.regions["start"][1] + 15, aset.regions["start"][1] + 25, "+")
    assert genome[r0["start"]:r0["end"]] == r0["sequence"]
    assert (r1["start"], r1["end"], r1["strand"]) == (aset.regions["start"][2], aset.regions["start"][2] + 8, "-")
    # the same window read from a '-' strand region: base i is end - 1 - i, strands flip
    regions = aset.regions.copy()
    regions.loc[1, "strand"] = "-"
    aset.regions = regions
    t2 = seqlets_table([pat], aset, crop=10)
    end1 = aset.regions["end"][1]
    assert (t2.iloc[0]["start"], t2.iloc[0]["end"], t2.iloc[0]["strand"]) == (end1 - 25, end1 - 15, "-")


def test_projected_attributions_are_refused(tmp_path):
    from wtko_modisco import run_modisco

    aset, _, _ = planted_attrset(n=4, length=60)
    aset.hypothetical = False
    with pytest.raises(InputError, match="hypothetical"):
        run_modisco(aset, tmp_path / "m")
    assert not (tmp_path / "m").exists()
