"""pyGenomeTracks ``tracks.ini`` for a directory of attribution tracks.

The ini uses only stock track types (``bigwig``, ``bed``, ``fasta``, ``x_axis``, ``spacer``),
so the plain ``pyGenomeTracks --tracks tracks.ini --region chr:start-end -o out.png`` renders
it. ``wtko plot`` (:func:`wtko_captum.report.region.plot_region`) adds our sequence-logo track on top.

Which file is which track is read from its name (the naming ``wtko export`` uses)::

    *projected*.bw          signed per-base score (attr x one-hot summed over A,C,G,T)
    *maxabs*.bw             max over A,C,G,T of |attr| (non-negative)
    *hypothetical*[._-]A.bw one per base A/C/G/T (hypothetical contribution of that letter)
    other *.bw / *.bigwig   any other signal, drawn signed
    *peak* / *region*.bed   the peaks / windows (coloured by class when a class column exists)
    *variant*.bed           variants (``wtko variants``): coloured by their ``band`` column
    other *.bed             k-mers, seqlets, motif hits: coloured by name (= cluster/pattern)

The variant layout of ``wtko variants --tracks`` (``<method>.ref|alt|delta.projected.bw`` and
``variants.bed``) is drawn as the variants on top, then each method's ref, alt and delta
tracks in that order.

BED inputs are normalised into BED9 copies with an ``itemRgb`` colour (written next to the
ini, in ``<ini stem>.files/``) because pyGenomeTracks colours features only through
``color = bed_rgb`` and chokes on BED6+ extra columns that are not thickStart/thickEnd/itemRgb.

Coordinates: BED files are 0-based half-open and pyGenomeTracks draws them as such; a
``--region chr:start-end`` is used verbatim as the same 0-based half-open interval.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from wtko_captum.core.atomic import write_text
from wtko_captum.core.errors import InputError
from wtko_captum.core.intervals import read_intervals
from wtko_captum.core.registry import exporter

BIGWIG_SUFFIXES = (".bw", ".bigwig", ".bigWig")
BED_SUFFIXES = (".bed", ".narrowPeak", ".bed.gz")

# positive = evidence for the explained class, negative = against (red/blue, colour-blind safe pair)
POSITIVE_COLOR = "#b2182b"
NEGATIVE_COLOR = "#2166ac"
MAXABS_COLOR = "#4d4d4d"
# the classic logo colours (logomaker "classic"), shared with the logo track and IGV
BASE_COLORS = {"A": "#008000", "C": "#0000ff", "G": "#ffa500", "T": "#ff0000"}
# WT / KO peaks; anything else falls back to the cluster palette
CLASS_COLORS = {"WT": "#d95f02", "KO": "#1b9e77"}
# variant effect bands of `wtko variants` (|delta| strong > moderate > weak)
BAND_COLORS = {"strong": "#b2182b", "moderate": "#ef8a62", "weak": "#999999"}

_HYP_BASE = re.compile(r"hypothetical[._-]?([ACGT])(?=[._-]|$)", re.IGNORECASE)
_PEAK_WORDS = ("peak", "region", "window")
_ROLE = re.compile(r"(?<=[._-])(ref|alt|delta)(?=[._-])")
_ROLE_ORDER = {"ref": 0, "alt": 1, "delta": 2}
# explicit file_type so section names can be unique (configparser-readable, not only pGT's parser)
SPACER = ("spacer", {"file_type": "spacer", "height": 0.3})
KIND_ORDER = {"variants": 0, "peaks": 0, "projected": 1, "maxabs": 2, "hypothetical": 3, "signal": 4, "features": 5}


@dataclass(frozen=True)
class TrackFile:
    """One file of a tracks directory.

    kind: ``projected`` | ``maxabs`` | ``hypothetical`` | ``signal`` (bigWig) or ``peaks`` |
    ``variants`` | ``features`` (BED). base: A/C/G/T for ``hypothetical``. title: the label shown.
    """

    path: Path
    kind: str
    base: str | None = None
    title: str = ""

    @property
    def is_bigwig(self) -> bool:
        return self.kind in ("projected", "maxabs", "hypothetical", "signal")

    @property
    def signed(self) -> bool:
        return self.kind != "maxabs"


def classify_track(path) -> TrackFile:
    """The :class:`TrackFile` for one path, from its name (see module docstring)."""
    path = Path(path)
    name = path.name
    low = name.lower()
    stem = _strip_suffix(name)
    if name.endswith(BIGWIG_SUFFIXES):
        m = _HYP_BASE.search(stem)
        if m:
            base = m.group(1).upper()
            return TrackFile(path, "hypothetical", base, _title(_HYP_BASE.sub("", stem), f"hyp. {base}"))
        if "projected" in low:
            return TrackFile(path, "projected", None, _title(stem.replace("projected", ""), "projected"))
        if "maxabs" in low:
            return TrackFile(path, "maxabs", None, _title(stem.replace("maxabs", ""), "max|attr|"))
        return TrackFile(path, "signal", None, stem)
    if name.endswith(BED_SUFFIXES):
        if "variant" in low:
            return TrackFile(path, "variants", None, stem)
        if any(w in low for w in _PEAK_WORDS):
            return TrackFile(path, "peaks", None, stem)
        return TrackFile(path, "features", None, stem)
    raise InputError("not a track file (expected .bw/.bigwig or .bed/.narrowPeak)", path=path)


def find_tracks(tracks_dir) -> list[TrackFile]:
    """Every bigWig and BED directly inside ``tracks_dir``, classified and sorted.

    Order: peaks, projected, maxabs, hypothetical A,C,G,T, other signals, features; by name
    within a kind. Hidden and partial (``.part``) files are ignored.
    """
    tracks_dir = Path(tracks_dir)
    if not tracks_dir.is_dir():
        raise InputError("tracks directory not found", path=tracks_dir)
    found = []
    for p in sorted(tracks_dir.iterdir()):
        if p.name.startswith(".") or ".part" in p.name or not p.is_file():
            continue
        if p.name.endswith(BIGWIG_SUFFIXES + BED_SUFFIXES):
            found.append(classify_track(p))
    if not any(t.is_bigwig for t in found):
        raise InputError("no bigWig (.bw) files in the tracks directory; run `wtko export bigwig` first",
                         path=tracks_dir)
    return sort_tracks(found)


def sort_tracks(tracks: list[TrackFile]) -> list[TrackFile]:
    """Peaks and variants, projected, maxabs, hypothetical (A,C,G,T of one prefix together),
    signals, features; a variant layout's ref, alt, delta tracks of one method in that order."""
    def key(t: TrackFile):
        stem = _strip_suffix(t.path.name)
        role = _ROLE.search(stem)
        group = _ROLE.sub("", _HYP_BASE.sub("hypothetical", stem)).lower()
        return (KIND_ORDER[t.kind], group, _ROLE_ORDER[role.group(1)] if role else -1,
                "ACGT".index(t.base) if t.base else -1, t.path.name)
    return sorted(tracks, key=key)


