"""Old keyword spellings of the Python API, kept working for one release with a warning."""
from __future__ import annotations

import warnings

from wtko_captum.core.errors import InputError


def renamed_keywords(func_name: str, given: dict, renames: dict[str, str]) -> dict:
    """``given`` (the old spellings a caller passed) as new-name keywords, warning once each.

    ``renames`` maps old -> new names; any other leftover keyword is an error naming the
    function's real keywords' spelling.
    """
    out = {}
    for old, value in given.items():
        if old not in renames:
            raise InputError(f"{func_name}() got an unexpected keyword argument {old!r}")
        warnings.warn(f"{func_name}(): {old}= is deprecated and will be removed in the next release; "
                      f"use {renames[old]}=", FutureWarning, stacklevel=3)
        out[renames[old]] = value
    return out
