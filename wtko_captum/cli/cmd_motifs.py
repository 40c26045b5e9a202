"""wtko motifs --finder NAME: find motifs with any registered motif finder."""
from __future__ import annotations

HELP = "find motifs with any registered motif finder (kmers, filters, modisco, neurons, plugins')"
STAGE = "motifs"
DESCRIPTION = """Run one motif finder of the `wtko_captum.motif_finders` plugin group on its input and
write its motifs (a MEME file among its outputs) to -o DIR. `wtko plugins` lists the finders;
each takes either attributions (any file or directory an attribution reader claims) or a
trained model (then give the prepared data with --data where the finder needs sequences).

The finder's own options come after its INPUT: `wtko motifs --finder NAME --help` lists them.
A finder of attributions that names its motif file also runs on each class's sequences alone
(--by-class; the default when the sequences belong to two or more classes), into
OUT/by_class/<class>/, and OUT/classes.md lists each class's primary and secondary motifs
with a usage check (see `wtko kmers --help`).
The commands `wtko kmers`, `wtko filters` and `wtko modisco` are the same finders with
hand-written options.

examples:
  wtko motifs --finder kmers attr/saliency -o kmers/ --k 20 --top 3
  wtko motifs --finder modisco attr/deeplift_shap -o modisco/ --max-seqlets 5000
  wtko motifs --finder filters model/ --data data/ -o filters/
  wtko motifs --finder my_finder attr/deeplift_shap -o mine/
"""
ADD_HELP = False  # `--help` after --finder NAME shows that finder's options too
ACCEPTS_EXTRA = True  # the finder's options are parsed once the finder is known


def add_arguments(p):
    from wtko_captum.cli.options import add_by_class, add_out

    p.add_argument("-h", "--help", action="store_true", help="show this help (with --finder: its options)")
    p.add_argument("--finder", help="the motif finder (see `wtko plugins --kind motif_finders`)")
    p.add_argument("input", nargs="?", help="attributions, or a model for finders that take one")
    add_out(p, "output directory", required=False)
    add_by_class(p)


def finder_parser(name: str, finder):
    """The parser of one finder's options, from its signature and docstring."""
    import argparse

    from wtko_captum.cli.options import HelpFormatter, add_signature_options
    from wtko_captum.core.registry import FinderInfo

    info = getattr(finder, "wtko_info", None) or FinderInfo()
    q = argparse.ArgumentParser(prog=f"wtko motifs --finder {name}", formatter_class=HelpFormatter,
                                description=f"{info.description}\n\ninput: {info.input}", add_help=False)
    names = add_signature_options(q, finder, skip=(), group_title=f"{name} options")
    return q, names, info


def run(args) -> int:
    import logging

    from wtko_captum.core.errors import InputError
    from wtko_captum.core.readers import read
    from wtko_captum.core.registry import get_registry

    reg = get_registry()
    if args.finder is None:
        if args.help:
            print(args._parser.format_help())
            print("finders: " + ", ".join(reg.names("motif_finders")))
            return 0
        raise InputError("give --finder NAME; installed finders: " + ", ".join(reg.names("motif_finders")))
    finder = reg.get("motif_finders", args.finder)
    q, names, info = finder_parser(args.finder, finder)
    if args.help:
        print(args._parser.format_help())
        print(q.format_help())
        return 0
    opts = q.parse_args(args._extra)
    if args.input is None or args.out is None:
        raise InputError("give the finder's INPUT and -o/--out DIR")
    source = read(args.input, kind="attributions") if info.input == "attributions" else args.input
    options = {n: getattr(opts, n) for n in names}
    result = finder(source, args.out, **options)
    paths = result.get("paths") if isinstance(result, dict) else getattr(result, "paths", None)
    logging.getLogger("wtko_captum").info("%s: wrote %s%s", args.finder, args.out,
                                          f" ({len(paths)} files)" if paths else "")
    from wtko_captum.motifs.classes import find_by_class, n_conditions, report

    wanted = args.by_class if args.by_class is not None else (
        info.input == "attributions" and bool(info.motifs) and n_conditions(source) >= 2)
    if wanted:
        from wtko_captum.cli.options import by_class_options

        res = find_by_class(args.finder, source, args.out, **by_class_options(args), **options)
        if not args.quiet:
            print(report(res))
    return 0
