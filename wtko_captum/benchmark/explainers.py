"""AgentBind's benchmark of explainers: which attribution method finds the motifs that are
really there, and at what cost.

Given one importance score per base and the bases of the embedded (planted) motifs, the
metrics of AgentBind's simulation benchmark:

- ``seq_per_s``: run time, sequences explained per second, every method timed in the same
  process on the same sequences (after one untimed warm-up call on two sequences, so one-time
  compilation is not charged to a method); ``slowdown`` is the time over the fastest method's;

- ``accuracy``: fraction of the top-scoring bases (top 5% of each sequence by default) that
  lie in embedded motifs;
- ``recall``: fraction of embedded motif instances with at least half of their bases among
  those top bases;
- ``auroc``: area under the ROC curve of separating motif bases from background bases by
  score, all bases of all sequences pooled;
- ``snr``: signal-to-noise, mean score of motif bases / mean score of background bases.

``chance`` (the motif-base fraction, the expected accuracy of random scores) and
``enrichment`` (accuracy / chance) say how far above chance an explainer is.

:func:`score_explainer` scores one method's scores; :func:`benchmark_explainers` runs and
times every method on a model; :func:`benchmark_prepared` does it for checkpoints and a
prepared-data split with ground truth from ``wtko simulate`` (``motifs.tsv``) or a BED;
:func:`agentbind_benchmark` is the whole AgentBind simulation (simulate, prepare, train over
seeds and architectures, benchmark) in one call.

Scores should be non-negative importance (e.g. :func:`per_base_importance`); fractions are
0..1, not percentages.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from wtko_captum.core.errors import InputError

#: per-base rules of :func:`per_base_importance`
RULES = ("maxabs", "abs_projected")


def per_base_importance(attr, X=None, rule: str = "maxabs") -> np.ndarray:
    """``(N, L)`` non-negative importance per base from ``(N, 4, L)`` attributions.

    ``maxabs``: max over the 4 channels of |attr|. One rule for every method: for projected
    methods (non-zero only on the observed base) it is |attr| at the observed base; for
    hypothetical ones it is the largest |score| of any base at that position, which is
    AgentBind's ISM importance (the largest change in output) and the WTKO paper's saliency
    score. ``abs_projected``: |sum over channels of attr x X| (needs ``X``; 0 everywhere for
    ISM, whose observed base scores 0 by definition).
    """
    attr = np.asarray(attr, dtype=np.float32)
    if attr.ndim != 3 or attr.shape[1] != 4:
        raise InputError(f"attributions must be (N, 4, L); got shape {attr.shape}")
    if rule == "maxabs":
        return np.abs(attr).max(axis=1)
    if rule == "abs_projected":
        if X is None:
            raise InputError("rule 'abs_projected' needs the one-hot X")
        X = np.asarray(X, dtype=np.float32)
        if X.shape != attr.shape:
            raise InputError(f"X shape {X.shape} differs from attributions {attr.shape}")
        return np.abs((attr * X).sum(axis=1))
    raise InputError(f"unknown per-base rule {rule!r}; use one of {', '.join(RULES)}")


def motif_instances(motif_mask) -> list[tuple[int, int, int]]:
    """``[(seq_index, start, end), ...]``: maximal runs of True in each row of ``(N, L)``
    ``motif_mask`` (0-based half-open). Touching sites merge into one run; pass ``sites`` to
    :func:`score_explainer` to keep them apart."""
    mask = np.asarray(motif_mask, dtype=bool)
    pad = np.zeros((mask.shape[0], 1), dtype=np.int8)
    edges = np.diff(np.concatenate([pad, mask.astype(np.int8), pad], axis=1), axis=1)
    starts, ends = np.nonzero(edges == 1), np.nonzero(edges == -1)
    return [(int(i), int(s), int(e)) for i, s, e in zip(starts[0], starts[1], ends[1])]


def top_mask(scores: np.ndarray, fraction: float = 0.05, per_sequence: bool = True) -> np.ndarray:
    """``(N, L)`` bool: the ``ceil(fraction * L)`` highest-scoring bases of each row
    (``per_sequence``) or the top ``fraction`` of all bases pooled. Ties go to the earlier base."""
    if not 0 < fraction <= 1:
        raise InputError("top fraction must be in (0, 1]", value=fraction)
    N, L = scores.shape
    out = np.zeros((N, L), dtype=bool)
    if per_sequence:
        k = _count(fraction, L)
        idx = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        np.put_along_axis(out, idx, True, axis=1)
    else:
        k = _count(fraction, N * L)
        out.reshape(-1)[np.argsort(-scores.reshape(-1), kind="stable")[:k]] = True
    return out


def _count(fraction: float, n: int) -> int:
    """ceil(fraction * n), immune to float noise (0.05 * 200 must be 10, not 11)."""
    return max(1, int(np.ceil(round(fraction * n, 9))))


def score_explainer(attr_per_base, motif_mask, *, sites=None, top_fraction: float = 0.05,
                    per_sequence: bool = True) -> dict:
    """AgentBind's explainer metrics for one method.

    Parameters
    ----------
    attr_per_base : array ``(N, L)``
        Importance of each base (higher = more important), e.g. :func:`per_base_importance`.
    motif_mask : bool array ``(N, L)``
        True at the bases of embedded motifs.
    sites : iterable of ``(seq_index, start, end)``, optional
        The embedded motif instances (0-based half-open, within the sequence) for ``recall``;
        default the runs of ``motif_mask`` (:func:`motif_instances`).
    top_fraction : float
        The "top 5%" of AgentBind.
    per_sequence : bool
        Top bases taken per sequence (default) or over all bases pooled.

    Returns
    -------
    dict with ``accuracy``, ``recall``, ``auroc``, ``snr``, ``chance``, ``enrichment``,
    ``n_sequences``, ``n_sites``, ``n_top`` (floats 0..1 except the ratios and counts).
    """
    from sklearn.metrics import roc_auc_score

    scores = np.asarray(attr_per_base, dtype=np.float64)
    mask = np.asarray(motif_mask, dtype=bool)
    if scores.ndim != 2 or scores.shape != mask.shape:
        raise InputError(f"scores {scores.shape} and motif mask {mask.shape} must both be (N, L)")
    if not np.isfinite(scores).all():
        raise InputError("scores contain NaN or infinite values")
    if not mask.any() or mask.all():
        raise InputError("the motif mask must mark some bases and leave some background")
    top = top_mask(scores, top_fraction, per_sequence)
    chance = float(mask.mean())
    accuracy = float(mask[top].mean())
    sites = motif_instances(mask) if sites is None else [tuple(map(int, s)) for s in sites]
    covered = [top[i, s:e].mean() >= 0.5 for i, s, e in sites]
    signal, bg = scores[mask].mean(), scores[~mask].mean()
    # a map that is zero everywhere (e.g. a rectified Grad-CAM with no positive evidence) has no
    # signal-to-noise ratio: nan, not infinity
    snr = signal / bg if bg > 0 else (float("inf") if signal > 0 else float("nan"))
    return {
        "accuracy": accuracy,
        "recall": float(np.mean(covered)) if covered else float("nan"),
        "auroc": float(roc_auc_score(mask.reshape(-1), scores.reshape(-1))),
        "snr": float(snr),
        "chance": chance,
        "enrichment": accuracy / chance,
        "n_sequences": int(scores.shape[0]),
        "n_sites": len(sites),
        "n_top": int(top.sum()),
    }


def sites_mask(regions, sites, length: int) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Motif mask ``(N, length)`` and instances of ground-truth ``sites`` on windows ``regions``.

    ``regions``: DataFrame with chrom, start, end (window base i = genome start + i, as in a
    prepared-data directory or an AttributionSet); ``sites``: DataFrame with chrom, start, end
    in genome coordinates (the ``motifs.tsv`` of ``wtko simulate``). A site is clipped to each
    window it overlaps. Both 0-based half-open.
    """
    mask = np.zeros((len(regions), length), dtype=bool)
    inst = []
    by_chrom = {c: g for c, g in sites.groupby(sites["chrom"].astype(str))}
    for i, (chrom, ws) in enumerate(zip(regions["chrom"].astype(str), regions["start"].to_numpy())):
        g = by_chrom.get(chrom)
        if g is None:
            continue
        s = np.clip(g["start"].to_numpy() - ws, 0, length)
        e = np.clip(g["end"].to_numpy() - ws, 0, length)
        for a, b in zip(s[e > s], e[e > s]):
            mask[i, a:b] = True
            inst.append((i, int(a), int(b)))
    return mask, inst


