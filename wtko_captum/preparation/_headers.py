"""FASTA header forms that carry genome coordinates, and what a header tells about its sequence.

Recognised forms (first whitespace-separated token of the header):

==============================  =====================================  ===========================
form                            example                                written by
==============================  =====================================  ===========================
``chrom:start-end``             ``chr10:22605206-22605441``            bedtools getfasta, samtools
``chrom:start-end(strand)``     ``chr1:100-300(-)``                    bedtools getfasta -s
``name::chrom:start-end``       ``peak7::chr1:100-300`` (strand too)   bedtools getfasta -name
``chrom_start_end[_suffix]``    ``chr10_100160295_100160495_BALBC_1``  many pipelines' peak names
==============================  =====================================  ===========================

The interval's convention follows from the sequence length: ``end - start == len`` is 0-based
half-open (bedtools), ``end - start + 1 == len`` is 1-based inclusive (samtools, UCSC). An
interval of another length cannot place the bases (sequences taken from another strain's
genome carry indels), so the record keeps its chromosome (for chromosome splits) but no
positions. On the ``-`` strand the sequence is the reverse complement of the interval.

The ``chrom_start_end`` form is ambiguous with plain names (``seq_1_2``): it is taken as
coordinates when the interval length fits the sequence, or when the chromosome is named
``chr...``; otherwise the header is a plain name.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

FORMS = {
    "colon": "chrom:start-end",
    "colon_strand": "chrom:start-end(strand)",
    "bedtools_name": "name::chrom:start-end",
    "underscore": "chrom_start_end[_suffix]",
    "none": "no coordinates (a plain name)",
}

_COLON = re.compile(r"^(?:(?P<name>.+?)::)?(?P<chrom>[^\s:]+):(?P<start>[\d,]+)-(?P<end>[\d,]+)"
                    r"(?:\((?P<strand>[+\-.])\))?$")
# chrom may itself hold underscores (chrUn_GL000220v1): the first _digits_digits pair ends it
_UNDERSCORE = re.compile(r"^(?P<chrom>.+?)_(?P<start>\d+)_(?P<end>\d+)(?:_(?P<suffix>.*))?$")


@dataclass(frozen=True)
class Header:
    """What one FASTA header says about its sequence.

    name: the first token of the header (the record's name). form: a key of :data:`FORMS`.
    chrom: the chromosome, or None for a plain name. start, end: the 0-based half-open genome
    interval, or None when the header has none or its length disagrees with the sequence
    (``mismatch`` is then True). strand: ``+``, ``-`` or ``.``. one_based: the header was
    written 1-based inclusive.
    """

    name: str
    form: str
    chrom: str | None = None
    start: int | None = None
    end: int | None = None
    strand: str = "+"
    one_based: bool = False
    mismatch: bool = False
    written: str = ""  # the interval as written, for messages
    span: int = 0  # end - start as written

    @property
    def has_coords(self) -> bool:
        return self.start is not None


def place_interval(start: int, end: int, length: int) -> tuple[int, int, bool] | None:
    """``(start0, end0, one_based)`` for an interval as written, or None when its length does
    not fit a sequence of ``length``."""
    if end - start == length:
        return start, end, False
    if end - start + 1 == length and start >= 1:
        return start - 1, end, True
    return None


def parse_header(header: str, length: int) -> Header:
    """Read a FASTA header (without '>') of a sequence of ``length`` bases; never raises."""
    token = header.split()[0] if header.split() else ""
    m = _COLON.match(token)
    if m:
        form = "bedtools_name" if m["name"] else "colon_strand" if m["strand"] else "colon"
    else:
        m = _UNDERSCORE.match(token)
        form = "underscore" if m else "none"
    if m is None:
        return Header(token, "none")
    start, end = int(m["start"].replace(",", "")), int(m["end"].replace(",", ""))
    chrom = m["chrom"]
    strand = (m.groupdict().get("strand") or "+").replace(".", "+")
    if start >= end:
        return Header(token, "none")
    placed = place_interval(start, end, length)
    if form == "underscore" and placed is None and not chrom.lower().startswith("chr"):
        return Header(token, "none")  # seq_1_2: a name that happens to hold numbers
    written = f"{chrom}:{start}-{end}"
    if placed is None:
        return Header(token, form, chrom, strand=strand, mismatch=True, written=written, span=end - start)
    s0, e0, one_based = placed
    return Header(token, form, chrom, s0, e0, strand, one_based, written=written, span=end - start)
