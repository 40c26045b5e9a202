"""Tomtom adapter: MEME-suite semantics, checked against real MEME Tomtom output."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wtko_captum.core.errors import InputError
from wtko_captum.core.motif_db import load_motifs
from wtko_captum.motifs.tomtom import (COLUMNS, benjamini_hochberg, best_matches, consensus, read_tomtom,
                                tomtom)


@pytest.fixture(scope="module")
def jaspar():
    return load_motifs()


def test_regression_against_meme_tomtom(data_dir, jaspar):
    """Our best JASPAR target equals real Tomtom's (or shares its TF name) for >= 80% of the
    queries real Tomtom matched at q < 0.05 (measured: 28 of 29)."""
    ours = tomtom(data_dir / "tomtom" / "explainn_filters.meme", thresh=1.0)
    ref = read_tomtom(data_dir / "tomtom" / "MAX_JUND_FOXA1_tomtom.tsv")
    names = {k.split()[0]: k.split(None, 1)[1].upper() for k in jaspar}
    ref_best = best_matches(ref[ref["q-value"] < 0.05]).set_index("Query_ID")
    ours_best = best_matches(ours).set_index("Query_ID")
    assert len(ref_best) == 29
    agree = [ours_best.loc[q, "Target_ID"] == t or names[ours_best.loc[q, "Target_ID"]] == names[t]
             for q, t in ref_best["Target_ID"].items()]
    assert np.mean(agree) >= 0.8
    # p-values, orientation and offsets of the pairs both tables hold agree with MEME's
    both = ref.merge(ours, on=["Query_ID", "Target_ID"], suffixes=("_ref", ""))
    assert len(both) == len(ref)
    r = np.corrcoef(np.log10(both["p-value_ref"]), np.log10(both["p-value"]))[0, 1]
    assert r > 0.99
    same = both["Orientation_ref"] == both["Orientation"]
    assert same.mean() > 0.9
    assert (both.loc[same, "Optimal_offset_ref"] == both.loc[same, "Optimal_offset"]).mean() > 0.9
    assert (both.loc[same, "Target_consensus_ref"] == both.loc[same, "Target_consensus"]).mean() > 0.95
    # E = p x number of targets (746), as MEME defines it
    assert np.allclose(ours["E-value"], ours["p-value"] * 746)


def test_columns_orientation_offset_and_self_match(jaspar):
    """A JASPAR motif finds itself at offset 0 on '+', its reverse complement on '-'."""
    key = "MA0099.3 FOS::JUN"
    ctcf = next(k for k in jaspar if k.endswith(" CTCF"))
    q = {"fosjun": jaspar[key], "ctcf_rc": jaspar[ctcf][::-1, ::-1]}
    table = tomtom(q, thresh=1.0)
    assert list(table.columns) == COLUMNS
    assert len(table) == 2 * 746
    best = best_matches(table).set_index("Query_ID")
    row = best.loc["fosjun"]
    assert (row["Target_ID"], row["Target_name"], row["Optimal_offset"], row["Orientation"]) == \
        ("MA0099.3", "FOS::JUN", 0, "+")
    assert row["Overlap"] == jaspar[key].shape[1]
    assert row["Query_consensus"] == consensus(jaspar[key]) == row["Target_consensus"]
    row = best.loc["ctcf_rc"]
    assert row["Target_ID"] == ctcf.split()[0] and row["Orientation"] == "-"
    assert row["Optimal_offset"] == 0 and row["q-value"] < 1e-6
    # target consensus is printed in the reported orientation: the reverse complement
    assert row["Target_consensus"] == row["Query_consensus"]


def test_offset_convention_on_shifted_query(jaspar):
    """Query column j sits on target column j + offset: a query that starts 3 columns into the
    target has offset +3; one with 2 extra leading columns has offset -2."""
    key = "MA0139.1 CTCF"
    pwm = jaspar[key]
    flank = np.full((4, 2), 0.25)
    q = {"inner": pwm[:, 3:], "padded": np.hstack([flank, pwm])}
    best = best_matches(tomtom(q, thresh=1.0)).set_index("Query_ID")
    assert best.loc["inner", "Target_ID"] == "MA0139.1" and best.loc["inner", "Optimal_offset"] == 3
    assert best.loc["padded", "Target_ID"] == "MA0139.1" and best.loc["padded", "Optimal_offset"] == -2
    assert best.loc["inner", "Overlap"] == pwm.shape[1] - 3


def test_threshold_and_custom_db(jaspar, tmp_path):
    from track_exporters.meme import write_meme

    db = {k: jaspar[k] for k in list(jaspar)[:40]}
    write_meme(db, tmp_path / "db.meme")
    q = {"m": db[list(db)[5]]}
    full = tomtom(q, tmp_path / "db.meme", thresh=1.0)
    assert len(full) == 40 and full["p-value"].is_monotonic_increasing
    assert full.iloc[0]["Target_ID"] == list(db)[5].split()[0]
    assert np.allclose(full["E-value"], full["p-value"] * 40)
    kept = tomtom(q, tmp_path / "db.meme", thresh=1e-3, thresh_by="p")
    assert len(kept) == (full["p-value"] <= 1e-3).sum() >= 1


def test_benjamini_hochberg_matches_definition():
    p = np.array([0.01, 0.04, 0.03, 0.2, 0.5])
    q = benjamini_hochberg(p)
    # sorted 0.01 .03 .04 .2 .5 -> raw 0.05 .075 .0667 .25 .5 -> monotone .05 .0667 .0667 .25 .5
    assert np.allclose(q, [0.05, 0.0666667, 0.0666667, 0.25, 0.5])


def test_bad_inputs(jaspar):
    with pytest.raises(InputError, match="Euclidean"):
        tomtom({"a": jaspar["MA0099.3 FOS::JUN"]}, dist="pearson")
    with pytest.raises(InputError, match="negative"):
        tomtom({"a": -np.ones((4, 5))})
    with pytest.raises(InputError, match=r"\(4, W\)"):
        tomtom({"a": np.ones((5, 4))})
    with pytest.raises(InputError, match="not found"):
        tomtom("/nonexistent.meme")


def test_cli(tmp_path, data_dir):
    from wtko_captum.cli import main

    out = tmp_path / "t.tsv"
    assert main(["tomtom", str(data_dir / "tomtom" / "explainn_filters.meme"), "-o", str(out),
                 "--thresh", "0.05", "-q"]) == 0
    df = pd.read_csv(out, sep="\t")
    assert list(df.columns) == COLUMNS and (df["q-value"] <= 0.05).all()
    assert df.loc[df["Query_ID"] == "filter50"].iloc[0]["Target_name"] == "CTCF"
    assert main(["tomtom", str(tmp_path / "missing.meme"), "-o", str(out)]) == 2


def test_motif_db_by_bundled_name(tmp_path):
    """`--motif-db JASPAR2020` (any case) is the bundled file, in the library and on the CLI; an
    unknown name is a one-line error naming the bundled databases."""
    import argparse

    from wtko_captum.cli.options import add_motif_db
    from wtko_captum.core.errors import InputError
    from wtko_captum.core.motif_db import DEFAULT_MOTIF_FILE, load_motifs

    assert list(load_motifs("jaspar2020")) == list(load_motifs())
    p = argparse.ArgumentParser()
    add_motif_db(p)
    assert p.parse_args(["--motif-db", "JASPAR2020"]).motif_db == str(DEFAULT_MOTIF_FILE)
    own = tmp_path / "JASPAR2020"  # a file of that name wins over the bundled one
    own.write_text("MEME version 4\n")
    assert p.parse_args(["--motif-db", str(own)]).motif_db == str(own)
    with pytest.raises(InputError, match="bundled database: JASPAR2020"):
        load_motifs("JASPAR2024")
