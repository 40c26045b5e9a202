"""Tomtom: compare motifs with a motif database (memelite underneath).

:func:`tomtom` returns a table in the MEME suite's own ``tomtom -text`` columns::

    Query_ID Target_ID Optimal_offset p-value E-value q-value Overlap
    Query_consensus Target_consensus Orientation Target_name

so tools that read Tomtom output read ours. ``Target_name`` (the TF name, e.g. ``FOS::JUN``)
is the one added column.

Semantics, and where they differ from MEME's ``tomtom`` (memelite implements one distance):

* score: memelite's column score is the negative Euclidean distance (MEME's ``-dist ed``);
  MEME's default is Pearson correlation, which memelite does not implement. Both use the
  "complete score" (unaligned columns scored against the background), as MEME does by
  default.
* p-value: memelite's p-value of the best alignment, merged over both strands as
  ``1 - (1 - min(p+, p-))**2``. On the regression set these agree with MEME's own p-values
  (log10 correlation 0.9998 over 2,437 shared pairs).
* E-value: ``p * number of targets`` (MEME's definition).
* q-value: Benjamini-Hochberg over each query's p-values against all targets. MEME also
  computes q-values per query, but over 2 x targets tests with an estimated null fraction, so
  its q-values differ from ours by a factor of about 0.5-2 (median 1.4 on the regression set);
  the ranking is the same.
* Optimal_offset: MEME's sign convention: query column ``j`` is aligned with target column
  ``j + offset`` of the target in the reported orientation (``-`` = the target reverse
  complemented); Overlap is the number of aligned columns.
* consensus: the most probable base per column (as MEME prints it); ``Target_consensus`` is
  that of the target in the reported orientation.

The regression test compares our best targets with real MEME-suite Tomtom output
(tests/data/tomtom/MAX_JUND_FOXA1_tomtom.tsv).
"""
from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from wtko_captum.core.errors import InputError
from wtko_captum.core.motif_db import load_motifs
from wtko_captum.core.sequence import consensus

log = logging.getLogger(__name__)

COLUMNS = ["Query_ID", "Target_ID", "Optimal_offset", "p-value", "E-value", "q-value", "Overlap",
           "Query_consensus", "Target_consensus", "Orientation", "Target_name"]
THRESH_BY = ("q", "p", "E")
DISTANCES = ("ed",)


def read_motifs(motifs) -> dict[str, np.ndarray]:
    """``dict[str, (4, W)]`` from a dict (returned as float64 copies) or any motif file a
    registered motif reader claims (MEME, JASPAR, HOMER, a motif table)."""
    if isinstance(motifs, Mapping):
        return {str(k): np.asarray(v, dtype=np.float64) for k, v in motifs.items()}
    if isinstance(motifs, (str, Path)):
        return load_motifs(motifs)
    raise InputError(f"motifs must be a dict of (4, W) matrices or a motif file path, got {type(motifs).__name__}")


