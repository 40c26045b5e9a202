"""Options shared by several commands, declared once so their names, help, defaults and
validation cannot drift apart.

One vocabulary: ``-o/--out`` for every output, ``--seed`` for every randomness, ``--device
auto|cpu|cuda`` (default auto), ``--motif-db`` for every motif database, ``--batch-size``,
``--split``. Old spellings keep working for one release and print a deprecation warning.

Numeric options are range-checked by the parser (exit 2, one line, nothing written): use the
types below (:func:`positive_int`, :func:`fraction`, ...) for every number a command takes.
"""
from __future__ import annotations

import argparse
import inspect
import math
import re
import sys
from pathlib import Path


# ---- validated types ---------------------------------------------------------------------------
def _number(kind, text: str):
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"not {'an integer' if kind is int else 'a number'}: {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def bounded(kind=int, lo=None, hi=None, *, lo_open: bool = False, hi_open: bool = False):
    """An argparse type: a number of ``kind`` in the range ``[lo, hi]`` (open ends optional)."""

    def check(text: str):
        v = _number(kind, text)
        if lo is not None and (v < lo or (lo_open and v == lo)):
            raise argparse.ArgumentTypeError(f"must be {'>' if lo_open else '>='} {lo}, got {text}")
        if hi is not None and (v > hi or (hi_open and v == hi)):
            raise argparse.ArgumentTypeError(f"must be {'<' if hi_open else '<='} {hi}, got {text}")
        return v

    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    check.__name__ = f"{kind.__name__} in {left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"
    return check


positive_int = bounded(int, 1)
nonneg_int = bounded(int, 0)
positive_float = bounded(float, 0, lo_open=True)
nonneg_float = bounded(float, 0)
fraction = bounded(float, 0, 1, hi_open=True)       # [0, 1)
probability = bounded(float, 0, 1)                 # [0, 1]
pvalue = bounded(float, 0, 1, lo_open=True)        # (0, 1]


# ---- deprecated spellings ----------------------------------------------------------------------
class WithOldSpellings(argparse.Action):
    """Stores a value (or a constant, for flags) and warns when an old spelling was used.

    The old spellings are extra option strings of the same argument, so ``required`` and the
    default behave as for the new one; :class:`HelpFormatter` leaves them out of ``--help``."""

    def __init__(self, option_strings, dest, old=(), flag: bool = False, const=None, **kw):
        self.old = set(old)
        if flag:
            kw["nargs"] = 0
        super().__init__(option_strings, dest, const=const, **kw)

    def __call__(self, parser, namespace, values, option_string=None):
        if option_string in self.old:
            new = next(s for s in self.option_strings if s not in self.old and s.startswith("--"))
            print(f"{parser.prog}: warning: {option_string} is deprecated and will be removed in the next "
                  f"release; use {new}", file=sys.stderr)
        setattr(namespace, self.dest, self.const if self.nargs == 0 else values)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps examples' line breaks and hides deprecated option spellings."""

    def _format_action_invocation(self, action):
        old = getattr(action, "old", None)
        if not old:
            return super()._format_action_invocation(action)
        saved = action.option_strings
        action.option_strings = [s for s in saved if s not in old]
        try:
            return super()._format_action_invocation(action)
        finally:
            action.option_strings = saved


def add_option(p, *names, old=(), **kw):
    """``p.add_argument(*names, ...)`` that also accepts the deprecated spellings ``old``."""
    if not old:
        return p.add_argument(*names, **kw)
    if kw.get("action") == "store_true":
        kw.pop("action")
        return p.add_argument(*names, *old, action=WithOldSpellings, old=old, flag=True, const=True,
                              default=kw.pop("default", False), **kw)
    return p.add_argument(*names, *old, action=WithOldSpellings, old=old, **kw)


# ---- the shared options ------------------------------------------------------------------------
def add_out(p, help: str = "output directory", *, required: bool = True, default=None, old=("--output",)):
    """``-o/--out``: where a command writes (its help says whether a file or a directory), and
    the two flags that govern an existing output: ``--force`` and ``--wait``."""
    add_option(p, "-o", "--out", old=old, dest="out", required=required and default is None, default=default,
               help=help + (f" (default: {default})" if default is not None else ""))
    g = p.add_argument_group("existing outputs")
    g.add_argument("--force", action="store_true",
                   help="replace or write into an -o directory that another program wrote (never one that "
                        "holds an input of this command)")
    g.add_argument("--wait", action="store_true",
                   help="if another wtko process is writing the same -o, wait for it instead of stopping")


