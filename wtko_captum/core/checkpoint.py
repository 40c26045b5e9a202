"""Self-describing model checkpoints that load as data, never as code.

A checkpoint is a plain dict of strings, numbers, lists and tensors::

    {"format": "wtko_captum.checkpoint", "format_version": 1,
     "architecture": "wtko_cnn", "config": {...}, "class_names": ["KO", "WT"],
     "input_length": 600, "genome_build": "mm10" | None, "training": {...},
     "outputs": "softmax" | "sigmoid", "package_version": "0.1.0", "state_dict": {...}}

``outputs`` says how the logits are read: ``softmax`` over classes (one class per sequence), or
``sigmoid`` per output (multi-task: independent 0/1 tasks, DeepSEA/Basset style); a checkpoint
without it is ``softmax``.

and is read with ``torch.load(..., weights_only=True)``, which refuses pickled code.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from wtko_captum.core.atomic import atomic_path
from wtko_captum.core.errors import CheckpointError, InputError, PluginError

FORMAT = "wtko_captum.checkpoint"
FORMAT_VERSION = 1


OUTPUTS = ("softmax", "sigmoid")


def save_checkpoint(path, model: torch.nn.Module, architecture: str, class_names, *,
                    genome_build=None, training=None, outputs: str = "softmax") -> Path:
    """Write ``model`` as a self-describing checkpoint (atomically); ``outputs`` is
    ``"softmax"`` (classes) or ``"sigmoid"`` (one independent task per output)."""
    if outputs not in OUTPUTS:
        raise InputError(f"outputs must be one of {', '.join(OUTPUTS)}", value=outputs)
    from wtko_captum import __version__

    config = dict(getattr(model, "config", {}))
    ckpt = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": architecture,
        "config": config,
        "class_names": list(class_names),
        "input_length": int(config.get("input_length", 0)),
        "genome_build": genome_build,
        "training": _plain(training or {}),
        "outputs": outputs,
        "package_version": __version__,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    with atomic_path(path) as tmp:
        torch.save(ckpt, tmp)
    return Path(path)


def _plain(obj):
    """Round-trip through JSON so only data types reach the checkpoint."""
    return json.loads(json.dumps(obj, default=str))


def read_checkpoint(path) -> dict:
    """The checkpoint dict, loaded with ``weights_only=True``.

    Raises :class:`CheckpointError` for a missing file, a pickle that carries code (refused,
    nothing executed) or a file that is not a wtko_captum checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError and friends: refuse, never fall back to full pickle
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{path}: refused to load: not a data-only checkpoint (it may carry code; "
            f"loaded with weights_only=True): {first}"
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a wtko_captum checkpoint (no '{FORMAT}' format tag)")
    missing = [k for k in ("architecture", "config", "class_names", "input_length", "state_dict") if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: incomplete checkpoint (missing {', '.join(missing)})")
    return ckpt


def model_identity(ckpt: dict) -> str:
    """A short, stable identity of a checkpoint's weights: ``architecture@sha1[:12]``."""
    h = hashlib.sha1()
    for key in sorted(ckpt["state_dict"]):
        h.update(key.encode())
        h.update(ckpt["state_dict"][key].detach().cpu().float().numpy().tobytes())
    return f"{ckpt['architecture']}@{h.hexdigest()[:12]}"


def load_model(path, *, architecture: str | None = None, input_length: int | None = None,
               device="cpu", with_checkpoint: bool = False, trusted_spec: str | None = None):
    """Load a checkpoint into its architecture, in eval mode.

    ``architecture`` / ``input_length``, when given, must match the checkpoint (a clear
    :class:`CheckpointError` otherwise). The model gets attributes ``class_names``,
    ``outputs`` (``"softmax"`` or ``"sigmoid"``), ``input_length``, ``architecture`` and
    ``identity``. With ``with_checkpoint=True`` returns
    ``(model, checkpoint_dict)``.
    """
    ckpt = read_checkpoint(path)
    arch = ckpt["architecture"]
    if architecture is not None and architecture != arch:
        raise CheckpointError(f"{path}: checkpoint is architecture {arch!r}, expected {architecture!r}")
    if input_length is not None and int(input_length) != int(ckpt["input_length"]):
        raise CheckpointError(
            f"{path}: checkpoint expects input length {ckpt['input_length']} bp, "
            f"data has {input_length} bp (re-run prepare with --width {ckpt['input_length']})"
        )
    from wtko_captum.core.architecture import build_model

    config = dict(ckpt["config"])
    required = {k: config.pop(k) for k in ("input_length", "n_classes") if k in config}
    required.setdefault("input_length", int(ckpt["input_length"]))
    required.setdefault("n_classes", len(ckpt["class_names"]))
    if required["n_classes"] != len(ckpt["class_names"]):
        raise CheckpointError(f"{path}: checkpoint has {len(ckpt['class_names'])} class names "
                              f"({', '.join(map(str, ckpt['class_names']))}) for {required['n_classes']} outputs")
    try:
        model = build_model(arch, trusted_spec=trusted_spec, check=False, **required, **config)
        model.load_state_dict(ckpt["state_dict"])
    except PluginError as exc:
        raise CheckpointError(f"{path}: checkpoint architecture {arch!r} is not installed: {exc}") from None
    except InputError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    except (RuntimeError, TypeError) as exc:
        raise CheckpointError(f"{path}: weights do not fit architecture {arch!r}: {str(exc).splitlines()[0]}") from None
    model.class_names = list(ckpt["class_names"])
    model.outputs = ckpt.get("outputs", "softmax")
    model.architecture = arch
    model.identity = model_identity(ckpt)
    model.eval().to(device)
    return (model, ckpt) if with_checkpoint else model


def checkpoint_from_state_dict(state_dict, out, *, model: str, input_length: int, class_names=None,
                               trusted_spec: str | None = None, outputs: str = "softmax", **options) -> Path:
    """Write a checkpoint of architecture ``model`` with the weights of a plain state dict.

    For weights trained elsewhere (e.g. a bpnet-lite BPNet): ``state_dict`` is a path to a file
    written by ``torch.save(module.state_dict(), path)``, loaded with ``weights_only=True`` (a
    pickled model is refused, nothing executed), or the dict itself. An architecture may declare
    ``adapt_state_dict(state_dict) -> (options, state_dict)`` to read its options from the
    weights' shapes and rename the keys; ``options`` given here override those read.

    Parameters
    ----------
    out : path of the checkpoint to write (atomically).
    model : a registered model name, or ``"module:factory"`` (then ``trusted_spec`` must name it).
    input_length : bp the model takes.
    class_names : names of the outputs; default ``["output"]`` for one output, else
        ``output_0 ..``, one per output of the built model.
    outputs : ``"softmax"`` (classes, one per sequence) or ``"sigmoid"`` (a multi-task model,
        DeepSEA/Basset style: one independent probability per output, named by ``class_names``).

    Returns
    -------
    Path of the checkpoint; it loads with :func:`load_model` like any other.
    """
    from wtko_captum.core.architecture import build_model, resolve_factory

    source = "the state dict"
    if not isinstance(state_dict, dict):
        path = Path(state_dict)
        source = str(path)
        if not path.is_file():
            raise InputError("state dict file not found", path=path)
        try:
            state_dict = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise CheckpointError(f"{path}: refused: not a plain state dict (a pickled model carries code; save "
                                  f"`model.state_dict()` instead): {first}") from None
    if not isinstance(state_dict, dict) or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise CheckpointError(f"{source}: not a state dict (a mapping of parameter names to tensors)")
    if outputs not in OUTPUTS:  # before any work
        raise InputError(f"outputs must be one of {', '.join(OUTPUTS)}", value=outputs)
    factory = resolve_factory(model, trusted_spec=trusted_spec)
    adapt = getattr(factory, "adapt_state_dict", None)
    found = {}
    if callable(adapt):
        try:
            found, state_dict = adapt(state_dict)
        except (KeyError, ValueError) as exc:
            raise CheckpointError(f"{source}: not weights of model {model!r}: {exc}") from None
    config = {**found, **options}
    n_classes = len(class_names) if class_names else int(config.pop("n_classes", 1))
    config.pop("n_classes", None)
    net = build_model(model, input_length=input_length, n_classes=n_classes, trusted_spec=trusted_spec, **config)
    try:
        net.load_state_dict(state_dict)
    except RuntimeError as exc:
        raise CheckpointError(f"{source}: weights do not fit model {model!r} with {config}: "
                              f"{str(exc).splitlines()[0]}") from None
    names = list(class_names) if class_names else (["output"] if n_classes == 1
                                                    else [f"output_{i}" for i in range(n_classes)])
    return save_checkpoint(out, net, model, names, training={"imported_from": source}, outputs=outputs)
