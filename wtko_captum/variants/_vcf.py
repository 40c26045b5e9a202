"""Reading a VCF with pysam: records streamed in order, split into one :class:`Allele` per ALT,
normalised against the genome and checked.

Coordinates: ``Allele.pos`` is the VCF's 1-based POS as written; ``Allele.start`` is the
0-based start of the normalised (left-aligned, parsimonious) allele pair, so the reference
allele covers genome bases ``[start, start + len(nref))``.
"""
from __future__ import annotations

import contextlib
import gzip
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from wtko_captum.core.errors import InputError, near_miss

ACGTN = frozenset("ACGTN")
_BREAKEND = re.compile(r"[\[\]]|^\.[ACGTN]+$|^[ACGTN]+\.$", re.IGNORECASE)

#: why an allele was not scored (a token: it goes into the VCF INFO and skipped.tsv)
SKIP_REASONS = {
    "no_alt": "the record has no ALT allele ('.')",
    "symbolic_allele": "symbolic ALT (<DEL>, <INS>, <*> ...): no sequence to score",
    "breakend": "breakend ALT (a structural variant's junction): no sequence to score",
    "spanning_deletion": "'*' ALT: the allele is a deletion spanning this position, scored at its own record",
    "invalid_allele": "ALT has letters other than A, C, G, T, N",
    "alt_equals_ref": "ALT equals REF: nothing changes",
    "indel": "insertion, deletion or complex length change, not scored (--indels skip)",
    "allele_too_long": "the REF or ALT allele is longer than half the model's window",
    "window_past_chrom_end": "the window crosses a chromosome end (--drop-edge)",
    "ref_mismatch": "REF differs from the genome (--skip-ref-mismatch)",
    "unknown_chrom": "chromosome not in the genome (--skip-unknown-chroms)",
}


@dataclass
class Allele:
    """One ALT allele of one VCF record.

    ``record``: 0-based index of the record among those read; ``allele``: 1-based ALT index.
    ``start``/``nref``/``nalt``: the normalised pair (0-based start, uppercase), ``kind`` one
    of ``snv``, ``mnv``, ``insertion``, ``deletion``, ``complex``. ``skip`` is a reason token
    of :data:`SKIP_REASONS` when the allele is not scored.
    """

    record: int
    line: int | None
    chrom: str
    pos: int
    id: str
    ref: str
    alt: str
    allele: int
    start: int = -1
    nref: str = ""
    nalt: str = ""
    kind: str = ""
    skip: str | None = None
    detail: str = ""

    @property
    def label(self) -> str:
        """``ID`` when the record has one, else ``chrom:pos:REF>ALT`` (alleles shortened)."""
        if self.id and self.id != ".":
            return self.id if self.allele == 1 else f"{self.id}/{self.allele}"
        return f"{self.chrom}:{self.pos}:{_short(self.ref)}>{_short(self.alt)}"

    @property
    def same_length(self) -> bool:
        return len(self.nref) == len(self.nalt)


@dataclass
class Record:
    """One VCF record: its text line (no newline), where it came from, and its alleles."""

    index: int
    line: int | None
    text: str
    chrom: str
    pos: int
    alleles: list[Allele] = field(default_factory=list)


def _short(s: str, n: int = 12) -> str:
    return s if len(s) <= n else f"{s[:n - 3]}..{len(s)}bp"


def parse_region(text: str) -> tuple[str, int | None, int | None]:
    """``chrom`` or ``chrom:start-end`` (0-based half-open, like BED; commas allowed)."""
    m = re.fullmatch(r"\s*([^:\s]+)(?::([\d,_]+)-([\d,_]+))?\s*", str(text))
    if not m:
        raise InputError("--region must be chrom or chrom:start-end (0-based half-open, like BED)", value=text)
    if m.group(2) is None:
        return m.group(1), None, None
    start, end = (int(re.sub(r"[,_]", "", g)) for g in m.group(2, 3))
    if end <= start:
        raise InputError("--region end must be larger than its start", value=text)
    return m.group(1), start, end


