"""Why the top variants matter: saturation mutagenesis around each one, and the attribution of
its reference and alternative windows, as AttributionSets and as genome tracks.

Tracks are in the reference window's genome coordinates. The alternative window's scores are
put back at the genome base each came from (:func:`~wtko_captum.variants._windows.alt_in_ref_frame`):
for a substitution that is the same position; after an insertion or deletion the flanks are
shifted back, inserted bases (no genome coordinate) drop out, and deleted bases score 0 in the
alternative (they are not there to contribute). The Δ track is ``projected(alt) − projected(ref)`` at each base; at a
deleted base it is ``−projected(ref)``, the contribution the deletion removes.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from wtko_captum.core.sequence import one_hot
from wtko_captum.variants._effects import Target, probabilities
from wtko_captum.variants._plots import plot_ism
from wtko_captum.variants._windows import Windows, allele_offset, alt_in_ref_frame, alt_positions

log = logging.getLogger("wtko_captum.variants")
ROLES = ("ref", "alt", "delta")


class StrandAverage(nn.Module):
    """``(model(x) + model(reverse complement of x)) / 2``: the ``--rc-average`` model."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        for attr in ("class_names", "input_length"):
            if hasattr(model, attr):
                object.__setattr__(self, attr, getattr(model, attr))

    def forward(self, x):
        return 0.5 * (self.model(x) + self.model(torch.flip(x, dims=(1, 2))))


def class_index(target: Target, row: dict) -> int:
    """The output index a top variant's Δ refers to."""
    return target.class_names.index(str(row["target"]))


def file_label(rank: int, label: str) -> str:
    return f"{rank:02d}_" + re.sub(r"[^A-Za-z0-9_.-]+", "_", label)[:60]


# ---------------------------------------------------------------------------- ISM

