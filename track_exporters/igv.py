"""IGV desktop session XML and batch script for a directory of attribution tracks.

Coordinate conventions (checked against IGV 2.16's session reader and batch executor):

* session ``<Region chromosome= start= end=>``: **0-based half-open**, like BED (IGV passes
  them straight into ``RegionOfInterest``, its 0-based interval);
* session ``locus=`` attribute, batch ``goto`` and the search box: **1-based inclusive**
  ``chr:start+1-end``;
* batch ``region chr start end``: **1-based inclusive** (IGV subtracts 1 from start).

Paths in the session are written relative to the session file (IGV resolves them against it),
so the session, tracks and genome can move together. ``genome`` is an IGV genome id (``hg19``,
``mm10``: IGV downloads it) or a local FASTA with a ``.fai`` (works offline).
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd

from wtko_captum.core.atomic import write_text
from wtko_captum.core.errors import InputError
from wtko_captum.core.intervals import Region, covered_intervals, rank_regions, read_intervals, score_regions  # noqa: F401 (re-exported)
from wtko_captum.core.registry import exporter

from track_exporters.pygenometracks import (BASE_COLORS, MAXABS_COLOR, NEGATIVE_COLOR, POSITIVE_COLOR, TrackFile,
                             classify_track, find_tracks, normalise_bed)


def _rgb(hex_color: str) -> str:
    return ",".join(str(int(hex_color[i:i + 2], 16)) for i in (1, 3, 5))


def data_range(path) -> tuple[float, float]:
    """``(min, max)`` of a bigWig over all chromosomes; symmetric around 0 when it has negatives.

    (pyBigWig's ``header()`` min/max are truncated to integers, so per-chromosome summaries
    are used instead.)
    """
    import pyBigWig

    bw = pyBigWig.open(str(path))
    try:
        lows, highs = [], []
        for chrom in bw.chroms():
            lo, hi = bw.stats(chrom, type="min")[0], bw.stats(chrom, type="max")[0]
            lows += [lo] if lo is not None else []
            highs += [hi] if hi is not None else []
    finally:
        bw.close()
    lo, hi = (min(lows), max(highs)) if lows else (0.0, 1.0)
    if lo < 0:
        m = max(abs(lo), abs(hi)) or 1.0
        return -m, m
    return 0.0, hi or 1.0


def top_regions(tracks: list[TrackFile], peaks=None, n: int = 20) -> list[Region]:
    """The ``n`` regions with the largest max |attribution| (projected track, else any bigWig).

    Regions come from ``peaks`` (a BED-like file), else the tracks' own peaks BED, else the
    runs the bigWig covers. Ties keep file order; sorted by decreasing score. A variant layout
    (a ``variants`` BED, no ``peaks``) gives the variants with the largest |effect| instead.
    """
    variants = next((t.path for t in tracks if t.kind == "variants"), None)
    if peaks is None and variants is not None:
        return variant_regions(variants, n)
    bws = [t for t in tracks if t.kind == "projected"] or [t for t in tracks if t.is_bigwig]
    if not bws:
        raise InputError("no bigWig track to score regions with")
    if peaks is None:
        peaks = next((t.path for t in tracks if t.kind == "peaks"), None)
    return rank_regions(bws[0].path, read_intervals(peaks) if peaks is not None else None, n)


def variant_regions(path, n: int, flank: int = 50) -> list[Region]:
    """The ``n`` variants of a variants BED with the largest |score| (the effect Δ), each with
    ``flank`` bases either side so the attribution around it is in view."""
    df = read_intervals(path)
    score = pd.to_numeric(df["score"], errors="coerce").fillna(0).to_numpy()
    order = np.argsort(-np.abs(score), kind="stable")[:n]
    return [Region(str(df["chrom"].iloc[i]), max(0, int(df["start"].iloc[i]) - flank), int(df["end"].iloc[i]) + flank,
                   float(score[i]), f"{df['name'].iloc[i]} delta={score[i]:+.3g}") for i in order]


def track_attrs(t: TrackFile) -> dict:
    """IGV ``<Track>`` attributes for a bigWig: colours (altColor = negative) and renderer."""
    if t.kind == "maxabs":
        color, alt = MAXABS_COLOR, MAXABS_COLOR
    elif t.kind == "hypothetical":
        color = alt = BASE_COLORS[t.base]
    else:
        color, alt = POSITIVE_COLOR, NEGATIVE_COLOR
    return {"color": _rgb(color), "altColor": _rgb(alt), "renderer": "BAR_CHART",
            "windowFunction": "mean", "autoScale": "false", "visible": "true"}


@exporter(accepts="tracks", description="an IGV session XML (+ optional batch script snapshotting the top regions)")
def write_igv_session(tracks, out, *, genome: str, peaks=None, top: int = 20, features=(),
                      relative: bool = True, batch=None, snapshot_dir="snapshots") -> list[Path]:
    """Write an IGV session XML (and optionally an IGV batch script).

    Parameters
    ----------
    tracks : path or list of paths
        A tracks directory (bigWig + BED files, e.g. from ``wtko export bigwig``) or the files.
    out : path
        The session (``.xml``); coloured BED copies go to ``<out stem>.files/``.
    genome : str
        IGV genome id (hg19, mm10, ...) or a local FASTA path (indexed, ``.fai`` next to it)
    peaks : path
        BED-like file of the regions to rank (default: the tracks' own peaks BED, else the bigWig's covered windows)
    top : int
        how many top-scoring regions become regions of interest (0 = none)
    features : list of paths
        extra BED files of k-mers, seqlets or motif hits (coloured by name)
    relative : bool
        write file paths relative to the session (else absolute)
    batch : path
        also write an IGV batch script here that snapshots the top regions (run it with `igv -b`; headless: `xvfb-run -a igv -b`)
    snapshot_dir : str
        where the batch script writes its snapshots

    Returns
    -------
    list of paths written (the session first, the batch script last).
    """
    out = Path(out)
    items = find_tracks(tracks) if isinstance(tracks, (str, Path)) else [
        t if isinstance(t, TrackFile) else classify_track(t) for t in tracks]
    items += [TrackFile(Path(f), "features", None, Path(f).stem) for f in features]
    if peaks is not None:
        items = [t for t in items if t.kind != "peaks"] + [TrackFile(Path(peaks), "peaks", None, "peaks")]
    regions = top_regions(items, peaks, top) if top > 0 else []
    base = out.parent.resolve()

    def ref(p) -> str:
        p = Path(p).resolve()
        return os.path.relpath(p, base) if relative else str(p)

    genome_attr = _genome_ref(genome, ref)
    locus = regions[0].locus if regions else "All"
    root = ET.Element("Session", genome=genome_attr, hasGeneTrack="false", hasSequenceTrack="true",
                      locus=locus, version="8")
    resources = ET.SubElement(root, "Resources")
    panel = ET.SubElement(root, "Panel", name="DataPanel", height="600", width="1200")
    feature_panel = ET.SubElement(root, "Panel", name="FeaturePanel", height="300", width="1200")
    written: list[Path] = []
    files_dir = out.parent / f"{out.stem}.files"
    for t in items:
        if t.is_bigwig:
            path = ref(t.path)
            ET.SubElement(resources, "Resource", path=path, name=t.title, type="bigwig")
            track = ET.SubElement(panel, "Track", id=path, name=t.title,
                                  attributeKey=t.path.name, fontSize="10",
                                  clazz="org.broad.igv.track.DataSourceTrack", **track_attrs(t))
            lo, hi = data_range(t.path)
            ET.SubElement(track, "DataRange", baseline="0.0", drawBaseline="true", flipAxis="false",
                          minimum=f"{lo:.6g}", maximum=f"{hi:.6g}", type="LINEAR")
        else:
            bed, _ = normalise_bed(t.path, t.kind, files_dir)
            written.append(bed)
            path = ref(bed)
            ET.SubElement(resources, "Resource", path=path, name=t.title, type="bed")
            # itemRgb="On": IGV colours each feature by the BED's column 9 (class / cluster)
            ET.SubElement(feature_panel, "Track", id=path, name=t.title, attributeKey=bed.name,
                          clazz="org.broad.igv.track.FeatureTrack", displayMode="EXPANDED",
                          fontSize="10", visible="true", itemRgb="On")
    if regions:
        reg_el = ET.SubElement(root, "Regions")
        for r in regions:
            # Region start/end: 0-based half-open (IGV's RegionOfInterest), NOT the 1-based locus
            ET.SubElement(reg_el, "Region", chromosome=r.chrom, start=str(r.start), end=str(r.end),
                          description=r.description)
    ET.indent(root)
    text = '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
    written = [write_text(out, text), *written]
    if batch is not None:
        written.append(write_igv_batch(batch, genome=genome, snapshot_dir=snapshot_dir, regions=regions,
                                       session=out))
    return written


def write_igv_batch(out, *, genome: str, snapshot_dir, regions: list[Region], session=None,
                    tracks=(), prefix: str = "", max_panel_height: int = 1000) -> Path:
    """Write an IGV batch script that loads tracks (or a session) and snapshots each region.

    Run it with ``igv -b script.txt`` (under ``xvfb-run`` on a headless machine). Absolute
    paths are written, because IGV resolves batch paths against its working directory.
    Snapshot files are named ``<prefix><chrom>_<start>_<end>.png`` (0-based start).
    """
    lines = ["new"]
    if session is not None:
        lines.append(f"load {Path(session).resolve()}")
    else:
        g = Path(genome)
        lines.append(f"genome {g.resolve() if g.exists() else genome}")
        for t in tracks:
            lines.append(f"load {Path(t.path if isinstance(t, TrackFile) else t).resolve()}")
    lines += [f"snapshotDirectory {Path(snapshot_dir).resolve()}", f"maxPanelHeight {max_panel_height}"]
    for r in regions:
        # batch `region` is 1-based inclusive; descriptions must be a single token
        lines.append(f"region {r.chrom} {r.start + 1} {r.end} {r.description.split()[0] if r.description else ''}".rstrip())
    for r in regions:
        lines += [f"goto {r.locus}", f"snapshot {prefix}{r.chrom}_{r.start}_{r.end}.png"]
    lines.append("exit")
    return write_text(out, "\n".join(lines) + "\n")


def _genome_ref(genome: str, ref) -> str:
    """A FASTA path -> path (relative to the session); anything else is an IGV genome id."""
    g = Path(str(genome))
    if g.suffix.lower() in (".fa", ".fasta", ".fna", ".gz", ".genome", ".json") or g.exists():
        if not g.is_file():
            raise InputError("genome FASTA not found", path=g)
        if g.suffix.lower() in (".fa", ".fasta", ".fna") and not Path(f"{g}.fai").is_file():
            from wtko_captum.core.genome import open_genome

            open_genome(g)  # IGV needs the .fai next to the FASTA
        return ref(g)
    return str(genome)


# log lines IGV writes when offline: harmless for local files, so not load errors
_OFFLINE_NOISE = ("UnknownHostException", "Error fetching oAuth", "Error fetching genome list",
                  "ConnectException", "SocketTimeoutException", "NoRouteToHostException")


def igv_load_errors(log_text: str) -> list[str]:
    """IGV log lines that report a failed load or batch command (offline-network noise ignored)."""
    errors = []
    for line in log_text.splitlines():
        bad = line.startswith(("SEVERE", "ERROR")) or "=> Error" in line or "Could not locate genome" in line \
            or "could not be located" in line or "DataLoadException" in line
        if bad and not any(n in line for n in _OFFLINE_NOISE):
            errors.append(line.strip())
    return errors


def run_igv_batch(script, *, genome, timeout: float = 60, workdir=None, igv: str = "igv") -> tuple[int, str]:
    """Run IGV desktop on a batch script, headless (``xvfb-run``), offline; returns (exit code, log).

    IGV gets a fresh IGV directory whose ``prefs.properties`` sets ``DEFAULT_GENOME_KEY`` to the
    local ``genome`` FASTA: on first start IGV otherwise fetches a default genome over the
    network and hangs without one. A hang ends at ``timeout`` seconds (exit code 124).
    """
    import shutil
    import subprocess
    import tempfile

    for exe in (igv, "xvfb-run"):
        if shutil.which(exe) is None:
            raise InputError(f"{exe!r} not found on PATH (Debian/Ubuntu: apt-get install igv xvfb xauth)")
    with tempfile.TemporaryDirectory(prefix="wtko_igv_", dir=workdir) as tmp:
        igv_dir = Path(tmp) / "igv"
        igv_dir.mkdir()
        (igv_dir / "prefs.properties").write_text(f"DEFAULT_GENOME_KEY={Path(genome).resolve()}\n")
        cmd = ["xvfb-run", "-a", "-s", "-screen 0 1400x1100x24", igv, "--igvDirectory", str(igv_dir),
               "-b", str(Path(script).resolve())]
        # own process group: on a hang, kill xvfb-run, Xvfb and java together
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp,
                                env={**os.environ, "HOME": tmp}, start_new_session=True)
        try:
            text, _ = proc.communicate(timeout=timeout)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            import signal

            os.killpg(proc.pid, signal.SIGKILL)
            text, _ = proc.communicate()
            code = 124
        logs = sorted(igv_dir.glob("igv*.log"))
        if logs:
            text += "\n" + "\n".join(p.read_text(errors="replace") for p in logs)
    return code, text
