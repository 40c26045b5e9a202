"""The motif database: JASPAR probability matrices by id or TF name.

Motifs in memory are ``dict[str, np.ndarray]``: keys ``"ID NAME"`` exactly as
:func:`memelite.io.read_meme` returns them (e.g. ``"MA0099.3 FOS::JUN"``), values ``(4, W)``
float64 probability matrices, rows A, C, G, T, each column summing to 1.

The default database is the bundled JASPAR 2020 CORE vertebrates (non-redundant) MEME file,
``wtko_captum/data/motifs/JASPAR2020_CORE_vertebrates.meme``.
"""
from __future__ import annotations

import difflib
from functools import lru_cache
from pathlib import Path

import numpy as np

from wtko_captum.core.errors import InputError

DEFAULT_MOTIF_FILE = Path(__file__).parents[1] / "data" / "motifs" / "JASPAR2020_CORE_vertebrates.meme"
#: databases bundled with the package, by the names users type (``--motif-db JASPAR2020``)
BUNDLED_MOTIF_DBS = {"JASPAR2020": DEFAULT_MOTIF_FILE, "JASPAR2020_CORE_vertebrates": DEFAULT_MOTIF_FILE}


def motif_db_path(spec) -> Path:
    """The file of a motif database given as a path or as a bundled database's name
    (:data:`BUNDLED_MOTIF_DBS`, case-insensitive); ``None`` is the default database. A name
    that is neither an existing file nor a bundled database is an error listing the names."""
    if spec is None:
        return DEFAULT_MOTIF_FILE
    path = Path(spec)
    if path.is_file():
        return path
    by_name = {k.lower(): v for k, v in BUNDLED_MOTIF_DBS.items()}
    if str(spec).lower() in by_name:
        return by_name[str(spec).lower()]
    raise InputError(f"motif database not found (a file, or a bundled database: {', '.join(BUNDLED_MOTIF_DBS)})",
                     path=path)


class MotifSet(dict):
    """``{"ID NAME": (4, W) matrix}`` plus what a motif file says about each motif beyond its
    matrix: ``meta[key]`` may hold ``nsites``, ``evalue``, ``url`` and ``threshold`` (HOMER's
    log-odds detection threshold). Writers use these when not told otherwise, so converting a
    file from one format to another keeps them."""

    def __init__(self, motifs=(), meta=None):
        super().__init__(motifs)
        self.meta: dict[str, dict] = {k: dict(v) for k, v in (meta or {}).items()}

    def field(self, name: str) -> dict:
        """``{key: value}`` of one metadata field over the motifs that have it."""
        return {k: m[name] for k, m in self.meta.items() if name in m and k in self}


def motif_field(motifs, name: str) -> dict | None:
    """``motifs.field(name)`` for a :class:`MotifSet`, ``None`` for a plain mapping."""
    return motifs.field(name) if isinstance(motifs, MotifSet) else None


def load_motifs(path=None) -> dict[str, np.ndarray]:
    """Read a motif database as probabilities (default: the bundled JASPAR 2020 vertebrates).

    Parameters
    ----------
    path : str or Path, optional
        Any motif file a registered motif reader claims (MEME, JASPAR, HOMER, a motif table;
        see ``wtko plugins``), or a bundled database's name (``JASPAR2020``). ``None`` means
        :data:`DEFAULT_MOTIF_FILE`.

    Returns
    -------
    dict
        ``{"ID NAME": (4, W) float64 probability matrix}`` in file order. A fresh dict each call
        (callers may modify it); the file itself is parsed once per path.
    """
    path = motif_db_path(path)
    return {k: v.copy() for k, v in _read_meme_cached(str(path.resolve()), path.stat().st_mtime).items()}


@lru_cache(maxsize=8)
def _read_meme_cached(path: str, mtime: float) -> dict[str, np.ndarray]:
    from wtko_captum.core.readers import read

    motifs = read(path, kind="motifs")
    # counts (JASPAR) become probabilities; columns that rounding left off 1 are renormalised
    out = {}
    for key, pwm in motifs.items():
        pwm = np.asarray(pwm, dtype=np.float64)
        out[key] = pwm / np.clip(pwm.sum(axis=0, keepdims=True), 1e-12, None)
    return out


def _normalise_query(query: str) -> str:
    query = query.strip()
    if query.lower().startswith("jaspar:"):
        query = query[len("jaspar:"):].strip()
    return query


def find_motif(motifs: dict[str, np.ndarray] | None, query: str) -> tuple[str, np.ndarray]:
    """Look a motif up by JASPAR id, ``jaspar:ID``, full key or TF name.

    Matching order: the full key (``"MA0099.3 FOS::JUN"``); the id (``"MA0099.3"``); the id
    without version (``"MA0099"``: the highest version present); the TF name, case-insensitive
    (``"FOS::JUN"``, ``"gata1"``). A name shared by several motifs is an error listing them.

    Parameters
    ----------
    motifs : dict or None
        As returned by :func:`load_motifs`; ``None`` loads the bundled JASPAR file.
    query : str

    Returns
    -------
    (key, pwm) : (str, (4, W) ndarray)

    Raises
    ------
    InputError
        Unknown or ambiguous query; the message lists the closest ids / names.
    """
    if motifs is None:
        motifs = load_motifs()
    q = _normalise_query(str(query))
    if q in motifs:
        return q, motifs[q]
    ids = {key.split()[0]: key for key in motifs}
    if q in ids:
        return ids[q], motifs[ids[q]]
    versions = sorted((k for k in ids if k.split(".")[0] == q), key=_version_key)
    if versions:
        key = ids[versions[-1]]
        return key, motifs[key]
    by_name: dict[str, list[str]] = {}
    for key in motifs:
        parts = key.split(maxsplit=1)
        if len(parts) == 2:
            by_name.setdefault(parts[1].lower(), []).append(key)
    hits = by_name.get(q.lower(), [])
    if len(hits) == 1:
        return hits[0], motifs[hits[0]]
    if len(hits) > 1:
        raise InputError(f"motif name {q!r} is ambiguous: {', '.join(hits)} (give the id)")
    names = [k.split(maxsplit=1)[1] for k in motifs if len(k.split(maxsplit=1)) == 2]
    close = difflib.get_close_matches(q, list(ids) + names, n=5, cutoff=0.6)
    close += [n for n in names if q.lower() in n.lower() and n not in close][: max(0, 5 - len(close))]
    hint = f"; did you mean: {', '.join(close)}?" if close else ""
    raise InputError(f"motif {query!r} not found among {len(motifs)} motifs{hint}")


def _version_key(motif_id: str):
    try:
        return int(motif_id.split(".")[1])
    except (IndexError, ValueError):
        return -1


def motif_id(key: str) -> str:
    """``"MA0099.3 FOS::JUN"`` -> ``"MA0099.3"``."""
    return key.split()[0]


def motif_name(key: str) -> str:
    """``"MA0099.3 FOS::JUN"`` -> ``"FOS::JUN"`` (the id when there is no name)."""
    parts = key.split(maxsplit=1)
    return parts[1] if len(parts) == 2 else parts[0]
