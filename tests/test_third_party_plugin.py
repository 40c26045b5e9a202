"""A third-party plugin package, built and installed the way a user would (pyproject + one
module, ``pip install --no-deps --target``), contributing one plugin of every group; each is
driven through the ``wtko`` CLI in a subprocess and its output values are checked."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from attr_helpers import make_prepared, run_wtko
from conftest import random_onehot

PLUGIN = '''
"""wtko-demo-plugin: one plugin of every wtko_captum group."""
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from wtko_captum.api import (AttributionSet, attribution_method, export, exporter, motif_finder, read,
                             reader, write_text)


class TinyNet(nn.Module):
    """conv(4 -> width, 5) -> ReLU -> global max -> linear: logits (N, n_classes)."""

    def __init__(self, input_length, n_classes, width: int = 8):
        super().__init__()
        self.conv = nn.Conv1d(4, width, 5)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveMaxPool1d(1)
        self.fc = nn.Linear(width, n_classes)

    def forward(self, x):
        return self.fc(self.pool(self.relu(self.conv(x))).squeeze(-1))


@attribution_method(hypothetical=False, stochastic=False, description="one-hot x (target + 1)")
def x_times_target(model, X, args=None, *, target=0, batch_size=64, device="cpu", seed=None, verbose=False):
    """Projected scores with a known value: the one-hot times (target + 1)."""
    return (X * (float(target) + 1.0)).float().cpu()


@attribution_method(hypothetical=False, description="a method named like a built-in")
def saliency(model, X, args=None, *, target=0, seed=None, batch_size=64, device="cpu", verbose=False):
    return (X * -7.0).float()


@exporter(accepts="attributions", description="summed projected score per window, as TSV")
def write_sums(attributions, out, *, scale: float = 1.0):
    """One line per window: name and scale x the sum of its projected scores.

    Parameters
    ----------
    scale : float
        multiplies every sum
    """
    aset = attributions[0] if isinstance(attributions, list) else attributions
    sums = (aset.attr * aset.X).sum((1, 2)) * scale
    text = "".join(f"{n}\\t{s:.6f}\\n" for n, s in zip(aset.regions["name"], sums))
    return [write_text(out, text)]


def _claims(path):
    return str(path).endswith(".myscores.json")


@reader(kind="attributions", claim=_claims, description="JSON with X, attr and windows")
def read_myscores(path):
    d = json.loads(Path(path).read_text())
    import pandas as pd

    return AttributionSet(np.array(d["X"]), np.array(d["attr"]), pd.DataFrame(d["regions"]), "myscores",
                          hypothetical=False)


@motif_finder(input="attributions", description="the k-mer with the largest summed projected score")
def top_kmer(attributions, out, *, k: int = 4):
    """One motif: the one-hot of the best-scoring k-mer over all windows.

    Parameters
    ----------
    k : int
        k-mer length
    """
    aset = read(attributions, kind="attributions")
    proj = (aset.attr * aset.X).sum(1)  # (N, L)
    win = np.lib.stride_tricks.sliding_window_view(proj, k, axis=1).sum(-1)
    n, s = np.unravel_index(np.argmax(win), win.shape)
    pwm = aset.X[n, :, s:s + k].astype(float) + 1e-3
    paths = export("meme", {"top TOP": pwm / pwm.sum(0)}, Path(out) / "motifs.meme")
    return {"paths": paths, "seq": int(n), "start": int(s)}


HELP = "say hello to a name (a command contributed by a plugin)"
STAGE = "report"
DESCRIPTION = "Writes 'hello NAME' to -o FILE."


def add_arguments(p):
    from wtko_captum.cli.options import add_out

    p.add_argument("--name", required=True)
    add_out(p, "output file")


def run(args):
    Path(args.out).write_text(f"hello {args.name}\\n")
    return 0
'''

PYPROJECT = '''
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "wtko-demo-plugin"
version = "0.1.0"
dependencies = ["wtko-captum"]

[tool.setuptools]
py-modules = ["wtko_demo_plugin"]

[project.entry-points."wtko_captum.models"]
tiny_net = "wtko_demo_plugin:TinyNet"
[project.entry-points."wtko_captum.attributions"]
x_times_target = "wtko_demo_plugin:x_times_target"
saliency = "wtko_demo_plugin:saliency"
[project.entry-points."wtko_captum.exporters"]
sums = "wtko_demo_plugin:write_sums"
[project.entry-points."wtko_captum.readers"]
myscores = "wtko_demo_plugin:read_myscores"
[project.entry-points."wtko_captum.motif_finders"]
top_kmer = "wtko_demo_plugin:top_kmer"
[project.entry-points."wtko_captum.commands"]
hello = "wtko_demo_plugin"
'''


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The plugin built from its pyproject and installed with pip into a target directory."""
    src = tmp_path_factory.mktemp("plugin_src")
    (src / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    (src / "wtko_demo_plugin.py").write_text(textwrap.dedent(PLUGIN))
    target = tmp_path_factory.mktemp("plugin_site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--quiet",
                    "--target", str(target), str(src)], check=True, capture_output=True, text=True)
    assert any(p.name.startswith("wtko_demo_plugin-0.1.0.dist-info") for p in target.iterdir())
    return target


