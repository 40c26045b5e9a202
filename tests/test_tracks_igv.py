"""IGV session XML and batch script; the real IGV desktop (under xvfb) loads them (external)."""
from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from _tracks_data import CHROM, WINDOWS, count_colour, make_track_dir, png_pixels
from track_exporters.igv import (covered_intervals, data_range, igv_load_errors, run_igv_batch, top_regions,
                                 write_igv_batch, write_igv_session)
from track_exporters.pygenometracks import NEGATIVE_COLOR, POSITIVE_COLOR, find_tracks


@pytest.fixture(scope="module")
def td(tmp_path_factory):
    return make_track_dir(tmp_path_factory.mktemp("tracks_igv"))


def _max_abs(td, k):
    return float(np.nanmax(np.abs(td["projected"][WINDOWS[k][0]])))


def test_top_regions_ranked_by_max_abs(td):
    regs = top_regions(find_tracks(td["tracks"]), td["regions"], n=5)
    assert [(r.chrom, r.start, r.end) for r in regs] == [(CHROM, 3000, 3600), (CHROM, 1000, 1600)]
    assert regs[0].score == pytest.approx(_max_abs(td, 1), rel=1e-6)
    assert regs[1].score == pytest.approx(_max_abs(td, 0), rel=1e-6)
    assert regs[0].locus == f"{CHROM}:3001-3600"  # IGV locus: 1-based inclusive
    # without peaks: the bigWig's covered runs (the N gap splits window A in two)
    cov = covered_intervals(td["tracks"] / "saliency.projected.bw")
    assert cov[["start", "end"]].values.tolist() == [[1000, 1100], [1110, 1600], [3000, 3600]]
    assert top_regions(find_tracks(td["tracks"]), None, n=1)[0].start == 3000


def test_session_xml(td, tmp_path):
    out = tmp_path / "igv" / "session.xml"
    written = write_igv_session(td["tracks"], out, genome=str(td["genome"]), peaks=td["regions"], top=2)
    root = ET.parse(out).getroot()
    assert root.tag == "Session" and root.get("version") == "8"
    assert (out.parent / root.get("genome")).resolve() == td["genome"].resolve()
    assert root.get("locus") == f"{CHROM}:3001-3600"
    paths = [r.get("path") for r in root.iter("Resource")]
    assert len(paths) == 8 and all((out.parent / p).is_file() for p in paths)
    tracks = {t.get("name"): t for t in root.iter("Track")}
    proj = tracks["saliency projected"]
    rgb = lambda h: ",".join(str(int(h[i:i + 2], 16)) for i in (1, 3, 5))  # noqa: E731
    assert (proj.get("color"), proj.get("altColor")) == (rgb(POSITIVE_COLOR), rgb(NEGATIVE_COLOR))
    rng = proj.find("DataRange")
    m = max(_max_abs(td, 0), _max_abs(td, 1))
    assert float(rng.get("minimum")) == pytest.approx(-m, rel=1e-5)
    assert float(rng.get("maximum")) == pytest.approx(m, rel=1e-5)
    assert float(tracks["saliency max|attr|"].find("DataRange").get("minimum")) == 0.0
    assert tracks["seqlets"].get("itemRgb") == "On"
    # <Region> is 0-based half-open (IGV's RegionOfInterest), unlike the 1-based locus
    regs = [(r.get("chromosome"), int(r.get("start")), int(r.get("end"))) for r in root.iter("Region")]
    assert regs == [(CHROM, 3000, 3600), (CHROM, 1000, 1600)]
    assert written[0] == out and len(written) == 3


