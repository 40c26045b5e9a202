"""wtko prepare refuses what cannot work before any work starts: one line, exit 2, nothing
written (and a read-only genome still works: its index goes to a cache directory)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from wtko_captum.cli import main
from wtko_captum.core.dataset import read_fasta_records

DATA = Path(__file__).parent / "data"
GENOME = DATA / "genomes" / "mouse_chr17_1Mb_region.fa"
CONTIG, SIZE = "chr17_region", 1_000_001
OCT4, MAFK = DATA / "sequences" / "oct4_mafk_small" / "oct4.fa", DATA / "sequences" / "oct4_mafk_small" / "mafk.fa"


def peaks(tmp_path, name, starts, width=300, chrom=CONTIG) -> Path:
    path = tmp_path / name
    path.write_text("".join(f"{chrom}\t{s}\t{s + width}\n" for s in starts))
    return path


def refused(tmp_path, capsys, *args) -> str:
    """Run `wtko prepare ARGS -o OUT`: exit 2, one error line last on stderr, no traceback,
    nothing written (no OUT, no temp directory beside it). Returns the error line."""
    out = tmp_path / "out"
    before = set(tmp_path.iterdir())
    try:
        rc = main(["prepare", *map(str, args), "-o", str(out)])
    except SystemExit as exc:  # the parser's own range checks
        rc = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert err and err[-1].startswith("wtko prepare: error: ") and sum(": error:" in line for line in err) == 1
    assert not any("Traceback" in line for line in err)
    assert set(tmp_path.iterdir()) == before  # nothing new: no OUT, no .OUT temp
    return err[-1]


@pytest.mark.parametrize("width, expect", [("20", "argument --width: must be >= 30, got 20"),
                                           ("1", "must be >= 30"), ("-5", "must be >= 30"),
                                           ("2.5", "not an integer")])
def test_width_too_small_is_refused_by_the_parser(tmp_path, capsys, width, expect):
    msg = refused(tmp_path, capsys, "--wt", OCT4, "--ko", MAFK, "--width", width)
    assert expect in msg


def test_width_longer_than_every_chromosome(tmp_path, capsys):
    wt, ko = peaks(tmp_path, "wt.bed", [1000, 9000]), peaks(tmp_path, "ko.bed", [20_000, 40_000])
    msg = refused(tmp_path, capsys, "--wt", wt, "--ko", ko, "--genome", GENOME, "--width", "1000000000")
    assert f"{GENOME}: --width 1000000000 is longer than every chromosome" in msg and f"{SIZE} bp" in msg
    # sequences: a window of more than 10 times the longest sequence is nearly all N
    msg = refused(tmp_path, capsys, "--wt", OCT4, "--ko", MAFK, "--width", "2001")
    assert "more than 10 times the longest input sequence (200 bp)" in msg
    assert main(["prepare", "--wt", str(OCT4), "--ko", str(MAFK), "--width", "2000", "-q",
                 "-o", str(tmp_path / "ok")]) == 0


@pytest.mark.parametrize("value, expect", [("1", "must be < 1, got 1"), ("1.5", "must be < 1"),
                                           ("-0.1", "must be >= 0"), ("nan", "must be a finite number"),
                                           ("inf", "must be a finite number"), ("x", "not a number")])
def test_fractions_out_of_range_are_refused_by_the_parser(tmp_path, capsys, value, expect):
    msg = refused(tmp_path, capsys, "--wt", OCT4, "--ko", MAFK, "--val-fraction", value)
    assert "argument --val-fraction" in msg and expect in msg
    msg = refused(tmp_path, capsys, "--wt", OCT4, "--ko", MAFK, "--split", "random", "--test-fraction", value)
    assert "argument --test-fraction" in msg and expect in msg


def test_fractions_that_leave_no_training_data(tmp_path, capsys):
    msg = refused(tmp_path, capsys, "--wt", OCT4, "--ko", MAFK, "--split", "random", "--test-fraction", "0.5",
                  "--val-fraction", "0.5")
    assert "--test-fraction plus --val-fraction must stay below 1" in msg


def test_peak_past_the_chromosome_end_names_file_and_line(tmp_path, capsys):
    """A wrong genome build: the peak starts beyond the chromosome, which would be an all-N window."""
    wt = peaks(tmp_path, "wt.bed", [1000, 5000, SIZE + 10, 7000])
    ko = peaks(tmp_path, "ko.bed", [20_000, 40_000])
    msg = refused(tmp_path, capsys, "--wt", wt, "--ko", ko, "--genome", GENOME, "--test-chroms", "")
    assert f"{wt}:3: the peak lies entirely past the end of {CONTIG} ({SIZE} bp in {GENOME})" in msg
    assert "another genome build" in msg and f"(got '{CONTIG}:{SIZE + 10}-{SIZE + 310}')" in msg
    # a peak that only overhangs the end is padded, as before
    wt = peaks(tmp_path, "wt2.bed", [1000, 5000, SIZE - 100, 7000])
    assert main(["prepare", "--wt", str(wt), "--ko", str(ko), "--genome", str(GENOME), "--test-chroms", "",
                 "-q", "-o", str(tmp_path / "ok")]) == 0


def test_test_chromosomes_that_leave_test_or_train_empty(tmp_path, capsys):
    # the Oct4/MafK headers are hg19 chr1..chrX; chr6,chr7 hold some, chr99 none
    msg = refused(tmp_path, capsys, "--wt", OCT4, "--ko", MAFK, "--test-chroms", "chr99")
    assert "no region lies on the test chromosomes chr99" in msg and "test split would be empty" in msg
    assert "the regions are on chr" in msg
    chroms = sorted({h.split(":")[0] for f in (OCT4, MAFK) for h, _ in read_fasta_records(f)})
    msg = refused(tmp_path, capsys, "--wt", OCT4, "--ko", MAFK, "--test-chroms", ",".join(chroms[:-1]),
                  "--val-chroms", chroms[-1])
    assert "hold every region, so the training split would be empty" in msg
    # --split chrom on sequences that have no chromosome
    plain = tmp_path / "plain.fa"
    plain.write_text("".join(f">s{i}\n{s}\n" for i, (_, s) in enumerate(read_fasta_records(OCT4))))
    msg = refused(tmp_path, capsys, "--wt", plain, "--ko", MAFK, "--split", "chrom")
    assert "--split chrom needs a chromosome for every region" in msg and "100 sequence(s)" in msg
    msg = refused(tmp_path, capsys, "--wt", OCT4, "--ko", MAFK, "--folds", "4", "--test-chroms", "chr1")
    assert "--test-chroms and --folds exclude each other" in msg
    msg = refused(tmp_path, capsys, "--wt", OCT4, "--ko", MAFK, "--folds", "2")
    assert "argument --folds: must be >= 3" in msg


def _read_only(folder: Path) -> list[str] | None:
    """A command prefix that runs with ``folder`` read-only: plain permissions for a normal
    user; for root (who ignores them) a read-only bind mount in a private user and mount
    namespace (``unshare``). None when neither is possible here."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return []
    if not shutil.which("unshare"):
        return None
    probe = subprocess.run(["unshare", "-rm", "sh", "-c",
                            f"mount --bind '{folder}' '{folder}' && mount -o remount,bind,ro '{folder}' '{folder}'"],
                           capture_output=True)
    if probe.returncode != 0:
        return None
    return ["unshare", "-rm", "sh", "-c",
            f"mount --bind '{folder}' '{folder}' && mount -o remount,bind,ro '{folder}' '{folder}' && exec \"$@\"", "sh"]


