"""Which DeepLIFT rule each module of a model gets, and how a model declares a rule of its own.

DeepLIFT is exact (``sum(attr * (x - ref)) == f(x) - f(ref)``) only when every nonlinear step
of the model has a rule. Rules attach to modules, so before any work the engine walks the model
and gives each module one of:

``"linear"``
    An affine map (Conv, Linear, eval-mode BatchNorm, Dropout, Identity, Flatten, AvgPool,
    padding): the plain gradient is already the DeepLIFT multiplier.
``"rescale"``
    An elementwise nonlinearity (ReLU, GELU, Sigmoid, Tanh, ...): ``dy / dx`` replaced by the
    secant ``(f(x) - f(ref)) / (x - ref)``. Applied to a module whose output is the sum of
    elementwise-rescaled terms (bpnet-lite's profile scaling) it distributes each output's
    change over its own input: complete, but not an explanation of how the outputs interact.
``"maxpool"``
    ``MaxPool1d`` / ``AdaptiveMaxPool1d``: the change of a window routed through the argmax.
``"softmax"``
    ``Softmax`` along its own axis (never the batch axis).
``"bilinear"``
    A module ``forward(left, right)`` that is bilinear in its two operands (an attention
    product, a gate): the midpoint product rule, exact for any bilinear map.
``"none"``
    No rule: the model is refused (a head that mixes positions nonlinearly, an opaque layer).
a callable
    A rule in tangermeme's form ``rule(module, grad_input, grad_output)`` reading
    ``module.input`` / ``module.output`` (the observed rows stacked on the reference rows), e.g.
    ``tangermeme.deep_lift_shap._layernorm``; single-input modules only.

How a module gets its rule, first match wins:

1. ``additional_nonlinear_ops={ModuleType: rule}`` passed to ``deeplift`` / ``deeplift_shap``
   (tangermeme's option of the same name; a rule is a name above or a tangermeme rule);
2. the class attribute ``deeplift_rule`` (``class WeightedSum(nn.Module): deeplift_rule =
   "bilinear"``): a model declares its own layers, the engine imports no model;
3. the built-in tables below (exact ``torch.nn`` types, or subclasses that keep their
   parent's ``forward``);
4. a module with children and no rule: its children are visited instead (its own forward is
   then assumed to combine them affinely; the completeness check catches a model where it
   does not).

A layer whose forward is opaque but has an exact twin made of ruled modules is swapped for the
twin while DeepLIFT runs (:func:`exact_layers`): ``nn.LSTM`` becomes its unrolled twin
(:mod:`._unrolled_lstm`; same parameters, same outputs to float rounding), so DeepLIFT is exact
on recurrent models too.

A leaf module with no rule, or a layer whose forward is opaque and has no twin (``nn.GRU``,
``nn.MultiheadAttention``, ``nn.TransformerEncoderLayer``), stops the method before any work
with :class:`~wtko_captum.core.errors.NoRuleError`, naming each such module by its path and
type and listing the registered methods that need no rules.
"""
from __future__ import annotations

import contextlib

from torch import nn

from wtko_captum.core.errors import NoRuleError

RULE_NAMES = ("linear", "rescale", "maxpool", "softmax", "bilinear", "none")
_ALIASES = {"elementwise": "rescale", "nonlinear": "rescale"}

LINEAR = (nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.Linear,
          nn.BatchNorm1d, nn.BatchNorm2d, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout,
          nn.Identity, nn.Flatten, nn.Unflatten, nn.AvgPool1d, nn.AvgPool2d, nn.AdaptiveAvgPool1d,
          nn.ConstantPad1d, nn.ZeroPad1d, nn.ReplicationPad1d, nn.ReflectionPad1d)
RESCALE = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.CELU, nn.SELU, nn.GELU,
           nn.SiLU, nn.Mish, nn.Sigmoid, nn.LogSigmoid, nn.Tanh, nn.Softplus, nn.Softshrink,
           nn.Hardtanh, nn.Hardsigmoid, nn.Hardswish, nn.Tanhshrink)
MAXPOOL = (nn.MaxPool1d, nn.AdaptiveMaxPool1d)
#: layers whose forward is a black box of functional operations: refused even though they have
#: children (their children's rules would not cover what happens between them)
OPAQUE = (nn.RNNBase, nn.MultiheadAttention, nn.TransformerEncoderLayer, nn.TransformerDecoderLayer,
          nn.TransformerEncoder, nn.TransformerDecoder, nn.Transformer)


def _tangermeme_rules() -> dict:
    """torch layers with an exact rule in tangermeme (tangermeme form, used through the adapter)."""
    from tangermeme.deep_lift_shap import _glu, _layernorm, _maxpool, _rmsnorm

    return {nn.LayerNorm: _layernorm, nn.RMSNorm: _rmsnorm, nn.GLU: _glu, nn.MaxPool2d: _maxpool}


