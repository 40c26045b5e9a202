"""Motif writers (MEME, HOMER, JASPAR) read back by the real parsers: Biopython's
Bio.motifs ("minimal", "jaspar"), memelite and tangermeme; BED coordinates exact."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import wtko_captum
from wtko_captum.core.errors import InputError

JASPAR = Path(wtko_captum.__file__).parent / "data/motifs/JASPAR2020_CORE_vertebrates.meme"


@pytest.fixture
def count_motifs():
    """Count matrices with equal column sums (= nsites), so Bio.motifs' counts are exact."""
    r = np.random.default_rng(3)
    out = {}
    for i, (w, n) in enumerate([(6, 20), (9, 37), (12, 100)]):
        out[f"M{i} clusterName{i}"] = np.stack([r.multinomial(n, r.dirichlet(np.ones(4))) for _ in range(w)]).T
    return out


def test_meme_is_read_by_biopython_memelite_and_tangermeme(tmp_path, count_motifs):
    from Bio import motifs as biomotifs
    from memelite.io import read_meme as memelite_read
    from tangermeme.io import read_meme as tangermeme_read

    from track_exporters.meme import read_meme, write_meme

    path = tmp_path / "m.meme"
    assert write_meme(count_motifs, path, evalues={"M1 clusterName1": 3.2e-7},
                      urls={"M0 clusterName0": "http://example.org/M0"}) == [path]
    probs = {k: m / m.sum(axis=0) for k, m in count_motifs.items()}
    for reader in (memelite_read, tangermeme_read, read_meme):
        got = reader(str(path))
        assert list(got) == list(count_motifs)  # keys "ID NAME", in order
        for k in probs:
            np.testing.assert_allclose(np.asarray(got[k], dtype=float), probs[k], atol=5e-7)
    with open(path) as fh:
        record = biomotifs.parse(fh, "minimal")
    assert [m.name for m in record] == ["M0", "M1", "M2"]
    for m, (k, counts) in zip(record, count_motifs.items()):
        assert m.num_occurrences == counts.sum(axis=0)[0]
        for b, row in zip("ACGT", counts):
            assert list(m.counts[b]) == list(row)
    assert record[1].evalue == pytest.approx(3.2e-7, rel=0.05)
    text = path.read_text()
    assert text.startswith("MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\nBackground letter frequencies\n")
    assert "letter-probability matrix: alength= 4 w= 9 nsites= 37 E= 3.2e-07\n" in text
    assert "URL http://example.org/M0\n" in text


def test_meme_round_trips_bundled_jaspar(tmp_path):
    from track_exporters.meme import read_meme, write_meme

    db = read_meme(JASPAR)
    assert len(db) == 746 and "MA0099.3 FOS::JUN" in db
    write_meme(db, tmp_path / "j.meme")
    again = read_meme(tmp_path / "j.meme")
    assert list(again) == list(db)
    for k in db:
        np.testing.assert_allclose(again[k], db[k] / db[k].sum(axis=0), atol=5e-7)


def test_pseudocount_background_and_nsites(tmp_path):
    from track_exporters.meme import read_meme, write_meme

    counts = {"A1": np.array([[8, 0], [0, 0], [0, 2], [0, 0]])}
    bg = [0.3, 0.2, 0.2, 0.3]
    write_meme(counts, tmp_path / "p.meme", pseudocount=2, background=bg, nsites=99)
    got = read_meme(tmp_path / "p.meme")["A1"]
    # p = (count + pc * bg) / (colsum + pc)
    expected = (counts["A1"] + 2 * np.array(bg)[:, None]) / (counts["A1"].sum(0) + 2)
    np.testing.assert_allclose(got, expected, atol=5e-7)
    text = (tmp_path / "p.meme").read_text()
    assert "A 0.300000 C 0.200000 G 0.200000 T 0.300000" in text and "nsites= 99 " in text
    # probabilities are kept as given (no pseudocount) and default to nsites 20
    probs = {"P1": np.array([[0.5, 0.1], [0.5, 0.2], [0, 0.3], [0, 0.4]])}
    write_meme(probs, tmp_path / "q.meme")
    np.testing.assert_allclose(read_meme(tmp_path / "q.meme")["P1"], probs["P1"], atol=5e-7)
    assert "nsites= 20 " in (tmp_path / "q.meme").read_text()


