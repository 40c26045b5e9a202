"""From the reference and alternative logits to the variant effect: per-class probabilities,
the Δ of the target's probability and of its output, the log-odds Δ and the |Δ| band.

``prediction`` is the model's probability of the target class: softmax over the outputs, or
the sigmoid of its own output for a single-output model and for a multi-task model (one
independent sigmoid per task, as the checkpoint's ``outputs`` says). Δ = prediction(alt) −
prediction(ref); the log-odds Δ is logit(p_alt) − logit(p_ref), computed from the logits
without rounding through p.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from wtko_captum.core.errors import InputError
from wtko_captum.core.targets import diff_indices, resolve_class

BANDS = ("strong", "moderate", "weak")


@dataclass(frozen=True)
class Target:
    """What a variant's effect is measured on.

    ``kind``: ``class`` (one output, ``index``), ``pred`` (each variant's class predicted on
    its reference window) or ``diff`` (output ``pos`` minus output ``neg``; the prediction is
    the probability of class ``pos``). ``class_names`` has one name per output. ``sigmoid``:
    the outputs are independent tasks (a sigmoid each) rather than softmax classes.
    """

    kind: str
    index: int
    neg: int
    class_names: tuple[str, ...]
    sigmoid: bool = False

    @property
    def label(self) -> str:
        if self.kind == "diff":
            return f"{self.class_names[self.index]}-{self.class_names[self.neg]}"
        if self.kind == "pred":
            return "pred"
        return self.class_names[self.index]


def resolve_target(target, class_names: list[str], n_outputs: int, *, sigmoid: bool = False) -> Target:
    """A :class:`Target` from ``None`` (the last output: WT for a KO/WT model), an index, a
    class name, ``"pred"`` or ``"diff"``. ``sigmoid``: a multi-task model (``"pred"`` is
    refused: independent tasks have no single predicted class)."""
    names = tuple(class_names) if len(class_names) == n_outputs else tuple(f"class{i}" for i in range(n_outputs))
    sig = bool(sigmoid) or n_outputs == 1
    if target is None:
        return Target("class", n_outputs - 1, -1, names, sig)
    if isinstance(target, str) and target.strip().lower() == "pred":
        if sigmoid:
            raise InputError("target 'pred' needs a model with softmax classes; this model has one sigmoid "
                             "output per task: choose a task by name or index ("
                             + ", ".join(f"{i}={n}" for i, n in enumerate(names)) + ")")
        return Target("pred", -1, -1, names, sig)
    if isinstance(target, str) and target.strip().lower() == "diff":
        pos, neg = diff_indices(list(class_names), n_outputs)
        return Target("diff", pos, neg, names, sig)
    return Target("class", resolve_class(target, list(class_names), n_outputs), -1, names, sig)


def probabilities(logits: np.ndarray, sigmoid: bool = False) -> np.ndarray:
    """Softmax over outputs; an independent sigmoid per output with ``sigmoid`` (a multi-task
    model) and always for one output."""
    z = np.asarray(logits, dtype=np.float64)
    if sigmoid or z.shape[1] == 1:
        return 1.0 / (1.0 + np.exp(-z))
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def log_odds(logits: np.ndarray, cls: np.ndarray, sigmoid: bool = False) -> np.ndarray:
    """``log p / (1 - p)`` of class ``cls[i]`` for each row: ``z_c - logsumexp(z_others)``
    (the logit itself for a one-output model and, with ``sigmoid``, for each task)."""
    z = np.asarray(logits, dtype=np.float64)
    rows = np.arange(len(z))
    if sigmoid or z.shape[1] == 1:
        return z[rows, cls]
    others = z.copy()
    others[rows, cls] = -np.inf
    m = others.max(axis=1)
    return z[rows, cls] - (m + np.log(np.exp(others - m[:, None]).sum(axis=1)))


def band(abs_delta: np.ndarray, strong: float, moderate: float) -> np.ndarray:
    """``strong`` when |Δ| > strong, ``moderate`` when |Δ| >= moderate, else ``weak``."""
    return np.where(abs_delta > strong, "strong", np.where(abs_delta >= moderate, "moderate", "weak"))


def effects(ref: np.ndarray, alt: np.ndarray, target: Target, strong: float, moderate: float) -> dict:
    """Every effect column for logits ``ref``, ``alt`` ``(n, k)``.

    Returns a dict of ``(n,)`` arrays: ``target`` (class name per variant), ``out_ref``,
    ``out_alt``, ``delta_out`` (the target output: a logit, or the logit difference for
    ``diff``), ``p_ref``, ``p_alt``, ``delta``, ``logodds_delta``, ``abs_delta``, ``band``,
    and ``p_ref_<class>``, ``p_alt_<class>``, ``delta_<class>`` for every class.
    """
    n, k = ref.shape
    if target.kind == "pred":
        cls = ref.argmax(axis=1) if k > 1 else np.zeros(n, dtype=np.int64)
    else:
        cls = np.full(n, target.index, dtype=np.int64)
    rows = np.arange(n)
    if target.kind == "diff":
        out_ref = ref[:, target.index] - ref[:, target.neg]
        out_alt = alt[:, target.index] - alt[:, target.neg]
    else:
        out_ref, out_alt = ref[rows, cls], alt[rows, cls]
    p_r, p_a = probabilities(ref, target.sigmoid), probabilities(alt, target.sigmoid)
    delta = p_a[rows, cls] - p_r[rows, cls]
    cols = {
        "target": np.asarray(target.class_names, dtype=object)[cls],
        "out_ref": out_ref, "out_alt": out_alt, "delta_out": out_alt - out_ref,
        "p_ref": p_r[rows, cls], "p_alt": p_a[rows, cls], "delta": delta,
        "logodds_delta": log_odds(alt, cls, target.sigmoid) - log_odds(ref, cls, target.sigmoid),
        "abs_delta": np.abs(delta), "band": band(np.abs(delta), strong, moderate),
    }
    for j, name in enumerate(target.class_names):
        c = safe_name(name)
        cols[f"p_ref_{c}"], cols[f"p_alt_{c}"] = p_r[:, j], p_a[:, j]
        cols[f"delta_{c}"] = p_a[:, j] - p_r[:, j]
    return cols


def safe_name(name: str) -> str:
    """A class name usable in a column name and a VCF INFO key (letters, digits, _)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", str(name))


def check_thresholds(strong: float, moderate: float) -> None:
    if not 0 <= moderate <= strong <= 1:
        raise InputError(f"band thresholds must satisfy 0 <= moderate <= strong <= 1 "
                         f"(got moderate {moderate}, strong {strong})")
