"""Outputs that never lose a user's data: atomic files and directories, owned output
directories, one writer per output, and verified writes.

- A file or directory either appears complete or not at all: it is built under a temporary
  name beside its target and renamed onto it only when complete (and, where a writer cannot
  report its own errors, verified first).
- A directory is *replaced* only when it carries this tool's marker (``.wtko-output.json``,
  written into every directory we create) from an earlier run, and never when it holds an input
  of the current command. An existing file where a directory goes, or a directory we did not
  write, is an error (``--force`` lifts the second, never the input rule).
- One process writes an output at a time: :func:`output_lock` takes an advisory lock per
  output path; a second process waits (``--wait``) or stops with a clear message.
- A run's own leftovers (temporary parts of a killed run) are removed by the next run that
  writes the same output.
- Directories are created with the permissions the umask gives, like ``mkdir``.

The CLI sets the command's inputs, ``--force`` and the command name for the whole command
(:func:`command_context`); library callers may pass ``inputs=`` and ``force=`` directly.
"""
from __future__ import annotations

import contextlib
import contextvars
import fcntl
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from wtko_captum.core.errors import InputError

MARKER = ".wtko-output.json"
_PART = ".part"

_inputs: contextvars.ContextVar[tuple[Path, ...]] = contextvars.ContextVar("wtko_inputs", default=())
_force: contextvars.ContextVar[bool] = contextvars.ContextVar("wtko_force", default=False)
_command: contextvars.ContextVar[str] = contextvars.ContextVar("wtko_command", default="")
_held: set[Path] = set()  # outputs this process holds the lock of (a lock is not re-taken)


class OutputError(InputError):
    """An output that cannot be written as asked (an input in the way, a foreign directory, a
    write that failed or came out incomplete)."""


@contextlib.contextmanager
def command_context(*, command: str = "", inputs=(), force: bool = False):
    """For the duration: the current command's name, its input paths (never deleted or
    overwritten by an output) and whether ``--force`` was given."""
    tokens = (_command.set(command), _inputs.set(tuple(_resolved(p) for p in inputs)), _force.set(bool(force)))
    try:
        yield
    finally:
        for var, tok in zip((_command, _inputs, _force), tokens):
            var.reset(tok)


def _resolved(p) -> Path:
    return Path(p).expanduser().resolve()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def make_dirs(path) -> Path:
    """``mkdir -p`` with the umask's permissions (the default ``0o777 & ~umask``)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _inputs_at_or_under(path: Path, inputs) -> list[Path]:
    target = _resolved(path)
    return [p for p in inputs if p == target or target in p.parents]


def _check_not_input(path: Path, inputs) -> None:
    hit = _inputs_at_or_under(path, inputs)
    if hit:
        what = "is" if hit[0] == _resolved(path) else "contains"
        raise OutputError(f"the output {what} an input of this command ({hit[0]}): choose another -o/--out",
                          path=path)


def check_replaceable(path, *, inputs=None, force=None) -> None:
    """Raise :class:`OutputError` unless the directory ``path`` may be replaced."""
    path = Path(path)
    inputs = _inputs.get() if inputs is None else tuple(_resolved(p) for p in inputs)
    force = _force.get() if force is None else force
    _check_not_input(path, inputs)
    if not path.exists() and not path.is_symlink():
        return
    if not path.is_dir() or path.is_symlink():
        raise OutputError("exists and is not a directory this tool wrote: choose another -o/--out or remove it",
                          path=path)
    if (path / MARKER).is_file() or force or not any(path.iterdir()):
        return
    raise OutputError(f"exists and was not written by wtko (no {MARKER} in it): choose another -o/--out, "
                      "remove it, or pass --force to replace it", path=path)


def write_marker(directory, **extra) -> Path:
    """Mark ``directory`` as an output of this tool (what wrote it, when)."""
    from wtko_captum import __version__

    info = {"tool": "wtko-captum", "version": __version__, "command": _command.get() or None,
            "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra}
    path = Path(directory) / MARKER
    path.write_text(json.dumps(info, indent=2) + "\n")
    return path


def output_dir(path, *, inputs=None, force=None, mark: bool = True) -> Path:
    """A directory this command writes files into (without replacing it as a whole), created
    when missing and marked (``mark``; else mark it with :func:`write_marker` once the files are
    written); an existing file there, or a non-empty directory another program wrote, is an
    error (``force`` allows the latter)."""
    path = Path(path)
    inputs = _inputs.get() if inputs is None else tuple(_resolved(p) for p in inputs)
    force = _force.get() if force is None else force
    if path.exists() and not path.is_dir():
        raise OutputError("exists and is a file, not a directory: choose another -o/--out", path=path)
    if path.is_dir() and not (path / MARKER).is_file() and any(path.iterdir()) and not force:
        raise OutputError(f"exists and was not written by wtko (no {MARKER} in it): choose another -o/--out "
                          "or pass --force to write into it", path=path)
    if not path.is_dir():
        make_dirs(path)
    if mark and not (path / MARKER).is_file():
        write_marker(path)
    return path


def remove_stale_parts(path) -> list[Path]:
    """Remove the temporary parts a killed run left for ``path`` (``.NAME.*.part*``)."""
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    for stale in path.parent.glob(f".{glob_escape(path.name)}.*{_PART}*"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)
        removed.append(stale)
    return removed


def glob_escape(name: str) -> str:
    import glob

    return glob.escape(name)


@contextlib.contextmanager
def atomic_path(path, suffix: str | None = None, *, verify=None):
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success.

    Use for writers that need a filename (pyBigWig, h5py, savez)::

        with atomic_path("x.bw", verify=check_bigwig) as tmp:
            write(tmp)

    ``verify(tmp)``, when given, runs before the rename and raises when the file is not what
    was written (a writer that cannot report a full disk). ``path`` itself must not be an input
    of the current command.
    """
    path = Path(path)
    _check_not_input(path, _inputs.get())
    if path.is_dir() and not path.is_symlink():
        raise OutputError("is a directory; a file goes here: choose another -o/--out", path=path)
    make_dirs(path.parent)
    remove_stale_parts(path)
    suffix = suffix if suffix is not None else "".join(path.suffixes)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f"{_PART}{suffix}", dir=path.parent)
    os.close(fd)
    os.unlink(tmp)  # writers create it themselves
    try:
        yield Path(tmp)
        if not os.path.exists(tmp):
            raise OutputError("the writer created no file", path=path)
        if verify is not None:
            verify(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a file gets the umask's mode
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def path_component(name: str, what: str = "name") -> str:
    """``name`` as one file-name component under an output directory: a qualified plugin name's
    ``:`` becomes ``.``; anything that could leave the directory (``/``, ``\\``, ``..``, a
    leading ``.`` or ``-``, control characters) is an error, never a path outside ``-o``."""
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
def atomic_dir(path, overwrite: bool = True, *, inputs=None, force=None):
    """Build an output directory under a temporary name and move it into place on success.

    On any exception the temporary directory is removed and ``path`` is left as it was, so a
    failed run never leaves a partial output directory that looks complete. An existing
    ``path`` is replaced only under the rules of :func:`check_replaceable` (checked before the
    work starts and again before the swap); the new directory carries the marker.
    """
    path = Path(path)
    check_replaceable(path, inputs=inputs, force=force)
    if path.exists() and not overwrite:
        raise OutputError("exists", path=path)
    make_dirs(path.parent)
    remove_stale_parts(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=_PART, dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; an output directory gets the umask's mode
    try:
        yield tmp
        write_marker(tmp)
        check_replaceable(path, inputs=inputs, force=force)
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=f".old{_PART}", dir=path.parent))
            os.rmdir(old)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