@pytest.mark.parametrize("bad, match", [({"a": np.ones((3, 5))}, r"\(4, W\)"), ({"a": -np.ones((4, 2))}, "negative"),
                                        ({"a b": np.ones((4, 2)), "a c": np.ones((4, 2))}, "duplicate motif ID"),
                                        ({}, "no motifs")])
def test_meme_rejects_bad_input(tmp_path, bad, match):
    from track_exporters.meme import write_meme

    with pytest.raises(InputError, match=match):
        write_meme(bad, tmp_path / "x.meme")
    assert not (tmp_path / "x.meme").exists()


def test_jaspar_round_trip_biopython_and_ours(tmp_path, count_motifs):
    from Bio import motifs as biomotifs

    from track_exporters.jaspar import read_jaspar, write_jaspar

    count_motifs["P9"] = np.array([[0.25, 0.1], [0.25, 0.2], [0.25, 0.3], [0.25, 0.4]])  # probabilities
    write_jaspar(count_motifs, tmp_path / "m.jaspar")
    with open(tmp_path / "m.jaspar") as fh:
        record = biomotifs.parse(fh, "jaspar")
    assert [(m.matrix_id, m.name) for m in record] == [("M0", "clusterName0"), ("M1", "clusterName1"),
                                                      ("M2", "clusterName2"), ("P9", "P9")]
    for m, (k, mat) in zip(record, count_motifs.items()):
        expected = mat if k != "P9" else mat * 100  # probabilities scaled to 100 sites
        np.testing.assert_allclose([m.counts[b] for b in "ACGT"], expected)
    ours = read_jaspar(tmp_path / "m.jaspar")
    assert list(ours) == list(count_motifs)
    np.testing.assert_allclose(ours["M2 clusterName2"], count_motifs["M2 clusterName2"])


def test_homer_threshold_and_round_trip(tmp_path):
    from track_exporters.homer import read_homer, write_homer

    probs = {"AP1 FOS::JUN": np.array([[0, 0, 1, 0, 0, 0, 1.0], [0, 0, 0, .5, 0, 1, 0], [0, 1, 0, .5, 0, 0, 0],
                                       [1, 0, 0, 0, 1, 0, 0]]),
             "X": np.array([[0.7, 0.1], [0.1, 0.1], [0.1, 0.1], [0.1, 0.7]])}
    write_homer(probs, tmp_path / "m.motif", thresholds={"X": 1.25})
    lines = (tmp_path / "m.motif").read_text().splitlines()
    # consensus, name, threshold; best score of AP1 = 6 x ln(1/.25) + ln(.5/.25)
    cons, name, thr = lines[0][1:].split("\t")
    assert (cons, name) == ("TGASTCA", "AP1 FOS::JUN")
    assert float(thr) == pytest.approx(0.6 * (6 * np.log(4) + np.log(2)), abs=1e-6)
    assert lines[8] == ">AT\tX\t1.250000"
    back = read_homer(tmp_path / "m.motif")
    for k in probs:
        np.testing.assert_allclose(back[k], probs[k], atol=5e-7)
    assert back.meta["X"]["threshold"] == pytest.approx(1.25)
    # thresholds survive a HOMER -> HOMER conversion through the registry
    from wtko_captum.core.export import export
    from wtko_captum.core.readers import read

    export("homer", read(tmp_path / "m.motif", kind="motifs"), tmp_path / "again.motif")
    assert (tmp_path / "again.motif").read_text().splitlines()[8] == ">AT\tX\t1.250000"