# ---------------------------------------------------------------- ground truth
def read_truth(path) -> pd.DataFrame:
    """Ground-truth motif sites in genome coordinates (0-based half-open).

    ``path`` is the ``motifs.tsv`` of ``wtko simulate`` (or its directory), or any BED-like
    file (BED3+, narrowPeak). Returns a table with at least chrom, start, end, role (the
    simulation's ``core``/``partner``/class role; ``site`` for a BED).
    """
    from wtko_captum.core.intervals import read_intervals

    path = Path(path)
    if path.is_dir():
        path = path / "motifs.tsv"
    if not path.is_file():
        raise InputError("ground-truth file not found (motifs.tsv of `wtko simulate`, or a BED)", path=path)
    with open(path) as fh:
        first = fh.readline()
    if first.startswith("name\t") and "\trole\t" in first:
        truth = pd.read_csv(path, sep="\t", dtype={"chrom": str})
    else:
        truth = read_intervals(path)
        truth["role"] = "site"
    if truth.empty:
        raise InputError("the ground truth holds no site", path=path)
    return truth


def default_roles(truth: pd.DataFrame) -> list[str]:
    """The roles scored as truth by default: the AgentBind simulation's ``partner`` sites (the
    discriminative TAL1 sites; the central GATA1 ``core`` is in both classes), else every role."""
    roles = sorted(set(truth["role"].astype(str)))
    return ["partner"] if {"core", "partner"} <= set(roles) else roles


