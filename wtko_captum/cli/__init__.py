"""The ``wtko`` command: a thin shell over the library.

Each subcommand lives in ``wtko_captum/cli/cmd_<verb>.py`` and defines ``NAME``, ``HELP``,
``ORDER`` (position in ``--help``), ``add_arguments(parser)`` and ``run(args) -> int``.
Modules are discovered by name, so adding a command is adding a file.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from wtko_captum.core.errors import WtkoError

log = logging.getLogger("wtko_captum")

EPILOG = """\
typical run:
  wtko prepare --wt WT.narrowPeak --ko KO.narrowPeak --genome mm10.fa -o data/
  wtko train data/ -o model/
  wtko evaluate model/model.pt data/ -o eval/
  wtko demo                  # the whole pipeline on bundled real data

`wtko COMMAND --help` explains each command's inputs, outputs and defaults."""


def _command_modules():
    import wtko_captum.cli as pkg

    mods = []
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("cmd_"):
            mods.append(importlib.import_module(f"wtko_captum.cli.{info.name}"))
    return sorted(mods, key=lambda m: (getattr(m, "ORDER", 100), m.NAME))


def build_parser() -> argparse.ArgumentParser:
    from wtko_captum import __version__

    parser = argparse.ArgumentParser(
        prog="wtko",
        description="Explain DNA-sequence CNNs that tell WT-specific from KO-specific peaks, "
        "and put the explanations in genome browsers (bigWig, IGV, pyGenomeTracks) and the "
        "MEME suite (MEME motifs, Tomtom against JASPAR, TF-MoDISco-lite).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"wtko-captum {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        add_verbosity(p)
        p.set_defaults(_run=mod.run)
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
    for noisy in ("numexpr", "matplotlib", "numba", "h5py", "PIL"):  # chatty third-party loggers
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 1
    _setup_logging(args)
    try:
        return int(args._run(args) or 0)
    except WtkoError as exc:
        print(f"wtko {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"wtko {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