def add_seed(p, default: int = 0):
    p.add_argument("--seed", type=nonneg_int, default=default,
                   help=f"random seed; the same inputs and seed give the same outputs (default: {default})")


def add_device(p):
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="where to run the model (default: auto = cuda when available, else cpu)")


def add_batch_size(p, default: int = 128, what: str = "sequences per batch"):
    p.add_argument("--batch-size", type=positive_int, default=default, help=f"{what} (default: {default})")


def add_training_budget(p, *, epochs: int = 100, accumulation: int = 4):
    """How a model is trained (``train``, ``benchmark models``): ``--epochs``, ``--patience``,
    ``--batch-size``, ``--accumulation``, ``--lr``, ``--weight-decay``."""
    p.add_argument("--epochs", type=positive_int, default=epochs, help=f"maximum epochs (default: {epochs})")
    p.add_argument("--patience", type=positive_int, default=10,
                   help="stop after this many epochs without a better validation auROC (default: 10)")
    add_batch_size(p, default=64)
    p.add_argument("--accumulation", type=positive_int, default=accumulation,
                   help=f"batches per optimiser step (gradient accumulation, default: {accumulation})")
    p.add_argument("--lr", type=bounded(float, 0, 10, lo_open=True), default=1e-3,
                   help="Adam learning rate, in (0, 10] (default: 1e-3)")
    p.add_argument("--weight-decay", type=bounded(float, 0, 1), default=1e-4,
                   help="Adam weight decay, in [0, 1] (default: 1e-4)")


def add_motif_db(p, help: str = "motif database (MEME, JASPAR, HOMER or a motif table; default: the bundled "
                                "JASPAR 2020 CORE vertebrates, also by name: JASPAR2020)", old=("--db", "--motif-file")):
    add_option(p, "--motif-db", old=old, dest="motif_db", default=None, metavar="FILE|JASPAR2020",
               type=_motif_db, help=help)


def _motif_db(text: str) -> str:
    """A bundled database's name becomes its file, so every command (and library function that
    opens the file itself) gets a path; other values pass unchanged (checked where read)."""
    from wtko_captum.core.motif_db import BUNDLED_MOTIF_DBS

    by_name = {k.lower(): v for k, v in BUNDLED_MOTIF_DBS.items()}
    if not Path(text).exists() and text.lower() in by_name:
        return str(by_name[text.lower()])
    return text


def add_split(p, default: str = "test", choices=("train", "val", "test", "all")):
    p.add_argument("--split", default=default, choices=list(choices),
                   help=f"which split of the prepared data (default: {default})")


def add_by_class(p):
    """Per-class discovery (:func:`wtko_captum.motifs.classes.find_by_class`) and its usage
    check, for the commands that find motifs in attributions."""
    g = p.add_argument_group("per-class motifs (each condition's sequences on their own)")
    g.add_argument("--by-class", dest="by_class", action=argparse.BooleanOptionalAction, default=None,
                   help="also find each class's motifs in OUT/by_class/<class>/ with a summary in OUT/classes.md "
                        "(default: when the attributions hold two or more classes)")
    g.add_argument("--checkpoint", default=None, metavar="MODEL.pt",
                   help="model for the usage check (default: the checkpoint the attributions were made with)")
    g.add_argument("--no-usage-check", dest="usage_check", action="store_false",
                   help="do not insert the motifs into shuffled sequences to see which the model uses")
    g.add_argument("--min-effect", type=positive_float, default=0.5,
                   help="change of a class's log-odds that makes a motif 'used' for it (default: 0.5)")


def by_class_options(args) -> dict:
    """The keyword arguments :func:`add_by_class` collected, for ``find_by_class``."""
    return {"model": args.checkpoint, "usage": args.usage_check, "min_effect": args.min_effect}


def add_method_options(p):
    """The attribution methods' own options (each method takes those its signature has)."""
    g = p.add_argument_group("method options (each method uses those it takes)")
    g.add_argument("--n-shuffles", type=positive_int, help="dinucleotide-shuffled references per sequence (deeplift_shap)")
    g.add_argument("--n-steps", type=positive_int, help="integration steps (integrated_gradients)")
    g.add_argument("--reference", help="reference/baseline: zero or shuffle (deeplift, integrated_gradients)")
    g.add_argument("--layer", help="layer name for layer methods (grad_cam; default: the first conv)")
    g.add_argument("--backend", help="implementation where a method has several (e.g. captum, tangermeme)")


def method_options(args) -> dict:
    """The values of :func:`add_method_options` (None: not given)."""
    return {k: getattr(args, k) for k in ("n_shuffles", "n_steps", "reference", "layer", "backend")}


