"""Write a UCSC .2bit file from sequences (for tests: no 2bit file of our genome region exists).

The layout follows the UCSC specification (https://genome.ucsc.edu/FAQ/FAQformat.html#format7):
a header (signature 0x1A412743, version 0, sequence count, reserved), an index of
(name, offset) pairs, then per sequence its length, N blocks, lower-case (soft-mask) blocks,
a reserved word and the bases packed 2 bits each (T=0, C=1, A=2, G=3, first base in the high
bits). The reader under test (py2bit) is independent of this writer.
"""
from __future__ import annotations

import re
import struct
from pathlib import Path

_CODE = {"T": 0, "C": 1, "A": 2, "G": 3}


def _blocks(seq: str, pattern: str) -> tuple[list[int], list[int]]:
    starts, sizes = [], []
    for m in re.finditer(pattern, seq):
        starts.append(m.start())
        sizes.append(m.end() - m.start())
    return starts, sizes


def _record(seq: str) -> bytes:
    n_starts, n_sizes = _blocks(seq, "[Nn]+")
    m_starts, m_sizes = _blocks(seq, "[a-z]+")
    out = [struct.pack("<I", len(seq)), struct.pack("<I", len(n_starts))]
    out += [struct.pack(f"<{len(n_starts)}I", *n_starts), struct.pack(f"<{len(n_sizes)}I", *n_sizes)]
    out += [struct.pack("<I", len(m_starts)), struct.pack(f"<{len(m_starts)}I", *m_starts),
            struct.pack(f"<{len(m_sizes)}I", *m_sizes), struct.pack("<I", 0)]
    upper = seq.upper()
    packed = bytearray()
    for i in range(0, len(upper), 4):
        chunk = upper[i:i + 4].ljust(4, "T")
        byte = 0
        for base in chunk:
            byte = (byte << 2) | _CODE.get(base, 0)  # N is stored as T and masked by its N block
        packed.append(byte)
    out.append(bytes(packed))
    return b"".join(out)


def write_2bit(path, sequences: dict[str, str]) -> Path:
    """Write ``{name: sequence}`` (case = soft-masking, N = unknown) as a .2bit file."""
    names = list(sequences)
    header = struct.pack("<IIII", 0x1A412743, 0, len(names), 0)
    index_size = sum(1 + len(n.encode()) + 4 for n in names)
    records = [_record(sequences[n]) for n in names]
    offset = len(header) + index_size
    index = b""
    for name, rec in zip(names, records):
        index += struct.pack("<B", len(name.encode())) + name.encode() + struct.pack("<I", offset)
        offset += len(rec)
    Path(path).write_bytes(header + index + b"".join(records))
    return Path(path)
