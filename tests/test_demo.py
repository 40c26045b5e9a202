"""The demo pipeline on the bundled real NFE2 data, end to end (reduced epochs and methods)."""
import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from wtko_captum.cli import main
from wtko_captum.pipeline.config import apply_overrides, load_config
from wtko_captum.core.errors import InputError


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("demo") / "out"
    try:
        rc = main(["demo", "-o", str(out), "-q",
                   "--set", "train.epochs=6", "--set", "train.patience=3",
                   "--set", 'attribute.methods=["saliency", "deeplift_shap"]',
                   "--set", "attribute.options={n_shuffles = 3}",
                   "--set", "modisco.max_seqlets=500"])
    finally:
        torch.set_num_threads(threads)
    assert rc == 0
    return out


def test_demo_model_beats_chance_on_held_out_regions(demo_run):
    metrics = json.loads((demo_run / "eval/metrics.json").read_text())
    assert metrics["split"] == "test" and metrics["n"] == 136
    # balanced test set: chance accuracy is 0.5; require a significant win, and a real ranking
    k = round(metrics["accuracy"] * metrics["n"])
    assert binomtest(k, metrics["n"], 0.5, alternative="greater").pvalue < 1e-3
    assert metrics["auroc"] > 0.75
    preds = pd.read_csv(demo_run / "eval/predictions.tsv", sep="\t")
    assert set(preds["chrom"]) <= {"chr6", "chr7"}  # held out: only the test chromosomes


def test_demo_writes_every_stage(demo_run):
    for rel in ["data/regions.tsv", "model/model.pt", "attr/saliency/attr.npz", "attr/deeplift_shap/X.npz",
                "tracks/saliency.projected.bw", "tracks.ini", "region1.png", "igv/session.xml",
                "motifs/clusters.meme", "motifs/tomtom.tsv", "filters/filters.meme",
                "enrich/enrichment.tsv", "modisco", "report.html"]:
        assert (demo_run / rel).exists(), rel


def test_demo_tracks_hold_attributions_at_their_coordinates(demo_run):
    import pyBigWig

    from wtko_captum.core.attribution_set import AttributionSet

    a = AttributionSet.load(demo_run / "attr/saliency")
    bw = pyBigWig.open(str(demo_run / "tracks/saliency.projected.bw"))
    proj = a.per_position("projected")
    for n in (0, len(a) // 2, len(a) - 1):
        r = a.regions.iloc[n]
        vals = np.array(bw.values(r.chrom, int(r.start), int(r.end)), dtype=float)
        real = a.X[n].sum(0) > 0
        np.testing.assert_allclose(vals[real], proj[n][real], rtol=1e-5, atol=1e-6)
        assert np.isnan(vals[~real]).all()  # N padding is a gap, not 0


def test_run_rejects_unknown_stage_and_bad_override(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[trian]\nepochs = 3\n")
    with pytest.raises(InputError, match=r"unknown stage table \[trian\]"):
        load_config(cfg)
    with pytest.raises(InputError, match="stage.key=value"):
        apply_overrides({}, ["epochs=3"])
    assert main(["run", str(cfg), "-o", str(tmp_path / "o")]) == 2
