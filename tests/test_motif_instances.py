"""prepare --motif-instances: bound vs unbound instances of one motif (AgentBind's task).

A seeded synthetic genome (chr1..chr8, so the default splits test chr6,chr7 / val chr8 apply)
carries GATA1 sites sampled from the JASPAR matrix on both strands; a bound set covers some of
them. Every check recomputes its expectation independently: FIMO over each whole chromosome
(memelite, no tiling), overlaps by brute force, GC from the written sequences, windows
re-extracted from the genome text.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wtko_captum.cli import main
from wtko_captum.core.dataset import load_prepared, read_fasta_records
from wtko_captum.core.errors import InputError
from wtko_captum.core.motif_db import find_motif, load_motifs
from wtko_captum.core.sequence import one_hot, reverse_complement
from wtko_captum.preparation import motif_instances as mi
from wtko_captum.preparation.motif_instances import prepare_motif_instances

DATA = Path(__file__).parent / "data"
MOUSE = DATA / "genomes" / "mouse_chr17_1Mb_region.fa"
MOUSE_ATAC = DATA / "peaks" / "atac_liver_vs_lung.chr17_region.bed"
CHROM_LEN = 40_000
N_SITES = 36  # planted per chromosome


@pytest.fixture(scope="module")
def gata1():
    return find_motif(load_motifs(), "MA0035.4")


def _sample(rng, pwm) -> str:
    cum = np.cumsum(pwm, axis=0)
    idx = np.minimum((rng.random(pwm.shape[1])[None, :] >= cum).sum(axis=0), 3)
    return "".join("ACGT"[i] for i in idx)


@pytest.fixture(scope="module")
def genome(tmp_path_factory, gata1):
    """``dict(fa=, bound=, seqs={chrom: str}, planted=[(chrom, start, end, strand)], bound_ivs=)``."""
    root = tmp_path_factory.mktemp("mi_genome")
    rng = np.random.default_rng(7)
    _, pwm = gata1
    w = pwm.shape[1]
    seqs, planted, bound = {}, [], []
    for c in range(1, 9):
        chrom = f"chr{c}"
        s = list(rng.choice(list("ACGT"), CHROM_LEN, p=[0.3, 0.2, 0.2, 0.3]))
        starts = 600 + np.arange(N_SITES) * 1_000 + rng.integers(0, 300, N_SITES)
        for k, st in enumerate(starts):
            site = _sample(rng, pwm)
            strand = "+" if rng.random() < 0.5 else "-"
            s[st:st + w] = list(site if strand == "+" else reverse_complement(site))
            planted.append((chrom, int(st), int(st + w), strand))
            if k % 3 == 0:  # a third of the sites lie in a peak (some peaks only touch the site)
                left = int(rng.integers(0, 150))
                bound.append((chrom, int(st) - left, int(st) + w - 1 + int(rng.integers(0, 150))))
        s[CHROM_LEN - 500:CHROM_LEN - 300] = ["N"] * 200  # an assembly gap
        seqs[chrom] = "".join(s)
    fa = root / "genome.fa"
    fa.write_text("".join(f">{c}\n" + "\n".join(s[i:i + 70] for i in range(0, len(s), 70)) + "\n"
                          for c, s in seqs.items()))
    bed = root / "bound.bed"
    bed.write_text("".join(f"{c}\t{a}\t{b}\tpeak{i}\n" for i, (c, a, b) in enumerate(bound)))
    return dict(fa=fa, bound=bed, seqs=seqs, planted=planted, bound_ivs=bound, root=root)


def _fimo_reference(seqs, key, pwm, pvalue) -> set:
    """{(chrom, start, strand)} from memelite FIMO over each whole chromosome at once, minus
    windows holding an N (FIMO proper never scores those)."""
    from memelite import fimo

    out = set()
    w = pwm.shape[1]
    for chrom, s in seqs.items():
        df = fimo({key: pwm}, one_hot([s]), threshold=pvalue)[0]
        for st, strand in zip(df["start"], df["strand"]):
            if "N" not in s[st:st + w]:
                out.add((chrom, int(st), strand))
    return out


# ----------------------------------------------------------------------------- scanning
def test_scan_tiles_equal_one_whole_chromosome_scan(genome, gata1, monkeypatch):
    from wtko_captum.core.genome import open_genome

    key, pwm = gata1
    monkeypatch.setattr(mi, "TILE", 997)  # many tiles and tile edges, an odd size on purpose
    monkeypatch.setattr(mi, "TILES_PER_CALL", 5)
    hits = mi.scan_motif(open_genome(genome["fa"]), key, pwm, pvalue=1e-3)
    got = set(zip(hits["chrom"], hits["start"], hits["strand"]))
    assert got == _fimo_reference(genome["seqs"], key, pwm, 1e-3)
    assert (hits["end"] - hits["start"] == pwm.shape[1]).all()
    assert not hits.duplicated(["chrom", "start", "strand"]).any()


def test_scan_finds_planted_sites_on_both_strands(genome, gata1):
    from wtko_captum.core.genome import open_genome

    key, pwm = gata1
    hits = mi.scan_motif(open_genome(genome["fa"]), key, pwm, pvalue=1e-4)
    found = set(zip(hits["chrom"], hits["start"], hits["strand"]))
    planted = {(c, s, strand) for c, s, _, strand in genome["planted"]}
    # sites sampled from the matrix are not all strong (measured: 57% pass p < 1e-4 on the strand
    # they were planted on); background sequence of this size holds only a few chance hits
    assert len(planted & found) > 0.45 * len(planted)
    assert len(found - planted) < 0.5 * len(found)
    for strand in "+-":
        assert sum(1 for p in planted & found if p[2] == strand) > 0.2 * len(planted)
    # the reported strand reads the motif: the + strand sequence (or its reverse complement) scores best
    seqs = genome["seqs"]
    for chrom, s, strand in sorted(planted & found)[:20]:
        site = seqs[chrom][s:s + pwm.shape[1]]
        motif_strand = site if strand == "+" else reverse_complement(site)
        lo = np.log(pwm[["ACGT".index(b) for b in motif_strand], np.arange(pwm.shape[1])]).sum()
        other = reverse_complement(motif_strand)
        lo_other = np.log(pwm[["ACGT".index(b) for b in other], np.arange(pwm.shape[1])]).sum()
        assert lo >= lo_other


def test_no_instance_in_an_n_run_even_for_a_weak_motif(genome, tmp_path):
    from wtko_captum.core.genome import open_genome

    weak = np.full((4, 6), 0.25)
    weak[0, 0] = 0.4
    weak[1:, 0] = 0.2
    hits = mi.scan_motif(open_genome(genome["fa"]), "weak", weak, pvalue=0.5)
    gap = CHROM_LEN - 500, CHROM_LEN - 300
    assert len(hits) > 1000
    assert not ((hits["end"] > gap[0]) & (hits["start"] < gap[1])).any()


def test_one_instance_per_site():
    hits = pd.DataFrame({"chrom": ["c", "c", "c", "c"], "start": [10, 10, 30, 30], "end": [21, 21, 41, 41],
                         "strand": ["+", "-", "+", "-"], "score": [5.0, 6.0, 4.0, 4.0],
                         "p_value": [1e-4, 1e-5, 2e-4, 2e-4]})
    keep, other = mi.one_per_site(hits)
    assert list(zip(keep["start"], keep["strand"])) == [(10, "-"), (30, "+")]  # better p; + on a tie
    assert list(zip(other["start"], other["strand"])) == [(10, "+"), (30, "-")]


# ----------------------------------------------------------------------------- the prepared directory
@pytest.fixture(scope="module")
def prepared(genome, tmp_path_factory):
    root = tmp_path_factory.mktemp("mi_out")
    kw = dict(width=300, pvalue=1e-4, pvalue_bin=0.5, seed=3)
    plain = prepare_motif_instances(root / "plain", "GATA1", genome["bound"], genome["fa"], **kw)
    masked = prepare_motif_instances(root / "masked", "GATA1", genome["bound"], genome["fa"], mask_core=True, **kw)
    gc = prepare_motif_instances(root / "gc", "GATA1", genome["bound"], genome["fa"], match_gc=True,
                                 gc_bin=0.1, **kw)
    return dict(plain=plain, masked=masked, gc=gc)


def _instances(res) -> pd.DataFrame:
    return pd.read_csv(res.path / "instances.tsv", sep="\t", dtype={"chrom": str}, keep_default_na=False)


def test_instances_table_records_every_instance(prepared, genome, gata1):
    key, pwm = gata1
    t = _instances(prepared["plain"])
    assert list(t.columns) == mi.INSTANCE_COLUMNS
    assert list(t["instance"]) == list(range(len(t)))
    # every FIMO site, one row per site (both strands of one site are one instance)
    ref = _fimo_reference(genome["seqs"], key, pwm, 1e-4)
    assert set(zip(t["chrom"], t["start"])) == {(c, s) for c, s, _ in ref}
    assert len(t) == len({(c, s) for c, s, _ in ref})
    assert (t["p_value"].astype(float) < 1e-4).all() and set(t["strand"]) == {"+", "-"}
    assert np.allclose(t["neg_log10_p"].astype(float), -np.log10(t["p_value"].astype(float)), atol=1e-5)
    # labels: overlap with a bound peak by at least one base, by brute force
    for _, r in t.iterrows():
        hit = [(a, b) for c, a, b in genome["bound_ivs"] if c == r["chrom"] and a < r["end"] and b > r["start"]]
        assert r["label"] == int(bool(hit)) and r["class"] == ["unbound", "bound"][int(bool(hit))]
        assert (r["peak"] != "") == bool(hit)
    # kept rows are exactly regions.tsv (which points back at them by line), reasons say why not
    data = load_prepared(prepared["plain"].path)
    kept = t[t["kept"] == "yes"]
    assert len(kept) == len(data) and (kept["reason"] == "").all()
    assert set(data.regions["line"] - 2) == set(kept["instance"])
    assert set(t.loc[t["kept"] == "no", "reason"]) <= {"crosses_chrom_end", "too_many_N", "no_partner_in_bin",
                                                       "matching_downsampled"}
    meta = json.loads((prepared["plain"].path / "meta.json").read_text())
    assert meta["kind"] == "motif_instances" and meta["class_names"] == ["unbound", "bound"]
    assert meta["motif_instances"]["motif"] == "MA0035.4 GATA1"


def test_windows_round_trip_and_centre_on_the_instance(prepared, genome):
    data = load_prepared(prepared["plain"].path)
    seqs = dict(read_fasta_records(prepared["plain"].path / "sequences.fa"))
    assert data.width == 300 and data.X.shape[1:] == (4, 300)
    for _, r in data.regions.iterrows():
        assert seqs[r["name"]] == genome["seqs"][r["chrom"]][r["start"]:r["end"]]
        assert r["end"] - r["start"] == 300
        assert r["summit"] == r["peak_start"] + (r["peak_end"] - r["peak_start"]) // 2
        assert r["start"] == r["summit"] - 150
        assert "N" not in seqs[r["name"]]  # --max-n 0 by default


def test_pvalue_bins_hold_equal_counts_per_split(prepared):
    t = _instances(prepared["plain"])
    eligible = t[t["reason"].isin(["", "no_partner_in_bin", "matching_downsampled"])]
    kept = t[t["kept"] == "yes"]
    assert len(kept) > 40 and set(kept["split"]) == {"train", "val", "test"}
    bins = eligible.groupby(["split", "p_bin", "label"]).size().unstack(fill_value=0)
    kept_bins = kept.groupby(["split", "p_bin", "label"]).size().unstack(fill_value=0).reindex(bins.index, fill_value=0)
    assert (kept_bins[0] == kept_bins[1]).all()
    assert (kept_bins[1] == bins.min(axis=1)).all()  # as many pairs as the bin allows
    # bin = floor(-log10 p / 0.5)
    assert (t["p_bin"] == np.floor(t["neg_log10_p"].astype(float) / 0.5 + 1e-9).astype(int)).all()
    # splits by chromosome, as prepare does
    assert set(kept.loc[kept["split"] == "test", "chrom"]) <= {"chr6", "chr7"}
    assert set(kept.loc[kept["split"] == "val", "chrom"]) == {"chr8"}
    summary = prepared["plain"].summary
    for split in ("train", "val", "test"):
        n = summary[summary["split"] == split].set_index("class")["n"]
        assert n["bound"] == n["unbound"]


def test_gc_matching(prepared):
    res = prepared["gc"]
    t = _instances(res)
    kept = t[t["kept"] == "yes"]
    key = ["split", "p_bin", "gc_bin"]
    per = kept.groupby(key + ["label"]).size().unstack(fill_value=0)
    assert len(per) > 3 and (per[0] == per[1]).all()
    # GC is the window's own G+C fraction: recompute it from the written sequences
    data = load_prepared(res.path)
    seqs = dict(read_fasta_records(res.path / "sequences.fa"))
    gc = data.regions["name"].map(lambda n: (seqs[n].count("G") + seqs[n].count("C")) / len(seqs[n]))
    by_instance = kept.set_index("instance")["gc"].astype(float)
    assert np.allclose(gc.to_numpy(), by_instance.loc[data.regions["line"] - 2].to_numpy())
    assert (kept["gc_bin"] == np.floor(kept["gc"].astype(float) / 0.1 + 1e-9).astype(int)).all()
    # matching on GC too keeps no more pairs than p-value matching alone
    assert len(kept) <= (_instances(prepared["plain"])["kept"] == "yes").sum()


def test_mask_core_zeroes_the_core_columns_and_nothing_else(prepared):
    plain, masked = load_prepared(prepared["plain"].path), load_prepared(prepared["masked"].path)
    assert list(plain.regions["name"]) == list(masked.regions["name"])  # same seed: same windows
    core = np.zeros((len(plain), plain.width), dtype=bool)
    for i, r in enumerate(plain.regions.itertuples()):
        core[i, r.peak_start - r.start:r.peak_end - r.start] = True
    assert core.sum(axis=1).min() == 11  # GATA1 MA0035.4 is 11 bp
    assert (masked.X.transpose(0, 2, 1)[core] == 0).all()
    assert (plain.X.transpose(0, 2, 1)[core].sum(axis=1) == 1).all()
    assert np.array_equal(masked.X.transpose(0, 2, 1)[~core], plain.X.transpose(0, 2, 1)[~core])


def test_prepared_directory_trains_and_attributes_unchanged(prepared, tmp_path):
    import torch

    from wtko_captum.attribution.attribute_prepared import attribute_prepared
    from wtko_captum.core.attribution_set import AttributionSet
    from wtko_captum.training.train import train

    torch.set_num_threads(1)
    path = prepared["masked"].path
    model = train(path, tmp_path / "model", epochs=1, batch_size=16, accumulation=1, device="cpu", verbose=False,
                  model_options=dict(n_filters=8, n_filters2=8, hidden=8))
    out = attribute_prepared(model, path, tmp_path / "attr", ["saliency"], target=1, device="cpu")
    aset = AttributionSet.load(out["saliency"])
    data = load_prepared(path).split("test")
    assert np.array_equal(aset.X, data.X) and list(aset.regions["name"]) == list(data.regions["name"])
    assert list(aset.regions["peak_start"]) == list(data.regions["peak_start"])
    assert aset.class_names == ["unbound", "bound"]


def test_fraction_splits_keep_overlapping_windows_together():
    inst = pd.DataFrame({"chrom": ["a"] * 8, "window_start": [0, 50, 90, 500, 520, 2000, 2100, 5000],
                         "window_end": [100, 150, 190, 600, 620, 2100, 2200, 5100]})
    assert list(mi._overlap_clusters(inst)) == [0, 0, 0, 1, 1, 2, 3, 4]  # 2000-2100 and 2100-2200 only touch
    split, notes = mi.assign_splits(inst, test_chroms=(), val_chroms=(), test_fraction=0.3, val_fraction=0.3,
                                    seed=0)
    clusters = mi._overlap_clusters(inst)
    for c in set(clusters):
        assert len(set(split[clusters == c])) == 1
    assert {"train", "val", "test"} <= set(split) and "clusters" in notes["test"]


def test_match_bins_by_hand():
    labels = np.array([1, 1, 1, 0, 0, 1, 0, 0, 0, 1])
    strata = np.array([("a", 1), ("a", 1), ("a", 1), ("a", 1), ("a", 1), ("a", 2), ("a", 2), ("a", 2), None,
                       ("a", 3)], dtype=object)
    keep, bins = mi.match_bins(labels, strata, np.random.default_rng(0))
    assert bins == {("a", 1): (3, 2, 2), ("a", 2): (1, 2, 1), ("a", 3): (1, 0, 0)}
    assert keep[[3, 4, 5]].all() and keep[:3].sum() == 2 and keep[[6, 7]].sum() == 1
    assert not keep[8] and not keep[9]


# ----------------------------------------------------------------------------- the bundled real genome
def test_real_mouse_region_end_to_end_cli(tmp_path, capsys):
    """GATA1 instances on the bundled 1 Mb of mouse chr17, labelled by the real ATAC peaks of
    that region (7 peaks, coordinates shifted onto the contig); no chromosome to hold out, so
    the splits are seeded fractions of clusters."""
    out = tmp_path / "data"
    rc = main(["prepare", "--motif-instances", "GATA1", "--bound", str(MOUSE_ATAC), "--genome", str(MOUSE),
               "--width", "400", "--pvalue", "1e-3", "--match-pvalue-bins", "0.5", "--test-fraction", "0.2",
               "--mask-core", "-q", "-o", str(out)])
    assert rc == 0
    t = pd.read_csv(out / "instances.tsv", sep="\t", keep_default_na=False)
    peaks = pd.read_csv(MOUSE_ATAC, sep="\t", header=None)
    bound = t[t["label"] == 1]
    assert len(bound) >= 5 and (t["label"] == 0).sum() > 500
    for _, r in bound.iterrows():
        assert ((peaks[1] < r["end"]) & (peaks[2] > r["start"])).any()
    data = load_prepared(out)
    assert (data.y == 1).sum() == (data.y == 0).sum() > 0
    assert data.width == 400 and (out / "matching.png").stat().st_size > 5000


# ----------------------------------------------------------------------------- errors
def _run_error(tmp_path, capsys, *args) -> str:
    out = tmp_path / "out"
    rc = main(["prepare", *map(str, args), "-o", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err[-1].startswith("wtko prepare: error: ")
    assert not any("Traceback" in line for line in err)
    assert not out.exists()
    return err[-1]


def test_bad_motif_id(genome, tmp_path, capsys):
    msg = _run_error(tmp_path, capsys, "--motif-instances", "GATA7", "--bound", genome["bound"],
                     "--genome", genome["fa"])
    assert "motif 'GATA7' not found" in msg and "GATA2" in msg


def test_empty_bound_set(genome, tmp_path, capsys):
    empty = tmp_path / "empty.bed"
    empty.write_text("# no peaks\n")
    msg = _run_error(tmp_path, capsys, "--motif-instances", "GATA1", "--bound", empty, "--genome", genome["fa"])
    assert "bound set is empty" in msg and "empty.bed" in msg
    other = tmp_path / "other.bed"
    other.write_text("1\t100\t200\n")
    msg = _run_error(tmp_path, capsys, "--motif-instances", "GATA1", "--bound", other, "--genome", genome["fa"])
    assert "bound set is empty on this genome" in msg and "did you mean 'chr1'" in msg
    far = tmp_path / "far.bed"  # on the genome, but over no instance
    far.write_text("chr1\t20\t25\n")
    msg = _run_error(tmp_path, capsys, "--motif-instances", "GATA1", "--bound", far, "--genome", genome["fa"])
    assert "overlaps a peak of the bound set" in msg


def test_no_bin_holds_both_classes(genome, tmp_path, capsys):
    # every instance on the test chromosomes is bound and every other one unbound: matching is
    # within a split, so no bin of any split holds both classes
    bed = tmp_path / "test_chroms.bed"
    bed.write_text(f"chr6\t0\t{CHROM_LEN}\nchr7\t0\t{CHROM_LEN}\n")
    msg = _run_error(tmp_path, capsys, "--motif-instances", "GATA1", "--bound", bed, "--genome", genome["fa"],
                     "--width", "300")
    assert "no -log10 p bin holds both bound and unbound instances" in msg
    assert "train: 0 bound and" in msg and " 0 unbound in " in msg


def test_library_errors_before_writing(genome, tmp_path):
    with pytest.raises(InputError, match="--width"):
        prepare_motif_instances(tmp_path / "x", "GATA1", genome["bound"], genome["fa"], width=0)
    with pytest.raises(InputError, match="no instance of MA0035.4 GATA1"):
        prepare_motif_instances(tmp_path / "x", "GATA1", genome["bound"], genome["fa"], pvalue=1e-12)
    assert not (tmp_path / "x").exists()


def test_cli_refuses_mixed_inputs(genome, tmp_path, capsys):
    msg = _run_error(tmp_path, capsys, "--motif-instances", "GATA1", "--wt", genome["bound"], "--genome", genome["fa"])
    assert "--motif-instances replaces --wt/--ko/--table" in msg
    msg = _run_error(tmp_path, capsys, "--motif-instances", "GATA1", "--genome", genome["fa"])
    assert "needs --bound" in msg


# ----------------------------------------------------------------------------- 5-mers without the core
def test_kmer_enrichment_excludes_the_core(prepared, tmp_path, capsys):
    from wtko_captum.core.attribution_set import AttributionSet
    from wtko_captum.motifs.enrich import core_mask, kmer_enrichment

    data = load_prepared(prepared["plain"].path)
    core = np.zeros((len(data), data.width), dtype=bool)
    for i, r in enumerate(data.regions.itertuples()):
        core[i, r.peak_start - r.start:r.peak_end - r.start] = True
    # the core scores far above everything else: without exclusion it owns the top 5-mers
    weight = np.where(core, 10.0, np.random.default_rng(0).random(core.shape)).astype(np.float32)
    aset = AttributionSet(data.X, data.X * weight[:, None, :], data.regions, method="toy", target=1,
                          class_names=["unbound", "bound"])
    assert np.array_equal(core_mask(aset, data), core)
    k = 5
    bound = data.y == 1
    plain = kmer_enrichment(aset, k, positive=1)
    excl = kmer_enrichment(aset, k, positive=1, exclude=core)
    per_seq = data.width - k + 1
    assert plain["n_total"].sum() == bound.sum() * per_seq
    # a window touches the 11 bp core when it starts in [core_start - 4, core_end): 15 starts
    assert excl["n_total"].sum() == bound.sum() * (per_seq - (11 + k - 1))
    # without exclusion the best k-mer is a core k-mer, in the top far more often than with it
    cores = [s[r.peak_start - r.start:r.peak_end - r.start] for s, r in zip(data.sequences, data.regions.itertuples())]
    best = plain.iloc[0]["kmer"]
    assert best in "".join(cores)
    assert excl.set_index("kmer")["n_top"].get(best, 0) < plain.iloc[0]["n_top"] / 3
    assert excl["n_top"].sum() == max(1, round(0.01 * excl["n_total"].sum()))
    # through the command: --exclude-core needs motif-instance data and a k-mer run
    aset.save(tmp_path / "attr")
    rc = main(["enrich", str(prepared["plain"].path), "--split", "all", "--attr", str(tmp_path / "attr"),
               "--kmer-enrichment", "5", "--kmer-class", "bound", "--exclude-core", "-q", "-o", str(tmp_path / "k")])
    assert rc == 0
    table = pd.read_csv(tmp_path / "k" / "kmer_enrichment.tsv", sep="\t")
    assert table["n_total"].sum() == excl["n_total"].sum()
    rc = main(["enrich", str(prepared["plain"].path), "--exclude-core", "-q", "-o", str(tmp_path / "k2")])
    assert rc == 2 and "--kmer-enrichment" in capsys.readouterr().err


def test_help_example_is_a_command_that_parses(capsys):
    """The --help example can be pasted into a shell: its continuation line survives and the
    shell words parse to the documented options."""
    import shlex

    from wtko_captum.cli import build_parser

    with pytest.raises(SystemExit):
        main(["prepare", "--help"])
    text = capsys.readouterr().out
    start = text.index("wtko prepare --motif-instances")
    first, second = text[start:].splitlines()[:2]
    assert first.endswith(" \\") and second.lstrip().startswith("--width 1000")
    words = shlex.split(first[:-1] + second)
    args = build_parser().parse_args(words[1:])
    assert (args.motif_instances, args.bound, args.genome, args.width) == ("GATA1", "GATA1_chip.narrowPeak",
                                                                         "mm10.fa", 1000)
    assert args.match_pvalue_bins == 0.1 and args.match_gc and args.mask_core and str(args.out) == "data/"
