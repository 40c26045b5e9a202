"""``plot_region``: render a tracks.ini region to PNG/PDF with pyGenomeTracks, in-process.

Adds the ``attribution_logo`` track (a track type of the ``wtko-pgt-plugin``) under each
projected attribution track, so a short region shows letters whose heights are the
contributions. pyGenomeTracks has no plugin hook: importing a track class before calling
``pygenometracks.plotTracks.main`` is what makes its ``file_type`` known, so every track type
registered in the ``wtko_captum.track_types`` entry-point group is imported first. Without the
logo track type the region is drawn with stock tracks only (and the log says how to get it).

Region convention: ``chrom:start-end`` is **0-based half-open**, like BED files and exactly as
the stock ``pyGenomeTracks --region`` uses its numbers (they go straight to pyBigWig, which is
0-based). The first base drawn is genome base ``start`` (0-based), i.e. 1-based ``start + 1``;
the same interval in IGV's search box is ``chrom:start+1-end`` (see :func:`igv_locus`).
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
from pathlib import Path

from wtko_captum.core.atomic import atomic_path
from wtko_captum.core.errors import InputError

log = logging.getLogger(__name__)

_REGION = re.compile(r"^\s*([^:\s]+):([\d,_]+)-([\d,_]+)\s*$")
# keys of a pyGenomeTracks section that hold file paths (made absolute in the temporary ini)
_PATH_KEYS = ("file", "second_file", "fasta", "file_a", "file_c", "file_g", "file_t",
              "file_A", "file_C", "file_G", "file_T")


def parse_region(text: str) -> tuple[str, int, int]:
    """``'chr10:22,605,206-22605441'`` -> ``('chr10', 22605206, 22605441)``, 0-based half-open."""
    m = _REGION.match(str(text))
    if not m:
        raise InputError("region must look like chrom:start-end (0-based half-open, like BED)", value=text)
    chrom, start, end = m.group(1), int(re.sub(r"[,_]", "", m.group(2))), int(re.sub(r"[,_]", "", m.group(3)))
    if end <= start:
        raise InputError("region end must be larger than its start", value=text)
    return chrom, start, end


def igv_locus(chrom: str, start: int, end: int) -> str:
    """The 0-based half-open interval as IGV's 1-based inclusive locus string."""
    return f"{chrom}:{start + 1}-{end}"


