"""`wtko export bed`: window-relative hits and genome intervals to BED with exact coordinates."""
from __future__ import annotations

import numpy as np
import pandas as pd

from conftest import random_onehot
from wtko_captum.core.attribution_set import AttributionSet
from wtko_captum.cli import main


def test_cli_bed_from_window_hits_and_from_genome_table(tmp_path, data_dir):
    regions = pd.DataFrame({"chrom": ["chr3", "chr1"], "start": [5000, 100], "end": [5040, 140], "name": ["a", "b"]})
    AttributionSet(random_onehot(2, 40), np.zeros((2, 4, 40), np.float32), regions, "m").save(tmp_path / "attr")
    hits = tmp_path / "hits.tsv"
    hits.write_text("example_idx\tstart\tend\tpattern\tscore\tis_forward\tp-value\n"
                    "0\t3\t11\tcl1\t2.5\tTrue\t1e-4\n"
                    "1\t0\t40\tcl2\t-1\tFalse\t0.02\n")
    out = tmp_path / "hits.bed"
    assert main(["export", "bed", str(hits), "--regions", str(tmp_path / "attr"), "--name-col", "pattern",
                 "--strand-col", "is_forward", "--extra", "p-value", "--chrom-sizes",
                 str(data_dir / "genomes/hg19.chrom.sizes"), "-o", str(out), "-q"]) == 0
    assert out.read_text().splitlines() == ["#chrom\tstart\tend\tname\tscore\tstrand\tp-value",
                                            "chr1\t100\t140\tcl2\t-1\t-\t0.02",
                                            "chr3\t5003\t5011\tcl1\t2.5\t+\t0.0001"]
    genome = tmp_path / "g.csv"
    genome.write_text("chrom,start,end,name\nchr2,10,20,k1\nchr2,5,9,k2\n")
    assert main(["export", "bed", str(genome), "-o", str(tmp_path / "g.bed"), "-q"]) == 0
    assert (tmp_path / "g.bed").read_text().splitlines()[1:] == ["chr2\t5\t9\tk2\t0\t.", "chr2\t10\t20\tk1\t0\t."]
    assert main(["export", "bed", str(tmp_path / "missing.tsv"), "-o", str(tmp_path / "x.bed"), "-q"]) == 2
