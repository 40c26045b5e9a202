"""The model contract: how an architecture is built, checked and described as data.

A model plugin (entry-point group ``wtko_captum.models``) is an ``nn.Module`` subclass, or a
factory function returning one, that

1. takes the keyword arguments ``input_length`` (bp) and ``n_classes`` (outputs), plus any
   options of its own with defaults (``batchnorm=True``, ``n_filters=64`` ...);
2. maps a float32 one-hot batch ``(N, 4, input_length)`` (alphabet A,C,G,T) to logits
   ``(N, n_classes)``.

The core records how it built a model (``model.config``: the keyword arguments, both required
ones included), so a checkpoint can rebuild it from data alone; a model never has to keep its
own config. The contract is checked when the plugin is first used: a missing keyword is an
error naming the plugin and what is missing, never a checkpoint that silently stores
``input_length 0``.

A model that is not a registered plugin is named by an import spec ``"package.module:factory"``
(``wtko train --model my_pkg.nets:build``). A checkpoint of such a model rebuilds it only when
the caller names the same spec again (``trusted_spec=``): a checkpoint is data, and the name
of code to import is not taken from data on its own.
"""
from __future__ import annotations

import importlib
import inspect
from typing import Any

from wtko_captum.core.errors import CheckpointError, InputError, PluginError

REQUIRED = ("input_length", "n_classes")
_checked: set[int] = set()


def is_import_spec(name: str) -> bool:
    """``"pkg.module:factory"``: a dotted module path and an attribute, not a registry name."""
    module, sep, attr = str(name).partition(":")
    return bool(sep) and all(p.isidentifier() for p in module.split(".") + attr.split("."))


def _signature_params(factory) -> tuple[dict, bool]:
    target = factory.__init__ if inspect.isclass(factory) else factory
    try:
        params = dict(inspect.signature(target).parameters)
    except (TypeError, ValueError):
        return {}, True
    params.pop("self", None)
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    return params, var_kw


def check_model_class(factory, entry=None) -> None:
    """Raise :class:`PluginError` when ``factory`` breaks the model contract (checked once)."""
    if id(factory) in _checked:
        return
    import torch

    who = f"model {entry.name!r} from {entry.source} ({entry.target_name})" if entry is not None \
        else f"model factory {getattr(factory, '__qualname__', factory)!r}"
    if not callable(factory):
        raise PluginError(f"{who} is not a class or a factory function")
    if inspect.isclass(factory) and not issubclass(factory, torch.nn.Module):
        raise PluginError(f"{who} is a class but not a torch.nn.Module")
    params, var_kw = _signature_params(factory)
    missing = [k for k in REQUIRED if k not in params and not var_kw]
    if missing:
        raise PluginError(f"{who} breaks the model contract: its constructor must take the keyword "
                          f"argument(s) {', '.join(missing)} (input length in bp, number of outputs)")
    _checked.add(id(factory))


def model_options(factory) -> dict[str, Any]:
    """The architecture's own options and their defaults (the required keywords left out)."""
    params, _ = _signature_params(factory)
    return {k: p.default for k, p in params.items()
            if k not in REQUIRED and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                inspect.Parameter.KEYWORD_ONLY)}


def resolve_factory(name: str, *, trusted_spec: str | None = None):
    """The class or factory for a registry name (plain or ``dist:name``), or for an import spec
    ``"module:factory"`` that the caller trusts (``trusted_spec``: the spec the user named)."""
    from wtko_captum.core.registry import get_registry

    name = str(name)
    reg = get_registry()
    try:
        reg.entry("models", name)
    except PluginError:
        if not is_import_spec(name):
            raise
    else:
        factory = reg.get("models", name)
        check_model_class(factory, reg.entry("models", name))
        return factory
    if trusted_spec != name:
        raise CheckpointError(f"the model is code outside the registry, {name!r}: it is imported only when "
                              f"you name it yourself (--model {name})")
    module, _, attr = name.partition(":")
    try:
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise InputError(f"cannot import model factory {name!r}: {type(exc).__name__}: {exc}") from None
    check_model_class(obj)
    return obj


def build_model(name: str, *, input_length: int, n_classes: int, trusted_spec: str | None = None,
                check: bool = True, **options):
    """Build architecture ``name`` (a registry name or ``"module:factory"``) for inputs of
    ``input_length`` bp and ``n_classes`` outputs, with the architecture's own ``options``.

    An option the architecture does not take is an :class:`InputError` listing those it takes.
    With ``check`` a one-sequence forward pass verifies the output shape ``(1, n_classes)``.
    The returned model carries ``config`` (every keyword used) and ``architecture``.
    """
    import torch

    factory = resolve_factory(name, trusted_spec=trusted_spec)
    params, var_kw = _signature_params(factory)
    unknown = [k for k in options if k not in params and not var_kw]
    if unknown:
        takes = ", ".join(f"{k}={v!r}" for k, v in model_options(factory).items()) or "no options"
        raise InputError(f"model {name!r} does not take option(s) {', '.join(unknown)}; it takes: {takes}")
    config = {"input_length": int(input_length), "n_classes": int(n_classes), **options}
    try:
        model = factory(**config)
    except (TypeError, ValueError) as exc:
        raise InputError(f"model {name!r} cannot be built with {config}: {exc}") from None
    if not isinstance(model, torch.nn.Module):
        raise PluginError(f"model {name!r} returned {type(model).__name__}, not a torch.nn.Module")
    if check:
        _check_output(model, name, int(input_length), int(n_classes))
    defaults = {k: v for k, v in model_options(factory).items()
                if isinstance(v, (bool, int, float, str)) or v is None}
    model.config = {**defaults, **config}  # defaults recorded: a checkpoint rebuilds this model
    model.architecture = str(name)
    return model


def _check_output(model, name, input_length: int, n_classes: int) -> None:
    import torch

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.zeros(1, 4, input_length))
    except Exception as exc:  # a model that cannot run its own input length
        raise InputError(f"model {name!r} fails on a (1, 4, {input_length}) input: "
                         f"{type(exc).__name__}: {exc}") from None
    finally:
        model.train(was_training)
    shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
    if shape != (1, n_classes):
        raise PluginError(f"model {name!r} breaks the model contract: for a (1, 4, {input_length}) input "
                          f"it returns {shape}, expected logits (1, {n_classes})")


def architectures() -> list[str]:
    """Names of the registered architectures."""
    from wtko_captum.core.registry import get_registry

    return get_registry().names("models")