@pytest.mark.slow
def test_read_only_genome_is_indexed_in_the_cache(tmp_path):
    gdir = tmp_path / "genomes"
    gdir.mkdir()
    genome = gdir / "mm10_region.fa"
    shutil.copyfile(GENOME, genome)
    wt, ko = peaks(tmp_path, "wt.bed", [1000, 9000, 30_000]), peaks(tmp_path, "ko.bed", [20_000, 40_000, 60_000])
    prefix = _read_only(gdir)
    if prefix is None:
        pytest.skip("cannot make a read-only folder here (root without user namespaces)")
    cache = tmp_path / "cache"
    cmd = prefix + [str(Path(sys.executable).parent / "wtko"), "prepare", "--wt", str(wt), "--ko", str(ko),
                    "--genome", str(genome), "--test-chroms", "", "--width", "200", "-o", str(tmp_path / "d")]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "XDG_CACHE_HOME": str(cache)},
                           timeout=300)
    finally:
        gdir.chmod(0o755)
    assert r.returncode == 0, r.stderr
    assert "its directory is not writable; its index is kept in" in r.stderr
    assert sorted(p.name for p in gdir.iterdir()) == ["mm10_region.fa"]  # nothing written beside the genome
    fai = list((cache / "wtko" / "genomes").glob("mm10_region.fa-*/mm10_region.fa.fai"))
    assert len(fai) == 1 and fai[0].read_text().split("\t")[:2] == [CONTIG, str(SIZE)]
    seq = "".join(GENOME.read_text().splitlines()[1:])
    stored = dict(read_fasta_records(tmp_path / "d" / "sequences.fa"))
    assert stored[f"{CONTIG}:1050-1250"] == seq[1050:1250]
