"""Any FASTA pair a user has runs through prepare -> train -> attribute -> kmers -> tomtom (the
CLI, in process), tracks say why they cannot use sequences without coordinates or write them
in sequence coordinates, and chromosome folds work from prepare to the averaged bigWig."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wtko_captum.cli import main
from wtko_captum.core.attribution_set import AttributionSet
from wtko_captum.core.dataset import load_prepared, read_fasta_records

DATA = Path(__file__).parent / "data"
OCT4, MAFK = DATA / "sequences" / "oct4_mafk_small" / "oct4.fa", DATA / "sequences" / "oct4_mafk_small" / "mafk.fa"
HG19 = DATA / "genomes" / "hg19.chrom.sizes"


@pytest.fixture(autouse=True)
def _torch_threads_kept():
    """memelite's Tomtom sets numba's thread count (n_jobs=-1), and numba's OpenMP layer shares
    it with torch: restore torch's count so later tests run as configured."""
    import torch

    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def wtko(*args) -> int:
    return main([str(a) for a in args])


def user_pair(tmp_path) -> tuple[Path, Path]:
    """Oct4 as a simulator writes it (plain names), MafK as a strain-specific peak set writes it
    (chrom_start_end_strain headers, a 3 bp deletion in every 5th sequence)."""
    oct4 = "".join(f">oct4_{i} bound\n{s}\n" for i, (_, s) in enumerate(read_fasta_records(OCT4)))
    lines = []
    for i, (h, s) in enumerate(read_fasta_records(MAFK)):
        chrom, rng = h.split(":")
        start, end = rng.split("-")
        lines.append(f">{chrom}_{start}_{end}_BALBC_{i}\n{s[:90] + s[93:] if i % 5 == 0 else s}\n")
    (tmp_path / "oct4_sim.fa").write_text(oct4)
    (tmp_path / "mafk_balbc.fa").write_text("".join(lines))
    return tmp_path / "oct4_sim.fa", tmp_path / "mafk_balbc.fa"


def expand_bedgraph(path) -> dict[tuple[str, int], float]:
    """``{(chrom, base): value}`` from a bedGraph (merged runs expanded)."""
    out = {}
    for line in Path(path).read_text().splitlines():
        if line.startswith("track"):
            continue
        chrom, s, e, v = line.split("\t")
        for b in range(int(s), int(e)):
            out[(chrom, b)] = float(v)
    return out


