"""wtko neurons: NeuronMotif, the motifs and motif syntax of each neuron of a layer."""
from __future__ import annotations

HELP = "demix each neuron of a conv/pool layer into motifs and motif syntax (NeuronMotif)"
STAGE = "motifs"
DESCRIPTION = """NeuronMotif (Wei et al., PNAS 2022) in PyTorch, for any model with convolution and
max-pool layers. Max-pooling makes a deep neuron fire on one motif at several shifts (or on
several motifs), so stacking its best sequences or averaging gradients blurs them together.
For each channel of --layer:

  1. sample sequences of the neuron's receptive-field width that activate it: all of them
     when the field is at most --max-enumerate bp, else a genetic algorithm (elitism 10%,
     1 bp circular shifts 20%, roulette + crossover 70%, gradient-guided resampling; stops
     after 10 generations without gain or 200) seeded from the previous layer's motifs;
     kept balanced across --bins activation bins
  2. demix: k-means (k = pool window x --groups) on each max-pool's input, from the deepest
     pool to the first, recursing, clusters of <= --min-cluster sequences not split
  3. a motif per cluster: activation-binned stacking, Laplace smoothing, information
     content, segments (>= 3 bp with smoothed IC > 1 bit), quality score
  4. Tomtom: every segment de-duplicated into a motif dictionary, matched to JASPAR; each
     neuron's clusters joined into a motif tree with gap ranges

The receptive field and the max-pools come from the model itself (`--list-layers` shows
them, and says which layers cannot be analysed and why: e.g. after an LSTM or attention).
A deeper layer's sampling is seeded from the previous layer, which is analysed first and
written to OUT/seeds/ unless --seed-motifs names an earlier run of it.

outputs (in -o DIR):
  summary.tsv      one row per neuron: samples, clusters, best JASPAR match, syntax
  clusters.tsv     one row per cluster: size, activation, consensus, IC, quality, segments
                   (window bp start-end:consensus:dictionary motif), JASPAR match
  dictionary.tsv   de-duplicated motifs (NM1, NM2 ...) with their JASPAR best match
  motifs.meme      the dictionary (MEME v4) -> wtko tomtom, wtko compare, the MEME suite
  clusters.pfm.meme  every demixed cluster's whole matrix (NEURON.cCLUSTER CONSENSUS; MEME v4):
                   what the paper matches to JASPAR, and what `wtko compare` counts
  neurons/LAYER.CHANNEL.json|png|svg|html   per neuron: matrices, segments, tree; logos of
                   the stacked samples and of every demixed cluster; a self-contained page
  index.html       all neurons with links to their pages
  neurons.json     parameters and the layer analysis (receptive field, pools)
  seeds/           the previous layer's run that seeded this one (same layout)

examples:
  wtko neurons model/model.pt --list-layers
  wtko neurons model/model.pt --layer conv2 -o neurons/
  wtko neurons model/model.pt --layer conv2 --channels 3,17 --samples 20000 --seed 0 -o neurons/
  wtko neurons model/model.pt --layer conv1 -o neurons_l1/
  wtko neurons model/model.pt --layer conv2 --seed-motifs neurons_l1/ -o neurons_l2/
  wtko tomtom neurons/motifs.meme -o neurons/tomtom.tsv
  wtko compare neurons_l1/ neurons_l2/ kmers/ modisco/ filters/ -o compare/
"""


