"""The plugin registry: one entry-point group per kind of plugin, resolved lazily.

The core finds every plugin here, its own built-ins included: they register through the same
entry points as a third-party package (``pyproject.toml``). An entry is a ``"module:attr"``
string (or a bare module, for commands) imported only when first used.

Names. A plugin is reached by its plain name (``ism``) or qualified by the distribution that
provides it (``wtko-tangermeme-plugin:ism``). When two distributions claim one name, the one
from this project (the core or a first-party plugin) keeps the plain name and the other is
reached only by its qualified name; between two third parties the plain name is ambiguous and
the error lists both qualified names. Nothing is disabled silently: ``wtko plugins`` reports
every clash.

Tests isolate the registry with :func:`use_registry` (the ``registry`` pytest fixture).
"""
from __future__ import annotations

import contextlib
import importlib
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable

from wtko_captum.core.errors import PluginError

GROUPS = {
    "models": "wtko_captum.models",
    "attributions": "wtko_captum.attributions",
    "exporters": "wtko_captum.exporters",
    "readers": "wtko_captum.readers",
    "motif_finders": "wtko_captum.motif_finders",
    "commands": "wtko_captum.commands",
    "track_types": "wtko_captum.track_types",
}
SINGULAR = {"models": "model", "attributions": "attribution method", "exporters": "exporter",
            "readers": "reader", "motif_finders": "motif finder", "commands": "command",
            "track_types": "track type"}

CORE_DIST = "wtko-captum"
#: first-party plugin distributions and the folder of this repository each installs from
FIRST_PARTY = {
    "wtko-tangermeme-plugin": "plugins/wtko_tangermeme",
    "wtko-modisco-plugin": "plugins/wtko_modisco",
    "wtko-pgt-plugin": "plugins/wtko_pgt",
}
#: what each first-party plugin provides, so that a missing one is named with its install hint
PROVIDED_BY = {
    ("attributions", "ism"): "wtko-tangermeme-plugin",
    ("attributions", "deeplift_shap_tangermeme"): "wtko-tangermeme-plugin",
    ("commands", "insert"): "wtko-tangermeme-plugin",
    ("commands", "ablate"): "wtko-tangermeme-plugin",
    ("commands", "modisco"): "wtko-modisco-plugin",
    ("motif_finders", "modisco"): "wtko-modisco-plugin",
    ("exporters", "modisco"): "wtko-modisco-plugin",
    ("readers", "modisco_results"): "wtko-modisco-plugin",
    ("track_types", "attribution_logo"): "wtko-pgt-plugin",
}


def install_hint(dist: str) -> str:
    """How to install a first-party plugin distribution."""
    folder = FIRST_PARTY.get(dist)
    where = f" (from a checkout of wtko-captum: pip install -e {folder})" if folder else ""
    return f"pip install {dist}{where}"


# ---- what a plugin declares about itself ---------------------------------------------------
@dataclass(frozen=True)
class MethodInfo:
    """What an attribution method declares about itself.

    hypothetical: scores every base at every position (``(N,4,L)`` where the unobserved
        bases also carry a score), rather than only the observed base (projected).
    needs_layer: takes a ``layer=`` argument (e.g. Grad-CAM).
    stochastic: depends on ``seed`` (e.g. shuffled references).
    layer_rules: propagates through a rule per layer (DeepLIFT) and so refuses a model with a
        layer it has no rule for; methods without it work on any differentiable model.
    """

    hypothetical: bool = True
    needs_layer: bool = False
    stochastic: bool = False
    description: str = ""
    layer_rules: bool = False


def _first_line(func) -> str:
    return (func.__doc__ or "").strip().split("\n")[0]


def attribution_method(*, hypothetical=True, needs_layer=False, stochastic=False, description="",
                       layer_rules=False):
    """Decorator declaring an attribution method's capabilities (stored as ``func.wtko_info``).

    A method has the tangermeme call form ``func(model, X, args=None, **options)`` and returns a
    CPU float32 tensor ``(N, 4, L)``.
    """

    def mark(func: Callable) -> Callable:
        func.wtko_info = MethodInfo(hypothetical, needs_layer, stochastic, description or _first_line(func),
                                    layer_rules)
        return func

    return mark


