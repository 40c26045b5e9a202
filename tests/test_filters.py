"""First-layer filter motifs: weight consensus, activation matrices, recurrence across runs."""
from __future__ import annotations

import numpy as np
import torch

from wtko_captum.core.checkpoint import save_checkpoint
from wtko_captum.motifs.filters import filter_motifs, filter_motifs_one, find_checkpoints, write_filters
from wtko_captum.models.wtko_cnn import WTKOCNN
from wtko_captum.core.motif_db import find_motif
from wtko_captum.core.sequence import one_hot

FOSJUN = "MA0099.3"


def _model(seed, motif=None, width=None):
    width = width or (motif.shape[1] if motif is not None else 7)
    torch.manual_seed(seed)
    m = WTKOCNN(input_length=100, n_filters=6, filter_width=width, n_filters2=8, hidden=4, batchnorm=False)
    if motif is not None:
        with torch.no_grad():
            m.conv1.weight[0] = torch.tensor(np.log2((motif + 0.01) / 0.25), dtype=torch.float32)
            m.conv1.bias[0] = 0.0
    m.class_names = ["KO", "WT"]
    return m.eval()


def _sequences(pwm, n=150, length=100, seed=0):
    rng = np.random.default_rng(seed)
    seqs = []
    for _ in range(n):
        s = list(rng.choice(list("ACGT"), size=length))
        if rng.random() < 0.5:
            site = [rng.choice(list("ACGT"), p=pwm[:, j]) for j in range(pwm.shape[1])]
            p = rng.integers(0, length - pwm.shape[1])
            s[p:p + pwm.shape[1]] = site
        seqs.append("".join(s))
    return one_hot(seqs)


def test_weight_consensus_is_argmax():
    m = _model(0)
    fm = filter_motifs_one(m, _sequences(np.full((4, 7), 0.25), n=10))
    w = m.conv1.weight.detach().numpy()
    for j in range(6):
        assert fm.consensus[j] == "".join("ACGT"[i] for i in w[j].argmax(axis=0))


def test_activation_matrix_recovers_planted_filter():
    pwm = find_motif(None, FOSJUN)[1]
    m = _model(0, pwm)
    X = _sequences(pwm)
    fm = filter_motifs_one(m, X, threshold=0.5)
    probs = fm.counts[0] / fm.counts[0].sum(axis=0, keepdims=True)
    assert fm.n_sites[0] >= 40
    strong = pwm.max(axis=0) > 0.5  # the motif's informative columns
    assert np.array_equal(probs.argmax(axis=0)[strong], pwm.argmax(axis=0)[strong])
    assert np.corrcoef(probs.ravel(), pwm.ravel())[0, 1] > 0.9
    # the stacked sites are real subsequences: their count equals the sites found, per column
    assert np.allclose(fm.counts[0].sum(axis=0), fm.n_sites[0])
    # a higher threshold stacks fewer (stronger) sites
    assert filter_motifs_one(m, X, threshold=0.9).n_sites[0] < fm.n_sites[0]


def test_recurring_across_seeded_runs(tmp_path):
    pwm = find_motif(None, FOSJUN)[1]
    for seed in range(3):
        save_checkpoint(tmp_path / "train" / f"seed_{seed}" / "model.pt", _model(seed, pwm), "wtko_cnn",
                        ["KO", "WT"])
    assert [p.parent.name for p in find_checkpoints(tmp_path / "train")] == ["seed_0", "seed_1", "seed_2"]
    X = _sequences(pwm, n=120)
    res = filter_motifs(tmp_path / "train", X, min_runs=3)
    assert len(res["table"]) == 18
    rec = res["recurring"]
    assert len(rec) >= 1
    top = rec.iloc[0]
    assert top["n_runs"] == 3
    assert {"seed_0_f0", "seed_1_f0", "seed_2_f0"} <= set(top["members"].split(","))
    assert "FOS" in top["jaspar_matches"].upper() or "JUN" in top["jaspar_matches"].upper()
    written = write_filters(res, tmp_path / "out")
    from track_exporters.meme import read_meme

    back = read_meme(tmp_path / "out" / "filters.meme")
    assert "seed_1_f0" in {k.split()[0] for k in back}
    assert (tmp_path / "out" / "recurring.tsv") in written


def test_cli_filters_on_trained_run(two_motif_run, tmp_path):
    import pandas as pd

    from wtko_captum.cli import main

    model_dir = two_motif_run["model"].parent
    out = tmp_path / "filters"
    assert main(["filters", str(model_dir), str(two_motif_run["data"]), "-o", str(out), "-q",
                 "--split", "test"]) == 0
    tab = pd.read_csv(out / "filters.tsv", sep="\t")
    assert len(tab) == 32 * len(find_checkpoints(model_dir))  # the fixture's model: 32 filters
    assert (tab["n_sites"] >= 0).all() and (out / "filters.meme").is_file()
    assert main(["filters", str(tmp_path / "none"), str(two_motif_run["data"]), "-o", str(out)]) == 2
