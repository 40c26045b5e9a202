"""wtko plot: render a region of a tracks.ini (PNG/PDF/SVG) with the sequence-logo track."""
from __future__ import annotations

HELP = "render a genome region of a tracks.ini to PNG/PDF, with attribution sequence logos"
STAGE = "tracks"
DESCRIPTION = """Render one region of a pyGenomeTracks tracks.ini (e.g. from `wtko tracks ini`).

Runs pyGenomeTracks in-process and adds an `attribution_logo` track under each projected
attribution track: letters whose heights are the contributions, negative letters below the
axis. Letters come from --genome (or the ini's fasta track), else from the four hypothetical
tracks. When the region is too long to read letters (< 2 mm per base, about 120 bp at the default 40 cm width), the logo track falls
back to the bigWig drawing.

REGION is chrom:start-end, 0-based half-open like BED and exactly as `pyGenomeTracks
--region` reads it: chr10:22605206-22605441 draws the 235 bases 22605206..22605440 (0-based),
which IGV calls chr10:22605207-22605441. Commas are allowed (chr1:1,000-2,000).

examples:
  wtko plot tracks.ini --region chr10:22605206-22605441 -o region.png
  wtko plot tracks.ini --region chr17_region:5000-5200 --genome genome.fa -o region.pdf
  wtko plot tracks.ini --region chr1:1000000-1010000 --no-logo -o overview.png
"""


def add_arguments(p):
    from wtko_captum.cli.options import add_out, positive_float, positive_int

    p.add_argument("ini", help="pyGenomeTracks tracks file")
    p.add_argument("--region", required=True, help="chrom:start-end, 0-based half-open (like BED)")
    p.add_argument("--genome", help="genome FASTA for the logo letters (default: the ini's fasta track)")
    p.add_argument("--no-logo", action="store_true", help="do not add the sequence-logo track")
    p.add_argument("--width", type=positive_float, default=40.0, help="figure width in cm (default: 40)")
    p.add_argument("--dpi", type=positive_int, default=150, help="raster resolution (default: 150)")
    p.add_argument("--title", help="figure title")
    add_out(p, "output image: .png, .pdf or .svg")


def run(args) -> int:
    from wtko_captum.report.region import plot_region

    out = plot_region(args.ini, args.region, args.out, genome=args.genome, logo=not args.no_logo,
                      width_cm=args.width, dpi=args.dpi, title=args.title)
    print(f"wrote {out}")
    return 0
