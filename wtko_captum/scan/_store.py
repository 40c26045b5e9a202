"""The scan's output directory: per-shard results and the manifest.

::

    OUT/manifest.json       options, their fingerprint, every shard with its status
    OUT/shards/0000012.npz  one shard's merged tracks and predictions, written atomically

A shard file appears complete or not at all (written under a temporary name, then renamed),
so after a ``kill -9`` at any moment every shard file present is whole and a rerun computes
only the others. The manifest is a view for people and monitors, rewritten (atomically) as
shards finish; the shard files are the truth a resumed run reads. A shard file records the
fingerprint of the options that made it and is refused if it does not match.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np

from wtko_captum.core.atomic import atomic_path, write_text
from wtko_captum.core.errors import InputError

FORMAT = "wtko_captum.scan"
VERSION = 1
SHARD_COLUMNS = ["index", "chrom", "start", "end", "n_windows", "status"]


def fingerprint(options: dict) -> str:
    """A short hash of everything a result depends on (JSON with sorted keys)."""
    text = json.dumps(options, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class ShardStore:
    """Shard files under ``root/shards`` for the options with ``fp`` (their fingerprint)."""

    def __init__(self, root, fp: str):
        self.root = Path(root)
        self.dir = self.root / "shards"
        self.fp = fp

    def path(self, index: int) -> Path:
        return self.dir / f"{index:07d}.npz"

    def done(self, index: int) -> bool:
        return self.path(index).is_file()

    def write(self, shard, result: dict) -> Path:
        """Store one :func:`~wtko_captum.scan._shard.run_shard` result atomically."""
        meta = {"fingerprint": self.fp, "index": shard.index, "chrom": shard.chrom, "start": shard.start,
                "end": shard.end, "methods": list(result["tracks"]), "skipped": result["skipped"],
                "padded": result["padded"], "n_windows": result["n_windows"]}
        arrays = {f"track.{m}": a for m, a in result["tracks"].items()}
        path = self.path(shard.index)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, meta=np.array(json.dumps(meta)), pred=result["pred"], **arrays)
        return path

    def read(self, shard) -> tuple[dict, dict[str, np.ndarray], np.ndarray]:
        """``(meta, {method: (T, length)}, pred (k, length))`` of a finished shard, checked
        against the options and the shard's coordinates."""
        path = self.path(shard.index)
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            where = (meta.get("chrom"), meta.get("start"), meta.get("end"))
            if meta.get("fingerprint") != self.fp or where != (shard.chrom, shard.start, shard.end):
                raise InputError(f"shard file belongs to another scan (options {meta.get('fingerprint')}, "
                                 f"{where}); remove it or scan into another directory", path=path)
            tracks = {m: data[f"track.{m}"] for m in meta["methods"]}
            return meta, tracks, data["pred"]

    def remove(self) -> None:
        """Delete the shard files (after the bigWigs are written)."""
        if self.dir.is_dir():
            for p in self.dir.glob("*.npz"):
                p.unlink()
            try:
                self.dir.rmdir()
            except OSError:  # something else lives there: leave it
                pass


class Manifest:
    """``OUT/manifest.json``: the options, their fingerprint and each shard's status."""

    def __init__(self, path, options: dict, shards, info: dict):
        self.path = Path(path)
        self.options = options
        self.fp = fingerprint(options)
        self.shards = shards
        self.info = info
        self.status = {s.index: "pending" for s in shards}
        self.state = "running"
        self.outputs: list[str] = []
        self._written = 0.0

    @classmethod
    def previous(cls, path) -> dict | None:
        """The manifest a previous run left at ``path`` (None if there is none)."""
        path = Path(path)
        if not path.is_file():
            return None
        try:
            old = json.loads(path.read_text())
        except ValueError:
            raise InputError("not a readable scan manifest; remove it or scan into another directory",
                             path=path) from None
        if old.get("format") != FORMAT:
            raise InputError(f"not a scan manifest (format {old.get('format')!r})", path=path)
        return old

    def check_compatible(self, old: dict) -> None:
        """Refuse to mix results made with other options (the error names the options that differ)."""
        if old.get("fingerprint") == self.fp:
            return
        before = old.get("options", {})
        keys = sorted(set(before) | set(self.options))
        diff = [f"{k}: {before.get(k)!r} then, {self.options.get(k)!r} now" for k in keys
                if json.dumps(before.get(k), sort_keys=True, default=str)
                != json.dumps(self.options.get(k), sort_keys=True, default=str)]
        raise InputError(f"{self.path.parent} holds a scan made with other options ({'; '.join(diff) or 'versions differ'}); "
                         "rerun with the same options to resume it, or write to another -o")

    def mark(self, index: int, status: str = "done") -> None:
        self.status[index] = status

    @property
    def n_done(self) -> int:
        return sum(v == "done" for v in self.status.values())

    def save(self, *, every: float = 0.0) -> None:
        """Write the manifest atomically (at most once per ``every`` seconds)."""
        now = time.monotonic()
        if every and now - self._written < every:
            return
        self._written = now
        rows = [[s.index, s.chrom, s.start, s.end, s.n_windows, self.status[s.index]] for s in self.shards]
        doc = {"format": FORMAT, "version": VERSION, "state": self.state, "fingerprint": self.fp,
               "options": self.options, **self.info,
               "n_shards": len(self.shards), "n_done": self.n_done, "outputs": self.outputs,
               "shard_columns": SHARD_COLUMNS}
        head = json.dumps(doc, indent=1, default=str)[:-2]  # one shard per line below
        body = ",\n".join("  " + json.dumps(r) for r in rows)
        write_text(self.path, f'{head},\n "shards": [\n{body}\n ]\n}}\n')
