"""wtko scan: attribution and prediction bigWigs over whole chromosomes, resumable, local or on dask."""
from __future__ import annotations

from wtko_captum.cli.options import (add_batch_size, add_device, add_method_options, add_out, add_seed, add_target,
                                     method_options, nonneg_int, positive_int, split_list, target_value)

HELP = "scan whole chromosomes or BED regions: per-base attribution and prediction bigWigs (local or dask)"
STAGE = "explain"
DESCRIPTION = """Tile chromosomes (or BED regions) into windows of the model's input length at
--stride, attribute every window with each method, and merge the windows into one bigWig per
method and track, plus the model's prediction along the genome:

  OUT/<method>.projected.bw      attribution x one-hot (the observed base's signed score)
  OUT/<method>.maxabs.bw         max |attribution| over A,C,G,T
  OUT/<method>.hypothetical_A.bw ... (with --tracks ...,hypothetical)
  OUT/prediction.p_<class>.bw    softmax probability of the window centred nearest each base
  OUT/skipped.bed                windows with no base (all N: gaps) and windows past a chromosome end
  OUT/manifest.json              options, every shard and its status (watch it to follow a run)

Windows overlapping a base are merged with the rules of `wtko export bigwig` (--overlap, mean
by default). N bases and windows with no base get no value (a gap, never 0).

Work is split into shards (--shard-size windows each, plus the windows reaching into them), each
stored under OUT/shards/ as it finishes. Stopped at any moment (Ctrl-C, kill -9, out of time),
the same command resumes: finished shards are kept and the bigWigs equal those of an
uninterrupted run. A rerun with other options into the same OUT is refused. The result does
not depend on the shard size, the engine or the number of workers.

Engines: `local` (default) runs --workers processes on this machine; `dask` runs on a dask
LocalCluster of --workers processes, or on the cluster at --scheduler (its workers need this
package and read nothing but what they are sent; OUT is written by this command).

examples:
  wtko scan model/model.pt --genome mm10.fa --chroms chr17 --method deeplift_shap,ism --stride 300 -o scan/
  wtko scan model/model.pt --genome mm10.fa --bed peaks.bed --method saliency -o scan/
  wtko scan model/model.pt --genome mm10.fa --engine dask --workers 8 -o scan/
  wtko scan model/model.pt --genome mm10.fa --engine dask --scheduler tcp://head:8786 -o /shared/scan/
"""


def add_arguments(p):
    p.add_argument("model", help="checkpoint written by `wtko train` (model.pt)")
    p.add_argument("--genome", required=True,
                   help="genome: FASTA (plain, bgzip or gzip) or .2bit, told apart by content (index built if "
                        "missing; for plain gzip a decompressed copy is made once in a cache directory)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--chroms", type=split_list, help="comma-separated chromosomes (default: all)")
    where.add_argument("--bed", help="scan only these regions (BED; overlapping regions are merged)")
    add_out(p, "output directory (a previous run there is resumed)")
    p.add_argument("--method", default="saliency",
                   help="comma-separated attribution methods (default: saliency); see `wtko plugins`")
    p.add_argument("--stride", type=positive_int,
                   help="bases between window starts, at most the model's input length (default: half of it)")
    add_target(p)
    p.add_argument("--tracks", type=split_list, default=["projected", "maxabs"],
                   help="projected, maxabs, hypothetical (four files); comma-separated (default: projected,maxabs)")
    p.add_argument("--overlap", default="mean", choices=["mean", "max-abs", "nearest-summit"],
                   help="how a base covered by several windows gets its value (default: mean)")
    add_method_options(p)
    p.add_argument("--rc-average", action="store_true",
                   help="average each window's scores with its reverse complement's (mapped back)")
    add_batch_size(p, what="windows per model call")
    add_device(p)
    add_seed(p)
    g = p.add_argument_group("engine")
    g.add_argument("--engine", default="local", choices=["local", "dask"],
                   help="local: processes on this machine; dask: dask.distributed (default: local)")
    g.add_argument("--workers", type=positive_int,
                   help="processes (local) or LocalCluster workers (dask); default: the CPUs available")
    g.add_argument("--scheduler", metavar="ADDR", help="address of a running dask scheduler (tcp://host:8786)")
    g.add_argument("--shard-size", type=positive_int,
                   help="windows per shard, the unit of work and of resuming (default: 8 batches minus the "
                        "windows reaching in from the previous shard); does not change the output")
    p.add_argument("--max-zooms", type=nonneg_int, default=10,
                   help="bigWig zoom levels for zoomed-out browsing (default: 10; 0: none)")
    p.add_argument("--keep-shards", action="store_true", help="keep OUT/shards/ after the bigWigs are written")


def run(args) -> int:
    import logging

    from wtko_captum.core.errors import InputError
    from wtko_captum.scan import scan

    methods = split_list(args.method)
    if not methods:
        raise InputError("--method is empty; give e.g. --method saliency")
    result = scan(args.model, args.genome, args.out, methods=methods, chroms=args.chroms, bed=args.bed,
                  stride=args.stride, target=target_value(args.target), tracks=args.tracks, overlap=args.overlap,
                  options=method_options(args), batch_size=args.batch_size, device=args.device, seed=args.seed,
                  rc_average=args.rc_average, shard_size=args.shard_size, engine=args.engine,
                  workers=args.workers, scheduler=args.scheduler, max_zooms=args.max_zooms,
                  keep_shards=args.keep_shards, verbose=not args.quiet)
    log = logging.getLogger("wtko_captum")
    log.info("scanned %d bp (%d windows) in %.1f s: %d of %d shard(s) computed now", result["bases"],
             result["windows"], result["seconds"], result["computed"], result["n_shards"])
    for path in result["bigwigs"]:
        log.info("wrote %s", path)
    return 0