@dataclass(frozen=True)
class ExporterInfo:
    """What an exporter writes from: ``accepts`` names the inputs it takes (``attributions``:
    AttributionSets or directories; ``motifs``: ``{key: (L,4) matrix}`` or a motif file;
    ``intervals``: a table of intervals; ``tracks``: a tracks directory; ``modisco``: a
    modisco results directory)."""

    accepts: tuple[str, ...] = ()
    description: str = ""


def exporter(*, accepts, description=""):
    """Decorator for a writer ``write(obj, out, **options) -> list of paths written``."""

    def mark(func: Callable) -> Callable:
        acc = (accepts,) if isinstance(accepts, str) else tuple(accepts)
        func.wtko_info = ExporterInfo(acc, description or _first_line(func))
        return func

    return mark


@dataclass(frozen=True)
class ReaderInfo:
    """A reader turns a path into ``kind`` (``attributions``: an AttributionSet; ``motifs``:
    ``{key: (L,4) probability matrix}``). ``claim(path) -> bool`` says whether it reads it."""

    kind: str
    claim: Callable
    description: str = ""


def reader(*, kind, claim, description=""):
    """Decorator for ``read(path) -> object``, with ``claim(path) -> bool`` checked first."""
    if kind not in ("attributions", "motifs"):
        raise PluginError(f"reader kind must be 'attributions' or 'motifs', got {kind!r}")

    def mark(func: Callable) -> Callable:
        func.wtko_info = ReaderInfo(kind, claim, description or _first_line(func))
        return func

    return mark


@dataclass(frozen=True)
class FinderInfo:
    """A motif finder's input: ``attributions`` (an AttributionSet) or ``model`` (a checkpoint
    with prepared data, e.g. first-layer filters)."""

    input: str = "attributions"
    description: str = ""


def motif_finder(*, input="attributions", description=""):
    """Decorator for ``find(source, out, **options) -> dict`` (a motif finder)."""

    def mark(func: Callable) -> Callable:
        func.wtko_info = FinderInfo(input, description or _first_line(func))
        return func

    return mark


# ---- the registry --------------------------------------------------------------------------
@dataclass
class Entry:
    kind: str
    name: str
    target: Any  # "module:attr" or "module" string, or the object itself (runtime registrations)
    source: str  # distribution that provides it, or "runtime"
    _obj: Any = field(default=None, repr=False)

    @property
    def qualified(self) -> str:
        return f"{self.source}:{self.name}"

    @property
    def ours(self) -> bool:
        """Provided by this project (the core or a first-party plugin)."""
        return self.source == CORE_DIST or self.source in FIRST_PARTY

    def load(self):
        if self._obj is None:
            if isinstance(self.target, str):
                module, _, attr = self.target.partition(":")
                obj = importlib.import_module(module)
                for part in attr.split(".") if attr else []:
                    obj = getattr(obj, part)
                self._obj = obj
            else:
                self._obj = self.target
        return self._obj

    @property
    def target_name(self) -> str:
        if isinstance(self.target, str):
            return self.target
        return f"{getattr(self.target, '__module__', '?')}:{getattr(self.target, '__qualname__', '?')}"


