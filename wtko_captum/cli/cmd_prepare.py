"""wtko prepare: peaks / a differential table / sequences -> windows, labels and splits."""
from __future__ import annotations

from wtko_captum.cli.options import add_out, add_seed, bounded, fraction, positive_float, split_list

HELP = "turn WT and KO peaks (or a differential table, sequences or a labelled set) into a training data directory"
STAGE = "data"
DESCRIPTION = """Cut a fixed-width window around every peak summit (or centre every sequence), label
it, split it into train / validation / test and balance the classes. The output directory is
what `wtko train` reads.

inputs (recognised by their content, not their file name; any may be gzip/bgzip compressed):
  peak files     BED3+, BED6 or narrowPeak; the narrowPeak summit (column 10; -1 = none)
                 is the window centre when present, else the peak midpoint. Needs --genome
                 (FASTA, gzip/bgzip FASTA, or UCSC .2bit).
  sequences      FASTA with any headers. Coordinates are read from the common forms:
                   chr1:100-300   chr1:100-300(-)   peak7::chr1:100-300   chr1_100_300_BALBC_1
                 (0-based `bedtools getfasta` or 1-based `samtools faidx`, told apart by the
                 sequence length; `-` strand sequences are reverse complemented). Any other
                 header (>seq1) is a sequence without coordinates: everything but genome
                 tracks works, in sequence coordinates (`name 0 L`). A header whose interval
                 length disagrees with its sequence (another strain's indels) is kept without
                 coordinates (--strict-coordinates: an error). Or a TSV/CSV with a sequence
                 column (and chrom, start, end, name, label columns when it has them).
                 Shorter sequences are centred and N-padded, longer ones trimmed.
  --table        a differential table (TSV/CSV/BED-like: chrom, start, end and either a
                 log2FC column or WT and KO count columns), split with the published rule:
                   KO: lfc > 1     WT: |lfc| < 0.2 and WT count > 10
                 where lfc = log2((KO+1)/(WT+1)) from counts, or the log2FC column
                 (positive = more open in KO). Or a sequence table with a label column.
  --sequences + --labels
                 a labelled set: sequences (FASTA or sequence table) and a label table with
                 one 0/1 column per class or task (or one column of class names/indices),
                 rows in sequence order or keyed by sequence name in the first column.
                 With --tasks the columns are independent tasks (multi-task, DeepSEA style):
                 every row is kept with all its labels and the model gets one sigmoid per task.

splits (--split):
  chrom          whole chromosomes held out: --test-chroms (chr6,chr7), --val-chroms (chr8).
                 The default (auto) when every region has a chromosome.
  hash           by sequence: identical or reverse-complement-identical sequences never land
                 in two splits. The default (auto) when some sequences have no chromosome.
  random         seeded, stratified by class.
  --folds K      K folds instead (chromosomes balanced by region count, or random / hash
                 buckets); then `wtko train --fold i` holds out fold i (validation: fold i+1).

examples:
  wtko prepare --wt WT.narrowPeak --ko KO.narrowPeak --genome mm10.2bit -o data/
  wtko prepare --table deseq2.tsv --lfc-col log2FoldChange --genome mm10.fa -o data/
  wtko prepare --wt bound.fa.gz --ko unbound.fa.gz --width 250 --wt-name bound --ko-name unbound -o data/
  wtko prepare --wt seqs_a.fa --ko seqs_b.fa --split random --test-fraction 0.2 -o data/   # no coordinates
  wtko prepare --sequences set.fa --labels set.txt --label-names ASCL1,CTCF -o data/
  wtko prepare --wt WT.bed --ko KO.bed --genome mm10.fa --folds 5 -o data/   # then train --fold 0..4
  wtko prepare --sequences tiles.fa --labels labels.tsv --tasks -o data/   # multi-task: one sigmoid per column
  wtko prepare --table peaks.bed --lfc-col 5 --genome mm10.fa -o data/   # headerless, lfc in column 5
  wtko prepare --motif-instances GATA1 --bound GATA1_chip.narrowPeak --genome mm10.fa \\
               --width 1000 --match-pvalue-bins 0.1 --match-gc --mask-core -o data/

background class (--background): a third class, `background`, so the model must learn what
makes each condition different from background, not only from the other condition (a
WT-vs-KO model can separate the classes by one motif and never learn the other's):
  shuffle    dinucleotide shuffles of the peak windows (tangermeme); each keeps its source's
             interval and split
  genomic    GC-matched windows of --genome outside every peak (tangermeme's
             extract_matching_loci), on each split's chromosomes
  --background-ratio R background windows per window of the average condition class, per
             split (default 1: three classes of one size)
  wtko prepare --wt WT.bed --ko KO.bed --genome mm10.fa --background shuffle -o data/
  then: wtko attribute ... --target class-vs-background (each condition against background)
  (for a labelled set, --background drop|class|error says what happens to its rows positive
  in no column: dropped, a class named --background-name, or an error)

output (data/): regions.tsv (window coordinates, 0-based half-open; label; split; summit;
source file and line; genome or sequence coordinates; fold), sequences.fa, summary.tsv
(counts per class per split), excluded.tsv (every region dropped, padded or deduplicated,
and why), meta.json.

--motif-instances ID (AgentBind's task): scan --genome (or --regions) for the motif with FIMO,
both strands; an instance overlapping a --bound peak is "bound" (label 1), else "unbound";
windows centred on the instances; split by chromosome (or, with no instance on the held-out
chromosomes or with --split random|hash, seeded fractions of clusters of overlapping windows);
bound and unbound matched on -log10 p bins (and GC bins with --match-gc) within each split;
--mask-core turns the motif's own bases into N. Also writes instances.tsv (every instance:
p-value, strand, GC, label, split, kept or why not) and matching.png. In regions.tsv,
peak_start/peak_end hold the motif instance.
"""


