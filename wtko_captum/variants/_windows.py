"""Model windows around variants: the reference window and the alternative window of each
allele, built from the genome with N padding past chromosome ends.

Each window is centred on its own allele. For an allele ``S`` replacing the reference allele
``R`` (``r`` bases at 0-based ``p``) in a window of ``L`` bases, the allele starts at window
offset ``L // 2 - len(S) // 2``::

    window(S) = genome[p - lf, p) + S + genome[p + r, p + r + L - lf - len(S))

For a substitution (SNV, MNV) both windows cover the same genome bases and differ only in the
allele. For an insertion or deletion the alternative window is the replacement re-centred on
the new allele: the flanks shift by half the length change on each side, so the variant sits
in the middle of both windows (the model sees it where it sees a peak's centre).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wtko_captum.core.errors import InputError
from wtko_captum.core.genome import open_genome
from wtko_captum.variants._vcf import Allele, Record, chrom_error, kind_of, normalise


def allele_offset(length: int, allele_len: int) -> int:
    """Window offset of an allele's first base: the allele is centred (``L//2 - len//2``)."""
    return length // 2 - allele_len // 2


@dataclass(frozen=True)
class CheckOptions:
    """What to do with alleles that cannot or should not be scored (see the ``variants`` verb)."""

    indels: str = "score"
    skip_ref_mismatch: bool = False
    skip_unknown_chroms: bool = False
    drop_edge: bool = False


