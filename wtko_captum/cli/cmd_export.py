"""wtko export: attribution tracks (bigWig, bedGraph), intervals (BED) and motif files."""
from __future__ import annotations

import argparse

NAME = "export"
HELP = "write attribution bigWig/bedGraph tracks, BED intervals, and MEME/HOMER/JASPAR motif files"
ORDER = 40
DESCRIPTION = """Write what `wtko attribute` and the motif stages produce in the formats genome
browsers and the MEME suite read.

  bigwig    per-base attribution tracks from one or more attribution directories
  bedgraph  the same tracks as text
  bed       k-mer / seqlet / motif-hit intervals as BED6+ (exact 0-based coordinates)
  meme      motifs as MEME minimal format v4 (Tomtom, FIMO, SEA, memelite)
  homer     motifs as a HOMER .motif file (with a log-odds detection threshold)
  jaspar    motifs as a JASPAR .jaspar count file

Tracks: projected (attribution x one-hot, summed: the observed base's signed score),
maxabs (max |attribution| over the 4 bases) and hypothetical (four tracks, A/C/G/T).
Overlapping windows: --overlap mean | max-abs | nearest-summit (the window whose centre is
closest to the base). N bases and padding past a chromosome end get no value (a gap, never 0).
Several attribution directories over the same windows (seeds, folds) are averaged.

examples:
  wtko export bigwig attr/saliency --chrom-sizes hg19.chrom.sizes -o tracks/
  wtko export bigwig attr/seed*/ --genome mm10.fa --tracks projected,hypothetical --overlap max-abs -o tracks/
  wtko export bedgraph attr/saliency --chrom-sizes hg19.chrom.sizes -o tracks/
  wtko export meme motifs.tsv -o motifs.meme          # TSV: id, name, consensus (IUPAC) or sites
  wtko export meme MA0099.3.jaspar -o fos_jun.meme     # or convert MEME / JASPAR / HOMER files
  wtko export homer motifs.meme -o motifs.motif
  wtko export bed seqlets.tsv --regions attr/saliency --name-col pattern -o seqlets.bed

`wtko export FORMAT --help` lists each format's options.
"""


