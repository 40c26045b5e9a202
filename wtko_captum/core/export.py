"""``export(name, obj, out, **options)``: every file a stage writes in another tool's format goes
through a registered exporter (entry-point group ``wtko_captum.exporters``).

Exporter contract: ``write(obj, out, **options) -> list of paths written``, declared with
:func:`wtko_captum.core.registry.exporter` (``accepts``: what ``obj`` is). The core never
imports a writer by name, so a format can be replaced or added by a plugin.
"""
from __future__ import annotations

import inspect
from pathlib import Path

from wtko_captum.core.errors import InputError, PluginError
from wtko_captum.core.registry import ExporterInfo, get_registry


def get_exporter(name: str):
    """The writer registered as ``name`` (plain or ``dist:name``)."""
    return get_registry().get("exporters", name)


def exporter_info(writer) -> ExporterInfo:
    """What an exporter declared (an undeclared one accepts anything)."""
    return getattr(writer, "wtko_info", None) or ExporterInfo()


def exporter_options(writer) -> dict[str, inspect.Parameter]:
    """The writer's keyword options (everything after ``obj`` and ``out``)."""
    params = list(inspect.signature(writer).parameters.values())[2:]
    return {p.name: p for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def export(name: str, obj, out, **options) -> list[Path]:
    """Write ``obj`` to ``out`` with the exporter registered as ``name``.

    Parameters
    ----------
    name : str
        Exporter name (``wtko plugins`` lists them): ``bigwig``, ``bedgraph``, ``bed``,
        ``meme``, ``homer``, ``jaspar``, ``tracks_ini``, ``igv`` and any a plugin adds.
    obj
        What the exporter accepts (see its ``accepts``): AttributionSets or their
        directories, a motif mapping ``{key: (4, W)}``, an interval table, a tracks directory.
    out : str or Path
        The output file or directory (the exporter's documentation says which).
    **options
        The exporter's own keyword options; one it does not take is an error naming those
        it does.

    Returns
    -------
    list of Path: every file written.
    """
    writer = get_exporter(name)
    known = exporter_options(writer)
    takes_any = any(p.kind is p.VAR_KEYWORD for p in inspect.signature(writer).parameters.values())
    unknown = [k for k in options if k not in known and not takes_any]
    if unknown:
        raise InputError(f"exporter {name!r} does not take option(s) {', '.join(unknown)}; "
                         f"it takes: {', '.join(known) or 'no options'}")
    paths = writer(obj, out, **options)
    if paths is None or isinstance(paths, (str, Path)):
        raise PluginError(f"exporter {name!r} must return the list of paths it wrote, got {paths!r}")
    return [Path(p) for p in paths]
