"""Genome facts: chromosome sizes and sequence, from whatever file a user has.

One interface, :class:`Genome` (``open_genome(path)``), over every genome format the field
ships, recognised by content (magic bytes), never by file name:

``FASTA``
    read with htslib's faidx (pysam) through its ``.fai`` index (built when missing).
``bgzip FASTA`` (``.fa.gz`` from ``bgzip``)
    read in place with its ``.fai`` and ``.gzi`` indexes (htslib; pyfaidx 0.9 misreads a
    window that starts exactly on a BGZF block boundary, about 1 in 20,000 random windows).
``gzip FASTA`` (plain ``gzip``, as UCSC distributes ``hg38.fa.gz``)
    cannot be read at random positions: it is decompressed once into the cache directory and
    read from there (the log says so; ``bgzip`` the file to skip the copy).
``2bit`` (UCSC ``.2bit``)
    read with py2bit.

Index files go next to the genome when its directory is writable, and otherwise into a cache
directory keyed by the genome's path, size and modification time (``$XDG_CACHE_HOME/wtko``,
else ``~/.cache/wtko``, else the system temp directory), so a genome on a read-only share works
without copying it.

Coordinates are 0-based half-open; sequences keep their case (soft-masking is harmless: one-hot
encoding ignores case) and ``N`` where the genome has no base.
"""
from __future__ import annotations

import gzip
import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

from wtko_captum.core.errors import InputError, near_miss

log = logging.getLogger("wtko_captum")

_TWOBIT_MAGIC = (b"\x43\x27\x41\x1a", b"\x1a\x41\x27\x43")  # little- and big-endian signatures
_GZIP_MAGIC = b"\x1f\x8b"


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
    with open(path, errors="replace") as fh:
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


def sniff_genome(path) -> str:
    """What a genome file is, from its first bytes: ``"2bit"``, ``"bgzip"`` (BGZF FASTA),
    ``"gzip"`` (plain gzip FASTA), ``"fasta"`` or ``"text"`` (anything else, e.g. chrom.sizes)."""
    with open(path, "rb") as fh:
        head = fh.read(18)
    if head[:4] in _TWOBIT_MAGIC:
        return "2bit"
    if head[:2] == _GZIP_MAGIC:
        # BGZF: FEXTRA flag set and an extra subfield 'BC' (SAM/BAM specification, section 4.1)
        return "bgzip" if len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC" else "gzip"
    if head.lstrip()[:1] == b">":
        return "fasta"
    return "text"


