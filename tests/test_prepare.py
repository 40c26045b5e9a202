"""wtko prepare on real files: windows, coordinates, summits, tables, sequences, splits, balance."""
from __future__ import annotations

import csv
import json
import math
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wtko_captum.core.dataset import load_prepared, read_fasta_records
from wtko_captum.core.errors import InputError
from wtko_captum.preparation.peaks import TableOptions, read_diff_table, read_peaks, read_regions, sniff_format
from wtko_captum.preparation.prepare import prepare

DATA = Path(__file__).parent / "data"
GENOME = DATA / "genomes" / "mouse_chr17_1Mb_region.fa"
CONTIG, CONTIG_LEN = "chr17_region", 1_000_001
NFE2 = Path(__file__).parents[1] / "wtko_captum" / "data" / "nfe2_gm12878"
NFE2_PREFIX = "wgEncodeSydhTfbsGm12878Nfe2hStdAlnRep0"
OCT4 = DATA / "sequences" / "oct4_mafk_small"


@pytest.fixture(scope="module")
def genome_seq() -> str:
    """The contig as one string, read without pyfaidx (an independent reference)."""
    lines = GENOME.read_text().splitlines()
    assert lines[0] == f">{CONTIG}"
    seq = "".join(lines[1:])
    assert len(seq) == CONTIG_LEN
    return seq


def write(path: Path, rows) -> Path:
    path.write_text("".join("\t".join(map(str, r)) + "\n" for r in rows))
    return path


def expected_window(genome_seq: str, start: int, end: int) -> str:
    """The genome between start and end, N outside the contig."""
    inside = genome_seq[max(start, 0):min(end, CONTIG_LEN)]
    return "N" * max(0, -start) + inside + "N" * max(0, end - CONTIG_LEN)


def peaks_in_contig(seed: int, n: int, width=(150, 900)) -> list[tuple[int, int]]:
    r = np.random.default_rng(seed)
    starts = r.integers(1_000, CONTIG_LEN - 2_000, size=n)
    return [(int(s), int(s + r.integers(*width))) for s in starts]


# ----------------------------------------------------------------------------- BED + genome
def test_bed_windows_round_trip_and_edge_padding(tmp_path, genome_seq):
    wt_peaks = peaks_in_contig(1, 40) + [(CONTIG_LEN - 120, CONTIG_LEN - 20)]  # crosses the contig end
    ko_peaks = peaks_in_contig(2, 40) + [(10, 200)]  # crosses the contig start
    wt = write(tmp_path / "wt.bed", [(CONTIG, s, e, f"wt{i}", 0, "+") for i, (s, e) in enumerate(wt_peaks)])
    ko = write(tmp_path / "ko.bed", [(CONTIG, s, e) for s, e in ko_peaks])
    res = prepare(tmp_path / "data", [wt], [ko], genome=GENOME, test_chroms=(), val_chroms=(), seed=0)
    data = load_prepared(tmp_path / "data")
    reg = data.regions
    assert data.X.shape == (len(reg), 4, 600) and data.X.dtype == np.float32
    assert len(reg) == 82 and (reg["end"] - reg["start"] == 600).all()
    # the coordinate round trip: the stored window is the genome at regions.tsv start/end
    stored = [s for _, s in read_fasta_records(tmp_path / "data" / "sequences.fa")]
    for row, seq in zip(reg.itertuples(), stored):
        assert seq == expected_window(genome_seq, row.start, row.end), row.name
        assert row.summit == (row.peak_start + row.peak_end) // 2 and row.start == row.summit - 300
    # base i of the one-hot is genome base start + i, and N (outside the contig) is all zeros
    edge = reg.index[reg["pad_right"] > 0]
    assert len(edge) == 1
    i = edge[0]
    row = reg.loc[i]
    assert row["end"] > CONTIG_LEN and row["pad_right"] == row["end"] - CONTIG_LEN
    assert data.X[i, :, 600 - row["pad_right"]:].sum() == 0
    assert data.X[i, :, : 600 - row["pad_right"]].sum(axis=0).min() == 1
    left = reg.loc[reg["pad_left"] > 0].iloc[0]
    assert left["start"] < 0 and left["pad_left"] == -left["start"]
    ex = res.excluded
    assert sorted(ex.loc[ex.reason == "padded_at_chrom_end", "kept"]) == ["yes", "yes"]
    # sources point at file and line
    assert reg.loc[i, "source"] == str(wt) and reg.loc[i, "line"] == 41
    # no test chromosome in this data: the validation split is a seeded 10 % per class
    assert res.counts() == {"train": {"WT": 37, "KO": 37}, "val": {"WT": 4, "KO": 4}, "test": {"WT": 0, "KO": 0}}
    assert "random 0.1" in res.meta["splits"]["val"]

    # --drop-edge drops both edge windows instead, and says so
    res2 = prepare(tmp_path / "data2", [wt], [ko], genome=GENOME, test_chroms=(), val_chroms=(),
                   drop_edge=True)
    ex2 = res2.excluded
    assert (ex2.reason == "crosses_chrom_end").sum() == 2 and set(ex2.loc[ex2.reason == "crosses_chrom_end", "kept"]) == {"no"}
    reg2 = load_prepared(tmp_path / "data2").regions
    assert (reg2["pad_left"] + reg2["pad_right"]).sum() == 0 and len(reg2) == 80


