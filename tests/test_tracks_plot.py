"""wtko plot: region parsing, the attribution_logo track (letters at the right bases), rendering."""
from __future__ import annotations

import numpy as np
import pytest

from _tracks_data import CHROM, N_GAP, WINDOWS, count_colour, make_track_dir, png_pixels
from track_exporters.pygenometracks import write_tracks_ini
from wtko_captum.errors import InputError
from wtko_captum.plot import add_logo_tracks, igv_locus, parse_region, plot_region, prepare_sections


@pytest.fixture(scope="module")
def td(tmp_path_factory):
    d = make_track_dir(tmp_path_factory.mktemp("tracks_plot"))
    d["ini"] = write_tracks_ini(d["tracks"], d["root"] / "tracks.ini", peaks=d["regions"])[0]
    return d


def test_parse_region_is_bed_like():
    assert parse_region("chr10:22605206-22605441") == ("chr10", 22605206, 22605441)
    assert parse_region(" chr1:1,000-2,000 ") == ("chr1", 1000, 2000)
    assert igv_locus("chr10", 22605206, 22605441) == "chr10:22605207-22605441"
    for bad in ("chr1:200-100", "chr1:5-5", "chr1-5-9", "chr1:a-9"):
        with pytest.raises(InputError):
            parse_region(bad)


def _logo_track(props):
    import wtko_pgt.logo_track as lt

    return lt.AttributionLogoTrack(dict(props, section_name="logo test"))


def test_logo_letters_sit_on_genome_bases(td):
    """Observed-base mode: column j is base start+j (0-based) with height = projected value there."""
    s, e = WINDOWS[0][0] + 90, WINDOWS[0][0] + 130  # spans the N gap 1100-1110
    t = _logo_track({"file": str(td["tracks"] / "saliency.projected.bw"), "fasta": str(td["genome"])})
    h = t.letter_heights(CHROM, s, e)
    assert h.shape == (4, e - s)
    proj = np.nan_to_num(td["projected"][WINDOWS[0][0]][s - WINDOWS[0][0]:e - WINDOWS[0][0]])
    for j in range(e - s):
        base = td["seq"][s + j]
        nz = np.flatnonzero(h[:, j])
        if base == "N":
            assert nz.size == 0  # no letter, no fake 0-height glyph at N
        else:
            assert nz.tolist() in ([], ["ACGT".index(base)])
            assert h["ACGT".index(base), j] == pytest.approx(proj[j], abs=1e-6)
    assert (h != 0).sum() == (e - s) - (N_GAP[1] - N_GAP[0])


def test_logo_hypothetical_mode_and_fallback(td):
    files = {f"file_{b}": str(td["tracks"] / f"saliency.hypothetical_{b}.bw") for b in "ACGT"}
    t = _logo_track({"file": str(td["tracks"] / "saliency.projected.bw"), **files})
    s = WINDOWS[1][0] + 250
    h = t.letter_heights(CHROM, s, s + 20)
    proj = td["projected"][WINDOWS[1][0]][250:270]
    np.testing.assert_allclose(h, np.outer([0.4, 0.6, 0.8, 1.0], proj), rtol=1e-5, atol=1e-6)
    assert _logo_track({"file": str(td["tracks"] / "saliency.projected.bw")}).letter_heights(CHROM, s, s + 5) is None


def test_draw_logo_puts_negative_letters_below_axis():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from wtko_pgt.logo_track import draw_logo

    fig, ax = plt.subplots()
    heights = np.array([[0.5, 0, 0], [0, -0.7, 0], [0, 0, 0.2], [0, 0, -0.1]], dtype=float)
    assert draw_logo(ax, heights, start=100) == 4
    ax.set_xlim(100, 103)
    ax.set_ylim(-1, 1)
    boxes = [p.get_path().get_extents(p.get_transform() - ax.transData) for p in ax.patches]
    below = [b for b in boxes if b.y1 <= 1e-9]
    above = [b for b in boxes if b.y0 >= -1e-9]
    assert len(below) == 2 and len(above) == 2
    assert min(b.y0 for b in below) == pytest.approx(-0.7, abs=0.02)
    # column j is centred on start + j + 0.5 (base start+j occupies [start+j, start+j+1))
    assert sorted(round((b.x0 + b.x1) / 2, 2) for b in boxes) == [100.5, 101.5, 102.5, 102.5]
    plt.close(fig)


def test_prepare_sections_adds_logo_and_caps_bins(td):
    secs, n = prepare_sections(td["ini"], (CHROM, 1000, 1080), genome=td["genome"])
    assert n == 1
    names = [name for name, _ in secs]
    i = names.index("projected saliency.projected")
    assert secs[i + 1][1]["file_type"] == "attribution_logo"
    assert all(int(p["number_of_bins"]) <= 80 for _, p in secs if p.get("file_type") == "bigwig")
    # without a genome the four hypothetical tracks provide the letters
    secs2, n2 = add_logo_tracks(prepare_sections(td["ini"], (CHROM, 1000, 1080), logo=False)[0])
    assert n2 == 1 and "file_A" in dict(secs2)["logo projected saliency.projected"]


def test_plot_region_png_and_pdf(td, tmp_path):
    s = WINDOWS[1][0] + 260
    region = f"{CHROM}:{s}-{s + 60}"
    with_logo = plot_region(td["ini"], region, tmp_path / "logo.png", genome=td["genome"], dpi=60)
    plain = plot_region(td["ini"], region, tmp_path / "plain.png", logo=False, dpi=60)
    a, b = png_pixels(with_logo), png_pixels(plain)
    assert a.std() > 20 and b.std() > 20
    assert a.shape[0] > b.shape[0]  # one more track
    # logo letters use the classic colours: green A and orange G appear only with the logo
    assert count_colour(a, "#008000", tol=20) > count_colour(b, "#008000", tol=20) + 50
    pdf = plot_region(td["ini"], region, tmp_path / "r.pdf", genome=td["genome"])
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert not list(tmp_path.glob(".*part*"))


def test_cli_plot_and_tracks(td, tmp_path, capsys):
    from wtko_captum.cli import main

    ini = tmp_path / "t.ini"
    assert main(["tracks", "ini", str(td["tracks"]), "--peaks", str(td["regions"]), "-o", str(ini), "-q"]) == 0
    assert main(["plot", str(ini), "--region", f"{CHROM}:900-700", "-o", str(tmp_path / "x.png"), "-q"]) == 2
    assert "region end must be larger" in capsys.readouterr().err
    assert main(["plot", str(ini), "--region", f"{CHROM}:1000-1100", "-o", str(tmp_path / "x.jpg"), "-q"]) == 2
