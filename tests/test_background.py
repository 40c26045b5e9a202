"""wtko prepare --background: a third class of dinucleotide shuffles or GC-matched genome
windows, and training / evaluation with it (per-class and WT-vs-KO metrics)."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wtko_captum.core.dataset import BACKGROUND, load_prepared, read_fasta_records
from wtko_captum.core.errors import InputError
from wtko_captum.preparation.prepare import prepare
from wtko_captum.preparation.simulate import simulate

DATA = Path(__file__).parent / "data"
GENOME = DATA / "genomes" / "mouse_chr17_1Mb_region.fa"
CONTIG, CONTIG_LEN = "chr17_region", 1_000_001


def dinucleotides(seq: str) -> Counter:
    return Counter(seq[i:i + 2] for i in range(len(seq) - 1))


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    return simulate("two-motif", tmp_path_factory.mktemp("bg_sim") / "sim", n=60, length=120, seed=0)


def _prepared(path):
    regions = pd.read_csv(path / "regions.tsv", sep="\t", dtype={"chrom": str})
    seqs = dict(read_fasta_records(path / "sequences.fa"))
    return regions, seqs


def test_shuffle_background_keeps_dinucleotides_splits_and_counts(sim, tmp_path):
    res = prepare(tmp_path / "data", wt=[sim["wt"]], ko=[sim["ko"]], width=120, seed=0, background="shuffle")
    regions, seqs = _prepared(tmp_path / "data")
    meta = json.loads((tmp_path / "data" / "meta.json").read_text())
    assert meta["class_names"] == ["KO", "WT", BACKGROUND]
    bg = regions[regions["class"] == BACKGROUND]
    assert (bg["label"] == 2).all() and (bg["source"] == "background:shuffle").all()
    peaks = regions[regions["class"] != BACKGROUND].set_index("name")
    for split in ("train", "val", "test"):
        n_peaks = int((peaks["split"] == split).sum())
        n_bg = int((bg["split"] == split).sum())
        assert n_bg == round(n_peaks / 2)  # ratio 1: one class's worth, per split
        assert meta["counts"][split][BACKGROUND] == n_bg == res.counts()[split][BACKGROUND]
    for _, r in bg.iterrows():
        src = r["name"].rsplit(":shuffle", 1)[0]
        assert r["name"].endswith(":shuffle1")  # ratio 1: no peak shuffled twice
        source = peaks.loc[src]
        # a shuffle keeps its source's interval and split, and every dinucleotide count
        assert (r["chrom"], r["start"], r["end"], r["split"]) == (source["chrom"], source["start"],
                                                                  source["end"], source["split"])
        assert dinucleotides(seqs[r["name"]]) == dinucleotides(seqs[src]) and seqs[r["name"]] != seqs[src]
    # the sequence file follows the table (train, val, test), and loads
    assert [h for h, _ in read_fasta_records(tmp_path / "data" / "sequences.fa")] == regions["name"].tolist()
    order = {"train": 0, "val": 1, "test": 2}
    assert (np.diff([order[s] for s in regions["split"]]) >= 0).all()
    data = load_prepared(tmp_path / "data")
    assert data.class_names == ["KO", "WT", BACKGROUND] and data.conditions == ["KO", "WT"]
    assert set(np.unique(data.y)) == {0, 1, 2}
    summary = pd.read_csv(tmp_path / "data" / "summary.tsv", sep="\t")
    assert summary.loc[summary["class"] == BACKGROUND, "n"].tolist() == [
        int((bg["split"] == s).sum()) for s in ("train", "val", "test")]
    assert meta["class_weights"] == [1.0, 1.0, 1.0]
    # seeded: the same seed gives the same files, another seed other shuffles
    prepare(tmp_path / "again", wt=[sim["wt"]], ko=[sim["ko"]], width=120, seed=0, background="shuffle")
    assert (tmp_path / "again" / "sequences.fa").read_bytes() == (tmp_path / "data" / "sequences.fa").read_bytes()
    prepare(tmp_path / "other", wt=[sim["wt"]], ko=[sim["ko"]], width=120, seed=1, background="shuffle")
    assert (tmp_path / "other" / "sequences.fa").read_bytes() != (tmp_path / "data" / "sequences.fa").read_bytes()


def test_background_ratio_shuffles_every_peak_before_any_twice(sim, tmp_path):
    prepare(tmp_path / "data", wt=[sim["wt"]], ko=[sim["ko"]], width=120, seed=0, background="shuffle",
            background_ratio=3)
    regions, seqs = _prepared(tmp_path / "data")
    meta = json.loads((tmp_path / "data" / "meta.json").read_text())
    bg = regions[regions["class"] == BACKGROUND]
    peaks = regions[regions["class"] != BACKGROUND]
    for split in ("train", "test"):
        n_peaks = int((peaks["split"] == split).sum())
        sub = bg[bg["split"] == split]
        assert len(sub) == round(3 * n_peaks / 2)
        copies = Counter(n.rsplit(":shuffle", 1)[0] for n in sub["name"])
        assert max(copies.values()) - min(copies.values()) <= 1 and len(copies) == n_peaks
    # three background windows per two peak windows: inverse-frequency loss weights
    n = Counter(regions.loc[regions["split"] == "train", "label"])
    total = sum(n.values())
    assert meta["class_weights"] == pytest.approx([total / (3 * n[i]) for i in range(3)], rel=1e-5)
    assert len(set(seqs)) == len(seqs)


def _peaks(tmp_path, seed, n):
    r = np.random.default_rng(seed)
    starts = np.sort(r.integers(1_000, CONTIG_LEN - 2_000, size=n))
    path = tmp_path / f"peaks{seed}.bed"
    path.write_text("".join(f"{CONTIG}\t{s}\t{s + 300}\n" for s in starts))
    return path


def test_genomic_background_is_gc_matched_outside_every_peak(tmp_path):
    from scipy.stats import ks_2samp

    wt, ko = _peaks(tmp_path, 1, 60), _peaks(tmp_path, 2, 60)
    extra = _peaks(tmp_path, 3, 40)  # peaks of neither class: no background window may overlap them
    prepare(tmp_path / "data", wt=[wt, extra], ko=[ko], genome=GENOME, width=400, test_chroms=(), seed=0,
            background="genomic")
    regions, seqs = _prepared(tmp_path / "data")
    genome = "".join(GENOME.read_text().splitlines()[1:])
    bg = regions[regions["class"] == BACKGROUND]
    peaks = regions[regions["class"] != BACKGROUND]
    assert len(bg) == round(len(peaks) / 2)
    assert (bg["source"] == "background:genomic").all() and (bg["end"] - bg["start"] == 400).all()
    intervals = [tuple(map(int, line.split("\t")[1:3])) for p in (wt, ko, extra)
                 for line in p.read_text().splitlines()]
    intervals += list(zip(peaks["start"], peaks["end"]))
    for _, r in bg.iterrows():
        assert seqs[r["name"]] == genome[r["start"]:r["end"]]  # the genome there, 0-based half-open
        assert not any(s < r["end"] and r["start"] < e for s, e in intervals), r["name"]
    assert len(set(zip(bg["start"], bg["split"]))) == len(bg) and bg["start"].is_unique

    def gc(s):
        s = s.upper()
        return (s.count("G") + s.count("C")) / len(s)

    g_bg = [gc(seqs[n]) for n in bg["name"]]
    g_pk = [gc(seqs[n]) for n in peaks["name"]]
    assert abs(np.mean(g_bg) - np.mean(g_pk)) < 0.02
    assert ks_2samp(g_bg, g_pk).pvalue > 0.05
    meta = json.loads((tmp_path / "data" / "meta.json").read_text())
    assert meta["background"]["kind"] == "genomic"
    assert meta["background"]["splits"]["train"]["n"] == int((bg["split"] == "train").sum())


def test_background_option_errors_before_any_work(sim, tmp_path):
    with pytest.raises(InputError, match="--genome"):
        prepare(tmp_path / "a", wt=[sim["wt"]], ko=[sim["ko"]], width=120, background="genomic")
    with pytest.raises(InputError, match="background"):
        prepare(tmp_path / "b", wt=[sim["wt"]], ko=[sim["ko"]], width=120, background="shuffle",
                class_names=("KO", "background"))
    with pytest.raises(InputError, match="--background"):
        prepare(tmp_path / "c", wt=[sim["wt"]], ko=[sim["ko"]], width=120, background="dinuc")
    with pytest.raises(InputError, match="ratio"):
        prepare(tmp_path / "d", wt=[sim["wt"]], ko=[sim["ko"]], width=120, background="shuffle",
                background_ratio=0)
    assert not any((tmp_path / n).exists() for n in "abcd")
    from wtko_captum.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["prepare", "--wt", str(sim["wt"]), "--ko", str(sim["ko"]), "--width", "120", "--background",
              "shuffle", "--background-ratio", "-1", "-o", str(tmp_path / "e")])
    assert exit_.value.code == 2 and not (tmp_path / "e").exists()
    assert main(["prepare", "--wt", str(sim["wt"]), "--ko", str(sim["ko"]), "--width", "120", "--background",
                 "shuffle", "-q", "-o", str(tmp_path / "f")]) == 0
    assert load_prepared(tmp_path / "f").class_names == ["KO", "WT", BACKGROUND]


def test_train_and_evaluate_three_classes_report_wt_vs_ko_on_its_own(sim, tmp_path):
    """A model of three classes trains and evaluates; metrics.json holds the per-class metrics
    and, on their own rows, the WT-vs-KO metrics of P(WT) / (P(WT) + P(KO))."""
    import torch
    from sklearn.metrics import average_precision_score, roc_auc_score

    from wtko_captum.training.evaluate import evaluate
    from wtko_captum.training.train import train

    torch.set_num_threads(1)
    prepare(tmp_path / "data", wt=[sim["wt"]], ko=[sim["ko"]], width=120, seed=0, background="shuffle")
    model = train(tmp_path / "data", tmp_path / "model", epochs=2, batch_size=32, accumulation=1, device="cpu",
                  verbose=False, model_options=dict(n_filters=8, n_filters2=8, hidden=8))
    ckpt = torch.load(model, weights_only=True)
    assert list(ckpt["class_names"]) == ["KO", "WT", BACKGROUND]
    history = pd.read_csv(tmp_path / "model" / "metrics.csv")
    assert "val_auroc_WT-vs-KO" in history
    m = evaluate(model, tmp_path / "data", tmp_path / "eval", split="all", device="cpu")
    pred = pd.read_csv(tmp_path / "eval" / "predictions.tsv", sep="\t")
    assert set(m) >= {"KO", "WT", BACKGROUND} and len(m["confusion_matrix"]["matrix"]) == 3
    two = pred[pred["class"] != BACKGROUND]
    score = two["prob_WT"] / (two["prob_WT"] + two["prob_KO"])
    truth = (two["class"] == "WT").astype(int)
    c = m["contrast"]
    assert c["contrast"] == "WT-vs-KO" and c["n"] == len(two)
    assert c["auroc"] == pytest.approx(roc_auc_score(truth, score), abs=1e-4)
    assert c["auprc"] == pytest.approx(average_precision_score(truth, score), abs=1e-4)
    assert c["accuracy"] == pytest.approx(float(((score > 0.5) == truth).mean()))