def add_arguments(p):
    sub = p.add_subparsers(dest="format", metavar="FORMAT", required=True)
    for fmt, help_ in (("bigwig", "per-base attribution bigWigs (one per track) + a sidecar JSON"),
                       ("bedgraph", "per-base attribution bedGraphs (one per track) + a sidecar JSON")):
        q = _sub(sub, fmt, help_)
        q.add_argument("attributions", nargs="+",
                       help="attribution directories (from `wtko attribute`); several are averaged")
        g = q.add_mutually_exclusive_group(required=True)
        g.add_argument("--chrom-sizes", help="UCSC chrom.sizes file (stray whitespace is fine)")
        g.add_argument("--genome", help="genome FASTA; sizes come from its .fai index (built if missing)")
        q.add_argument("-o", "--out", required=True, help="output directory")
        q.add_argument("--tracks", default="projected,maxabs",
                       help="comma list of projected, maxabs, hypothetical (default: projected,maxabs)")
        q.add_argument("--overlap", default="mean", choices=["mean", "max-abs", "nearest-summit"],
                       help="value of a base covered by several windows (default: mean)")
        q.add_argument("--prefix", help="file name prefix (default: the attribution method)")
        if fmt == "bigwig":
            q.add_argument("--max-zooms", type=int, default=10,
                           help="zoom levels for zoomed-out views (default: 10); 0 keeps memory flat on "
                                "genome-scale exports (libBigWig builds zooms in memory at close)")

    q = _sub(sub, "bed", "k-mer / seqlet / motif-hit intervals as BED6+")
    q.add_argument("table", help="TSV/CSV of intervals: genome chrom/start/end, or window-relative "
                                 "start/end plus --index-col when --regions is given")
    q.add_argument("-o", "--out", required=True, help="output BED")
    q.add_argument("--regions", help="attribution directory or regions BED mapping window rows to the genome")
    q.add_argument("--index-col", default="example_idx", help="row of --regions for each hit (default: example_idx)")
    q.add_argument("--name-col", default="name", help="column for the BED name: cluster or pattern (default: name)")
    q.add_argument("--score-col", default="score", help="column for the BED score (default: score)")
    q.add_argument("--strand-col", default="strand", help="column for the strand: +/-/. or booleans (default: strand)")
    q.add_argument("--extra", default="", help="comma list of columns appended after the BED6 columns")
    q.add_argument("--color-by-name", action="store_true", help="write BED9 with one itemRgb colour per name")
    q.add_argument("--ucsc-score", action="store_true", help="rescale scores to integers 0-1000")
    g = q.add_mutually_exclusive_group()
    g.add_argument("--chrom-sizes", help="check intervals lie inside chromosomes; sort in this order")
    g.add_argument("--genome", help="as --chrom-sizes, from a genome FASTA")

    for fmt, help_ in (("meme", "motifs as MEME minimal format version 4"),
                       ("homer", "motifs as a HOMER .motif file"),
                       ("jaspar", "motifs as a JASPAR .jaspar count file")):
        q = _sub(sub, fmt, help_)
        q.add_argument("motifs", help="motif file: MEME, JASPAR, HOMER, or a TSV with columns id, "
                                      "[name], consensus (IUPAC) or sites (comma-separated aligned sequences)")
        q.add_argument("-o", "--out", required=True, help="output file")
        q.add_argument("--pseudocount", type=float, default=0.0,
                       help="added as pseudocount x background to each column before normalising (default: 0)")
        if fmt == "meme":
            q.add_argument("--background", help="A,C,G,T background frequencies, e.g. 0.3,0.2,0.2,0.3 (default: uniform)")
        if fmt == "homer":
            q.add_argument("--threshold-fraction", type=float, default=0.6,
                           help="detection threshold as a fraction of the best log-odds score, for motifs "
                                "without one (default: 0.6)")
        if fmt == "jaspar":
            q.add_argument("--nsites", type=int, default=100,
                           help="sites a probability matrix is scaled to (default: 100)")


EXAMPLES = {
    "bigwig": "wtko export bigwig attr/saliency --chrom-sizes hg19.chrom.sizes -o tracks/\n"
              "  wtko export bigwig seed0/ seed1/ --genome mm10.fa --tracks projected,hypothetical "
              "--overlap nearest-summit -o tracks/\n\n"
              "writes tracks/<prefix>.<track>.bw per track and tracks/<prefix>.tracks.json (overlap rule,\n"
              "sources, track meanings). N bases and off-chromosome padding are gaps.",
    "bedgraph": "wtko export bedgraph attr/saliency --chrom-sizes hg19.chrom.sizes -o tracks/\n\n"
                "writes tracks/<prefix>.<track>.bedGraph (a UCSC track line records the overlap rule).",
    "bed": "wtko export bed seqlets.tsv --regions attr/saliency --name-col pattern --strand-col is_forward -o s.bed\n"
           "  wtko export bed kmers.tsv --chrom-sizes hg19.chrom.sizes --color-by-name -o kmers.bed\n\n"
           "with --regions, start/end are 0-based offsets inside window --index-col; without it the\n"
           "table has genome chrom/start/end. Output: #-header, chrom start end name score strand [extra].",
    "meme": "wtko export meme motifs.tsv -o motifs.meme\n"
            "  wtko export meme MA0099.3.jaspar --pseudocount 1 -o fos_jun.meme\n\n"
            "motifs.tsv: tab-separated, header id [name] consensus|sites [nsites] [evalue] [url], e.g.\n"
            "  id   name      consensus\n  AP1  FOS::JUN  TGASTCA\n"
            "sites = comma-separated aligned sequences (counted). p = (count + pc*bg) / (colsum + pc).",
    "homer": "wtko export homer motifs.meme -o motifs.motif   # threshold = 0.6 x best log-odds score",
    "jaspar": "wtko export jaspar motifs.meme --nsites 100 -o motifs.jaspar",
}


