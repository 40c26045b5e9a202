"""wtko report: one self-contained HTML file of a run."""
from __future__ import annotations

HELP = "one self-contained HTML report of a run: model quality, igv.js tracks, motifs (works offline)"
STAGE = "report"
DESCRIPTION = """Write one HTML file that shows what a run produced and opens in any browser with no
network (igv.js, every track, figure and table are inside it; the page is forbidden to make any
request):

  summary     data and splits, model and training, test metrics, learning curve, confusion
              matrix, ROC and precision-recall curves, the attribution methods
  tracks      an igv.js genome view of the chosen windows: one track per attribution method
              (projected score drawn as letters scaled by score: igv.js "dynseq"), the windows
              coloured by true class, the peaks, and motif hits (modisco seqlets, saliency
              k-mers, ...); `wtko scan` bigWigs (scan/) and `wtko variants --tracks` ref/alt/Δ
              bigWigs (variants/tracks/) cut to the chosen windows, every scored variant
              (variants/scores.tsv) as a feature;
              a sortable region picker (top by attribution, by prediction, by class,
              misclassified, top variants) moves the view
  motifs      k-mer clusters, filter motifs, modisco patterns (and neuron motifs when present)
              with logos and their best Tomtom matches
  results     comparison, enrichment, filters recurring across seeds, variant effects
              (scores.tsv, skipped.tsv, summary.png, ism/ism.tsv and the ISM heatmaps) when
              present: sortable tables and their figures

RUN_DIR is what `wtko run -o` or `wtko demo -o` wrote; a folder laid out the same way by hand
works too (every part is optional). `wtko run` and `wtko demo` write RUN_DIR/report.html
themselves at the end.

--regions chooses which windows the track view carries (only their data go into the file):
  topN   the N windows with the highest attribution, the N most confident predictions of each
         class, the N most confident mistakes and, when RUN_DIR/variants/scores.tsv exists, the
         windows holding the N variants of largest |Δ| (default: top20)
  all    every attributed window (refused with the number that fits when over --max-mb)
  FILE   a BED file: the windows overlapping its intervals
The windows are those of the run's attributions (attr/); scan and variant tracks are shown
where they overlap them (a variant outside every attributed window is in the tables only).

examples:
  wtko report wtko_demo/ -o report.html
  wtko report run/ --regions top50 --method saliency -o run/report.html   # rank by saliency
  wtko report run/ --regions my_loci.bed -o loci.html
  wtko report run/ --regions run/variants/tracks/variants.bed -o variants.html   # the top variants' windows
"""


def add_arguments(p):
    from wtko_captum.cli.options import add_out, positive_float, positive_int

    p.add_argument("run_dir", metavar="RUN_DIR", help="output directory of wtko run / wtko demo")
    add_out(p, "the HTML file to write")
    p.add_argument("--regions", default="top20",
                   help="windows in the track view: topN, all, or a BED file (default: top20)")
    p.add_argument("--method", metavar="METHOD",
                   help="attribution method that ranks windows (default: deeplift_shap when present)")
    p.add_argument("--max-mb", dest="max_mb", type=positive_float, default=50.0,
                   help="size limit of the file in MB; a larger selection is refused (default: 50)")
    p.add_argument("--max-rows", dest="max_rows", type=positive_int, default=1000,
                   help="rows shown per result table (default: 1000)")
    p.add_argument("--title", help="page title (default: the run directory's name)")


def run(args) -> int:
    from pathlib import Path

    from wtko_captum.report.html import report

    path = report(args.run_dir, args.out, regions=args.regions, method=args.method, max_mb=args.max_mb,
                  max_rows=args.max_rows, title=args.title, verbose=not args.quiet)
    print(f"report: {path} ({Path(path).stat().st_size / 1e6:.1f} MB; open it in any browser, no network needed)")
    return 0
