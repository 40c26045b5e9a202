"""wtko compare: which TF-MoDISco pattern is which saliency k-mer cluster."""
from __future__ import annotations

HELP = "pair TF-MoDISco patterns with k-mer clusters, or tabulate which JASPAR motifs each finder found"
STAGE = "motifs"
DESCRIPTION = """Compare the motifs of `wtko modisco` (patterns.pfm.meme, patterns.tsv, seqlets.tsv)
with those of `wtko kmers` (clusters.meme, clusters.tsv, kmers.tsv).

Similarity is Tomtom in both directions (pattern -> cluster and cluster -> pattern), with the
JASPAR database added to the targets so the p-values have a proper null; a pattern and a
cluster are paired when each is the other's best match and q <= --q in at least one
direction. For each pair, positional agreement is the fraction of the cluster's k-mers whose
centre base lies inside a seqlet of the pattern (genome coordinates).

outputs (in -o DIR):
  similarity.tsv  pattern x cluster: p_pc q_pc offset_pc strand_pc overlap_pc (pattern as
                  query), the same _cp (cluster as query), p (weaker direction), q (better)
  pairs.tsv       pairs and unpaired motifs: found_by (both / modisco only / k-mer clusters
                  only), positional_agreement, each side's class and JASPAR matches
  jaspar.tsv      top 3 JASPAR matches of every pattern and cluster
  heatmap.png     -log10 p, patterns x clusters
  summary.md      which motifs both methods find, which only one, and their classes (a
                  motif is "enriched in" a class only where Fisher's exact test says so,
                  Benjamini-Hochberg q < --q over the motifs of its side)

per class: when both directories hold per-class runs (by_class/<class>/, written by `wtko
kmers` and `wtko modisco` when the sequences belong to several classes), each class is
compared on its own into OUT/by_class/<class>/, and summary.md adds each class's primary
motif on both sides, the pairs, and the usage warnings of either side (e.g. "the model
separates WT from KO by the presence or absence of MOTIF; no KO motif was learned: train with
--background").

With more than two directories, others than one modisco and one kmers output (e.g.
`wtko neurons`, `wtko filters`), or --labels, it tabulates who found what instead: every
motif of every set is a Tomtom query against the database, and a set finds a database motif
at q <= --q (default 0.001, the NeuronMotif paper's threshold). Each directory is recognised
by its motif file: clusters.pfm.meme (neurons: every demixed cluster), patterns.pfm.meme
(modisco), clusters.meme (kmers), filters.meme (filters); a MEME file can be given too.

outputs of the who-found-what table (in -o DIR):
  counts.tsv      one row per set: motifs, motifs matched, distinct database motifs matched,
                  and how many of them no other set found
  found.tsv       one row per database motif: each set's best q-value and motif, n_sets
  matches.tsv     every set x motif x database motif match at q <= --q
  summary.md      both tables in Markdown

examples:
  wtko compare modisco/ motifs/ -o compare/
  wtko compare neurons_l1/ neurons_l2/ kmers/ modisco/ filters/ -o compare/
  wtko compare neurons/ filters/ --labels NeuronMotif,filters --q 0.01 -o compare/
"""


def add_arguments(p):
    from wtko_captum.cli.options import add_motif_db, add_out, pvalue

    p.add_argument("sets", nargs="+", metavar="DIR",
                   help="output directories of motif finders: modisco + kmers (paired), or any two or more")
    add_out(p, "output directory (replaced if it exists)")
    p.add_argument("--q", type=pvalue, default=None,
                   help="q-value a pair needs (default: 0.05), or a database match in the who-found-what "
                        "table (default: 0.001)")
    p.add_argument("--labels", default=None, metavar="A,B",
                   help="column labels of the sets in the who-found-what table (default: directory names)")
    add_motif_db(p, "motif database for the background and JASPAR matches (default: bundled JASPAR 2020)",
                 old=("--motifs", "--db"))


def run(args) -> int:
    import logging

    from wtko_captum.core.errors import InputError
    from wtko_captum.motifs.compare import compare
    from wtko_captum.motifs.compare_sets import compare_sets, motif_set

    log = logging.getLogger("wtko_captum")
    if len(args.sets) < 2:
        raise InputError("give two or more motif finder outputs (modisco + kmers are paired)")
    finders = [motif_set(p)[0] for p in args.sets]
    if len(args.sets) == 2 and sorted(finders) == ["kmers", "modisco"] and not args.labels:
        modisco, kmers = args.sets if finders[0] == "modisco" else args.sets[::-1]
        res = compare(modisco, kmers, args.out, motif_db=args.motif_db, q=0.05 if args.q is None else args.q)
    else:
        labels = args.labels.split(",") if args.labels else None
        res = compare_sets(args.sets, args.out, labels=labels, motif_db=args.motif_db,
                           q=0.001 if args.q is None else args.q)
    log.info("%s\nwrote %s", res.summary, ", ".join(str(p) for p in res.paths.values()))
    for w in getattr(res, "warnings", ()):
        print(f"warning: {w}")
    return 0
