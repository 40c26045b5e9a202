"""The files ``wtko variants`` streams its results into: ``scores.tsv``, ``skipped.tsv`` and
``annotated.vcf.gz`` (bgzipped, tabix-indexed, every input record kept, INFO fields added).
Also the two summaries kept in flat memory while streaming: the histogram of Δ and the
top variants by |Δ|."""
from __future__ import annotations

import heapq
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from wtko_captum.variants._effects import Target, safe_name
from wtko_captum.variants._vcf import SKIP_REASONS, Allele, Record

log = logging.getLogger("wtko_captum.variants")

ALLELE_COLUMNS = ["chrom", "pos", "id", "ref", "alt", "allele", "kind", "norm_start", "norm_ref", "norm_alt",
                  "window_start", "padded"]
EFFECT_COLUMNS = ["target", "out_ref", "out_alt", "delta_out", "p_ref", "p_alt", "delta", "logodds_delta",
                  "abs_delta", "band"]
SKIPPED_COLUMNS = ["chrom", "pos", "id", "ref", "alt", "allele", "line", "reason", "detail"]
INFO_PREFIX = "WTKO_"


def score_columns(class_names) -> list[str]:
    per_class = [f"{w}_{safe_name(c)}" for c in class_names for w in ("p_ref", "p_alt", "delta")]
    return ALLELE_COLUMNS + EFFECT_COLUMNS + per_class


class TableWriter:
    """A TSV written chunk by chunk (header first), floats with 6 significant digits."""

    def __init__(self, path: Path, columns: list[str]):
        self.path, self.columns, self.rows = Path(path), list(columns), 0
        self.fh = open(self.path, "w")
        self.fh.write("\t".join(self.columns) + "\n")

    def write(self, df: pd.DataFrame) -> None:
        if len(df):
            df[self.columns].to_csv(self.fh, sep="\t", header=False, index=False, float_format="%.6g",
                                    lineterminator="\n")
            self.rows += len(df)

    def close(self) -> None:
        self.fh.close()


def allele_rows(alleles: list[Allele], window_start: list[int], padded: list[bool]) -> pd.DataFrame:
    return pd.DataFrame({
        "chrom": [a.chrom for a in alleles], "pos": [a.pos for a in alleles], "id": [a.id for a in alleles],
        "ref": [a.ref for a in alleles], "alt": [a.alt for a in alleles], "allele": [a.allele for a in alleles],
        "kind": [a.kind for a in alleles], "norm_start": [a.start for a in alleles],
        "norm_ref": [a.nref for a in alleles], "norm_alt": [a.nalt for a in alleles],
        "window_start": window_start, "padded": np.where(padded, "yes", "no"),
    })


def skipped_rows(alleles: list[Allele]) -> pd.DataFrame:
    return pd.DataFrame({
        "chrom": [a.chrom for a in alleles], "pos": [a.pos for a in alleles], "id": [a.id for a in alleles],
        "ref": [a.ref for a in alleles], "alt": [a.alt for a in alleles], "allele": [a.allele for a in alleles],
        "line": [a.line if a.line is not None else "." for a in alleles],
        "reason": [a.skip for a in alleles],
        "detail": [a.detail or SKIP_REASONS.get(a.skip, "") for a in alleles],
    }, columns=SKIPPED_COLUMNS)


