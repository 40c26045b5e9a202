"""wtko plugins: what is installed in each plugin group."""
from __future__ import annotations

NAME = "plugins"
HELP = "list installed plugins (attribution methods, exporters, readers, models)"
ORDER = 90
DESCRIPTION = """List every plugin found through the wtko_captum.* entry-point groups.

Built-ins are registered exactly like third-party plugins; a package adds a method with
  [project.entry-points."wtko_captum.attributions"]
  my_method = "my_pkg.module:my_method"
"""


def add_arguments(p):
    p.add_argument("action", nargs="?", default="list", choices=["list"], help="(default: list)")
    p.add_argument("--kind", choices=["attributions", "exporters", "readers", "models"],
                   help="only this kind")


def run(args) -> int:
    from wtko_captum.core.registry import GROUPS, get_registry

    reg = get_registry()
    for kind in [args.kind] if args.kind else list(GROUPS):
        print(f"{kind} ({GROUPS[kind]}):")
        entries = reg.entries(kind)
        if not entries:
            print("  (none)")
        for e in entries:
            flags = ""
            if kind == "attributions":
                try:
                    info = getattr(e.load(), "wtko_info", None)
                except Exception as exc:  # a broken plugin must not hide the others
                    flags = f"  [failed to import: {type(exc).__name__}: {exc}]"
                else:
                    if info is not None:
                        parts = ["hypothetical" if info.hypothetical else "projected"]
                        parts += ["needs layer"] if info.needs_layer else []
                        parts += ["stochastic"] if info.stochastic else []
                        flags = f"  [{', '.join(parts)}]"
            print(f"  {e.name:<24} {e.target_name}  ({e.source}){flags}")
        for (k, name), msg in sorted(reg.clashes().items()):
            if k == kind:
                print(f"  {name:<24} ERROR: {msg}")
    return 1 if reg.clashes() else 0
