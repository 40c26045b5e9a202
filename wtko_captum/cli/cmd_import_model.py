"""wtko import-model: a checkpoint from weights trained elsewhere (a plain state dict)."""
from __future__ import annotations

HELP = "turn a plain state dict trained elsewhere (e.g. bpnet-lite) into a wtko checkpoint"
STAGE = "model"
DESCRIPTION = """Write a self-describing wtko checkpoint for a registered model (or a
PACKAGE.MODULE:FACTORY model) from weights saved elsewhere as a plain state dict
(`torch.save(model.state_dict(), "weights.pt")`). The file is read with
torch.load(weights_only=True): a pickled whole model is refused and nothing in it is run.
Models that know their foreign layout read their options from the weights' shapes (bpnet:
n_filters, n_layers, tracks, control tracks); --model-option overrides.

output: the checkpoint (-o FILE), usable by evaluate/attribute/... like a trained one.

examples:
  # in the environment where bpnet-lite trained it:  torch.save(model.state_dict(), "bpnet_sd.pt")
  wtko import-model bpnet_sd.pt --model bpnet --input-length 2114 -o counts.pt
  wtko import-model bpnet_sd.pt --model bpnet --input-length 2114 --model-option output=profile -o profile.pt
  # a multi-task model: one sigmoid output per task, scored per task, explained with --target TASK
  wtko import-model deepsea_sd.pt --model deepsea --input-length 1000 --outputs sigmoid \\
      --class-names CTCF,ASCL1,... -o deepsea.pt
"""


def add_arguments(p):
    from wtko_captum.cli.options import add_out, positive_int, split_list

    p.add_argument("state_dict", help="a plain state dict file (torch.save(model.state_dict(), path))")
    add_out(p, "checkpoint file to write (model.pt)", old=())
    p.add_argument("--model", required=True,
                   help="a registered model (e.g. bpnet) or PACKAGE.MODULE:FACTORY")
    p.add_argument("--input-length", type=positive_int, required=True, help="input length in bp")
    p.add_argument("--class-names", type=split_list, default=None, metavar="A,B,..",
                   help="names of the model's outputs (default: 'output' for one output)")
    p.add_argument("--model-option", action="append", default=[], metavar="KEY=VALUE",
                   help="an option of the model's constructor, e.g. output=profile (repeatable)")
    p.add_argument("--outputs", choices=["softmax", "sigmoid"], default="softmax",
                   help="how the logits are read: softmax over classes (default), or sigmoid: a multi-task "
                        "model (DeepSEA/Basset style), one independent probability per output, named by "
                        "--class-names; it is scored and explained on `prepare --tasks` data")


def run(args) -> int:
    from wtko_captum.cli.options import parse_key_values
    from wtko_captum.core.checkpoint import checkpoint_from_state_dict, load_model

    path = checkpoint_from_state_dict(args.state_dict, args.out, model=args.model, input_length=args.input_length,
                                      class_names=args.class_names, trusted_spec=args.model, outputs=args.outputs,
                                      **parse_key_values(args.model_option, "--model-option"))
    model = load_model(path, trusted_spec=args.model)
    if not args.quiet:
        print(f"{path}: {args.model} {model.config}, {args.outputs} outputs {', '.join(model.class_names)}")
    return 0