class Registry:
    """Plugins by kind and name. ``Registry()`` discovers installed entry points on first use;
    ``Registry(discover=False)`` starts empty (for tests)."""

    def __init__(self, discover: bool = True):
        self._entries: dict[str, dict[str, list[Entry]]] = {kind: {} for kind in GROUPS}
        self._discovered = not discover

    def _ensure(self):
        if not self._discovered:
            self._discovered = True
            for kind, group in GROUPS.items():
                for ep in entry_points(group=group):
                    dist = getattr(getattr(ep, "dist", None), "name", None) or "unknown"
                    self._insert(Entry(kind, ep.name, ep.value, dist))

    def _insert(self, entry: Entry) -> Entry:
        providers = self._entries[entry.kind].setdefault(entry.name, [])
        for old in providers:
            if old.source == entry.source:
                if isinstance(entry.target, str) and old.target == entry.target:
                    return old  # the same distribution seen twice on sys.path
                raise PluginError(f"{entry.source} registers {SINGULAR[entry.kind]} {entry.name!r} twice "
                                  f"({old.target_name} and {entry.target_name})")
        providers.append(entry)
        return entry

    def add(self, kind: str, name: str, target, source: str = "runtime") -> Entry:
        """Register ``target`` (a ``"module:attr"`` string or an object) as ``name``.

        At run time a taken name is an error: register under another name.
        """
        if kind not in self._entries:
            raise PluginError(f"unknown plugin kind {kind!r}; kinds: {', '.join(GROUPS)}")
        self._ensure()
        taken = self._entries[kind].get(name)
        if taken:
            raise PluginError(f"plugin clash: {SINGULAR[kind]} {name!r} is already provided by "
                              f"{taken[0].source} ({taken[0].target_name}); register it under another name")
        return self._insert(Entry(kind, name, target, source))

    def copy(self) -> "Registry":
        """An independent registry with the same entries (what a test adds does not leak)."""
        self._ensure()
        reg = Registry(discover=False)
        for kind, by_name in self._entries.items():
            for es in by_name.values():
                for e in es:
                    reg._insert(Entry(e.kind, e.name, e.target, e.source))
        return reg

    def entries(self, kind: str) -> list[Entry]:
        """Every entry of ``kind``, clashing ones included, sorted by name then provider."""
        self._ensure()
        return sorted((e for es in self._entries[kind].values() for e in es),
                      key=lambda e: (e.name, not e.ours, e.source))

    def names(self, kind: str) -> list[str]:
        """The plain names of ``kind`` (a clashing name once)."""
        self._ensure()
        return sorted(self._entries[kind])

    def clashes(self) -> dict[tuple[str, str], str]:
        """``{(kind, name): message}`` for every name that several distributions claim."""
        self._ensure()
        out = {}
        for kind, by_name in self._entries.items():
            for name, es in by_name.items():
                if len(es) > 1:
                    es = sorted(es, key=lambda e: (not e.ours, e.source))
                    winner = self._plain_winner(es)
                    quals = ", ".join(e.qualified for e in es)
                    how = (f"{name!r} means {winner.qualified}; use the qualified name for the others"
                           if winner else f"{name!r} is ambiguous; use a qualified name")
                    out[(kind, name)] = f"{SINGULAR[kind]} {name!r} is provided by {quals}: {how}"
        return out

    @staticmethod
    def _plain_winner(es: list[Entry]) -> Entry | None:
        ours = [e for e in es if e.ours]
        return ours[0] if len(ours) == 1 else (es[0] if len(es) == 1 else None)

    def entry(self, kind: str, name: str) -> Entry:
        self._ensure()
        name = str(name)
        by_name = self._entries[kind]
        dist, sep, plain = name.rpartition(":")
        if sep and plain in by_name:
            for e in by_name[plain]:
                if e.source == dist:
                    return e
        es = by_name.get(name)
        if es:
            winner = self._plain_winner(es)
            if winner is None:
                es = sorted(es, key=lambda e: e.source)
                raise PluginError(f"{SINGULAR[kind]} {name!r} is provided by several packages: "
                                  f"{', '.join(e.qualified for e in es)}; choose one by its qualified name")
            return winner
        raise PluginError(self.unknown_message(kind, name))

    def unknown_message(self, kind: str, name: str) -> str:
        dist = PROVIDED_BY.get((kind, name.rpartition(":")[2]))
        if dist is not None:
            return (f"{SINGULAR[kind]} {name!r} comes with the plugin {dist}, which is not "
                    f"installed: {install_hint(dist)}")
        available = ", ".join(self.names(kind)) or "none installed"
        return f"unknown {SINGULAR[kind]} {name!r}; available: {available}"

    def get(self, kind: str, name: str):
        """The plugin object (imported on first use).

        An import failure of a plugin is reported as :class:`PluginError` naming the plugin
        and its provider, not as a traceback from deep inside the other package.
        """
        entry = self.entry(kind, name)
        try:
            obj = entry.load()
        except (ImportError, AttributeError) as exc:
            raise PluginError(
                f"{SINGULAR[kind]} {name!r} from {entry.source} ({entry.target_name}) failed to "
                f"import: {type(exc).__name__}: {exc}"
            ) from exc
        return obj


_current = Registry()


def get_registry() -> Registry:
    """The registry in use (the installed entry points, unless a test swapped it)."""
    return _current


@contextlib.contextmanager
def use_registry(reg: Registry):
    """Temporarily make ``reg`` the registry in use."""
    global _current
    old, _current = _current, reg
    try:
        yield reg
    finally:
        _current = old
