"""``attribution_logo``: a pyGenomeTracks track drawing attribution as a sequence logo.

pyGenomeTracks finds track types through ``GenomeTrack.__subclasses__()``; it has no plugin
hook, so this class is only available when this module was imported before pyGenomeTracks
parses the ini (``wtko plot`` does that). The plain ``pyGenomeTracks`` CLI never needs it.

pyGenomeTracks reads the ini with :class:`configparser.ConfigParser`, which lower-cases every
key: the four hypothetical tracks are therefore the properties ``file_a``, ``file_c``,
``file_g``, ``file_t`` (``file_A`` in an ini arrives as ``file_a``; both spellings work).

Each base at 0-based position p is drawn over [p, p+1), like pyGenomeTracks draws BED
intervals and bigWig bins. ``letters`` chooses what is drawn:

* ``observed``: one letter per position, the observed base, its height the projected score of
  ``file`` (above the axis when positive, below when negative) -- the classic attribution logo.
  The observed base comes from ``fasta``; without one it is inferred from the hypothetical
  tracks: the projected track is the hypothetical score of the observed base, so the base is
  the one hypothetical track equal to ``file`` at that position (positions where no single
  track matches, e.g. ties, get no letter).
* ``hypothetical``: all four letters at each position with their hypothetical scores
  (``file_a`` .. ``file_t``), positives stacked upwards and negatives downwards, largest
  outermost. The observed base (from ``fasta`` or inferred as above) is drawn in full colour and
  the three alternatives faded, so the logo shows both what the sequence contributes and what
  each mutation would. This also reads for ISM, whose projected score is 0 by construction.
* ``auto`` (default): ``observed`` when ``fasta`` is set, else ``hypothetical``.

When the region is too long to read letters (fewer than ``min_mm_per_base`` millimetres per
base on the page), or no letters can be had, the track falls back to the stock bigWig drawing
of ``file``; ``drew_logo`` and ``n_glyphs`` record what the last :meth:`plot` did.
"""
from __future__ import annotations

import functools

import numpy as np
import pyBigWig
from pygenometracks.tracks.BigWigTrack import BigWigTrack

BASES = "ACGT"
HYP_KEYS = tuple(f"file_{b.lower()}" for b in BASES)  # as configparser delivers them
LOGO_COLORS = {"A": "#008000", "C": "#0000ff", "G": "#ffa500", "T": "#ff0000"}
FADED_ALPHA = 0.3