def truth_masks(regions: pd.DataFrame, truth: pd.DataFrame, length: int, roles=None):
    """``(mask, sites, other_mask)`` over windows ``regions`` (chrom, start, end).

    ``mask`` ``(N, length)`` marks the bases of sites whose role is in ``roles`` (default
    :func:`default_roles`), ``sites`` lists them per window, ``other_mask`` marks the sites of
    every other role (e.g. the AgentBind core motif), or is None when there are none.
    """
    roles = default_roles(truth) if roles is None else list(roles)
    unknown = set(roles) - set(truth["role"].astype(str))
    if unknown:
        raise InputError(f"no ground-truth site has role {', '.join(sorted(unknown))}; roles present: "
                         f"{', '.join(sorted(set(truth['role'].astype(str))))}")
    is_truth = truth["role"].astype(str).isin(roles)
    mask, sites = sites_mask(regions, truth[is_truth], length)
    other = None
    if (~is_truth).any():
        other, _ = sites_mask(regions, truth[~is_truth], length)
    return mask, sites, other


# ---------------------------------------------------------------- running the methods
def registered_methods() -> list[str]:
    """Every attribution method in the plugin registry (``wtko plugins``)."""
    from wtko_captum.core.registry import get_registry

    return get_registry().names("attributions")


def expand_methods(methods) -> list[str]:
    """The method list with ``"all"`` (or None) replaced by every registered method, in order,
    without repeats: ``["all", "ism(fast=false)"]`` adds plain ISM to the full set."""
    out = []
    for m in (["all"] if methods is None else [methods] if isinstance(methods, str) else list(methods)):
        for name in (registered_methods() if str(m).strip().lower() == "all" else [str(m).strip()]):
            if name not in out:
                out.append(name)
    return out


def parse_method_spec(spec: str) -> tuple[str, dict]:
    """``"ism(fast=false, centre=false)"`` -> ``("ism", {"fast": False, "centre": False})``: one
    method under its own options, so a benchmark can compare a method with itself (values are
    TOML scalars). A plain name has no options."""
    import tomllib

    spec = str(spec).strip()
    name, paren, rest = spec.partition("(")
    if not paren:
        return spec, {}
    if not rest.endswith(")") or not name.strip():
        raise InputError("a method with options is NAME(KEY=VALUE, ...)", value=spec)
    options = {}
    for item in (x.strip() for x in rest[:-1].split(",")):
        key, eq, raw = item.partition("=")
        if not item:
            continue
        if not eq or not key.strip():
            raise InputError("a method option is KEY=VALUE", value=spec)
        try:
            options[key.strip()] = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            options[key.strip()] = raw.strip()
    return name.strip(), options


def split_methods(text: str) -> list[str]:
    """``"saliency, ism(fast=false, centre=false)"`` -> ``["saliency", "ism(fast=false, centre=false)"]``:
    commas inside parentheses belong to a method's options."""
    out, depth, current = [], 0, ""
    for ch in str(text):
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            out.append(current)
            current = ""
        else:
            current += ch
    out.append(current)
    return [m.strip() for m in out if m.strip()]


def time_method(model, X, method: str, target, options: dict, *, batch_size: int | None = None,
                device="cpu", seed: int = 0) -> tuple[np.ndarray, float, float]:
    """``(attributions (N, 4, L), wall seconds, CPU seconds)`` of one method on ``X``.

    One untimed call on the first two sequences first, so that one-time costs (numba
    compilation, cuDNN autotuning, lazy imports) are not charged to the method.
    ``batch_size=None`` runs the method at its own default batch size: batches mean different
    things to different methods (sequences, integration steps, or ISM's edited sequences, whose
    default is 4096) and one shared number would slow some of them by an order of magnitude.
    """
    import time

    from wtko_captum.attribution.attribute import attribute, get_method

    if batch_size is None:
        batch_size = _default_batch_size(get_method(method))
    kw = dict(batch_size=batch_size, device=device, seed=seed, **options)
    attribute(model, X[:2], method, target, **kw)
    t0, c0 = time.perf_counter(), time.process_time()
    attr = attribute(model, X, method, target, **kw)
    return attr.numpy(), time.perf_counter() - t0, time.process_time() - c0


