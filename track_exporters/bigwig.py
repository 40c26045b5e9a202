"""Attribution bigWigs (pyBigWig), one file per track, per base, in genome coordinates.

``write_bigwig(sets, out_dir, chrom_sizes=...)`` writes ``<prefix>.<track>.bw`` for each track (see
:mod:`track_exporters.genome_tracks` for the tracks, the overlap rules and the gap policy)
and a sidecar ``<prefix>.tracks.json`` describing them. bigWig has no free-text metadata
field, so the sidecar (and the run log) is where the overlap rule, the source sets and the
track meanings are recorded; ``wtko tracks ini`` / ``wtko tracks igv`` read it.

Values are stored as float32 (the bigWig data type), written with ``addEntries`` as
fixed-step (``span=1, step=1``) runs that break at every gap, in sorted order, so memory stays
flat however many windows there are.
"""
from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path
from typing import Sequence

from wtko_captum.core.atomic import OutputError, atomic_path, output_dir, path_component, write_marker, write_text
from wtko_captum.core.errors import InputError
from wtko_captum.core.registry import exporter
from wtko_captum.core.tracks import DESCRIPTIONS, TRACKS_SIDECAR_FORMAT, expand_tracks

from track_exporters.genome_tracks import DEFAULT_BUFFER, DEFAULT_CHUNK, iter_runs, sequence_coordinates

log = logging.getLogger("wtko_captum")


def load_chrom_sizes(chrom_sizes=None, genome=None) -> dict[str, int]:
    """``{chrom: size}`` from a chrom.sizes file, a genome FASTA (via its index), or a dict."""
    from wtko_captum.core.genome import chrom_sizes as _from_path

    if (chrom_sizes is None) == (genome is None):
        raise InputError("give chromosome sizes (a chrom.sizes file) or a genome FASTA, not both or neither")
    src = chrom_sizes if chrom_sizes is not None else genome
    if isinstance(src, dict):
        return {str(k): int(v) for k, v in src.items()}
    return _from_path(src)


def as_sets(attributions) -> list:
    """A list of AttributionSets from one set, a directory, or a sequence of either.

    Anything with ``X``, ``attr`` (row-indexable ``(N, 4, L)``, e.g. memory-mapped or HDF5
    datasets) and ``regions`` is used as is, so genome-scale inputs need not fit in memory.
    """
    from wtko_captum.core.readers import read

    items = attributions if isinstance(attributions, (list, tuple)) else [attributions]
    return [a if all(hasattr(a, k) for k in ("X", "attr", "regions")) else read(a, kind="attributions")
            for a in items]


def default_prefix(sets) -> str:
    methods = list(dict.fromkeys(str(getattr(s, "method", "attribution")) for s in sets))
    return "+".join(methods) if len(methods) <= 2 else f"{methods[0]}+{len(methods) - 1}more"


def manifest(sets, files: dict[str, Path], *, fmt: str, overlap: str, sizes_source, n_bases: int,
             sources=None) -> dict:
    """The sidecar description of written track files."""
    s0 = sets[0]
    return {
        "format": TRACKS_SIDECAR_FORMAT,
        "version": 1,
        "file_format": fmt,
        "overlap": overlap,
        "gaps": "no value at N bases and outside chromosomes (never 0)",
        "coordinates": "base i of window n = regions.start[n] + i (0-based)",
        "n_sets_averaged": len(sets),
        "sources": [str(p) for p in sources] if sources else None,
        "method": getattr(s0, "method", None),
        "methods": [getattr(s, "method", None) for s in sets],
        "hypothetical": bool(getattr(s0, "hypothetical", True)),
        "target": getattr(s0, "target", None),
        "model_identity": getattr(s0, "model_identity", None),
        "n_regions": len(s0.regions),
        "window_length": int(s0.X.shape[-1]),
        "n_bases_written": int(n_bases),
        "chrom_sizes": str(sizes_source) if sizes_source is not None else None,
        "tracks": [{"track": t, "file": p.name, "description": DESCRIPTIONS[t]} for t, p in files.items()],
    }


