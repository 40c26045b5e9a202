"""Output safety, tried as a hostile user would: a full disk, -o pointing at the wrong place,
names that try to leave -o, two runs on one -o, leftovers of killed runs, the umask, and bad
options and configs refused before any work. Each test checks the exit code, the message and
the files left (none new; old ones byte-identical)."""
from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from attr_helpers import ROOT, make_prepared, run_wtko
from conftest import random_onehot
from wtko_captum.core.attribution_set import AttributionSet


def _tree(path: Path) -> dict[str, str]:
    """Every file under ``path`` (hidden ones included) with its content hash."""
    return {str(p.relative_to(path)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


def _attrset(path: Path, n: int, length: int, seed: int = 0, method: str = "saliency") -> Path:
    X = random_onehot(n, length, seed=seed)
    attr = np.random.default_rng(seed).normal(size=X.shape).astype(np.float32)
    starts = np.arange(n) * (length + 10)
    regions = pd.DataFrame({"chrom": "chr1", "start": starts, "end": starts + length,
                            "name": [f"w{i}" for i in range(n)]})
    AttributionSet(X, attr, regions, method).save(path)
    return path


@contextlib.contextmanager
def small_fs(where: Path, size: str):
    """A tmpfs of ``size`` mounted at ``where`` (a really full disk); skipped only where this
    machine cannot mount one (not root, no CAP_SYS_ADMIN)."""
    where.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip() or 'not permitted'}); "
                    "the full-disk behaviour is covered where the test machine allows it")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


SIZES = ROOT / "tests/data/genomes/hg19.chrom.sizes"


class Run:
    """What an in-process ``wtko`` call returned and printed to stderr."""

    def __init__(self, returncode, stderr):
        self.returncode, self.stderr = returncode, stderr


def wtko(*args) -> Run:
    """``wtko ARGS`` in this process (quick); the error stream captured."""
    import io

    from wtko_captum.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            rc = main([str(a) for a in args])
        except SystemExit as exc:
            rc = exc.code
    return Run(rc, err.getvalue())


# ---- 1. a full disk never replaces good bigWigs with empty ones ------------------------------
def test_full_disk_export_keeps_the_earlier_good_bigwigs(tmp_path):
    small = _attrset(tmp_path / "small", 20, 100)
    big = _attrset(tmp_path / "big", 1500, 600, seed=1)
    with small_fs(tmp_path / "disk", "1m") as disk:
        good = wtko("export", "bigwig", small, "--chrom-sizes", SIZES, "-o", disk / "tracks", "-q")
        before = _tree(disk)
        proc = wtko("export", "bigwig", big, "--chrom-sizes", SIZES, "--prefix", "saliency", "-o", disk / "tracks",
                    "-q")
        assert good.returncode == 0 and proc.returncode == 2, proc.stderr
        err = proc.stderr.strip()
        assert len(err.splitlines()) == 1 and err.startswith("wtko export: error: ")
        assert "disk full" in err or "No space left on device" in err
        assert _tree(disk) == before  # the good files byte-identical, no parts left behind


def test_full_disk_during_attribute_is_a_clean_error_and_resumable(tmp_path):
    model, data, _ = make_prepared(tmp_path, n=400, length=200)
    with small_fs(tmp_path / "disk", "600k") as disk:
        proc = wtko("attribute", model, data, "--method", "saliency", "-o", disk / "attr", "-q")
        assert proc.returncode == 2 and "not enough free space" in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
        assert not any(p.name.endswith(".creating") or ".part" in p.name for p in disk.rglob("*"))
        subprocess.run(["mount", "-o", "remount,size=20m", str(disk)], check=True)
        assert wtko("attribute", model, data, "--method", "saliency", "-o", disk / "attr", "-q").returncode == 0
        assert (disk / "attr" / "saliency" / "attr.npz").is_file()


# ---- 2. -o never deletes what the tool did not write -----------------------------------------
def _simulate(out, *extra):
    return wtko("simulate", "--preset", "two-motif", "--n", "10", "--length", "60", "-o", out, "-q", *extra)