def _default_batch_size(func) -> int:
    import inspect

    try:
        default = inspect.signature(func).parameters["batch_size"].default
    except (KeyError, TypeError, ValueError):
        return 128
    return int(default) if isinstance(default, int) and default > 0 else 128


#: one row per (model, seed, method) of :func:`benchmark_explainers`
RESULT_COLUMNS = ["model", "seed", "method", "status", "seconds", "cpu_seconds", "seq_per_s", "slowdown",
                  "accuracy", "recall", "auroc", "snr", "chance", "enrichment", "top_in_other",
                  "n_sequences", "n_sites", "n_top"]
METRICS = ["seq_per_s", "accuracy", "recall", "auroc", "snr", "enrichment"]


def benchmark_explainers(model, X, mask, *, sites=None, other_mask=None, methods=None, options=None,
                         method_options=None, target=1, rule: str = "maxabs", top_fraction: float = 0.05,
                         per_sequence: bool = True, batch_size: int | None = None, device="cpu", seed: int = 0,
                         verbose: bool = False) -> pd.DataFrame:
    """Run, time and score each attribution method on one model.

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``(N, 4, L)`` one-hot to logits.
    X : array ``(N, 4, L)`` float32
        The sequences (e.g. the test positives).
    mask : bool array ``(N, L)``
        The ground truth: bases of embedded motifs.
    sites, other_mask
        As :func:`truth_masks` returns them; ``top_in_other`` is the fraction of top bases in
        ``other_mask`` (e.g. the AgentBind core motif, present in both classes).
    methods : list of str, optional
        Registered method names (default: every registered method), each optionally with its
        own options, ``"ism(fast=false)"`` (:func:`parse_method_spec`); the spec is the row's
        ``method``.
    options : dict
        Options offered to every method (each takes those its signature has).
    method_options : dict
        ``{method: {option: value}}`` for one method (wins over ``options``).
    target : int or str
        The output explained (class index or name; default 1, the positive class).
    rule, top_fraction, per_sequence
        Per-base rule (:func:`per_base_importance`) and top bases (:func:`score_explainer`).
    batch_size, device, seed
        Passed to each method (``seed`` seeds stochastic ones); ``batch_size=None`` keeps
        each method's own default (:func:`time_method`).

    Returns
    -------
    DataFrame
        One row per method, :data:`RESULT_COLUMNS` without model/seed. A method that cannot
        run on this model (e.g. ``attention`` on a model without attention) gets
        ``status`` = its error message and NaN metrics; the others still run.
    """
    import torch
    from tqdm.auto import tqdm

    from wtko_captum.attribution.attribute import accepted_options, get_method
    from wtko_captum.core.errors import WtkoError

    methods = expand_methods(methods)
    if not methods:
        raise InputError("no attribution method to benchmark")
    X = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32))
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (X.shape[0], X.shape[2]):
        raise InputError(f"ground-truth mask {mask.shape} does not fit sequences {tuple(X.shape)}")
    specs = {m: parse_method_spec(m) for m in methods}
    funcs = {m: get_method(name) for m, (name, _) in specs.items()}  # unknown names fail before any work
    rows = []
    for spec in tqdm(methods, desc="benchmark", unit="method", disable=not verbose):
        name, own = specs[spec]
        offered = {**(options or {}), **((method_options or {}).get(name, {})), **own}
        opts, rejected = accepted_options(funcs[spec], offered)
        if set(rejected) & set(own):
            raise InputError(f"method {name!r} does not take option(s) {', '.join(set(rejected) & set(own))}",
                             value=spec)
        row = {"method": spec, "status": "ok"}
        try:
            attr, seconds, cpu = time_method(model, X, name, target, opts, batch_size=batch_size,
                                             device=device, seed=seed)
        except (WtkoError, NotImplementedError, RuntimeError) as exc:
            row["status"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:200]
            rows.append(row)
            continue
        score = per_base_importance(attr, X.numpy(), rule)
        row.update(seconds=seconds, cpu_seconds=cpu, seq_per_s=len(X) / seconds if seconds > 0 else np.inf,
                   **score_explainer(score, mask, sites=sites, top_fraction=top_fraction, per_sequence=per_sequence))
        if other_mask is not None:
            row["top_in_other"] = float(other_mask[top_mask(score, top_fraction, per_sequence)].mean())
        rows.append(row)
    table = pd.DataFrame(rows).reindex(columns=[c for c in RESULT_COLUMNS if c not in ("model", "seed")])
    table["slowdown"] = table["seconds"] / table["seconds"].min()
    return table