@pytest.mark.slow
def test_any_fasta_pair_prepare_train_attribute_kmers_tomtom(tmp_path, capsys):
    wt, ko = user_pair(tmp_path)
    assert wtko("prepare", "--wt", wt, "--ko", ko, "--width", "120", "--wt-name", "Oct4", "--ko-name", "MafK",
                "-q", "-o", tmp_path / "data") == 0
    data = load_prepared(tmp_path / "data")
    assert data.meta["splits"]["scheme"] == "hash"  # the plain names have no chromosome
    assert set(data.regions["coordinates"]) == {"genome", "sequence"}
    assert wtko("train", tmp_path / "data", "--epochs", "1", "--batch-size", "32", "--device", "cpu", "-q",
                "-o", tmp_path / "model") == 0
    assert wtko("attribute", tmp_path / "model" / "model.pt", tmp_path / "data", "--split", "all",
                "--method", "saliency", "--device", "cpu", "-q", "-o", tmp_path / "attr") == 0
    assert wtko("kmers", tmp_path / "attr" / "saliency", "--clusters", "3", "--min-cluster-size", "2", "-q",
                "-o", tmp_path / "motifs") == 0
    assert wtko("tomtom", tmp_path / "motifs" / "clusters.meme", "-q", "-o", tmp_path / "motifs" / "tomtom.tsv") == 0
    tom = pd.read_csv(tmp_path / "motifs" / "tomtom.tsv", sep="\t", comment="#")
    assert {"Query_ID", "Target_ID", "q-value"} <= set(tom.columns) and len(tom)
    # modisco and known-motif enrichment need no genome position either
    assert wtko("modisco", tmp_path / "attr" / "saliency", "-q", "-o", tmp_path / "modisco") == 0
    assert (tmp_path / "modisco" / "seqlets.bed").is_file()
    assert wtko("enrich", tmp_path / "data", "--split", "all", "-q", "-o", tmp_path / "enrich") == 0
    enr = pd.read_csv(tmp_path / "enrich" / "enrichment.tsv", sep="\t")
    n = data.regions["class"].value_counts()
    assert (enr["n_Oct4"] == n["Oct4"]).all() and (enr["n_MafK"] == n["MafK"]).all() and len(enr) == 746
    # k-mers of sequences without coordinates lie in sequence coordinates: inside their window
    kmers = pd.read_csv(tmp_path / "motifs" / "kmers.bed", sep="\t")
    win = data.regions.set_index("chrom")
    seq_kmers = kmers[kmers["#chrom"].isin(win.index[win["coordinates"] == "sequence"])]
    assert len(seq_kmers)
    for chrom, s, e in zip(seq_kmers["#chrom"], seq_kmers["start"], seq_kmers["end"]):
        assert win.loc[chrom, "start"] <= s < e <= win.loc[chrom, "end"]
    seqs = dict(read_fasta_records(tmp_path / "data" / "sequences.fa"))
    row = seq_kmers.iloc[0]
    w = win.loc[row["#chrom"]]
    assert seqs[row["#chrom"]][row["start"] - w["start"]:row["end"] - w["start"]].upper() == row["kmer"]

    # a bigWig needs genome positions: the windows without them are left out, and said so
    attr = AttributionSet.load(tmp_path / "attr" / "saliency")
    n_seq = int((attr.regions["coordinates"] == "sequence").sum())
    assert wtko("export", "bigwig", tmp_path / "attr" / "saliency", "--chrom-sizes", HG19,
                "-o", tmp_path / "tracks") == 0
    assert f"{n_seq} of {len(attr)} windows have no genome coordinates: left out of the bigWigs" in capsys.readouterr().err
    # bedGraph: every window, those without coordinates in their own sequence's coordinates
    assert wtko("export", "bedgraph", tmp_path / "attr" / "saliency", "--chrom-sizes", HG19, "--tracks", "projected",
                "-q", "-o", tmp_path / "bg") == 0
    values = expand_bedgraph(next((tmp_path / "bg").glob("*.projected.bedGraph")))
    projected = (attr.attr * attr.X).sum(axis=1)
    checked = 0
    for n in np.flatnonzero((attr.regions["coordinates"] == "sequence").to_numpy())[:10]:
        chrom, start = attr.regions["chrom"][n], int(attr.regions["start"][n])
        for i in np.flatnonzero(attr.X[n].any(axis=0)):
            assert values[(chrom, start + i)] == pytest.approx(float(projected[n, i]), rel=1e-6, abs=1e-12)
            checked += 1
        assert (chrom, start - 1) not in values and 0 <= min(b for c, b in values if c == chrom)
    assert checked > 500


