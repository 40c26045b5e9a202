"""With a first-party plugin uninstalled, the core still imports, `wtko --help` works, and the
missing feature is a one-line error that says how to install it.

The subprocess hides the plugin as `pip uninstall` would leave things: its distribution's
entry points are gone and its package cannot be imported."""
from __future__ import annotations

import subprocess
import sys

import pytest

from attr_helpers import ROOT, make_prepared

HIDE = (
    "import sys, importlib.metadata as md\n"
    "hidden = sys.argv[1]; packages = {d: d.replace('-plugin', '').replace('-', '_') for d in [hidden]}\n"
    "real = md.entry_points\n"
    "def entry_points(**kw):\n"
    "    return [ep for ep in real(**kw) if getattr(ep.dist, 'name', None) != hidden]\n"
    "import wtko_captum.core.registry as registry\n"
    "registry.entry_points = entry_points\n"
    "class Block:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] in packages.values():\n"
    "            raise ModuleNotFoundError(f'No module named {name!r}')\n"
    "sys.meta_path.insert(0, Block())\n"
    "from wtko_captum.cli import main\n"
    "sys.exit(main(sys.argv[2:]))\n"
)


def wtko_without(dist: str, *args):
    return subprocess.run([sys.executable, "-c", HIDE, dist, *map(str, args)], capture_output=True, text=True,
                          cwd=str(ROOT))


def test_help_works_and_lists_no_missing_command():
    proc = wtko_without("wtko-modisco-plugin", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "  kmers " in proc.stdout and "  modisco " not in proc.stdout


@pytest.mark.parametrize("dist,args,hint", [
    ("wtko-modisco-plugin", ["modisco", "attr/x", "-o", "out"],
     "command 'modisco' comes with the plugin wtko-modisco-plugin, which is not installed: "
     "pip install wtko-modisco-plugin (from a checkout of wtko-captum: pip install -e plugins/wtko_modisco)"),
    ("wtko-tangermeme-plugin", ["insert", "model.pt", "data", "--motifs", "ACGT", "-o", "out"],
     "command 'insert' comes with the plugin wtko-tangermeme-plugin, which is not installed"),
])
def test_a_missing_plugins_command_is_a_one_line_hint(dist, args, hint, tmp_path):
    proc = wtko_without(dist, *args)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and hint in proc.stderr, proc.stderr


def test_a_missing_plugins_method_and_finder_are_one_line_hints(tmp_path):
    model_path, data, _ = make_prepared(tmp_path, n=12)
    proc = wtko_without("wtko-tangermeme-plugin", "attribute", model_path, data, "--method", "saliency,ism",
                        "-o", tmp_path / "attr")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert ("attribution method 'ism' comes with the plugin wtko-tangermeme-plugin, which is not installed: "
            "pip install wtko-tangermeme-plugin") in proc.stderr
    assert not (tmp_path / "attr").exists()  # unknown methods fail before any work
    proc = wtko_without("wtko-modisco-plugin", "motifs", "--finder", "modisco", tmp_path, "-o", tmp_path / "m")
    assert proc.returncode == 2
    assert "motif finder 'modisco' comes with the plugin wtko-modisco-plugin" in proc.stderr
