"""Plugin registry: real entry points, lazy import, clashes, unknown names, `wtko plugins list`,
and a third-party attribution method called from the CLI."""
from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest
import torch

from attr_helpers import install_plugin, make_prepared, run_wtko
from wtko_captum.core.errors import PluginError
from wtko_captum.core.registry import Registry


@pytest.fixture
def on_path(tmp_path, monkeypatch):
    """Put ``tmp_path/site`` on sys.path (as an installed site dir) for in-process discovery."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield site
    for mod in [m for m in sys.modules if m.startswith("wtko_tiny") or m.startswith("wtko_lazy")]:
        del sys.modules[mod]


def test_entry_point_is_discovered_lazily(on_path):
    install_plugin(on_path, dist="wtko-lazy-plugin", module="wtko_lazy_plugin",
                   entries={"wtko_captum.attributions": {"lazy_tiny": "wtko_lazy_plugin:tiny"}})
    reg = Registry()
    assert "lazy_tiny" in reg.names("attributions")
    assert reg.entry("attributions", "lazy_tiny").source == "wtko-lazy-plugin"
    assert "wtko_lazy_plugin" not in sys.modules  # listing names imports nothing
    func = reg.get("attributions", "lazy_tiny")
    assert "wtko_lazy_plugin" in sys.modules and sys.modules["wtko_lazy_plugin"].IMPORTED
    assert func.wtko_info.stochastic and not func.wtko_info.hypothetical
    # built-ins come through the same mechanism
    assert "attribution_set" in reg.names("readers")
    assert reg.entry("readers", "npz_pair").source == "wtko-captum"


def test_clash_between_two_distributions_is_resolved_by_qualified_names(on_path):
    install_plugin(on_path, dist="wtko-tiny-a", module="wtko_tiny_a",
                   entries={"wtko_captum.attributions": {"dup": "wtko_tiny_a:tiny"}})
    install_plugin(on_path, dist="wtko-tiny-b", module="wtko_tiny_b",
                   entries={"wtko_captum.attributions": {"dup": "wtko_tiny_b:tiny"}})
    reg = Registry()
    with pytest.raises(PluginError) as exc:
        reg.get("attributions", "dup")
    msg = str(exc.value)
    assert "several packages" in msg and "wtko-tiny-a:dup" in msg and "wtko-tiny-b:dup" in msg
    assert "wtko-tiny-a:dup" in reg.clashes()[("attributions", "dup")]
    # each is reachable by its qualified name
    assert reg.get("attributions", "wtko-tiny-a:dup").__module__ == "wtko_tiny_a"
    assert reg.get("attributions", "wtko-tiny-b:dup").__module__ == "wtko_tiny_b"
    # other plugins keep working
    assert reg.get("readers", "attribution_set").__name__ == "read_attribution_set"
    # a runtime registration under a taken name is an error
    with pytest.raises(PluginError, match="clash"):
        reg.add("readers", "npz_pair", lambda p: None)


def test_third_party_name_clash_never_disables_a_builtin(on_path):
    install_plugin(on_path, dist="wtko-tiny-c", module="wtko_tiny_c",
                   entries={"wtko_captum.attributions": {"saliency": "wtko_tiny_c:tiny"}})
    reg = Registry()
    from wtko_captum.attribution.methods.saliency import saliency

    assert reg.get("attributions", "saliency") is saliency
    assert reg.get("attributions", "wtko-captum:saliency") is saliency
    assert reg.get("attributions", "wtko-tiny-c:saliency").__module__ == "wtko_tiny_c"
    assert "means wtko-captum:saliency" in reg.clashes()[("attributions", "saliency")]


def test_unknown_name_lists_available(registry):
    registry.add("attributions", "alpha_method", lambda model, X, args=None: X)
    with pytest.raises(PluginError) as exc:
        registry.get("attributions", "alpah_method")
    assert "available:" in str(exc.value) and "alpha_method" in str(exc.value)


def test_broken_plugin_import_is_a_plugin_error(on_path):
    install_plugin(on_path, dist="wtko-tiny-broken", module="wtko_tiny_broken",
                   entries={"wtko_captum.attributions": {"broken": "wtko_tiny_broken:missing"}})
    reg = Registry()
    with pytest.raises(PluginError, match="broken.*wtko-tiny-broken.*failed to import"):
        reg.get("attributions", "broken")


def test_third_party_method_listed_and_run_from_the_cli(tmp_path):
    """`wtko plugins list` shows tiny and `wtko attribute --method tiny` runs it, with tiny
    installed only through its entry point (a *.dist-info on PYTHONPATH)."""
    model_path, data, _ = make_prepared(tmp_path)
    site = install_plugin(tmp_path / "site")
    proc = run_wtko(["plugins", "list", "++",
                     "attribute", model_path, data, "--method", "tiny", "--target", "WT",
                     "--chunk-size", "8", "--seed", "3", "-o", tmp_path / "attr", "-q"], pythonpath=site)
    out = proc.stdout
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("tiny "))
    assert "wtko_tiny_plugin:tiny" in line and "(wtko-tiny-plugin)" in line
    assert "[projected, stochastic]" in line
    for name in ("attribution_set", "npz_pair", "torch_tensors", "wtko_cnn"):
        assert name in out
    from wtko_captum.core.attribution_set import AttributionSet
    from wtko_captum.attribution.attribute_prepared import chunk_seed
    from wtko_captum.core.checkpoint import load_model
    from wtko_captum.core.dataset import load_prepared

    aset = AttributionSet.load(tmp_path / "attr" / "tiny")
    assert aset.method == "tiny" and aset.hypothetical is False and aset.target == 1
    assert aset.model_identity == load_model(model_path).identity
    # recompute in-process with the same per-chunk seeds: identical
    sys.path.insert(0, str(site))
    try:
        import wtko_tiny_plugin
    finally:
        sys.path.remove(str(site))
    part = load_prepared(data).split("test")
    model = load_model(model_path)
    X = torch.from_numpy(part.X)
    want = torch.cat([wtko_tiny_plugin.tiny(model, X[s:s + 8], target=1, random_state=chunk_seed(3, i))
                      for i, s in enumerate(range(0, len(X), 8))])
    np.testing.assert_array_equal(aset.attr, want.numpy())
    np.testing.assert_array_equal(aset.X, part.X)
    assert list(aset.regions["name"]) == list(part.regions["name"])
    del sys.modules["wtko_tiny_plugin"]


def test_cli_unknown_method_is_one_line_error(tmp_path, capsys):
    from wtko_captum.cli import main

    model_path, data, _ = make_prepared(tmp_path)
    rc = main(["attribute", str(model_path), str(data), "--method", "nosuch", "-o", str(tmp_path / "a")])
    err = capsys.readouterr().err
    assert rc == 2
    assert "unknown attribution method 'nosuch'; available:" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "a").exists()


def _installed_methods():
    from wtko_captum.core.registry import get_registry

    return get_registry().names("attributions")


@pytest.mark.parametrize("name", _installed_methods())
def test_every_installed_method_passes_the_contract(name):
    """Built-in methods register through entry points and obey the method contract."""
    from attr_helpers import make_model
    from conftest import random_onehot
    from wtko_captum.attribution.contract import check_method
    from wtko_captum.core.registry import get_registry

    func = get_registry().get("attributions", name)
    X = torch.from_numpy(random_onehot(3, 120, seed=11))
    report = check_method(func, make_model(120), X, target=1)
    assert {"shape", "dtype", "device", "finite", "deterministic under a seed",
            "tangermeme.marginalize"} <= set(report["checks"])