# ---- one writer per output ------------------------------------------------------------------
def _lock_path(out: Path) -> Path:
    """The lock file of an output: in a per-user directory of the system's temporary space,
    named by a hash of the output's absolute path, so taking a lock creates nothing beside the
    output (not even its parent directories) and leaves nothing there."""
    import hashlib

    key = hashlib.sha1(str(_resolved(out)).encode()).hexdigest()[:20]
    folder = Path(tempfile.gettempdir()) / f"wtko-locks-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder / f"{key}.lock"


@contextlib.contextmanager
def output_lock(out, *, wait: bool = False, poll: float = 0.5):
    """Hold an advisory lock on output ``out`` for the duration.

    Another process holding it: with ``wait`` block until it is released, else raise
    :class:`OutputError` naming the holder. The lock file (see :func:`_lock_path`) is removed on
    release; a waiter that finds its file replaced meanwhile takes the new one.
    """
    out = Path(out)
    key = _resolved(out)
    if key in _held:  # this process holds it already (a library call under the CLI's lock)
        yield
        return
    lock = _lock_path(out)
    announced = False
    while True:
        fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o666 & ~_umask())
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            if not wait:
                raise OutputError(f"is being written by another wtko process ({holder}); wait for it to "
                                  "finish or pass --wait", path=out) from None
            if not announced:
                import logging

                logging.getLogger("wtko_captum").warning("%s is being written by another wtko process (%s): "
                                                         "waiting", out, holder)
                announced = True
            time.sleep(poll)
            continue
        try:
            same = os.path.exists(lock) and os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # the holder removed it as we queued: take the current file
            os.close(fd)
            continue
        break
    try:
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "command": _command.get(),
                                 "since": time.strftime("%Y-%m-%d %H:%M:%S")}).encode())
        _held.add(key)
        yield
    finally:
        _held.discard(key)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        os.close(fd)


def _read_holder(fd) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, 4096).decode() or "{}")
        return f"pid {info.get('pid', '?')}, wtko {info.get('command') or '?'}, since {info.get('since', '?')}"
    except (OSError, ValueError):
        return "pid unknown"


def check_free_space(directory, need_bytes: int, what: str) -> None:
    """Raise :class:`OutputError` when ``directory``'s file system has less than ``need_bytes``
    free (checked before long writes, so a full disk stops a run before, not during, its work)."""
    directory = Path(directory)
    probe = directory
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < need_bytes:
        raise OutputError(f"not enough free space for {what}: needs about {_size(need_bytes)}, "
                          f"{_size(free)} free", path=directory)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