def test_o_refuses_a_foreign_directory_and_a_file(tmp_path):
    notes = tmp_path / "mine"
    notes.mkdir()
    (notes / "notes.txt").write_text("my notes")
    proc = _simulate(notes)
    assert proc.returncode == 2 and "was not written by wtko" in proc.stderr and "--force" in proc.stderr
    assert (notes / "notes.txt").read_text() == "my notes" and sorted(os.listdir(notes)) == ["notes.txt"]
    afile = tmp_path / "afile"
    afile.write_text("keep")
    proc = _simulate(afile)
    assert proc.returncode == 2 and "is not a directory" in proc.stderr
    assert afile.read_text() == "keep" and sorted(os.listdir(tmp_path)) == ["afile", "mine"]
    # our own earlier output is replaced; --force replaces a foreign one
    assert _simulate(tmp_path / "sim").returncode == 0
    assert _simulate(tmp_path / "sim").returncode == 0
    assert _simulate(notes, "--force").returncode == 0 and not (notes / "notes.txt").exists()


def test_o_never_replaces_a_directory_holding_an_input(tmp_path):
    sim = tmp_path / "sim"
    assert _simulate(sim).returncode == 0
    before = _tree(sim)
    for extra in ([], ["--force"]):
        proc = wtko("prepare", "--wt", sim / "WT.fa", "--ko", sim / "KO.fa", "--width", "60", "-o", sim, "-q", *extra)
        assert proc.returncode == 2 and "contains an input of this command" in proc.stderr
        assert _tree(sim) == before


# ---- 3. no name leaves -o -----------------------------------------------------------------
def test_names_that_would_leave_o_are_refused(tmp_path):
    evil = _attrset(tmp_path / "attr", 3, 50, method="../../ESCAPED")
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = wtko("export", "bigwig", evil, "--chrom-sizes", SIZES, "-o", tmp_path / "a" / "b" / "tracks", "-q")
    assert proc.returncode == 2 and "cannot be used as a file name" in proc.stderr
    proc = wtko("export", "bedgraph", _attrset(tmp_path / "ok", 3, 50), "--chrom-sizes", SIZES,
                "--prefix", "../x", "-o", tmp_path / "t2", "-q")
    assert proc.returncode == 2 and "prefix cannot be used as a file name" in proc.stderr
    assert not list(tmp_path.rglob("*ESCAPED*")) and not (tmp_path / "x.projected.bedGraph").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(before + ["ok"])


