"""tracks.ini writer: stock pyGenomeTracks CLI renders it; colours, BED copies, classification."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from _tracks_data import CHROM, WINDOWS, count_colour, make_track_dir, png_pixels
from track_exporters.pygenometracks import (BASE_COLORS, CLASS_COLORS, NEGATIVE_COLOR, POSITIVE_COLOR,
                                            classify_track, find_tracks, read_intervals, write_tracks_ini)
from wtko_captum.core.errors import InputError
from wtko_captum.report.region import read_ini_sections


@pytest.fixture(scope="module")
def td(tmp_path_factory):
    return make_track_dir(tmp_path_factory.mktemp("tracks_ini"))


def test_classify_by_export_names():
    kinds = {n: (classify_track(Path(n)).kind, classify_track(Path(n)).base) for n in [
        "ig.projected.bw", "ig.maxabs.bw", "ig.hypothetical_G.bw", "ig.hypothetical.T.bigwig",
        "other.bw", "regions.bed", "seqlets.bed", "x.narrowPeak"]}
    assert kinds == {"ig.projected.bw": ("projected", None), "ig.maxabs.bw": ("maxabs", None),
                     "ig.hypothetical_G.bw": ("hypothetical", "G"), "ig.hypothetical.T.bigwig": ("hypothetical", "T"),
                     "other.bw": ("signal", None), "regions.bed": ("peaks", None),
                     "seqlets.bed": ("features", None), "x.narrowPeak": ("peaks", None)}
    with pytest.raises(InputError, match="not a track file"):
        classify_track(Path("notes.txt"))


def test_find_tracks_order_and_empty_dir(td, tmp_path):
    order = [(t.kind, t.base) for t in find_tracks(td["tracks"])]
    assert order == [("projected", None), ("maxabs", None), ("hypothetical", "A"), ("hypothetical", "C"),
                     ("hypothetical", "G"), ("hypothetical", "T"), ("features", None)]
    with pytest.raises(InputError, match="no bigWig"):
        find_tracks(tmp_path)


def test_ini_sections_colours_and_bed_copies(td, tmp_path):
    out = tmp_path / "view" / "tracks.ini"
    written = write_tracks_ini(td["tracks"], out, peaks=td["regions"], genome=td["genome"])
    assert written[0] == out and all(p.is_file() for p in written)
    secs = dict(read_ini_sections(out))
    proj = secs["projected saliency.projected"]
    assert (proj["color"], proj["negative_color"]) == (POSITIVE_COLOR, NEGATIVE_COLOR)
    assert secs["maxabs saliency.maxabs"]["min_value"] == "0"
    assert secs["hypothetical saliency.hypothetical_C"]["color"] == BASE_COLORS["C"]
    assert secs["sequence"]["file_type"] == "fasta"
    # relative paths resolve from the ini's directory (what pyGenomeTracks does)
    for props in secs.values():
        if "file" in props:
            assert not Path(props["file"]).is_absolute() and (out.parent / props["file"]).is_file()
    # seqlets: BED9 copy, exact coordinates, one colour per cluster name
    feat = read_intervals(out.parent / secs["features seqlets"]["file"])
    src = read_intervals(td["tracks"] / "seqlets.bed")
    assert feat[["chrom", "start", "end", "name"]].values.tolist() == src[["chrom", "start", "end", "name"]].values.tolist()
    colours = dict(zip(feat["name"], feat["col8"]))
    assert len(set(colours.values())) == 3
    assert feat.loc[feat["name"] == "pattern_0", "col8"].nunique() == 1
    assert secs["features seqlets"]["color"] == "bed_rgb"
    # peaks: coloured by class from the label column (1 = WT, 0 = KO)
    peaks = read_intervals(out.parent / secs["peaks regions"]["file"])
    rgb = {n: c for n, c in zip(peaks["name"], peaks["col8"])}
    hexrgb = lambda h: ",".join(str(int(h[i:i + 2], 16)) for i in (1, 3, 5))  # noqa: E731
    assert rgb == {"winA": hexrgb(CLASS_COLORS["WT"]), "winB": hexrgb(CLASS_COLORS["KO"])}


def test_stock_pygenometracks_cli_renders(td, tmp_path):
    """The acceptance test: the unmodified pyGenomeTracks command draws our ini."""
    ini = write_tracks_ini(td["tracks"], tmp_path / "tracks.ini", peaks=td["regions"])[0]
    exe = Path(sys.executable).with_name("pyGenomeTracks")
    s, e = WINDOWS[0][0] + 200, WINDOWS[0][0] + 420  # 220 bp >= 200 bins: no striping
    png = tmp_path / "region.png"
    res = subprocess.run([str(exe), "--tracks", str(ini), "--region", f"{CHROM}:{s}-{e}", "-o", str(png)],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    img = png_pixels(png)
    assert img.std() > 20, "blank image"
    # both signs of the projected track are drawn, in their own colours
    assert count_colour(img, POSITIVE_COLOR) > 200
    assert count_colour(img, NEGATIVE_COLOR) > 200
    # the KO-free first window: WT peak colour present, KO colour absent
    assert count_colour(img, CLASS_COLORS["WT"]) > 200 and count_colour(img, CLASS_COLORS["KO"]) == 0


def test_read_intervals_reports_bad_line(tmp_path):
    bad = tmp_path / "bad.bed"
    bad.write_text("track name=x\nchr1\t10\t20\tok\nchr1\tten\t30\tbad\n")
    with pytest.raises(InputError, match=r"bad.bed:3: column start is not an integer \(got 'ten'\)"):
        read_intervals(bad)
    tsv = tmp_path / "regions.tsv"
    tsv.write_text("chrom\tstart\tend\tname\tlabel\tclass\nchr1\t5\t9\tr0\t1\tWT\n")
    df = read_intervals(tsv)
    assert df[["chrom", "start", "end", "name", "class"]].values.tolist() == [["chr1", 5, 9, "r0", "WT"]]
    assert np.issubdtype(df["start"].dtype, np.integer)