def benchmark_prepared(models, data, truth, *, split: str = "test", roles=None, classes=None,
                       max_sequences: int | None = None, **kwargs) -> pd.DataFrame:
    """:func:`benchmark_explainers` for checkpoints on one split of a prepared-data directory.

    Parameters
    ----------
    models : dict ``{name: checkpoint path or torch.nn.Module}``, or one path
        The name fills the ``model`` column.
    data : path or PreparedData
        ``wtko prepare`` output (or :mod:`motif_instances <wtko_captum.preparation.motif_instances>`).
    truth : path or DataFrame
        :func:`read_truth`: ``motifs.tsv`` of ``wtko simulate`` or a BED, genome coordinates.
    split : str
        The windows explained (default test).
    roles : list of str, optional
        Ground-truth roles scored (default :func:`default_roles`).
    classes : list of int, optional
        Only windows of these labels (default: every window holding a ground-truth site).
    max_sequences : int, optional
        The first this many of those windows (in data order).
    **kwargs
        Passed to :func:`benchmark_explainers`; its ``seed`` fills the ``seed`` column (the
        training seed, in the AgentBind preset).

    Returns
    -------
    DataFrame with :data:`RESULT_COLUMNS`.
    """
    from wtko_captum.core.checkpoint import load_model
    from wtko_captum.core.dataset import PreparedData, load_prepared

    data = data if isinstance(data, PreparedData) else load_prepared(data)
    part = data.split(split)
    if len(part) == 0:
        raise InputError(f"split {split!r} holds no sequences", path=data.path)
    truth = truth if isinstance(truth, pd.DataFrame) else read_truth(truth)
    mask, _, other = truth_masks(part.regions, truth, part.width, roles)
    keep = mask.any(axis=1) if classes is None else np.isin(part.y, list(classes))
    if max_sequences is not None:
        keep &= np.cumsum(keep) <= int(max_sequences)
    if not keep.any():
        raise InputError(f"no {split} window holds a ground-truth site (does the truth use the data's "
                         "coordinates?)", path=data.path)
    part = part.subset(keep)
    mask, sites, other = truth_masks(part.regions, truth, part.width, roles)
    models = {"model": models} if isinstance(models, (str, Path)) else dict(models)
    tables = []
    for name, m in models.items():
        model = load_model(m, input_length=part.width) if isinstance(m, (str, Path)) else m
        t = benchmark_explainers(model, part.X, mask, sites=sites, other_mask=other, **kwargs)
        t.insert(0, "model", str(name))
        t.insert(1, "seed", int(kwargs.get("seed", 0)))
        tables.append(t)
    return pd.concat(tables, ignore_index=True)[RESULT_COLUMNS]


