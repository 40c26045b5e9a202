"""Attribution targets: what output an explanation is about.

A target is one of

* an ``int`` output index (for the WTKO-CNN: 1 = WT, 0 = KO);
* a class name from ``model.class_names`` (``"WT"``, ``"KO"``);
* ``"pred"``: each sequence's predicted class on the unmodified input (the WTKO paper's
  choice); sequences are grouped by class and each group is explained for its own class;
* ``"diff"``: the logit difference WT minus KO, computed by :class:`LogitDiff`, a wrapper
  module with no nonlinearity (so DeepLIFT and integrated-gradient completeness still hold).

Methods themselves only ever see an ``int`` (``"diff"`` becomes output 0 of the wrapper).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from wtko_captum.core.errors import InputError, near_miss

SPECIAL_TARGETS = ("pred", "diff")


class LogitDiff(nn.Module):
    """``(N, k)`` logits -> ``(N, 1)``: logit[pos] - logit[neg]. No nonlinearity.

    Extra positional/keyword arguments go to the wrapped model, and a tuple output (e.g.
    ``model(x, return_attention=True)``) keeps its extra members, so methods that read a
    model's attention still work through the wrapper. Layer names of the wrapped model
    resolve through :meth:`get_submodule` (``"conv1"`` as well as ``"model.conv1"``).
    """

    def __init__(self, model: nn.Module, pos: int, neg: int):
        super().__init__()
        self.model = model
        self.pos, self.neg = int(pos), int(neg)
        names = list(getattr(model, "class_names", []) or [])
        label = (f"{names[self.pos]}-{names[self.neg]}" if len(names) > max(self.pos, self.neg)
                 else f"{self.pos}-{self.neg}")
        self.class_names = [label]
        for attr in ("input_length", "architecture", "identity", "receptive_field", "config", "grad_cam_layer"):
            if hasattr(model, attr):
                try:
                    object.__setattr__(self, attr, getattr(model, attr))
                except Exception:  # a property without a setter on an unusual model
                    pass

    def _diff(self, logits: torch.Tensor) -> torch.Tensor:
        return (logits[:, self.pos] - logits[:, self.neg]).unsqueeze(1)

    def forward(self, x, *args, **kwargs):
        out = self.model(x, *args, **kwargs)
        if isinstance(out, (tuple, list)):
            return (self._diff(out[0]), *out[1:])
        return self._diff(out)

    def attention_pool_layout(self):
        """The wrapped model's declared layout with this difference applied after its head."""
        import dataclasses

        from wtko_captum.core.layout import attention_pool_layout

        inner = attention_pool_layout(self.model)
        if inner is None:
            return None
        return dataclasses.replace(inner, head=lambda pooled: self._diff(inner.head(pooled)))

    def get_submodule(self, target: str) -> nn.Module:
        try:
            return super().get_submodule(target)
        except AttributeError:
            return self.model.get_submodule(target)


def class_names_of(model: nn.Module, n_outputs: int | None = None) -> list[str]:
    """``model.class_names`` when present, else ``[]``."""
    names = getattr(model, "class_names", None)
    if names is None:
        return []
    names = [str(n) for n in names]
    if n_outputs is not None and len(names) != n_outputs:
        return []
    return names


def resolve_class(target, class_names: list[str], n_outputs: int) -> int:
    """An int index or class name -> validated int index in ``[0, n_outputs)``.

    Raises :class:`InputError` for an out-of-range index or an unknown name (listing the
    names and the special targets).
    """
    if isinstance(target, (bool, np.bool_)):
        raise InputError("target must be a class index, a class name, 'pred' or 'diff'", value=target)
    if isinstance(target, (int, np.integer)):
        t = int(target)
        if not 0 <= t < n_outputs:
            names = f" ({', '.join(f'{i}={n}' for i, n in enumerate(class_names))})" if class_names else ""
            raise InputError(f"target index out of range: the model has {n_outputs} outputs{names}",
                             value=t)
        return t
    if isinstance(target, str):
        text = target.strip()
        if text.lstrip("-").isdigit():
            return resolve_class(int(text), class_names, n_outputs)
        if text in class_names:
            return class_names.index(text)
        lower = [c.lower() for c in class_names]
        if text.lower() in lower:
            return lower.index(text.lower())
        choices = class_names + list(SPECIAL_TARGETS)
        if not class_names:
            raise InputError(f"target {text!r} is not a class index and the model has no "
                             f"class_names; use an index 0..{n_outputs - 1}, 'pred' or 'diff'")
        raise InputError(f"unknown target class {text!r}; choose one of {', '.join(choices)} "
                         f"or an index 0..{n_outputs - 1}{near_miss(text, choices)}")
    raise InputError("target must be a class index, a class name, 'pred' or 'diff'", value=target)


def check_pred_applies(model: nn.Module) -> None:
    """``"pred"`` picks each sequence's most likely class: refused for a multi-task model (its
    outputs are independent sigmoids, one per task, with no single predicted class)."""
    if getattr(model, "outputs", "softmax") == "sigmoid":
        names = class_names_of(model)
        raise InputError("target 'pred' needs a model with softmax classes; this model has one sigmoid output "
                         "per task: choose a task by name or index"
                         + (f" ({', '.join(f'{i}={n}' for i, n in enumerate(names))})" if names else ""))


def diff_indices(class_names: list[str], n_outputs: int) -> tuple[int, int]:
    """``(pos, neg)`` output indices for ``"diff"``: WT minus KO by name, else 1 minus 0."""
    upper = [c.upper() for c in class_names]
    if "WT" in upper and "KO" in upper:
        return upper.index("WT"), upper.index("KO")
    if n_outputs != 2:
        raise InputError(f"target 'diff' needs a two-output model or class names WT and KO; "
                         f"this model has {n_outputs} outputs")
    return 1, 0


@torch.no_grad()
def predict_logits(model: nn.Module, X: torch.Tensor, batch_size: int = 128,
                   device="cpu", *, amp: bool = False) -> torch.Tensor:
    """Logits ``(N, k)`` float32 on CPU, computed in batches on ``device`` (no gradients; the
    model's mode is left as it is). ``amp``: run the forward pass under float16 autocast."""
    outs = []
    kind = torch.device(device).type
    for i in range(0, len(X), max(1, int(batch_size))):
        with torch.autocast(device_type=kind, dtype=torch.float16, enabled=amp):
            out = model(X[i:i + batch_size].to(device))
        outs.append(check_output(out, len(X[i:i + batch_size])).float().cpu())
    if not outs:
        return torch.zeros((0, 0))
    return torch.cat(outs)


def check_output(out, n: int) -> torch.Tensor:
    """The model output must be one ``(n, k)`` tensor; a clear error otherwise."""
    if isinstance(out, (tuple, list)):
        raise InputError(f"the model returned a {type(out).__name__} of {len(out)} items; "
                         "attribution needs forward(x) to return one (N, n_outputs) tensor "
                         "(wrap the model to select one output)")
    if not isinstance(out, torch.Tensor):
        raise InputError(f"the model returned {type(out).__name__}; expected a (N, n_outputs) tensor")
    if out.ndim != 2 or out.shape[0] != n:
        raise InputError(f"the model output has shape {tuple(out.shape)} for {n} sequences; "
                         f"expected ({n}, n_outputs) (one row of logits per sequence)")
    return out
