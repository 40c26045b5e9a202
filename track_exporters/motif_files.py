"""Motif files by content: :func:`sniff` tells the formats apart for the motif readers, and
:func:`read_motif_table` reads motifs written as a table.

Formats (recognised from the content, not the extension):

* MEME minimal format (any file with a ``MEME version`` line) - probabilities;
* JASPAR (``>ID NAME`` then 4 rows A,C,G,T, bracketed or plain) - counts;
* HOMER ``.motif`` (``>consensus<TAB>name<TAB>threshold`` then W rows of 4) - probabilities;
* a motifs TSV with a header: ``id`` (required), ``name`` (optional), and either
  ``consensus`` (an IUPAC string: each letter spreads probability evenly over the bases it
  stands for, e.g. ``R`` -> A 0.5, G 0.5) or ``sites`` (comma-separated aligned sequences of
  equal length, e.g. a k-mer cluster: counted per column, ``N`` counts as nothing); optional
  ``nsites``, ``evalue`` and ``url`` columns are passed to the writer.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from wtko_captum.core.errors import InputError
from wtko_captum.core.motif_db import MotifSet
from wtko_captum.core.registry import reader

IUPAC_BASES = {"A": "A", "C": "C", "G": "G", "T": "T", "U": "T", "R": "AG", "Y": "CT", "S": "CG",
               "W": "AT", "K": "GT", "M": "AC", "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG", "N": "ACGT"}


def consensus_matrix(consensus: str) -> np.ndarray:
    """``(4, W)`` probabilities of an IUPAC consensus string."""
    cols = []
    for i, letter in enumerate(consensus.strip().upper()):
        bases = IUPAC_BASES.get(letter)
        if bases is None:
            raise InputError(f"not an IUPAC letter at position {i + 1} of consensus {consensus!r}", value=letter)
        cols.append([1.0 / len(bases) if b in bases else 0.0 for b in "ACGT"])
    if not cols:
        raise InputError("empty consensus")
    return np.array(cols).T


def sites_matrix(sites) -> np.ndarray:
    """``(4, W)`` counts of aligned equal-length sites (non-ACGT letters count as nothing)."""
    sites = [s.strip().upper() for s in sites if s.strip()]
    if not sites or len({len(s) for s in sites}) != 1:
        raise InputError("sites must be one or more sequences of equal length", value=sites[:3])
    arr = np.frombuffer("".join(sites).encode(), dtype="S1").reshape(len(sites), -1)
    return np.stack([(arr == b.encode()).sum(axis=0) for b in "ACGT"]).astype(float)


def _claims_table(path) -> bool:
    return sniff_quietly(path) == "tsv"


@reader(kind="motifs", claim=_claims_table,
        description="a motifs TSV: id, [name], consensus (IUPAC) or sites, [nsites, evalue, url]")
def read_motif_table(path) -> MotifSet:
    """Motifs from a TSV (see the module docstring), with per-motif ``nsites``, ``evalue``
    and ``url`` in the set's ``meta`` when the table has those columns."""
    import pandas as pd

    path = Path(path)
    df = pd.read_csv(path, sep="\t", dtype=str, comment="#").fillna("")
    df.columns = [c.strip().lower() for c in df.columns]
    if "id" not in df or not ({"consensus", "sites"} & set(df.columns)):
        raise InputError("motifs TSV needs columns 'id' and 'consensus' or 'sites' "
                         f"(got {', '.join(df.columns)})", path=path)
    motifs = MotifSet()
    for i, row in df.iterrows():
        line = i + 2  # header is line 1
        key = f"{row['id'].strip()} {row.get('name', '').strip()}".strip()
        if not row["id"].strip():
            raise InputError("empty motif id", path=path, line=line)
        if key in motifs:
            raise InputError("duplicate motif", path=path, line=line, value=key)
        try:
            if row.get("consensus", "").strip():
                motifs[key] = consensus_matrix(row["consensus"])
            elif row.get("sites", "").strip():
                motifs[key] = sites_matrix(row["sites"].split(","))
            else:
                raise InputError("neither consensus nor sites given")
        except InputError as exc:
            raise InputError(str(exc), path=path, line=line) from None
        for col, conv in (("nsites", int), ("evalue", float), ("url", str)):
            if row.get(col, "").strip():
                try:
                    motifs.meta.setdefault(key, {})[col] = conv(row[col])
                except ValueError:
                    raise InputError(f"bad {col}", path=path, line=line, value=row[col]) from None
    if not motifs:
        raise InputError("no motifs in table", path=path)
    return motifs


def sniff(path) -> str:
    """``meme``, ``jaspar``, ``homer`` or ``tsv`` from the first lines of ``path``."""
    path = Path(path)
    if not path.is_file():
        raise InputError("motif file not found", path=path)
    with open(path) as fh:
        head = [line.rstrip("\r\n") for _, line in zip(range(200), fh)]
    lines = [h for h in head if h.strip()]
    if any(h.startswith("MEME version") for h in lines):
        return "meme"
    if lines and lines[0].startswith(">"):
        fields = lines[0][1:].split("\t")
        nxt = lines[1].split() if len(lines) > 1 else []
        if len(fields) >= 3 and len(nxt) == 4 and "[" not in lines[1]:
            try:
                float(fields[2])
                return "homer"
            except ValueError:
                pass
        return "jaspar"
    if lines and "id" in [c.strip().lower() for c in lines[0].split("\t")]:
        return "tsv"
    raise InputError("unrecognised motif file: expected MEME, JASPAR, HOMER or a motifs TSV "
                     "with columns id and consensus/sites", path=path)


def sniff_quietly(path) -> str | None:
    """:func:`sniff` for readers' claims: ``None`` instead of an error."""
    try:
        return sniff(path) if Path(path).is_file() else None
    except (InputError, UnicodeDecodeError, OSError):
        return None
