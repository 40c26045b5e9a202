"""``attribute()``: one entry point for every attribution method.

The dispatcher validates the input and the model, resolves the target (class index, class
name, ``"pred"``, ``"diff"``), looks the method up in the plugin registry (built-ins and
third-party methods alike), calls it in the tangermeme form ``func(model, X, args=None,
target=int, ...)``, optionally averages with the reverse complement, and checks what comes
back. All methods return hypothetical or projected scores ``(N, 4, L)`` float32 on the CPU.
"""
from __future__ import annotations

import inspect
import logging

import numpy as np
import torch

from wtko_captum.core.errors import InputError, PluginError
from wtko_captum.core.targets import (LogitDiff, check_output, check_pred_applies, class_names_of, diff_indices,
                                     predict_logits,
                      resolve_class)

log = logging.getLogger("wtko_captum.attribute")

#: keyword arguments the dispatcher itself passes to every method (when its signature takes
#: them). The seed goes to a method as ``seed``, or as ``random_state`` to one written in
#: tangermeme's style.
CALL_KEYWORDS = ("target", "batch_size", "device", "seed", "random_state", "verbose")


def as_onehot_tensor(X, name: str = "X") -> torch.Tensor:
    """A ``(N, 4, L)`` float32 CPU tensor from a tensor, an array or a list of DNA strings.

    A single ``(4, L)`` sequence gets a batch axis. ``(N, L, 4)`` is refused with the fix
    (transposing silently would be a guess; readers of files do detect it and say so).
    """
    if isinstance(X, str):
        X = [X]
    if isinstance(X, (list, tuple)) and X and all(isinstance(s, str) for s in X):
        from wtko_captum.core.sequence import one_hot

        try:
            return torch.from_numpy(one_hot(list(X)))
        except ValueError as exc:
            raise InputError(f"{name}: {exc} (all sequences must have the same length)") from None
    if isinstance(X, torch.Tensor):
        t = X.detach()
    else:
        try:
            t = torch.as_tensor(np.asarray(X, dtype=np.float32))
        except (TypeError, ValueError) as exc:
            raise InputError(f"{name} must be a (N, 4, L) tensor/array or a list of DNA strings "
                             f"({type(X).__name__}: {exc})") from None
    if t.ndim == 2 and t.shape[0] == 4:
        t = t.unsqueeze(0)
    if t.ndim != 3:
        raise InputError(f"{name} must be (N, 4, L) one-hot (A,C,G,T channels), got shape "
                         f"{tuple(t.shape)}")
    if t.shape[1] != 4:
        if t.shape[2] == 4:
            raise InputError(
                f"{name} has shape {tuple(t.shape)}, which looks like (N, L, 4); wtko_captum "
                f"uses (N, 4, L): pass X.transpose(0, 2, 1) (numpy) or X.permute(0, 2, 1) (torch)")
        raise InputError(f"{name} must have 4 channels (alphabet A,C,G,T) on axis 1, got "
                         f"{t.shape[1]} (shape {tuple(t.shape)})")
    if t.shape[0] == 0:
        raise InputError(f"{name} holds no sequences")
    t = t.to(dtype=torch.float32, device="cpu")
    if not torch.isfinite(t).all():
        raise InputError(f"{name} contains NaN or infinite values")
    return t.contiguous()


def get_method(method):
    """The method callable for a registry name (or the callable itself)."""
    if callable(method):
        return method
    from wtko_captum.core.registry import get_registry

    return get_registry().get("attributions", str(method))


def method_name(method) -> str:
    return method if isinstance(method, str) else getattr(method, "__name__", repr(method))


def method_info(func):
    """The :class:`~wtko_captum.core.registry.MethodInfo` a method declared (defaults if none)."""
    from wtko_captum.core.registry import MethodInfo

    return getattr(func, "wtko_info", None) or MethodInfo()


def accepted_options(func, options: dict) -> tuple[dict, list[str]]:
    """Split ``options`` into those ``func`` accepts and those it does not.

    A method with ``**kwargs`` accepts everything.
    """
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):  # builtins / C callables: pass everything
        return dict(options), []
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return dict(options), []
    ok = {k: v for k, v in options.items() if k in params}
    return ok, [k for k in options if k not in params]


def _seed_keyword(func) -> str:
    """``seed``, or ``random_state`` for a method in tangermeme's style (or one taking only
    ``**kwargs``)."""
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return "random_state"
    return "seed" if "seed" in params else "random_state"


def _call(func, model, X, target: int, common: dict, options: dict) -> torch.Tensor:
    common = dict(common)
    common.pop("random_state" if _seed_keyword(func) == "seed" else "seed")
    kwargs, _ = accepted_options(func, {"target": target, **common})
    out = func(model, X, None, **kwargs, **options)
    if isinstance(out, tuple) and out and isinstance(out[0], torch.Tensor):
        out = out[0]  # e.g. (attributions, references) from a tangermeme-style method
    if isinstance(out, np.ndarray):
        out = torch.from_numpy(out)
    if not isinstance(out, torch.Tensor):
        raise PluginError(f"method {method_name(func)!r} returned {type(out).__name__}, "
                          f"expected a (N, 4, L) tensor")
    if tuple(out.shape) != tuple(X.shape):
        raise PluginError(f"method {method_name(func)!r} returned shape {tuple(out.shape)} "
                          f"for input {tuple(X.shape)}")
    return out.detach().to(device="cpu", dtype=torch.float32)