class AnnotatedVcf:
    """The input VCF with per-allele INFO fields, bgzipped; tabix-indexed on close when the
    records are sorted.

    Every record read is written, in input order, as htslib formats it. Fields (all
    ``Number=A``, one value per ALT, ``.`` where an allele was not scored):
    ``WTKO_DELTA``, ``WTKO_LOGODDS``, ``WTKO_BAND``, ``WTKO_PREF``, ``WTKO_PALT``,
    ``WTKO_DOUT``, ``WTKO_D_<class>`` and ``WTKO_SKIP`` (a reason, ``.`` when scored);
    ``WTKO_TARGET`` with ``--target pred``. Fields of an earlier annotation are replaced.
    """

    def __init__(self, path: Path, header_text: str, target: Target, meta: str):
        import pysam

        self.path = Path(path)
        self.fields = self._fields(target)
        lines = [ln for ln in header_text.rstrip("\n").split("\n")
                 if not (ln.startswith("##INFO=<ID=" + INFO_PREFIX) or ln.startswith("##wtko_variants="))]
        extra = [f'##INFO=<ID={k},Number=A,Type={t},Description="{d}">' for k, t, d in self.fields]
        extra.append(f"##wtko_variants=<{meta}>")
        text = "\n".join(lines[:-1] + extra + lines[-1:]) + "\n"
        self.fh = pysam.BGZFile(str(self.path), "wb")
        self.fh.write(text.encode())
        self.sorted, self._last, self._seen = True, None, set()
        self.n = 0

    @staticmethod
    def _fields(target: Target) -> list[tuple[str, str, str]]:
        what = ("the predicted class of the reference window" if target.kind == "pred"
                else f"class {target.class_names[target.index]}")
        f = [("DELTA", "Float", f"Variant effect: P(alt) - P(ref) of {what} (model probability)"),
             ("LOGODDS", "Float", f"log-odds(alt) - log-odds(ref) of {what}"),
             ("BAND", "String", "|DELTA| band: strong, moderate or weak"),
             ("PREF", "Float", f"P of {what} on the reference window"),
             ("PALT", "Float", f"P of {what} on the alternative window"),
             ("DOUT", "Float", f"Change of the target output (logit{' difference' if target.kind == 'diff' else ''}) "
                               f"{target.label}")]
        f += [(f"D_{safe_name(c)}", "Float", f"P(alt) - P(ref) of class {c}") for c in target.class_names]
        if target.kind == "pred":
            f.append(("TARGET", "String", "the class DELTA refers to (predicted on the reference window)"))
        f.append(("SKIP", "String", "why an allele was not scored; . when it was"))
        return [(INFO_PREFIX + k, t, d) for k, t, d in f]

    def write(self, record: Record, rows: dict[int, int], info: dict[str, list[str]]) -> None:
        """Write ``record``; ``rows[allele]`` is the row of a scored allele in the chunk's
        ``info`` columns (see :func:`info_columns`)."""
        cols = record.text.split("\t")
        if len(cols) >= 8 and any(a.allele > 0 for a in record.alleles):
            kept = [kv for kv in cols[7].split(";") if kv and kv != "." and not kv.startswith(INFO_PREFIX)]
            for key, _, _ in self.fields:
                if key == INFO_PREFIX + "SKIP":
                    vals = [a.skip or "." for a in record.alleles]
                else:
                    column = info[key] if info else ()
                    vals = [column[rows[a.allele]] if a.allele in rows else "." for a in record.alleles]
                if any(v != "." for v in vals):
                    kept.append(f"{key}={','.join(vals)}")
            cols[7] = ";".join(kept) or "."
        self.fh.write(("\t".join(cols) + "\n").encode())
        self._track_order(record)
        self.n += 1

    def _track_order(self, record: Record) -> None:
        if self._last is not None and record.chrom != self._last[0]:
            self._seen.add(self._last[0])
            if record.chrom in self._seen:
                self.sorted = False
        elif self._last is not None and record.pos < self._last[1]:
            self.sorted = False
        self._last = (record.chrom, record.pos)

    def close(self, index: bool = True) -> list[Path]:
        """Close the file and, when the records are sorted, write its tabix index."""
        import pysam

        self.fh.close()
        paths = [self.path]
        if not index:
            return paths
        if not self.sorted:
            log.warning("variants: %s is not tabix-indexed because the input VCF is not sorted "
                        "(bcftools sort, then re-run, gives an indexed file)", self.path.name)
            return paths
        try:
            pysam.tabix_index(str(self.path), preset="vcf", force=True)
        except OSError as exc:
            log.warning("variants: could not tabix-index %s: %s", self.path.name, exc)
            return paths
        return paths + [Path(f"{self.path}.tbi")]


def _fmt(values) -> list[str]:
    """Floats as INFO values: 6 significant digits, ``.`` for a missing (non-finite) one."""
    return [f"{v:.6g}" if np.isfinite(v) else "." for v in np.asarray(values, dtype=np.float64).tolist()]


def info_columns(effects: dict, target: Target) -> dict[str, list[str]]:
    """The INFO values of every allele of an :func:`~wtko_captum.variants._effects.effects`
    dict, formatted, by field."""
    p = INFO_PREFIX
    out = {p + "DELTA": _fmt(effects["delta"]), p + "LOGODDS": _fmt(effects["logodds_delta"]),
           p + "BAND": [str(b) for b in effects["band"]], p + "PREF": _fmt(effects["p_ref"]),
           p + "PALT": _fmt(effects["p_alt"]), p + "DOUT": _fmt(effects["delta_out"])}
    for c in target.class_names:
        out[f"{p}D_{safe_name(c)}"] = _fmt(effects[f"delta_{safe_name(c)}"])
    if target.kind == "pred":
        out[p + "TARGET"] = [str(t) for t in effects["target"]]
    return out


class Histogram:
    """Counts of Δ in fixed bins over [-1, 1] (memory independent of the number of variants)."""

    def __init__(self, bins: int = 200):
        self.edges = np.linspace(-1.0, 1.0, bins + 1)
        self.counts = np.zeros(bins, dtype=np.int64)
        self.bands = {b: 0 for b in ("strong", "moderate", "weak")}

    def add(self, delta: np.ndarray, bands: np.ndarray) -> None:
        self.counts += np.histogram(np.clip(delta, -1, 1), bins=self.edges)[0]
        for b in self.bands:
            self.bands[b] += int((bands == b).sum())


class TopVariants:
    """The ``n`` alleles with the largest |Δ| seen so far (ties: the earlier allele)."""

    def __init__(self, n: int):
        self.n = int(n)
        self._heap: list = []
        self._count = 0

    def add(self, alleles: list[Allele], effects: dict) -> None:
        if self.n <= 0:
            return
        for i, a in enumerate(alleles):
            key = (float(effects["abs_delta"][i]), -self._count)
            self._count += 1
            item = (key, a, {k: v[i] for k, v in effects.items()})
            if len(self._heap) < self.n:
                heapq.heappush(self._heap, item)
            elif key > self._heap[0][0]:
                heapq.heapreplace(self._heap, item)

    def items(self) -> list[tuple[Allele, dict]]:
        """``[(allele, effect row)]`` by decreasing |Δ|."""
        return [(a, row) for _, a, row in sorted(self._heap, key=lambda t: t[0], reverse=True)]