@contextlib.contextmanager
def _quiet_htslib():
    """htslib prints warnings to stderr on its own; we report problems as one-line errors."""
    import pysam

    old = pysam.set_verbosity(0)
    try:
        yield
    finally:
        pysam.set_verbosity(old)


def _open_text(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rt", errors="replace") if magic == b"\x1f\x8b" else open(path, errors="replace")


def header_lines(path: Path) -> list[str]:
    """The header lines of the file as written (``##`` meta lines and the ``#CHROM`` line)."""
    lines = []
    with _open_text(path) as fh:
        for line in fh:
            if not line.startswith("#"):
                break
            lines.append(line.rstrip("\n"))
    return lines


class VcfReader:
    """Records of a VCF (plain or bgzipped, indexed or not), optionally inside a region.

    ``region``: ``(chrom, start, end)`` 0-based half-open, ``start``/``end`` None for the
    whole chromosome. A record belongs to the region when its POS (0-based ``POS - 1``) lies
    inside; with a tabix/CSI index only that part of the file is read, otherwise every record
    is read and filtered.
    """

    def __init__(self, path, region: tuple[str, int | None, int | None] | None = None):
        import pysam

        self.path = Path(path)
        if not self.path.is_file():
            raise InputError("VCF not found", path=self.path)
        self.region = region
        with _quiet_htslib():
            try:
                vf = pysam.VariantFile(str(self.path))
            except NotImplementedError:  # htslib reads gzip only in BGZF blocks
                raise InputError("the VCF is compressed with plain gzip, not bgzip: recompress it "
                                 "(zcat calls.vcf.gz | bgzip > calls.bgz.vcf.gz) or give it uncompressed",
                                 path=self.path) from None
            except (ValueError, OSError) as exc:
                raise InputError(f"not a VCF file (no readable ##fileformat/#CHROM header): "
                                 f"{str(exc).splitlines()[0]}", path=self.path) from None
        self.header_text = str(vf.header)
        self.contigs = list(vf.header.contigs)
        self.indexed = vf.index is not None
        vf.close()
        self.n_header = len(header_lines(self.path))
        if not self.header_text.rstrip("\n").split("\n")[-1].startswith("#CHROM"):
            raise InputError("not a VCF file: no #CHROM header line", path=self.path)

    def records(self) -> Iterator[tuple[int, int | None, object]]:
        """``(index, line, pysam.VariantRecord)`` in file order.

        ``line`` is the 1-based line number in the file when the whole file is read (None when
        an index jumps to a region). A record htslib cannot parse is an :class:`InputError`
        naming its line (or the record before it).
        """
        import pysam

        with _quiet_htslib():
            vf = pysam.VariantFile(str(self.path))
            try:
                sequential = self.region is None or not self.indexed
                if sequential:
                    it = iter(vf)
                else:
                    chrom, start, end = self.region
                    try:
                        it = vf.fetch(chrom, start, end)
                    except ValueError:  # a chromosome the index does not know: no records there
                        return
                index, last = 0, None
                n_read = 0
                while True:
                    try:
                        rec = next(it)
                    except StopIteration:
                        return
                    except (ValueError, OSError) as exc:
                        line = self.n_header + n_read + 1 if sequential else None
                        after = f" (the record after {last})" if last else ""
                        raise InputError(f"malformed VCF record{after}: htslib cannot parse it "
                                         f"({str(exc).splitlines()[0] or type(exc).__name__})",
                                         path=self.path, line=line) from None
                    n_read += 1
                    last = f"{rec.chrom}:{rec.pos}"
                    if self.region is not None and not _in_region(rec, self.region):
                        continue
                    yield index, (self.n_header + n_read if sequential else None), rec
                    index += 1
            finally:
                vf.close()


def _in_region(rec, region) -> bool:
    chrom, start, end = region
    if rec.chrom != chrom:
        return False
    return start is None or start <= rec.start < end


# ---------------------------------------------------------------------------- alleles

def split_record(index: int, line: int | None, rec, path=None) -> Record:
    """The :class:`Record` of a pysam record, one :class:`Allele` per ALT (not yet checked).

    Structural checks a parser lets through (POS < 1, an empty REF) are errors here, naming
    ``path`` and ``line``.
    """
    where = f"{rec.chrom}:{rec.pos}"
    ref = (rec.ref or "").upper()
    if rec.pos < 1:
        raise InputError(f"malformed VCF record {where}: POS must be >= 1", path=path, line=line, value=rec.pos)
    if not ref or ref == ".":
        raise InputError(f"malformed VCF record {where}: REF is empty", path=path, line=line)
    out = Record(index, line, str(rec).rstrip("\n"), rec.chrom, rec.pos)
    rid = rec.id or "."
    alts = rec.alts or ()
    if not alts:
        out.alleles.append(Allele(index, line, rec.chrom, rec.pos, rid, ref, ".", 0, skip="no_alt"))
    for k, alt in enumerate(alts, 1):
        a = Allele(index, line, rec.chrom, rec.pos, rid, ref, alt, k)
        up = alt.upper()
        if up == "*":
            a.skip = "spanning_deletion"
        elif up.startswith("<") and up.endswith(">"):
            a.skip, a.detail = "symbolic_allele", alt
        elif _BREAKEND.search(up):
            a.skip, a.detail = "breakend", alt
        elif not set(up) <= ACGTN or not set(ref) <= ACGTN:
            a.skip, a.detail = "invalid_allele", alt if not set(up) <= ACGTN else f"REF {ref}"
        elif up == ref:
            a.skip = "alt_equals_ref"
        out.alleles.append(a)
    return out


def normalise(start: int, ref: str, alt: str, base_before) -> tuple[int, str, str]:
    """Left-align and trim an allele pair (the vt/bcftools-norm algorithm).

    ``start`` is the 0-based start of ``ref``; ``base_before(i)`` returns genome base ``i``
    (uppercase). Repeat: drop a common last base; when an allele becomes empty, extend both
    one base to the left. Then drop common first bases while both keep at least one. The
    result is the leftmost, shortest representation (with one anchor base for a pure
    insertion or deletion), e.g. deleting one ``A`` of ``CAAAT`` is ``CA > C`` at the ``C``.
    """
    ref, alt = ref.upper(), alt.upper()
    while True:
        changed = False
        if ref and alt and ref[-1] == alt[-1] and not (len(ref) == 1 and len(alt) == 1):
            ref, alt = ref[:-1], alt[:-1]
            changed = True
        if (not ref or not alt) and start > 0:
            start -= 1
            b = base_before(start)
            ref, alt = b + ref, b + alt
            changed = True
        if not changed:
            break
    while len(ref) >= 2 and len(alt) >= 2 and ref[0] == alt[0]:
        ref, alt = ref[1:], alt[1:]
        start += 1
    return start, ref, alt


def kind_of(ref: str, alt: str) -> str:
    """``snv``, ``mnv``, ``insertion``, ``deletion`` or ``complex`` for a normalised pair."""
    if len(ref) == len(alt):
        return "snv" if len(ref) == 1 else "mnv"
    if len(ref) == 1 and alt[0] == ref[0]:
        return "insertion"
    if len(alt) == 1 and ref[0] == alt[0]:
        return "deletion"
    return "complex"


def chrom_error(chrom: str, sizes: dict, genome, path, line) -> InputError:
    """The error for a record on a chromosome the genome lacks, with the chr-prefix fix when
    that is the problem."""
    hint = near_miss(chrom, sizes)
    if f"chr{chrom}" in sizes or (chrom.startswith("chr") and chrom[3:] in sizes):
        other = f"chr{chrom}" if f"chr{chrom}" in sizes else chrom[3:]
        fix = ("add the 'chr' prefix to the VCF's chromosomes" if other.startswith("chr")
               else "remove the 'chr' prefix from the VCF's chromosomes")
        hint = (f": the genome calls it {other!r}, so the VCF and the genome name chromosomes differently; "
                f"{fix} (e.g. bcftools annotate --rename-chrs) or use a genome named like the VCF")
    else:
        hint += " (--skip-unknown-chroms scores the rest and lists these in skipped.tsv)"
    return InputError(f"chromosome {chrom!r} is not in the genome {genome}{hint}", path=path, line=line)