def add_target(p, default: str = "pred"):
    p.add_argument("--target", default=default,
                   help=f"class name (WT, KO), class index, pred, diff, A-vs-B (WT-vs-background) or "
                        f"class-vs-background (default: {default})")


def target_value(text: str):
    """A ``--target`` as the library takes it: an int for an index, else the string."""
    return int(text) if text.lstrip("-").isdigit() else text


def split_list(text: str | None) -> list[str]:
    """'a,b, c' -> ['a', 'b', 'c']; None or '' -> []."""
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def parse_key_values(items, what: str = "option") -> dict:
    """``["k=v", ...]`` -> ``{k: v}`` with values parsed as TOML scalars (``true``, ``3``, ``0.5``,
    ``"x"``), anything else kept as a string."""
    import tomllib

    from wtko_captum.core.errors import InputError

    out = {}
    for item in items or []:
        key, sep, raw = str(item).partition("=")
        if not sep or not key.strip():
            raise InputError(f"{what} must be KEY=VALUE", value=item)
        try:
            out[key.strip().replace("-", "_")] = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip().replace("-", "_")] = raw
    return out


# ---- options from a plugin's signature ---------------------------------------------------------
_PARAM = re.compile(r"^(\w+)\s*:\s*(.*)$")


def doc_params(func) -> dict[str, str]:
    """``{name: first sentence of its description}`` from a numpy-style Parameters section."""
    doc = inspect.getdoc(func) or ""
    out, current, lines, inside = {}, None, [], False
    for line in doc.splitlines():
        if line.strip() in ("Parameters", "Options"):
            inside = True
            continue
        if inside and line.strip() in ("Returns", "Raises", "Notes", "Examples", "Yields"):
            break
        if not inside or set(line.strip()) <= {"-"}:
            continue
        m = _PARAM.match(line) if not line.startswith(" ") else None
        if m:
            if current:
                out[current] = " ".join(lines).split(". ")[0].rstrip(".")
            current, lines = m.group(1), []
        elif current and line.strip():
            lines.append(line.strip())
    if current:
        out[current] = " ".join(lines).split(". ")[0].rstrip(".")
    return out


def add_signature_options(p, func, skip=(), group_title: str | None = None) -> list[str]:
    """One ``--name`` flag per keyword option of ``func`` whose default is a plain value
    (bool, int, float, str, None, or a tuple/list of strings), typed by that default and
    documented from ``func``'s docstring. Returns the option names added."""
    params = inspect.signature(func).parameters
    helps = doc_params(func)
    kinds = {"int": int, "float": float, "bool": bool, "str": str}
    g = p.add_argument_group(group_title) if group_title else p
    added = []
    for name, prm in params.items():
        if name in skip or prm.kind not in (prm.KEYWORD_ONLY, prm.POSITIONAL_OR_KEYWORD):
            continue
        default = prm.default
        flag = "--" + name.replace("_", "-")
        text = helps.get(name, "")
        ann = prm.annotation
        ann = ann if isinstance(ann, str) else getattr(ann, "__name__", "")
        declared = kinds.get(re.split(r"[\s|\[,]", ann.strip())[0]) if ann else None
        if default is inspect.Parameter.empty:
            if prm.kind is not prm.KEYWORD_ONLY:
                continue  # a positional input, not an option
            g.add_argument(flag, dest=name, required=True, type=bounded(declared) if declared in (int, float) else None,
                           help=f"{text} (required)".strip())
        elif default is None and declared in (int, float):
            g.add_argument(flag, dest=name, type=bounded(declared), default=None, help=text or None)
        elif isinstance(default, bool):
            g.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=default,
                           help=f"{text} (default: {default})".strip())
        elif isinstance(default, (int, float)) and not isinstance(default, bool):
            g.add_argument(flag, dest=name, type=bounded(type(default)), default=default,
                           help=f"{text} (default: {default})".strip())
        elif isinstance(default, (tuple, list)) and all(isinstance(v, str) for v in default):
            g.add_argument(flag, dest=name, type=split_list, default=list(default),
                           help=f"{text}; comma-separated (default: {','.join(default)})".strip())
        elif default is None or isinstance(default, str):
            g.add_argument(flag, dest=name, default=default,
                           help=f"{text} (default: {default})".strip())
        else:
            continue
        added.append(name)
    return added


def signature_values(args, names) -> dict:
    """The values of the options :func:`add_signature_options` added."""
    return {n: getattr(args, n) for n in names if hasattr(args, n)}
