"""Plugin registry: one entry-point group per kind, resolved lazily.

Built-in methods, models, exporters and readers register through the same entry points as a
third-party package would (see ``pyproject.toml``). An entry is a ``"module:attr"`` string
that is imported only when first used. Two plugins claiming one name in one kind is an
error, never a silent override; an unknown name lists the available ones.

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
    "attributions": "wtko_captum.attributions",
    "exporters": "wtko_captum.exporters",
    "readers": "wtko_captum.readers",
    "models": "wtko_captum.models",
}


@dataclass(frozen=True)
class MethodInfo:
    """What an attribution method declares about itself.

    hypothetical: scores every base at every position (``(N,4,L)`` where the unobserved
        bases also carry a score), rather than only the observed base (projected).
    needs_layer: takes a ``layer=`` argument (e.g. Grad-CAM).
    stochastic: depends on ``random_state`` (e.g. shuffled references).
    """

    hypothetical: bool = True
    needs_layer: bool = False
    stochastic: bool = False
    description: str = ""


def attribution_method(*, hypothetical=True, needs_layer=False, stochastic=False, description=""):
    """Decorator declaring an attribution method's capabilities (stored as ``func.wtko_info``).

    A method has the tangermeme call form ``func(model, X, args=None, **options)`` and returns a
    CPU float32 tensor ``(N, 4, L)``.
    """

    def mark(func: Callable) -> Callable:
        desc = description or (func.__doc__ or "").strip().split("\n")[0]
        func.wtko_info = MethodInfo(hypothetical, needs_layer, stochastic, desc)
        return func

    return mark


@dataclass
class Entry:
    kind: str
    name: str
    target: Any  # "module:attr" string, or the object itself for runtime registrations
    source: str  # distribution that provides it, or "runtime"
    _obj: Any = field(default=None, repr=False)

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
        self._entries: dict[str, dict[str, Entry]] = {kind: {} for kind in GROUPS}
        # (kind, name) -> message, for names two installed distributions both claim
        self._clashes: dict[tuple[str, str], str] = {}
        self._discovered = not discover

    def _ensure(self):
        if not self._discovered:
            self._discovered = True
            for kind, group in GROUPS.items():
                for ep in entry_points(group=group):
                    dist = getattr(getattr(ep, "dist", None), "name", None) or "unknown"
                    try:
                        self.add(kind, ep.name, ep.value, dist)
                    except PluginError as exc:
                        # One broken third-party package must not disable every command: the
                        # clashing name becomes unusable (an error naming both providers) and
                        # `wtko plugins list` reports it; every other plugin keeps working.
                        self._clashes[(kind, ep.name)] = str(exc)

    def clashes(self) -> dict[tuple[str, str], str]:
        """``{(kind, name): message}`` for names claimed by two installed distributions."""
        self._ensure()
        return dict(self._clashes)

    def add(self, kind: str, name: str, target, source: str = "runtime") -> Entry:
        """Register ``target`` (a ``"module:attr"`` string or an object) as ``name``.

        Raises :class:`PluginError` when another source already provides ``name``.
        """
        if kind not in self._entries:
            raise PluginError(f"unknown plugin kind {kind!r}; kinds: {', '.join(GROUPS)}")
        old = self._entries[kind].get(name)
        if old is not None:
            same = isinstance(target, str) and old.target == target and old.source == source
            if same:  # the same distribution seen twice on sys.path
                return old
            raise PluginError(
                f"plugin clash: {kind} {name!r} is provided by both {old.source} "
                f"({old.target_name}) and {source}; uninstall one of them"
            )
        entry = Entry(kind, name, target, source)
        self._entries[kind][name] = entry
        return entry

    def entries(self, kind: str) -> list[Entry]:
        self._ensure()
        return sorted(self._entries[kind].values(), key=lambda e: e.name)

    def names(self, kind: str) -> list[str]:
        return [e.name for e in self.entries(kind)]

    def entry(self, kind: str, name: str) -> Entry:
        self._ensure()
        if (kind, name) in self._clashes:
            raise PluginError(self._clashes[(kind, name)])
        try:
            return self._entries[kind][name]
        except KeyError:
            available = ", ".join(self.names(kind)) or "none installed"
            raise PluginError(f"unknown {kind[:-1]} {name!r}; available: {available}") from None

    def get(self, kind: str, name: str):
        """The plugin object (imported on first use).

        An import failure of a plugin is reported as :class:`PluginError` naming the plugin
        and its provider, not as a traceback from deep inside the other package.
        """
        entry = self.entry(kind, name)
        try:
            return entry.load()
        except (ImportError, AttributeError) as exc:
            raise PluginError(
                f"{kind[:-1]} {name!r} from {entry.source} ({entry.target_name}) failed to "
                f"import: {type(exc).__name__}: {exc}"
            ) from exc


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