@pytest.mark.slow
def test_only_sequences_without_coordinates_bigwig_refuses_bedgraph_needs_no_sizes(tmp_path, capsys):
    plain = [tmp_path / "a.fa", tmp_path / "b.fa"]
    for path, src in zip(plain, (OCT4, MAFK)):
        path.write_text("".join(f">{path.stem}{i}\n{s}\n" for i, (_, s) in enumerate(read_fasta_records(src)[:40])))
    assert wtko("prepare", "--wt", plain[0], "--ko", plain[1], "--width", "100", "--split", "random",
                "--test-fraction", "0.25", "-q", "-o", tmp_path / "data") == 0
    assert wtko("train", tmp_path / "data", "--epochs", "1", "--device", "cpu", "-q", "-o", tmp_path / "model") == 0
    assert wtko("attribute", tmp_path / "model" / "model.pt", tmp_path / "data", "--method", "saliency",
                "--device", "cpu", "-q", "-o", tmp_path / "attr") == 0
    capsys.readouterr()
    assert wtko("export", "bigwig", tmp_path / "attr" / "saliency", "--chrom-sizes", HG19, "-o", tmp_path / "bw") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "windows are sequences without genome coordinates, and a bigWig needs genome " \
                               "positions; `wtko export bedgraph` writes their tracks in sequence coordinates" in err[0]
    assert not (tmp_path / "bw").exists()
    assert wtko("export", "bedgraph", tmp_path / "attr" / "saliency", "-q", "-o", tmp_path / "bg") == 0
    lines = [ln.split("\t") for ln in next((tmp_path / "bg").glob("*.maxabs.bedGraph")).read_text().splitlines()[1:]]
    regions = AttributionSet.load(tmp_path / "attr" / "saliency").regions
    assert {ln[0] for ln in lines} == set(regions["chrom"])  # every test sequence, by its name
    # 200 bp trimmed to 100 around the centre: sequence positions 50..150
    assert (regions["start"] == 50).all() and (regions["end"] == 150).all()
    assert min(int(ln[1]) for ln in lines) == 50 and max(int(ln[2]) for ln in lines) == 150


@pytest.mark.slow
def test_folds_from_prepare_to_the_averaged_bigwig(tmp_path):
    import pyBigWig

    assert wtko("prepare", "--wt", OCT4, "--ko", MAFK, "--width", "120", "--folds", "3", "-q",
                "-o", tmp_path / "data") == 0
    data = load_prepared(tmp_path / "data")
    sets = []
    for i in range(3):
        assert wtko("train", tmp_path / "data", "--fold", i, "--epochs", "1", "--device", "cpu", "-q",
                    "-o", tmp_path / f"model{i}") == 0
        assert wtko("attribute", tmp_path / f"model{i}" / "model.pt", tmp_path / "data", "--split", "all",
                    "--method", "saliency", "--device", "cpu", "-q", "-o", tmp_path / f"attr{i}") == 0
        sets.append(AttributionSet.load(tmp_path / f"attr{i}" / "saliency"))
    # evaluation follows the checkpoint's fold: fold 1 held out
    assert wtko("evaluate", tmp_path / "model1" / "model.pt", tmp_path / "data", "--device", "cpu", "-q",
                "-o", tmp_path / "eval1") == 0
    import json

    metrics = json.loads((tmp_path / "eval1" / "metrics.json").read_text())
    assert metrics["n"] == int((data.regions["fold"] == 1).sum())
    # the three fold models' attributions over the same windows, averaged into one track
    assert wtko("export", "bigwig", *(tmp_path / f"attr{i}" / "saliency" for i in range(3)), "--chrom-sizes", HG19,
                "--tracks", "projected", "-q", "-o", tmp_path / "tracks") == 0
    mean = np.mean([(s.attr * s.X).sum(axis=1) for s in sets], axis=0)
    reg = sets[0].regions
    bw = pyBigWig.open(str(next((tmp_path / "tracks").glob("*.projected.bw"))))
    # windows that overlap no other window: the bigWig value is the mean of the three folds
    ordered = reg.sort_values(["chrom", "start"])
    lone = [n for n, (c, s, e) in enumerate(zip(reg["chrom"], reg["start"], reg["end"]))
            if ((ordered["chrom"] == c) & (ordered["start"] < e) & (ordered["end"] > s)).sum() == 1]
    assert len(lone) > 100
    for n in lone[:20]:
        got = np.array(bw.values(reg["chrom"][n], int(reg["start"][n]), int(reg["end"][n])))
        assert np.allclose(got, mean[n], rtol=1e-5, atol=1e-9)
        assert not np.allclose(got, (sets[0].attr[n] * sets[0].X[n]).sum(axis=0), rtol=1e-3)
    bw.close()