def add_arguments(p):
    from wtko_captum.cli.options import (add_batch_size, add_device, add_motif_db, add_out, add_seed,
                                         positive_int, pvalue)

    p.add_argument("model", help="model checkpoint (model.pt) or its training directory")
    p.add_argument("--layer", help="the convolution or pooling layer (a module name, see --list-layers)")
    p.add_argument("--list-layers", action="store_true",
                   help="list the model's convolution and pooling layers (receptive field, max-pools, "
                        "or why a layer cannot be analysed) and exit")
    add_out(p, "output directory (replaced if it exists)", required=False)
    p.add_argument("--channels", default=None, metavar="C,C", help="channels to analyse (default: all)")
    g = p.add_argument_group("sampling")
    g.add_argument("--samples", type=positive_int, default=20000,
                   help="activating sequences kept per neuron (default: 20000; the paper: 100000)")
    g.add_argument("--bins", type=positive_int, default=10,
                   help="activation bins for balancing the samples and weighting the stacks (default: 10)")
    g.add_argument("--population", type=positive_int, default=None,
                   help="genetic-algorithm population (default: 1000 per 20 bp of receptive field, 2000..5000)")
    g.add_argument("--max-generations", type=positive_int, default=200, help="at most this many generations (default: 200)")
    g.add_argument("--patience", type=positive_int, default=10,
                   help="stop after this many generations without a higher mean activation (default: 10)")
    g.add_argument("--max-enumerate", type=positive_int, default=10,
                   help="enumerate all 4^W sequences when the receptive field W is at most this (default: 10)")
    g.add_argument("--seed-motifs", default=None, metavar="DIR|none",
                   help="a `wtko neurons` output of the previous layer to seed sampling, or 'none' for random "
                        "seeds (default: analyse the previous layer first, into OUT/seeds)")
    g = p.add_argument_group("demixing and motifs")
    g.add_argument("--groups", type=positive_int, default=1,
                   help="pattern groups per max-pool position: k-means k = pool window x groups (default: 1)")
    g.add_argument("--min-cluster", type=positive_int, default=50,
                   help="clusters of at most this many sequences are not split (default: 50)")
    g.add_argument("--no-demix", dest="demix", action="store_false",
                   help="stack all samples of a neuron into one motif (the blurred baseline)")
    g.add_argument("--dedup-q", type=pvalue, default=0.05,
                   help="Tomtom q-value at or below which two segments are one dictionary motif (default: 0.05)")
    g.add_argument("--no-figures", dest="figures", action="store_false", help="no logos or HTML pages")
    add_motif_db(p, "motif database for the matches (default: the bundled JASPAR 2020 CORE vertebrates)")
    add_seed(p)
    add_device(p)
    add_batch_size(p, 4096, "windows per forward pass")


def run(args) -> int:
    import logging

    from wtko_captum.core.errors import InputError

    log = logging.getLogger("wtko_captum")
    if args.list_layers:
        from wtko_captum.motifs.neurons.neurons import as_model
        from wtko_captum.motifs.neurons.substructure import list_layers

        rows = list_layers(as_model(args.model, "cpu"))
        print("layer\ttype\tchannels\treceptive_field_bp\tmax_pools\tanalysable")
        for r in rows:
            print(f"{r['layer']}\t{r['type']}\t{r['channels'] or '-'}\t{r['receptive_field'] or '-'}\t"
                  f"{r['pools'] or '-'}\t{'yes' if r['analysable'] else 'no: ' + r['reason']}")
        return 0
    if not args.layer or not args.out:
        raise InputError("give --layer NAME and -o/--out DIR (or --list-layers)")
    from wtko_captum.motifs.neurons.neurons import neurons

    res = neurons(args.model, args.layer, args.out, channels=args.channels, samples=args.samples, bins=args.bins,
                  groups=args.groups, min_cluster=args.min_cluster, population=args.population,
                  max_generations=args.max_generations, patience=args.patience, max_enumerate=args.max_enumerate,
                  demix=args.demix, seed_motifs=args.seed_motifs, motif_db=args.motif_db, dedup_q=args.dedup_q,
                  figures=args.figures, seed=args.seed, device=args.device, batch_size=args.batch_size,
                  verbose=not args.quiet)
    matched = res.summary[res.summary["best_q"] <= 0.05] if len(res.summary) else res.summary
    log.info("%d neurons of %s (receptive field %d bp): %d clusters, %d dictionary motifs, %d neurons with a "
             "JASPAR match (q <= 0.05) -> %s", len(res.neurons), args.layer, res.substructure["receptive_field"],
             len(res.clusters), len(res.dictionary.motifs), len(matched), args.out)
    return 0