# ---------------------------------------------------------------- tables and figure
def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample sd over seeds per (model, method): ``<metric>`` and ``<metric>_sd``
    columns (sd NaN for one seed), ``n_seeds``, and the first failing status if any."""
    cols = ["seconds", "seq_per_s", "slowdown", "accuracy", "recall", "auroc", "snr", "chance",
            "enrichment", "top_in_other"]
    rows = []
    for (model, method), g in table.groupby(["model", "method"], sort=False):
        ok = g[g["status"] == "ok"]
        row = {"model": model, "method": method, "n_seeds": len(ok),
               "status": "ok" if len(ok) == len(g) else g.loc[g["status"] != "ok", "status"].iloc[0]}
        for c in cols:
            v = pd.to_numeric(ok[c], errors="coerce")
            row[c] = v.mean() if len(v) else np.nan
            row[f"{c}_sd"] = v.std(ddof=1) if len(v) > 1 else np.nan
        row["n_sequences"] = int(ok["n_sequences"].iloc[0]) if len(ok) else 0
        rows.append(row)
    return pd.DataFrame(rows)


def _fmt(mean, sd, digits: int) -> str:
    if mean is None or not np.isfinite(mean):
        return "-"
    text = f"{mean:.{digits}f}"
    return text + (f" ± {sd:.{digits}f}" if sd is not None and np.isfinite(sd) else "")


def markdown_table(summary: pd.DataFrame) -> str:
    """The benchmark as a Markdown table: one row per model and method, mean ± sd over seeds."""
    multi = summary["model"].nunique() > 1
    head = (["model"] if multi else []) + ["method", "seq/s", "× fastest", "accuracy (top 5% in motifs)",
                                           "× chance", "recall", "auROC", "signal/noise"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in summary.iterrows():
        if r["status"] != "ok" and not r["n_seeds"]:
            cells = [r["method"], f"not run: {r['status']}"] + [""] * (len(head) - 2 - multi)
        else:
            speed = f"{r['seq_per_s']:.3g}" if np.isfinite(r["seq_per_s"]) else "-"
            cells = [r["method"], speed, _fmt(r["slowdown"], np.nan, 1),
                     _fmt(r["accuracy"], r["accuracy_sd"], 3), _fmt(r["enrichment"], r["enrichment_sd"], 1),
                     _fmt(r["recall"], r["recall_sd"], 2), _fmt(r["auroc"], r["auroc_sd"], 3),
                     _fmt(r["snr"], r["snr_sd"], 1)]
        lines.append("| " + " | ".join(([r["model"]] if multi else []) + cells) + " |")
    return "\n".join(lines) + "\n"


def plot_benchmark(summary: pd.DataFrame, path, *, title: str = "") -> Path:
    """Bars per method (one colour per model) for the five metrics; sd over seeds as error bars;
    chance drawn on the accuracy panel."""
    from wtko_captum.core.figures import new_figure, save_figure

    ok = summary[summary["n_seeds"] > 0]
    methods = list(dict.fromkeys(ok["method"]))
    models = list(dict.fromkeys(ok["model"]))
    panels = [("seq_per_s", "sequences / s (log)"), ("accuracy", "accuracy: top 5% in motifs"),
              ("recall", "recall: motifs ≥ half in top"), ("auroc", "auROC (motif bases)"),
              ("snr", "signal / noise")]
    fig = new_figure(3.2 * len(panels), 0.28 * len(methods) * max(1, len(models)) + 1.6)
    axes = fig.subplots(1, len(panels), sharey=True)
    colours = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]
    height = 0.8 / max(1, len(models))
    y = np.arange(len(methods))
    for k, model in enumerate(models):
        sub = ok[ok["model"] == model].set_index("method").reindex(methods)
        for ax, (col, label) in zip(axes, panels):
            # an infinite ratio (no background signal) cannot be drawn as a bar
            values = sub[col].replace([np.inf, -np.inf], np.nan)
            ax.barh(y + k * height - 0.4 + height / 2, values, height=height, xerr=sub[f"{col}_sd"].fillna(0),
                    color=colours[k % len(colours)], label=model, error_kw={"lw": 0.8})
            ax.set_title(label, fontsize=9)
    axes[0].set_xscale("log")
    axes[1].axvline(float(ok["chance"].mean()), color="grey", ls=":", lw=1, label="chance")
    axes[3].axvline(0.5, color="grey", ls=":", lw=1)
    axes[0].set_yticks(y)
    axes[0].set_yticklabels(methods, fontsize=8)
    axes[0].invert_yaxis()
    handles, labels = axes[1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, -0.02))
    fig.subplots_adjust(bottom=0.18)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def write_benchmark(out, table: pd.DataFrame, meta: dict) -> dict[str, Path]:
    """Write ``explainers.tsv`` (every model x seed x method), ``summary.tsv`` (mean ± sd over
    seeds), ``summary.md``, ``metrics.png`` and ``benchmark.json`` into ``out`` (atomically,
    each file). Returns the paths by name."""
    import json

    from wtko_captum.core.atomic import atomic_path, output_dir, write_text

    out = output_dir(out)
    summary = summarise(table)
    paths = {}
    for name, df in (("explainers.tsv", table), ("summary.tsv", summary)):
        with atomic_path(out / name) as tmp:
            df.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
        paths[name] = out / name
    n = int(summary["n_sequences"].max()) if len(summary) else 0
    header = (f"# Explainer benchmark\n\n{n} sequences; run time measured in one process "
              f"({meta.get('device', 'cpu')}, {meta.get('threads', '?')} torch threads); mean ± sd over "
              f"{int(table['seed'].nunique())} training seed(s).\n\n")
    paths["summary.md"] = write_text(out / "summary.md", header + markdown_table(summary))
    paths["metrics.png"] = plot_benchmark(summary, out / "metrics.png", title=meta.get("title", ""))
    paths["benchmark.json"] = write_text(out / "benchmark.json", json.dumps(meta, indent=2, default=str) + "\n")
    return paths


# ---------------------------------------------------------------- the AgentBind preset
#: AgentBind's simulation: sequences per split at full size, and their length
AGENTBIND_SIZES = {"train": 50_000, "val": 1_000, "test": 1_000, "length": 1000}
#: synthetic chromosomes: 50 train, 1 validation (chr51), 1 test (chr52), each holding the same
#: number of sequences, so every --scale keeps the published 50:1:1 proportions
AGENTBIND_CHROMS = 52


def agentbind_benchmark(out, *, scale: float = 1.0, length: int = AGENTBIND_SIZES["length"],
                        models=("wtko_cnn",), seeds: int = 1, methods=None, options=None,
                        method_options=None, model_options=None, per_model_options=None, epochs: int = 100,
                        patience: int = 10,
                        batch_size: int = 64, lr: float = 1e-3, attr_batch_size: int | None = None,
                        max_sequences: int | None = None,
                        rule: str = "maxabs", top_fraction: float = 0.05, device="auto", seed: int = 0,
                        verbose: bool = False) -> dict:
    """AgentBind's simulation benchmark in one call: simulate, prepare, train, benchmark.

    Data as published: 1 kb sequences, background P(A,C,G,T) = (.3,.2,.2,.3), a GATA1 site at
    the centre of every sequence, 1-3 TAL1::TCF3 sites (truncated Poisson) in the positives
    only (``wtko simulate --preset agentbind``); 50,000 train / 1,000 validation / 1,000 test
    sequences, half positive. Each architecture in ``models`` is trained with ``seeds`` seeds
    and every method explains the test positives; the TAL1 sites are the truth.

    Parameters
    ----------
    out : path
        Output directory: ``sim/``, ``data/``, ``models/<model>/seed_<s>/``, ``runs/`` (one
        table per trained model), and the tables and figure of :func:`write_benchmark`. A
        re-run with the same parameters reuses every finished piece (an interrupted run
        resumes); other parameters in an existing directory are an error.
    scale : float
        Fraction of the published sizes (0.1 = 5,000 / 100 / 100 sequences).
    length : int
        Sequence length in bp (1000 as published).
    models : sequence of str
        Registered model names (``wtko plugins``), one benchmark per architecture.
    seeds : int
        Training seeds ``seed .. seed + seeds - 1`` per architecture: the tables give mean ±
        sd over them.
    methods, options, method_options, rule, top_fraction
        As :func:`benchmark_explainers` (default: every registered method).
    model_options : dict
        Constructor options offered to every model (each takes those its signature has).
    per_model_options : dict
        ``{model: {option: value}}`` for one architecture (wins over ``model_options``).
    epochs, patience, batch_size, lr
        Training (:func:`wtko_captum.training.train.train`).
    attr_batch_size : int, optional
        Attribution batch size (default: each method's own).
    max_sequences : int, optional
        Explain only the first this many test positives.
    device : "auto" | "cpu" | "cuda"
    seed : int
        Seed of the simulation, the splits and the first training run.

    Returns
    -------
    dict with ``table`` (every model x seed x method), ``summary`` and ``paths``.
    """
    import json

    import torch

    from wtko_captum.core.atomic import atomic_path, write_text
    from wtko_captum.core.device import resolve_device
    from wtko_captum.core.registry import get_registry
    from wtko_captum.preparation.prepare import prepare
    from wtko_captum.preparation.simulate import simulate
    from wtko_captum.training.train import train

    n = int(round(scale * (AGENTBIND_SIZES["train"] + AGENTBIND_SIZES["val"] + AGENTBIND_SIZES["test"]) / 2))
    if n < AGENTBIND_CHROMS:
        raise InputError(f"--scale {scale:g} leaves {n} sequences per class; the smallest is "
                         f"{AGENTBIND_CHROMS / 26_000:.4f} (one per class and chromosome)", value=scale)
    if int(seeds) < 1:
        raise InputError("--seeds must be at least 1", value=seeds)
    models = [models] if isinstance(models, str) else list(models)
    for m in models:
        get_registry().get("models", m)  # an unknown architecture fails before any work
    methods = expand_methods(methods)
    dev = resolve_device(device)
    out = Path(out)
    params = dict(preset="agentbind", scale=scale, n_per_class=n, length=int(length), seed=int(seed),
                  n_chroms=AGENTBIND_CHROMS, epochs=int(epochs), patience=int(patience),
                  batch_size=int(batch_size), lr=float(lr), model_options=model_options or {},
                  per_model_options=per_model_options or {})
    _claim(out, params)

    sim_dir, data_dir = out / "sim", out / "data"
    if not (sim_dir / "sim.json").is_file():
        simulate("agentbind", sim_dir, n=n, length=length, seed=seed, n_chroms=AGENTBIND_CHROMS)
    if not (data_dir / "meta.json").is_file():
        prepare(data_dir, wt=[sim_dir / "WT.fa"], ko=[sim_dir / "KO.fa"], width=length,
                test_chroms=(f"chr{AGENTBIND_CHROMS}",), val_chroms=(f"chr{AGENTBIND_CHROMS - 1}",), seed=seed)
    truth = read_truth(sim_dir / "motifs.tsv")
    tables, model_scores = [], {}
    for model in models:
        for s in range(int(seed), int(seed) + int(seeds)):
            run_dir = out / "models" / model / f"seed_{s}"
            if not (run_dir / "model.pt").is_file():
                train(data_dir, run_dir, model=model, seeds=(s,), epochs=epochs, patience=patience,
                      batch_size=batch_size, lr=lr, device=dev, verbose=verbose,
                      model_options=_model_options(model, model_options, per_model_options))
            model_scores[f"{model}/{s}"] = _test_auroc(run_dir / "model.pt", data_dir, dev)
            done = out / "runs" / f"{model}_seed{s}.tsv"
            key = json.dumps(dict(methods=methods, options=options, method_options=method_options, rule=rule,
                                  top_fraction=top_fraction, max_sequences=max_sequences, device=str(dev),
                                  attr_batch_size=attr_batch_size),
                             sort_keys=True, default=str)
            if done.is_file() and done.with_suffix(".json").is_file() and done.with_suffix(".json").read_text() == key:
                tables.append(pd.read_csv(done, sep="\t"))
                continue
            t = benchmark_prepared({model: run_dir / "model.pt"}, data_dir, truth,
                                   max_sequences=max_sequences, methods=methods, options=options,
                                   method_options=method_options, target=1, rule=rule,
                                   top_fraction=top_fraction, batch_size=attr_batch_size, device=dev, seed=s,
                                   verbose=verbose)
            done.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(done) as tmp:
                t.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
            write_text(done.with_suffix(".json"), key)
            tables.append(t)
    table = pd.concat(tables, ignore_index=True)
    from wtko_captum import __version__

    meta = dict(params, methods=methods, models=models, seeds=int(seeds), device=str(dev),
                threads=torch.get_num_threads(), rule=rule, top_fraction=top_fraction,
                truth="TAL1::TCF3 partner sites of the test positives (motifs.tsv role partner); "
                      "top_in_other = top bases in the central GATA1 core",
                sizes={split: int(round(scale * AGENTBIND_SIZES[split])) for split in ("train", "val", "test")},
                model_test_auroc=model_scores, timing="wall clock, same process, after one untimed warm-up "
                "call on 2 sequences per method", package_version=__version__,
                title=f"AgentBind simulation, scale {scale:g} ({length} bp)")
    paths = write_benchmark(out, table, meta)
    lines = [f"- {k}: test auROC {v:.3f}" for k, v in model_scores.items()]
    text = paths["summary.md"].read_text()
    write_text(paths["summary.md"], text + "\nModels (test auROC, all test sequences):\n\n" + "\n".join(lines) + "\n")
    return {"table": table, "summary": summarise(table), "paths": paths}


def _claim(out: Path, params: dict) -> None:
    """Record the parameters of the run in ``out``; refuse a directory holding another run."""
    import json

    from wtko_captum.core.atomic import MARKER, output_dir, write_text

    marker = out / "preset.json"
    if marker.is_file():
        old = json.loads(marker.read_text())
        if old != json.loads(json.dumps(params)):
            diff = {k: (old.get(k), v) for k, v in json.loads(json.dumps(params)).items() if old.get(k) != v}
            raise InputError(f"{out} holds a benchmark run with other parameters ({diff}); use another -o",
                             path=marker)
    elif out.is_dir() and any(p.name != MARKER for p in out.iterdir()):
        raise InputError("output directory exists and is not a benchmark run; use another -o", path=out)
    output_dir(out)
    write_text(marker, json.dumps(params, indent=2) + "\n")


def _model_options(model: str, shared, own) -> dict:
    """The constructor options for one architecture: the shared ones it takes, then its own."""
    from wtko_captum.core.architecture import model_options, resolve_factory

    takes = model_options(resolve_factory(model))
    out = {k: v for k, v in (shared or {}).items() if k in takes}
    out.update((own or {}).get(model, {}))
    return out


def _test_auroc(model_path, data_dir, dev) -> float:
    from wtko_captum.core.checkpoint import load_model
    from wtko_captum.core.dataset import load_prepared
    from wtko_captum.training.train import evaluate_split

    test = load_prepared(data_dir).split("test")
    return float(evaluate_split(load_model(model_path).to(dev), test, dev)["auroc"])