def test_narrowpeak_summit_centres_the_window(tmp_path, genome_seq):
    rows = []
    for i, (s, e) in enumerate(peaks_in_contig(3, 12)):
        offset = -1 if i % 4 == 0 else (e - s) // 5 + i  # -1 = no summit -> midpoint
        rows.append((CONTIG, s, e, f"p{i}", 100, ".", 5.0, -1, 3.0, offset))
    np_file = write(tmp_path / "wt.narrowPeak", rows)
    ko = write(tmp_path / "ko.bed", [(CONTIG, s, e) for s, e in peaks_in_contig(4, 12)])
    prepare(tmp_path / "d", [np_file], [ko], genome=GENOME, width=301, test_chroms=(), val_chroms=(),
            val_fraction=0)
    reg = load_prepared(tmp_path / "d").regions
    reg = reg[reg.source == str(np_file)].set_index("line")
    assert len(reg) == 12
    for line, (_, s, e, *_, offset) in enumerate(rows, 1):
        want = s + offset if offset >= 0 else (s + e) // 2
        r = reg.loc[line]
        assert r["summit"] == want
        assert (r["start"], r["end"]) == (want - 150, want + 151)  # odd width: summit is base 150


def test_genome_index_is_built_when_missing(tmp_path):
    genome = tmp_path / "g.fa"
    shutil.copy(GENOME, genome)
    wt = write(tmp_path / "wt.bed", [(CONTIG, s, e) for s, e in peaks_in_contig(5, 5)])
    ko = write(tmp_path / "ko.bed", [(CONTIG, s, e) for s, e in peaks_in_contig(6, 5)])
    prepare(tmp_path / "d", [wt], [ko], genome=genome, width=100, test_chroms=(), val_chroms=())
    assert (tmp_path / "g.fa.fai").read_text().split()[:2] == [CONTIG, str(CONTIG_LEN)]


def test_duplicates_are_warned_deduplicated_and_counted(tmp_path, caplog):
    peaks = peaks_in_contig(7, 10)
    wt = write(tmp_path / "wt.bed", [(CONTIG, s, e) for s, e in peaks + peaks[:2]])  # 2 repeats
    ko_rows = [(CONTIG, s, e) for s, e in peaks_in_contig(8, 10)] + [(CONTIG, *peaks[5])]  # 1 in both
    ko = write(tmp_path / "ko.bed", ko_rows)
    with caplog.at_level("WARNING", logger="wtko_captum"):
        res = prepare(tmp_path / "d", [wt], [ko], genome=GENOME, width=200, test_chroms=(), val_chroms=(),
                      balance_classes=False)
    reasons = Counter(res.excluded["reason"])
    assert reasons["duplicate"] == 2 and reasons["in_both_classes"] == 2
    assert "2 duplicate region(s)" in caplog.text and "both classes" in caplog.text
    reg = load_prepared(tmp_path / "d").regions
    assert reg["name"].is_unique and len(reg) == 9 + 10
    dup = res.excluded[res.excluded.reason == "duplicate"]
    assert list(dup["line"]) == [11, 12] and f"{wt}:1" in dup["detail"].iloc[0]


