"""HOMER ``.motif`` files: the input of ``findMotifsGenome.pl -mknown`` / ``annotatePeaks.pl -m``.

Each motif is a header line and one row per position (A C G T probabilities)::

    >TGASTCA	MA0099.3 FOS::JUN	6.045000
    0.000000	0.000000	0.000000	1.000000
    ...

Header fields (tab separated): consensus (IUPAC), motif name, log-odds detection threshold.
HOMER scores a site as ``sum_j ln(p[b_j, j] / 0.25)`` and calls it bound when the score is at
least the threshold; probabilities are floored at ``LOG_ODDS_FLOOR`` for that sum (HOMER
itself floors at 0.001), so a zero never makes the maximum score ``-inf``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from wtko_captum.core.atomic import write_text
from wtko_captum.core.errors import InputError
from wtko_captum.core.motif_db import MotifSet, motif_field
from wtko_captum.core.registry import exporter, reader

from track_exporters._motifs import ALPHABET, per_motif, split_key, to_probabilities

LOG_ODDS_FLOOR = 1e-3
#: default threshold as a fraction of the motif's best possible log-odds score
DEFAULT_THRESHOLD_FRACTION = 0.6

_IUPAC = {frozenset(k): v for k, v in {
    "A": "A", "C": "C", "G": "G", "T": "T", "AG": "R", "CT": "Y", "CG": "S", "AT": "W",
    "GT": "K", "AC": "M", "CGT": "B", "AGT": "D", "ACT": "H", "ACG": "V", "ACGT": "N"}.items()}


def consensus(probs: np.ndarray, min_fraction: float = 0.25) -> str:
    """IUPAC consensus of a ``(4, W)`` probability matrix: per position the letters whose
    probability is >= ``min_fraction`` (the top letter always counts)."""
    out = []
    for col in np.asarray(probs).T:
        keep = {ALPHABET[i] for i in np.flatnonzero(col >= min_fraction)} | {ALPHABET[int(col.argmax())]}
        out.append(_IUPAC[frozenset(keep)])
    return "".join(out)


def max_log_odds(probs: np.ndarray) -> float:
    """Best possible HOMER log-odds score (natural log vs a uniform background)."""
    p = np.maximum(np.asarray(probs, dtype=float), LOG_ODDS_FLOOR)
    return float(np.log(p / 0.25).max(axis=0).sum())


def format_homer(motifs: Mapping[str, np.ndarray], *, thresholds=None,
                 threshold_fraction: float = DEFAULT_THRESHOLD_FRACTION,
                 pseudocount: float = 0.0, background=None) -> str:
    """The ``.motif`` text for ``motifs`` (see :func:`write_homer`)."""
    if not motifs:
        raise InputError("no motifs to write")
    if not 0 < threshold_fraction <= 1:
        raise InputError("threshold_fraction must be in (0, 1]", value=threshold_fraction)
    out = []
    for key, matrix in motifs.items():
        probs = to_probabilities(key, matrix, pseudocount, background)
        motif_id, name = split_key(key)
        thr = per_motif(thresholds, key, None)
        if thr is None:
            thr = threshold_fraction * max_log_odds(probs)
        label = f"{motif_id} {name}".strip()
        out.append(f">{consensus(probs)}\t{label}\t{float(thr):.6f}")
        out.extend("\t".join(f"{p:.6f}" for p in col) for col in probs.T)
    return "\n".join(out) + "\n"


@exporter(accepts="motifs", description="motifs as a HOMER .motif file (with a log-odds detection threshold)")
def write_homer(motifs: Mapping[str, np.ndarray], out, *, thresholds: float | Mapping | None = None,
                threshold_fraction: float = DEFAULT_THRESHOLD_FRACTION,
                pseudocount: float = 0.0, background: str | None = None) -> list[Path]:
    """Write ``motifs`` as a HOMER ``.motif`` file, atomically.

    Parameters
    ----------
    motifs : mapping of str to ndarray (4, W)
        ``"ID NAME"`` -> count or probability matrix, rows A,C,G,T (normalised and
        pseudocounted as in :func:`track_exporters.meme.write_meme`).
    out : str or Path
        Output file.
    thresholds : float or mapping key -> float, optional
        Log-odds detection threshold (natural log). Default per motif: the threshold a HOMER
        file it was read from gave it, else ``threshold_fraction`` x its best possible score.
    threshold_fraction : float
        Fraction of the maximum log-odds score used when no threshold is given (default 0.6).
    pseudocount, background
        As in :func:`track_exporters.meme.write_meme` (the background only shapes the
        pseudocount; HOMER's scores are always against 0.25).

    Returns
    -------
    list of Path
        ``[path]``.
    """
    if thresholds is None:
        thresholds = motif_field(motifs, "threshold")
    return [write_text(out, format_homer(motifs, thresholds=thresholds, threshold_fraction=threshold_fraction,
                                         pseudocount=pseudocount, background=background))]


def _claims_homer(path) -> bool:
    from track_exporters.motif_files import sniff_quietly

    return sniff_quietly(path) == "homer"


@reader(kind="motifs", claim=_claims_homer, description="HOMER .motif files (thresholds kept)")
def read_homer(path) -> MotifSet:
    """``{"NAME": (4, W) probabilities}`` from a HOMER ``.motif`` file, each motif's log-odds
    threshold in ``meta[key]["threshold"]``."""
    path = Path(path)
    if not path.is_file():
        raise InputError("HOMER motif file not found", path=path)
    motifs: dict[str, tuple[np.ndarray, float]] = {}
    key, thr, rows = None, 0.0, []

    def flush():
        if key is not None:
            if not rows:
                raise InputError(f"motif {key!r} has no matrix rows", path=path)
            motifs[key] = (np.array(rows, dtype=float).T, thr)

    with open(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            if line.startswith(">"):
                flush()
                fields = line[1:].rstrip("\r\n").split("\t")
                if len(fields) < 3:
                    raise InputError("HOMER header needs consensus, name, threshold", path=path, line=lineno, value=line.strip())
                key, rows = fields[1], []
                try:
                    thr = float(fields[2])
                except ValueError:
                    raise InputError("threshold is not a number", path=path, line=lineno, value=fields[2]) from None
            else:
                vals = line.split()
                if key is None or len(vals) != 4:
                    raise InputError("expected 4 probabilities (A C G T)", path=path, line=lineno, value=line.strip())
                rows.append([float(v) for v in vals])
    flush()
    if not motifs:
        raise InputError("no motifs found in HOMER file", path=path)
    return MotifSet({k: m for k, (m, _) in motifs.items()}, {k: {"threshold": t} for k, (_, t) in motifs.items()})