def _sub(sub, name, help_):
    q = sub.add_parser(name, help=help_, description=f"{help_}\n\nexample:\n  {EXAMPLES[name]}",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    # SUPPRESS: given after FORMAT they set the flag, otherwise they leave `wtko export -q` alone
    q.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="warnings only")
    q.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging")
    return q


def run(args) -> int:
    import logging

    log = logging.getLogger("wtko_captum")
    paths = {"bigwig": _tracks, "bedgraph": _tracks, "bed": _bed,
             "meme": _motifs, "homer": _motifs, "jaspar": _motifs}[args.format](args)
    for path in paths:
        log.info("wrote %s", path)
    return 0


def _sizes(args):
    from track_exporters.bigwig import load_chrom_sizes

    src = args.chrom_sizes or args.genome
    if src is None:
        return None, None
    return load_chrom_sizes(chrom_sizes=args.chrom_sizes, genome=args.genome), src


def _tracks(args):
    from track_exporters.bedgraph import write_bedgraph
    from track_exporters.bigwig import write_bigwig

    from wtko_captum.cli._common import split_list

    sizes, src = _sizes(args)
    opts = dict(tracks=split_list(args.tracks), overlap=args.overlap, prefix=args.prefix, sizes_source=src,
                progress=not getattr(args, "quiet", False))
    if args.format == "bigwig":
        return write_bigwig(args.out, list(args.attributions), sizes, max_zooms=args.max_zooms, **opts)
    return write_bedgraph(args.out, list(args.attributions), sizes, **opts)


def _bed(args):
    from pathlib import Path

    import pandas as pd

    from track_exporters.bed import window_to_genome, write_bed

    from wtko_captum.core.attribution_set import read_regions_bed
    from wtko_captum.core.errors import InputError
    from wtko_captum.cli._common import split_list

    table_path = Path(args.table)
    if not table_path.is_file():
        raise InputError("interval table not found", path=table_path)
    sep = "," if table_path.suffix.lower() == ".csv" else "\t"
    table = pd.read_csv(table_path, sep=sep, dtype={"chrom": str})
    if args.regions:
        reg = Path(args.regions)
        regions = read_regions_bed(reg / "regions.bed" if reg.is_dir() else reg)
        table = window_to_genome(table, regions, index_col=args.index_col)
    sizes, _ = _sizes(args)
    return write_bed(args.out, table, name_col=args.name_col, score_col=args.score_col, strand_col=args.strand_col,
                     extra_cols=split_list(args.extra), color_by_name=args.color_by_name,
                     score_scale="ucsc" if args.ucsc_score else "raw", chrom_sizes=sizes)


def _motifs(args):
    from track_exporters.homer import write_homer
    from track_exporters.jaspar import write_jaspar
    from track_exporters.meme import write_meme
    from track_exporters.motif_files import read_motifs

    from wtko_captum.cli._common import split_list

    motifs, opts = read_motifs(args.motifs)
    if args.format == "meme":
        bg = [float(x) for x in split_list(args.background)] if args.background else None
        return write_meme(args.out, motifs, nsites=opts.get("nsites"), evalues=opts.get("evalues"),
                          urls=opts.get("urls"), background=bg, pseudocount=args.pseudocount)
    if args.format == "homer":
        return write_homer(args.out, motifs, thresholds=opts.get("thresholds"),
                           threshold_fraction=args.threshold_fraction, pseudocount=args.pseudocount)
    nsites = {k: opts.get("nsites", {}).get(k, args.nsites) for k in motifs}
    return write_jaspar(args.out, motifs, nsites=nsites, pseudocount=args.pseudocount)
