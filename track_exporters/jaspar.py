"""JASPAR ``.jaspar`` count matrices (the format jaspar.genereg.net serves; read by
Biopython ``Bio.motifs.parse(fh, "jaspar")``, RSAT, gimmemotifs)::

    >MA0099.3	FOS::JUN
    A  [     0      0    ... ]
    C  [ ... ]
    G  [ ... ]
    T  [ ... ]

Counts: a count matrix is written as given (plus ``pseudocount * background``); a probability
matrix is scaled to ``nsites`` sites (default 100). Values that are whole numbers are written
as integers, others with 6 significant digits, so no count is silently rounded.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from wtko_captum.core.atomic import write_text
from wtko_captum.core.errors import InputError
from wtko_captum.core.motif_db import MotifSet, motif_field
from wtko_captum.core.registry import exporter, reader

from track_exporters._motifs import ALPHABET, as_background, check_matrix, is_counts, per_motif, split_key

DEFAULT_NSITES = 100


def to_counts(key: str, matrix, *, nsites: int = DEFAULT_NSITES, pseudocount: float = 0.0,
              background=None) -> np.ndarray:
    """``(4, W)`` counts: counts as given, probabilities x ``nsites``; then
    ``+ pseudocount * background`` per column."""
    if pseudocount < 0:
        raise InputError("pseudocount must be >= 0", value=pseudocount)
    m = check_matrix(key, matrix)
    if not is_counts(m):
        m = m / m.sum(axis=0, keepdims=True) * nsites
    return m + pseudocount * as_background(background)[:, None]


def format_jaspar(motifs: Mapping[str, np.ndarray], *, nsites=None, pseudocount: float = 0.0,
                  background=None) -> str:
    """The ``.jaspar`` text for ``motifs`` (see :func:`write_jaspar`)."""
    if not motifs:
        raise InputError("no motifs to write")
    out = []
    for key, matrix in motifs.items():
        motif_id, name = split_key(key)
        counts = to_counts(key, matrix, nsites=int(per_motif(nsites, key, DEFAULT_NSITES)),
                           pseudocount=pseudocount, background=background)
        out.append(f">{motif_id}\t{name}" if name else f">{motif_id}")
        for base, row in zip(ALPHABET, counts):
            out.append(f"{base}  [ " + " ".join(f"{_fmt(v):>6}" for v in row) + " ]")
        out.append("")
    return "\n".join(out)


@exporter(accepts="motifs", description="motifs as a JASPAR .jaspar count file")
def write_jaspar(motifs: Mapping[str, np.ndarray], out, *, nsites: int | Mapping | None = None,
                 pseudocount: float = 0.0, background: str | None = None) -> list[Path]:
    """Write ``motifs`` as a JASPAR ``.jaspar`` file, atomically.

    Parameters
    ----------
    motifs : mapping of str to ndarray (4, W)
        ``"ID NAME"`` -> count or probability matrix, rows A,C,G,T.
    out : str or Path
        Output file.
    nsites : int or mapping key -> int, optional
        Sites a probability matrix is scaled to (default: the motif's own nsites when it was
        read from a file that has them, else 100); ignored for counts.
    pseudocount : float
        Added as ``pseudocount * background[b]`` to every column's counts (default 0).
    background : optional
        A,C,G,T frequencies for the pseudocount (default uniform).

    Returns
    -------
    list of Path
        ``[path]``.
    """
    if nsites is None:
        nsites = motif_field(motifs, "nsites")
    return [write_text(out, format_jaspar(motifs, nsites=nsites, pseudocount=pseudocount, background=background))]


def _claims_jaspar(path) -> bool:
    from track_exporters.motif_files import sniff_quietly

    return sniff_quietly(path) == "jaspar"


def _fmt(v: float) -> str:
    return str(int(round(v))) if abs(v - round(v)) < 1e-9 else f"{v:.6g}"


@reader(kind="motifs", claim=_claims_jaspar, description="JASPAR count files (bracketed or plain 4-row .pfm)")
def read_jaspar(path) -> MotifSet:
    """``{"ID NAME": (4, W) counts}`` from a JASPAR file, bracketed (``A [ 1 2 ]``) or plain
    4-row (JASPAR 2010-2014 ``.pfm``) layout."""
    path = Path(path)
    if not path.is_file():
        raise InputError("JASPAR file not found", path=path)
    motifs: dict[str, np.ndarray] = {}
    key, rows, start = None, [], 0

    def flush():
        if key is None:
            return
        if len(rows) != 4 or len({len(r) for r in rows}) != 1 or not rows[0]:
            raise InputError(f"motif {key!r} needs 4 rows (A,C,G,T) of equal length", path=path, line=start)
        motifs[key] = np.array(rows, dtype=float)

    with open(path) as fh:
        for lineno, line in enumerate(fh, 1):
            text = line.strip()
            if not text:
                continue
            if text.startswith(">"):
                flush()
                fields = text[1:].split()
                if not fields:
                    raise InputError("empty JASPAR header", path=path, line=lineno)
                key, rows, start = " ".join(fields[:2]), [], lineno
                continue
            if key is None:
                raise InputError("matrix row before any '>' header", path=path, line=lineno, value=text)
            body = text
            if "[" in text:
                letter, _, body = text.partition("[")
                if letter.strip() and letter.strip() != ALPHABET[len(rows) % 4]:
                    raise InputError("JASPAR rows must be A, C, G, T in order", path=path, line=lineno, value=text)
                body = body.replace("]", "")
            try:
                rows.append([float(v) for v in body.split()])
            except ValueError:
                raise InputError("non-numeric JASPAR count", path=path, line=lineno, value=text) from None
            if len(rows) > 4:
                raise InputError(f"motif {key!r} has more than 4 rows", path=path, line=lineno)
    flush()
    if not motifs:
        raise InputError("no motifs found in JASPAR file", path=path)
    return MotifSet(motifs)