# ---- 4. one writer per -o --------------------------------------------------------------------
def test_a_second_run_on_the_same_out_refuses_or_waits(tmp_path):
    from wtko_captum.core.atomic import output_lock

    model, data, _ = make_prepared(tmp_path, n=20)
    out = tmp_path / "attr"
    args = ["attribute", model, data, "--method", "saliency", "-o", out, "-q"]
    with output_lock(out):
        proc = run_wtko(args, check=False)
        assert proc.returncode == 2 and "is being written by another wtko process" in proc.stderr
        assert f"pid {os.getpid()}" in proc.stderr and not out.exists()
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        waiter = subprocess.Popen([sys.executable, "-c", "import sys; from wtko_captum.cli import main; "
                                   "sys.exit(main(sys.argv[1:]))", *map(str, args), "--wait"],
                                  env=env, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        assert waiter.poll() is None  # still waiting for the lock
    assert waiter.wait(timeout=120) == 0, waiter.stderr.read()
    assert (out / "saliency" / "attr.npz").is_file() and not list(tmp_path.glob(".*lock*"))


def test_a_store_open_elsewhere_is_never_taken_for_damage(tmp_path):
    from wtko_captum.core.errors import InputError
    from wtko_captum.core.store import AttributionStore, open_or_create

    X = random_onehot(4, 20)
    regions = pd.DataFrame({"chrom": "c", "start": np.arange(4) * 30, "end": np.arange(4) * 30 + 20,
                            "name": list("abcd")})
    path = tmp_path / "m.h5"
    AttributionStore.create(path, X, regions, n_outputs=2, chunk_size=2, key={"a": 1}).close()
    # another process's writer holds the HDF5 file lock
    holder = subprocess.Popen([sys.executable, "-c", "import h5py, sys, time; f = h5py.File(sys.argv[1], 'r+'); "
                               "print('open', flush=True); time.sleep(120)", str(path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(InputError, match="open in another process"):
            open_or_create(path, X, regions, n_outputs=2, chunk_size=2, meta={}, key={"a": 1})
    finally:
        holder.kill()
        holder.wait()
    with AttributionStore.open(path, "r") as store:  # still there, still ours: nothing was deleted
        assert store.key == {"a": 1} and len(store) == 4


# ---- 6. a run removes its own leftovers; 7. the umask -------------------------------------------
def test_leftovers_of_killed_runs_are_removed(tmp_path):
    tracks = tmp_path / "tracks"
    tracks.mkdir()
    stale = tracks / ".saliency.projected.bw.k2j4x1.part.projected.bw"
    stale.write_bytes(b"\0" * 4096)
    (tmp_path / ".sim.x81k.part").mkdir()
    (tmp_path / ".sim.x81k.part" / "WT.fa").write_text(">a\nACGT\n")
    assert wtko("export", "bigwig", _attrset(tmp_path / "attr", 3, 50), "--chrom-sizes", SIZES,
                "--force", "-o", tracks, "-q").returncode == 0
    assert not stale.exists()
    assert _simulate(tmp_path / "sim").returncode == 0
    assert not (tmp_path / ".sim.x81k.part").exists()


@pytest.mark.parametrize("umask,mode", [(0o022, 0o755), (0o077, 0o700), (0o002, 0o775)])
def test_output_directories_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        assert _simulate(tmp_path / "sim").returncode == 0
    finally:
        os.umask(old)
    assert (tmp_path / "sim").stat().st_mode & 0o777 == mode
    assert (tmp_path / "sim" / "WT.fa").stat().st_mode & 0o777 == mode & 0o666


# ---- 8. numbers checked by the parser; 9. the whole config before the first stage -------------
@pytest.mark.parametrize("args,message", [
    (["attribute", "m.pt", "d", "--chunk-size", "0"], "argument --chunk-size: must be >= 1, got 0"),
    (["attribute", "m.pt", "d", "--limit", "0"], "argument --limit: must be >= 1, got 0"),
    (["attribute", "m.pt", "d", "--batch-size", "-3"], "argument --batch-size: must be >= 1, got -3"),
    (["attribute", "m.pt", "d", "--n-shuffles", "0"], "argument --n-shuffles: must be >= 1, got 0"),
    (["attribute", "m.pt", "d", "--seed", "-1"], "argument --seed: must be >= 0, got -1"),
    (["train", "d", "--lr", "nan"], "argument --lr: must be a finite number, got 'nan'"),
    (["train", "d", "--lr", "-0.1"], "argument --lr: must be > 0, got -0.1"),
    (["train", "d", "--lr", "1e9"], "argument --lr: must be <= 10, got 1e9"),
    (["train", "d", "--weight-decay", "-1"], "argument --weight-decay: must be >= 0, got -1"),
    (["train", "d", "--epochs", "1.5"], "argument --epochs: not an integer: '1.5'"),
    (["kmers", "a", "--k", "0"], "argument --k: must be >= 1, got 0"),
    (["enrich", "d", "--p", "0"], "argument --p: must be > 0, got 0"),
])
def test_numeric_options_are_checked_by_the_parser(tmp_path, args, message):
    from wtko_captum.cli import main

    os.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc, contextlib.redirect_stderr(open(tmp_path / "err", "w")):
        main(args + ["-o", str(tmp_path / "out")])
    err = (tmp_path / "err").read_text().strip()
    assert exc.value.code == 2 and len(err.splitlines()) == 1 and message in err, err
    assert sorted(os.listdir(tmp_path)) == ["err"]


@pytest.mark.parametrize("body,message,line", [
    ("[train]\nepochs = 1.7\n", "[train] epochs: input should be a valid integer (got 1.7)", 2),
    ("[train]\nepochs = true\n", "[train] epochs: input should be a valid integer (got True)", 2),
    ("[prepare]\nwidth = 250\n\n[train]\npatience = 3\nepoch = 2\n", "[train] has no option 'epoch'", 6),
    ("[kmers]\nk = \"20\"\n", "[kmers] k: input should be a valid integer", 2),
    ("[nosuch]\nx = 1\n", "unknown stage table [nosuch]", 1),
])
def test_run_config_is_validated_before_the_first_stage(tmp_path, body, message, line):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[prepare]\nwt = 'x.fa'\nko = 'y.fa'\n\n" + body if "[prepare]" not in body else body)
    proc = wtko("run", cfg, "-o", tmp_path / "out")
    offset = 0 if "[prepare]" in body else 4
    assert proc.returncode == 2 and f"{cfg}:{line + offset}: " in proc.stderr and message in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


def test_checkpoint_whose_class_names_disagree_with_its_outputs_is_refused(tmp_path):
    import torch

    from wtko_captum.core.checkpoint import load_model

    model, _, _ = make_prepared(tmp_path, n=8)
    ckpt = torch.load(model, weights_only=True)
    ckpt["class_names"] = ["KO", "WT", "background"]
    torch.save(ckpt, tmp_path / "bad.pt")
    from wtko_captum.core.errors import CheckpointError

    with pytest.raises(CheckpointError, match="3 class names .* for 2 outputs"):
        load_model(tmp_path / "bad.pt")