def add_arguments(p):
    from wtko_captum.preparation import MIN_WIDTH

    g = p.add_argument_group("inputs")
    g.add_argument("--wt", nargs="+", metavar="FILE", help="WT-class files (peaks or sequences); several allowed")
    g.add_argument("--ko", nargs="+", metavar="FILE", help="KO-class files (peaks or sequences); several allowed")
    g.add_argument("--table", metavar="FILE", help="a differential table (or a labelled sequence table) instead of --wt/--ko")
    g.add_argument("--sequences", metavar="FILE", help="a labelled set's sequences (FASTA or sequence table); with --labels")
    g.add_argument("--labels", metavar="FILE",
                   help="its label table: one 0/1 column per class/task (or one label column), rows in "
                        "sequence order or keyed by name")
    g.add_argument("--genome", metavar="FILE",
                   help="genome for peak coordinates: FASTA (plain, gzip, bgzip) or .2bit (index built if "
                        "missing, in a cache directory when the genome's folder is read-only)")
    g.add_argument("--tasks", action="store_true",
                   help="with --sequences/--labels: the label columns are independent tasks (multi-task: every "
                        "row kept with all its labels, one sigmoid output per task, nothing balanced)")
    g.add_argument("--genome-build", metavar="NAME", help="e.g. mm10; stored in meta.json and the model checkpoint")
    g.add_argument("--strict-coordinates", action="store_true",
                   help="a FASTA header whose interval length disagrees with its sequence is an error "
                        "(default: the sequence is kept without coordinates, counted in the log)")
    add_out(p, "output directory (replaced atomically)")

    lab = p.add_argument_group("labelled sets (--sequences + --labels)")
    lab.add_argument("--label-names", metavar="A,B,..",
                     help="class names for a label table without a header (or the order of its class names)")
    lab.add_argument("--multi-label", choices=["drop", "combine", "error"], default="drop",
                     help="rows positive in several columns: drop them, make each combination a class "
                          "(A+B), or stop with an error (default: drop; counted in excluded.tsv)")
    lab.add_argument("--background-name", default="background",
                     help="the class of rows positive in no column, with --background class (default: background)")

    w = p.add_argument_group("windows")
    w.add_argument("--width", type=bounded(int, MIN_WIDTH), default=None,
                   help=f"window length in bp, centred on the summit (default: 600; 1000 with --motif-instances; "
                        f"with --tasks the longest sequence; at least {MIN_WIDTH}, at most the longest chromosome)")
    w.add_argument("--drop-edge", action="store_true",
                   help="drop windows crossing a chromosome end (default: N-pad them); counted in excluded.tsv either way")
    w.add_argument("--skip-unknown-chroms", action="store_true",
                   help="drop regions on chromosomes missing from the genome (default: error)")

    s = p.add_argument_group("splits and balance")
    s.add_argument("--split-by", "--split", dest="split", default="auto", choices=["auto", "chrom", "random", "hash"],
                   help="how to split (default: auto = chrom when every region has a chromosome, else hash)")
    s.add_argument("--test-chroms", default=None, help="test chromosomes for --split chrom (default: chr6,chr7)")
    s.add_argument("--val-chroms", default=None, help="validation chromosomes for --split chrom (default: chr8)")
    s.add_argument("--test-fraction", type=fraction, default=0.1,
                   help="test fraction for --split random|hash (default: 0.1)")
    s.add_argument("--val-fraction", type=fraction, default=0.1,
                   help="validation fraction for --split random|hash; with chrom, the seeded fraction of "
                        "training regions used when no region lies on --val-chroms (default: 0.1)")
    s.add_argument("--folds", type=bounded(int, 3), default=None, metavar="K",
                   help="assign regions to K folds (chromosomes balanced by region count) instead of test and "
                        "validation chromosomes; `wtko train --fold i` holds out fold i")
    s.add_argument("--no-balance", action="store_true",
                   help="keep every region and store inverse-frequency class weights in meta.json "
                        "(default: downsample the larger class per split, as published)")
    add_seed(s)
    s.add_argument("--wt-name", default="WT", help="name of class 1 (default: WT)")
    s.add_argument("--ko-name", default="KO", help="name of class 0 (default: KO)")

    b = p.add_argument_group("background class")
    b.add_argument("--background", choices=["drop", "class", "error", "shuffle", "genomic"], default="drop",
                   help="shuffle: add a class of dinucleotide shuffles of the windows; genomic: of GC-matched "
                        "genome windows outside every peak (needs a FASTA --genome). For a labelled set, its rows "
                        "positive in no column: drop them (default), keep them as a class (class), or stop "
                        "(error)")
    b.add_argument("--background-ratio", type=positive_float, default=1.0,
                   help="background windows per window of the average condition class, per split (default: 1)")

    t = p.add_argument_group("differential table (--table)")
    for col, what in (("chrom", "chromosome"), ("start", "start"), ("end", "end"), ("summit", "summit"),
                      ("lfc", "log2 fold change"), ("wt-count", "WT count"), ("ko-count", "KO count")):
        t.add_argument(f"--{col}-col", metavar="NAME|N", help=f"{what} column: header name or 1-based number (default: detected)")
    t.add_argument("--ko-min-lfc", type=bounded(float), default=1.0, help="KO when lfc > this (default: 1)")
    t.add_argument("--wt-max-abs-lfc", type=bounded(float, 0), default=0.2, help="WT when |lfc| < this (default: 0.2)")
    t.add_argument("--wt-min-count", type=bounded(float), default=10.0,
                   help="... and WT count > this (default: 10; only with count columns)")
    t.add_argument("--flip-lfc", action="store_true", help="the table's log2FC is WT over KO: negate it")
    _add_motif_instance_arguments(p)


