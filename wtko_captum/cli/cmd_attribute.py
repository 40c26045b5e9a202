"""wtko attribute: attribution scores for a prepared split, one AttributionSet per method."""
from __future__ import annotations

from wtko_captum.cli.options import add_batch_size, add_device, add_out, add_seed, add_split, positive_int, split_list

HELP = "explain a trained model: attribution scores per base for a data split (saliency, DeepLIFT-SHAP, ISM, ...)"
STAGE = "explain"
DESCRIPTION = """Compute attribution scores (N, 4, L) for every sequence of one split of a
prepared-data directory, with one or more methods, and write one AttributionSet per method:

  OUT/<method>/X.npz        one-hot (N, 4, L)         } the pair `modisco motifs -s X.npz -a attr.npz`
  OUT/<method>/attr.npz     attributions (N, 4, L)    } reads directly
  OUT/<method>/regions.bed  window per row (0-based), label, prediction, p_<class>
  OUT/<method>/meta.json    method, target, options, model identity, hypothetical or not
  OUT/<method>.h5           the chunked store the run streams into (kept for resuming)

An interrupted run resumes where it stopped when re-run with the same arguments; the result
equals an uninterrupted run. `wtko plugins` shows the installed methods.

Targets: a class name (WT, KO) or index, `pred` (each sequence's predicted class, the WTKO
paper's choice) or `diff` (logit WT minus logit KO).

example:
  wtko attribute model/model.pt data/ --split test --method saliency,deeplift_shap,ism -o attr/
  wtko attribute model/model.pt data/ --method integrated_gradients --n-steps 50 --reference zero --target WT -o attr/
"""


def add_arguments(p):
    p.add_argument("model", help="checkpoint written by `wtko train` (model.pt)")
    p.add_argument("data", help="prepared-data directory written by `wtko prepare`")
    add_out(p, "output directory")
    add_split(p)
    p.add_argument("--method", default="saliency",
                   help="comma-separated methods (default: saliency); see `wtko plugins`")
    p.add_argument("--target", default="pred",
                   help="class name (WT, KO), class index, pred or diff (default: pred)")
    g = p.add_argument_group("method options (each method uses those it takes)")
    g.add_argument("--n-shuffles", type=positive_int, help="dinucleotide-shuffled references per sequence (deeplift_shap)")
    g.add_argument("--n-steps", type=positive_int, help="integration steps (integrated_gradients)")
    g.add_argument("--reference", help="reference/baseline: zero or shuffle (deeplift, integrated_gradients)")
    g.add_argument("--layer", help="layer name for layer methods (grad_cam; default: the first conv)")
    g.add_argument("--backend", help="implementation where a method has several (e.g. captum, tangermeme)")
    p.add_argument("--rc-average", action="store_true",
                   help="average each sequence's scores with its reverse complement's (mapped back)")
    add_batch_size(p)
    add_device(p)
    add_seed(p)
    p.add_argument("--chunk-size", type=positive_int, default=256,
                   help="sequences per stored chunk, the unit a resumed run restarts from (default: 256)")
    p.add_argument("--limit", type=positive_int, help="only the first N sequences of the split")


def run(args) -> int:
    import logging

    from wtko_captum.attribution.attribute_prepared import attribute_prepared
    from wtko_captum.core.errors import InputError

    methods = split_list(args.method)
    if not methods:
        raise InputError("--method is empty; give e.g. --method saliency")
    target = args.target
    if target.lstrip("-").isdigit():
        target = int(target)
    options = {"n_shuffles": args.n_shuffles, "n_steps": args.n_steps, "reference": args.reference,
               "layer": args.layer, "backend": args.backend}
    written = attribute_prepared(
        args.model, args.data, args.out, methods, split=args.split, target=target,
        batch_size=args.batch_size, device=args.device, seed=args.seed, chunk_size=args.chunk_size,
        rc_average=args.rc_average, options=options, limit=args.limit,
        verbose=not args.quiet)
    log = logging.getLogger("wtko_captum")
    for name, path in written.items():
        log.info("%s -> %s", name, path)
    return 0
