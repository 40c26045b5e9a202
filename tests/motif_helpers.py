"""Helpers for the motif tests: an AttributionSet with planted motifs whose (hypothetical)
attributions are large exactly at the planted sites, on a synthetic genome, so modisco and the
k-mer side find the motifs fast and every coordinate can be checked against the genome."""
from __future__ import annotations

import numpy as np
import pandas as pd

from wtko_captum.core.attribution_set import AttributionSet
from wtko_captum.core.sequence import one_hot, reverse_complement

#: planted sites: GATA in class 1 (WT), AP-1 in class 0 (KO)
PLANTED = {"GATA": "AGATAAGA", "AP1": "ATGACTCAT"}


def planted_attrset(n: int = 200, length: int = 200, seed: int = 0, gap: int = 50, chrom: str = "chrS"):
    """``(AttributionSet, genome string, sites DataFrame)``.

    Row i is genome ``[100 + i*(length+gap), ... + length)`` of one chromosome ``chrom``; WT
    rows (odd i) carry one GATA site, KO rows one AP-1 site, random position and strand.
    Hypothetical scores: +1 on the observed base, -0.3 on the others inside a site, N(0, 0.02)
    everywhere.
    """
    rng = np.random.default_rng(seed)
    genome = list(rng.choice(list("ACGT"), size=100 + n * (length + gap)))
    starts = 100 + np.arange(n) * (length + gap)
    labels = np.arange(n) % 2
    sites = []
    for i in range(n):
        motif = "GATA" if labels[i] == 1 else "AP1"
        strand = "+" if rng.random() < 0.5 else "-"
        site = PLANTED[motif] if strand == "+" else reverse_complement(PLANTED[motif])
        pos = int(rng.integers(20, length - 20 - len(site)))
        genome[starts[i] + pos:starts[i] + pos + len(site)] = list(site)
        sites.append({"example_idx": i, "pos": pos, "width": len(site), "motif": motif, "strand": strand})
    genome = "".join(genome)
    X = one_hot([genome[s:s + length] for s in starts])
    attr = rng.normal(0, 0.02, size=X.shape).astype(np.float32)
    for s in sites:
        sl = slice(s["pos"], s["pos"] + s["width"])
        attr[s["example_idx"], :, sl] += X[s["example_idx"], :, sl] * 1.3 - 0.3
    regions = pd.DataFrame({"chrom": chrom, "start": starts, "end": starts + length, "label": labels,
                            "name": [f"r{i}" for i in range(n)]})
    aset = AttributionSet(X, attr, regions, "deeplift_shap", hypothetical=True, target="WT",
                          class_names=["KO", "WT"])
    return aset, genome, pd.DataFrame(sites)


def write_fasta(path, chrom: str, seq: str) -> None:
    with open(path, "w") as fh:
        fh.write(f">{chrom}\n")
        for i in range(0, len(seq), 60):
            fh.write(seq[i:i + 60] + "\n")


def contains_motif(consensus: str, site: str) -> bool:
    """Whether ``consensus`` holds ``site`` (or its reverse complement) allowing one mismatch."""
    for s in (site, reverse_complement(site)):
        for i in range(len(consensus) - len(s) + 1):
            if sum(a != b for a, b in zip(consensus[i:i + len(s)], s)) <= 1:
                return True
    return False
