"""Verb modules that are also callable.

``wtko_captum.prepare`` is both a module (``prepare.py``) and its function. Importing the module
makes Python bind the *module* to ``wtko_captum.prepare``, shadowing the lazily exported
function; making the module callable keeps ``wc.prepare(...)`` working either way.
"""
from __future__ import annotations

import sys
import types


class _VerbModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        return getattr(self, self.__name__.rsplit(".", 1)[-1])(*args, **kwargs)


def make_callable(module_name: str) -> None:
    """Let ``module_name`` be called like its same-named function."""
    sys.modules[module_name].__class__ = _VerbModule