def ism_heatmaps(model, genome: Windows, top, target: Target, width: int, out_dir: Path, *, dev,
                 batch_size: int) -> list[Path]:
    """One PNG per top variant and ``ism.tsv`` (every substitution's Δ P), in ``out_dir``.

    ``width`` bases centred on the allele are mutated to every other base, in the reference
    and in the alternative window (tangermeme's saturation mutagenesis, raw outputs); each
    cell is P(mutant) − P(window) of the variant's target class.
    """
    from tangermeme.saturation_mutagenesis import saturation_mutagenesis

    L = genome.length
    out_dir.mkdir(parents=True, exist_ok=True)
    written, rows = [], []
    for rank, (a, row) in enumerate(top, 1):
        cls = class_index(target, row)
        ref_seq = genome.ref_window(a)
        alt_seq = genome.alt_window(a, ref_seq)
        ref0 = genome.ref_start(a)
        panels = {}
        w = min(L, max(width, len(a.nref) + 2, len(a.nalt) + 2))
        for which, seq, alen, pos in (("ref", ref_seq, len(a.nref), ref0 + np.arange(L)),
                                      ("alt", alt_seq, len(a.nalt), alt_positions(a, L))):
            off = allele_offset(L, alen)
            lo = int(np.clip(off + alen // 2 - w // 2, 0, L - w))
            X = torch.from_numpy(one_hot(seq))
            y0, yh = saturation_mutagenesis(model, X, start=lo, end=lo + w, raw_outputs=True, fast=False,
                                            device=dev, batch_size=batch_size)
            k = y0.shape[-1]
            p0 = probabilities(y0.double().numpy(), target.sigmoid)[0, cls]
            ph = probabilities(yh[0].double().reshape(-1, k).numpy(), target.sigmoid).reshape(4, w, k)[..., cls]
            delta = ph - p0
            panels[which] = dict(delta=delta, seq=seq[lo:lo + w], positions=pos[lo:lo + w],
                                 allele=(off - lo, off - lo + alen))
            for b in range(4):
                for j in range(w):
                    rows.append((a.label, which, lo + j, int(pos[lo + j]), "ACGT"[b], seq[lo + j] == "ACGT"[b],
                                 delta[b, j]))
        title = (f"{a.label} {a.kind} {a.nref}>{a.nalt} at {a.chrom}:{a.start} (0-based): "
                 f"Δ P({row['target']}) = {float(row['delta']):+.3f} ({row['band']})")
        written.append(plot_ism(panels["ref"], panels["alt"], out_dir / f"{file_label(rank, a.label)}.png",
                                title=title))
    table = pd.DataFrame(rows, columns=["variant", "window", "offset", "genome_pos", "base", "observed", "delta"])
    path = out_dir / "ism.tsv"
    table.to_csv(path, sep="\t", index=False, float_format="%.6g")
    return written + [path]


# ---------------------------------------------------------------------------- attributions

def attribution_sets(model, genome: Windows, top, target: Target, method: str, *, options: dict,
                     rc_average: bool, batch_size: int, device, seed: int, model_identity=None,
                     verbose: bool = False) -> dict:
    """``{role: AttributionSet}`` for ``ref``, ``alt`` and ``delta`` of the top variants.

    All three are in reference-window coordinates (regions: one window per variant, base i =
    genome base start + i). ``ref`` and ``alt`` keep the method's scores (hypothetical when the
    method makes them); ``delta`` holds ``projected(alt) − projected(ref)`` on the observed
    reference base (projected), with a gap (all-zero one-hot) where it is undefined.
    """
    from wtko_captum.attribution.attribute import accepted_options, attribute, get_method, method_info
    from wtko_captum.core.attribution_set import AttributionSet

    L = genome.length
    alleles = [a for a, _ in top]
    rows = [r for _, r in top]
    ref_seqs = [genome.ref_window(a) for a in alleles]
    X_ref = one_hot(ref_seqs)
    X_alt = one_hot([genome.alt_window(a, s) for a, s in zip(alleles, ref_seqs)])
    tgt = "diff" if target.kind == "diff" else [class_index(target, r) for r in rows]
    func = get_method(method)
    used, dropped = accepted_options(func, {k: v for k, v in options.items() if v is not None})
    if dropped:
        log.info("%s: ignoring options it does not take: %s", method, ", ".join(dropped))
    common = dict(batch_size=batch_size, device=device, seed=seed, rc_average=rc_average,
                  verbose=verbose, **used)
    A_ref = attribute(model, X_ref, method, tgt, **common).numpy()
    A_alt = attribute(model, X_alt, method, tgt, **common).numpy()
    maps = [alt_in_ref_frame(a, L) for a in alleles]
    src = np.stack([m[0] for m in maps])
    deleted = np.stack([m[1] for m in maps])
    has = src >= 0
    idx = np.where(has, src, 0)
    Xa = np.take_along_axis(X_alt, idx[:, None, :], axis=2) * has[:, None, :]
    Aa = np.take_along_axis(A_alt, idx[:, None, :], axis=2) * has[:, None, :]
    # a deleted base contributes nothing to the alternative: 0 there, not a gap, so a track
    # never shows another variant's window through the hole
    dn, dp = deleted.nonzero()
    Xa[dn, :, dp] = X_ref[dn, :, dp]
    pr = (A_ref * X_ref).sum(axis=1)
    pa = (Aa * Xa).sum(axis=1)
    valid = X_ref.any(axis=1) & (has | deleted)
    Xd = X_ref * valid[:, None, :]
    Ad = Xd * np.where(valid, pa - pr, 0.0)[:, None, :]
    starts = np.asarray([genome.ref_start(a) for a in alleles], dtype=np.int64)
    regions = pd.DataFrame({"chrom": [a.chrom for a in alleles], "start": starts, "end": starts + L,
                            "name": [a.label for a in alleles], "score": [float(r["delta"]) for r in rows],
                            "strand": "+", "variant_start": [a.start for a in alleles],
                            "ref": [a.nref for a in alleles], "alt": [a.nalt for a in alleles],
                            "band": [r["band"] for r in rows]})
    info = method_info(func)
    target_label = "diff" if target.kind == "diff" else [target.class_names[t] for t in tgt]
    base = dict(method=method, target=target_label if isinstance(target_label, str) else target.label,
                params={**used, "rc_average": bool(rc_average), "seed": seed},
                model_identity=model_identity, class_names=list(target.class_names))
    return {
        "ref": AttributionSet(X_ref, A_ref, regions, hypothetical=info.hypothetical, extra={"allele": "ref"}, **base),
        "alt": AttributionSet(Xa, Aa, regions, hypothetical=info.hypothetical,
                              extra={"allele": "alt, mapped to reference-window coordinates"}, **base),
        "delta": AttributionSet(Xd, Ad, regions, hypothetical=False,
                                extra={"allele": "projected(alt) - projected(ref)"}, **base),
    }


def variants_bed_table(top) -> pd.DataFrame:
    """The top variants as BED rows: the normalised reference allele's interval (an insertion:
    its anchor base), name = variant label, score = Δ, with the band and kind."""
    return pd.DataFrame({
        "chrom": [a.chrom for a, _ in top], "start": [a.start for a, _ in top],
        "end": [a.start + len(a.nref) for a, _ in top], "name": [a.label for a, _ in top],
        "score": [float(r["delta"]) for _, r in top], "strand": ".",
        "band": [str(r["band"]) for _, r in top], "kind": [a.kind for a, _ in top],
    })


def write_tracks(sets_by_method: dict, top, genome: Windows, out: Path) -> list[Path]:
    """bigWig tracks ``<method>.<ref|alt|delta>.projected.bw`` and ``variants.bed`` in
    ``out/tracks``, then ``out/tracks.ini`` (pyGenomeTracks) and ``out/igv_session.xml``, all
    through the exporter registry."""
    from wtko_captum.core.export import export

    tracks = out / "tracks"
    written: list[Path] = []
    for method, sets in sets_by_method.items():
        for role in ROLES:
            written += export("bigwig", sets[role], tracks, chrom_sizes=genome.sizes, tracks=["projected"],
                              overlap="nearest-summit", prefix=f"{method}.{role}")
    written += export("bed", variants_bed_table(top), tracks / "variants.bed", extra_cols=["band", "kind"],
                      chrom_sizes=genome.sizes)
    written += export("tracks_ini", tracks, out / "tracks.ini", genome=str(genome.path))
    written += export("igv", tracks, out / "igv_session.xml", genome=str(genome.path), top=len(top))
    return written
