"""wtko simulate: seeded labelled datasets with a table of every planted motif."""
from __future__ import annotations

HELP = "simulate WT/KO sequences with planted JASPAR motifs (ground truth for benchmarks)"
STAGE = "data"
DESCRIPTION = """Write a simulated WT-vs-KO dataset whose motifs are known, to test the model and
every explanation method against ground truth.

presets:
  two-motif   WT sequences carry one site of a KLF/SP motif (default MA0039.4 KLF4), KO
              sequences one AP-1 site (MA0099.3 FOS::JUN); uniform background; random
              position and strand; sites sampled from the JASPAR probability matrices.
  agentbind   the AgentBind benchmark: background A,C,G,T = 0.3,0.2,0.2,0.3, a GATA1 site
              (MA0035.4) at the centre of every sequence, and 1-3 TAL1::TCF3 sites (MA0091.1,
              Poisson truncated at 3) in the positives (WT) only.
  neuronmotif-toy  the NeuronMotif paper's toy: 8 bp sequences; WT = a ZEB1 motif (MA0103.3)
              whose 6 bp core (CACCTG) starts at position 2 or 1 (half each), KO = random.
              A CNN with one max-pool of 2 sees both shifts as one: `wtko neurons` demixes
              them. --motifs A,B plants A at the first position and B 1 bp to the left.

outputs (in -o DIR):
  WT.fa, KO.fa         one FASTA per class, headers chrom:start-end (0-based half-open) on
                       synthetic chromosomes chr1..chr10 (so test chr6,chr7 / val chr8 work)
  motifs.tsv           every planted site: sequence name, class, genome chrom/start/end,
                       seq_start/seq_end within the sequence, strand, motif id and name,
                       the planted bases and their log-odds score
  genome.fa, genome.chrom.sizes   the synthetic genome (for bigWig export, IGV)
  sim.json             all parameters

two-motif variants (per-class motif sets and frequencies, motifs shared by both classes):
  --motifs A,B --frequencies 1,0.5      A in every WT sequence, B in half of the KO ones
  --shared C --shared-frequency 0.3     C in 30% of the sequences of both classes
  --config sets.toml                    any sets: one table per class, motif = fraction
                                          [WT]
                                          "MA0139.1" = 1.0     # CTCF
                                          [KO]
                                          "MA0035.4" = 0.5     # GATA1
                                          [shared]
                                          "MA0079.5" = 0.3     # SP1
  A long, information-rich motif in every WT sequence and a short one in part of the KO
  sequences is a dominant/weak pair: a WT-vs-KO model can separate the classes by the
  presence or absence of the first alone (train with `wtko prepare --background` to make it
  learn both).

example:
  wtko simulate --preset two-motif --n 1000 --length 600 --seed 0 -o sim/
  wtko prepare --wt sim/WT.fa --ko sim/KO.fa --width 600 -o data/
  wtko simulate --preset two-motif --motifs CTCF,GATA1 --frequencies 1,0.6 --shared SP1 -o pair/
  wtko simulate --preset neuronmotif-toy -o toy/
  wtko simulate --preset neuronmotif-toy --motifs MA0139.1,MA0103.3 --length 20 -o toy_ctcf/
"""


def add_arguments(p):
    from wtko_captum.cli.options import add_motif_db, add_out, add_seed, positive_int, probability

    p.add_argument("--preset", required=True, choices=["agentbind", "two-motif", "neuronmotif-toy"], help="what to simulate")
    add_out(p, "output directory (replaced if it exists)")
    p.add_argument("--n", type=positive_int, default=None, help="sequences per class (default: 1000)")
    p.add_argument("--length", type=positive_int, default=None,
                   help="sequence length in bp (default: 1000 agentbind, 600 two-motif, 8 neuronmotif-toy)")
    p.add_argument("--motifs", default=None, metavar="ID,ID",
                   help="two JASPAR ids or TF names: two-motif = WT,KO motif (default MA0039.4,MA0099.3); "
                        "agentbind = centre,partner motif (default MA0035.4,MA0091.1); neuronmotif-toy = "
                        "motif at the first, motif at the second position (default MA0103.3,MA0103.3)")
    add_motif_db(p, "motif database the motifs come from (default: bundled JASPAR 2020 vertebrates)",
                 old=("--motif-file", "--db"))
    add_seed(p)
    g = p.add_argument_group("two-motif: per-class motif sets")
    g.add_argument("--frequencies", default=None, metavar="F_WT,F_KO",
                   help="fraction of WT and of KO sequences carrying their class motif (default: 1,1)")
    g.add_argument("--shared", default=None, metavar="ID[,ID]",
                   help="motif(s) planted in both classes (JASPAR ids or TF names)")
    g.add_argument("--shared-frequency", type=probability, default=1.0,
                   help="fraction of each class's sequences carrying each shared motif (default: 1)")
    g.add_argument("--config", default=None, metavar="TOML",
                   help="motif sets: tables [WT], [KO], [shared] of motif = fraction (replaces --motifs, "
                        "--frequencies, --shared)")


def run(args) -> int:
    import logging

    from wtko_captum.cli.options import split_list
    from wtko_captum.preparation.simulate import read_ground_truth, simulate

    sets = _read_sets(args.config) if args.config else None
    frequencies = [float(f) for f in split_list(args.frequencies)] if args.frequencies else None
    paths = simulate(args.preset, args.out, n=args.n, length=args.length, seed=args.seed,
                     motifs=args.motifs, motif_db=args.motif_db, shared=args.shared, frequencies=frequencies,
                     shared_frequency=args.shared_frequency, sets=sets)
    truth = read_ground_truth(paths["motifs"])
    logging.getLogger("wtko_captum").info(
        "simulated %s: %d planted sites in %s (WT.fa, KO.fa, motifs.tsv, genome.fa, sim.json)",
        args.preset, len(truth), paths["dir"])
    return 0


def _read_sets(path) -> dict:
    """``{"WT": {motif: fraction}, "KO": ..., "shared": ...}`` from a TOML file."""
    import tomllib

    from wtko_captum.core.errors import InputError

    try:
        with open(path, "rb") as fh:
            sets = tomllib.load(fh)
    except OSError as exc:
        raise InputError(f"cannot read the motif sets: {exc.strerror}", path=path) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", path=path) from None
    bad = [k for k, v in sets.items() if not isinstance(v, dict)]
    if bad:
        raise InputError(f"[{bad[0]}] must be a table of motif = fraction", path=path)
    return sets