def plan_files(out_dir, attributions, tracks, prefix, ext: str):
    """``(sets, prefix, {track: path})``: load and check the sets, expand the tracks, name the
    files ``<out_dir>/<prefix>.<track>.<ext>``."""
    sets = as_sets(attributions)
    names = expand_tracks(tracks)
    _check_hypothetical(sets, names)
    # the prefix (or the method name a file's metadata gives) becomes part of a file name:
    # one component, never a path that leaves out_dir
    prefix = path_component(prefix or default_prefix(sets), "prefix")
    output_dir(out_dir, mark=False)  # marked once the files are written
    return sets, prefix, {t: Path(out_dir) / f"{prefix}.{t}.{ext}" for t in names}


def write_sidecar(path, attributions, sets, files, *, fmt: str, overlap: str, sizes_source, n_bases: int) -> Path:
    """Write the :func:`manifest` JSON atomically; attribution paths are recorded as sources."""
    items = attributions if isinstance(attributions, (list, tuple)) else [attributions]
    sources = [str(a) if isinstance(a, (str, Path)) else getattr(a, "extra", {}).get("source") for a in items]
    sources = [s for s in sources if s is not None]
    return write_text(path, json.dumps(manifest(sets, files, fmt=fmt, overlap=overlap, sizes_source=sizes_source,
                                                n_bases=n_bases, sources=sources), indent=2, default=str) + "\n")


@exporter(accepts="attributions", description="per-base attribution bigWigs (one per track) + a sidecar JSON")
def write_bigwig(attributions, out, *, chrom_sizes=None, genome=None,
                 tracks: Sequence[str] = ("projected", "maxabs"), overlap: str = "mean",
                 prefix: str | None = None, chunk_size: int = DEFAULT_CHUNK,
                 buffer_size: int = DEFAULT_BUFFER, max_zooms: int = 10,
                 progress: bool = False) -> list[Path]:
    """Write per-base attribution bigWigs, one per track, and a sidecar JSON; atomically.

    Parameters
    ----------
    attributions : AttributionSet, attribution directory, or a list of them
        Several sets over the same windows are averaged (checked: same regions, shapes and
        sequences).
    out : str or Path
        Output directory (created).
    chrom_sizes : str, Path or dict
        A UCSC chrom.sizes file (stray whitespace is fine) or ``{chrom: size}``; becomes the
        bigWig header. Give this or ``genome``.
    genome : str or Path
        A genome FASTA; the sizes come from its ``.fai`` index (built if missing).
    tracks : sequence of {"projected", "maxabs", "hypothetical"}
        ``hypothetical`` writes four files (A, C, G, T) and needs hypothetical attributions.
    overlap : {"mean", "max-abs", "nearest-summit"}
        How a base covered by several windows gets its value.
    prefix : str, optional
        File name prefix (default: the method name).
    max_zooms : int
        Zoom levels (precomputed summaries browsers use when zoomed out; default 10, as
        pyBigWig). libBigWig builds them in memory when the file is closed, about 3 bytes
        per written base; ``0`` skips them and keeps memory flat for genome-scale exports
        (browsers then summarise the raw data, slower when zoomed far out).

    Returns
    -------
    list of Path
        The bigWig files (in track order) and the sidecar ``<prefix>.tracks.json`` last.
    """
    import pyBigWig

    out_dir = out
    sets = as_sets(attributions)
    only = genome_windows(sets)  # before anything is created: a set that cannot be written is refused
    sizes, sizes_source = _sizes(chrom_sizes, genome)
    sets, prefix, files = plan_files(out_dir, sets, tracks, prefix, "bw")
    names = list(files)
    header = [(c, int(n)) for c, n in sizes.items()]
    n_bases = 0
    written: dict[str, int] = {"n": 0}
    with contextlib.ExitStack() as stack:
        tmps = [stack.enter_context(atomic_path(p, verify=lambda tmp, p=p: check_bigwig(tmp, p, header, written["n"])))
                for p in files.values()]
        writers = []
        # libBigWig reports a failed write only by printing to the C stderr (and pyBigWig then
        # returns NULL without an exception): capture it, and turn it into one clear error
        with c_stderr_captured() as captured:
            try:
                for tmp in tmps:
                    bw = pyBigWig.open(str(tmp), "w")
                    writers.append(bw)
                    bw.addHeader(header, maxZooms=int(max_zooms))
                for chrom, start, values in iter_runs(sets, sizes, names, overlap=overlap, chunk_size=chunk_size,
                                                      buffer_size=buffer_size, progress=progress, only=only):
                    for bw, row in zip(writers, values):
                        bw.addEntries(chrom, start, values=row, span=1, step=1)
                    n_bases += values.shape[1]
            except (SystemError, RuntimeError) as exc:
                raise OutputError(f"writing the bigWig failed (is the disk full?): {exc}", path=out_dir) from None
            finally:
                for bw in writers:
                    bw.close()  # closing writes the index and zoom levels; verified, then renamed
        if "error" in captured().lower():
            raise OutputError("writing the bigWig failed (is the disk full?): "
                              f"{captured().strip().splitlines()[0]}", path=out_dir)
        written["n"] = n_bases
    side = write_sidecar(Path(out_dir) / f"{prefix}.tracks.json", attributions, sets, files, fmt="bigWig",
                         overlap=overlap, sizes_source=sizes_source, n_bases=n_bases)
    write_marker(out_dir)
    log.info("wrote %d bigWig track(s) %s in %s: overlap=%s, %d set(s) averaged, %d bases with a value "
             "(N and off-chromosome bases are gaps); metadata in %s", len(files), ", ".join(names), out_dir,
             overlap, len(sets), n_bases, side.name)
    return list(files.values()) + [side]


