"""wtko plot: region parsing, the attribution_logo track (letters at the right bases), rendering."""
from __future__ import annotations

import numpy as np
import pytest

from _tracks_data import CHROM, N_GAP, WINDOWS, count_colour, make_track_dir, png_pixels
from track_exporters.pygenometracks import write_tracks_ini
from wtko_captum.core.errors import InputError
from wtko_captum.report.region import add_logo_tracks, igv_locus, parse_region, plot_region, prepare_sections


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
    # the logo goes below the projected track's zero-line overlay, which stays on its track
    assert secs[i + 1][1].get("overlay_previous") == "share-y"
    logo = secs[i + 2][1]
    assert secs[i + 2][0] == "logo projected saliency.projected" and logo["file_type"] == "attribution_logo"
    # lower-case keys: pyGenomeTracks' configparser would lower-case file_A anyway
    assert logo["file_a"].endswith("saliency.hypothetical_A.bw") and logo["fasta"] == str(td["genome"])
    assert all(int(p["number_of_bins"]) <= 80 for _, p in secs if p.get("file_type") == "bigwig")
    # without a genome the four hypothetical tracks provide the letters
    secs2, n2 = add_logo_tracks(prepare_sections(td["ini"], (CHROM, 1000, 1080), logo=False)[0])
    assert n2 == 1 and "file_t" in dict(secs2)["logo projected saliency.projected"]
    assert "fasta" not in dict(secs2)["logo projected saliency.projected"]


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


# --------------------------------------------------------------- letters actually drawn
def _consistent_hypothetical(td, root):
    """A copy of ``td``'s tracks whose hypothetical tracks are what `wtko export` writes: the
    observed base's hypothetical score equals the projected score, the others differ."""
    import shutil

    from _tracks_data import _write_bw

    root.mkdir()
    shutil.copytree(td["tracks"], root / "tracks")
    obs = np.array(["ACGT".find(c) for c in td["seq"]])
    for i, b in enumerate("ACGT"):
        vals = {}
        for s0, v in td["projected"].items():
            o = obs[s0:s0 + v.size]
            alt = -0.5 * v + 0.05 * (i + 1)  # never equal to v where v is finite
            vals[s0] = np.where(o == i, v, np.where(np.isfinite(v), alt, np.nan)).astype(np.float32)
        _write_bw(root / "tracks" / f"saliency.hypothetical_{b}.bw", vals)
    ini = write_tracks_ini(root / "tracks", root / "tracks.ini", peaks=td["regions"])[0]
    return ini, obs


def test_observed_base_inferred_from_hypothetical_tracks(td, tmp_path):
    from wtko_pgt.logo_track import infer_observed

    _, obs = _consistent_hypothetical(td, tmp_path / "c")
    files = {f"file_{b}": str(tmp_path / "c/tracks" / f"saliency.hypothetical_{b}.bw") for b in "ACGT"}
    proj_file = str(tmp_path / "c/tracks/saliency.projected.bw")
    s, e = WINDOWS[0][0] + 90, WINDOWS[0][0] + 130  # spans the N gap
    inferred = _logo_track({"file": proj_file, **files}).logo(CHROM, s, e)[1]
    want = np.where(np.isin(np.arange(s, e), np.arange(*N_GAP)), -1, obs[s:e])
    np.testing.assert_array_equal(inferred, want)
    # letters=observed without FASTA == the FASTA-based observed logo
    h_inf = _logo_track({"file": proj_file, "letters": "observed", **files}).letter_heights(CHROM, s, e)
    h_fa = _logo_track({"file": proj_file, "fasta": str(td["genome"])}).letter_heights(CHROM, s, e)
    np.testing.assert_array_equal(h_inf, h_fa)
    assert (h_fa != 0).sum() == (e - s) - (N_GAP[1] - N_GAP[0])
    # a tie says nothing: two bases equal to the projected score -> unknown
    assert infer_observed(np.array([1.0, 2.0]), np.array([[1.0, 0], [1.0, 2.0], [0, 0], [0, 0]])).tolist() == [-1, 1]


