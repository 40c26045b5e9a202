"""A pipeline config: read, override, and validated as a whole before the first stage runs.

The config has one table per stage; a table's keys are the keyword arguments of the stage's
library function (spelled with underscores, ``n_shuffles``), plus a few keys the pipeline
itself uses (``methods`` of ``[export]``, ``method`` of ``[kmers]`` ...). The schema of each
table is built from the function's own signature (pydantic, strict: ``epochs = 1.7`` or
``epochs = true`` is an error, never coerced), so it cannot drift from what the stage takes.
An error names the table, the key and its line in the file.
"""
from __future__ import annotations

import inspect
import re
import typing
from pathlib import Path
from typing import Any

from wtko_captum.core.errors import InputError

STAGE_ORDER = ["prepare", "train", "evaluate", "attribute", "export", "tracks",
               "kmers", "filters", "tomtom", "modisco", "compare", "enrich", "report"]
PATH_LIST = list[str] | str


def _stage_function(stage: str):
    """The library function a stage calls (its keyword options are the table's keys)."""
    from wtko_captum.core.registry import get_registry

    if stage == "prepare":
        from wtko_captum.preparation.prepare import prepare
        return prepare
    if stage == "train":
        from wtko_captum.training.train import train
        return train
    if stage == "evaluate":
        from wtko_captum.training.evaluate import evaluate
        return evaluate
    if stage == "attribute":
        from wtko_captum.attribution.attribute_prepared import attribute_prepared
        return attribute_prepared
    if stage == "export":
        return get_registry().get("exporters", "bigwig")
    if stage == "kmers":
        return get_registry().get("motif_finders", "kmers")
    if stage == "filters":
        return get_registry().get("motif_finders", "filters")
    if stage == "tomtom":
        from wtko_captum.motifs.tomtom import tomtom
        return tomtom
    if stage == "modisco":
        return get_registry().get("motif_finders", "modisco")
    if stage == "compare":
        from wtko_captum.motifs.compare import compare
        return compare
    if stage == "enrich":
        from wtko_captum.motifs.enrich import enrich
        return enrich
    if stage == "report":
        from wtko_captum.report.html import report
        return report
    return None


#: arguments the pipeline passes itself (never config keys), per stage
PROVIDED = {
    "prepare": {"out_dir", "verbose"},
    "train": {"data", "out", "verbose"},
    "evaluate": {"model_path", "data", "out"},
    "attribute": {"model_path", "data_dir", "out", "verbose"},
    "export": {"attributions", "out", "prefix", "progress"},
    "kmers": {"attributions", "out"},
    "filters": {"model", "out", "data"},
    "tomtom": {"query_motifs", "target_motifs"},
    "modisco": {"attrset", "out", "attributions"},
    "compare": {"modisco_dir", "kmers_dir", "out"},
    "enrich": {"data_dir", "out"},
    "report": {"run_dir", "out", "verbose"},
}
#: keys the pipeline reads itself, with their types
PIPELINE_KEYS: dict[str, dict[str, Any]] = {
    "prepare": {"wt": PATH_LIST, "ko": PATH_LIST, "table": str, "genome": str, "sequences": str, "labels": str},
    "export": {"methods": list[str]},
    "tracks": {"genome": str, "top": int, "plots": int},
    "kmers": {"method": str},
    "tomtom": {"query": str, "motif_db": str},
    "modisco": {"method": str},
    "enrich": {"attr": str},
}
_BASIC = {"int": int, "float": float, "bool": bool, "str": str, "dict": dict, "list": list}


def _type_of(param: inspect.Parameter) -> Any:
    """A pydantic type for a parameter, from its annotation, else its default."""
    ann = param.annotation
    if isinstance(ann, str):
        parts = [p.strip() for p in re.split(r"\|", ann)]
        kinds = [_BASIC.get(p) for p in parts if p != "None"]
        if kinds and all(k is not None for k in kinds):
            t = kinds[0] if len(kinds) == 1 else typing.Union[tuple(kinds)]  # noqa: UP007
            if t is float:
                t = float | int
            return t | None if "None" in parts else t
    default = param.default
    if isinstance(default, bool):
        return bool
    if isinstance(default, int):
        return int
    if isinstance(default, float):
        return float | int
    if isinstance(default, str):
        return str
    if isinstance(default, (tuple, list)):
        return list[Any] | str
    return Any