def _as_probabilities(key: str, m: np.ndarray) -> np.ndarray:
    """Validate a ``(4, W)`` matrix and return it as float64 column probabilities, C-ordered.

    Always float64 and one memory layout: memelite's numba kernels compile once per dtype and
    layout (about a minute each, cached on disk), so a float32 query would pay that again.
    """
    m = np.asarray(m, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != 4 or m.shape[1] < 1:
        raise InputError(f"motif {key!r} must be a (4, W) matrix (rows A,C,G,T)", value=m.shape)
    if not np.isfinite(m).all() or (m < 0).any():
        raise InputError(f"motif {key!r} has negative or non-finite values; Tomtom compares "
                         "probability (or count) matrices, not contribution weights")
    total = m.sum(axis=0, keepdims=True)
    if (total <= 0).all():
        raise InputError(f"motif {key!r} is all zeros")
    m = np.where(total > 0, m / np.where(total > 0, total, 1.0), 0.25)
    return np.ascontiguousarray(m)


def split_key(key: str) -> tuple[str, str]:
    """``"MA0099.3 FOS::JUN"`` -> ``("MA0099.3", "FOS::JUN")``; no name -> ``(id, "")``."""
    parts = str(key).split(None, 1)
    return parts[0], (parts[1].strip() if len(parts) > 1 else "")


def benjamini_hochberg(p) -> np.ndarray:
    """Benjamini-Hochberg q-values of a 1-d array of p-values (same order), capped at 1."""
    p = np.asarray(p, dtype=np.float64)
    n = p.size
    if n == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    ranked = p[order] * n / np.arange(1, n + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(q, 1.0)
    return out


def best_enrichment(tests, alpha: float) -> tuple[dict, np.ndarray]:
    """The most significant enrichment of each row among Fisher tests.

    ``tests``: ``(row, name, odds_ratio, p)`` per test. The p-values are BH-corrected together;
    a row's best is the test with odds > 1 and the smallest q below ``alpha``. Returns
    ``({row: (name, odds, q)}, q of every test in order)``.
    """
    q = benjamini_hochberg([t[3] for t in tests]) if tests else np.zeros(0)
    best: dict = {}
    for (r, name, odds, _), qv in zip(tests, q):
        if odds > 1 and qv < alpha and (r not in best or qv < best[r][2]):
            best[r] = (name, odds, float(qv))
    return best, q


def tomtom_arrays(queries: Mapping[str, np.ndarray], targets: Mapping[str, np.ndarray], *,
                  reverse_complement: bool = True, n_jobs: int = 1) -> dict[str, np.ndarray]:
    """The full query x target comparison from memelite, as named arrays.

    Returns
    -------
    dict
        ``p`` (merged-strand p-value), ``score``, ``offset`` (MEME convention: query column j
        sits on target column j + offset), ``overlap``, ``strand`` (0 = target as given,
        1 = reverse complement); each ``(n_queries, n_targets)``.
    """
    from memelite import tomtom as _tomtom

    if not queries:
        raise InputError("no query motifs")
    if not targets:
        raise InputError("no target motifs")
    Q = [_as_probabilities(k, v) for k, v in queries.items()]
    T = [_as_probabilities(k, v) for k, v in targets.items()]
    # memelite sets numba's thread count, which (one OpenMP runtime) also resets torch's for the
    # rest of the process: a later model on 2 threads gives other float rounding. Restore it.
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch is not None else None
    try:
        with warnings.catch_warnings():
            # memelite warns below 25 targets; callers that compare small sets pad the targets
            # with a database (see compare.py) and we say so in our own words where it matters.
            warnings.simplefilter("ignore", UserWarning)
            p, score, offset, overlap, strand = _tomtom(Q, T, reverse_complement=reverse_complement,
                                                        n_jobs=n_jobs)
    finally:
        if threads is not None and torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
    return {"p": np.clip(p, 0.0, 1.0), "score": score, "offset": offset.astype(np.int64),
            "overlap": overlap.astype(np.int64), "strand": strand.astype(np.int64)}


def tomtom(query_motifs, target_motifs=None, *, thresh: float = 0.5, thresh_by: str = "q",
           dist: str = "ed", reverse_complement: bool = True, n_jobs: int = 1) -> pd.DataFrame:
    """Compare each query motif with every target motif (Tomtom).

    Parameters
    ----------
    query_motifs : dict or path
        ``{"ID NAME": (4, W)}`` probability (or count) matrices, rows A,C,G,T, or a MEME file.
    target_motifs : dict or path, optional
        The database; default the bundled JASPAR 2020 CORE vertebrates (746 motifs).
    thresh : float
        Keep rows with ``thresh_by`` value <= ``thresh`` (MEME's default: q <= 0.5).
        ``thresh=1`` keeps every query-target pair.
    thresh_by : {"q", "p", "E"}
        Which column ``thresh`` applies to (MEME: q by default, E with ``-evalue``).
    dist : {"ed"}
        Column distance; memelite implements Euclidean distance only (MEME's ``-dist ed``).
    reverse_complement : bool
        Also align the reverse complement of each target (MEME's default).
    n_jobs : int
        numba threads (-1 = all).

    Returns
    -------
    DataFrame
        Columns :data:`COLUMNS`; rows ordered by query (input order), then p-value.
        p/E/q-values as in the module docstring; offsets 0-based columns.
    """
    if dist not in DISTANCES:
        raise InputError(f"distance {dist!r} is not available: memelite implements Euclidean "
                         f"distance only (use 'ed'); MEME's 'pearson' needs the MEME suite's tomtom",
                         value=dist)
    if thresh_by not in THRESH_BY:
        raise InputError(f"thresh_by must be one of {', '.join(THRESH_BY)}", value=thresh_by)
    queries = read_motifs(query_motifs)
    targets = read_motifs(target_motifs) if target_motifs is not None else load_motifs()
    res = tomtom_arrays(queries, targets, reverse_complement=reverse_complement, n_jobs=n_jobs)
    table = _table(queries, targets, res)
    column = {"q": "q-value", "p": "p-value", "E": "E-value"}[thresh_by]
    return table[table[column] <= thresh].reset_index(drop=True)


def _table(queries: Mapping[str, np.ndarray], targets: Mapping[str, np.ndarray],
           res: dict[str, np.ndarray]) -> pd.DataFrame:
    """Every query x target row, in Tomtom's columns."""
    q_keys, t_keys = list(queries), list(targets)
    n_q, n_t = len(q_keys), len(t_keys)
    q_ids = [split_key(k)[0] for k in q_keys]
    t_split = [split_key(k) for k in t_keys]
    q_cons = [consensus(queries[k]) for k in q_keys]
    t_cons_fwd = [consensus(targets[k]) for k in t_keys]
    t_cons_rev = [consensus(np.asarray(targets[k])[::-1, ::-1]) for k in t_keys]
    p = res["p"]
    q = np.vstack([benjamini_hochberg(row) for row in p])
    strand = res["strand"]
    qi = np.repeat(np.arange(n_q), n_t)
    ti = np.tile(np.arange(n_t), n_q)
    rev = strand.ravel() == 1
    df = pd.DataFrame({
        "Query_ID": np.asarray(q_ids, dtype=object)[qi],
        "Target_ID": np.asarray([s[0] for s in t_split], dtype=object)[ti],
        "Optimal_offset": res["offset"].ravel(),
        "p-value": p.ravel(),
        "E-value": p.ravel() * n_t,
        "q-value": q.ravel(),
        "Overlap": res["overlap"].ravel(),
        "Query_consensus": np.asarray(q_cons, dtype=object)[qi],
        "Target_consensus": np.where(rev, np.asarray(t_cons_rev, dtype=object)[ti],
                                     np.asarray(t_cons_fwd, dtype=object)[ti]),
        "Orientation": np.where(rev, "-", "+"),
        "Target_name": np.asarray([s[1] for s in t_split], dtype=object)[ti],
    })
    df["_q"] = qi
    df = df.sort_values(["_q", "p-value"], kind="stable").drop(columns="_q")
    return df[COLUMNS].reset_index(drop=True)


def best_matches(table: pd.DataFrame, n: int = 1) -> pd.DataFrame:
    """The ``n`` best rows (smallest p-value) of each query in a :func:`tomtom` table."""
    return (table.sort_values(["p-value"], kind="stable").groupby("Query_ID", sort=False).head(n)
            .sort_index().reset_index(drop=True))


def read_tomtom(path) -> pd.DataFrame:
    """Read a Tomtom TSV (ours or the MEME suite's ``-text``/``tomtom.tsv``; '#' lines skipped)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("Tomtom table not found", path=path)
    df = pd.read_csv(path, sep="\t", comment="#")
    missing = [c for c in ("Query_ID", "Target_ID", "p-value") if c not in df]
    if missing:
        raise InputError(f"not a Tomtom table (no {', '.join(missing)} column)", path=path)
    return df


def write_tomtom(path, table: pd.DataFrame) -> Path:
    """Write a :func:`tomtom` table as TSV (atomically); returns the path."""
    from wtko_captum.core.atomic import write_text

    return write_text(path, table.to_csv(sep="\t", index=False, float_format="%.6g"))