# ----------------------------------------------------------------------------- BED inputs

def palette(names) -> dict[str, str]:
    """A stable colour per distinct name: sorted names take tab20 colours in turn."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cmap = colormaps["tab20"]
    # even indices first: the saturated half of tab20, so small cluster counts stay distinct
    order = list(range(0, 20, 2)) + list(range(1, 20, 2))
    return {n: to_hex(cmap(order[i % 20])) for i, n in enumerate(sorted(set(map(str, names))))}


def colour_of_class(df: pd.DataFrame) -> pd.Series | None:
    """The class name of each peak, from a ``class`` or ``label`` column (1 = WT, 0 = KO)."""
    if "class" in df:
        return df["class"].astype(str)
    if "label" in df:
        lab = df["label"].astype(str).replace({"1": "WT", "0": "KO", "1.0": "WT", "0.0": "KO"})
        return lab
    return None


def write_bed9(df: pd.DataFrame, colors: pd.Series, out) -> Path:
    """BED9 (chrom start end name score strand thickStart thickEnd itemRgb), sorted, atomically.

    ``colors``: one hex colour per row. Scores are kept (pyGenomeTracks accepts floats).
    """
    rgb = colors.map(lambda h: ",".join(str(int(h[i:i + 2], 16)) for i in (1, 3, 5)))
    bed = pd.DataFrame({"chrom": df["chrom"].astype(str), "start": df["start"], "end": df["end"],
                        "name": df["name"].astype(str).str.replace(r"\s+", "_", regex=True),
                        "score": pd.to_numeric(df["score"], errors="coerce").fillna(0),
                        "strand": df["strand"], "thickStart": df["start"], "thickEnd": df["end"],
                        "itemRgb": rgb.to_numpy()})
    bed = bed.sort_values(["chrom", "start", "end"], kind="stable")
    return write_text(out, bed.to_csv(sep="\t", header=False, index=False))


def normalise_bed(path, kind: str, out_dir) -> tuple[Path, dict[str, str]]:
    """Write a coloured BED9 copy of a peaks/features BED into ``out_dir``.

    Peaks are coloured by class (WT/KO) when the file has one, variants by their effect band,
    features by name (cluster or pattern). Returns the new path and the ``{name: colour}`` legend.
    """
    df = read_intervals(path)
    if kind == "variants" and "band" in df:
        keys = df["band"].astype(str)
        pal = {k: BAND_COLORS.get(k, "#666666") for k in keys.unique()}
        out = Path(out_dir) / f"{_strip_suffix(Path(path).name)}.{kind}.bed"
        return write_bed9(df, keys.map(pal), out), pal
    keys = colour_of_class(df) if kind == "peaks" else None
    if keys is None:
        keys = df["name"].astype(str) if kind in ("features", "variants") else pd.Series(["peak"] * len(df))
    pal = palette(keys)
    if kind == "peaks":
        pal = {k: CLASS_COLORS.get(k, "#666666" if len(pal) == 1 else c) for k, c in pal.items()}
    out = Path(out_dir) / f"{_strip_suffix(Path(path).name)}.{kind}.bed"
    return write_bed9(df, keys.map(pal), out), pal


# ----------------------------------------------------------------------------- ini writing

def bigwig_section(t: TrackFile, *, height: float = 3.0, number_of_bins: int = 200) -> dict:
    """pyGenomeTracks properties of one bigWig track (stock ``bigwig`` type).

    ``number_of_bins`` must not exceed the plotted region's length in bp: pyBigWig returns NaN
    for bins narrower than a base that hold no base start, which draws as stripes.
    """
    props = {"file": str(t.path), "title": t.title, "height": height, "file_type": "bigwig",
             "summary_method": "mean", "number_of_bins": number_of_bins, "nans_to_zeros": "false",
             "show_data_range": "true"}
    if t.kind == "maxabs":
        props.update(color=MAXABS_COLOR, min_value=0)
    elif t.kind == "hypothetical":
        props.update(color=BASE_COLORS[t.base], negative_color=_lighter(BASE_COLORS[t.base]),
                     height=max(1.0, height / 2))
    else:
        props.update(color=POSITIVE_COLOR, negative_color=NEGATIVE_COLOR)
    return props


def bed_section(path, title: str, kind: str, *, height: float = 1.5) -> dict:
    props = {"file": str(path), "title": title, "height": height, "file_type": "bed",
             "color": "bed_rgb", "border_color": "none", "labels": "true",
             "max_labels": 60, "fontsize": 8}
    if kind in ("features", "variants"):
        props.update(display="stacked", gene_rows=3, arrowhead_included="true")
    else:
        props.update(display="collapsed")
    return props


def format_ini(sections: list[tuple[str, dict]]) -> str:
    """Sections ``[(name, {key: value})]`` as ini text; repeated names get a number (spacer 2)."""
    lines, seen = [], {}
    for name, props in sections:
        n = seen.get(name, 0)
        seen[name] = n + 1
        lines.append(f"[{name}{'' if n == 0 else f' {n + 1}'}]")
        lines.extend(f"{k} = {v}" for k, v in props.items())
        lines.append("")
    return "\n".join(lines)


@exporter(accepts="tracks", description="a pyGenomeTracks tracks.ini of a tracks directory (stock track types)")
def write_tracks_ini(tracks, out, *, peaks=None, genome=None, features=(), relative: bool = True,
                     bigwig_height: float = 3.0, include_hypothetical: bool = True,
                     number_of_bins: int = 200) -> list[Path]:
    """Write a pyGenomeTracks ``tracks.ini`` (stock track types only).

    Parameters
    ----------
    tracks : path to a tracks directory, or a list of paths / :class:`TrackFile`
    out : the ini path. BED copies go to ``<out stem>.files/`` next to it.
    peaks : optional BED/narrowPeak/regions.bed/regions.tsv of the peaks (coloured by class)
    genome : optional FASTA; adds a stock ``fasta`` track (letters when zoomed in)
    features : extra BED files of k-mers/seqlets/motif hits (coloured by name)
    relative : write file paths relative to the ini (portable); else absolute
    include_hypothetical : add the four per-base hypothetical tracks when present
    number_of_bins : bigWig bins per plot (base resolution needs a region this short or
        shorter). A region shorter than this draws striped in the stock CLI (a pyBigWig
        limit); ``wtko plot`` lowers it per region.

    Returns
    -------
    list of paths written (the ini first).
    """
    out = Path(out)
    if isinstance(tracks, (str, Path)):
        items = find_tracks(tracks)
    else:
        items = [t if isinstance(t, TrackFile) else classify_track(t) for t in tracks]
    items += [TrackFile(Path(f), "features", None, _strip_suffix(Path(f).name)) for f in features]
    if peaks is not None:
        items = [t for t in items if t.kind != "peaks"] + [TrackFile(Path(peaks), "peaks", None, "peaks")]
    items = sort_tracks(items)
    files_dir = out.parent / f"{out.stem}.files"
    written: list[Path] = []

    def ref(p) -> str:
        p = Path(p).resolve()
        if relative:
            import os
            return os.path.relpath(p, out.parent.resolve())
        return str(p)

    sections: list[tuple[str, dict]] = [("x-axis", {"file_type": "x_axis", "where": "top", "fontsize": 10, "height": 1.0})]
    if genome is not None:
        sections += [("sequence", {"file": ref(genome), "file_type": "fasta", "height": 0.6,
                                   "title": "sequence"})]
    for t in items:
        if t.is_bigwig:
            if t.kind == "hypothetical" and not include_hypothetical:
                continue
            props = bigwig_section(t, height=bigwig_height, number_of_bins=number_of_bins)
            props["file"] = ref(t.path)
            sections += [(f"{t.kind} {_strip_suffix(t.path.name)}", props)]
            if t.signed:
                # a zero line makes the sign of a signed track readable at a glance
                sections += [(f"zero {_strip_suffix(t.path.name)}",
                              {"file_type": "hlines", "y_values": 0, "overlay_previous": "share-y",
                               "color": "#999999", "line_width": 0.5})]
        else:
            bed, legend = normalise_bed(t.path, t.kind, files_dir)
            written.append(bed)
            title = t.title if t.kind in ("features", "variants") else "peaks"
            if len(legend) <= 6:
                title += " (" + ", ".join(f"{k}" for k in legend) + ")"
            props = bed_section(ref(bed), title, t.kind)
            sections += [SPACER, (f"{t.kind} {_strip_suffix(t.path.name)}", props)]
    sections += [SPACER, ("x-axis", {"file_type": "x_axis", "where": "bottom", "fontsize": 10, "height": 1.0})]
    text = ("# pyGenomeTracks tracks file written by `wtko tracks ini`.\n"
            "# Render: pyGenomeTracks --tracks THIS.ini --region chr:start-end -o out.png\n"
            "# (--region is 0-based half-open, like BED; `wtko plot` adds the sequence-logo track)\n\n"
            + format_ini(sections))
    return [write_text(out, text), *written]


# ----------------------------------------------------------------------------- helpers

def _strip_suffix(name: str) -> str:
    for s in (".bed.gz",) + BIGWIG_SUFFIXES + BED_SUFFIXES:
        if name.endswith(s):
            return name[: -len(s)]
    return Path(name).stem


def _title(prefix: str, what: str) -> str:
    """'saliency.' + 'projected' -> 'saliency projected' (short: pGT truncates long titles)."""
    prefix = re.sub(r"[._-]+", " ", prefix).strip()
    return f"{prefix} {what}".strip()


def _lighter(hex_color: str, amount: float = 0.5) -> str:
    from matplotlib.colors import to_hex, to_rgb

    r, g, b = to_rgb(hex_color)
    return to_hex((r + (1 - r) * amount, g + (1 - g) * amount, b + (1 - b) * amount))