class Windows:
    """Model windows of ``length`` bases around variants, from a genome (any format
    :func:`~wtko_captum.core.genome.open_genome` reads): N-padded fetches, REF checks and the
    reference and alternative windows.

    Sequences are returned uppercase (soft-masking is ignored, as one-hot encoding does).
    """

    def __init__(self, path, length: int):
        self.genome = open_genome(path)
        self.path, self.sizes = self.genome.path, self.genome.sizes
        self.length = int(length)

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Bases ``[start, end)`` of ``chrom``, ``N`` outside the chromosome."""
        size = self.sizes[chrom]
        a, b = max(start, 0), min(end, size)
        if b <= a:
            return "N" * (end - start)
        return "N" * (a - start) + self.genome.fetch(chrom, a, b).upper() + "N" * (end - b)

    # ---- checks -----------------------------------------------------------------------
    def check(self, record: Record, opts: CheckOptions, vcf_path) -> None:
        """Normalise and check every allele of ``record`` in place (sets ``start``, ``nref``,
        ``nalt``, ``kind`` or a ``skip`` reason).

        A REF that differs from the genome, or a chromosome the genome lacks, is an
        :class:`InputError` naming the record, unless the options skip them.
        """
        if record.chrom not in self.sizes:
            if not opts.skip_unknown_chroms:
                raise chrom_error(record.chrom, self.sizes, self.path, vcf_path, record.line)
            for a in record.alleles:
                a.skip = a.skip or "unknown_chrom"
            return
        ref = record.alleles[0].ref
        start = record.pos - 1
        found = self.fetch(record.chrom, start, start + len(ref))
        # an N on either side matches anything (VCF allows N for an unknown reference base)
        past_end = start + len(ref) > self.sizes[record.chrom]
        if past_end or any(x != y and x != "N" and y != "N" for x, y in zip(found, ref)):
            if not opts.skip_ref_mismatch:
                raise InputError(f"REF of record {record.chrom}:{record.pos} differs from the genome "
                                 f"{self.path}: the VCF has {_clip(ref)!r}, the genome {_clip(found)!r} "
                                 f"(is the VCF from another assembly? --skip-ref-mismatch scores the "
                                 f"rest and lists these in skipped.tsv)", path=vcf_path, line=record.line)
            for a in record.alleles:
                if a.skip is None:
                    a.skip, a.detail = "ref_mismatch", f"genome has {_clip(found)}"
            return
        for a in record.alleles:
            if a.skip is None:
                self._check_allele(a, start, opts)

    def _check_allele(self, a: Allele, start: int, opts: CheckOptions) -> None:
        chrom = a.chrom
        a.start, a.nref, a.nalt = normalise(start, a.ref, a.alt, lambda i: self.fetch(chrom, i, i + 1))
        a.kind = kind_of(a.nref, a.nalt)
        if not a.same_length and opts.indels == "skip":
            a.skip = "indel"
            return
        longest = max(len(a.nref), len(a.nalt))
        if longest > self.length // 2:
            a.skip, a.detail = "allele_too_long", f"{longest} bp, window {self.length} bp"
            return
        if opts.drop_edge and self.crosses_end(a):
            a.skip, a.detail = "window_past_chrom_end", f"chromosome size {self.sizes[chrom]}"

    def crosses_end(self, a: Allele) -> bool:
        """Whether the reference or alternative window reaches past a chromosome end."""
        L, r = self.length, len(a.nref)
        lo = min(allele_offset(L, r), allele_offset(L, len(a.nalt)))
        hi = max(L - allele_offset(L, r) - r, L - allele_offset(L, len(a.nalt)) - len(a.nalt))
        return a.start - lo < 0 or a.start + r + hi > self.sizes[a.chrom]

    # ---- windows ----------------------------------------------------------------------
    def ref_start(self, a: Allele) -> int:
        """Genome start (0-based) of the reference window of ``a``."""
        return a.start - allele_offset(self.length, len(a.nref))

    def ref_window(self, a: Allele) -> str:
        s = self.ref_start(a)
        return self.fetch(a.chrom, s, s + self.length)

    def alt_window(self, a: Allele, ref_window: str | None = None) -> str:
        """The alternative window; a substitution reuses ``ref_window`` when given."""
        L, r = self.length, len(a.nref)
        if a.same_length and ref_window is not None:
            o = allele_offset(L, r)
            return ref_window[:o] + a.nalt + ref_window[o + r:]
        lf = allele_offset(L, len(a.nalt))
        rf = L - lf - len(a.nalt)
        return (self.fetch(a.chrom, a.start - lf, a.start) + a.nalt
                + self.fetch(a.chrom, a.start + r, a.start + r + rf))


def alt_positions(a: Allele, length: int) -> np.ndarray:
    """Genome coordinate (0-based) of each base of the alternative window, -1 for inserted bases.

    Allele bases are paired with reference bases left to right (the first
    ``min(len(REF), len(ALT))``); the rest of a longer ALT is inserted.
    """
    p, r, k = a.start, len(a.nref), len(a.nalt)
    lf = allele_offset(length, k)
    j = np.arange(length)
    in_allele = np.where(j - lf < min(r, k), p + j - lf, -1)
    return np.where(j < lf, p - lf + j, np.where(j < lf + k, in_allele, p + r + (j - lf - k)))


def alt_in_ref_frame(a: Allele, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Where each base of the reference window is in the alternative window.

    Returns ``(src, deleted)``, both ``(L,)``: ``src[i]`` is the alternative window's position
    holding reference-window base ``i`` (genome base ``ref_start + i``), or -1 when there is
    none; ``deleted[i]`` is True for reference bases the variant removes. Inserted bases have
    no genome coordinate and appear nowhere.
    """
    L = length
    p, r, k = a.start, len(a.nref), len(a.nalt)
    ref0 = p - allele_offset(L, r)
    g = alt_positions(a, L)
    src = np.full(L, -1, dtype=np.int64)
    inside = (g >= ref0) & (g < ref0 + L)
    src[g[inside] - ref0] = np.flatnonzero(inside)
    i = np.arange(L)
    deleted = (ref0 + i >= p + min(r, k)) & (ref0 + i < p + r)
    return src, deleted


def _clip(s: str, n: int = 20) -> str:
    return s if len(s) <= n else s[:n] + "..."
