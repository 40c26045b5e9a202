"""``report``: one self-contained HTML file of a run (model quality, igv.js tracks, motifs).

The file opens in any browser with no network: igv.js (vendored from its npm package), every
track, figure and table are inside it, and a Content-Security-Policy in the page forbids any
request to a server. Track data are limited to the chosen windows, so the file stays small.
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
from pathlib import Path

import pandas as pd

from wtko_captum.core.errors import InputError
from wtko_captum.report import _figures, _igv, _regions
from wtko_captum.report._collect import MotifSet, Result, RunContents, collect
from wtko_captum.report._tables import Cell, Table, fmt, from_frame

log = logging.getLogger(__name__)

# No request may leave the page: everything is inline or a data:/blob: URI. igv.js needs inline
# scripts and styles (it injects its own), canvases (blob:) and data: images.
CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
       "img-src data: blob:; connect-src data: blob:; font-src data:; worker-src blob:; "
       "base-uri 'none'; form-action 'none'")
DEFAULT_MAX_MB = 50.0


def report(run_dir, out, *, regions: str = "top20", method: str | None = None, max_mb: float = DEFAULT_MAX_MB,
           max_rows: int = 1000, title: str | None = None, verbose: bool = True) -> Path:
    """Write the HTML report of the run in ``run_dir`` to ``out``; returns ``out``.

    Parameters
    ----------
    run_dir : str or Path
        What ``wtko run``/``wtko demo`` wrote (``data/``, ``model/``, ``eval/``, ``attr/``,
        ``motifs/``, ``filters/``, ``modisco/``, ``compare/``, ``enrich/``, ...). Whatever is
        present is shown; nothing is required but at least one stage's output.
    out : str or Path
        The HTML file, written atomically.
    regions : str
        The windows the track view offers: ``topN`` (default ``top20``: the N with the highest
        attribution, the N most confident predictions of each class, the N most confident
        mistakes and the windows holding the N variants of largest |Δ| of ``variants/``),
        ``all``, or a BED file (windows overlapping its intervals).
    method : str, optional
        The attribution method that ranks windows (default: DeepLIFT-SHAP when present).
    max_mb : float
        Size limit of the file in MB (10^6 bytes). A selection whose track data would pass it
        is refused before the data are written, with the number of windows that would fit.
    max_rows : int
        Rows shown per result table (the rest stay in the run's files; the page says so).
    title : str, optional
        Page title (default: the run directory's name).
    verbose : bool
        A progress bar while the tracks are built.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError("run directory not found", path=run_dir)
    if not max_mb > 0:
        raise InputError("max_mb must be > 0", value=max_mb)
    _regions.check_spec(regions)
    run = collect(run_dir)
    if run.empty:
        raise InputError("no pipeline outputs here (expected data/, model/, eval/, attr/, motifs/, ...): "
                         "give the directory `wtko run -o` or `wtko demo -o` wrote", path=run_dir)
    budget = int(max_mb * 1e6)
    ctx = {"title": title or run_dir.resolve().name, "csp": CSP, "igv_version": _igv.IGV_VERSION,
           "created": _dt.datetime.now().strftime("%Y-%m-%d %H:%M"), "run_dir": str(run_dir)}
    ctx["summary"] = _summary(run)
    ctx["motif_sets"] = [_motif_set(ms, max_rows) for ms in run.motif_sets]
    results = [_result(res, run.root, max_rows) for res in run.results]
    ctx["results"] = [r for r in results if r["tables"] or r["figures"]]   # empty files only: left out
    ctx["missing"] = _missing(run)
    ctx["glyphs"] = _figures.glyph_defs() if run.motif_sets else ""
    igv_js = _igv.igv_script()
    # everything but the track view, measured by rendering the page without it
    other = len(_render({**ctx, "tracks": None}, "").encode("utf-8")) + len(igv_js.encode("utf-8"))
    if run.attributions and other >= budget:
        raise InputError(f"the report without its tracks is already about {other / 1e6:.1f} MB (igv.js alone "
                         f"{len(igv_js) / 1e6:.1f} MB), over the limit of {max_mb:g} MB: raise --max-mb "
                         "or show fewer table rows (--max-rows)")
    ctx["tracks"] = _track_view(run, regions, method, budget - other, verbose=verbose)
    html = _render(ctx, igv_js)
    size = len(html.encode("utf-8"))
    if size > budget:
        raise InputError(f"the report would be {size / 1e6:.1f} MB, over the limit of {max_mb:g} MB: "
                         f"choose fewer regions (e.g. --regions top10) or fewer table rows, or raise --max-mb")
    from wtko_captum.core.atomic import write_text

    path = write_text(out, html)
    log.debug("report: %s (%.1f MB)", path, size / 1e6)
    return path


def _render(ctx: dict, igv_js: str) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("wtko_captum.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True,
                             lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    if "</script" in igv_js.lower():
        raise InputError("the vendored igv.js contains '</script' and cannot be inlined")
    config = json.dumps(ctx["tracks"]["config"], separators=(",", ":")).replace("<", "\\u003c") \
        if ctx["tracks"] else "null"
    return env.get_template("report.html.j2").render(**ctx, igv_js=igv_js, igv_config=config)


# ---- summary ----------------------------------------------------------------------------------
def _read_json(path):
    return json.loads(Path(path).read_text()) if path else None


def _kv(pairs) -> Table:
    rows = [[Cell(str(k), str(k)), fmt(v)] for k, v in pairs if v is not None and v != ""]
    return Table(["", ""], [False, False], rows)


def _summary(run: RunContents) -> dict:
    out: dict = {"data": None, "split_table": None, "model": None, "runs": None, "metrics": None,
                 "class_table": None, "curve": None, "confusion": None, "roc": None, "methods": None}
    meta = _read_json(run.data_meta)
    if meta:
        splits = meta.get("splits", {})
        out["data"] = _kv([("classes", ", ".join(map(str, meta.get("class_names", [])))),
                           ("window width (bp)", meta.get("width")), ("genome build", meta.get("genome_build")),
                           ("genome", meta.get("genome")), ("test chromosomes", ", ".join(splits.get("test_chroms", []))),
                           ("validation", splits.get("val")), ("classes balanced", meta.get("balanced")),
                           ("seed", meta.get("seed"))])
        summary_tsv = run.data_meta.parent / "summary.tsv"
        if summary_tsv.is_file():
            out["split_table"] = from_frame(pd.read_csv(summary_tsv, sep="\t"))
    training = _read_json(run.training)
    if training:
        hp = training.get("hyperparameters", {})
        val = training.get("val", {})
        out["model"] = _kv([("architecture", hp.get("architecture")),
                            ("model options", json.dumps(hp.get("model_options")) if hp.get("model_options") else None),
                            ("epochs run / max", f"{training.get('epochs_run')} / {training.get('max_epochs')}"),
                            ("best epoch", training.get("best_epoch")),
                            ("selected by", training.get("selection_metric")),
                            ("validation accuracy", val.get("accuracy")), ("validation auROC", val.get("auroc")),
                            ("learning rate", hp.get("lr")), ("weight decay", hp.get("weight_decay")),
                            ("batch size x accumulation", f"{hp.get('batch_size')} x {hp.get('accumulation')}"),
                            ("reverse-complement augmentation", hp.get("rc_augment")),
                            ("seed", training.get("seed")), ("device", training.get("device")),
                            ("training time (s)", training.get("seconds")), ("torch", training.get("torch_version"))])
    if run.runs:
        out["runs"] = from_frame(pd.read_csv(run.runs, sep="\t"), caption="one model per seed (runs.tsv)")
    if run.history:
        training = training or {}
        out["curve"] = _figures.learning_curve(pd.read_csv(run.history), training.get("best_epoch"),
                                               training.get("selection_metric") or "val_auroc")
    metrics = _read_json(run.metrics)
    if metrics:
        names = [str(c) for c in metrics.get("class_names", [])]
        out["metrics"] = _kv([("split", metrics.get("split")), ("windows", metrics.get("n")),
                              ("accuracy", metrics.get("accuracy")), ("auROC", metrics.get("auroc")),
                              ("auPRC", metrics.get("auprc")), ("positive class", metrics.get("positive_class")),
                              ("model", metrics.get("model_identity")), ("checkpoint", metrics.get("selected_by"))])
        rows = [[Cell(n, n)] + [fmt(metrics[n].get(k)) for k in ("precision", "recall", "f1", "support")]
                for n in names if isinstance(metrics.get(n), dict)]
        if rows:
            out["class_table"] = Table(["class", "precision", "recall", "F1", "support"],
                                       [False, True, True, True, True], rows)
        cm = metrics.get("confusion_matrix", {})
        if cm.get("matrix"):
            out["confusion"] = _figures.confusion_matrix(cm["matrix"], cm.get("labels", names))
        if run.predictions:
            out["roc"] = _figures.roc_pr(pd.read_csv(run.predictions, sep="\t"), names)
    if run.attributions:
        rows = []
        for method, path in run.attributions.items():
            m = json.loads((path / "meta.json").read_text())
            params = {k: v for k, v in (m.get("params") or {}).items() if k not in ("chunk_size",)}
            rows.append([Cell(method, method), fmt(m.get("split")), fmt(str(m.get("target_name", m.get("target")))),
                         fmt(m.get("n")), fmt(m.get("length")), fmt(bool(m.get("hypothetical"))),
                         fmt(", ".join(f"{k}={v}" for k, v in params.items()))])
        out["methods"] = Table(["method", "split", "target", "windows", "length", "hypothetical", "options"],
                               [False, False, False, True, True, False, False], rows)
    return out


def _missing(run: RunContents) -> list[str]:
    wanted = [(run.metrics, "no evaluation (eval/metrics.json): run `wtko evaluate`"),
              (run.attributions, "no attributions (attr/*/meta.json): the track view needs `wtko attribute`"),
              (run.motif_sets, "no motif sets (motifs/, filters/, modisco/, ...)")]
    return [text for found, text in wanted if not found]


# ---- track view -------------------------------------------------------------------------------
def _chrom_sizes(run: RunContents, chroms) -> dict[str, int]:
    """True chromosome sizes from a bigWig header of the run (tracks/, scan/), else the largest
    window end seen on each chromosome (the run had no chrom.sizes). ``chroms``: ``{chrom:
    largest window end}``; a sequence without genome coordinates is its own "chromosome"."""
    sizes: dict[str, int] = {}
    headers = run.bigwigs + [s.path for s in run.signals]
    if headers:
        import pyBigWig

        bw = pyBigWig.open(str(headers[0]))
        try:
            sizes = {str(c): int(n) for c, n in bw.chroms().items()}
        finally:
            bw.close()
    return {c: sizes.get(c, int(end)) for c, end in chroms.items()}


def _sequence_lengths(regions) -> dict[str, int]:
    """``{name: length}`` of the sequences without genome coordinates (their own "chromosomes"):
    the given sequence's end (``peak_end``) when recorded, else the window's end."""
    rows = regions[_igv.in_sequence_coordinates(regions)]
    ends = rows["peak_end"] if "peak_end" in rows else rows["end"]
    return {str(c): int(e) for c, e in zip(rows["chrom"], ends)}


def _track_view(run: RunContents, regions, method, budget: int, *, verbose: bool) -> dict | None:
    """The igv.js config (every URL a data URI) and the region picker for the chosen windows."""
    from tqdm.auto import tqdm

    from wtko_captum.core.readers import read

    if not run.attributions:
        return None
    sets = {m: read(p, kind="attributions") for m, p in run.attributions.items()}
    predictions = pd.read_csv(run.predictions, sep="\t") if run.predictions else None
    table = _regions.region_table(sets, predictions)
    primary = _regions.primary_method(table_methods(table), method)
    variants = _regions.variant_intervals(run.variant_scores) if run.variant_scores else None
    chosen = _regions.select(table, regions, method=primary, variants=variants)
    first = next(iter(sets.values()))
    sizes = _chrom_sizes(run, {c: int(e) for c, e in chosen.groupby("chrom")["end"].max().items()})
    sizes.update({c: n for c, n in _sequence_lengths(first.regions).items() if c in sizes})
    sizes = {c: sizes[c] for c in sorted(sizes, key=_chrom_key)}
    _check_budget(sets, chosen, sizes, budget)
    spans = _igv.merged_spans(chosen, sizes)
    names = [str(c) for c in (first.class_names or sorted(set(chosen["true"]) - {""}))]
    steps = tqdm(total=len(sets) + len(run.signals) + len(run.features) + 3, desc="report tracks", unit="track",
                 disable=not verbose, leave=False)
    with steps:
        ref = _igv.data_uri(_igv.reference_fasta(first, spans, sizes), gzipped=True)
        steps.update()
        tracks = _signal_tracks(run, sets, chosen, spans, sizes, steps)
        tracks += _feature_tracks(run, first, chosen, spans, sizes, names, steps)
    for i, track in enumerate(tracks):
        track["order"] = i
    config = {"loadDefaultGenomes": False, "showChromosomeWidget": True, "locus": chosen.iloc[0]["locus"],
              "tracks": tracks, "reference": {"id": "report", "name": "sequence of the shown windows",
                                             "fastaURL": ref, "indexed": False}}
    data_mb = (len(ref) + sum(len(t["url"]) for t in tracks)) / 1e6
    return {"config": config, "picker": _picker(chosen, sets, names), "classes": names,
            "groups": list(dict.fromkeys(g for gs in chosen["groups"] for g in gs)),
            "n_chosen": len(chosen), "n_total": len(table), "primary": primary, "spec": str(regions),
            "data_mb": f"{data_mb:.2f}"}


def _signal_tracks(run, sets, chosen, spans, sizes, steps) -> list[dict]:
    """Per method the projected attributions of the chosen windows (``dynseq``), then other
    tools' genome-wide bigWigs cut to the spans."""
    first = next(iter(sets.values()))
    tracks = []
    for m, aset in sets.items():
        same = len(aset) == len(first) and (aset.regions["start"].to_numpy() == first.regions["start"].to_numpy()).all()
        use = chosen["row"].tolist() if same else _matching_rows(aset, chosen)
        if use:
            uri, fmt = _igv.subset_track(aset, use, sizes)
            tracks.append({"name": f"{m} (projected)", "type": "wig", "format": fmt, "graphType": "dynseq",
                           "url": uri, "height": 90, "autoscale": True})
        steps.update()
    for sig in run.signals:
        data = _igv.bigwig_slice(sig.path, spans, sizes)
        if data is not None:
            tracks.append({"name": sig.title, "type": "wig", "format": "bigwig", "graphType": sig.spec.graph,
                           "url": _igv.data_uri(data), "height": 60, "autoscale": True})
        steps.update()
    return tracks


def _feature_tracks(run, first, chosen, spans, sizes, names, steps) -> list[dict]:
    """The windows (coloured by true class), their peaks, the run's feature files and the hits
    of the enriched known motifs, each cut to the spans."""
    features = [("windows (true>predicted class)", _igv.windows_bed(chosen, names, sizes), None)]
    if run.regions is not None:
        features.append(("peaks", _igv.peaks_bed(run.regions, chosen), "#000000"))
    steps.update()
    for f in run.features:
        features.append((f.spec.title, _igv.features_in(f.path, spans), f.spec.color))
        steps.update()
    if run.variant_scores:  # every scored variant (variants/tracks/variants.bed holds only the top ones)
        features.append(("variants (Δ = P(alt) − P(ref))",
                         _igv.variants_bed(_regions.variant_intervals(run.variant_scores), spans), "#762a83"))
    known = _enriched_motifs(run.enrichment)
    if known:
        features.append((f"enriched known motifs (FIMO p < 1e-4, top {len(known)})",
                         _igv.motif_hits(first, chosen["row"].tolist(), known, sizes), "#7b3294"))
    steps.update()
    tracks = []
    for name, text, colour in features:
        if not text:
            continue
        track = {"name": name, "type": "annotation", "format": "bed", "url": _igv.data_uri(text, gzipped=True),
                 "indexed": False, "displayMode": "EXPANDED", "height": 40, "autoHeight": True, "maxHeight": 160}
        if colour:  # else each feature's own itemRgb
            track["color"] = colour
        tracks.append(track)
    return tracks


def _enriched_motifs(path, *, q: float = 0.05, top: int = 10) -> dict:
    """The ``top`` known motifs of an enrichment table at BH q <= ``q`` (best first), as
    matrices from the bundled JASPAR database (motifs it does not hold are left out)."""
    if path is None:
        return {}
    from wtko_captum.core.motif_db import load_motifs

    table = pd.read_csv(path, sep="\t")
    if not {"motif", "q_value"} <= set(table.columns):
        return {}
    keys = table[table["q_value"] <= q].sort_values("q_value", kind="stable")["motif"].astype(str)
    db = load_motifs()
    return {k: db[k] for k in [k for k in keys if k in db][:top]}


def table_methods(table: pd.DataFrame) -> list[str]:
    return [c[len("score_"):] for c in table.columns if c.startswith("score_")]


def _chrom_key(c: str):
    core = c[3:] if c.lower().startswith("chr") else c
    return (0, int(core), "") if core.isdigit() else (1, 0, core)


def _matching_rows(aset, chosen) -> list[int]:
    key = {k: i for i, k in enumerate(zip(aset.regions["chrom"].astype(str), aset.regions["start"], aset.regions["end"]))}
    return [key[k] for k in zip(chosen["chrom"], chosen["start"], chosen["end"]) if k in key]


def _check_budget(sets, chosen, sizes, budget: int) -> None:
    """Refuse a selection whose track data would pass ``budget`` bytes, before writing them all:
    the cost per window is measured on up to 50 of the chosen windows."""
    n = len(chosen)
    probe = chosen.head(min(n, 50))
    per_window = sum(len(_igv.subset_track(a, _matching_rows(a, probe), sizes)[0]) for a in sets.values())
    per_window = per_window / max(len(probe), 1) + 1.4 * float((probe["end"] - probe["start"]).mean())
    need = per_window * n
    if need > budget:
        fit = max(int(budget // per_window), 0)
        groups = max(len({g for gs in chosen["groups"] for g in gs}), 1)  # topN picks up to N per group
        raise InputError(f"track data for {n} windows would need about {need / 1e6:.1f} MB, more than the "
                         f"{max(budget, 0) / 1e6:.1f} MB left under the size limit; about {fit} windows fit: "
                         f"choose fewer (e.g. --regions top{max(fit // max(groups, 4), 1)}) or raise --max-mb")


def _picker(chosen: pd.DataFrame, sets: dict, class_names) -> Table:
    prob_cols = [f"p_{c}" for c in class_names if f"p_{c}" in chosen]
    columns = ["#", "locus", "true", "predicted"] + [f"P({c[2:]})" for c in prob_cols] + \
              [f"max|{m}|" for m in sets] + ["chosen as"]
    numeric = [True, False, False, False] + [True] * (len(prob_cols) + len(sets)) + [False]
    rows, attrs = [], []
    for i, r in enumerate(chosen.itertuples(index=False), 1):
        d = r._asdict()
        cells = [Cell(str(i), i), Cell(r.locus, f"{r.chrom}:{max(r.start, 0):012d}", title=r.name),
                 fmt(r.true or None), fmt(r.predicted or None)]
        cells += [fmt(d[c]) for c in prob_cols] + [fmt(d[f"score_{m}"]) for m in sets]
        cells.append(Cell(", ".join(r.groups), ", ".join(r.groups)))
        rows.append(cells)
        attrs.append({"locus": r.locus, "groups": "|".join(r.groups), "true": r.true, "predicted": r.predicted,
                      "correct": "" if r.correct is None else str(bool(r.correct)).lower()})
    return Table(columns, numeric, rows, row_attrs=attrs)


# ---- motifs -----------------------------------------------------------------------------------
def _motif_set(ms: MotifSet, max_rows: int) -> dict:
    """One motif set as a table: id, logo, consensus, width, sites, best Tomtom matches, and the
    columns of the stage's own table for that motif."""
    from wtko_captum.core.readers import read
    from wtko_captum.core.sequence import consensus

    motifs = read(ms.meme, kind="motifs")
    table = pd.read_csv(ms.table, sep="\t") if ms.table else None
    extra: list[str] = []
    by_id: dict[str, dict] = {}
    if table is not None and ms.spec.id_column in table.columns:
        by_id = {str(row[ms.spec.id_column]): row for row in table.to_dict("records")}
        extra = [c for c in table.columns if c != ms.spec.id_column and not _long_text(table[c])][:10]
    matches = _tomtom_matches(ms.tomtom) if ms.tomtom else {}
    nsites = motifs.field("nsites") if hasattr(motifs, "field") else {}
    columns = ["motif", "logo", "consensus", "width", "sites", "best Tomtom matches"] + extra
    numeric = [False, False, False, True, True, False] + [pd.api.types.is_numeric_dtype(table[c]) for c in extra]
    rows = []
    for key, probs in list(motifs.items())[:max_rows]:
        mid, cons = key.split()[0], consensus(probs)
        hits = matches.get(mid, [])
        row = by_id.get(mid, {})
        rows.append([Cell(key, mid), Cell("", None, svg=_figures.logo(probs)), Cell(cons, cons),
                     fmt(int(probs.shape[1])), fmt(nsites.get(key)),
                     Cell("; ".join(f"{name} ({tid}, q={q:.1g})" for tid, name, q in hits),
                          hits[0][2] if hits else None)] + [fmt(row.get(c)) for c in extra])
    note = f"first {max_rows} of {len(motifs)} motifs" if len(motifs) > max_rows else ""
    files = [p.name for p in (ms.meme, ms.table, ms.tomtom) if p]
    return {"key": ms.spec.key, "title": ms.spec.title, "about": ms.spec.about, "folder": ms.spec.folder,
            "files": files, "n": len(motifs), "table": _drop_empty(Table(columns, numeric, rows, note=note))}


def _drop_empty(table: Table) -> Table:
    """The table without columns whose every cell is empty (a motif file without site counts)."""
    keep = [j for j in range(len(table.columns))
            if any(row[j].text or row[j].svg for row in table.rows) or not table.rows]
    return Table([table.columns[j] for j in keep], [table.numeric[j] for j in keep],
                 [[row[j] for j in keep] for row in table.rows], table.caption, table.note, table.row_attrs)


def _long_text(col: pd.Series) -> bool:
    return col.dtype == object and col.astype(str).str.len().max() > 40


def _tomtom_matches(path, top: int = 3) -> dict[str, list[tuple[str, str, float]]]:
    from wtko_captum.motifs.tomtom import read_tomtom

    tt = read_tomtom(path)
    qcol = "q-value" if "q-value" in tt else "p-value"
    name = tt["Target_name"] if "Target_name" in tt else tt["Target_ID"]
    tt = tt.assign(_name=name.astype(str)).sort_values(qcol, kind="stable")
    return {str(q): [(str(t), n, float(v)) for t, n, v in zip(g["Target_ID"], g["_name"], g[qcol])][:top]
            for q, g in tt.groupby("Query_ID", sort=False)}


# ---- results ----------------------------------------------------------------------------------
def _result(res: Result, root: Path, max_rows: int) -> dict:
    """A stage's tables and figures, each named by its path inside the stage's folder."""
    folder = Path(root) / res.spec.folder
    tables = []
    for path in res.tables:
        try:
            df = pd.read_csv(path, sep="\t", comment=None)
        except pd.errors.EmptyDataError:  # a stage that found nothing (one seed: no recurring filters)
            log.debug("%s is empty: left out of the report", path)
            continue
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            log.warning("%s: not a table (%s), left out of the report", path, exc)
            continue
        name = path.relative_to(folder).as_posix()
        tables.append(from_frame(df, max_rows=max_rows, caption=name, source=str(Path(res.spec.folder) / name)))
    figures = [{"name": p.relative_to(folder).as_posix(), "uri": _figures.file_data_uri(p)} for p in res.figures]
    return {"key": res.spec.key, "title": res.spec.title, "about": res.spec.about, "tables": tables,
            "figures": figures, "folder": "" if res.spec.folder == "." else res.spec.folder + "/"}