def stage_schema(stage: str):
    """The pydantic model of one stage's table."""
    from pydantic import ConfigDict, create_model

    fields: dict[str, tuple] = {}
    func = _stage_function(stage)
    if func is not None:
        for name, param in inspect.signature(func).parameters.items():
            if name in PROVIDED.get(stage, ()) or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                continue
            fields[name] = (_type_of(param), None)
    for name, kind in PIPELINE_KEYS.get(stage, {}).items():
        fields[name] = (kind, None)
    return create_model(f"{stage}_table", __config__=ConfigDict(strict=True, extra="forbid"), **fields)


def _line_of(text: str, table: str, key: str | None) -> int | None:
    """The 1-based line of ``key`` in ``[table]`` (or of the table header) in TOML ``text``."""
    current = None
    for i, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        m = re.match(r"^\[\s*([^\]]+?)\s*\]", s)
        if m:
            current = m.group(1)
            if key is None and current == table:
                return i
            continue
        if current == table and key is not None and re.match(rf"^{re.escape(key)}\s*=", s):
            return i
    return None


def validate_config(cfg: dict, path=None, text: str | None = None) -> None:
    """Check every stage table of ``cfg`` against its schema; the first problem is an
    :class:`InputError` naming the file, line, table and key."""
    from pydantic import ValidationError

    text = text if text is not None else (Path(path).read_text() if path and Path(path).is_file() else "")
    for stage in STAGE_ORDER:
        if stage not in cfg:
            continue
        table = cfg[stage]
        if not isinstance(table, dict):
            raise InputError(f"[{stage}] must be a table of options", path=path, line=_line_of(text, stage, None))
        try:
            stage_schema(stage).model_validate(table)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = str(err["loc"][0]) if err["loc"] else None
            line = _line_of(text, stage, key) if key else _line_of(text, stage, None)
            if err["type"] == "extra_forbidden":
                known = sorted(stage_schema(stage).model_fields)
                msg = f"[{stage}] has no option {key!r}; it takes: {', '.join(known)}"
            else:
                msg = f"[{stage}] {key}: {err['msg'].lower()}"
            raise InputError(msg, path=path, line=line, value=err.get("input")) from None


def load_config(path) -> dict:
    """Read a TOML config and validate it whole; relative paths stay relative to the file."""
    import tomllib

    path = Path(path)
    if not path.is_file():
        raise InputError("config file not found", path=path)
    text = path.read_text()
    try:
        cfg = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", path=path) from None
    unknown = [k for k in cfg if k not in STAGE_ORDER and k != "pipeline"]
    if unknown:
        raise InputError(f"unknown stage table [{unknown[0]}]; stages: {', '.join(STAGE_ORDER)}", path=path,
                         line=_line_of(text, unknown[0], None))
    validate_config(cfg, path, text)
    cfg.setdefault("pipeline", {})["base_dir"] = str(path.parent.resolve())
    cfg["pipeline"]["config_file"] = str(path)
    return cfg


def apply_overrides(cfg: dict, overrides: list[str]) -> dict:
    """Apply ``stage.key=value`` strings (value parsed as TOML, else kept as a string), then
    validate the result again."""
    import tomllib

    for item in overrides or []:
        key, sep, raw = item.partition("=")
        stage, dot, name = key.strip().partition(".")
        if not sep or not dot or stage not in STAGE_ORDER + ["pipeline"]:
            raise InputError(f"--set expects stage.key=value with a stage of {', '.join(STAGE_ORDER)}", value=item)
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        cfg.setdefault(stage, {})[name.strip()] = value
    if overrides:
        try:
            validate_config(cfg)
        except InputError as exc:
            raise InputError(f"after --set: {exc}") from None
    return cfg
