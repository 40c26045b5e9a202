"""Run TF-MoDISco-lite on an AttributionSet and write its results where other tools read them.

Outputs of :func:`run_modisco` (in ``out/``)::

    modisco_results.h5   modisco-lite's own HDF5 (``modisco report`` and other tools read it)
    report/motifs.html   modisco-lite's HTML report: CWM logos + Tomtom matches against the
                         bundled JASPAR, via memelite (modiscolite.report with ttl=True: the
                         MEME-suite ``tomtom`` binary is not needed)
    patterns.pfm.meme    one motif per pattern: the position frequency matrix (PFM) of its
                         seqlets, trimmed to the CWM's support (columns whose sum |CWM| is at
                         least ``trim_threshold`` x the maximum, as modisco's report trims)
    patterns.cwm.meme    the same positions, probabilities from the CWM's positive part
                         (``max(cwm, 0)`` per column normalised; uniform where nothing is positive)
    patterns.tsv         pattern, metacluster (pos/neg), n_seqlets, consensus, trimmed start/end,
                         class counts of the seqlets' sequences, best JASPAR match (our Tomtom)
    seqlets.bed          BED6+: every seqlet of every pattern in GENOME coordinates
    seqlets.tsv          the same rows with example_idx, window_start/window_end (in the
                         AttributionSet window), is_revcomp, label and the seqlet sequence
    tomtom.tsv           our Tomtom (wtko_captum.motifs.tomtom) of patterns.pfm.meme against JASPAR

Coordinates: modisco's seqlet ``start``/``end`` index the (possibly centre-cropped) arrays it
was given, 0-based half-open. Base ``i`` of AttributionSet row ``n`` is genome base
``regions.start[n] + i`` (a '-' strand region is read from its end), so a seqlet maps to
``[regions.start[n] + crop + start, regions.start[n] + crop + end)``. modisco's convention
for ``is_revcomp`` seqlets is that the stored sequence is the reverse complement of the
forward window slice; those get strand '-' (flipped again for '-' regions). The genome
sequence at a BED interval, reverse complemented on '-', is the seqlet's sequence
(tests/test_modisco.py checks it against a FASTA). Note modisco-lite's own
``modisco seqlet-bed`` writes ``start + 1`` as the BED start: an off-by-one we avoid.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from wtko_captum.api import InputError
from wtko_captum.api import exporter, motif_finder

log = logging.getLogger("wtko_captum")

GROUPS = ("pos_patterns", "neg_patterns")
SEQLET_COLUMNS = ["chrom", "start", "end", "name", "score", "strand", "pattern", "example_idx",
                  "window_start", "window_end", "is_revcomp", "region", "label", "sequence"]


@dataclass
class ModiscoResult:
    """What :func:`run_modisco` found: patterns table, seqlets table and written paths."""

    patterns: pd.DataFrame
    seqlets: pd.DataFrame
    paths: dict = field(default_factory=dict)


def crop_window(length: int, window: int | None) -> tuple[int, int]:
    """``(start, end)`` of the centred ``window`` inside ``length`` (the whole length when None)."""
    if window is None or window >= length:
        return 0, length
    if window < 1:
        raise InputError("--window must be a positive number of bp", value=window)
    start = (length - window) // 2
    return start, start + window


def modisco_inputs(attrset, window: int | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """modisco's ``(N, L, 4)`` float32 one-hot and hypothetical scores, and the crop offset.

    Requires hypothetical attributions (every base scored): projected scores would make every
    unobserved base 0, and modisco's CWMs and seqlet similarities would then be wrong.
    """
    if not attrset.hypothetical:
        raise InputError(f"TF-MoDISco needs hypothetical attributions (deeplift_shap or ism); "
                         f"{attrset.method!r} scores only the observed base")
    s, e = crop_window(attrset.X.shape[-1], window)
    one_hot = np.ascontiguousarray(attrset.X[:, :, s:e].transpose(0, 2, 1), dtype=np.float32)
    hyp = np.ascontiguousarray(attrset.attr[:, :, s:e].transpose(0, 2, 1), dtype=np.float32)
    # modisco treats N (all-zero) columns fine: their contribution is 0
    return one_hot, hyp, s


def trim_bounds(cwm: np.ndarray, trim_threshold: float = 0.3) -> tuple[int, int]:
    """``(start, end)`` of the columns of an ``(W, 4)`` CWM from the first to the last whose
    sum |CWM| >= ``trim_threshold`` x the maximum (modisco-lite report's trimming)."""
    score = np.abs(cwm).sum(axis=1)
    keep = np.flatnonzero(score >= score.max() * trim_threshold)
    return int(keep.min()), int(keep.max()) + 1


def cwm_to_probabilities(cwm: np.ndarray) -> np.ndarray:
    """``(4, W)`` probabilities from a ``(W, 4)`` CWM: the positive part of each column,
    normalised; a column with nothing positive is uniform."""
    pos = np.clip(np.asarray(cwm, dtype=np.float64), 0, None)
    total = pos.sum(axis=1, keepdims=True)
    probs = np.where(total > 0, pos / np.where(total > 0, total, 1), 0.25)
    return probs.T


def read_patterns(h5_path, trim_threshold: float = 0.3) -> list[dict]:
    """Every pattern of a modisco-lite h5 as a dict: name, group, cwm ``(W,4)``, ppm ``(W,4)``,
    seqlets (dict of arrays: example_idx, start, end, is_revcomp, sequence ``(n, W, 4)``),
    trimmed bounds."""
    import h5py

    out = []
    with h5py.File(h5_path, "r") as f:
        for group in GROUPS:
            if group not in f:
                continue
            items = sorted(f[group].items(), key=lambda kv: int(kv[0].split("_")[-1]))
            for name, pat in items:
                cwm = np.array(pat["contrib_scores"])
                ppm = np.array(pat["sequence"])
                sq = pat["seqlets"]
                seqlets = {k: np.array(sq[k]) for k in ("example_idx", "start", "end", "is_revcomp",
                                                        "sequence", "contrib_scores")}
                s, e = trim_bounds(cwm, trim_threshold)
                out.append({"name": f"{group}.{name}", "group": group, "cwm": cwm, "ppm": ppm,
                            "seqlets": seqlets, "trim": (s, e)})
    return out


def seqlets_table(patterns: list[dict], attrset, crop: int = 0) -> pd.DataFrame:
    """One row per seqlet, in genome coordinates (see the module docstring)."""
    from wtko_captum.api import decode, window_to_genome

    rows = []
    for pat in patterns:
        sq = pat["seqlets"]
        n = len(sq["start"])
        if n == 0:
            continue
        seqs = decode(sq["sequence"].transpose(0, 2, 1))
        rows.append(pd.DataFrame({
            "pattern": pat["name"], "example_idx": sq["example_idx"].astype(np.int64),
            "start": sq["start"].astype(np.int64) + crop, "end": sq["end"].astype(np.int64) + crop,
            "is_revcomp": sq["is_revcomp"].astype(bool),
            "score": sq["contrib_scores"].sum(axis=(1, 2)).astype(np.float64),
            "sequence": seqs,
        }))
    if not rows:
        return pd.DataFrame(columns=SEQLET_COLUMNS)
    hits = pd.concat(rows, ignore_index=True)
    regions = attrset.regions
    g = window_to_genome(hits, regions)
    idx = g["example_idx"].to_numpy()
    region_minus = (regions["strand"].astype(str).to_numpy()[idx] == "-")
    if region_minus.any():
        # a '-' region's window runs from its end backwards: base i is end - 1 - i
        r_end = regions["end"].to_numpy(dtype=np.int64)[idx]
        ws, we = g["window_start"].to_numpy(), g["window_end"].to_numpy()
        g.loc[region_minus, "start"] = (r_end - we)[region_minus]
        g.loc[region_minus, "end"] = (r_end - ws)[region_minus]
    minus = g["is_revcomp"].to_numpy() ^ region_minus
    g["strand"] = np.where(minus, "-", "+")
    g["name"] = g["pattern"]
    g["region"] = regions["name"].astype(str).to_numpy()[idx]
    g["label"] = regions["label"].to_numpy()[idx]
    return g[SEQLET_COLUMNS].reset_index(drop=True)


def pattern_motifs(patterns: list[dict]) -> tuple[dict, dict]:
    """``(pfm_motifs, cwm_motifs)``: ``{name: (4, W)}`` probabilities over each pattern's
    trimmed columns (PFM of the seqlets; positive part of the CWM)."""
    pfm, cwm = {}, {}
    for pat in patterns:
        s, e = pat["trim"]
        ppm = pat["ppm"][s:e]
        pfm[pat["name"]] = (ppm / np.clip(ppm.sum(axis=1, keepdims=True), 1e-12, None)).T
        cwm[pat["name"]] = cwm_to_probabilities(pat["cwm"][s:e])
    return pfm, cwm


def patterns_table(patterns: list[dict], seqlets: pd.DataFrame, class_names, tomtom_table=None) -> pd.DataFrame:
    """One row per pattern with its size, consensus, seqlet classes and best JASPAR match."""
    from wtko_captum.motifs.tomtom import best_matches, consensus

    rows = []
    best = None
    if tomtom_table is not None and len(tomtom_table):
        best = best_matches(tomtom_table).set_index("Query_ID")
    for pat in patterns:
        s, e = pat["trim"]
        sub = seqlets[seqlets["pattern"] == pat["name"]]
        row = {"pattern": pat["name"], "metacluster": pat["group"].split("_")[0],
               "n_seqlets": len(pat["seqlets"]["start"]), "length": pat["ppm"].shape[0],
               "trim_start": s, "trim_end": e, "consensus": consensus(pat["ppm"][s:e].T)}
        for i, cname in enumerate(class_names):
            row[f"seqlets_in_{cname}"] = int((sub["label"] == i).sum())
        if best is not None and pat["name"] in best.index:
            b = best.loc[pat["name"]]
            row.update({"jaspar_id": b["Target_ID"], "jaspar_name": b["Target_name"],
                        "jaspar_q": b["q-value"]})
        else:
            row.update({"jaspar_id": "", "jaspar_name": "", "jaspar_q": np.nan})
        rows.append(row)
    return pd.DataFrame(rows)


@motif_finder(input="attributions", motifs="patterns.pfm.meme",
              description="TF-MoDISco-lite patterns and seqlets (genome coordinates) from hypothetical attributions")
def run_modisco(attrset, out, *, max_seqlets: int = 2000, window: int | None = None,
                sliding_window_size: int = 20, flank_size: int = 5, trim_to_window_size: int = 30,
                initial_flank_to_add: int = 10, final_flank_to_add: int = 0,
                target_seqlet_fdr: float = 0.05, n_leiden_runs: int = 2,
                min_metacluster_size: int = 100, final_min_cluster_size: int = 20,
                trim_threshold: float = 0.3, motif_db=None, report: bool = True,
                verbose: bool = False) -> ModiscoResult:
    """TF-MoDISco-lite on an AttributionSet's hypothetical attributions; writes ``out/``.

    Parameters
    ----------
    attrset : AttributionSet or path
        Hypothetical attributions (deeplift_shap or ism), X and attr ``(N, 4, L)``.
    out : path
        Output directory (replaced atomically; files listed in the module docstring).
    max_seqlets : int
        Seqlets per metacluster (modisco's ``max_seqlets_per_metacluster``; ``-n``).
    window : int, optional
        Only the centred ``window`` bp of each sequence (modisco's ``-w``); default all.
    sliding_window_size, flank_size, trim_to_window_size, initial_flank_to_add,
    final_flank_to_add, target_seqlet_fdr, n_leiden_runs, min_metacluster_size,
    final_min_cluster_size :
        modisco-lite parameters; defaults are those of its ``modisco motifs`` command
        (``min_metacluster_size`` and ``final_min_cluster_size`` as in ``TFMoDISco``).
    trim_threshold : float
        Trimming of patterns for the MEME files and Tomtom (modisco report's 0.3).
    motif_db : path, optional
        MEME database for the report and Tomtom (default: bundled JASPAR 2020).

    Returns
    -------
    ModiscoResult
    """
    import modiscolite

    from wtko_captum.api import atomic_dir
    from wtko_captum.api import export
    from wtko_captum.api import DEFAULT_MOTIF_FILE
    from wtko_captum.api import read
    from wtko_captum.motifs.tomtom import tomtom, write_tomtom

    attrset = read(attrset, kind="attributions")
    one_hot, hyp, crop = modisco_inputs(attrset, window)
    db = Path(motif_db) if motif_db is not None else DEFAULT_MOTIF_FILE
    log.info("TF-MoDISco-lite on %d sequences x %d bp (%s)", len(one_hot), one_hot.shape[1], attrset.method)
    _stop_tqdm_monitors()
    pos, neg = modiscolite.tfmodisco.TFMoDISco(
        one_hot=one_hot, hypothetical_contribs=hyp, max_seqlets_per_metacluster=max_seqlets,
        sliding_window_size=sliding_window_size, flank_size=flank_size,
        trim_to_window_size=trim_to_window_size, initial_flank_to_add=initial_flank_to_add,
        final_flank_to_add=final_flank_to_add, target_seqlet_fdr=target_seqlet_fdr,
        n_leiden_runs=n_leiden_runs, min_metacluster_size=min_metacluster_size,
        final_min_cluster_size=final_min_cluster_size, verbose=verbose)
    out = Path(out)
    paths = {}
    with atomic_dir(out) as tmp:
        h5 = tmp / "modisco_results.h5"
        modiscolite.io.save_hdf5(str(h5), pos, neg, one_hot.shape[1])
        patterns = read_patterns(h5, trim_threshold)
        seqlets = seqlets_table(patterns, attrset, crop)
        tt = None
        if patterns:
            pfm, cwm = pattern_motifs(patterns)
            nsites = {p["name"]: len(p["seqlets"]["start"]) for p in patterns}
            export("meme", pfm, tmp / "patterns.pfm.meme", nsites=nsites)
            export("meme", cwm, tmp / "patterns.cwm.meme", nsites=nsites)
            tt = tomtom(pfm, db, thresh=0.5)
            write_tomtom(tmp / "tomtom.tsv", tt)
            if report:
                _report(h5, tmp / "report", db, trim_threshold)
        table = patterns_table(patterns, seqlets, attrset.class_names or ["0", "1"], tt)
        table.to_csv(tmp / "patterns.tsv", sep="\t", index=False, float_format="%.6g")
        seqlets.to_csv(tmp / "seqlets.tsv", sep="\t", index=False, float_format="%.6g")
        # a seqlet inside the N padding of a window past a chromosome start has no genome
        # interval: it stays in seqlets.tsv but cannot be a BED line
        in_genome = seqlets[seqlets["start"] >= 0]
        if len(in_genome) < len(seqlets):
            log.warning("%d seqlets lie in N padding before a chromosome start: left out of seqlets.bed",
                        len(seqlets) - len(in_genome))
        export("bed", in_genome.assign(score=in_genome["score"].round(6)), tmp / "seqlets.bed",
               name_col="name", score_col="score", extra_cols=["example_idx", "sequence"])
    for name in ("modisco_results.h5", "patterns.pfm.meme", "patterns.cwm.meme", "patterns.tsv",
                 "seqlets.bed", "seqlets.tsv", "tomtom.tsv", "report/motifs.html"):
        if (out / name).exists():
            paths[name] = out / name
    log.info("%d patterns (%d seqlets) -> %s", len(patterns), len(seqlets), out)
    return ModiscoResult(table, seqlets, paths)


def _stop_tqdm_monitors() -> None:
    """Stop tqdm's monitor threads (the next bar restarts one).

    tqdm starts a monitor thread with its first bar, even a disabled one. modisco-lite compiles
    its numba kernels in forked children into numba's disk cache only from a single-threaded
    process; with the monitor alive it compiles them in-process and uncached, on every run:
    measured 30-46 s instead of ~6 s for ``run_modisco`` after ``attribute_prepared`` in one
    process (2 cores).
    """
    import threading

    try:
        from tqdm._monitor import TMonitor
    except ImportError:  # pragma: no cover - tqdm internals moved
        return
    for t in threading.enumerate():
        if isinstance(t, TMonitor):
            t.exit()


def _report(h5: Path, out: Path, db: Path, trim_threshold: float) -> None:
    """modisco-lite's HTML report with Tomtom through memelite (``ttl=True``), so the MEME
    suite's ``tomtom`` binary is not needed."""
    import matplotlib

    from modiscolite import report

    backend = matplotlib.get_backend()
    matplotlib.use("Agg")  # the report plots through pyplot; never open a window
    try:
        report.report_motifs(h5, str(out), img_path_suffix="./", meme_motif_db=str(db),
                             is_writing_tomtom_matrix=False, top_n_matches=3,
                             trim_threshold=trim_threshold, ttl=True)
    finally:
        matplotlib.use(backend)


@exporter(accepts="attributions", description="TF-MoDISco-lite results (h5, HTML report, pattern MEME files, seqlet BED)")
def export_modisco(attributions, out, **options) -> list[Path]:
    """Run :func:`run_modisco` on ``attributions`` (one set) into directory ``out``; returns the
    paths written."""
    if isinstance(attributions, (list, tuple)):
        if len(attributions) != 1:
            raise InputError("modisco takes one attribution set")
        attributions = attributions[0]
    return list(run_modisco(attributions, out, **options).paths.values())
