"""Shared plumbing for attribution methods: device/mode handling, batching, references."""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn

from wtko_captum.core.device import resolve_device
from wtko_captum.core.errors import InputError


@contextlib.contextmanager
def model_on(model: nn.Module, device) -> Iterator[torch.device]:
    """Put ``model`` in eval mode on ``device`` for the duration; restore mode and device after.

    Yields the resolved :class:`torch.device`. Restoration happens on a raise too.
    """
    dev = resolve_device(device)
    try:
        orig = next(model.parameters()).device
    except StopIteration:
        orig = None
    was_training = model.training
    if orig is not None and orig != dev:
        model.to(dev)
    if was_training:
        model.eval()
    try:
        yield dev
    finally:
        model.train(was_training)
        if orig is not None and orig != dev:
            model.to(orig)


def check_input(X) -> torch.Tensor:
    """``X`` as a float32 CPU tensor ``(N, 4, L)``; a clear error otherwise."""
    if not isinstance(X, torch.Tensor):
        X = torch.as_tensor(X)
    if X.ndim != 3 or X.shape[1] != 4:
        raise InputError(f"X must have shape (N, 4, L); got {tuple(X.shape)}")
    return X.detach().to("cpu", torch.float32)


def batches(n: int, batch_size: int, verbose: bool = False, desc: str = "") -> Iterator[slice]:
    """Slices over ``range(n)`` in steps of ``batch_size`` (a tqdm bar when ``verbose``)."""
    if batch_size < 1:
        raise InputError("batch_size must be >= 1", value=batch_size)
    starts = range(0, n, batch_size)
    if verbose:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc=desc, unit="batch")
    for s in starts:
        yield slice(s, min(s + batch_size, n))


def batch_args(args, sl: slice, dev) -> tuple:
    """The extra model inputs ``args`` (a tuple of per-example tensors) for one batch."""
    if args is None:
        return ()
    return tuple(a[sl].to(dev) for a in args)


def check_target(model: nn.Module, X: torch.Tensor, target: int, args=None, device="cpu") -> None:
    """Raise InputError when ``target`` is not a valid output index of ``model``."""
    if not isinstance(target, (int,)) or isinstance(target, bool):
        raise InputError("target must be an int output index here (the dispatcher resolves names)",
                         value=target)
    n_out = getattr(model, "config", {}).get("n_classes") if hasattr(model, "config") else None
    if n_out is not None and not -n_out <= target < n_out:
        raise InputError(f"target out of range for a model with {n_out} outputs", value=target)