def _add_motif_instance_arguments(p):
    from wtko_captum.cli.options import add_motif_db, nonneg_float, positive_float, probability, pvalue

    m = p.add_argument_group("bound vs unbound motif instances (instead of --wt/--ko/--table)")
    m.add_argument("--motif-instances", metavar="ID", help="motif (JASPAR id or TF name in --motif-db) whose "
                   "instances become the windows")
    m.add_argument("--bound", metavar="PEAKS", help="bound peaks (BED/narrowPeak): an instance overlapping one is bound")
    m.add_argument("--regions", metavar="BED", help="scan only these regions (default: the whole genome)")
    add_motif_db(m)
    m.add_argument("--pvalue", type=pvalue, default=1e-4, help="FIMO p-value threshold (default: 1e-4)")
    m.add_argument("--match-pvalue-bins", type=nonneg_float, default=0.1, metavar="WIDTH",
                   help="match bound and unbound on -log10 p bins of this width (default: 0.1; 0 = off)")
    m.add_argument("--match-gc", action="store_true", help="also match on GC-content bins")
    m.add_argument("--gc-bin", type=positive_float, default=0.05, help="GC bin width (default: 0.05)")
    m.add_argument("--mask-core", action="store_true", help="replace the motif instance itself by N")
    m.add_argument("--max-n", type=probability, default=0.0,
                   help="drop windows with a larger fraction of N (default: 0)")


def _splits(args) -> dict:
    """The split options, refusing combinations that would silently be ignored."""
    from wtko_captum.core.errors import InputError

    chroms_given = [o for o, v in (("--test-chroms", args.test_chroms), ("--val-chroms", args.val_chroms))
                    if v is not None]
    if chroms_given and args.folds is not None:
        raise InputError(f"{chroms_given[0]} and --folds exclude each other: folds choose the held-out "
                         "chromosomes themselves")
    if chroms_given and args.split in ("random", "hash"):
        raise InputError(f"{chroms_given[0]} applies to --split chrom, not --split {args.split}")
    return dict(split=args.split, folds=args.folds, test_fraction=args.test_fraction,
                val_fraction=args.val_fraction,
                test_chroms=split_list(args.test_chroms if args.test_chroms is not None else "chr6,chr7"),
                val_chroms=split_list(args.val_chroms if args.val_chroms is not None else "chr8"))


