"""Atomic outputs: a file or directory either appears complete or not at all."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path, suffix: str | None = None):
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success.

    Use for writers that need a filename (pyBigWig, h5py, savez)::

        with atomic_path("x.bw") as tmp:
            write_bigwig(tmp, ...)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = suffix if suffix is not None else "".join(path.suffixes)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".part{suffix}", dir=path.parent)
    os.close(fd)
    os.unlink(tmp)  # writers create it themselves
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def path_component(name: str, what: str = "name") -> str:
    """``name`` as one file-name component under an output directory: a qualified plugin name's
    ``:`` becomes ``.``; anything that could leave the directory (``/``, ``\\``, ``..``, a
    leading ``.`` or ``-``, control characters) is an error, never a path outside ``-o``."""
    from wtko_captum.core.errors import InputError

    out = str(name).replace(":", ".")
    if (not out or out in (".", "..") or out[0] in ".-" or any(c in out for c in "/\\\0")
            or any(ord(c) < 32 for c in out)):
        raise InputError(f"{what} cannot be used as a file name (it must not contain '/', '..' or "
                         f"control characters, nor start with '.' or '-')", value=name)
    return out


def write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)
    return Path(path)


@contextlib.contextmanager
def atomic_dir(path, overwrite: bool = True):
    """Build an output directory under a temporary name and move it into place on success.

    On any exception the temporary directory is removed and ``path`` is left as it was, so a
    failed run never leaves a partial output directory that looks complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            if not overwrite:
                raise FileExistsError(f"{path} exists")
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
