"""A neuron's motif syntax: its clusters' motifs as a tree joined by gap ranges.

Each demixed cluster is read left to right as a path of dictionary motifs (its segments, in
window order) with the gaps between them in bp. The paths of all clusters of a neuron are
merged into a prefix tree: clusters that share their first motifs share the first nodes, and
each node keeps the range of window positions its motif starts at and the range of the gap
from the motif before it. A neuron that sees one motif at k shifts is one node with a start
range of k positions; a neuron that needs two motifs 3-5 bp apart is a path
``A -[3-5 bp]- B``.
"""
from __future__ import annotations


def build_tree(paths: list[tuple[int, list[tuple[str, int, int]]]]) -> dict:
    """Merge clusters' motif paths into a tree.

    Parameters
    ----------
    paths : list of (cluster, [(motif id, position, start, end), ...])
        Each cluster's segments, any order: the dictionary motif, where that motif begins in the
        window (its alignment to the segment), and the segment ``[start, end)`` (window
        positions, 0-based half-open; gaps are measured between segments).

    Returns
    -------
    dict
        The root ``{"children": [...]}``; each node ``{"motif", "start": [lo, hi],
        "gap": [lo, hi] or None (first motif), "clusters": [...], "ends": number of clusters
        whose path ends here, "children": [...]}``.
    """
    root: dict = {"children": {}}
    for cluster, segs in paths:
        node, prev_end = root, None
        for motif, position, start, end in sorted(segs, key=lambda s: s[2]):
            gap = None if prev_end is None else start - prev_end
            child = node["children"].get(motif)
            if child is None:
                child = node["children"][motif] = {"motif": motif, "start": [position, position],
                                                   "gap": None if gap is None else [gap, gap],
                                                   "clusters": [], "ends": 0, "children": {}}
            child["start"] = [min(child["start"][0], position), max(child["start"][1], position)]
            if gap is not None:
                child["gap"] = [min(child["gap"][0], gap), max(child["gap"][1], gap)]
            child["clusters"].append(cluster)
            node, prev_end = child, end
        if node is not root:
            node["ends"] += 1
    return _as_lists(root)


def _as_lists(node: dict) -> dict:
    out = {k: v for k, v in node.items() if k != "children"}
    out["children"] = [_as_lists(c) for c in node["children"].values()]
    return out


def _range(lo_hi, unit: str = "") -> str:
    lo, hi = lo_hi
    return f"{lo}{unit}" if lo == hi else f"{lo}-{hi}{unit}"


def describe(tree: dict) -> list[str]:
    """One line per root-to-leaf path, e.g. ``NM1@0-1 -[3-5 bp]- NM4@12-14``: motif ids,
    their start positions in the window, and the gap ranges between them."""
    lines: list[str] = []

    def walk(node, prefix):
        for child in node["children"]:
            text = f"{child['motif']}@{_range(child['start'])}"
            here = text if not prefix else f"{prefix} -[{_range(child['gap'], ' bp')}]- {text}"
            if child["ends"]:
                lines.append(here)
            walk(child, here)

    walk(tree, "")
    return lines