def genome_windows(sets):
    """The windows a genome track can hold: None for all, else a bool mask leaving out those
    in sequence coordinates (sequences without genome coordinates; warned). All of them in
    sequence coordinates is an error saying why and what works instead."""
    seq = sequence_coordinates(sets[0].regions)
    if not seq.any():
        return None
    what = getattr(sets[0], "extra", {}).get("source") or getattr(sets[0], "method", "the attributions")
    if seq.all():
        raise InputError(f"{what}: its {len(seq)} windows are sequences without genome coordinates, and a bigWig "
                         "needs genome positions; `wtko export bedgraph` writes their tracks in sequence "
                         "coordinates (name 0 L)")
    log.warning("warning: %d of %d windows have no genome coordinates: left out of the bigWigs "
                "(`wtko export bedgraph` writes them in sequence coordinates)", int(seq.sum()), len(seq))
    return ~seq


@contextlib.contextmanager
def c_stderr_captured():
    """Redirect the process's file descriptor 2 (where C libraries print) to a temporary file
    for the duration; yields a function returning what was printed."""
    import os
    import sys
    import tempfile

    sys.stderr.flush()
    with tempfile.TemporaryFile(mode="w+") as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        text = {"v": None}

        def read() -> str:
            if text["v"] is None:
                sink.flush()
                sink.seek(0)
                text["v"] = sink.read()
            return text["v"]
        try:
            yield read
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            read()


def check_bigwig(tmp: Path, final: Path, header, n_bases: int) -> None:
    """Reopen a written bigWig and check its chromosomes and covered bases against what was
    written. libBigWig reports a failed write (a full disk) only by printing, and leaves a
    truncated file; this keeps such a file from replacing a good one."""
    import pyBigWig

    try:
        bw = pyBigWig.open(str(tmp))
    except (RuntimeError, OSError):
        bw = None
    ok = bw is not None
    if ok:
        try:
            ok = bw.chroms() == dict(header) and int(bw.header()["nBasesCovered"]) == int(n_bases)
        except (RuntimeError, KeyError, TypeError):
            ok = False
        finally:
            bw.close()
    if not ok:
        raise OutputError("the bigWig came out incomplete (is the disk full?); the file was left as it was",
                          path=final)


def _sizes(chrom_sizes, genome) -> tuple[dict[str, int], str]:
    """The chromosome sizes and a description of where they came from (for the sidecar)."""
    sizes = load_chrom_sizes(chrom_sizes=chrom_sizes, genome=genome)
    src = genome if genome is not None else chrom_sizes
    return sizes, ("a {chrom: size} mapping" if isinstance(src, dict) else str(src))


def _check_hypothetical(sets, names) -> None:
    if any(n.startswith("hypothetical_") for n in names) and not all(getattr(s, "hypothetical", True) for s in sets):
        raise InputError("hypothetical tracks need hypothetical attributions (every base scored); "
                         f"method {sets[0].method!r} gives projected scores only: use projected or maxabs")