def test_batch_script_coordinates(td, tmp_path):
    regs = top_regions(find_tracks(td["tracks"]), td["regions"], n=1)
    script = write_igv_batch(tmp_path / "b.txt", genome=str(td["genome"]), snapshot_dir=tmp_path / "snap",
                             regions=regs, tracks=find_tracks(td["tracks"])[:1], prefix="top_")
    lines = script.read_text().splitlines()
    assert lines[0] == "new" and lines[-1] == "exit"
    assert lines[1] == f"genome {td['genome'].resolve()}"
    assert f"region {CHROM} 3001 3600 winB" in lines  # batch region: 1-based inclusive
    assert f"goto {CHROM}:3001-3600" in lines
    assert f"snapshot top_{CHROM}_3000_3600.png" in lines


def test_load_error_detection():
    log = ("SEVERE [x] [OAuthUtils] java.net.UnknownHostException: s3.amazonaws.com\n"
           "INFO [x] [TrackLoader] Loading resource: a.bw\n")
    assert igv_load_errors(log) == []
    assert len(igv_load_errors(log + "SEVERE [x] [IGV] Error loading track\n"
                               "WARNING [x] [BatchRunner] load /x.bed => Error: /x.bed does not exist.\n")) == 2


def test_data_range_unsigned(td):
    lo, hi = data_range(td["tracks"] / "saliency.maxabs.bw")
    assert lo == 0.0 and hi == pytest.approx(1.5 * max(_max_abs(td, 0), _max_abs(td, 1)), rel=1e-5)


@pytest.mark.external
def test_real_igv_loads_session_and_snapshots(td, tmp_path):
    """IGV desktop (Debian `igv`) under xvfb-run, offline, local FASTA genome: loads our session,
    draws our tracks, writes snapshots, logs no load error. CI installs igv (.ci/run)."""
    if shutil.which("igv") is None or shutil.which("xvfb-run") is None:
        pytest.fail("IGV desktop / xvfb-run not installed: apt-get install -y igv xvfb xauth (.ci/run does)")
    session = write_igv_session(td["tracks"], tmp_path / "session.xml", genome=str(td["genome"]),
                                peaks=td["regions"], top=2)[0]
    regs = top_regions(find_tracks(td["tracks"]), td["regions"], n=2)
    snap = tmp_path / "snaps"
    script = write_igv_batch(tmp_path / "session_batch.txt", genome=str(td["genome"]), snapshot_dir=snap,
                             regions=regs, session=session)
    code, log = run_igv_batch(script, genome=td["genome"], timeout=60)
    assert code == 0, log[-3000:]
    assert "Loading resource" in log and "saliency.projected.bw" in log
    assert igv_load_errors(log) == [], log[-3000:]
    pngs = sorted(snap.glob("*.png"))
    assert [p.name for p in pngs] == [f"{CHROM}_1000_1600.png", f"{CHROM}_3000_3600.png"]
    img = png_pixels(pngs[1])
    assert img.std() > 20
    # our session colours reached the screen: positive and negative projected bars, a cluster colour
    assert count_colour(img, POSITIVE_COLOR, tol=8) > 100
    assert count_colour(img, NEGATIVE_COLOR, tol=8) > 100


@pytest.mark.external
def test_real_igv_batch_loads_tracks_directly(td, tmp_path):
    if shutil.which("igv") is None or shutil.which("xvfb-run") is None:
        pytest.fail("IGV desktop / xvfb-run not installed: apt-get install -y igv xvfb xauth (.ci/run does)")
    tracks = find_tracks(td["tracks"])
    regs = top_regions(tracks, td["regions"], n=1)
    snap = tmp_path / "snaps"
    script = write_igv_batch(tmp_path / "tracks_batch.txt", genome=str(td["genome"]), snapshot_dir=snap,
                             regions=regs, tracks=[t for t in tracks if t.kind in ("projected", "maxabs")])
    code, log = run_igv_batch(script, genome=td["genome"], timeout=60)
    assert code == 0 and igv_load_errors(log) == [], log[-3000:]
    img = png_pixels(snap / f"{CHROM}_3000_3600.png")
    # loaded without a session, IGV draws bigWigs in its default blue (0,0,178)
    assert img.std() > 20 and count_colour(img, "#0000b2", tol=8) > 100
