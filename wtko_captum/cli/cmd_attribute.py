"""wtko attribute: attribution scores for a prepared split, one AttributionSet per method."""
from __future__ import annotations

from wtko_captum.cli.options import (add_batch_size, add_device, add_method_options, add_out, add_seed, add_split,
                                     add_target, method_options, positive_int, split_list, target_value)

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
    add_target(p)
    add_method_options(p)
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
    written = attribute_prepared(
        args.model, args.data, args.out, methods, split=args.split, target=target_value(args.target),
        batch_size=args.batch_size, device=args.device, seed=args.seed, chunk_size=args.chunk_size,
        rc_average=args.rc_average, options=method_options(args), limit=args.limit,
        verbose=not args.quiet)
    log = logging.getLogger("wtko_captum")
    for name, path in written.items():
        log.info("%s -> %s", name, path)
    return 0
