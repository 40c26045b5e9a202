"""wtko compare with several motif finders: which JASPAR motifs each set found."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wtko_captum.core.errors import InputError

ZEB1, CTCF, GATA1 = "MA0103.3 ZEB1", "MA0139.1 CTCF", "MA0035.4 GATA1"


def _noisy(pwm, seed):
    """A JASPAR matrix as a finder would report it: 200 sampled sites, Laplace-smoothed."""
    rng = np.random.default_rng(seed)
    counts = np.zeros_like(pwm)
    for j in range(pwm.shape[1]):
        counts[:, j] = rng.multinomial(200, pwm[:, j] / pwm[:, j].sum())
    return (counts + 1) / (counts + 1).sum(axis=0)


@pytest.fixture
def sets(tmp_path):
    """A neurons directory (ZEB1, CTCF, a random matrix) and a filters directory (CTCF, GATA1)."""
    from wtko_captum.core.export import export
    from wtko_captum.core.motif_db import load_motifs

    db = load_motifs()
    rng = np.random.default_rng(0)
    random = rng.dirichlet(np.ones(4), size=8).T
    (tmp_path / "neurons").mkdir()
    (tmp_path / "filters").mkdir()
    export("meme", {"NM1": _noisy(db[ZEB1], 1), "NM2": _noisy(db[CTCF], 2), "NM3": random},
           tmp_path / "neurons" / "clusters.pfm.meme")
    export("meme", {"filter0": _noisy(db[CTCF], 3), "filter1": _noisy(db[GATA1], 4)},
           tmp_path / "filters" / "filters.meme")
    return tmp_path, db


def test_counts_and_who_found_what(sets):
    from wtko_captum.motifs.compare_sets import compare_sets
    from wtko_captum.motifs.tomtom import tomtom

    tmp, db = sets
    res = compare_sets([tmp / "neurons", tmp / "filters"], tmp / "out", q=0.001)
    counts = res.counts.set_index("set")
    assert counts.loc["neurons", "finder"] == "neurons" and counts.loc["filters", "finder"] == "filters"
    assert counts.loc["neurons", "motifs"] == 3 and counts.loc["filters", "motifs"] == 2
    # the random matrix matches nothing; the planted ones do
    assert counts.loc["neurons", "motifs_matched"] == 2 and counts.loc["filters", "motifs_matched"] == 2
    # the counts are Tomtom's own: distinct targets at q <= 0.001 of the same queries
    for label, file in (("neurons", "neurons/clusters.pfm.meme"), ("filters", "filters/filters.meme")):
        ref = tomtom(tmp / file, db, thresh=0.001)
        assert counts.loc[label, "jaspar_motifs"] == ref["Target_ID"].nunique() > 0
    found = res.found.set_index("jaspar_id")
    assert found.loc["MA0139.1", "n_sets"] == 2
    assert found.loc["MA0139.1", "motif_neurons"] == "NM2" and found.loc["MA0139.1", "motif_filters"] == "filter0"
    assert found.loc["MA0103.3", "motif_neurons"] == "NM1" and pd.isna(found.loc["MA0103.3", "q_filters"])
    assert found.loc["MA0035.4", "motif_filters"] == "filter1" and pd.isna(found.loc["MA0035.4", "q_neurons"])
    only = int(((found["n_sets"] == 1) & found["q_filters"].notna()).sum())
    assert counts.loc["filters", "jaspar_only_this_set"] == only >= 1
    written = pd.read_csv(tmp / "out" / "counts.tsv", sep="\t")
    assert written["jaspar_motifs"].tolist() == res.counts["jaspar_motifs"].tolist()
    assert "MA0139.1 CTCF" in (tmp / "out" / "summary.md").read_text()


def test_cli_and_inputs(sets, capsys):
    from wtko_captum.cli import main
    from wtko_captum.motifs.compare_sets import compare_sets

    tmp, db = sets
    meme = tmp / "filters" / "filters.meme"
    assert main(["compare", str(tmp / "neurons"), str(meme), "--labels", "NeuronMotif,filt", "--q", "0.01",
                 "-o", str(tmp / "c"), "-q"]) == 0
    counts = pd.read_csv(tmp / "c" / "counts.tsv", sep="\t")
    assert counts["set"].tolist() == ["NeuronMotif", "filt"] and counts["finder"].tolist() == ["neurons", "meme"]
    assert main(["compare", str(tmp / "neurons"), str(tmp), "-o", str(tmp / "d")]) == 2
    assert "not the output of a motif finder" in capsys.readouterr().err
    assert not (tmp / "d").exists()
    # one modisco and one kmers output are paired (that needs their tables); with --labels, counted
    from wtko_captum.core.export import export

    (tmp / "mod").mkdir()
    (tmp / "km").mkdir()
    export("meme", {"pattern_0": _noisy(db[CTCF], 5)}, tmp / "mod" / "patterns.pfm.meme")
    export("meme", {"cluster1": _noisy(db[GATA1], 6)}, tmp / "km" / "clusters.meme")
    assert main(["compare", str(tmp / "mod"), str(tmp / "km"), "-o", str(tmp / "e")]) == 2
    assert "patterns.tsv" in capsys.readouterr().err
    assert main(["compare", str(tmp / "mod"), str(tmp / "km"), "--labels", "m,k", "-o", str(tmp / "e"), "-q"]) == 0
    counts = pd.read_csv(tmp / "e" / "counts.tsv", sep="\t")
    assert counts["finder"].tolist() == ["modisco", "kmers"] and (counts["motifs_matched"] == 1).all()
    with pytest.raises(InputError, match="same label"):
        compare_sets([tmp / "neurons", tmp / "neurons"])
    with pytest.raises(InputError, match="at least two"):
        compare_sets([tmp / "neurons"])