def attribute(model, X, method="saliency", target=1, *, batch_size: int = 128, device="auto",
              seed=None, rc_average: bool = False, verbose: bool = False,
              **options) -> torch.Tensor:
    """Attribution scores of ``model`` for sequences ``X``.

    Parameters
    ----------
    model : torch.nn.Module
        Any module whose ``forward(x)`` maps ``(N, 4, L)`` to logits ``(N, n_outputs)``.
        ``model.class_names`` (optional) enables class-name targets.
    X : tensor, array ``(N, 4, L)`` or list of equal-length DNA strings
        One-hot, alphabet A,C,G,T; N = all-zero column. ``(N, L, 4)`` is refused with a hint.
    method : str or callable
        A registered method name (``wtko plugins``) or a method function.
    target : int, str
        Output index, class name (``"WT"``/``"KO"``), ``"pred"`` (each sequence's predicted
        class on the unmodified input) or ``"diff"`` (logit WT minus logit KO).
    batch_size, device, seed, verbose
        Passed to the method. ``device`` is ``"auto"`` (CUDA when available), ``"cpu"`` or
        ``"cuda"``; ``seed`` seeds stochastic methods (same seed, same result). ``random_state``
        is a deprecated spelling of ``seed``.
    rc_average : bool
        Average each sequence's attributions with those of its reverse complement mapped back
        onto the forward strand (``"pred"`` keeps the forward strand's predicted class).
    **options
        The method's own options (``reference``, ``n_steps``, ``n_shuffles``, ``layer`` ...).
        An option the method does not take is an error naming what it does take.

    Returns
    -------
    torch.FloatTensor ``(N, 4, L)`` on the CPU: hypothetical scores where the method makes
    them (see ``method_info(get_method(name)).hypothetical``).
    """
    from wtko_captum.core.device import resolve_device

    if "random_state" in options:
        from wtko_captum.core.deprecation import renamed_keywords

        seed = renamed_keywords("attribute", {"random_state": options.pop("random_state")},
                                {"random_state": "seed"})["seed"]
    dev = resolve_device(device)
    X = as_onehot_tensor(X)
    func = get_method(method)
    name = method_name(method)
    _, rejected = accepted_options(func, options)
    if rejected:
        params = [p for p in inspect.signature(func).parameters if p not in ("model", "X", "args")]
        raise InputError(f"method {name!r} does not take option(s) {', '.join(rejected)}; "
                         f"it takes: {', '.join(params) or 'no options'}")
    if not isinstance(model, torch.nn.Module):
        raise InputError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    # the caller's model goes back to its own device and train/eval mode afterwards
    param = next(iter(model.parameters()), None)
    home, was_training = (param.device if param is not None else None), model.training
    try:
        return _attribute(model.eval().to(dev), X, func, target, dev, int(batch_size), seed,
                          rc_average, verbose, options)
    finally:
        model.train(was_training)
        if home is not None:
            model.to(home)


def _attribute(model, X, func, target, dev, batch_size, seed, rc_average, verbose, options):
    """:func:`attribute` after validation, with ``model`` in eval mode on ``dev``."""
    # One small forward pass checks the output shape before any expensive work.
    with torch.no_grad():
        probe = check_output(model(X[:2].to(dev)), len(X[:2]))
    n_out = int(probe.shape[1])
    names = class_names_of(model, n_out)

    common = dict(batch_size=batch_size, device=dev, seed=seed, random_state=seed, verbose=verbose)

    def run(model_, X_, t):
        out = _call(func, model_, X_, t, common, options)
        if rc_average:
            from wtko_captum.core.sequence import reverse_complement_onehot

            rc = _call(func, model_, reverse_complement_onehot(X_), t, common, options)
            out = 0.5 * (out + reverse_complement_onehot(rc))
        return out

    if isinstance(target, str) and target.strip().lower() == "diff":
        pos, neg = diff_indices(names, n_out)
        return run(LogitDiff(model, pos, neg).eval(), X, 0)
    if isinstance(target, str) and target.strip().lower() == "pred":
        check_pred_applies(model)
        pred = predict_logits(model, X, batch_size, dev).argmax(dim=1)
        return attribute_per_class(run, model, X, pred)
    if isinstance(target, (list, tuple, np.ndarray, torch.Tensor)) and not isinstance(target, str):
        per = torch.as_tensor(np.asarray(target, dtype=np.int64))
        if per.shape != (len(X),):
            raise InputError(f"a per-sequence target needs {len(X)} class indices, got shape "
                             f"{tuple(per.shape)}")
        for t in per.unique().tolist():
            resolve_class(int(t), names, n_out)
        return attribute_per_class(run, model, X, per)
    return run(model, X, resolve_class(target, names, n_out))


def attribute_per_class(run, model, X: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """Explain each sequence for its own class: one call per class, results put back in order."""
    out = torch.zeros_like(X)
    for c in classes.unique().tolist():
        idx = (classes == c).nonzero(as_tuple=True)[0]
        out[idx] = run(model, X[idx], int(c))
    return out


def predicted_classes(model, X, *, batch_size: int = 128, device="cpu") -> np.ndarray:
    """``(N,)`` int64 argmax class of ``model`` for ``X`` (the ``"pred"`` target)."""
    from wtko_captum.core.device import resolve_device

    dev = resolve_device(device)
    X = as_onehot_tensor(X)
    return predict_logits(model.eval().to(dev), X, batch_size, dev).argmax(1).numpy()
