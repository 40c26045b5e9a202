"""Errors a user can act on: each names the file, line and value that is wrong.

The CLI turns any :class:`WtkoError` into a one-line message on stderr and exit code 2;
anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import difflib
from typing import Iterable


class WtkoError(Exception):
    """An input or usage problem, reported to the user as one line."""


class InputError(WtkoError, ValueError):
    """Bad input data. ``InputError(msg, path=..., line=..., value=...)`` formats as
    ``path:line: msg (got 'value')``."""

    def __init__(self, message: str, path=None, line: int | None = None, value=None):
        self.path, self.line, self.value = path, line, value
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        got = f" (got {value!r})" if value is not None else ""
        super().__init__(f"{where}{message}{got}")


class NoRuleError(InputError):
    """A rule-based method (DeepLIFT) met a layer it has no rule for: refused before any work,
    because treating the layer as linear would give scores that look right and are not."""


class CompletenessError(InputError):
    """A method that promises completeness (attributions summing to the output difference)
    missed it by more than its tolerance: some operation of the model has no exact rule."""


class CheckpointError(WtkoError):
    """A checkpoint that cannot be used: not ours, code-carrying, wrong architecture/length."""


class PluginError(WtkoError, KeyError):
    """Unknown plugin name or a clash between two plugins of the same name."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else ""


def near_miss(value: str, choices: Iterable[str]) -> str:
    """A ' (did you mean X?)' hint for ``value`` among ``choices``, or ''.

    Knows the classic chromosome-naming mismatch (``1`` vs ``chr1``) before fuzzy matching.
    """
    choices = list(choices)
    pool = set(choices)
    for alt in (f"chr{value}", value[3:] if value.startswith("chr") else None):
        if alt and alt in pool:
            return f" (did you mean {alt!r}?)"
    close = difflib.get_close_matches(value, choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