# ---------------------------------------------------------------- the cache for index files
def cache_dir(path) -> Path:
    """The cache directory for the derived files (index, decompressed copy) of genome ``path``:
    one folder per (absolute path, size, modification time), so an edited genome gets new ones."""
    path = Path(path).resolve()
    st = path.stat()
    key = hashlib.sha1(f"{path}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:16]
    roots = []
    if os.environ.get("XDG_CACHE_HOME"):
        roots.append(Path(os.environ["XDG_CACHE_HOME"]) / "wtko")
    roots += [Path.home() / ".cache" / "wtko", Path(tempfile.gettempdir()) / f"wtko-cache-{os.getuid()}"]
    for root in roots:
        folder = root / "genomes" / f"{path.name}-{key}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / f".probe-{os.getpid()}"
            probe.touch()
            probe.unlink()
            return folder
        except OSError:
            continue
    raise InputError("no writable cache directory for the genome's index (tried "
                     + ", ".join(str(r) for r in roots) + "); set XDG_CACHE_HOME to a writable folder", path=path)


def _fresh(index: Path, genome: Path) -> bool:
    return index.is_file() and index.stat().st_mtime >= genome.stat().st_mtime


def _writable_dir(folder: Path) -> bool:
    """Whether files can be created in ``folder`` (tried, since root ignores permission bits but
    not a read-only file system)."""
    probe = folder / f".wtko-probe-{os.getpid()}"
    try:
        probe.touch()
        probe.unlink()
        return True
    except OSError:
        return False


def _index_paths(path: Path, bgzip: bool) -> tuple[Path, Path | None]:
    """Where the ``.fai`` (and for bgzip the ``.gzi``) of ``path`` are read or built: next to the
    genome when they exist there or can be written there, else in :func:`cache_dir`."""
    fai = Path(f"{path}.fai")
    gzi = Path(f"{path}.gzi") if bgzip else None
    if _fresh(fai, path) and (gzi is None or _fresh(gzi, path)):
        return fai, gzi
    if _writable_dir(path.parent):
        return fai, gzi
    folder = cache_dir(path)
    log.info("%s: its directory is not writable; its index is kept in %s", path, folder)
    return folder / fai.name, (folder / gzi.name if gzi else None)


def _decompressed(path: Path) -> Path:
    """A plain copy of gzip FASTA ``path`` in the cache (made once, atomically)."""
    folder = cache_dir(path)
    target = folder / (path.name[:-3] if path.name.endswith(".gz") else path.name + ".fa")
    if target.is_file():
        return target
    log.warning("%s is gzip, not bgzip: decompressing it once into %s (bgzip the file to read it in place)",
                path, target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        with gzip.open(path, "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 22)
        os.replace(tmp, target)
    except (OSError, EOFError) as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"cannot decompress the genome: {exc}", path=path) from None
    return target


def _index_fasta(path: Path, bgzip: bool):
    """A :class:`pysam.FastaFile` for plain or bgzip FASTA ``path``, its index built (or rebuilt
    when older than the file) where :func:`_index_paths` says."""
    import pysam

    fai, gzi = _index_paths(path, bgzip)
    try:
        if not (_fresh(fai, path) and (gzi is None or _fresh(gzi, path))):
            pysam.faidx(str(path), "--fai-idx", str(fai), *(("--gzi-idx", str(gzi)) if gzi else ()))
        return pysam.FastaFile(str(path), filepath_index=str(fai),
                               filepath_index_compressed=str(gzi) if gzi else None)
    except (OSError, ValueError, pysam.utils.SamtoolsError) as exc:  # htslib's messages for malformed files
        text = str(exc).strip().splitlines()
        raise InputError(f"cannot index FASTA: {text[-1] if text else type(exc).__name__}", path=path) from None


class Genome:
    """Chromosome sizes and sequence of a genome file, whatever its format.

    ``sizes``: ``{chrom: length}`` in file order. ``fetch(chrom, start, end)``: the bases of the
    0-based half-open interval, case kept, ``N`` where the genome has none; the interval must
    lie inside the chromosome. ``kind``: ``fasta``, ``bgzip``, ``gzip`` or ``2bit``.
    """

    def __init__(self, path, kind: str, sizes: dict[str, int], reader):
        self.path, self.kind, self.sizes, self._reader = Path(path), kind, sizes, reader

    def __contains__(self, chrom) -> bool:
        return chrom in self.sizes

    def keys(self):
        return self.sizes.keys()

    def fetch(self, chrom: str, start: int, end: int) -> str:
        if chrom not in self.sizes:
            raise InputError(f"chromosome not in the genome{near_miss(chrom, self.sizes)}", path=self.path,
                             value=chrom)
        if not 0 <= start <= end <= self.sizes[chrom]:
            raise InputError(f"interval outside the chromosome (size {self.sizes[chrom]})", path=self.path,
                             value=f"{chrom}:{start}-{end}")
        if end <= start:
            return ""
        if self.kind == "2bit":
            return self._reader.sequence(chrom, int(start), int(end))
        return self._reader.fetch(chrom, int(start), int(end))

    def __repr__(self) -> str:
        return f"Genome({str(self.path)!r}, {self.kind}, {len(self.sizes)} sequences)"


def open_genome(path) -> Genome:
    """Open a FASTA (plain, bgzip or gzip) or ``.2bit`` genome; see the module docstring."""
    path = Path(path)
    if not path.is_file():
        raise InputError("genome file not found", path=path)
    kind = sniff_genome(path)
    if kind == "2bit":
        import py2bit

        try:
            reader = py2bit.open(str(path), True)  # True: keep soft-masking as lower case
        except Exception as exc:  # py2bit raises RuntimeError for malformed files
            raise InputError(f"cannot read the .2bit genome: {exc}", path=path) from None
        return Genome(path, kind, dict(reader.chroms()), reader)
    if kind == "text":
        raise InputError("not a genome: expected a FASTA (plain, gzip or bgzip) or a .2bit file", path=path)
    fasta = _index_fasta(_decompressed(path) if kind == "gzip" else path, bgzip=kind == "bgzip")
    return Genome(path, kind, dict(zip(fasta.references, fasta.lengths)), fasta)


def chrom_sizes(path) -> dict[str, int]:
    """Chromosome sizes from a chrom.sizes file, a FASTA (any compression) or a ``.2bit``
    genome, told apart by content."""
    path = Path(path)
    if not path.is_file():
        raise InputError("chromosome sizes or genome file not found", path=path)
    if sniff_genome(path) == "text":
        return read_chrom_sizes(path)
    return open_genome(path).sizes