def test_motif_inputs_tsv_and_conversions(tmp_path):
    from wtko_captum.cli import main

    from track_exporters.meme import read_meme
    from track_exporters.motif_files import sniff
    from wtko_captum.core.readers import read

    tsv = tmp_path / "motifs.tsv"
    tsv.write_text("id\tname\tconsensus\tsites\tnsites\turl\n"
                   "AP1\tFOS::JUN\tTGASTCA\t\t\thttp://x/AP1\n"
                   "k1\tcluster1\t\tACGT,ACGA,NCGT\t3\t\n")
    motifs = read(tsv, kind="motifs")
    np.testing.assert_allclose(motifs["AP1 FOS::JUN"][:, 3], [0, 0.5, 0.5, 0])  # S = C or G
    np.testing.assert_allclose(motifs["k1 cluster1"], [[2, 0, 0, 1], [0, 3, 0, 0], [0, 0, 3, 0], [0, 0, 0, 2]])
    assert motifs.meta == {"k1 cluster1": {"nsites": 3}, "AP1 FOS::JUN": {"url": "http://x/AP1"}}
    assert main(["export", "meme", str(tsv), "-o", str(tmp_path / "m.meme"), "-q"]) == 0
    assert sniff(tmp_path / "m.meme") == "meme"
    got = read_meme(tmp_path / "m.meme")
    np.testing.assert_allclose(got["k1 cluster1"][:, 3], [1 / 3, 0, 0, 2 / 3], atol=5e-7)  # T,A,T
    assert "URL http://x/AP1" in (tmp_path / "m.meme").read_text()
    for fmt, kind in (("homer", "homer"), ("jaspar", "jaspar")):
        out = tmp_path / f"m.{fmt}"
        assert main(["export", fmt, str(tmp_path / "m.meme"), "-o", str(out), "-q"]) == 0
        assert sniff(out) == kind
        back = read(out, kind="motifs")
        np.testing.assert_allclose(back["AP1 FOS::JUN"] / back["AP1 FOS::JUN"].sum(0), got["AP1 FOS::JUN"], atol=1e-6)
    bad = tmp_path / "bad.tsv"
    bad.write_text("id\tconsensus\nz\tACXT\n")
    assert main(["export", "meme", str(bad), "-o", str(tmp_path / "z.meme"), "-q"]) == 2


def test_bed_exact_coordinates_from_window_hits(tmp_path):
    from track_exporters.bed import window_to_genome, write_bed

    regions = pd.DataFrame({"chrom": ["chr2", "chr1"], "start": [1000, 500], "end": [1600, 1100]})
    hits = pd.DataFrame({"example_idx": [0, 1, 1], "start": [0, 590, 10], "end": [10, 600, 18],
                         "pattern": ["pos_patterns.pattern_0", "neg_patterns.pattern_1", "pos_patterns.pattern_0"],
                         "score": [1.5, -0.25, 3.0], "is_forward": [True, False, True]})
    g = window_to_genome(hits, regions)
    write_bed(g, tmp_path / "s.bed", name_col="pattern", strand_col="is_forward", extra_cols=["window_start"],
              chrom_sizes={"chr1": 5000, "chr2": 5000})
    lines = (tmp_path / "s.bed").read_text().splitlines()
    assert lines == ["#chrom\tstart\tend\tname\tscore\tstrand\twindow_start",
                     "chr1\t510\t518\tpos_patterns.pattern_0\t3\t+\t10",
                     "chr1\t1090\t1100\tneg_patterns.pattern_1\t-0.25\t-\t590",
                     "chr2\t1000\t1010\tpos_patterns.pattern_0\t1.5\t+\t0"]
    write_bed(g, tmp_path / "c.bed", name_col="pattern", strand_col="is_forward", color_by_name=True,
              score_scale="ucsc")
    rows = [line.split("\t") for line in (tmp_path / "c.bed").read_text().splitlines()[1:]]
    assert [r[4] for r in rows] == ["1000", "83", "500"]
    assert rows[0][8] == rows[2][8] != rows[1][8]  # one colour per pattern
    with pytest.raises(InputError, match="not inside its window"):
        window_to_genome(hits.assign(end=[10, 601, 18]), regions)
    with pytest.raises(InputError, match="runs past the chromosome end"):
        write_bed(g, tmp_path / "x.bed", name_col="pattern", chrom_sizes={"chr1": 1099, "chr2": 5000})
    with pytest.raises(InputError, match="did you mean 'chr1'"):
        write_bed(g.assign(chrom="1"), tmp_path / "x.bed", chrom_sizes={"chr1": 5000})