class AttributionLogoTrack(BigWigTrack):
    SUPPORTED_ENDINGS = []  # never guessed from a file name: the ini must say file_type
    TRACK_TYPE = "attribution_logo"
    OPTIONS_TXT = BigWigTrack.OPTIONS_TXT.replace(
        "file_type = bigwig", "") + f"""
# projected attribution bigWig (letters' heights; also the line drawn when zoomed out)
#file = sample.projected.bw
# genome FASTA: which letter sits at each position
#fasta = genome.fa
# the four hypothetical bigWigs (all four letters; observed base inferred without fasta)
#file_A = sample.hypothetical_A.bw
# observed (one letter, projected height), hypothetical (four letters) or auto
letters = auto
# letters are drawn when each base gets at least this many millimetres on the page (a
# 2 mm letter is about 12 pixels at 150 dpi; narrower ones are coloured smudges)
min_mm_per_base = 2.0
file_type = {TRACK_TYPE}
"""
    DEFAULTS_PROPERTIES = dict(BigWigTrack.DEFAULTS_PROPERTIES, fasta=None, letters="auto",
                               min_mm_per_base=2.0, type="fill", **dict.fromkeys(HYP_KEYS))
    NECESSARY_PROPERTIES = ["file"]
    STRING_PROPERTIES = BigWigTrack.STRING_PROPERTIES + ["fasta", "letters", *HYP_KEYS]
    FLOAT_PROPERTIES = dict(BigWigTrack.FLOAT_PROPERTIES, min_mm_per_base=[0, np.inf])
    POSSIBLE_PROPERTIES = dict(BigWigTrack.POSSIBLE_PROPERTIES,
                               letters=["auto", "observed", "hypothetical"])

    def __init__(self, properties_dict, *args, **kwargs):
        # configparser lower-cases keys; accept file_A when the dict is built in Python too
        props = {(k.lower() if k.lower() in HYP_KEYS else k): v for k, v in properties_dict.items()}
        # BigWigTrack.__init__ uses super(self.__class__), which recurses in a subclass
        from pygenometracks.tracks.GenomeTrack import GenomeTrack

        GenomeTrack.__init__(self, props, *args, **kwargs)
        self.bw = pyBigWig.open(self.properties["file"])
        self.bw2 = None
        self.drew_logo = False
        self.n_glyphs = 0

    def set_properties_defaults(self):
        BigWigTrack.set_properties_defaults(self)

    # ------------------------------------------------------------------ plotting
    def plot(self, ax, chrom_region, start_region, end_region):
        self.drew_logo, self.n_glyphs = False, 0
        if not self._letters_readable(ax, start_region, end_region):
            return BigWigTrack.plot(self, ax, chrom_region, start_region, end_region)
        logo = self.logo(chrom_region, start_region, end_region)
        if logo is None:
            return BigWigTrack.plot(self, ax, chrom_region, start_region, end_region)
        heights, observed = logo
        self.n_glyphs = draw_logo(ax, heights, start_region, observed=observed)
        pos = np.where(heights > 0, heights, 0).sum(axis=0)
        neg = np.where(heights < 0, heights, 0).sum(axis=0)
        lo = self.properties["min_value"] if self.properties["min_value"] is not None else min(neg.min(), 0)
        hi = self.properties["max_value"] if self.properties["max_value"] is not None else max(pos.max(), 0)
        if hi == lo:
            hi, lo = lo + 1e-6, lo - 1e-6
        ax.axhline(0, color="#999999", lw=0.5, zorder=0)
        ax.set_ylim(lo, hi)
        self.drew_logo = True
        return ax

    def _letters_readable(self, ax, start, end) -> bool:
        """Millimetres per base from the axes' position in figure coordinates times the figure
        width: unlike ``ax.get_window_extent()`` this needs no renderer or finished layout."""
        fig = ax.figure
        width_mm = ax.get_position().width * fig.get_figwidth() * 25.4
        return width_mm / max(end - start, 1) >= float(self.properties["min_mm_per_base"])

    def _mode(self) -> str:
        mode = self.properties["letters"]
        if mode == "auto":
            mode = "observed" if self.properties["fasta"] else "hypothetical"
        return mode

    def logo(self, chrom, start, end) -> tuple[np.ndarray, np.ndarray] | None:
        """``(heights (4, n), observed (n,) int)`` for [start, end) (0-based half-open).

        ``observed[j]`` is the row (A,C,G,T) of the observed base at start+j, -1 when unknown
        (N, gap, or not inferable). None when the configured files cannot give letters.
        """
        mode = self._mode()
        have_hyp = all(self.properties[k] for k in HYP_KEYS)
        if mode == "hypothetical" and not have_hyp or mode == "observed" and not (
                self.properties["fasta"] or have_hyp):
            self.log.warning(f"{self.properties['section_name']}: attribution_logo letters={mode} needs "
                             f"{'file_A..file_T' if mode == 'hypothetical' else '`fasta` or file_A..file_T'}; "
                             "drawing the bigWig line instead\n")
            return None
        n = end - start
        proj = _values(self.bw, chrom, start, end)
        hyp = self.hypothetical_values(chrom, start, end) if have_hyp else None
        if self.properties["fasta"]:
            observed = _fasta_bases(self.properties["fasta"], chrom, start, end)
        else:
            observed = infer_observed(proj, hyp)
        if mode == "hypothetical":
            return hyp, observed
        heights = np.zeros((4, n), dtype=np.float32)
        known = observed >= 0
        heights[observed[known], np.flatnonzero(known)] = proj[known]
        return heights, observed

    def letter_heights(self, chrom, start, end) -> np.ndarray | None:
        """``(4, end - start)`` letter heights (rows A,C,G,T) as drawn; NaN (no data) -> 0."""
        logo = self.logo(chrom, start, end)
        return None if logo is None else logo[0]

    def hypothetical_values(self, chrom, start, end) -> np.ndarray:
        out = np.zeros((4, end - start), dtype=np.float32)
        for i, key in enumerate(HYP_KEYS):
            bw = pyBigWig.open(self.properties[key])
            try:
                out[i] = _values(bw, chrom, start, end)
            finally:
                bw.close()
        return out


