"""Benchmark: reading windows through ``wtko_captum.core.genome`` vs the field's readers.

    .venv/bin/python benchmarks/genome.py                 # 50,000 windows x 600 bp
    .venv/bin/python benchmarks/genome.py --n 200000 --width 1000

Genome: the real 1 Mb mouse region of tests/data (soft-masked), written as plain FASTA, bgzip
FASTA and UCSC .2bit (by tests/twobit.py) in a temporary directory. The same seeded random
0-based intervals are fetched by

* ``pysam``: ``pysam.FastaFile.fetch`` (htslib's faidx), the peer for plain and bgzip FASTA;
* ``py2bit``: ``py2bit.open(...).sequence``, the peer for .2bit (no layer in between);
* ``wtko``: ``open_genome(path).fetch`` on each file (pysam for FASTA, py2bit for .2bit,
  plus our bounds checks).

Every reader's windows are checked equal to the plain string before timing counts. Rates are
windows per CPU-second of this process (user + system), because on a shared machine wall time
mostly measures the neighbours. Floor: wtko >= 0.5 x the peer on the same file (window
extraction is a small part of ``prepare``; the rest is parsing and writing).
"""
from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GENOME = ROOT / "tests" / "data" / "genomes" / "mouse_chr17_1Mb_region.fa"


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed(fetch, intervals, expected) -> float:
    """Windows per CPU-second of ``fetch(chrom, start, end)``; the output is checked first."""
    for (c, s, e), want in zip(intervals[:200], expected):
        assert fetch(c, s, e) == want, (c, s, e)
    t = cpu()
    for c, s, e in intervals:
        fetch(c, s, e)
    return len(intervals) / max(cpu() - t, 1e-9)


def main(argv=None) -> int:
    import py2bit
    import pysam
    from Bio import bgzf

    sys.path.insert(0, str(ROOT / "tests"))
    from twobit import write_2bit

    from wtko_captum.core.genome import open_genome

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000, help="windows (default: 50000)")
    ap.add_argument("--width", type=int, default=600, help="window length (default: 600)")
    args = ap.parse_args(argv)

    lines = GENOME.read_text().splitlines()
    chrom, seq = lines[0][1:], "".join(lines[1:])
    rng = np.random.default_rng(0)
    starts = rng.integers(0, len(seq) - args.width, size=args.n)
    intervals = [(chrom, int(s), int(s) + args.width) for s in starts]
    expected = [seq[s:e] for _, s, e in intervals[:200]]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        plain = tmp / "g.fa"
        shutil.copyfile(GENOME, plain)
        bgz = tmp / "g.fa.gz"
        with bgzf.BgzfWriter(str(bgz), "wb") as fh:
            fh.write(GENOME.read_bytes())
        tb = write_2bit(tmp / "g.2bit", {chrom: seq})
        rows = []
        for name, path in (("plain FASTA", plain), ("bgzip FASTA", bgz)):
            pysam.faidx(str(path))
            peer = pysam.FastaFile(str(path))
            rows.append((name, "pysam.FastaFile", timed(peer.fetch, intervals, expected)))
            ours = open_genome(path)
            rows.append((name, f"wtko ({ours.kind})", timed(ours.fetch, intervals, expected)))
        peer2 = py2bit.open(str(tb), True)
        rows.append((".2bit", "py2bit", timed(peer2.sequence, intervals, expected)))
        rows.append((".2bit", "wtko (2bit)", timed(open_genome(tb).fetch, intervals, expected)))
    print(f"{args.n} windows x {args.width} bp from a 1 Mb genome; windows per CPU-second")
    print("| file | reader | windows/CPU-s | vs peer |\n|---|---|---:|---:|")
    for i, (name, reader, rate) in enumerate(rows):
        peer_rate = rows[i - i % 2][2]
        print(f"| {name} | {reader} | {rate:,.0f} | {rate / peer_rate:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
