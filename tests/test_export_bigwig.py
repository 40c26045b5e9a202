"""bigWig / bedGraph attribution tracks: read back with pyBigWig and compared base by base
against an independent brute-force reference built from the AttributionSet."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import random_onehot
from wtko_captum.core.attribution_set import AttributionSet
from wtko_captum.core.errors import InputError

pyBigWig = pytest.importorskip("pyBigWig")

SIZES = {"chrA": 700, "chrB": 400, "chrC": 1000}  # chrC has no windows
L = 40


def make_set(seed=0, n=60, method="saliency", hypothetical=True, x=None, regions=None):
    """Random windows on chrA/chrB that overlap heavily, with N runs and windows padded past
    both chromosome ends (start < 0, end > size), like `prepare` writes them."""
    r = np.random.default_rng(seed)
    if regions is None:
        chroms = r.choice(["chrB", "chrA"], size=n)
        starts = np.array([r.integers(-15, SIZES[c] - L + 15) for c in chroms])
        starts[:2], chroms[:2] = [-12, SIZES["chrB"] - L + 9], ["chrB", "chrB"]  # both edges
        regions = pd.DataFrame({"chrom": chroms, "start": starts, "end": starts + L,
                                "name": [f"r{i}" for i in range(n)]})
    if x is None:
        x = random_onehot(n, L, seed=seed + 100)
        for i in range(n):  # padding past the chromosome is N
            s, size = regions.start[i], SIZES[regions.chrom[i]]
            x[i, :, : max(0, -s)] = 0
            x[i, :, max(0, size - s):] = 0
        for i in r.choice(n, size=n // 4, replace=False):  # interior N runs
            a = r.integers(0, L - 5)
            x[i, :, a:a + r.integers(1, 5)] = 0
    attr = r.normal(size=x.shape).astype(np.float32)
    return AttributionSet(x, attr, regions, method, hypothetical=hypothetical)


def reference(sets, track, rule):
    """{(chrom, pos): value} by brute force over every base of every window."""
    X = sets[0].X
    attr = np.mean([s.attr.astype(np.float64) for s in sets], axis=0)
    per = {"projected": (attr * X).sum(1), "maxabs": np.abs(attr).max(1)}
    if track.startswith("hypothetical_"):
        vals = attr[:, "ACGT".index(track[-1])]
    else:
        vals = per[track]
    reg = sets[0].regions
    order = sorted(range(len(reg)), key=lambda i: (reg.start[i], i))
    cover: dict = {}
    for n in order:
        c, s = reg.chrom[n], int(reg.start[n])
        for i in range(L):
            p = s + i
            if 0 <= p < SIZES[c] and X[n, :, i].any():
                cover.setdefault((c, p), []).append((vals[n, i], abs(p + 0.5 - (s + L / 2))))
    out = {}
    for key, vs in cover.items():
        if rule == "mean":
            out[key] = np.mean([v for v, _ in vs])
        elif rule == "max-abs":
            out[key] = max(vs, key=lambda t: abs(t[0]))[0]  # max() keeps the first on ties
        else:
            out[key] = min(vs, key=lambda t: t[1])[0]
    return out


def read_all(path):
    bw = pyBigWig.open(str(path))
    try:
        assert bw.isBigWig()
        assert bw.chroms() == SIZES
        got = {}
        for c, size in SIZES.items():
            vals = np.array(bw.values(c, 0, size))
            for p in np.flatnonzero(~np.isnan(vals)):
                got[(c, int(p))] = vals[p]
        return got
    finally:
        bw.close()


def assert_same(got, exp):
    assert set(got) == set(exp), (sorted(set(got) ^ set(exp)))[:5]
    keys = sorted(exp)
    np.testing.assert_allclose([got[k] for k in keys], [exp[k] for k in keys], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("rule", ["mean", "max-abs", "nearest-summit"])
def test_bigwig_matches_attribution_set_base_by_base(tmp_path, rule):
    from track_exporters.bigwig import write_bigwig

    s = make_set(seed=1)
    # a tiny buffer forces many partial flushes inside overlapping chains
    paths = write_bigwig(s, tmp_path, chrom_sizes=SIZES, tracks=["projected", "maxabs", "hypothetical"], overlap=rule,
                         buffer_size=50, chunk_size=7)
    names = [p.name for p in paths]
    assert names == [f"saliency.{t}.bw" for t in ["projected", "maxabs", "hypothetical_A", "hypothetical_C",
                                                  "hypothetical_G", "hypothetical_T"]] + ["saliency.tracks.json"]
    for p in paths[:-1]:
        track = p.name.split(".")[1]
        assert_same(read_all(p), reference([s], track, rule))
    side = json.loads(paths[-1].read_text())
    assert side["overlap"] == rule and side["n_regions"] == 60
    assert [t["file"] for t in side["tracks"]] == names[:-1]


def test_gaps_at_n_and_padding_and_edges_exact(tmp_path):
    """N bases and off-chromosome padding have no value; the base next to them does."""
    from track_exporters.bigwig import write_bigwig

    regions = pd.DataFrame({"chrom": ["chrA", "chrA"], "start": [-5, 100], "end": [L - 5, 100 + L]})
    x = random_onehot(2, L, seed=3)
    x[0, :, :5] = 0       # padding before chrA:0
    x[1, :, 10:13] = 0    # N at chrA:110-113
    s = AttributionSet(x, np.ones_like(x) * 2, regions, "ig")
    bw_path = write_bigwig(s, tmp_path, chrom_sizes=SIZES, tracks=["projected"])[0]
    bw = pyBigWig.open(str(bw_path))
    assert bw.intervals("chrA", 0, 200)[0][:2] == (0, 1)  # first base of the chromosome is written
    vals = np.array(bw.values("chrA", 0, 200))
    assert np.all(vals[0:L - 5] == 2)
    assert np.all(np.isnan(vals[L - 5:100]))
    assert np.all(vals[100:110] == 2) and np.all(np.isnan(vals[110:113])) and np.all(vals[113:100 + L] == 2)
    assert np.isnan(vals[100 + L])
    assert bw.intervals("chrB") is None  # no fake zeros anywhere else


def test_averaging_sets_equals_mean_attribution(tmp_path):
    from track_exporters.bigwig import write_bigwig

    a = make_set(seed=4)
    b = AttributionSet(a.X, a.attr[::-1].copy() * 3, a.regions, "saliency")  # another "seed"
    paths = write_bigwig([a, b], tmp_path, chrom_sizes=SIZES, tracks=["projected", "maxabs"], overlap="max-abs")
    assert_same(read_all(paths[0]), reference([a, b], "projected", "max-abs"))
    assert_same(read_all(paths[1]), reference([a, b], "maxabs", "max-abs"))
    assert json.loads(paths[-1].read_text())["n_sets_averaged"] == 2


def test_averaging_refuses_different_windows_or_sequences(tmp_path):
    from track_exporters.bigwig import write_bigwig

    a = make_set(seed=5)
    moved = a.regions.copy()
    moved.loc[7, "start"] += 1
    moved.loc[7, "end"] += 1
    b = AttributionSet(a.X, a.attr, moved, "saliency")
    with pytest.raises(InputError, match="region 7"):
        write_bigwig([a, b], tmp_path, chrom_sizes=SIZES)
    c = AttributionSet(a.X[:, ::-1].copy(), a.attr, a.regions, "saliency")
    with pytest.raises(InputError, match="different sequences"):
        write_bigwig([a, c], tmp_path, chrom_sizes=SIZES)
    assert not list(tmp_path.glob("*.bw"))  # nothing half-written


def test_unknown_chrom_and_sequence_past_end_are_errors(tmp_path):
    from track_exporters.bigwig import write_bigwig

    s = make_set(seed=6, n=3, regions=pd.DataFrame({"chrom": ["A", "chrA", "chrA"], "start": [0, 0, 10],
                                                    "end": [L, L, L + 10]}), x=random_onehot(3, L))
    with pytest.raises(InputError, match="'A'.*did you mean 'chrA'"):
        write_bigwig(s, tmp_path, chrom_sizes=SIZES)
    past = pd.DataFrame({"chrom": ["chrB"], "start": [SIZES["chrB"] - 10], "end": [SIZES["chrB"] - 10 + L],
                         "name": ["late"]})
    s = AttributionSet(random_onehot(1, L), np.ones((1, 4, L), np.float32), past, "x")
    with pytest.raises(InputError, match="'late' chrB:390-430 has sequence outside chrB"):
        write_bigwig(s, tmp_path, chrom_sizes=SIZES)
    assert not list(tmp_path.iterdir())


def test_hypothetical_tracks_need_hypothetical_method(tmp_path):
    from track_exporters.bigwig import write_bigwig

    s = make_set(seed=7, hypothetical=False)
    with pytest.raises(InputError, match="hypothetical tracks need"):
        write_bigwig(s, tmp_path, chrom_sizes=SIZES, tracks=["hypothetical"])


def test_chrom_sizes_from_messy_file_and_fasta(data_dir, tmp_path):
    from track_exporters.bigwig import load_chrom_sizes, write_bigwig

    messy = load_chrom_sizes(chrom_sizes=data_dir / "genomes/mm10.chrom.sizes.messy_whitespace")
    clean = load_chrom_sizes(chrom_sizes=data_dir / "genomes/mm10.chrom.sizes")
    assert messy == clean and messy["chr1"] == 195471971
    fasta = load_chrom_sizes(genome=data_dir / "genomes/mouse_chr17_1Mb_region.fa")
    assert fasta == {"chr17_region": 1_000_001}
    regions = pd.DataFrame({"chrom": ["chr19", "chr19"], "start": [61431566 - L, 0], "end": [61431566, L]})
    s = AttributionSet(random_onehot(2, L), np.ones((2, 4, L), np.float32), regions, "m")
    bw = pyBigWig.open(str(write_bigwig(s, tmp_path, chrom_sizes=messy, tracks=["maxabs"])[0]))
    assert bw.chroms("chr19") == 61431566
    assert bw.values("chr19", 61431566 - 1, 61431566) == [1.0]  # last base of the chromosome
    with pytest.raises(InputError):
        load_chrom_sizes(chrom_sizes=data_dir / "genomes/mm10.chrom.sizes", genome=data_dir / "x.fa")


def test_real_bigwig_fixture_and_ours_share_the_format(data_dir, tmp_path):
    """The real MACS bigWig and ours open with the same reader and expose the same index."""
    from track_exporters.bigwig import write_bigwig

    real = pyBigWig.open(str(data_dir / "bigwig/macs14_treat.bw"))
    assert real.isBigWig() and "chr1" in real.chroms()
    ivs = real.intervals("chr1")
    assert ivs and all(a < b for a, b, _ in ivs[:100])
    assert real.header()["nLevels"] > 0
    ours = pyBigWig.open(str(write_bigwig(make_set(seed=8), tmp_path, chrom_sizes=SIZES, tracks=["projected"])[0]))
    assert ours.header()["nLevels"] > 0
    vals = np.array(ours.values("chrA", 0, SIZES["chrA"]))
    ok = ~np.isnan(vals)
    assert ours.stats("chrA", 0, SIZES["chrA"], type="max", exact=True)[0] == pytest.approx(vals[ok].max(), rel=1e-6)


def test_bedgraph_lines_match_bigwig(tmp_path):
    from track_exporters.bedgraph import write_bedgraph

    s = make_set(seed=9)
    paths = write_bedgraph(s, tmp_path, chrom_sizes=SIZES, tracks=["projected"], overlap="nearest-summit")
    lines = paths[0].read_text().splitlines()
    assert lines[0].startswith("track type=bedGraph") and "overlap=nearest-summit" in lines[0]
    got = {}
    last = ("", -1)
    for line in lines[1:]:
        c, a, b, v = line.split("\t")
        a, b = int(a), int(b)
        assert (c, a) >= last  # sorted, non-overlapping
        last = (c, b)
        for p in range(a, b):
            got[(c, p)] = float(v)
    assert_same(got, reference([s], "projected", "nearest-summit"))
    assert paths[-1].name == "saliency.bedGraph.tracks.json"


def test_cli_export_bigwig(tmp_path, data_dir):
    from wtko_captum.cli import main

    s = make_set(seed=10, regions=pd.DataFrame({"chrom": ["chr2"] * 4, "start": [0, 20, 100, 130],
                                                "end": [L, 20 + L, 100 + L, 130 + L]}),
                 n=4, x=random_onehot(4, L))
    s.save(tmp_path / "attr")
    out = tmp_path / "tracks"
    rc = main(["export", "bigwig", str(tmp_path / "attr"), str(tmp_path / "attr"), "--chrom-sizes",
               str(data_dir / "genomes/hg19.chrom.sizes"), "-o", str(out), "--overlap", "max-abs", "-q"])
    assert rc == 0
    assert sorted(p.name for p in out.iterdir()) == [".wtko-output.json", "saliency.maxabs.bw",
                                                     "saliency.projected.bw", "saliency.tracks.json"]
    bw = pyBigWig.open(str(out / "saliency.maxabs.bw"))
    assert bw.values("chr2", 5, 6)[0] == pytest.approx(np.abs(s.attr[0, :, 5]).max(), rel=1e-6)
    side = json.loads((out / "saliency.tracks.json").read_text())
    assert side["overlap"] == "max-abs" and side["sources"] == [str(tmp_path / "attr")] * 2
    rc = main(["export", "bigwig", str(tmp_path / "attr"), "--chrom-sizes", str(data_dir / "genomes/mm10.chrom.sizes"),
               "-o", str(tmp_path / "t2"), "--tracks", "projected", "-q"])
    assert rc == 0
    bad = tmp_path / "bad.sizes"
    bad.write_text("chr1\t100\n")
    assert main(["export", "bigwig", str(tmp_path / "attr"), "--chrom-sizes", str(bad), "-o",
                 str(tmp_path / "t3"), "-q"]) == 2


@pytest.mark.parametrize("rule, expected_at_25", [("max-abs", 1.0), ("nearest-summit", 1.0), ("mean", 0.0)])
def test_overlap_ties_go_to_the_window_that_starts_first(tmp_path, rule, expected_at_25):
    """Windows [0, 40) (+1 everywhere) and [11, 51) (-1): |values| tie everywhere they overlap,
    and base 25 is equally far (5.5) from both centres (20 and 31)."""
    from track_exporters.bigwig import write_bigwig

    regions = pd.DataFrame({"chrom": ["chrA", "chrA"], "start": [11, 0], "end": [11 + L, L]})
    x = random_onehot(2, L, seed=2)
    attr = np.stack([-x[0], x[1]])  # projected = -1 for the later window, +1 for the first
    bw = pyBigWig.open(str(write_bigwig(AttributionSet(x, attr, regions, "m"), tmp_path, chrom_sizes=SIZES,
                                        tracks=["projected"], overlap=rule)[0]))
    vals = np.array(bw.values("chrA", 0, 51))
    assert vals[25] == expected_at_25
    assert np.all(vals[:11] == 1) and np.all(vals[L:] == -1)
    if rule == "nearest-summit":
        assert np.all(vals[11:26] == 1) and np.all(vals[26:L] == -1)


def test_minus_strand_window_is_reverse_complemented_to_the_genome(tmp_path):
    """A '-' region holds the reverse complement read from its end: base i is end - 1 - i and
    channel A there is the genome's T."""
    from track_exporters.bigwig import write_bigwig

    x = random_onehot(2, L, seed=11)
    attr = np.random.default_rng(11).normal(size=x.shape).astype(np.float32)
    regions = pd.DataFrame({"chrom": ["chrA", "chrA"], "start": [0, 300], "end": [L, 300 + L], "strand": ["+", "-"]})
    paths = write_bigwig(AttributionSet(x, attr, regions, "m"), tmp_path, chrom_sizes=SIZES, tracks=["projected", "hypothetical"])
    proj = np.array(pyBigWig.open(str(paths[0])).values("chrA", 300, 300 + L))
    np.testing.assert_allclose(proj, (attr[1] * x[1]).sum(0)[::-1], rtol=1e-6)
    hyp_a = np.array(pyBigWig.open(str(paths[1])).values("chrA", 300, 300 + L))
    np.testing.assert_allclose(hyp_a, attr[1, 3, ::-1], rtol=1e-6)  # T of the '-' window
    np.testing.assert_allclose(pyBigWig.open(str(paths[1])).values("chrA", 0, L), attr[0, 0], rtol=1e-6)


def test_max_zooms_zero_writes_no_zoom_levels_and_same_values(tmp_path):
    from track_exporters.bigwig import write_bigwig

    s = make_set(seed=12)
    a = write_bigwig(s, tmp_path / "z", chrom_sizes=SIZES, tracks=["projected"])[0]
    b = write_bigwig(s, tmp_path / "n", chrom_sizes=SIZES, tracks=["projected"], max_zooms=0)[0]
    assert pyBigWig.open(str(a)).header()["nLevels"] > 0 and pyBigWig.open(str(b)).header()["nLevels"] == 0
    assert read_all(a) == read_all(b)