def infer_observed(proj: np.ndarray, hyp: np.ndarray, rtol: float = 1e-4) -> np.ndarray:
    """Observed base per position from ``proj`` (n,) and ``hyp`` (4, n): the one row of ``hyp``
    equal to ``proj`` (the projected score is the observed base's hypothetical score).

    Returns ``(n,)`` int rows 0..3, -1 where zero or several rows match (a tie says nothing).
    The tolerance is relative to the window's largest |score| (float32 storage, averaging).
    """
    scale = max(float(np.abs(hyp).max(initial=0)), float(np.abs(proj).max(initial=0)), 1e-30)
    match = np.abs(hyp - proj[None, :]) <= rtol * scale
    return np.where(match.sum(axis=0) == 1, match.argmax(axis=0), -1)


def _fasta_bases(fasta, chrom, start, end) -> np.ndarray:
    """Rows (A,C,G,T -> 0..3, else -1) of the genome bases over [start, end)."""
    import pyfaidx

    n = end - start
    fa = pyfaidx.Fasta(str(fasta), as_raw=True)
    chrom_fa = chrom if chrom in fa else _other_chrom_name(chrom)
    if chrom_fa not in fa:
        return np.full(n, -1)
    seq = str(fa[chrom_fa][max(start, 0):end]).upper()
    seq = "N" * max(0, -start) + seq + "N" * (n - len(seq) - max(0, -start))
    lut = np.full(256, -1)
    lut[np.frombuffer(BASES.encode(), np.uint8)] = np.arange(4)
    return lut[np.frombuffer(seq.encode(), np.uint8)]


def _values(bw, chrom, start, end) -> np.ndarray:
    """Per-base values over [start, end) (0-based half-open); gaps and off-chromosome -> 0."""
    n = end - start
    out = np.zeros(n, dtype=np.float32)
    chroms = bw.chroms()
    if chrom not in chroms:
        chrom = _other_chrom_name(chrom)
        if chrom not in chroms:
            return out
    lo, hi = max(start, 0), min(end, chroms[chrom])
    if hi > lo:
        vals = np.asarray(bw.values(chrom, lo, hi, numpy=True), dtype=np.float32)
        out[lo - start:hi - start] = np.nan_to_num(vals, nan=0.0)
    return out


def _other_chrom_name(chrom: str) -> str:
    return chrom[3:] if chrom.startswith("chr") else f"chr{chrom}"


@functools.lru_cache(maxsize=None)
def _glyph_path(letter: str, width: float):
    """logomaker's glyph for ``letter`` in the box x in [-width/2, width/2], y in [0, 1].

    Glyph's placement is affine in (p, floor, ceiling), so one path per letter scaled and
    shifted gives the same shape as a Glyph per position at a fraction of the cost (logomaker
    recomputes the text path and its Bezier extents for every glyph: ~10 ms each).
    """
    from logomaker import Glyph
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    return Glyph(0.0, letter, floor=0.0, ceiling=1.0, ax=ax, width=width).patch.get_path()


def draw_logo(ax, heights: np.ndarray, start: int, colors=None, width: float = 0.95,
              observed: np.ndarray | None = None) -> int:
    """Draw letters on ``ax``: ``heights`` ``(4, n)``, column j centred on x = start + j + 0.5.

    Positive heights stack upwards from 0 and negative ones downwards, the smallest nearest the
    axis. Letters below the axis keep their orientation (readable); their placement shows the
    sign. With ``observed`` ``(n,)`` (row of the observed base, -1 unknown) the other letters of
    a column whose observed base is known are faded. Returns the number of glyphs drawn (one
    :class:`~matplotlib.patches.PathPatch` each).
    """
    from matplotlib.patches import PathPatch
    from matplotlib.transforms import Affine2D

    colors = colors or LOGO_COLORS
    n_glyphs = 0
    for j in range(heights.shape[1]):
        col = heights[:, j]
        x = start + j + 0.5
        pos_floor, neg_ceiling = 0.0, 0.0
        for i in np.argsort(np.abs(col), kind="stable"):
            h = float(col[i])
            if h == 0 or not np.isfinite(h):
                continue
            if h > 0:
                floor = pos_floor
                pos_floor += h
            else:
                floor = neg_ceiling + h
                neg_ceiling = floor
            path = Affine2D().scale(1.0, abs(h)).translate(x, floor).transform_path(_glyph_path(BASES[i], width))
            faded = observed is not None and observed[j] >= 0 and observed[j] != i
            # add_artist, not add_patch: the axes limits are set by the caller, and updating
            # them from each letter's Bezier extents is what makes logomaker slow
            ax.add_artist(PathPatch(path, facecolor=colors[BASES[i]], edgecolor="none", linewidth=0,
                                    alpha=FADED_ALPHA if faded else 1.0, zorder=3))
            n_glyphs += 1
    return n_glyphs
