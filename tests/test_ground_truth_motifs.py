"""Ground truth for the motif stages: on the ``two-motif`` simulation (WT:
KLF4 MA0039.4, KO: FOS::JUN MA0099.3) with its trained model, the whole chain from real
attributions recovers both planted motifs:

deeplift_shap (test split) -> TF-MoDISco-lite patterns -> Tomtom vs JASPAR: both planted TF
families among each pattern's top 3 at q < 0.05, seqlets on the planted sites of their class;
saliency -> ``kmer_motifs`` clusters -> ``compare`` pairs the cluster and the pattern of the
same planted motif. (Clusters alone vs JASPAR: tests/test_cluster.py; modisco and compare on
synthetic attributions: tests/test_modisco.py, tests/test_compare.py.)
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

# the planted motifs' TF families, by JASPAR name (each part of a dimer "A::B" is checked)
FAMILIES = {
    "KLF/SP": re.compile(r"^(KLF\d+|SP\d+)$"),  # MA0039.4 KLF4
    "AP-1": re.compile(r"^(FOS\w*|JUN\w*|JDP2|BATF\d*|ATF3|NFE2\w*|BACH\d)"),  # MA0099.3 FOS::JUN (bZIP TGAsTCA)
}
PLANTED = {"KLF/SP": ("KLF4", "WT"), "AP-1": ("FOS::JUN", "KO")}


def family(name: str) -> str | None:
    for fam, rx in FAMILIES.items():
        if any(rx.match(part) for part in str(name).upper().split("::")):
            return fam
    return None


@pytest.fixture(scope="module")
def motif_chain(two_motif_run, tmp_path_factory):
    """attribute (deeplift_shap + saliency, test split: 240 sequences) -> modisco, kmers, compare."""
    from wtko_captum.attribution.attribute_prepared import attribute_prepared
    from wtko_captum.motifs.compare import compare
    from wtko_captum.motifs.kmers import kmer_motifs
    from wtko_modisco import run_modisco

    tmp = tmp_path_factory.mktemp("ground_truth_motifs")
    attr = attribute_prepared(two_motif_run["model"], two_motif_run["data"], tmp / "attr",
                              ["deeplift_shap", "saliency"], split="test", seed=0,
                              options=dict(n_shuffles=10))
    modisco = run_modisco(attr["deeplift_shap"], tmp / "modisco", report=False)
    kmers = kmer_motifs(attr["saliency"], tmp / "motifs", n_clusters=10)
    cmp = compare(tmp / "modisco", tmp / "motifs", tmp / "compare")
    return dict(tmp=tmp, modisco=modisco, kmers=kmers, compare=cmp)


def _sites(two_motif_run, motif_name):
    from wtko_captum.preparation.simulate import read_ground_truth

    truth = read_ground_truth(two_motif_run["truth"])
    return truth[truth["motif_name"] == motif_name]


def _overlaps(rows: pd.DataFrame, sites: pd.DataFrame) -> np.ndarray:
    """Whether each interval of ``rows`` (chrom, start, end; genome) overlaps one of ``sites``."""
    by_chrom = {c: g for c, g in sites.groupby("chrom")}
    out = []
    for chrom, s, e in zip(rows["chrom"].astype(str), rows["start"], rows["end"]):
        g = by_chrom.get(chrom)
        out.append(g is not None and bool(((g["start"] < e) & (s < g["end"])).any()))
    return np.array(out, dtype=bool)


@pytest.mark.slow
def test_modisco_patterns_recover_both_planted_motifs(motif_chain, two_motif_run):
    """Each planted motif is a pos pattern whose top-3 Tomtom matches include its TF family
    at q < 0.05; the pattern's seqlets come from the motif's class and lie on planted sites."""
    from wtko_captum.motifs.tomtom import best_matches, read_tomtom

    res = motif_chain["modisco"]
    tt = best_matches(read_tomtom(motif_chain["tmp"] / "modisco" / "tomtom.tsv"), n=3)
    tt = tt[tt["q-value"] < 0.05].assign(family=lambda t: t["Target_name"].map(family))
    print("\n" + res.patterns[["pattern", "n_seqlets", "consensus", "seqlets_in_KO", "seqlets_in_WT",
                               "jaspar_name", "jaspar_q"]].to_string(index=False))
    found = {}
    for fam in FAMILIES:
        patterns = sorted(set(tt.loc[tt["family"] == fam, "Query_ID"]))
        assert patterns, f"no modisco pattern matches the planted {fam} motif; top-3 matches:\n{tt}"
        found[fam] = patterns
    assert not set(found["KLF/SP"]) & set(found["AP-1"])
    pat = res.patterns.set_index("pattern")
    for fam, patterns in found.items():
        motif, cls = PLANTED[fam]
        other = "KO" if cls == "WT" else "WT"
        for p in patterns:
            assert pat.loc[p, "metacluster"] == "pos"  # target "pred": evidence for each class
            assert pat.loc[p, f"seqlets_in_{cls}"] >= 20
            assert pat.loc[p, f"seqlets_in_{cls}"] >= 10 * pat.loc[p, f"seqlets_in_{other}"]
            seqlets = res.seqlets[res.seqlets["pattern"] == p]
            on_site = _overlaps(seqlets, _sites(two_motif_run, motif))
            assert on_site.mean() >= 0.9, (p, on_site.mean())


@pytest.mark.slow
def test_compare_pairs_cluster_and_pattern_of_the_same_planted_motif(motif_chain, two_motif_run):
    """``kmer_motifs`` on saliency gives clusters of both planted motifs, and ``compare`` pairs
    each planted motif's cluster with its modisco pattern (never across motifs)."""
    pairs = motif_chain["compare"].pairs
    both = pairs[pairs["found_by"] == "both"]
    print("\n" + both[["pattern", "cluster", "q", "positional_agreement", "pattern_class", "cluster_class",
                       "pattern_jaspar", "cluster_jaspar"]].to_string(index=False))

    def families(names: str) -> set:
        return {family(n.strip()) for n in str(names).split(",")} - {None}

    paired = {}
    for _, r in both.iterrows():
        fp, fc = families(r["pattern_jaspar"]), families(r["cluster_jaspar"])
        assert not (fp and fc) or fp == fc, f"pair across planted motifs: {r.to_dict()}"
        for fam in fp & fc:
            paired[fam] = r
    assert set(paired) == set(FAMILIES)
    kmers = motif_chain["kmers"]["kmers"]
    for fam, r in paired.items():
        motif, cls = PLANTED[fam]
        assert r["q"] < 0.05
        assert r["pattern_class"] == cls and r["cluster_class"] == cls
        # the cluster's k-mers (20 bp around a saliency peak) sit on planted sites of the motif,
        # and a good share of their peaks fall inside the paired pattern's seqlets
        sub = kmers[kmers["cluster"] == int(r["cluster"].removeprefix("cluster"))]
        assert _overlaps(sub, _sites(two_motif_run, motif)).mean() >= 0.6  # chance ~0.15
        assert r["positional_agreement"] >= 0.2 and r["n_kmers"] == len(sub) >= 20
    assert (motif_chain["tmp"] / "compare" / "summary.md").read_text().count("cluster") >= 2


def test_run_modisco_stops_tqdm_monitor_threads():
    """tqdm's monitor thread (started by any bar, even a disabled one) would make modisco-lite
    compile its numba kernels in-process and uncached (~30 s a run instead of ~6 s)."""
    import threading

    from tqdm import tqdm
    from tqdm._monitor import TMonitor

    from wtko_modisco.modisco import _stop_tqdm_monitors

    def monitors():
        return [t for t in threading.enumerate() if isinstance(t, TMonitor) and t.is_alive()]

    for _ in tqdm(range(2), disable=True):
        pass
    assert monitors()
    _stop_tqdm_monitors()
    assert not monitors()
    for _ in tqdm(range(2), disable=True):  # the next bar starts a fresh monitor
        pass
    assert monitors()
