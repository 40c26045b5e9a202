"""wtko plugins: what is installed in each plugin group."""
from __future__ import annotations

HELP = "list installed plugins: models, attribution methods, exporters, readers, motif finders, commands"
STAGE = "plugins"
DESCRIPTION = """List every plugin found through the wtko_captum.* entry-point groups, with the
distribution that provides it and what it declares (hypothetical or projected scores, what an
exporter accepts, what a reader reads). Built-ins are registered exactly like third-party
plugins; a package adds, say, an attribution method with

  [project.entry-points."wtko_captum.attributions"]
  my_method = "my_pkg.module:my_method"

A name that two packages provide is reported once here: this project's keeps the plain name,
the other is reached by its qualified name DIST:NAME (e.g. --method my-dist:saliency).
The README's "Write a plugin" section has a complete example for each group.

examples:
  wtko plugins
  wtko plugins --kind exporters
"""


def add_arguments(p):
    from wtko_captum.core.registry import GROUPS

    p.add_argument("action", nargs="?", default="list", choices=["list"], help="(default: list)")
    p.add_argument("--kind", choices=list(GROUPS), help="only this kind")


def _describe(kind, obj) -> str:
    info = getattr(obj, "wtko_info", None)
    if kind == "attributions" and info is not None:
        parts = ["hypothetical" if info.hypothetical else "projected"]
        parts += ["needs layer"] if info.needs_layer else []
        parts += ["stochastic"] if info.stochastic else []
        return f"  [{', '.join(parts)}]"
    if kind == "exporters" and info is not None:
        return f"  [accepts {', '.join(info.accepts) or 'anything'}]"
    if kind == "readers" and info is not None:
        return f"  [reads {info.kind}]"
    if kind == "motif_finders" and info is not None:
        return f"  [input: {info.input}]"
    if kind == "commands":
        return f"  [{getattr(obj, 'STAGE', 'plugins')}]"
    return ""


def run(args) -> int:
    from wtko_captum.core.registry import GROUPS, get_registry

    reg = get_registry()
    clashes = reg.clashes()
    for kind in [args.kind] if args.kind else list(GROUPS):
        print(f"{kind} ({GROUPS[kind]}):")
        entries = reg.entries(kind)
        if not entries:
            print("  (none)")
        for e in entries:
            name = e.name if not (kind, e.name) in clashes or reg.entry(kind, e.name) is e else e.qualified
            try:
                flags = _describe(kind, e.load())
            except Exception as exc:  # a broken plugin must not hide the others
                flags = f"  [failed to import: {type(exc).__name__}: {exc}]"
            print(f"  {name:<28} {e.target_name}  ({e.source}){flags}")
    if clashes:
        print("name clashes:")
        for msg in clashes.values():
            print(f"  {msg}")
    return 0