def run(args) -> int:
    if args.motif_instances:
        return _run_motif_instances(args)
    if args.tasks:
        return _run_tasks(args)
    from wtko_captum.preparation.peaks import TableOptions
    from wtko_captum.preparation.prepare import prepare

    opts = TableOptions(chrom_col=args.chrom_col, start_col=args.start_col, end_col=args.end_col,
                        summit_col=args.summit_col, lfc_col=args.lfc_col, wt_count_col=args.wt_count_col,
                        ko_count_col=args.ko_count_col, ko_min_lfc=args.ko_min_lfc,
                        wt_max_abs_lfc=args.wt_max_abs_lfc, wt_min_count=args.wt_min_count,
                        flip_lfc=args.flip_lfc)
    result = prepare(args.out, args.wt or (), args.ko or (), table=args.table, sequences=args.sequences,
                     labels=args.labels, genome=args.genome, width=args.width or 600, drop_edge=args.drop_edge,
                     **_splits(args), balance_classes=not args.no_balance, class_names=(args.ko_name, args.wt_name),
                     label_names=split_list(args.label_names) or None, multi_label=args.multi_label,
                     background=args.background, background_name=args.background_name,
                     background_ratio=args.background_ratio,
                     strict_coordinates=args.strict_coordinates, genome_build=args.genome_build,
                     table_options=opts if args.table else None, skip_unknown_chroms=args.skip_unknown_chroms,
                     seed=args.seed, verbose=not args.quiet)
    if not args.quiet:
        print(result.summary.to_string(index=False))
        print(f"wrote {result.path}/ (regions.tsv, sequences.fa, summary.tsv, excluded.tsv, meta.json)")
    return 0


def _run_tasks(args) -> int:
    from wtko_captum.core.errors import InputError
    from wtko_captum.preparation.tasks import prepare_tasks

    if not (args.sequences and args.labels) or args.wt or args.ko or args.table:
        raise InputError("--tasks takes --sequences FILE and --labels TABLE (and no --wt/--ko/--table)")
    splits = _splits(args)
    result = prepare_tasks(args.out, args.sequences, args.labels, width=args.width, split=splits["split"],
                           test_chroms=splits["test_chroms"], val_chroms=splits["val_chroms"],
                           test_fraction=args.test_fraction, val_fraction=args.val_fraction,
                           label_names=split_list(args.label_names) or None,
                           strict_coordinates=args.strict_coordinates, genome_build=args.genome_build,
                           seed=args.seed)
    if not args.quiet:
        print(result.summary[["split", "class", "n"]].rename(columns={"class": "task", "n": "positives"})
              .to_string(index=False))
        print(f"wrote {result.path}/ (regions.tsv with task:NAME columns, sequences.fa, summary.tsv, meta.json)")
    return 0


def _run_motif_instances(args) -> int:
    from wtko_captum.core.errors import InputError
    from wtko_captum.preparation.motif_instances import prepare_motif_instances

    if args.wt or args.ko or args.table or args.sequences:
        raise InputError("--motif-instances replaces --wt/--ko/--table/--sequences: give one or the other")
    if not args.bound or not args.genome:
        raise InputError("--motif-instances needs --bound PEAKS and --genome FASTA")
    if args.folds is not None:
        raise InputError("--folds is not available with --motif-instances (use --split chrom or random)")
    splits = _splits(args)
    if splits["split"] in ("random", "hash"):  # fractions of clusters of overlapping windows only
        splits["test_chroms"], splits["val_chroms"] = [], []
    result = prepare_motif_instances(
        args.out, args.motif_instances, args.bound, args.genome, regions=args.regions,
        width=args.width or 1000, pvalue=args.pvalue, pvalue_bin=args.match_pvalue_bins, match_gc=args.match_gc,
        gc_bin=args.gc_bin, mask_core=args.mask_core, motif_db=args.motif_db,
        test_chroms=splits["test_chroms"], val_chroms=splits["val_chroms"], test_fraction=splits["test_fraction"],
        val_fraction=splits["val_fraction"], max_n=args.max_n, genome_build=args.genome_build, seed=args.seed,
        verbose=not args.quiet)
    if not args.quiet:
        print(result.summary.to_string(index=False))
        print(f"wrote {result.path}/ (regions.tsv, sequences.fa, instances.tsv, matching.png, summary.tsv, "
              "excluded.tsv, meta.json)")
    return 0
