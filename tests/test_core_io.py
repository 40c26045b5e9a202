"""Atomic outputs, chromosome sizes, the AttributionSet directory and its modisco layout."""
import json

import numpy as np
import pandas as pd
import pytest

from wtko_captum.core.atomic import atomic_dir, atomic_path
from wtko_captum.core.attribution_set import AttributionSet, read_regions_bed
from wtko_captum.core.errors import InputError, near_miss
from wtko_captum.core.genome import chrom_sizes, read_chrom_sizes

from conftest import random_onehot


def test_atomic_dir_leaves_nothing_on_failure(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with atomic_dir(out) as tmp:
            (tmp / "half.txt").write_text("x")
            raise RuntimeError("boom")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_replaces_existing_only_on_success(tmp_path):
    out = tmp_path / "out"
    with atomic_dir(out) as tmp:  # a directory this tool wrote: it carries the marker
        (tmp / "old.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_dir(out) as tmp:
            raise RuntimeError
    assert (out / "old.txt").read_text() == "old"
    with atomic_dir(out) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == [".wtko-output.json", "new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no parts or old copies left


def test_atomic_path_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("complete")
    with pytest.raises(ValueError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise ValueError
    assert target.read_text() == "complete"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_messy_chrom_sizes_equal_clean(data_dir):
    messy = read_chrom_sizes(data_dir / "genomes/mm10.chrom.sizes.messy_whitespace")
    clean = read_chrom_sizes(data_dir / "genomes/mm10.chrom.sizes")
    assert messy == clean and clean["chr1"] == 195471971


def test_chrom_sizes_from_fasta_index(data_dir, tmp_path):
    import shutil

    fa = tmp_path / "g.fa"
    shutil.copy(data_dir / "genomes/mouse_chr17_1Mb_region.fa", fa)
    assert chrom_sizes(fa) == {"chr17_region": 1_000_001}
    assert (tmp_path / "g.fa.fai").exists()  # index built when missing


def test_bad_chrom_sizes_line_named(tmp_path):
    p = tmp_path / "bad.sizes"
    p.write_text("chr1\t100\nchr2\tlots\n")
    with pytest.raises(InputError, match=r"bad.sizes:2: .*not an integer.*'lots'"):
        read_chrom_sizes(p)


def test_near_miss_knows_chr_prefix():
    assert "chr1" in near_miss("1", ["chr1", "chr2"])
    assert "'7'" in near_miss("chr7", ["7", "8"])
    assert near_miss("zzz", ["chr1"]) == ""


def _attrset(n=5, length=30, seed=0):
    X = random_onehot(n, length, seed)
    X[0, :, 3] = 0  # an N
    rng = np.random.default_rng(seed)
    attr = rng.normal(size=X.shape).astype(np.float32)
    regions = pd.DataFrame({"chrom": ["chr1"] * n, "start": np.arange(n) * 100,
                            "end": np.arange(n) * 100 + length, "name": [f"r{i}" for i in range(n)],
                            "label": [1, 0, 1, 0, 1], "prediction": [1, 1, 0, 0, 1]})
    return AttributionSet(X, attr, regions, method="saliency", hypothetical=True, target="pred",
                          params={"abs": False}, model_identity="wtko_cnn@abc", class_names=["KO", "WT"])


def test_attribution_set_round_trip(tmp_path):
    a = _attrset()
    a.save(tmp_path / "s")
    b = AttributionSet.load(tmp_path / "s")
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.attr, b.attr)
    assert b.method == "saliency" and b.target == "pred" and b.model_identity == "wtko_cnn@abc"
    assert b.regions[["chrom", "start", "end", "name", "label", "prediction"]].equals(
        a.regions[["chrom", "start", "end", "name", "label", "prediction"]])


def test_attribution_set_npz_is_what_modisco_reads(tmp_path):
    """modisco-lite's CLI loads X.npz/attr.npz as np.load(f)['arr_0'] in (N,4,L) and transposes."""
    a = _attrset()
    a.save(tmp_path / "s")
    X = np.load(tmp_path / "s/X.npz")["arr_0"]
    attr = np.load(tmp_path / "s/attr.npz")["arr_0"]
    assert X.shape == (5, 4, 30) and attr.dtype == np.float32
    meta = json.loads((tmp_path / "s/meta.json").read_text())
    assert meta["hypothetical"] is True and meta["n"] == 5


def test_per_position_scores():
    a = _attrset()
    proj = a.per_position("projected")
    np.testing.assert_allclose(proj, (a.attr * a.X).sum(1))
    assert proj[0, 3] == 0.0  # N column contributes nothing
    np.testing.assert_allclose(a.per_position("maxabs"), np.abs(a.attr).max(1))


def test_regions_bed_is_plain_bed6(tmp_path):
    a = _attrset()
    a.save(tmp_path / "s")
    lines = (tmp_path / "s/regions.bed").read_text().splitlines()
    assert lines[0].startswith("#chrom\tstart\tend\tname\tscore\tstrand")
    assert lines[1].split("\t")[:3] == ["chr1", "0", "30"]
    assert len(read_regions_bed(tmp_path / "s/regions.bed")) == 5


def test_attribution_set_shape_errors():
    a = _attrset()
    with pytest.raises(InputError, match="differs"):
        AttributionSet(a.X, a.attr[:, :, :10], a.regions, "x")
    with pytest.raises(InputError, match=r"\(N, 4, L\)"):
        AttributionSet(a.X.transpose(0, 2, 1), a.attr.transpose(0, 2, 1), a.regions, "x")


def test_public_verbs_are_functions_after_every_module_is_imported():
    """No stage package or module is named like a public verb, so importing the whole tree
    never shadows ``wc.prepare`` & co. with a module."""
    import importlib
    import inspect
    import pkgutil

    import wtko_captum as wc

    for info in pkgutil.walk_packages(wc.__path__, "wtko_captum."):
        importlib.import_module(info.name)
    for verb in ("prepare", "train", "evaluate", "simulate", "attribute", "load_model"):
        assert inspect.isfunction(getattr(wc, verb)), verb
