"""The ``wtko`` command: a thin shell over the library.

Every subcommand, the core's own included, is a plugin of the ``wtko_captum.commands``
entry-point group: a module with ``HELP`` (one line), ``STAGE`` (its group in ``wtko --help``),
``DESCRIPTION`` (the command's ``--help``: what it does, its outputs, examples),
``add_arguments(parser)`` and ``run(args) -> int``. The entry-point name is the command name.
A plugin's command appears in ``wtko --help`` beside the built-ins; a command whose plugin is
missing is a one-line error naming the package to install.
"""
from __future__ import annotations

import argparse
import logging
import sys

from wtko_captum.core.errors import PluginError, WtkoError

log = logging.getLogger("wtko_captum")

#: stages in pipeline order: the groups of ``wtko --help``
STAGES = {
    "data": "prepare data",
    "model": "train and evaluate models",
    "explain": "explain predictions",
    "tracks": "tracks for genome browsers",
    "motifs": "motifs",
    "report": "reports",
    "pipeline": "whole pipelines",
    "plugins": "plugins",
}

EPILOG = """\
typical run:
  wtko prepare --wt WT.narrowPeak --ko KO.narrowPeak --genome mm10.fa -o data/
  wtko train data/ -o model/
  wtko attribute model/model.pt data/ --method saliency,deeplift_shap -o attr/
  wtko demo                  # the whole pipeline on bundled real data

`wtko COMMAND --help` explains each command's inputs, outputs and defaults."""


class Parser(argparse.ArgumentParser):
    """A usage error is one line (what is wrong, where to read more) and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _load_commands():
    """``[(name, module or None, error or None)]`` for every registered command."""
    from wtko_captum.core.registry import get_registry

    reg = get_registry()
    out = []
    for name in reg.names("commands"):
        try:
            out.append((name, reg.get("commands", name), None))
        except PluginError as exc:  # a broken plugin must not take the other commands down
            out.append((name, None, str(exc)))
    return out


def _overview(commands) -> str:
    by_stage: dict[str, list[str]] = {}
    width = max([len(n) for n, _, _ in commands] + [8])
    for name, mod, err in commands:
        stage = getattr(mod, "STAGE", "plugins") if mod is not None else "plugins"
        text = getattr(mod, "HELP", "") if mod is not None else f"(unavailable: {err})"
        by_stage.setdefault(stage if stage in STAGES else "plugins", []).append(f"    {name:<{width}}  {text}")
    lines = ["commands:"]
    for stage, title in STAGES.items():
        if stage in by_stage:
            lines += [f"  {title}:", *sorted(by_stage[stage])]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    from wtko_captum import __version__
    from wtko_captum.cli.options import HelpFormatter

    commands = _load_commands()
    parser = Parser(
        prog="wtko",
        description="Explain DNA-sequence CNNs that tell WT-specific from KO-specific peaks, "
        "and put the explanations in genome browsers (bigWig, IGV, pyGenomeTracks) and the "
        "MEME suite (MEME motifs, Tomtom against JASPAR, TF-MoDISco-lite).\n\n" + _overview(commands),
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"wtko-captum {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name, mod, err in commands:
        if mod is None:
            p = sub.add_parser(name, description=err, formatter_class=HelpFormatter)
            p.set_defaults(_error=err)
            continue
        p = sub.add_parser(name, description=getattr(mod, "DESCRIPTION", mod.HELP), formatter_class=HelpFormatter,
                           add_help=getattr(mod, "ADD_HELP", True))
        try:
            mod.add_arguments(p)
        except Exception as exc:  # a plugin's broken command must not take `wtko` down
            if getattr(mod, "__name__", "").startswith("wtko_captum."):
                raise
            p.set_defaults(_error=f"command {name!r} ({mod.__name__}) is broken: {type(exc).__name__}: {exc}")
            continue
        add_verbosity(p)
        p.set_defaults(_run=mod.run, _parser=p, _accepts_extra=getattr(mod, "ACCEPTS_EXTRA", False))
    return parser


def add_verbosity(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("output")
    if not any(a.dest == "quiet" for a in p._actions):
        g.add_argument("-q", "--quiet", action="store_true", help="no progress bars, warnings only")
    if not any(a.dest == "verbose" for a in p._actions):
        g.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def _setup_logging(args) -> None:
    level = logging.WARNING if getattr(args, "quiet", False) else logging.INFO
    if getattr(args, "verbose", False):
        level = logging.DEBUG
    logging.basicConfig(level=level, format="%(message)s", stream=sys.stderr, force=True)
    for noisy in ("numexpr", "matplotlib", "numba", "h5py", "PIL", "distributed", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _missing_command(argv) -> str | None:
    """The install hint when ``argv`` names a command whose plugin is not installed."""
    from wtko_captum.core.registry import PROVIDED_BY, get_registry

    first = next((a for a in argv if not a.startswith("-")), None)
    if first is None or (("commands", first) not in PROVIDED_BY):
        return None
    if first in get_registry().names("commands"):
        return None
    return get_registry().unknown_message("commands", first)


def _input_paths(args) -> list:
    """Every argument value naming an existing file or directory, except the output: what an
    output must never replace."""
    from pathlib import Path

    found = []
    for key, value in vars(args).items():
        if key in ("out", "_extra") or key.startswith("_"):
            continue
        for v in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(v, (str, Path)) and str(v) and Path(v).exists():
                found.append(Path(v))
    return found


def _run(args) -> int:
    """The command under its output rules: its inputs protected, its -o locked."""
    import contextlib

    from wtko_captum.core.atomic import command_context, output_lock

    out = getattr(args, "out", None)
    with command_context(command=args.command, inputs=_input_paths(args), force=getattr(args, "force", False)):
        with output_lock(out, wait=getattr(args, "wait", False)) if out else contextlib.nullcontext():
            return int(args._run(args) or 0)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    missing = _missing_command(argv)
    if missing:
        print(f"wtko: error: {missing}", file=sys.stderr)
        return 2
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        if not getattr(args, "_accepts_extra", False):
            getattr(args, "_parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
    args._extra = extra
    if getattr(args, "_error", None):
        print(f"wtko {args.command}: error: {args._error}", file=sys.stderr)
        return 2
    if not getattr(args, "_run", None):
        parser.print_help()
        return 1
    _setup_logging(args)
    try:
        return _run(args)
    except WtkoError as exc:
        print(f"wtko {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the disk or the file system refused a write: one line, nothing half-written
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"wtko {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"wtko {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
