"""wtko simulate two-motif with per-class motif sets, frequencies and shared motifs."""
from __future__ import annotations

import json

import numpy as np
import pytest

from wtko_captum.core.dataset import read_fasta_records
from wtko_captum.core.errors import InputError
from wtko_captum.preparation.simulate import read_ground_truth, simulate

CTCF, GATA1, SP1, KLF4 = "MA0139.1", "MA0035.4", "MA0079.4", "MA0039.4"


def test_frequencies_and_a_shared_motif(tmp_path):
    n = 400
    paths = simulate("two-motif", tmp_path / "sim", n=n, length=150, seed=0, motifs="CTCF,GATA1",
                     frequencies=(1.0, 0.5), shared="SP1", shared_frequency=0.3)
    truth = read_ground_truth(paths["dir"])
    per = truth.groupby(["class", "motif_id"])["seq_index"].nunique()
    assert per[("WT", CTCF)] == n and ("KO", CTCF) not in per  # every WT sequence, never KO
    assert ("WT", GATA1) not in per
    # binomial(400, p): within 4 sd of the planted fraction
    assert abs(per[("KO", GATA1)] - 0.5 * n) < 4 * np.sqrt(n * 0.25)
    for cls in ("WT", "KO"):
        assert abs(per[(cls, SP1)] - 0.3 * n) < 4 * np.sqrt(n * 0.21)
    assert set(truth.loc[truth["motif_id"] == SP1, "role"]) == {"shared"}
    assert set(truth.loc[truth["motif_id"] == CTCF, "role"]) == {"WT"}
    # sites of one sequence never overlap, and each is in the FASTA where the table says
    seqs = {"WT": dict(read_fasta_records(paths["wt"])), "KO": dict(read_fasta_records(paths["ko"]))}
    for (cls, name), g in truth.groupby(["class", "name"]):
        spans = sorted(zip(g["seq_start"], g["seq_end"]))
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
        for r in g.itertuples():
            assert seqs[cls][name][r.seq_start:r.seq_end] == r.site
    params = json.loads(paths["params"].read_text())
    assert params["motifs"] == {"WT": [f"{CTCF} CTCF"], "KO": [f"{GATA1} GATA1"], "shared": [f"{SP1} SP1"]}
    assert params["frequencies"]["KO"] == {f"{GATA1} GATA1": 0.5}


def test_the_default_design_is_unchanged_and_sets_reproduce(tmp_path):
    """Without sets the two-motif output is what it always was; with them, seeded."""
    a = simulate("two-motif", tmp_path / "a", n=30, length=100, seed=3)
    b = simulate("two-motif", tmp_path / "b", n=30, length=100, seed=3, motifs=(KLF4, "MA0099.3"),
                 frequencies=(1, 1))  # the same design spelled out: same sites, same bases
    assert a["wt"].read_bytes() == b["wt"].read_bytes() and a["ko"].read_bytes() == b["ko"].read_bytes()
    sets = {"WT": {"CTCF": 1.0, "KLF4": 0.5}, "KO": ["GATA1"], "shared": {"SP1": 0.2}}
    c = simulate("two-motif", tmp_path / "c", n=30, length=200, seed=1, sets=sets)
    d = simulate("two-motif", tmp_path / "d", n=30, length=200, seed=1, sets=sets)
    assert c["motifs"].read_bytes() == d["motifs"].read_bytes()
    truth = read_ground_truth(c["dir"])
    assert set(truth.loc[truth["class"] == "WT", "motif_id"]) == {CTCF, KLF4, SP1}
    assert set(truth.loc[truth["class"] == "KO", "motif_id"]) == {GATA1, SP1}


def test_motif_set_errors(tmp_path):
    with pytest.raises(InputError, match="frequency"):
        simulate("two-motif", tmp_path / "a", n=5, frequencies=(1.0, 1.5))
    with pytest.raises(InputError, match="two fractions"):
        simulate("two-motif", tmp_path / "b", n=5, frequencies=(1.0,))
    with pytest.raises(InputError, match="unknown"):
        simulate("two-motif", tmp_path / "c", n=5, sets={"WT": ["CTCF"], "MUT": ["GATA1"]})
    with pytest.raises(InputError, match="two-motif"):
        simulate("agentbind", tmp_path / "d", n=5, shared="SP1")
    with pytest.raises(InputError):
        simulate("two-motif", tmp_path / "e", n=5, shared="NOT_A_MOTIF_NAME")
    assert not any((tmp_path / x).exists() for x in "abcde")


def test_cli_config_file(tmp_path):
    from wtko_captum.cli import main

    cfg = tmp_path / "sets.toml"
    cfg.write_text('[WT]\n"MA0139.1" = 1.0\n[KO]\n"MA0035.4" = 0.5\n[shared]\n"MA0079.4" = 0.25\n')
    assert main(["simulate", "--preset", "two-motif", "--config", str(cfg), "--n", "40", "--length", "120",
                 "-o", str(tmp_path / "sim"), "-q"]) == 0
    truth = read_ground_truth(tmp_path / "sim")
    assert set(truth["role"]) == {"WT", "KO", "shared"}
    assert main(["simulate", "--preset", "two-motif", "--motifs", "CTCF,GATA1", "--frequencies", "1,0.5",
                 "--shared", "SP1", "--n", "40", "--length", "120", "-o", str(tmp_path / "sim2"), "-q"]) == 0
    assert read_ground_truth(tmp_path / "sim2")["motif_id"].isin([CTCF, GATA1, SP1]).all()
    (tmp_path / "bad.toml").write_text("WT = 3\n")
    assert main(["simulate", "--preset", "two-motif", "--config", str(tmp_path / "bad.toml"), "-o",
                 str(tmp_path / "sim3"), "-q"]) == 2