def read_ini_sections(path) -> list[tuple[str, dict[str, str]]]:
    """Sections of a pyGenomeTracks ini in order, duplicates kept (pGT allows ``[spacer]`` twice)."""
    sections: list[tuple[str, dict[str, str]]] = []
    for lineno, raw in enumerate(Path(path).read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            sections.append((line[1:-1].strip(), {}))
        elif "=" in line and sections:
            key, value = line.split("=", 1)
            sections[-1][1][key.strip()] = value.strip()
        else:
            raise InputError("not a 'key = value' line or [section] header", path=path, line=lineno, value=raw)
    return sections


def add_logo_tracks(sections, *, genome=None, height: float = 3.0, letters: str = "auto"):
    """Insert an ``attribution_logo`` section under each projected bigWig section.

    The logo goes after the projected section and the overlays that follow it (the zero line of
    ``wtko tracks ini`` has ``overlay_previous = share-y``), so the overlays stay on their track.
    Letters come from ``genome`` (or the ini's ``fasta`` section) when available; the four
    hypothetical bigWigs of the same prefix (``<prefix>.hypothetical_A.bw`` ..) are added
    whenever they exist: without a FASTA they give the letters (all four, the observed base
    inferred and highlighted; see the ``attribution_logo`` track type). Without either no logo is
    added (warned). ``letters``: the track's ``letters`` property (auto, observed,
    hypothetical). Returns ``(new_sections, n_logos)``.
    """
    fasta = str(genome) if genome else next(
        (p["file"] for _, p in sections if p.get("file_type") == "fasta" and "file" in p), None)
    hyp = _hypothetical_tracks(sections)
    projected = [k for k, (_, p) in enumerate(sections)
                 if _is_bigwig(p) and "projected" in Path(p["file"]).name.lower()]
    logos: dict[int, tuple[str, dict]] = {}  # insert after section index -> logo section
    for k in projected:
        name, props = sections[k]
        fname = Path(props["file"]).name
        logo = {"file": props["file"], "file_type": "attribution_logo", "height": height,
                "title": f"{props.get('title', fname)} logo",
                "color": props.get("color", "#b2182b"),
                "negative_color": props.get("negative_color", props.get("color", "#2166ac")),
                "number_of_bins": props.get("number_of_bins", "700"), "letters": letters}
        files = hyp.get(_prefix(fname, "projected"), {})
        if fasta:
            logo["fasta"] = fasta
        if len(files) == 4:
            # lower-case keys: pyGenomeTracks' configparser lower-cases them anyway
            logo.update({f"file_{b.lower()}": files[b] for b in "ACGT"})
        elif not fasta:
            log.warning("no genome FASTA (--genome) nor hypothetical A/C/G/T tracks for %s: "
                        "no sequence logo added", fname)
            continue
        last = k
        while last + 1 < len(sections) and sections[last + 1][1].get("overlay_previous", "no") != "no":
            last += 1
        logos[last] = (f"logo {name}", logo)
    out = []
    for k, section in enumerate(sections):
        out.append(section)
        if k in logos:
            out.append(logos[k])
    return out, len(logos)


_HYP_NAME = re.compile(r"^(.*?)[._-]?hypothetical[._-]?([ACGT])(?:[._-].*)?\.(?:bw|bigwig)$", re.I)


def _prefix(fname: str, kind: str) -> str:
    """``'Saliency.projected.bw'`` -> ``'saliency'``: the part before the track kind."""
    return re.split(kind, fname, maxsplit=1, flags=re.I)[0].rstrip("._-").lower()


def _hypothetical_tracks(sections) -> dict[str, dict[str, str]]:
    """prefix -> {base: path} of the hypothetical bigWigs (``<prefix>.hypothetical_A.bw``..)."""
    hyp: dict[str, dict[str, str]] = {}
    for _, p in sections:
        m = _HYP_NAME.match(Path(p.get("file", "")).name)
        if _is_bigwig(p) and m:
            hyp.setdefault(m.group(1).lower(), {})[m.group(2).upper()] = p["file"]
    return hyp


def _is_bigwig(props) -> bool:
    fname = props.get("file", "")
    return props.get("file_type", "bigwig" if fname.lower().endswith((".bw", ".bigwig")) else "") == "bigwig"


def zoom_region(bigwig, chrom: str, start: int, end: int, width: int = 50) -> tuple[str, int, int]:
    """A ``width``-bp window centred on the base of max |value| of ``bigwig`` in [start, end).

    All coordinates 0-based half-open. The window is shifted, not cut, to stay on the
    chromosome; without any value in the region it is centred on the region. Used to zoom a
    plot to where the letters of the logo track are worth reading.
    """
    import numpy as np
    import pyBigWig

    bw = pyBigWig.open(str(bigwig))
    try:
        size = bw.chroms().get(chrom)
        if size is None:
            raise InputError("chromosome not in the bigWig", path=bigwig, value=chrom)
        lo, hi = max(start, 0), min(end, size)
        vals = np.abs(np.asarray(bw.values(chrom, lo, hi, numpy=True), dtype=float)) if hi > lo else np.array([])
    finally:
        bw.close()
    centre = lo + int(np.nanargmax(vals)) if np.isfinite(vals).any() else (start + end) // 2
    s = min(max(centre - width // 2, 0), max(size - width, 0))
    return chrom, s, min(s + width, size)


def write_ini(sections, path) -> Path:
    text = []
    for name, props in sections:
        text.append(f"[{name}]")
        text.extend(f"{k} = {v}" for k, v in props.items())
        text.append("")
    Path(path).write_text("\n".join(text))
    return Path(path)


def prepare_sections(ini, region: tuple[str, int, int], *, genome=None, logo: bool = True,
                     letters: str = "auto"):
    """The ini's sections ready for one region: absolute paths, bins <= region length, logos."""
    ini = Path(ini)
    base = ini.resolve().parent
    sections = read_ini_sections(ini)
    length = region[2] - region[1]
    fixed = []
    for name, props in sections:
        props = dict(props)
        for key in _PATH_KEYS:
            if props.get(key) and not os.path.isabs(props[key]):
                props[key] = str(base / props[key])
        if _is_bigwig(props):
            # pyBigWig gives NaN for bins narrower than a base that hold no base start
            bins = int(props.get("number_of_bins", 700))
            props["number_of_bins"] = str(max(1, min(bins, length)))
        fixed.append((name, props))
    n = 0
    if logo and not _has_track_type("attribution_logo"):
        from wtko_captum.core.registry import get_registry

        log.warning("%s", get_registry().unknown_message("track_types", "attribution_logo"))
        logo = False
    if logo:
        fixed, n = add_logo_tracks(fixed, genome=genome, letters=letters)
    return fixed, n


def plot_region(ini, region, out, *, genome=None, logo: bool = True, width_cm: float = 40.0,
                dpi: int = 150, title: str | None = None, font_size: float | None = None,
                letters: str = "auto") -> Path:
    """Render ``region`` of a tracks.ini to ``out`` (format from its extension: .png, .pdf, .svg).

    Parameters
    ----------
    ini : a pyGenomeTracks tracks file (e.g. from ``wtko tracks ini``)
    region : ``'chrom:start-end'`` (0-based half-open, like BED and pyGenomeTracks) or a tuple
    out : output image path, written atomically
    genome : FASTA giving the letters of the logo track (default: the ini's fasta track)
    logo : add the sequence-logo track under each projected attribution track
    letters : what the logo draws: ``observed`` (the observed base, height = projected score;
        base from ``genome`` or inferred from the hypothetical tracks), ``hypothetical`` (all
        four letters, the observed one highlighted) or ``auto`` (observed with a genome FASTA,
        else hypothetical)
    width_cm, dpi, title, font_size : passed to pyGenomeTracks

    Returns
    -------
    the output path.
    """
    import matplotlib

    chrom, start, end = parse_region(region) if isinstance(region, str) else region
    ini, out = Path(ini), Path(out)
    if not ini.is_file():
        raise InputError("tracks file not found", path=ini)
    if out.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise InputError("output must end in .png, .pdf or .svg", path=out)
    if letters not in ("auto", "observed", "hypothetical"):
        raise InputError("letters must be auto, observed or hypothetical", value=letters)
    sections, n_logos = prepare_sections(ini, (chrom, start, end), genome=genome, logo=logo, letters=letters)
    log.info("plotting %s:%d-%d (0-based half-open; IGV locus %s), %d logo track(s)",
             chrom, start, end, igv_locus(chrom, start, end), n_logos)
    backend = matplotlib.get_backend()
    with tempfile.TemporaryDirectory(prefix="wtko_plot_") as tmp, _quiet_pygenometracks(), \
            matplotlib.rc_context(), atomic_path(out) as tmp_out:
        tmp_ini = write_ini(sections, Path(tmp) / "tracks.ini")
        _import_track_types()  # a track class is known to pGT once imported (a GenomeTrack subclass)
        from pygenometracks.plotTracks import main as pgt_main
        from pygenometracks.utilities import InputError as PgtInputError

        args = ["--tracks", str(tmp_ini), "--region", f"{chrom}:{start}-{end}", "-o", str(tmp_out),
                "--width", str(width_cm), "--dpi", str(dpi)]
        if title:
            args += ["--title", title]
        if font_size:
            args += ["--fontSize", str(font_size)]
        try:
            pgt_main(args)
        except PgtInputError as exc:
            raise InputError(f"pyGenomeTracks: {str(exc).strip()}", path=ini) from None
    with contextlib.suppress(Exception):  # pGT forces Agg at import; give the caller theirs back
        matplotlib.use(backend)
    return out


def _has_track_type(name: str) -> bool:
    from wtko_captum.core.registry import get_registry

    return name in get_registry().names("track_types")


def _import_track_types() -> None:
    from wtko_captum.core.registry import get_registry

    reg = get_registry()
    for name in reg.names("track_types"):
        reg.get("track_types", name)


@contextlib.contextmanager
def _quiet_pygenometracks():
    """pyGenomeTracks sets its loggers to DEBUG and configures root logging at import: keep
    its warnings, drop its debug/info chatter, and leave the root logger as it was."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    pgt = logging.getLogger("pygenometracks")
    handler = logging.StreamHandler()
    handler.setLevel(logging.WARNING)
    old = (pgt.propagate, list(pgt.handlers))
    pgt.propagate = False
    pgt.addHandler(handler)
    try:
        yield
    finally:
        pgt.propagate, pgt.handlers[:] = old[0], old[1]
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