def test_every_plugin_group_through_the_cli(site, tmp_path):
    _, data, _ = make_prepared(tmp_path, n=40, length=60)
    model, attr, out = tmp_path / "model", tmp_path / "attr", tmp_path / "out"
    proc = run_wtko(["plugins", "++",
                     "train", data, "--model", "tiny_net", "--model-option", "width=6", "--epochs", "1",
                     "--seeds", "1", "-o", model, "-q", "++",
                     "attribute", model / "model.pt", data, "--method", "x_times_target", "--target", "WT",
                     "-o", attr, "-q", "++",
                     "export", "sums", attr / "x_times_target", "--scale", "2", "-o", out / "sums.tsv", "++",
                     "motifs", "--finder", "top_kmer", attr / "x_times_target", "-o", out / "motifs", "--k", "4",
                     "++", "hello", "--name", "world", "-o", out / "hello.txt"], pythonpath=site)
    listing = proc.stdout
    for name in ("tiny_net", "x_times_target", "sums", "myscores", "top_kmer", "hello"):
        assert f"  {name} " in listing and "(wtko-demo-plugin)" in listing, name
    # model: trained, saved as a self-describing checkpoint that rebuilds the plugin's class
    import torch

    ckpt = torch.load(model / "model.pt", weights_only=True)
    assert ckpt["architecture"] == "tiny_net" and ckpt["config"] == {"input_length": 60, "n_classes": 2,
                                                                      "width": 6}
    # attribution: the known values, for target WT = class 1
    from wtko_captum.api import read

    aset = read(attr / "x_times_target")
    np.testing.assert_array_equal(aset.attr, aset.X * 2.0)
    # exporter: 2 x the sum of projected scores = 2 x 2 x (bases observed) per window
    sums = pd.read_csv(out / "sums.tsv", sep="\t", header=None, names=["name", "value"])
    np.testing.assert_allclose(sums["value"], 4.0 * aset.X.sum((1, 2)), rtol=1e-6)
    assert list(sums["name"]) == list(aset.regions["name"])
    # motif finder: a MEME file with one motif, the 4-mer found
    text = (out / "motifs" / "motifs.meme").read_text()
    assert "MOTIF top TOP" in text and "w= 4" in text
    # command
    assert (out / "hello.txt").read_text() == "hello world\n"


def test_a_reader_claims_another_pipelines_file(site, tmp_path, data_dir):
    X = random_onehot(2, 20, seed=4)
    attr = np.random.default_rng(0).normal(size=X.shape) * X
    (tmp_path / "theirs.myscores.json").write_text(json.dumps({
        "X": X.tolist(), "attr": attr.tolist(),
        "regions": {"chrom": ["chr1", "chr1"], "start": [100, 500], "end": [120, 520], "name": ["a", "b"]}}))
    run_wtko(["export", "bigwig", tmp_path / "theirs.myscores.json", "--chrom-sizes",
              data_dir / "genomes/hg19.chrom.sizes", "--tracks", "projected", "-o", tmp_path / "tracks", "-q"],
             pythonpath=site)
    import pyBigWig

    bw = pyBigWig.open(str(tmp_path / "tracks" / "myscores.projected.bw"))
    np.testing.assert_allclose(bw.values("chr1", 500, 520), attr[1].sum(0), rtol=1e-6)


def test_a_name_clash_with_a_builtin_is_reported_and_never_disables_it(site, tmp_path):
    model_path, data, _ = make_prepared(tmp_path, n=12)
    proc = run_wtko(["plugins", "--kind", "attributions", "++",
                     "attribute", model_path, data, "--method", "saliency", "--target", "WT", "-o",
                     tmp_path / "builtin", "-q", "++",
                     "attribute", model_path, data, "--method", "wtko-demo-plugin:saliency", "--target", "WT",
                     "-o", tmp_path / "theirs", "-q"], pythonpath=site)
    assert ("attribution method 'saliency' is provided by wtko-captum:saliency, wtko-demo-plugin:saliency: "
            "'saliency' means wtko-captum:saliency") in proc.stdout
    from wtko_captum.api import read

    builtin, theirs = read(tmp_path / "builtin" / "saliency"), read(tmp_path / "theirs" / "wtko-demo-plugin.saliency")
    np.testing.assert_array_equal(theirs.attr, theirs.X * -7.0)
    assert builtin.hypothetical and not np.array_equal(builtin.attr, builtin.X * -7.0)


def test_two_third_parties_claiming_one_name_is_a_clear_error(site, tmp_path):
    from attr_helpers import install_plugin

    other = install_plugin(tmp_path / "other", dist="wtko-other-plugin", module="wtko_other_plugin",
                           entries={"wtko_captum.attributions": {"x_times_target": "wtko_other_plugin:tiny"}})
    model_path, data, _ = make_prepared(tmp_path, n=12)
    proc = run_wtko(["attribute", model_path, data, "--method", "x_times_target", "-o", tmp_path / "a", "-q"],
                    pythonpath=f"{site}:{other}", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "wtko attribute: error: attribution method 'x_times_target' is provided by several packages: "
        "wtko-demo-plugin:x_times_target, wtko-other-plugin:x_times_target; choose one by its qualified name")
    assert not (tmp_path / "a").exists()