def test_balance_is_seeded_and_no_balance_writes_class_weights(tmp_path):
    wt = write(tmp_path / "wt.bed", [(CONTIG, s, e) for s, e in peaks_in_contig(9, 30)])
    ko = write(tmp_path / "ko.bed", [(CONTIG, s, e) for s, e in peaks_in_contig(10, 90)])
    kw = dict(genome=GENOME, width=100, test_chroms=(), val_chroms=(), val_fraction=0.2)
    a = prepare(tmp_path / "a", [wt], [ko], seed=1, **kw)
    prepare(tmp_path / "b", [wt], [ko], seed=1, **kw)
    prepare(tmp_path / "c", [wt], [ko], seed=2, **kw)
    ra, rb, rc = (load_prepared(tmp_path / x).regions for x in "abc")
    assert a.counts() == {"train": {"WT": 24, "KO": 24}, "val": {"WT": 6, "KO": 6}, "test": {"WT": 0, "KO": 0}}
    assert ra.equals(rb) and not ra["name"].equals(rc["name"])
    assert (a.excluded.reason == "balance_downsampled").sum() == 60
    assert json.loads((tmp_path / "a" / "meta.json").read_text())["class_weights"] == [1.0, 1.0]
    d = prepare(tmp_path / "d", [wt], [ko], balance_classes=False, seed=1, **kw)
    assert d.counts()["train"] == {"WT": 24, "KO": 72}
    # inverse frequency on the training split: n / (2 n_c)
    assert d.meta["class_weights"] == pytest.approx([96 / (2 * 72), 96 / (2 * 24)])
    assert json.loads((tmp_path / "d" / "meta.json").read_text())["balanced"] is False


# ----------------------------------------------------------------------------- sequence inputs
def nfe2(kind: str) -> Path:
    return NFE2 / f"{NFE2_PREFIX}.{kind}.fa"


def test_nfe2_sequences_default_chromosome_splits(tmp_path):
    """The demo's call: bound vs unbound NFE2 FASTAs (train + test files per class)."""
    res = prepare(tmp_path / "d", [nfe2("tr"), nfe2("test")], [nfe2("neg.tr"), nfe2("neg.test")],
                  class_names=("unbound", "bound"))
    assert res.counts() == {"train": {"bound": 625, "unbound": 625}, "val": {"bound": 20, "unbound": 20},
                            "test": {"bound": 68, "unbound": 68}}
    assert res.meta["splits"]["val"] == "chromosomes chr8"
    data = load_prepared(tmp_path / "d")
    assert data.class_names == ["unbound", "bound"] and data.width == 600
    # independent count of chromosomes from the FASTA headers
    chroms = Counter(h.split(":")[0] for h, _ in read_fasta_records(nfe2("tr")) + read_fasta_records(nfe2("test")))
    assert (data.regions.query("label == 1 and split == 'test'").shape[0] == chroms["chr6"] + chroms["chr7"])
    # headers are 1-based inclusive (236 letters for chr10:22605206-22605441): base i -> 22605205 + i
    first = data.regions.iloc[0]
    assert (first["chrom"], first["peak_start"], first["peak_end"]) == ("chr10", 22605205, 22605441)
    given = dict(read_fasta_records(nfe2("tr")))["chr10:22605206-22605441"]
    assert data.sequences[0][first["pad_left"]:600 - first["pad_right"]] == given.upper()
    assert first["start"] == 22605205 - first["pad_left"]


