"""Run a whole pipeline from one config (``wtko run config.toml``; ``wtko demo`` uses a bundled one).

The config has one table per stage, in pipeline order; a stage runs when its table is present.
Keys are the keyword arguments of the stage's library function, spelled like the CLI flags
with underscores (``n_shuffles``, not ``--n-shuffles``). Relative paths are relative to the
config file. Every stage writes into its own subdirectory of the output directory::

    [prepare]    -> OUT/data/        [train]   -> OUT/model/      [evaluate] -> OUT/eval/
    [attribute]  -> OUT/attr/<method>/
    [export]     -> OUT/tracks/      [tracks]  -> OUT/tracks.ini, OUT/igv/ and a rendered region
    [kmers]      -> OUT/motifs/      [tomtom]  -> OUT/motifs/tomtom.tsv
    [modisco]    -> OUT/modisco/     [compare] -> OUT/compare/    [enrich]   -> OUT/enrich/

Precedence: ``--set stage.key=value`` on the command line, then the config file, then the
library defaults. Only the CLI reads config; the library functions take explicit arguments.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

from .errors import InputError

log = logging.getLogger(__name__)

STAGE_ORDER = ["prepare", "train", "evaluate", "attribute", "export", "tracks",
               "kmers", "tomtom", "modisco", "compare", "enrich"]


def load_config(path) -> dict:
    """Read a TOML config; relative paths stay relative to the file (resolved by ``run``)."""
    import tomllib

    path = Path(path)
    if not path.is_file():
        raise InputError("config file not found", path=path)
    try:
        with open(path, "rb") as fh:
            cfg = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", path=path) from None
    unknown = [k for k in cfg if k not in STAGE_ORDER and k != "pipeline"]
    if unknown:
        raise InputError(f"unknown stage table [{unknown[0]}]; stages: {', '.join(STAGE_ORDER)}", path=path)
    cfg.setdefault("pipeline", {})["base_dir"] = str(path.parent.resolve())
    return cfg


def apply_overrides(cfg: dict, overrides: list[str]) -> dict:
    """Apply ``stage.key=value`` strings (value parsed as TOML, else kept as a string)."""
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
    return cfg


def _path(base: Path, value):
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [_path(base, v) for v in value]
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def run(cfg: dict, out, *, stages: list[str] | None = None, verbose: bool = True) -> dict:
    """Run the stages present in ``cfg`` (or only ``stages``) into directory ``out``.

    Returns ``{stage: result}`` where each result is what the stage's library function returned.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    base = Path(cfg.get("pipeline", {}).get("base_dir", "."))
    ctx = {"out": out, "base": base, "verbose": verbose, "results": {}}
    wanted = [s for s in STAGE_ORDER if s in cfg and (stages is None or s in stages)]
    for stage in wanted:
        t0 = time.perf_counter()
        log.info("== %s", stage)
        ctx["results"][stage] = STAGES[stage](dict(cfg[stage]), ctx)
        log.info("== %s done in %.1f s", stage, time.perf_counter() - t0)
    return ctx["results"]


# ---- stages: each maps a config table onto one library call --------------------------------

def _prepare(c, ctx):
    from .prepare import prepare

    base = ctx["base"]
    for key in ("wt", "ko", "table", "genome"):
        if key in c:
            c[key] = _path(base, c[key])
    return prepare(ctx["out"] / "data", verbose=ctx["verbose"], **c)


def _train(c, ctx):
    from .train import train

    return train(ctx["out"] / "data", ctx["out"] / "model", verbose=ctx["verbose"], **c)


def _evaluate(c, ctx):
    from .evaluate import evaluate

    return evaluate(ctx["out"] / "model" / "model.pt", ctx["out"] / "data", ctx["out"] / "eval", **c)


STAGES: dict[str, Callable] = {
    "prepare": _prepare,
    "train": _train,
    "evaluate": _evaluate,
}
