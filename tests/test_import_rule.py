"""The import rule, read from the code itself: the core reaches plugins only through the
registry, plugins use only public core names, and the stages form layers without cycles."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_PACKAGES = {p.name for p in (ROOT / "plugins").glob("*/*") if (p / "__init__.py").is_file()}
#: the stage layers of wtko_captum, bottom first: a module may import its own layer and lower ones
LAYERS = ["core", "models", "preparation", "training", "attribution", "motifs", "neurons", "scan", "variants",
          "benchmark", "report", "pipeline", "api", "cli"]


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, absolute module)`` of every import in ``path`` (relative ones resolved)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts[1:] if rel.parts[0] == "plugins" else rel.parts)
    package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    if parts[0] in PLUGIN_PACKAGES or rel.parts[0] == "plugins":
        package = parts[1:-1] if rel.parts[0] == "plugins" else package
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((node.lineno, mod))
            out += [(node.lineno, f"{mod}.{a.name}") for a in node.names if mod in ("wtko_captum",)]
    return out


def _files(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def _violations(folder: str, rule) -> list[str]:
    bad = []
    for path in _files(folder):
        for line, mod in _imports(path):
            why = rule(path, mod)
            if why:
                bad.append(f"{path.relative_to(ROOT)}:{line}: imports {mod}: {why}")
    return bad


def _top(mod: str) -> str:
    return mod.split(".")[0]


def test_the_core_never_imports_a_plugin_or_the_exporters_by_name():
    def rule(path, mod):
        if _top(mod) in PLUGIN_PACKAGES:
            return "a plugin package: reach it through the registry"
        if _top(mod) == "track_exporters":
            return "the exporters: use wtko_captum.core.export / core.readers (the registry)"
    assert _violations("wtko_captum", rule) == []


def test_track_exporters_import_only_the_core():
    def rule(path, mod):
        if _top(mod) in PLUGIN_PACKAGES:
            return "a plugin package"
        if _top(mod) == "wtko_captum" and not (mod == "wtko_captum" or mod.startswith("wtko_captum.core")):
            return "only wtko_captum.core is below track_exporters"
    assert _violations("track_exporters", rule) == []


def test_plugins_use_only_public_core_names():
    def rule(path, mod):
        own = path.relative_to(ROOT / "plugins").parts[1]
        if _top(mod) in PLUGIN_PACKAGES and _top(mod) != own:
            return "another plugin package: go through the registry"
        if _top(mod) == "track_exporters":
            return "the exporters: use wtko_captum.api.export"
        if _top(mod) == "wtko_captum":
            if any(part.startswith("_") for part in mod.split(".")[1:]):
                return "a private module of the core"
            if mod.startswith("wtko_captum.models"):
                return "a model's internals: declare a capability on the model instead"
    assert _violations("plugins", rule) == []


def test_stages_are_layers():
    """A module of wtko_captum imports its own stage, lower stages and nothing above."""
    def rule(path, mod):
        parts = path.relative_to(ROOT / "wtko_captum").parts
        here = parts[0].removesuffix(".py") if len(parts) > 1 or parts[0] != "__init__.py" else None
        if here is None or not mod.startswith("wtko_captum."):
            return None
        there = mod.split(".")[1]
        if here not in LAYERS:
            return f"wtko_captum/{here} is not a known stage layer (add it to LAYERS in this test)"
        if there not in LAYERS:
            return None if there in ("data",) or there.startswith("__") else f"unknown stage {there}"
        if LAYERS.index(there) > LAYERS.index(here):
            return f"{here} is below {there}"
    assert _violations("wtko_captum", rule) == []


@pytest.mark.parametrize("package", sorted(PLUGIN_PACKAGES))
def test_every_first_party_plugin_is_its_own_distribution(package):
    import tomllib

    meta = tomllib.loads((ROOT / "plugins" / package / "pyproject.toml").read_text())
    assert "wtko-captum" in meta["project"]["dependencies"]
    groups = [g for g in meta["project"]["entry-points"] if g.startswith("wtko_captum.")]
    assert groups, f"{package} registers no plugin"
    core = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for group, entries in core["project"]["entry-points"].items():
        for target in entries.values():
            assert _top(target) not in PLUGIN_PACKAGES, f"the core registers {target} ({group})"
