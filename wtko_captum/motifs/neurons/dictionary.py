"""A motif dictionary across neurons: Tomtom de-duplication of every motif segment.

Many neurons (and many clusters of one neuron) find the same motif. Every segment is compared
with every other by Tomtom (memelite, through :mod:`wtko_captum.motifs.tomtom`); the targets
are the segments *plus* the motif database, so the p-values have a real null distribution
(Tomtom's null comes from the target columns) and the q-values are per query over all
targets. Greedily, from the most informative segment down: an unassigned segment opens a new
dictionary entry, and every unassigned segment that matches it with ``q <= q`` in both
directions joins it. Both directions, because Tomtom aligns a short
query inside a long target with a low p-value: one way only, a composite segment (two motifs
1 bp apart read as one) would absorb each of its parts. The entry's matrix is its first (most
informative) segment's.

Each entry is then matched against the database (Tomtom, best target, its p and q).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from wtko_captum.core.sequence import consensus

PREFIX = "NM"


@dataclass
class Dictionary:
    """De-duplicated motifs.

    ``motifs``: ``{"NM1 CONSENSUS": (4, w)}`` (MEME keys, most informative first);
    ``members``: entry id -> segment keys; ``of``: segment key -> entry id;
    ``align``: segment key -> ``(start, strand)``: where the entry's matrix begins relative to
    the segment's first column (bp, Tomtom's alignment) and on which strand (``+``/``-``);
    ``table``: one row per entry (id, consensus, width, ic, n_segments, n_neurons, members,
    jaspar_id, jaspar_name, p, q).
    """

    motifs: dict[str, np.ndarray] = field(default_factory=dict)
    members: dict[str, list[str]] = field(default_factory=dict)
    of: dict[str, str] = field(default_factory=dict)
    align: dict[str, tuple[int, str]] = field(default_factory=dict)
    table: pd.DataFrame = field(default_factory=pd.DataFrame)


COLUMNS = ["id", "consensus", "width", "ic", "n_segments", "n_neurons", "members", "jaspar_id", "jaspar_name",
           "p", "q"]


def best_matches(queries: dict[str, np.ndarray], database: dict[str, np.ndarray]) -> pd.DataFrame:
    """Best database target of each query: columns query, jaspar_id, jaspar_name, p, q
    (Tomtom, q-values per query over the whole database)."""
    from wtko_captum.motifs.tomtom import best_matches as _best, tomtom

    if not queries:
        return pd.DataFrame(columns=["query", "jaspar_id", "jaspar_name", "p", "q"])
    table = _best(tomtom(queries, database, thresh=1.0), n=1)
    return pd.DataFrame({"query": table["Query_ID"], "jaspar_id": table["Target_ID"],
                         "jaspar_name": table["Target_name"], "p": table["p-value"],
                         "q": table["q-value"]}).reset_index(drop=True)


def build_dictionary(segments: dict[str, np.ndarray], database: dict[str, np.ndarray], *, q: float = 0.05,
                     neuron_of=None) -> Dictionary:
    """De-duplicate ``segments`` (``{key: (4, w)}``, keys without spaces) into a dictionary.

    Parameters
    ----------
    segments : dict
        Segment matrices (probabilities).
    database : dict
        The motif database: the Tomtom background and the entries' matches.
    q : float
        Tomtom q-value at or below which two segments are the same motif (both ways).
    neuron_of : callable, optional
        Segment key -> neuron id (for the ``n_neurons`` column); default: the key up to its
        last ``/``.
    """
    from wtko_captum.motifs.cluster import information_content
    from wtko_captum.motifs.tomtom import benjamini_hochberg, tomtom_arrays

    if not segments:
        return Dictionary(table=pd.DataFrame(columns=COLUMNS))
    neuron_of = neuron_of or (lambda k: k.rsplit("/", 1)[0])
    keys = list(segments)
    ic = np.array([information_content(segments[k]).sum() for k in keys])
    targets = dict(segments)
    targets.update({k: v for k, v in database.items() if k not in targets})
    res = tomtom_arrays(segments, targets)
    qv = np.vstack([benjamini_hochberg(row) for row in res["p"]])[:, :len(keys)]
    same = (qv <= q) & (qv.T <= q)
    order = np.argsort(-ic, kind="stable")
    entry_of = np.full(len(keys), -1)
    entries = []
    for i in order:
        if entry_of[i] >= 0:
            continue
        members = [j for j in order if entry_of[j] < 0 and (j == i or same[i, j])]
        entry_of[members] = len(entries)
        entries.append(members)
    d = Dictionary()
    rows = []
    for e, members in enumerate(entries):
        rep = segments[keys[members[0]]]
        ident = f"{PREFIX}{e + 1}"
        d.motifs[f"{ident} {consensus(rep)}"] = rep
        d.members[ident] = [keys[m] for m in members]
        for m in members:
            d.of[keys[m]] = ident
            # Tomtom: segment column j sits on the entry's column j + offset (entry reverse
            # complemented on strand 1), so the entry begins `offset` columns before the segment
            same_one = m == members[0]
            d.align[keys[m]] = (0, "+") if same_one else (-int(res["offset"][m, members[0]]),
                                                          "-" if res["strand"][m, members[0]] else "+")
        rows.append({"id": ident, "consensus": consensus(rep), "width": rep.shape[1], "ic": float(ic[members[0]]),
                     "n_segments": len(members), "n_neurons": len({neuron_of(keys[m]) for m in members}),
                     "members": ",".join(keys[m] for m in members)})
    table = pd.DataFrame(rows)
    matches = best_matches(d.motifs, database).set_index("query")
    for col in ("jaspar_id", "jaspar_name", "p", "q"):
        table[col] = [matches[col].get(i, "" if col.startswith("jaspar") else np.nan) for i in table["id"]]
    d.table = table[COLUMNS]
    return d