def test_oct4_mafk_fasta_and_tables_agree(tmp_path):
    """Sequence FASTA (0-based headers), a TSV with a misleading name, and a labelled CSV table."""
    oct4, mafk = OCT4 / "oct4.fa", OCT4 / "mafk.fa"
    a = prepare(tmp_path / "a", [oct4], [mafk], width=200, balance_classes=False)
    reg = load_prepared(tmp_path / "a").regions
    assert len(reg) == 200 and (reg.pad_left + reg.pad_right).sum() == 0 and len(a.excluded) == 0
    # 200 letters for chr4:126246986-126247186 -> 0-based half-open, window == header interval
    assert (reg.start == reg.peak_start).all() and (reg.end == reg.peak_end).all()
    heads = Counter(h.split(":")[0] for h, _ in read_fasta_records(oct4))
    assert a.counts()["test"]["WT"] == heads["chr6"] + heads["chr7"]
    # the same sequences as TSV named .bed and as one labelled CSV: identical output
    tsv = tmp_path / "oct4_sequences.bed"
    rows = []
    for label, f in ((1, oct4), (0, mafk)):
        for h, s in read_fasta_records(f):
            c, rng = h.split(":")
            rows.append((c, *rng.split("-"), s, "WT" if label else "KO"))
    write(tsv, [r[:4] for r in rows[:100]])
    write(tmp_path / "mafk.tsv", [("chrom", "start", "end", "sequence")] + [r[:4] for r in rows[100:]])
    with open(tmp_path / "both.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([("chrom", "start", "end", "seq", "label")] + rows)
    assert sniff_format(tsv) == "sequence_table" and sniff_format(tmp_path / "both.csv") == "sequence_table"
    prepare(tmp_path / "b", [tsv], [tmp_path / "mafk.tsv"], width=200, balance_classes=False)
    prepare(tmp_path / "c", table=tmp_path / "both.csv", width=200, balance_classes=False)
    fa = (tmp_path / "a" / "sequences.fa").read_text()
    assert fa == (tmp_path / "b" / "sequences.fa").read_text() == (tmp_path / "c" / "sequences.fa").read_text()
    # shorter width: trimmed around the centre, base i still maps to start + i
    prepare(tmp_path / "t", [oct4], [mafk], width=151, balance_classes=False)
    t = load_prepared(tmp_path / "t")
    given = dict(read_fasta_records(oct4))
    r0 = t.regions.iloc[0]
    full = given[f"{r0.chrom}:{r0.peak_start}-{r0.peak_end}"]
    off = r0.start - r0.peak_start
    assert off == 24 and t.sequences[0] == full[off:off + 151].upper()


# ----------------------------------------------------------------------------- tables
def test_monalisa_lfc_table_split_by_the_published_rule():
    path = DATA / "peaks" / "atac_liver_vs_lung.mm10.first500.bed"
    regions, labels, counts = read_diff_table(path, TableOptions(lfc_col="5"))
    # independent reading of column 5
    lfc = [float(line.split("\t")[4]) for line in path.read_text().splitlines() if line.strip()]
    assert counts["ko"] == sum(v > 1 for v in lfc) == 125
    assert counts["wt"] == sum(abs(v) < 0.2 for v in lfc) == 24
    assert counts["ko"] + counts["wt"] + counts["neither"] == len(lfc) == 501
    first_ko = next(i for i, v in enumerate(lfc) if v > 1)
    r = regions[labels.index(0)]
    assert r.line == first_ko + 1 and r.summit == (r.start + r.end) // 2
    # thresholds are options; flipping the sign swaps the KO set
    _, labels2, c2 = read_diff_table(path, TableOptions(lfc_col="5", ko_min_lfc=2, wt_max_abs_lfc=0.5, flip_lfc=True))
    assert c2["ko"] == sum(-v > 2 for v in lfc) and c2["wt"] == sum(abs(v) < 0.5 for v in lfc)


def test_count_table_end_to_end(tmp_path, genome_seq):
    """A DESeq2-like count table inside the mouse contig: header names detected, rule applied."""
    peaks = peaks_in_contig(11, 8)
    counts = [(5, 50), (100, 400), (30, 31), (8, 8), (200, 210), (12, 12), ("NA", 3), (40, 90)]
    # expected: log2((KO+1)/(WT+1)) > 1 -> KO; |lfc| < 0.2 and WT > 10 -> WT
    want = []
    for wt_n, ko_n in counts:
        if wt_n == "NA":
            want.append(None)
            continue
        lfc = math.log2((ko_n + 1) / (wt_n + 1))
        want.append(0 if lfc > 1 else 1 if abs(lfc) < 0.2 and wt_n > 10 else None)
    assert want == [0, 0, 1, None, 1, 1, None, 0]
    rows = [("peak_id", "chrom", "start", "end", "WT_count", "KO_count")]
    rows += [(f"p{i}", CONTIG, s, e, w, k) for i, ((s, e), (w, k)) in enumerate(zip(peaks, counts))]
    table = write(tmp_path / "diff.tsv", rows)
    res = prepare(tmp_path / "d", table=table, genome=GENOME, width=200, test_chroms=(), val_chroms=(),
                  balance_classes=False)
    reg = load_prepared(tmp_path / "d").regions.sort_values("line")
    assert list(reg["line"]) == [i + 2 for i, w in enumerate(want) if w is not None]
    assert list(reg["label"]) == [w for w in want if w is not None]
    assert res.meta["table_rows"] == {"ko": 3, "wt": 3, "neither": 1, "missing_value": 1}
    assert "WT count > 10" in res.meta["table_rule"]
    for row in reg.itertuples():
        assert load_prepared(tmp_path / "d").sequences[row.Index] == expected_window(genome_seq, row.start, row.end).upper()


# ----------------------------------------------------------------------------- TOBIAS peaks
@pytest.fixture(scope="module")
def synthetic_chr4(tmp_path_factory) -> Path:
    """A seeded random 'chr4' long enough for the TOBIAS hg38 peaks (no hg38 FASTA in tests)."""
    path = tmp_path_factory.mktemp("genome") / "chr4.fa"
    r = np.random.default_rng(0)
    seq = np.frombuffer(b"ACGT", np.uint8)[r.integers(0, 4, 10_030_000)].tobytes().decode()
    path.write_text(">chr4\n" + "\n".join(seq[i:i + 80] for i in range(0, len(seq), 80)) + "\n")
    return path


def test_tobias_annotated_peaks(tmp_path, synthetic_chr4):
    src = DATA / "peaks" / "annotated_peaks.first500.bed"
    header = (DATA / "peaks" / "annotated_peaks_header.txt").read_text()
    lines = src.read_text().splitlines()
    (tmp_path / "bcell.bed").write_text(header + "".join(l + "\n" for l in lines if l.split("\t")[3] == "Bcell"))
    (tmp_path / "tcell.bed").write_text("".join(l + "\n" for l in lines if l.split("\t")[3] == "Tcell"))
    b = read_regions(tmp_path / "bcell.bed")
    t = read_peaks(tmp_path / "tcell.bed")
    assert (len(b), len(t)) == (95, 280)
    # 15 columns: column 10 is a distance, not a narrowPeak summit -> midpoint
    first = lines[0].split("\t")
    allp = read_peaks(src)
    assert len(allp) == 500 and allp[0].summit == (int(first[1]) + int(first[2])) // 2
    assert b[0].line == 2  # header line counted
    # all on chr4: the default test chromosomes hold nothing, which is an error naming chr4
    with pytest.raises(InputError, match="no region lies on the test chromosomes chr6,chr7.*regions are on chr4"):
        prepare(tmp_path / "d", [tmp_path / "bcell.bed"], [tmp_path / "tcell.bed"], genome=synthetic_chr4)
    res = prepare(tmp_path / "d", [tmp_path / "bcell.bed"], [tmp_path / "tcell.bed"], genome=synthetic_chr4,
                  class_names=("Tcell", "Bcell"), genome_build="hg38", test_chroms=())
    # no test chromosome asked for; validation = round(0.1 * n) per class, then balanced
    assert res.counts() == {"train": {"Bcell": 85, "Tcell": 85}, "val": {"Bcell": 10, "Tcell": 10},
                            "test": {"Bcell": 0, "Tcell": 0}}
    assert load_prepared(tmp_path / "d").meta["genome_build"] == "hg38"


# ----------------------------------------------------------------------------- CLI
def test_cli_prepare_prints_counts(tmp_path, capsys):
    from wtko_captum.cli import main

    rc = main(["prepare", "--wt", str(OCT4 / "oct4.fa"), "--ko", str(OCT4 / "mafk.fa"), "--width", "250",
               "--wt-name", "bound", "--ko-name", "unbound", "--test-chroms", "chr1", "--val-chroms", "chr2",
               "--seed", "3", "-o", str(tmp_path / "d")])
    out = capsys.readouterr().out
    assert rc == 0
    summary = pd.read_csv(tmp_path / "d" / "summary.tsv", sep="\t")
    heads = Counter(h.split(":")[0] for h, _ in read_fasta_records(OCT4 / "oct4.fa"))
    heads_k = Counter(h.split(":")[0] for h, _ in read_fasta_records(OCT4 / "mafk.fa"))
    test_row = summary[(summary.split == "test") & (summary["class"] == "bound")].iloc[0]
    assert test_row.n_before_balance == heads["chr1"]
    assert test_row.n == min(heads["chr1"], heads_k["chr1"])
    assert "bound" in out and "unbound" in out and "test" in out
    meta = json.loads((tmp_path / "d" / "meta.json").read_text())
    assert meta["class_names"] == ["unbound", "bound"] and meta["width"] == 250 and meta["seed"] == 3


def test_real_narrowpeak_files_parse_with_summits():
    path = DATA / "peaks" / "ENCSR000AKO.first300.narrowPeak"
    peaks = read_peaks(path)
    rows = [l.split("\t") for l in path.read_text().splitlines()]
    assert len(peaks) == len(rows) == 300
    for p, r in zip(peaks, rows):
        assert (p.chrom, p.start, p.end) == (r[0], int(r[1]), int(r[2]))
        assert p.summit == int(r[1]) + int(r[9])
    # dm3 names chromosomes 'X', '2L': against a UCSC-style genome the hint says 'chrX'
    from wtko_captum.core.errors import InputError
    from wtko_captum.preparation.prepare import check_chroms

    dm3 = read_peaks(DATA / "peaks" / "dm3_test.first300.narrowPeak")
    with pytest.raises(InputError, match=r"dm3_test.first300.narrowPeak:1: .*did you mean 'chrX'.*\(got 'X'\)"):
        check_chroms([(p, 1) for p in dm3], {"chrX": 22_422_827, "chr2L": 23_011_544}, "dm3.fa")


def test_cli_headerless_bed_with_lfc_in_column_5(tmp_path):
    """The monaLisa shape (chrom, start, end, name, log2FC; no header) through the CLI."""
    from wtko_captum.cli import main

    lfc = [2.5, -0.1, 0.15, 1.7, 0.5, -3.0, 0.05, 1.2]
    rows = [(CONTIG, s, e, f"peak_{i}", v) for i, ((s, e), v) in enumerate(zip(peaks_in_contig(12, 8), lfc))]
    bed = write(tmp_path / "diff.bed", rows)
    assert main(["prepare", "--table", str(bed), "--lfc-col", "5", "--genome", str(GENOME), "--width", "120",
                 "--no-balance", "--test-chroms", "", "--val-chroms", "", "-q", "-o", str(tmp_path / "d")]) == 0
    reg = load_prepared(tmp_path / "d").regions.sort_values("line")
    assert list(zip(reg["line"], reg["class"])) == [(1, "KO"), (2, "WT"), (3, "WT"), (4, "KO"), (7, "WT"), (8, "KO")]
