"""``attribution_logo``: a pyGenomeTracks track drawing attribution as a sequence logo.

pyGenomeTracks finds track types through ``GenomeTrack.__subclasses__()``; it has no plugin
hook, so this class is only available when this module was imported before pyGenomeTracks
parses the ini (``wtko plot`` does that). The plain ``pyGenomeTracks`` CLI never needs it.

Two ways to get letters (each base at 0-based position p is drawn over [p, p+1), like
pyGenomeTracks draws BED intervals and bigWig bins):

* ``file`` (projected bigWig) + ``fasta``: the genome base at each position, its height the
  projected score (above the axis when positive, below when negative);
* ``file_A``, ``file_C``, ``file_G``, ``file_T`` (hypothetical bigWigs): all four letters at
  each position, positives stacked upwards and negatives downwards, largest outermost.

When the region is too long to read letters (fewer than ``min_mm_per_base`` millimetres per
base on the page), the track falls back to the stock bigWig drawing of ``file``.
"""
from __future__ import annotations

import numpy as np
import pyBigWig
from pygenometracks.tracks.BigWigTrack import BigWigTrack

BASES = "ACGT"
LOGO_COLORS = {"A": "#008000", "C": "#0000ff", "G": "#ffa500", "T": "#ff0000"}


class AttributionLogoTrack(BigWigTrack):
    SUPPORTED_ENDINGS = []  # never guessed from a file name: the ini must say file_type
    TRACK_TYPE = "attribution_logo"
    OPTIONS_TXT = BigWigTrack.OPTIONS_TXT.replace(
        "file_type = bigwig", "") + f"""
# projected attribution bigWig (letters' heights; also the line drawn when zoomed out)
#file = sample.projected.bw
# genome FASTA: which letter sits at each position (needs `file`)
#fasta = genome.fa
# or the four hypothetical bigWigs: draw every letter (used when fasta is not given)
#file_A = sample.hypothetical.A.bw
# letters are drawn when each base gets at least this many millimetres on the page
min_mm_per_base = 0.8
file_type = {TRACK_TYPE}
"""
    DEFAULTS_PROPERTIES = dict(BigWigTrack.DEFAULTS_PROPERTIES, fasta=None, file_A=None, file_C=None,
                               file_G=None, file_T=None, min_mm_per_base=0.8, type="fill")
    NECESSARY_PROPERTIES = ["file"]
    STRING_PROPERTIES = BigWigTrack.STRING_PROPERTIES + ["fasta", "file_A", "file_C", "file_G", "file_T"]
    FLOAT_PROPERTIES = dict(BigWigTrack.FLOAT_PROPERTIES, min_mm_per_base=[0, np.inf])

    def __init__(self, *args, **kwargs):
        # BigWigTrack.__init__ uses super(self.__class__), which recurses in a subclass
        from pygenometracks.tracks.GenomeTrack import GenomeTrack

        GenomeTrack.__init__(self, *args, **kwargs)
        self.bw = pyBigWig.open(self.properties["file"])
        self.bw2 = None
        self.drew_logo = False

    def set_properties_defaults(self):
        BigWigTrack.set_properties_defaults(self)

    # ------------------------------------------------------------------ plotting
    def plot(self, ax, chrom_region, start_region, end_region):
        self.drew_logo = False
        if not self._letters_readable(ax, start_region, end_region):
            return BigWigTrack.plot(self, ax, chrom_region, start_region, end_region)
        heights = self.letter_heights(chrom_region, start_region, end_region)
        if heights is None:
            return BigWigTrack.plot(self, ax, chrom_region, start_region, end_region)
        draw_logo(ax, heights, start_region)
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
        width_mm = ax.get_window_extent().width / ax.figure.dpi * 25.4
        return width_mm / max(end - start, 1) >= float(self.properties["min_mm_per_base"])

    def letter_heights(self, chrom, start, end) -> np.ndarray | None:
        """``(4, end - start)`` letter heights (rows A,C,G,T); NaN (no data) -> 0.

        From ``file`` + ``fasta`` (observed base only) or from ``file_A..file_T``; None when
        neither is configured.
        """
        n = end - start
        if self.properties["fasta"]:
            import pyfaidx

            fa = pyfaidx.Fasta(self.properties["fasta"], as_raw=True)
            chrom_fa = chrom if chrom in fa else _other_chrom_name(chrom)
            seq = str(fa[chrom_fa][max(start, 0):end]).upper()
            seq = "N" * max(0, -start) + seq + "N" * (n - len(seq) - max(0, -start))
            scores = _values(self.bw, chrom, start, end)
            out = np.zeros((4, n), dtype=np.float32)
            for i, b in enumerate(BASES):
                mask = np.frombuffer(seq.encode(), dtype="S1") == b.encode()
                out[i, mask] = scores[mask]
            return out
        files = [self.properties[f"file_{b}"] for b in BASES]
        if all(files):
            out = np.zeros((4, n), dtype=np.float32)
            for i, f in enumerate(files):
                bw = pyBigWig.open(f)
                try:
                    out[i] = _values(bw, chrom, start, end)
                finally:
                    bw.close()
            return out
        self.log.warning(f"{self.properties['section_name']}: attribution_logo needs `fasta` or "
                         "file_A..file_T; drawing the bigWig line instead\n")
        return None


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


def draw_logo(ax, heights: np.ndarray, start: int, colors=None, width: float = 0.95) -> int:
    """Draw letters on ``ax``: ``heights`` ``(4, n)``, column j centred on x = start + j + 0.5.

    Positive heights stack upwards from 0 and negative ones downwards, the smallest nearest the
    axis. Letters below the axis keep their orientation (readable); their placement shows the
    sign. Returns the number of glyphs drawn.
    """
    from logomaker import Glyph

    colors = colors or LOGO_COLORS
    n_glyphs = 0
    for j in range(heights.shape[1]):
        col = heights[:, j]
        x = start + j + 0.5
        pos_floor, neg_ceiling = 0.0, 0.0
        for i in np.argsort(np.abs(col)):
            h = float(col[i])
            if h == 0 or not np.isfinite(h):
                continue
            if h > 0:
                floor, ceiling = pos_floor, pos_floor + h
                pos_floor = ceiling
            else:
                floor, ceiling = neg_ceiling + h, neg_ceiling
                neg_ceiling = floor
            Glyph(x, BASES[i], floor=floor, ceiling=ceiling, ax=ax, width=width,
                  color=colors[BASES[i]], zorder=3)
            n_glyphs += 1
    return n_glyphs
