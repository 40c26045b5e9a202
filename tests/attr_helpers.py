"""Helpers for the attribution tests: a tiny prepared-data directory + checkpoint, and a
third-party plugin distribution installed into a temporary directory through real entry points."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
WTKO = [sys.executable, "-c", "import sys; from wtko_captum.cli import main; sys.exit(main(sys.argv[1:]))"]
# several commands in one interpreter (torch imports once): argv lists joined by "++"
WTKO_MANY = [sys.executable, "-c", (
    "import sys, itertools\n"
    "from wtko_captum.cli import main\n"
    "cmds = [list(g) for k, g in itertools.groupby(sys.argv[1:], lambda a: a == '++') if not k]\n"
    "for c in cmds:\n"
    "    rc = main(c)\n"
    "    print(f'@@ wtko {c[0]} exit {rc}', flush=True)\n"
    "    if rc: sys.exit(rc)\n")]
# `wtko` killed with SIGKILL at a chosen store write, from outside the library: argv[1] is
# "after:K" (once K chunks are stored) or "mid:K" (chunk K written but not yet marked done)
WTKO_KILLED = [sys.executable, "-c", (
    "import os, signal, sys\n"
    "from wtko_captum.core.store import AttributionStore\n"
    "when, k = sys.argv[1].split(':'); k = int(k); calls = [0]\n"
    "name = 'write' if when == 'after' else '_mark_done'\n"
    "orig = getattr(AttributionStore, name)\n"
    "def step(self, *a, **kw):\n"
    "    if when == 'after': orig(self, *a, **kw)\n"
    "    calls[0] += 1\n"
    "    if calls[0] == k: os.kill(os.getpid(), signal.SIGKILL)\n"
    "    if when == 'mid': orig(self, *a, **kw)\n"
    "setattr(AttributionStore, name, step)\n"
    "from wtko_captum.cli import main\n"
    "sys.exit(main(sys.argv[2:]))\n")]


def make_model(length: int = 120, seed: int = 0):
    """A tiny WTKO-CNN with seeded random weights and randomised BatchNorm statistics."""
    from wtko_captum.models.wtko_cnn import WTKOCNN

    torch.manual_seed(seed)
    model = WTKOCNN(input_length=length, n_filters=8, n_filters2=16, hidden=8)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    model.class_names = ["KO", "WT"]
    return model.eval()


def make_prepared(tmp: Path, n: int = 22, length: int = 120, seed: int = 0, n_test: int | None = None):
    """Write ``tmp/data`` (prepared-data format of wtko_captum/dataset.py) and ``tmp/model.pt``.

    The first ``n_test`` rows (default 3/4) are split "test" on chr6, the rest "train" on chr1.
    Returns ``(model_path, data_dir, sequences)``.
    """
    from wtko_captum.core.checkpoint import save_checkpoint

    tmp = Path(tmp)
    d = tmp / "data"
    d.mkdir(parents=True, exist_ok=True)
    r = np.random.default_rng(seed)
    seqs = ["".join(r.choice(list("ACGT"), length)) for _ in range(n)]
    seqs[1] = seqs[1][:5] + "NNN" + seqs[1][8:]  # an N stretch: all-zero columns
    n_test = n * 3 // 4 if n_test is None else n_test
    rows = []
    for i in range(n):
        test = i < n_test
        start = 10_000 + 1_000 * i
        rows.append(dict(chrom="chr6" if test else "chr1", start=start, end=start + length,
                         name=f"peak{i}", label=i % 2, **{"class": ["KO", "WT"][i % 2]},
                         split="test" if test else "train", summit=start + length // 2,
                         peak_start=start + 10, peak_end=start + length - 10, pad_left=0,
                         pad_right=0, source="peaks.bed", line=i + 1))
    pd.DataFrame(rows).to_csv(d / "regions.tsv", sep="\t", index=False)
    (d / "sequences.fa").write_text("".join(f">peak{i}\n{s}\n" for i, s in enumerate(seqs)))
    (d / "meta.json").write_text(json.dumps({"format": "wtko_captum.prepared", "width": length,
                                             "class_names": ["KO", "WT"]}))
    save_checkpoint(tmp / "model.pt", make_model(length, seed), "wtko_cnn", ["KO", "WT"])
    return tmp / "model.pt", d, seqs


TINY_PLUGIN = '''
"""A third-party attribution method, installed only through an entry point."""
import torch
from wtko_captum.core.registry import attribution_method

IMPORTED = True


@attribution_method(hypothetical=False, stochastic=True, description="tiny test method")
def tiny(model, X, args=None, *, target=0, random_state=None, batch_size=64, device="cpu",
         verbose=False, scale=1.0):
    """Projected scores: the target logit times seeded noise on the observed bases."""
    g = torch.Generator().manual_seed(int(random_state or 0))
    noise = torch.rand(X.shape, generator=g)
    with torch.no_grad():
        y = model(X.to(device))[:, target].cpu()
    return (X * y[:, None, None] * noise * scale).float()
'''


def install_plugin(where: Path, dist: str = "wtko-tiny-plugin", module: str = "wtko_tiny_plugin",
                   entries: dict | None = None, source: str = TINY_PLUGIN) -> Path:
    """Install a distribution into ``where`` as pip would: ``module.py`` + ``*.dist-info``
    with ``METADATA`` and ``entry_points.txt``. ``entries``: {group: {name: "module:attr"}}."""
    where = Path(where)
    where.mkdir(parents=True, exist_ok=True)
    (where / f"{module}.py").write_text(textwrap.dedent(source))
    info = where / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    entries = entries or {"wtko_captum.attributions": {"tiny": f"{module}:tiny"}}
    text = ""
    for group, items in entries.items():
        text += f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in items.items()) + "\n"
    (info / "entry_points.txt").write_text(text)
    (info / "RECORD").write_text("")
    return where


def run_wtko(args, *, pythonpath=None, env_extra=None, check=True, kill_at=None):
    """Run the ``wtko`` CLI in a subprocess (so entry points are discovered afresh).

    ``args`` may hold several commands separated by ``"++"``; they run in one interpreter.
    ``kill_at`` ("after:K" / "mid:K") kills the process at that attribution-store write.
    """
    env = dict(os.environ)
    paths = [str(p) for p in ([pythonpath] if pythonpath else [])] + [str(ROOT)]
    env["PYTHONPATH"] = os.pathsep.join(paths + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.setdefault("OMP_NUM_THREADS", "1")  # tiny models; threads only contend
    env.update(env_extra or {})
    cmd = WTKO_KILLED + [kill_at] if kill_at else WTKO_MANY if "++" in args else WTKO
    proc = subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True, env=env, cwd=str(ROOT))
    if check and proc.returncode != 0:
        raise AssertionError(f"wtko {args} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc
