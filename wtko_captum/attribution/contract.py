"""The attribution-method contract, as a check any method (ours or a plugin's) can be run through.

A method ``func(model, X, args=None, *, target=0, batch_size=..., device=...,
seed=None, verbose=False, **options)`` must

1. be callable positionally as ``func(model, X)`` and ``func(model, X, None)`` (tangermeme's
   form, so it also runs inside ``tangermeme.marginalize(func=...)`` / ``ablate(func=...)``);
2. return a ``torch.Tensor`` of shape ``(N, 4, L)``, dtype float32, on the CPU, all finite;
3. be deterministic under a seed: two calls with the same ``seed`` are equal;
4. (deterministic methods) give a sequence the same scores whatever else shares its batch;
5. declare itself with ``@attribution_method(...)`` (hypothetical / needs_layer / stochastic).

Usage in a plugin's own tests::

    from wtko_captum.attribution.contract import check_method
    report = check_method(my_method, model, X, target=1)
"""
from __future__ import annotations

import torch

from wtko_captum.core.errors import PluginError


class ContractError(PluginError):
    """A method broke the attribution contract (the message lists every failed check)."""


def _name(func) -> str:
    return getattr(func, "__name__", repr(func))


def check_method(func, model, X, *, target: int = 0, seed: int = 0,
                 batch_independence: bool | None = None, marginalize: bool = True,
                 atol: float = 1e-5, **options) -> dict:
    """Run ``func`` through the attribution contract; raise :class:`ContractError` on failure.

    Parameters
    ----------
    func : callable
        The method (not its registry name).
    model : torch.nn.Module
        A model returning ``(N, k)`` logits; put in eval mode here.
    X : torch.Tensor ``(N, 4, L)`` float32 one-hot
        A few short sequences are enough (N >= 2 for the batch-independence check).
    target : int
        Output index passed as ``target=``.
    seed : int
        Seed for the determinism check.
    batch_independence : bool, optional
        Check that sequence 0 scores the same alone and in the batch. Default: only for
        methods that do not declare ``stochastic=True``.
    marginalize : bool
        Also run the method through ``tangermeme.marginalize(func=...)``.
    atol : float
        Absolute tolerance (relative to the score scale) for the equality checks.
    **options
        The method's own options.

    Returns
    -------
    dict
        ``{"checks": [names passed], "info": MethodInfo, "max_abs": float}``.
    """
    from wtko_captum.attribution.attribute import accepted_options

    model = model.eval()
    X = torch.as_tensor(X, dtype=torch.float32)
    failures, passed = [], []
    info = getattr(func, "wtko_info", None)
    if info is None:
        failures.append("not declared: decorate it with @wtko_captum.core.registry.attribution_method(...)")
    else:
        passed.append("declared")
    kw, _ = accepted_options(func, {"target": target, "seed": seed, "device": "cpu",
                                    "verbose": False})
    kw.update(options)

    def call(X_, args_given=True):
        return func(model, X_, None, **kw) if args_given else func(model, X_, **kw)

    try:
        a = call(X)
    except Exception as exc:
        raise ContractError(f"method {_name(func)!r} failed on func(model, X, None, ...): "
                            f"{type(exc).__name__}: {exc}") from exc

    if not isinstance(a, torch.Tensor):
        raise ContractError(f"method {_name(func)!r} returned {type(a).__name__}, not a torch.Tensor")
    if tuple(a.shape) != tuple(X.shape):
        failures.append(f"shape {tuple(a.shape)} != input shape {tuple(X.shape)}")
    else:
        passed.append("shape")
    if a.dtype != torch.float32:
        failures.append(f"dtype {a.dtype}, expected torch.float32")
    else:
        passed.append("dtype")
    if a.device.type != "cpu":
        failures.append(f"returned on {a.device}, expected the CPU")
    else:
        passed.append("device")
    if not torch.isfinite(a).all():
        failures.append("non-finite values (NaN/inf)")
    else:
        passed.append("finite")
    scale = float(a.abs().max()) if a.numel() else 0.0
    tol = atol * max(1.0, scale)

    try:
        b = call(X, args_given=False)
        if tuple(b.shape) == tuple(a.shape) and torch.allclose(a, b.to(a.device, a.dtype), atol=tol, rtol=0):
            passed.append("deterministic under a seed")
        else:
            diff = float((a - b.to(a.device, a.dtype)).abs().max()) if b.shape == a.shape else float("nan")
            failures.append(f"two calls with seed={seed} differ (max |diff| {diff:.3g})")
    except Exception as exc:
        failures.append(f"func(model, X) without args failed: {type(exc).__name__}: {exc}")

    stochastic = bool(getattr(info, "stochastic", False))
    if batch_independence is None:
        batch_independence = not stochastic
    if batch_independence and len(X) >= 2:
        alone = call(X[:1])
        if torch.allclose(alone.to(a.device, a.dtype), a[:1], atol=tol, rtol=1e-4):
            passed.append("batch independent")
        else:
            diff = float((alone.to(a.device, a.dtype) - a[:1]).abs().max())
            failures.append(f"sequence 0 scores differently alone than in its batch (max |diff| {diff:.3g})")

    if marginalize:
        try:
            from tangermeme.marginalize import marginalize as tm_marginalize

            res = tm_marginalize(model, X, "ACGT", func=func, additional_func_kwargs=kw)
            ok = all(isinstance(y, torch.Tensor) and tuple(y.shape) == tuple(X.shape)
                     for y in (res.y_before, res.y_after))
            if ok and torch.allclose(res.y_before.to(a.device, a.dtype), a, atol=tol, rtol=1e-4):
                passed.append("tangermeme.marginalize")
            else:
                failures.append("inside tangermeme.marginalize(func=...) the result differs from a direct call")
        except Exception as exc:
            failures.append(f"tangermeme.marginalize(func=...) failed: {type(exc).__name__}: {exc}")

    if failures:
        raise ContractError(f"method {_name(func)!r} breaks the attribution contract: " + "; ".join(failures))
    return {"checks": passed, "info": info, "max_abs": scale}
