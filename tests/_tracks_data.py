"""A small synthetic genome with attribution bigWigs written directly with pyBigWig (shared by
tests/test_tracks_*.py): known values at known 0-based positions, gaps where N, two windows."""
from __future__ import annotations

from pathlib import Path

import numpy as np

CHROM = "chrS"
CHROM_LEN = 6000
# two attribution windows (0-based half-open); the second scores higher
WINDOWS = [(1000, 1600, "winA", 1), (3000, 3600, "winB", 0)]
N_GAP = (1100, 1110)  # N bases in the genome: no value in any track


def make_genome(path: Path, seed: int = 0) -> str:
    import pyfaidx

    rng = np.random.default_rng(seed)
    seq = np.array(list("ACGT"))[rng.integers(0, 4, CHROM_LEN)]
    seq[N_GAP[0]:N_GAP[1]] = "N"
    text = "".join(seq)
    path.write_text(f">{CHROM}\n" + "\n".join(text[i:i + 60] for i in range(0, CHROM_LEN, 60)) + "\n")
    pyfaidx.Fasta(str(path))  # writes the .fai IGV needs
    return text


def _write_bw(path: Path, values: dict[int, np.ndarray]) -> None:
    """values: window start -> per-base values (NaN = gap)."""
    import pyBigWig

    bw = pyBigWig.open(str(path), "w")
    bw.addHeader([(CHROM, CHROM_LEN)])
    for start in sorted(values):
        v = values[start]
        ok = np.isfinite(v)
        # one addEntries call per run of finite values (gaps are simply not written)
        edges = np.flatnonzero(np.diff(np.r_[0, ok.astype(int), 0]))
        for a, b in zip(edges[::2], edges[1::2]):
            bw.addEntries(CHROM, int(start + a), values=[float(x) for x in v[a:b]], span=1, step=1)
    bw.close()


def projected_values() -> dict[int, np.ndarray]:
    out = {}
    for k, (s, e, _, _) in enumerate(WINDOWS):
        x = np.arange(s, e)
        v = (1.0 + k) * np.sin((x - s) / 9.0) * np.exp(-(((x - s) - 300) / 90.0) ** 2)
        v[(x >= N_GAP[0]) & (x < N_GAP[1])] = np.nan
        out[s] = v.astype(np.float32)
    return out


def make_track_dir(root: Path, prefix: str = "saliency") -> dict:
    """tracks/ with <prefix>.projected/.maxabs/.hypothetical_{A..T}.bw (the `wtko export` names),
    a seqlets BED (3 clusters), plus a genome FASTA and a regions.bed with WT/KO labels."""
    root = Path(root)
    tracks = root / "tracks"
    tracks.mkdir(parents=True, exist_ok=True)
    seq = make_genome(root / "genome.fa")
    proj = projected_values()
    _write_bw(tracks / f"{prefix}.projected.bw", proj)
    _write_bw(tracks / f"{prefix}.maxabs.bw", {s: np.abs(v) * 1.5 for s, v in proj.items()})
    for i, b in enumerate("ACGT"):
        _write_bw(tracks / f"{prefix}.hypothetical_{b}.bw", {s: v * (0.4 + 0.2 * i) for s, v in proj.items()})
    (tracks / "seqlets.bed").write_text(
        f"{CHROM}\t1280\t1292\tpattern_0\t4.5\t+\n{CHROM}\t1300\t1311\tpattern_1\t2.0\t-\n"
        f"{CHROM}\t3290\t3302\tpattern_0\t3.1\t+\n{CHROM}\t3350\t3360\tpattern_2\t1.2\t+\n")
    regions = root / "regions.bed"
    regions.write_text("#chrom\tstart\tend\tname\tscore\tstrand\tlabel\tprediction\n" + "".join(
        f"{CHROM}\t{s}\t{e}\t{n}\t0\t+\t{lab}\t0.5\n" for s, e, n, lab in WINDOWS))
    return {"root": root, "tracks": tracks, "genome": root / "genome.fa", "regions": regions,
            "seq": seq, "projected": proj, "prefix": prefix}


def png_pixels(path) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB of a PNG (via matplotlib, no extra dependency)."""
    import matplotlib.image as mpimg

    img = mpimg.imread(str(path))
    if img.dtype != np.uint8:
        img = (img[..., :3] * 255).round().astype(np.uint8)
    return img[..., :3]


def count_colour(img: np.ndarray, hex_color: str, tol: int = 12) -> int:
    rgb = np.array([int(hex_color[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(img.astype(int) - rgb).max(axis=-1) <= tol).sum())