def _keeps_forward(m: nn.Module, bases: tuple) -> bool:
    """``m`` is one of ``bases`` and computes what that base computes (forward not overridden)."""
    for base in bases:
        if isinstance(m, base):
            return type(m).forward is base.forward
    return False


def _normalise(rule, where: str):
    if callable(rule) and not isinstance(rule, str):
        return rule
    name = _ALIASES.get(rule, rule) if isinstance(rule, str) else rule
    if name not in RULE_NAMES:
        raise NoRuleError(f"{where}: unknown DeepLIFT rule {rule!r}; a rule is one of "
                          f"{', '.join(RULE_NAMES)} or a tangermeme-style rule function")
    return name


def rule_for(module: nn.Module, additional_nonlinear_ops: dict | None = None):
    """The rule of ``module`` (a name of :data:`RULE_NAMES` or a callable), or None when it has
    none of its own (a container whose children are then visited, or an unknown leaf)."""
    ops = additional_nonlinear_ops or {}
    for t in type(module).__mro__:
        if t in ops:
            return _normalise(ops[t], f"additional_nonlinear_ops[{t.__name__}]")
    declared = getattr(type(module), "deeplift_rule", None)
    if declared is not None:
        return _normalise(declared, f"{type(module).__qualname__}.deeplift_rule")
    if isinstance(module, OPAQUE):
        return "none"
    if _keeps_forward(module, LINEAR):
        return "linear"
    if _keeps_forward(module, RESCALE):
        return "rescale"
    if _keeps_forward(module, MAXPOOL):
        return "maxpool"
    if _keeps_forward(module, (nn.Softmax,)):
        return "softmax"
    for base, fn in _tangermeme_rules().items():
        if _keeps_forward(module, (base,)):
            return fn
    return None


def deeplift_plan(model: nn.Module, additional_nonlinear_ops: dict | None = None,
                  method: str = "deeplift") -> list[tuple[str, nn.Module, object]]:
    """``[(path, module, rule), ...]`` for every module of ``model`` that needs a nonlinear rule
    (linear modules are left out), in ``model.modules()`` order.

    Raises :class:`NoRuleError` naming every module without a rule (path and type) and the
    registered methods that need no rules.
    """
    plan, missing = [], []

    def visit(path: str, m: nn.Module):
        rule = rule_for(m, additional_nonlinear_ops)
        children = list(m.named_children())
        if rule is None and children:
            for name, child in children:
                visit(f"{path}.{name}" if path else name, child)
            return
        if rule is None or rule == "none":
            missing.append((path or "<model>", m))
        elif rule != "linear":
            plan.append((path or "<model>", m, rule))  # a ruled module's children are not visited

    visit("", model)
    if missing:
        raise NoRuleError(no_rule_message(missing, method))
    return plan


def no_rule_message(missing, method: str) -> str:
    names = ", ".join(f"{path!r} ({type(m).__module__}.{type(m).__qualname__})" for path, m in missing)
    works = methods_without_rules()
    return (f"{method} cannot explain this model exactly: no DeepLIFT rule for {names}. "
            f"Methods that need no per-layer rules work on it: {', '.join(works) or 'none installed'}. "
            "To give a layer a rule, set `deeplift_rule = \"rescale\"` (or linear, maxpool, softmax, "
            "bilinear) on its class, or pass additional_nonlinear_ops={LayerType: rule}")


@contextlib.contextmanager
def exact_layers(model: nn.Module):
    """Within the block, every ``nn.LSTM`` of ``model`` (without projection) is replaced by its
    unrolled twin, which shares its parameters and has a rule for every step; the original
    layers are put back on exit, also after an error. Yields ``model``."""
    from wtko_captum.attribution.methods._unrolled_lstm import UnrolledLSTM

    swaps = []
    for name, m in list(model.named_modules()):
        if type(m) is nn.LSTM and not m.proj_size and name:
            parent_name, _, attr = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            swaps.append((parent, attr, m, UnrolledLSTM(m)))
    for parent, attr, _, twin in swaps:
        setattr(parent, attr, twin)
    try:
        yield model
    finally:
        for parent, attr, original, _ in swaps:
            setattr(parent, attr, original)


def methods_without_rules() -> list[str]:
    """Registered attribution methods that do not propagate through per-layer DeepLIFT rules."""
    from wtko_captum.core.registry import get_registry

    reg = get_registry()
    out = []
    for name in reg.names("attributions"):
        try:
            info = getattr(reg.get("attributions", name), "wtko_info", None)
        except Exception:  # a broken third-party plugin must not hide this message
            continue
        if info is not None and not getattr(info, "layer_rules", False):
            out.append(name)
    return out
