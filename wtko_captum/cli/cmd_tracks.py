"""wtko tracks: genome-browser views of a tracks directory (pyGenomeTracks ini, IGV session)."""
from __future__ import annotations

HELP = "write a pyGenomeTracks tracks.ini or an IGV session (+ batch script) for a tracks directory"
STAGE = "tracks"
DESCRIPTION = """Describe the bigWig/BED files of a tracks directory (from `wtko export`) for a browser.

  ini   a pyGenomeTracks tracks.ini using only stock track types: the plain
        `pyGenomeTracks --tracks tracks.ini --region chr:start-end -o out.png` renders it
        (`wtko plot` renders it too and adds the sequence-logo track)
  igv   an IGV session XML (genome, tracks with colours and data ranges, the top-scoring
        regions as regions of interest) and an IGV batch script that snapshots them

Tracks are recognised by file name: *projected*.bw (signed: red = towards the explained
class, blue = against), *maxabs*.bw (max |attribution|, grey), *hypothetical_A..T*.bw (one per
base), other .bw (signed), *peak*/*region*.bed (peaks, coloured WT/KO when the file has a
class/label column), other .bed (k-mers, seqlets, motif hits: coloured by name = cluster).
BED inputs are copied as coloured BED9 into <output stem>.files/ next to the output.

Coordinates: BED and pyGenomeTracks --region are 0-based half-open. In the IGV session,
<Region start end> is 0-based half-open too; the locus and batch `goto` are 1-based
(chr:start+1-end), batch `region` is 1-based inclusive.

examples:
  wtko tracks ini tracks/ --peaks data/regions.tsv --genome mm10.fa -o tracks.ini
  pyGenomeTracks --tracks tracks.ini --region chr10:22605206-22605441 -o region.png
  wtko tracks igv tracks/ --genome hg19 -o session.xml --top 20
  wtko tracks igv tracks/ --genome genome.fa --peaks peaks.bed -o session.xml --batch snap.txt
  xvfb-run igv -b snap.txt                      # snapshots of the top regions, headless
"""


def add_arguments(p):
    from wtko_captum.cli.options import add_out, positive_int

    sub = p.add_subparsers(dest="what", metavar="{ini,igv}", required=True, parser_class=type(p))
    ini = sub.add_parser("ini", help="pyGenomeTracks tracks.ini (stock track types)")
    igv = sub.add_parser("igv", help="IGV session XML (+ optional batch script)")
    for q in (ini, igv):
        q.add_argument("tracks", help="tracks directory (bigWig + BED files), e.g. from `wtko export bigwig`")
        q.add_argument("--peaks", help="peaks/windows BED, narrowPeak, regions.bed or prepared regions.tsv")
        q.add_argument("--features", nargs="*", default=[], metavar="BED",
                       help="extra BED files of k-mers / seqlets / motif hits (coloured by name)")
        q.add_argument("--absolute-paths", action="store_true",
                       help="write absolute file paths (default: relative to the output file)")
        q.add_argument("-q", "--quiet", action="store_true", help="warnings only")
        q.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    ini.add_argument("--genome", help="genome FASTA: adds a sequence track (and the logo's letters in `wtko plot`)")
    ini.add_argument("--bins", type=positive_int, default=200,
                     help="bigWig bins per plot (default: 200; regions shorter than this draw striped in "
                          "the stock CLI, `wtko plot` adapts it)")
    ini.add_argument("--no-hypothetical", action="store_true", help="leave out the four hypothetical tracks")
    add_out(ini, "tracks.ini to write")
    igv.add_argument("--genome", required=True, help="IGV genome id (hg19, mm10, ...) or a local FASTA path")
    igv.add_argument("--top", type=positive_int, default=20, help="regions of interest: the N highest max|attribution| (default: 20)")
    igv.add_argument("--batch", help="also write an IGV batch script snapshotting the top regions")
    igv.add_argument("--snapshots", default="snapshots", help="snapshot directory for --batch (default: snapshots)")
    add_out(igv, "session .xml to write")


def run(args) -> int:
    from wtko_captum.core.export import export

    if args.what == "ini":
        written = export("tracks_ini", args.tracks, args.out, peaks=args.peaks, genome=args.genome,
                         features=args.features, relative=not args.absolute_paths,
                         include_hypothetical=not args.no_hypothetical, number_of_bins=args.bins)
        print(f"wrote {written[0]} (+{len(written) - 1} coloured BED copies)")
        print(f"render: pyGenomeTracks --tracks {written[0]} --region CHR:START-END -o region.png")
        return 0
    written = export("igv", args.tracks, args.out, genome=args.genome, peaks=args.peaks, top=args.top,
                     features=args.features, relative=not args.absolute_paths, batch=args.batch,
                     snapshot_dir=args.snapshots)
    print(f"wrote {written[0]}")
    if args.batch:
        print(f"wrote {written[-1]}: run `igv -b {written[-1]}` (headless: `xvfb-run -a igv -b {written[-1]}`)")
    return 0
