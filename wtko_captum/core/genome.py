"""Genome facts: chromosome sizes (chrom.sizes or a FASTA index) and the FASTA itself."""
from __future__ import annotations

from pathlib import Path

from wtko_captum.core.errors import InputError


def read_chrom_sizes(path) -> dict[str, int]:
    """``{chrom: size}`` from a UCSC chrom.sizes file.

    Tolerates stray spaces, tabs, blank lines and '#' comments (real files have them). A line
    that is not ``name size`` with a positive integer size is an :class:`InputError` naming
    the line.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("chromosome sizes file not found", path=path)
    sizes: dict[str, int] = {}
    with open(path) as fh:
        for lineno, line in enumerate(fh, 1):
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            if len(fields) < 2:
                raise InputError("expected 'chrom size'", path=path, line=lineno, value=line.strip())
            try:
                size = int(fields[1])
            except ValueError:
                raise InputError("chromosome size is not an integer", path=path, line=lineno, value=fields[1]) from None
            if size <= 0:
                raise InputError("chromosome size must be positive", path=path, line=lineno, value=fields[1])
            sizes[fields[0]] = size
    if not sizes:
        raise InputError("no chromosome sizes found", path=path)
    return sizes


def open_fasta(path):
    """A :class:`pyfaidx.Fasta` for ``path``, building the ``.fai`` index when missing.

    Sequences keep their case (soft-masking is harmless: one-hot encoding ignores case).
    """
    import pyfaidx

    path = Path(path)
    if not path.is_file():
        raise InputError("genome FASTA not found", path=path)
    try:
        return pyfaidx.Fasta(str(path), as_raw=True, sequence_always_upper=False, rebuild=False,
                             build_index=True, read_long_names=False)
    except Exception as exc:  # pyfaidx raises several types for malformed files
        raise InputError(f"cannot index FASTA: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", path=path) from None


def chrom_sizes(path) -> dict[str, int]:
    """Chromosome sizes from a chrom.sizes file, or from a FASTA (via its index)."""
    path = Path(path)
    suffixes = "".join(path.suffixes).lower()
    if any(s in suffixes for s in (".fa", ".fasta", ".fna")):
        fasta = open_fasta(path)
        return {name: len(fasta[name]) for name in fasta.keys()}
    return read_chrom_sizes(path)
