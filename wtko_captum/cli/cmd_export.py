"""wtko export NAME: write inputs with any registered exporter (tracks, intervals, motifs...)."""
from __future__ import annotations

HELP = "write attribution tracks (bigWig, bedGraph), intervals (BED), motif files, browser sessions"
STAGE = "tracks"
DESCRIPTION = """Write what the other stages produce in the formats genome browsers and the MEME
suite read, with any registered exporter (`wtko plugins` lists them; a plugin adds its own).
Inputs are read through the registered readers, so attributions made by another pipeline
(a modisco-style X.npz + attr.npz pair, tangermeme tensors, an HDF5 file) work like ours.

  bigwig      per-base attribution tracks from one or more attribution sets (averaged)
  bedgraph    the same tracks as text
  bed         k-mer / seqlet / motif-hit intervals as BED6+ (exact 0-based coordinates)
  meme        motifs as MEME minimal format v4 (Tomtom, FIMO, SEA, memelite)
  homer       motifs as a HOMER .motif file (with a log-odds detection threshold)
  jaspar      motifs as a JASPAR .jaspar count file
  tracks_ini  a pyGenomeTracks tracks.ini for a tracks directory (stock track types)
  igv         an IGV session (+ --batch script snapshotting the top regions)

Tracks: projected (attribution x one-hot, summed: the observed base's signed score),
maxabs (max |attribution| over the 4 bases) and hypothetical (four tracks, A/C/G/T).
Overlapping windows: --overlap mean | max-abs | nearest-summit. N bases and padding past a
chromosome end get no value (a gap, never 0).

examples:
  wtko export bigwig attr/saliency --chrom-sizes hg19.chrom.sizes -o tracks/
  wtko export bigwig attr/seed*/ --genome mm10.fa --tracks projected,hypothetical --overlap max-abs -o tracks/
  wtko export bigwig their_scores.h5 --genome mm10.fa -o tracks/        # another pipeline's file
  wtko export meme MA0099.3.jaspar -o fos_jun.meme                     # convert motif files
  wtko export bed seqlets.tsv --regions attr/saliency --name-col pattern -o seqlets.bed
  wtko export igv tracks/ --genome hg19 --batch snapshots.txt -o session.xml

`wtko export NAME --help` lists that exporter's options.
"""

#: what a CLI input becomes for each kind an exporter accepts
_READ_AS = {"attributions": "attributions", "motifs": "motifs"}
#: options handled here rather than from the writer's signature
_CLI_OWNED = ("progress",)


def add_arguments(p):
    from wtko_captum.cli.options import HelpFormatter, add_out, add_signature_options
    from wtko_captum.core.export import exporter_info, exporter_options
    from wtko_captum.core.registry import get_registry

    sub = p.add_subparsers(dest="exporter", metavar="NAME", required=True, parser_class=type(p))
    reg = get_registry()
    for name in reg.names("exporters"):
        try:
            writer = reg.get("exporters", name)
        except Exception as exc:  # a broken exporter must not hide the others
            q = sub.add_parser(name, help=f"(unavailable: {exc})")
            q.set_defaults(_error=str(exc))
            continue
        info = exporter_info(writer)
        accepts = ", ".join(info.accepts) or "any input"
        q = sub.add_parser(name, help=info.description, formatter_class=HelpFormatter,
                           description=f"{info.description}\n\ninput: {accepts}\n\n{_doc_summary(writer)}")
        many = "attributions" in info.accepts
        q.add_argument("inputs", nargs="+" if many else 1, metavar="INPUT",
                       help="attribution sets to average (directories or files any reader claims)" if many
                       else f"the input ({accepts})")
        add_out(q, "output file or directory (as the exporter writes)")
        names = add_signature_options(q, writer, skip=_CLI_OWNED, group_title=f"{name} options")
        q.set_defaults(_writer_options=names, _takes_progress="progress" in exporter_options(writer))
        # SUPPRESS: given after NAME they set the flag, otherwise `wtko export -q` stays as given
        q.add_argument("-q", "--quiet", action="store_true", default=__import__("argparse").SUPPRESS,
                       help="warnings only")
        q.add_argument("-v", "--verbose", action="store_true", default=__import__("argparse").SUPPRESS,
                       help="debug logging")


def _doc_summary(func) -> str:
    import inspect

    doc = inspect.getdoc(func) or ""
    return doc.split("\n\n")[0]


def run(args) -> int:
    import logging

    from wtko_captum.cli.options import signature_values
    from wtko_captum.core.errors import InputError
    from wtko_captum.core.export import export, exporter_info, get_exporter
    from wtko_captum.core.readers import read

    if getattr(args, "_error", None):
        raise InputError(args._error)
    info = exporter_info(get_exporter(args.exporter))
    kind = next((_READ_AS[a] for a in info.accepts if a in _READ_AS), None)
    inputs = [read(p, kind=kind) if kind else p for p in args.inputs]
    obj = inputs if "attributions" in info.accepts else inputs[0]
    options = {k: v for k, v in signature_values(args, args._writer_options).items()}
    if args._takes_progress:
        options["progress"] = not getattr(args, "quiet", False)
    paths = export(args.exporter, obj, args.out, **options)
    log = logging.getLogger("wtko_captum")
    for path in paths:
        log.info("wrote %s", path)
    return 0
