"""MEME minimal motif format (version 4): the input of Tomtom, FIMO, SEA, memelite.

Written file (one block per motif)::

    MEME version 4

    ALPHABET= ACGT

    strands: + -

    Background letter frequencies
    A 0.250000 C 0.250000 G 0.250000 T 0.250000

    MOTIF MA0099.3 FOS::JUN
    letter-probability matrix: alength= 4 w= 7 nsites= 20 E= 0
     0.000000  0.000000  0.000000  1.000000
     ...
    URL http://jaspar.genereg.net/matrix/MA0099.3

Rows are motif positions, columns A C G T. Read back by :func:`read_meme` (memelite),
Biopython ``Bio.motifs.parse(fh, "minimal")`` and the MEME suite.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from wtko_captum.core.atomic import write_text
from wtko_captum.core.errors import InputError
from wtko_captum.core.motif_db import MotifSet, motif_field
from wtko_captum.core.registry import exporter, reader

from track_exporters._motifs import as_background, default_nsites, per_motif, split_key, to_probabilities


def format_meme(motifs: Mapping[str, np.ndarray], *, nsites=None, evalues=None, urls=None,
                background=None, pseudocount: float = 0.0) -> str:
    """The MEME file text for ``motifs`` (see :func:`write_meme` for the arguments)."""
    if not motifs:
        raise InputError("no motifs to write")
    bg = as_background(background)
    out = ["MEME version 4", "", "ALPHABET= ACGT", "", "strands: + -", "",
           "Background letter frequencies",
           # single spaces: Biopython's minimal parser splits this line on " "
           " ".join(f"{b} {f:.6f}" for b, f in zip("ACGT", bg)), ""]
    seen: set[str] = set()
    for key, matrix in motifs.items():
        motif_id, name = split_key(key)
        if motif_id in seen:
            # Tomtom and Biopython look motifs up by ID: a duplicate would shadow the first
            raise InputError(f"duplicate motif ID {motif_id!r}")
        seen.add(motif_id)
        probs = to_probabilities(key, matrix, pseudocount, bg)
        n = int(per_motif(nsites, key, default_nsites(matrix)))
        e = per_motif(evalues, key, 0)
        url = per_motif(urls, key, None)
        out.append(f"MOTIF {motif_id} {name}".rstrip())
        out.append(f"letter-probability matrix: alength= 4 w= {probs.shape[1]} nsites= {n} E= {_fmt_e(e)}")
        out.extend(" " + "  ".join(f"{p:.6f}" for p in col) for col in probs.T)
        if url:
            out.append(f"URL {url}")
        out.append("")
    return "\n".join(out)


@exporter(accepts="motifs", description="motifs as MEME minimal format version 4 (Tomtom, FIMO, SEA, memelite)")
def write_meme(motifs: Mapping[str, np.ndarray], out, *, nsites: int | Mapping | None = None,
               evalues: float | Mapping | None = None, urls: str | Mapping | None = None,
               background: str | Sequence[float] | None = None, pseudocount: float = 0.0) -> list[Path]:
    """Write ``motifs`` to ``out`` in MEME minimal format version 4, atomically.

    Parameters
    ----------
    motifs : mapping of str to ndarray (4, W)
        Keys ``"ID NAME"`` (or just ``"ID"``; IDs must be unique). Values are count or
        probability matrices, rows A,C,G,T: a matrix whose columns all sum to 1 is taken as
        probabilities, anything else as counts. A :class:`MotifSet` read from a file also
        supplies its motifs' nsites, E-values and URLs when those options are not given.
    out : str or Path
        Output file (parent directories are created).
    nsites : int or mapping key -> int, optional
        ``nsites=`` of each motif (Tomtom uses it to size pseudocounts). Default: the largest
        column sum of a count matrix, 20 (MEME's default) for a probability matrix.
    evalues : float or mapping key -> float, optional
        ``E=`` of each motif (default 0).
    urls : str or mapping key -> str, optional
        A ``URL`` line after the motif's matrix (omitted when missing).
    background : sequence of 4 floats, ``"a,c,g,t"``, or mapping base -> float, optional
        Background letter frequencies A,C,G,T (default uniform 0.25).
    pseudocount : float
        Added as ``pseudocount * background[b]`` to each column before normalising:
        ``p = (m + pc * bg) / (colsum(m) + pc)``. For counts it is a number of sites, for
        probabilities a weight relative to 1. Default 0 (write the matrix as given).

    Returns
    -------
    list of Path
        ``[path]``.
    """
    text = format_meme(motifs, background=background, pseudocount=pseudocount,
                       nsites=nsites if nsites is not None else motif_field(motifs, "nsites"),
                       evalues=evalues if evalues is not None else motif_field(motifs, "evalue"),
                       urls=urls if urls is not None else motif_field(motifs, "url"))
    return [write_text(out, text)]


def _claims_meme(path) -> bool:
    from track_exporters.motif_files import sniff_quietly

    return sniff_quietly(path) == "meme"


@reader(kind="motifs", claim=_claims_meme, description="MEME motif files (any file with a 'MEME version' line)")
def read_meme(path) -> MotifSet:
    """``{"ID NAME": (4, W) probabilities}`` from a MEME file, via ``memelite.io.read_meme``.

    Raises :class:`InputError` when the file is missing or holds no motif.
    """
    from memelite.io import read_meme as _read

    path = Path(path)
    if not path.is_file():
        raise InputError("MEME file not found", path=path)
    try:
        motifs = _read(str(path))
    except (ValueError, AttributeError, IndexError) as exc:  # memelite's parse failures
        raise InputError(f"not a MEME motif file ({type(exc).__name__}: {exc})", path=path) from None
    if not motifs:
        raise InputError("no MOTIF blocks found in MEME file", path=path)
    return MotifSet({k: np.asarray(v, dtype=float) for k, v in motifs.items()}, meta=_matrix_fields(path, motifs))


def _matrix_fields(path: Path, motifs) -> dict:
    """``{key: {"nsites": int, "evalue": float}}`` from each motif's ``letter-probability
    matrix:`` line (memelite reads only the matrices), so a rewritten file keeps them."""
    import re

    keys = {k.split()[0]: k for k in motifs}
    out, current = {}, None
    for line in path.read_text().splitlines():
        if line.startswith("MOTIF"):
            parts = line.split()
            current = keys.get(parts[1]) if len(parts) > 1 else None
        elif current is not None and line.lstrip().startswith("letter-probability matrix"):
            fields = dict(re.findall(r"(\w+)=\s*(\S+)", line))
            meta = {}
            if "nsites" in fields:
                try:
                    meta["nsites"] = int(float(fields["nsites"]))
                except ValueError:
                    pass
            if "E" in fields:
                try:
                    meta["evalue"] = float(fields["E"])
                except ValueError:
                    pass
            out[current] = meta
            current = None
    return out


def _fmt_e(e) -> str:
    e = float(e)
    return "0" if e == 0 else f"{e:.2g}"
