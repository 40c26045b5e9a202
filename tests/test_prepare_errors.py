"""Bad input to wtko prepare: one clear line naming file:line and value, exit 2, no output dir."""
from __future__ import annotations

from pathlib import Path

import pytest

from wtko_captum.cli import main
from wtko_captum.core.errors import InputError
from wtko_captum.preparation.prepare import prepare

DATA = Path(__file__).parent / "data"
GENOME = DATA / "genomes" / "mouse_chr17_1Mb_region.fa"
CONTIG = "chr17_region"
GOOD = [(CONTIG, 1000 + 5000 * i, 1400 + 5000 * i) for i in range(6)]
OTHER = [(CONTIG, 3000 + 5000 * i, 3300 + 5000 * i) for i in range(6)]


def write_lines(path: Path, lines) -> Path:
    path.write_text("".join((l if isinstance(l, str) else "\t".join(map(str, l))) + "\n" for l in lines))
    return path


def run_cli(tmp_path, capsys, *args) -> str:
    """Run `wtko prepare`; assert exit 2, one error line (last on stderr, after progress lines),
    no output directory; return the error line."""
    out = tmp_path / "out"
    rc = main(["prepare", *map(str, args), "-o", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    errors = [line for line in err if "error" in line]
    assert len(errors) == 1 and err[-1] == errors[0] and errors[0].startswith("wtko prepare: error: ")
    assert not any("Traceback" in line for line in err)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # no temp leftovers
    return err[-1]


def bed_pair(tmp_path, wt_lines, ko_lines=None):
    wt = write_lines(tmp_path / "wt.bed", wt_lines)
    ko = write_lines(tmp_path / "ko.bed", ko_lines if ko_lines is not None else OTHER)
    return wt, ko


def test_malformed_bed_line_names_file_line_and_field(tmp_path, capsys):
    wt, ko = bed_pair(tmp_path, GOOD[:2] + [(CONTIG, 5000, "12x00")] + GOOD[2:])
    msg = run_cli(tmp_path, capsys, "--wt", wt, "--ko", ko, "--genome", GENOME)
    assert f"{wt}:3:" in msg and "field 3 (end)" in msg and "'12x00'" in msg
    wt, ko = bed_pair(tmp_path, GOOD[:3] + [f"{CONTIG}\t5000"])
    msg = run_cli(tmp_path, capsys, "--wt", wt, "--ko", ko, "--genome", GENOME)
    assert f"{wt}:4:" in msg and "at least 3" in msg


def test_start_not_before_end(tmp_path, capsys):
    wt, ko = bed_pair(tmp_path, GOOD, OTHER[:4] + [(CONTIG, 900, 900)])
    msg = run_cli(tmp_path, capsys, "--wt", wt, "--ko", ko, "--genome", GENOME)
    assert f"{ko}:5:" in msg and "start must be smaller than end" in msg and "start=900 end=900" in msg


def test_unknown_chromosome_suggests_near_miss(tmp_path, capsys):
    wt, ko = bed_pair(tmp_path, GOOD + [("17_region", 100, 500), ("17_region", 900, 1500)])
    msg = run_cli(tmp_path, capsys, "--wt", wt, "--ko", ko, "--genome", GENOME)
    assert f"{wt}:7:" in msg and "'17_region'" in msg and "did you mean 'chr17_region'" in msg
    assert "1 more line" in msg
    # opting in drops and counts them instead
    res = prepare(tmp_path / "ok", [wt], [ko], genome=GENOME, width=100, skip_unknown_chroms=True,
                  test_chroms=(), val_chroms=())
    assert (res.excluded.reason == "unknown_chrom").sum() == 2


def test_missing_genome_and_missing_input_fasta(tmp_path, capsys):
    wt, ko = bed_pair(tmp_path, GOOD)
    msg = run_cli(tmp_path, capsys, "--wt", wt, "--ko", ko, "--genome", tmp_path / "nope.fa")
    assert "genome file not found" in msg and "nope.fa" in msg
    msg = run_cli(tmp_path, capsys, "--wt", wt, "--ko", ko)
    assert "need a genome (FASTA or .2bit)" in msg and str(wt) in msg
    msg = run_cli(tmp_path, capsys, "--wt", tmp_path / "bound.fa", "--ko", ko, "--genome", GENOME)
    assert "input file not found" in msg and "bound.fa" in msg


def test_empty_class(tmp_path, capsys):
    wt, ko = bed_pair(tmp_path, GOOD, ["# no peaks here", "track name=empty"])
    msg = run_cli(tmp_path, capsys, "--wt", wt, "--ko", ko, "--genome", GENOME)
    assert "class KO is empty" in msg and str(ko) in msg
    # a table whose rule selects no WT row
    table = write_lines(tmp_path / "diff.tsv", [("chrom", "start", "end", "log2FC")]
                        + [(c, s, e, 3.0) for c, s, e in GOOD])
    msg = run_cli(tmp_path, capsys, "--table", table, "--genome", GENOME)
    assert "class WT is empty" in msg and "|lfc| < 0.2" in msg


def test_every_window_dropped(tmp_path, capsys):
    size = 1_000_001
    wt, ko = bed_pair(tmp_path, [(CONTIG, 10, 50), (CONTIG, size - 40, size - 5)], [(CONTIG, 100, 200)])
    msg = run_cli(tmp_path, capsys, "--wt", wt, "--ko", ko, "--genome", GENOME, "--drop-edge", "--width", "600")
    assert "every window was dropped" in msg and "3 crosses_chrom_end" in msg
    # without --drop-edge the same input works (N-padded)
    assert main(["prepare", "--wt", str(wt), "--ko", str(ko), "--genome", str(GENOME), "-q", "--test-chroms", "",
                 "-o", str(tmp_path / "padded")]) == 0


def test_duplicates_only_leave_a_class_empty(tmp_path, capsys):
    """Duplicates are not an error by themselves (see test_prepare), but when removing them
    empties a class the message says why."""
    wt, ko = bed_pair(tmp_path, GOOD, GOOD[:3])
    msg = run_cli(tmp_path, capsys, "--wt", wt, "--ko", ko, "--genome", GENOME)
    assert "class KO has no window left" in msg and "3 in_both_classes" in msg


@pytest.mark.parametrize("content, line, expect, strict", [
    ([">chr1:100-200", "ACGT" * 20], 1, "spans 100 bp but the sequence has 80", True),
    ([">chr1:100-104", "ACXT"], 2, "not a DNA letter", False),
    ([">chr1:100-104", "ACGT", ">empty", ">chr1:200-204", "ACGT"], 3, "empty sequence", False),
])
def test_bad_sequence_fasta(tmp_path, capsys, content, line, expect, strict):
    fa = write_lines(tmp_path / "wt.txt", content)
    ko = write_lines(tmp_path / "ko.fa", [">chr2:0-4", "ACGT"])
    msg = run_cli(tmp_path, capsys, "--wt", fa, "--ko", ko, *(["--strict-coordinates"] if strict else []))
    assert f"{fa}:{line}:" in msg and expect in msg


def test_bad_table_value_and_summit(tmp_path, capsys):
    table = write_lines(tmp_path / "diff.csv", ["chrom,start,end,log2FC", f"{CONTIG},100,900,0.1",
                                                f"{CONTIG},2000,2600,big"])
    msg = run_cli(tmp_path, capsys, "--table", table, "--genome", GENOME)
    assert f"{table}:3:" in msg and "log2FC" in msg and "'big'" in msg
    msg = run_cli(tmp_path, capsys, "--table", table, "--lfc-col", "log2fc_x", "--genome", GENOME)
    assert "no lfc column named 'log2fc_x'" in msg and "did you mean 'log2FC'" in msg
    np_file = write_lines(tmp_path / "wt.narrowPeak", [(CONTIG, 100, 200, ".", 0, ".", 1, 1, 1, 150)])
    msg = run_cli(tmp_path, capsys, "--wt", np_file, "--ko", bed_pair(tmp_path, GOOD)[1], "--genome", GENOME)
    assert f"{np_file}:1:" in msg and "summit offset" in msg and "'150'" in msg


def test_library_raises_input_error_and_keeps_old_output(tmp_path):
    """A failing run never touches an existing output directory."""
    wt, ko = bed_pair(tmp_path, GOOD)
    out = tmp_path / "data"
    prepare(out, [wt], [ko], genome=GENOME, width=100, test_chroms=(), val_chroms=())
    before = (out / "regions.tsv").read_text()
    write_lines(ko, [(CONTIG, 500, 100)])
    with pytest.raises(InputError, match=r"ko\.bed:1: start must be smaller"):
        prepare(out, [wt], [ko], genome=GENOME, width=100)
    assert (out / "regions.tsv").read_text() == before