@pytest.fixture()
def logo_spy(monkeypatch):
    """Every AttributionLogoTrack pyGenomeTracks plots, with the axes it drew on."""
    import wtko_pgt.logo_track as lt

    seen = []
    orig = lt.AttributionLogoTrack.plot

    def plot(self, ax, *args):
        out = orig(self, ax, *args)
        seen.append((self, ax))
        return out

    monkeypatch.setattr(lt.AttributionLogoTrack, "plot", plot)
    return seen


@pytest.mark.parametrize("with_fasta", [True, False], ids=["fasta", "hypothetical-only"])
def test_plot_region_draws_letters_not_the_bigwig_line(td, tmp_path, logo_spy, with_fasta, caplog):
    """Regression: on a real demo output (hypothetical tracks, no FASTA) the logo track drew the
    bigWig line, because configparser turned file_A into file_a and the track never saw it."""
    from matplotlib.patches import PathPatch

    ini, obs = _consistent_hypothetical(td, tmp_path / "c")
    s = WINDOWS[1][0] + 280
    out = plot_region(ini, f"{CHROM}:{s}-{s + 50}", tmp_path / "zoom.png", dpi=60,
                      genome=td["genome"] if with_fasta else None)
    assert out.is_file() and "drawing the bigWig line instead" not in caplog.text
    (track, ax), = logo_spy
    assert track.drew_logo
    glyphs = [p for p in ax.patches if isinstance(p, PathPatch)]
    assert len(glyphs) == track.n_glyphs
    if with_fasta:  # one letter per base, in the observed base's colour
        assert track.n_glyphs == 50
        colours = {p.get_facecolor()[:3] for p in glyphs}
        assert len(colours) == 4
    else:  # four letters per base; exactly the observed one at full opacity
        assert track.n_glyphs == 200
        solid = [p for p in glyphs if p.get_alpha() == 1.0]
        assert len(solid) == 50
        # the solid letter of column j is the genome base at s + j
        xs = sorted((p.get_path().get_extents().x0, p.get_facecolor()[:3]) for p in solid)
        from matplotlib.colors import to_rgb
        from wtko_pgt.logo_track import LOGO_COLORS

        assert [c for _, c in xs] == [to_rgb(LOGO_COLORS["ACGT"[o]]) for o in obs[s:s + 50]]
    img = png_pixels(out)
    assert count_colour(img, "#008000", tol=30) > 50 and count_colour(img, "#ffa500", tol=30) > 50


def test_long_region_falls_back_to_bigwig_line(td, tmp_path, logo_spy):
    ini, _ = _consistent_hypothetical(td, tmp_path / "c")
    plot_region(ini, f"{CHROM}:{WINDOWS[1][0]}-{WINDOWS[1][1]}", tmp_path / "wide.png", dpi=40, width_cm=20)
    (track, _), = logo_spy
    assert not track.drew_logo and track.n_glyphs == 0  # 600 bp on ~17 cm: 0.3 mm per base


def test_zoom_region_centres_on_max_abs_projected(td):
    from wtko_captum.report.region import zoom_region

    bw = td["tracks"] / "saliency.projected.bw"
    s, e = WINDOWS[1][0], WINDOWS[1][1]
    v = np.abs(np.nan_to_num(td["projected"][s]))
    peak = s + int(v.argmax())
    assert zoom_region(bw, CHROM, s, e, 50) == (CHROM, peak - 25, peak + 25)
    # the peak base sits inside the window at its centre; the window stays on the chromosome
    assert zoom_region(bw, CHROM, 0, 10, 50) == (CHROM, 0, 50)  # no values: centred, shifted on
    with pytest.raises(InputError):
        zoom_region(bw, "chrNope", 0, 10)
