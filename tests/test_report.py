"""The HTML report: one offline file; its track data equal the run's attributions at their
coordinates; selection, size limit and unknown outputs; and (Chromium) igv.js draws it with
the network off."""
from __future__ import annotations

import base64
import gzip
import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wtko_captum.cli import main
from wtko_captum.core.attribution_set import AttributionSet
from wtko_captum.core.errors import InputError
from wtko_captum.report import _igv, _regions
from wtko_captum.report.html import report

CLASSES = ["WT", "KO"]


# ---- helpers ------------------------------------------------------------------------------------
def igv_config(path) -> dict:
    """The igv.js config a report carries (its inline JSON)."""
    text = Path(path).read_text(encoding="utf-8")
    m = re.search(r'<script id="igv-config" type="application/json">(.*?)</script>', text, re.S)
    return json.loads(m.group(1))


def decode_uri(uri: str) -> bytes:
    head, data = uri.split(",", 1)
    raw = base64.b64decode(data)
    return gzip.decompress(raw) if "gzip" in head else raw


def fasta_records(text: str) -> dict[tuple[str, int], str]:
    """``{(chrom, 0-based start): sequence}`` of igv.js sliced FASTA records (``>chr:FROM-TO @len=N``)."""
    out, key = {}, None
    for line in text.splitlines():
        if line.startswith(">"):
            chrom, span = line[1:].split()[0].split(":")
            key = (chrom, int(span.split("-")[0]) - 1)
            out[key] = ""
        else:
            out[key] += line
    return out


def bigwig_values(data: bytes, tmp_path, chrom, start, end) -> tuple[np.ndarray, dict]:
    import pyBigWig

    path = tmp_path / f"t{len(list(tmp_path.glob('*.bw')))}.bw"
    path.write_bytes(data)
    bw = pyBigWig.open(str(path))
    try:
        return np.array(bw.values(chrom, start, end), dtype=float), bw.chroms()
    finally:
        bw.close()


def synthetic_set(method="saliency", seed=0) -> tuple[AttributionSet, str]:
    """Four windows cut from one seeded genome: two overlapping on chr1, one on chr2 running past
    the chromosome start (N padding), one on chr2 with an N run; labels/predictions stored."""
    rng = np.random.default_rng(seed)
    genome = "".join(rng.choice(list("ACGT"), 600))
    L = 40
    starts = [("chr1", 100), ("chr1", 120), ("chr2", -5), ("chr2", 300)]
    seqs = []
    for chrom, s in starts:
        seq = "".join(genome[i] if i >= 0 else "N" for i in range(s, s + L))
        if (chrom, s) == ("chr2", 300):
            seq = seq[:10] + "NNNN" + seq[14:]
        seqs.append(seq)
    from wtko_captum.core.sequence import one_hot

    X = one_hot(seqs)
    attr = rng.normal(size=X.shape).astype(np.float32)
    regions = pd.DataFrame({"chrom": [c for c, _ in starts], "start": [s for _, s in starts],
                            "end": [s + L for _, s in starts], "name": [f"w{i}" for i in range(4)],
                            "label": [0, 1, 0, 1], "prediction": [0, 1, 1, 1], "class": ["WT", "KO", "WT", "KO"],
                            "pred_class": ["WT", "KO", "KO", "KO"], "p_WT": [0.9, 0.2, 0.4, 0.1],
                            "p_KO": [0.1, 0.8, 0.6, 0.9]})
    return AttributionSet(X, attr, regions, method, True, class_names=CLASSES), genome


# ---- track data: values at their coordinates -------------------------------------------------
def test_reference_holds_the_windows_sequence_at_genome_coordinates():
    aset, genome = synthetic_set()
    table = _regions.region_table({"saliency": aset})
    sizes = {"chr1": 600, "chr2": 600}
    spans = _igv.merged_spans(table, sizes)
    # the overlapping chr1 windows merge; chr2's first window is clipped at the chromosome start
    assert [(c, s, e, m) for c, s, e, m in spans] == [("chr1", 100, 160, [0, 1]), ("chr2", 0, 35, [2]),
                                                      ("chr2", 300, 340, [3])]
    fasta = _igv.reference_fasta(aset, spans, sizes)
    assert ">chr1:101-160 @len=600" in fasta  # 1-based FROM, the chromosome's true length
    rec = fasta_records(fasta)
    assert rec[("chr1", 100)] == genome[100:160]
    assert rec[("chr2", 0)] == genome[0:35]
    assert rec[("chr2", 300)] == genome[300:310] + "NNNN" + genome[314:340]


def test_bigwig_subset_equals_projected_attributions_with_gaps(tmp_path):
    aset, _ = synthetic_set()
    sizes = {"chr1": 600, "chr2": 600}
    proj = aset.per_position("projected")
    data = _igv.subset_bigwig(aset, [1, 2, 3], sizes)   # window 0 left out
    vals, chroms = bigwig_values(data, tmp_path, "chr1", 100, 160)
    assert chroms == sizes
    np.testing.assert_allclose(vals[20:], proj[1], rtol=1e-6)       # window 1 = chr1:120-160
    assert np.isnan(vals[:20]).all()                                 # window 0 was not chosen: no data
    vals, _ = bigwig_values(data, tmp_path, "chr2", 0, 35)
    np.testing.assert_allclose(vals, proj[2][5:], rtol=1e-6)        # padding before chr2:0 is dropped
    vals, _ = bigwig_values(data, tmp_path, "chr2", 300, 340)
    assert np.isnan(vals[10:14]).all()                               # N is a gap, never 0
    np.testing.assert_allclose(np.delete(vals, range(10, 14)), np.delete(proj[3], range(10, 14)), rtol=1e-6)


def test_a_run_of_attributions_and_a_scan_only(tmp_path):
    """Nothing but attributions and another tool's genome-wide bigWig: the report shows the
    tracks, cuts the bigWig to the chosen windows, and says what is missing."""
    from wtko_captum.core.export import export

    aset, _ = synthetic_set()
    run = tmp_path / "run"
    aset.save(run / "attr" / "saliency")
    sizes = {"chr1": 600, "chr2": 600}
    export("bigwig", aset, tmp_path / "full", chrom_sizes=sizes, tracks=["projected"], prefix="s")
    (run / "scan").mkdir()
    shutil.copy(tmp_path / "full" / "s.projected.bw", run / "scan" / "s.projected.bw")
    out = report(run, tmp_path / "r.html", regions=str(_bed(tmp_path, "chr1\t125\t130\n")))
    cfg = igv_config(out)
    tracks = {t["name"]: t for t in cfg["tracks"]}
    assert tracks["scan: s.projected"]["graphType"] == "dynseq"
    data = decode_uri(tracks["scan: s.projected"]["url"])
    proj = aset.per_position("projected")
    vals, chroms = bigwig_values(data, tmp_path, "chr1", 0, 600)     # windows 0 and 1, averaged where they overlap
    np.testing.assert_allclose(vals[100:120], proj[0][:20], rtol=1e-6)
    np.testing.assert_allclose(vals[120:140], (proj[0][20:] + proj[1][:20]) / 2, rtol=1e-5)
    np.testing.assert_allclose(vals[140:160], proj[1][20:], rtol=1e-6)
    assert np.isnan(vals[:100]).all() and np.isnan(vals[160:]).all()
    assert chroms == {"chr1": 600}      # the chosen windows' chromosome, its true size; chr2 cut away
    text = out.read_text(encoding="utf-8")
    assert "no evaluation" in text and "no motif sets" in text


def test_sequences_without_coordinates_are_their_own_chromosomes(tmp_path):
    """Windows of sequences without genome coordinates (``coordinates == "sequence"``): a bigWig
    cannot hold them, so their tracks are bedGraphs; each sequence is a reference record."""
    aset, _ = synthetic_set()
    reg = aset.regions.copy()
    reg["chrom"] = ["seqA", "seqB", "seqC", "seqD"]
    reg["start"], reg["end"] = [0, -3, 0, 0], [40, 37, 40, 40]    # seqB is 37 bp, centred with N padding
    reg["peak_start"], reg["peak_end"] = 0, [40, 37, 40, 40]
    reg["coordinates"] = "sequence"
    X = aset.X.copy()
    X[1, :, :3] = 0                                                 # the padding is N
    seq_set = AttributionSet(X, aset.attr, reg, "saliency", True, class_names=CLASSES)
    seq_set.save(tmp_path / "run" / "attr" / "saliency")
    out = report(tmp_path / "run", tmp_path / "r.html", regions="all")
    cfg = igv_config(out)
    track = next(t for t in cfg["tracks"] if t["name"] == "saliency (projected)")
    assert track["format"] == "bedgraph" and track["graphType"] == "dynseq"
    lines = [l.split("\t") for l in decode_uri(track["url"]).decode().splitlines() if not l.startswith("track")]
    values = {(c, b): float(v) for c, s, e, v in lines for b in range(int(s), int(e))}
    proj = seq_set.per_position("projected")
    for base in range(37):                                          # seqB: window base i = sequence base i - 3
        assert values[("seqB", base)] == pytest.approx(proj[1][base + 3], rel=1e-6)
    assert ("seqB", -1) not in values and ("seqB", 37) not in values
    fasta = decode_uri(cfg["reference"]["fastaURL"]).decode()
    assert ">seqB:1-37 @len=37" in fasta
    assert fasta_records(fasta)[("seqB", 0)] == "".join(
        "ACGT"[i] for i in X[1].argmax(0)[3:])


def test_filters_of_several_runs_with_their_recurring_groups(tmp_path):
    """A filters/ folder alone: the filter motifs with logos, and the groups recurring across
    seeds with their JASPAR matches as a result table."""
    from wtko_captum.core.export import export
    from wtko_captum.core.motif_db import load_motifs

    jaspar = load_motifs()
    keys = [k for k in jaspar if k.split()[0] in ("MA0039.4", "MA0099.3")]
    folder = tmp_path / "run" / "filters"
    folder.mkdir(parents=True)
    export("meme", {f"f{i} run0": jaspar[k] for i, k in enumerate(keys)}, folder / "filters.meme")
    pd.DataFrame({"run": [0, 0], "filter": [0, 1], "motif_id": ["f0", "f1"], "n_sites": [31, 17]}).to_csv(
        folder / "filters.tsv", sep="\t", index=False)
    pd.DataFrame({"group": [1], "n_runs": [3], "n_filters": [3], "median_q": [0.0012], "members": ["f0,f7,f9"],
                  "representative": ["f0"], "consensus": ["GGGTGTGG"], "jaspar_matches": ["KLF4 (MA0039.4)"]}).to_csv(
        folder / "recurring.tsv", sep="\t", index=False)
    out = report(tmp_path / "run", tmp_path / "r.html", verbose=False)
    text = out.read_text(encoding="utf-8")
    plain = html.unescape(re.sub(r"<[^>]+>", " ", text.replace(_igv.igv_script(), "")))
    assert "First-layer filters across runs" in plain and "recurring.tsv" in plain
    assert "KLF4 (MA0039.4)" in plain and "f0,f7,f9" in plain
    assert 'id="motifs-filters"' in text and text.count("<svg") >= 2       # the two filters' logos
    assert "no attributions" in plain                                        # and what is missing
    # a single run: the files are there but empty; no section, no warning
    (folder / "recurring.tsv").write_text("\n")                            # as `wtko filters` writes them
    (folder / "matches.tsv").write_text("")
    plain = report(tmp_path / "run", tmp_path / "r.html", verbose=False).read_text(encoding="utf-8")
    assert "First-layer filters across runs" not in plain and 'id="motifs-filters"' in plain


def _bed(tmp_path, text) -> Path:
    path = tmp_path / "sel.bed"
    path.write_text(text)
    return path


def test_logo_letters_are_information_content_in_bits_tallest_on_top():
    from wtko_captum.report._figures import logo

    probs = np.array([[0.7, 0.25], [0.1, 0.25], [0.1, 0.25], [0.1, 0.25]])
    svg = logo(probs)
    uses = re.findall(r'glyph-([ACGT])" fill="[^"]+" transform="translate\(([\d.]+) ([\d.]+)\) scale\(0.9 ([\d.]+)\)', svg)
    ic = 2 + (probs[:, 0] * np.log2(probs[:, 0])).sum()
    col0 = [(b, float(y), float(h)) for b, x, y, h in uses if float(x) < 1]
    assert {b: h for b, _, h in col0} == pytest.approx({b: p * ic for b, p in zip("ACGT", probs[:, 0])}, abs=2e-3)
    tallest = max(col0, key=lambda t: t[2])
    assert tallest[0] == "A" and tallest[1] == pytest.approx(2 - ic, abs=2e-3)   # on top of the stack
    assert not [u for u in uses if float(u[1]) > 1]                                # uniform column: 0 bits


# ---- selection -----------------------------------------------------------------------------------
def _table(n=30, seed=1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p_ko = rng.uniform(size=n)
    true = np.where(rng.uniform(size=n) < 0.5, "WT", "KO")
    pred = np.where(p_ko > 0.5, "KO", "WT")
    return pd.DataFrame({"row": np.arange(n), "chrom": "chr1", "start": np.arange(n) * 1000,
                         "end": np.arange(n) * 1000 + 200, "name": [f"w{i}" for i in range(n)],
                         "locus": [f"chr1:{i * 1000 + 1}-{i * 1000 + 200}" for i in range(n)],
                         "true": true, "predicted": pred, "p_WT": 1 - p_ko, "p_KO": p_ko,
                         "p_predicted": np.maximum(p_ko, 1 - p_ko), "correct": true == pred,
                         "score_m": rng.uniform(size=n)})


def test_topN_is_the_union_of_attribution_prediction_and_mistakes():
    t = _table()
    chosen = _regions.select(t, "top3", method="m")
    groups = dict(zip(chosen["name"], chosen["groups"]))
    expect = {
        "top attribution": set(t.nlargest(3, "score_m")["name"]),
        "top predicted KO": set(t[t.predicted == "KO"].nlargest(3, "p_KO")["name"]),
        "top predicted WT": set(t[t.predicted == "WT"].nlargest(3, "p_WT")["name"]),
        "misclassified": set(t[~t.correct].nlargest(3, "p_predicted")["name"]),
    }
    for label, names in expect.items():
        assert {n for n, g in groups.items() if label in g} == names, label
    assert set(groups) == set().union(*expect.values())
    assert list(chosen["score_m"]) == sorted(chosen["score_m"], reverse=True)   # ranked by attribution


def test_regions_from_a_bed_file_and_bad_specs(tmp_path):
    t = _table()
    bed = tmp_path / "loci.bed"
    bed.write_text("chr1\t1150\t1160\tx\nchr1\t5199\t5300\ty\nchr2\t0\t100\tz\n")
    chosen = _regions.select(t, str(bed), method="m")
    assert sorted(chosen["name"]) == ["w1", "w5"]      # overlap, half-open: 5199 < 5200 hits w5 only
    (tmp_path / "none.bed").write_text("chr9\t0\t10\n")
    with pytest.raises(InputError, match="overlaps"):
        _regions.select(t, str(tmp_path / "none.bed"), method="m")
    with pytest.raises(InputError, match="topN"):
        _regions.select(t, "best", method="m")


def test_topN_adds_the_windows_of_the_strongest_variants_inside_attributed_windows(tmp_path):
    t = _table()                                   # windows chr1:[1000 i, 1000 i + 200)
    scores = tmp_path / "scores.tsv"
    # VCF POS is 1-based: POS 1201 is base 1200, just past w1 (half-open); the deletion at
    # POS 5150 covers 5149-5151 in w5; chr2 has no window; the weakest variant is in w9
    pd.DataFrame({"chrom": ["chr1", "chr1", "chr2", "chr1", "chr1"], "pos": [1201, 5150, 10, 3001, 9100],
                  "id": ["past_w1", "del_w5", "chr2", "in_w3", "."], "ref": ["A", "ACG", "C", "T", "G"],
                  "abs_delta": [0.9, 0.7, 0.95, 0.4, 0.1]}).to_csv(scores, sep="\t", index=False)
    var = _regions.variant_intervals(scores)
    assert list(var["name"]) == ["chr2", "past_w1", "del_w5", "in_w3", "chr1:9100"]   # largest |delta| first
    assert list(var["start"]) == [9, 1200, 5149, 3000, 9099] and list(var["end"] - var["start"]) == [1, 1, 3, 1, 1]
    assert list(_regions._inside_a_window(t, var)) == [False, False, True, True, True]

    def variant_windows(spec):
        chosen = _regions.select(t, spec, method="m", variants=var)
        return sorted(n for n, g in zip(chosen["name"], chosen["groups"]) if "top variant" in g)

    assert variant_windows("top2") == ["w3", "w5"]             # the two strongest that lie in a window
    assert variant_windows("top9") == ["w3", "w5", "w9"]
    assert variant_windows("all") == []                         # only topN adds groups of its own


# ---- a small run through the pipeline (wtko run writes the report) -------------------------------
@pytest.fixture(scope="module")
def small_run(two_motif_run, tmp_path_factory):
    """The session's trained two-motif model, then evaluate, attribute (saliency, DeepLIFT-SHAP),
    bigWigs, k-mer clusters and Tomtom through ``wtko run``, which writes report.html last; plus an
    unknown tool's folder (motifs, a table, features)."""
    import torch

    root = tmp_path_factory.mktemp("report_run")
    out = root / "run"
    out.mkdir()
    shutil.copytree(two_motif_run["data"], out / "data")
    shutil.copytree(Path(two_motif_run["model"]).parent, out / "model")
    cfg = root / "run.toml"
    cfg.write_text(f"""
[evaluate]
[attribute]
methods = ["saliency", "deeplift_shap"]
split = "test"
limit = 80
options = {{ n_shuffles = 3 }}
[export]
chrom_sizes = "{two_motif_run['chrom_sizes']}"
tracks = ["projected"]
[kmers]
method = "saliency"
n_clusters = 3
[tomtom]
[report]
regions = "top5"
""")
    # an output no spec names: its motifs, table and BED features must still be shown
    from wtko_captum.core.export import export
    from wtko_captum.core.motif_db import load_motifs

    jaspar = load_motifs()
    tool = out / "mytool"
    tool.mkdir()
    export("meme", {k: v for k, v in jaspar.items() if k.split()[0] in ("MA0039.4", "MA0099.3")}, tool / "found.meme")
    pd.DataFrame({"motif": ["MA0039.4", "MA0099.3"], "effect": [1.25, -0.5]}).to_csv(tool / "effects.tsv", sep="\t",
                                                                                  index=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rc = main(["run", str(cfg), "-o", str(out), "-q", "--force", "--stages",
                   "evaluate,attribute,export,kmers,tomtom,report"])
    finally:
        torch.set_num_threads(threads)
    assert rc == 0
    return out


def _attr(run, method="saliency") -> AttributionSet:
    return AttributionSet.load(run / "attr" / method)


@pytest.fixture(scope="module")
def parsed(small_run):
    """The run's report parsed by html5lib in strict mode (raises on any HTML parse error)."""
    import html5lib

    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    return parser.parse((small_run / "report.html").read_bytes())


@pytest.mark.slow
def test_report_is_one_offline_file(small_run, parsed):
    path = small_run / "report.html"
    text = path.read_text(encoding="utf-8")
    assert len(text.encode()) < 15e6
    igv_js = _igv.igv_script()
    assert text.count(igv_js) == 1                                          # igv.js inlined once
    ours = text.replace(igv_js, "")
    # no URL of any kind outside the vendored library: no resource, link, font or namespace URI
    assert "http://" not in ours and "https://" not in ours and "//cdn" not in ours
    # every element's resource attribute and every style is a data: URI or a fragment
    for el in parsed.iter():
        for name, value in el.attrib.items():
            local = name.split("}")[-1] if isinstance(name, str) else name[1]
            if local in ("src", "href", "action", "poster", "srcset", "data", "background"):
                assert value.startswith(("data:", "#")), (el.tag, local, value[:80])
        css = (el.text or "") if el.tag == "style" else el.get("style", "")
        assert not re.search(r"@import|@font-face|url\(\s*['\"]?(?!data:|#)", css), css[:200]
    csp = html.unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', text).group(1))
    assert "default-src 'none'" in csp and "connect-src data: blob:" in csp


@pytest.mark.slow
def test_report_parses_as_html(parsed):
    ids = {el.get("id") for el in parsed.iter() if el.get("id")}
    assert {"summary", "tracks", "motifs", "results", "igv-view", "table-picker", "motifs-kmers"} <= ids
    assert parsed.find(".//script[@id='igv-config']") is not None


@pytest.mark.slow
def test_report_tracks_are_the_runs_attributions(small_run, tmp_path):
    cfg = igv_config(small_run / "report.html")
    assert cfg["loadDefaultGenomes"] is False
    sal, dls = _attr(small_run, "saliency"), _attr(small_run, "deeplift_shap")
    tracks = {t["name"]: t for t in cfg["tracks"]}
    assert {"saliency (projected)", "deeplift_shap (projected)"} <= set(tracks)
    assert all(tracks[f"{m} (projected)"]["graphType"] == "dynseq" for m in ("saliency", "deeplift_shap"))
    # windows chosen for top5: ranked by DeepLIFT-SHAP; check every one, sequence and values
    table = _regions.region_table({"deeplift_shap": dls, "saliency": sal})
    chosen = _regions.select(table, "top5", method="deeplift_shap")
    ref = fasta_records(decode_uri(cfg["reference"]["fastaURL"]).decode())
    bw = decode_uri(tracks["saliency (projected)"]["url"])
    from wtko_captum.core.sequence import decode

    seqs = decode(sal.X)
    proj = sal.per_position("projected")
    for r in chosen.itertuples():
        span = next(s for (c, s), seq in ref.items() if c == r.chrom and s <= r.start < s + len(seq))
        seq = ref[(r.chrom, span)]
        assert seq[r.start - span:r.end - span] == seqs[r.row]
        vals, _ = bigwig_values(bw, tmp_path, r.chrom, r.start, r.end)
        real = sal.X[r.row].sum(0) > 0
        np.testing.assert_allclose(vals[real], proj[r.row][real], rtol=1e-5, atol=1e-7)
    # nothing beyond the chosen windows is carried
    assert sum(len(s) for s in ref.values()) <= (chosen["end"] - chosen["start"]).sum()
    assert cfg["locus"] == chosen.iloc[0]["locus"]


@pytest.mark.slow
def test_report_tables_hold_the_runs_numbers(small_run):
    text = (small_run / "report.html").read_text(encoding="utf-8")
    plain = html.unescape(re.sub(r"<[^>]+>", " ", text.replace(_igv.igv_script(), "")))
    metrics = json.loads((small_run / "eval/metrics.json").read_text())
    assert f"{metrics['accuracy']:.3g}" in plain and f"{metrics['auroc']:.3g}" in plain
    # every k-mer cluster is listed with its best Tomtom match
    tt = pd.read_csv(small_run / "motifs/tomtom.tsv", sep="\t").sort_values("q-value", kind="stable")
    for cid, hits in tt.groupby("Query_ID"):
        best = hits.iloc[0]
        assert f"{best['Target_name']} ({best['Target_ID']}, q={best['q-value']:.1g})" in plain, cid
    # the unknown tool's outputs: motif set, table values, and its title
    assert "Motifs: mytool" in plain and "MA0039.4" in plain and "Results: mytool" in plain
    assert re.search(r"effects\.tsv.*1\.25.*-0\.5", plain, re.S)
    # the region picker: one row per chosen window, each with its locus
    cfg = igv_config(small_run / "report.html")
    rows = re.findall(r'<tr data-locus="([^"]+)"', text)
    assert len(rows) == len(set(rows)) > 0 and cfg["locus"] == rows[0]


@pytest.mark.slow
def test_report_refuses_a_selection_over_the_size_limit_and_its_advice_fits(small_run, tmp_path):
    out = tmp_path / "big.html"
    with pytest.raises(InputError, match="without its tracks is already"):
        report(small_run, out, regions="top1", max_mb=1.0)      # igv.js alone takes ~1.6 MB
    alone = tmp_path / "alone"
    alone.mkdir()
    assert main(["report", str(small_run), "-o", str(alone / "r.html"), "--regions", "top1", "-q"]) == 0
    assert [p.name for p in alone.iterdir()] == ["r.html"]                # one file, nothing beside it
    limit = ((alone / "r.html").stat().st_size + 2000) / 1e6
    with pytest.raises(InputError, match=r"about (\d+) windows fit: choose fewer \(e\.g\. --regions (top\d+)\)") as exc:
        report(small_run, out, regions="all", max_mb=limit)
    assert not out.exists()
    fit, advice = re.search(r"about (\d+) windows fit.*--regions (top\d+)", str(exc.value)).groups()
    assert 0 < int(fit) < len(_attr(small_run))
    assert report(small_run, out, regions=advice, max_mb=limit).stat().st_size <= limit * 1e6   # the advice works
    assert main(["report", str(small_run), "-o", str(tmp_path / "x.html"), "--regions", "nonsense"]) == 2
    assert main(["report", str(tmp_path / "missing"), "-o", str(tmp_path / "x.html")]) == 2
    assert not (tmp_path / "x.html").exists()


@pytest.mark.slow
def test_report_of_a_run_with_variants(small_run, two_motif_run, tmp_path):
    """``wtko variants`` (with attributions and tracks) in the run: the windows of the strongest
    variants join topN, its ref/alt/delta bigWigs are cut to the chosen windows, and its tables
    and figures (ISM included) are in the results."""
    import pyBigWig
    import torch

    from wtko_captum.core.sequence import decode
    from wtko_captum.variants.variants import variants

    run = tmp_path / "run"
    for sub in ("data", "model", "eval", "attr"):
        shutil.copytree(small_run / sub, run / sub, ignore=shutil.ignore_patterns("*.h5"))
    sal = _attr(run)
    seqs, reg = decode(sal.X), sal.regions
    rows = []
    for i in (0, len(reg) // 2):                              # one SNV at the centre of two windows
        chrom, start = str(reg["chrom"].iat[i]), int(reg["start"].iat[i])
        pos = (start + int(reg["end"].iat[i])) // 2
        ref = seqs[i][pos - start]
        rows.append(f"{chrom}\t{pos + 1}\tv{i}\t{ref}\t{'ACGT'[('ACGT'.index(ref) + 2) % 4]}\t.\tPASS\t.")
    vcf = tmp_path / "calls.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "\n".join(rows) + "\n")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        variants(two_motif_run["model"], vcf, two_motif_run["genome"], run / "variants", methods=("saliency",),
                 tracks=True, top=2, ism_window=6, device="cpu")
    finally:
        torch.set_num_threads(threads)
    out = report(run, tmp_path / "r.html", regions="top1", verbose=False)
    text = out.read_text(encoding="utf-8")
    # topN: the windows holding the variant of largest |delta|
    scores = pd.read_csv(run / "variants/scores.tsv", sep="\t").sort_values("abs_delta", ascending=False)
    best = scores.iloc[0]
    picked = [locus for locus, groups in re.findall(r'<tr data-locus="([^"]+)" data-groups="([^"]+)"', text)
              if "top variant" in groups.split("|")]
    holding = [f"{c}:{s + 1}-{e}" for c, s, e in zip(reg["chrom"], reg["start"], reg["end"])
               if c == best["chrom"] and s < best["pos"] <= e]
    assert sorted(picked) == sorted(holding) and picked
    # the variants' attribution bigWigs: the source's values inside every chosen window
    cfg = igv_config(out)
    tracks = {t["name"]: t for t in cfg["tracks"]}
    for kind in ("ref", "alt", "delta"):
        track = tracks[f"variants: saliency.{kind}.projected"]
        assert track["graphType"] == "dynseq"
        data = decode_uri(track["url"])
        src = pyBigWig.open(str(run / f"variants/tracks/saliency.{kind}.projected.bw"))
        try:
            for locus in picked:
                chrom, span = locus.split(":")
                s, e = int(span.split("-")[0]) - 1, int(span.split("-")[1])
                got, _ = bigwig_values(data, tmp_path, chrom, s, e)
                want = np.array(src.values(chrom, s, e), dtype=float)
                assert np.isfinite(want).sum() > 100
                np.testing.assert_allclose(got, want, rtol=1e-6, equal_nan=True)
        finally:
            src.close()
    # every scored variant inside the chosen windows is a feature, named by id and signed delta
    # (variants/tracks/variants.bed holds only the --top ones)
    bed = decode_uri(tracks["variants (Δ = P(alt) − P(ref))"]["url"]).decode()
    got = {tuple(line.split("\t")[:4]) for line in bed.splitlines()}
    loci = [(c, int(a) - 1, int(b)) for c, a, b in (re.match(r"(.+):(\d+)-(\d+)$", x).groups()
                                                    for x in re.findall(r'<tr data-locus="([^"]+)"', text))]
    want = {(r.chrom, str(r.pos - 1), str(r.pos), f"{r.id} Δ={r.delta:+.3g}") for r in scores.itertuples()
            if any(c == r.chrom and a < r.pos <= b for c, a, b in loci)}
    assert got == want and len(want) >= 1
    # the results: scores, ISM table and heatmaps, named by their path in the variants folder
    plain = html.unescape(re.sub(r"<[^>]+>", " ", text.replace(_igv.igv_script(), "")))
    assert "Variant effects" in plain and "ism/ism.tsv" in plain
    for png in sorted((run / "variants/ism").glob("*.png")):
        assert f"<figcaption>variants/ism/{png.name}</figcaption>" in text
    from wtko_captum.report._tables import fmt

    assert fmt(float(best["abs_delta"])).text in plain


def test_report_table_of_a_run_config_is_validated(tmp_path):
    from wtko_captum.pipeline.config import load_config

    cfg = tmp_path / "c.toml"
    cfg.write_text("[report]\nregions = \"top5\"\nregion = \"top5\"\n")
    with pytest.raises(InputError, match=r"\[report\] has no option 'region'"):
        load_config(cfg)
    cfg.write_text("[report]\nregions = \"top5\"\nmax_mb = 20\n")
    assert load_config(cfg)["report"] == {"regions": "top5", "max_mb": 20}


# ---- Chromium: the page works offline -------------------------------------------------------------
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
                  "--virtual-time-budget=30000", "--window-size=1280,1000"]

# test-only additions to a COPY of the report: record blocked requests from the start; once
# igv.js is ready, hide everything but the track view, then report what igv.js built inside its
# shadow root, where the first attribution track is on the page, and fire two requests that the
# page's policy must block (proof that the recording works)
PROBE_HEAD = """<script>window.__blocked=[];document.addEventListener("securitypolicyviolation",
e=>window.__blocked.push(e.blockedURI));</script>
<style>header,#summary,#motifs,#results,#picker,#picker-filters,#tracks>p,#tracks .table-wrap{display:none!important}</style>"""
PROBE_BODY = """<script>
(function poll() {
  const state = document.body.dataset.igv;
  if (state !== "ready" && state !== "error") { setTimeout(poll, 100); return; }
  setTimeout(() => {
    const roots = [], walk = n => { if (n.shadowRoot) { roots.push(n.shadowRoot); n.shadowRoot.querySelectorAll("*").forEach(walk); } };
    const host = document.getElementById("igv-view");
    walk(host); host.querySelectorAll("*").forEach(walk);
    const all = sel => roots.flatMap(r => Array.from(r.querySelectorAll(sel)));
    const labels = all(".igv-track-label").map(e => e.textContent.trim());
    const first = all(".igv-track-label").find(e => e.textContent.trim() === FIRST);
    const box = first ? first.closest(".igv-viewport").getBoundingClientRect() : null;
    const before = window.__blocked.slice();
    fetch("https://example.org/probe").catch(() => {});
    new Image().src = "http://example.org/probe.png";
    // the region picker: a click on its second row moves the view there; a header click sorts
    const picker = document.getElementById("table-picker");
    const target = picker.tBodies[0].rows[1].dataset.locus;
    picker.tBodies[0].rows[1].click();
    const ths = Array.from(picker.tHead.rows[0].cells);
    const col = ths.findIndex(th => th.textContent.startsWith("max|"));
    ths[col].click();
    const sorted = Array.from(picker.tBodies[0].rows).map(r => parseFloat(r.cells[col].dataset.sort));
    setTimeout(() => {
      const pre = document.createElement("pre");
      pre.id = "wtko-test";
      pre.textContent = JSON.stringify({state, viewports: all(".igv-viewport").length, labels,
        box: box && [box.left, box.top, box.width, box.height], blocked: before, probes: window.__blocked.slice(before.length),
        status: document.getElementById("igv-status").textContent, target, locus: igvBrowser.currentLoci(), sorted});
      document.body.appendChild(pre);
    }, 800);
  }, 1500);
})();
</script>"""


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("Chromium is not installed: Debian `apt-get install chromium` (.ci/run installs it)")


def _offline_prefix() -> list[str]:
    """``unshare -rn``: a new network namespace with no interface up, where the kernel allows it;
    the proxy and resolver flags also route every request nowhere."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0:
        return [unshare, "-rn"]
    return []


def _browse(page: Path, tmp_path: Path, *args) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile{len(list(tmp_path.glob('profile*')))}"
    cmd = [*_offline_prefix(), _chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def browsed(small_run, tmp_path_factory):
    """The report's test copy loaded twice in headless Chromium (network off): the DOM probe's
    result and a screenshot."""
    tmp = tmp_path_factory.mktemp("browser")
    text = (small_run / "report.html").read_text(encoding="utf-8")
    head, meta, rest = text.partition("<meta name=\"viewport\"")
    body, end, tail = rest.rpartition("</body>")
    first = json.dumps(igv_config(small_run / "report.html")["tracks"][0]["name"])
    copy = tmp / "copy.html"
    copy.write_text(head + PROBE_HEAD + meta + body + PROBE_BODY.replace("FIRST", first) + end + tail,
                    encoding="utf-8")
    dom = _browse(copy, tmp, "--dump-dom")
    m = re.search(r'<pre id="wtko-test">(.*?)</pre>', dom.stdout, re.S)
    assert m, f"the probe never reported (igv.js did not finish):\n{dom.stderr[-2000:]}"
    shot = tmp / "shot.png"
    _browse(copy, tmp, f"--screenshot={shot}")
    assert shot.is_file(), "Chromium wrote no screenshot"
    return json.loads(html.unescape(m.group(1))), shot


@pytest.mark.slow
@pytest.mark.external
def test_browser_igv_creates_the_tracks_offline(browsed, small_run):
    probe, _ = browsed
    assert probe["state"] == "ready", probe["status"]
    names = [t["name"] for t in igv_config(small_run / "report.html")["tracks"]]
    assert all(n in probe["labels"] for n in names), (names, probe["labels"])
    assert probe["viewports"] >= len(names) + 1          # one per track, plus the sequence track
    assert probe["blocked"] == []                          # the page itself asked for nothing
    assert any("example.org" in u for u in probe["probes"])  # and a request would have been seen


@pytest.mark.slow
@pytest.mark.external
def test_browser_region_picker_moves_the_view_and_sorts(browsed):
    probe, _ = browsed
    want = [int(v) for v in re.match(r".*:(\d+)-(\d+)$", probe["target"]).groups()]
    got = [float(v) for v in re.match(r".*:([\d.]+)-([\d.]+)$", probe["locus"]).groups()]
    assert probe["locus"].split(":")[0] == probe["target"].split(":")[0]
    assert np.allclose(got, want, atol=1.0), (probe["locus"], probe["target"])
    assert probe["sorted"] == sorted(probe["sorted"]) and len(set(probe["sorted"])) > 1


@pytest.mark.slow
@pytest.mark.external
def test_browser_screenshot_shows_letters_in_the_attribution_track(browsed):
    from PIL import Image

    probe, shot = browsed
    x, y, w, h = (int(round(v)) for v in probe["box"])
    assert w > 400 and h > 40
    pixels = np.asarray(Image.open(shot).convert("RGB").crop((x, y, x + w, y + h)), dtype=float)
    assert pixels.std() > 10                                # not blank
    # igv.js draws dynseq letters in its nucleotide colours: A, C, G, T must all appear
    colours = {"A": (0, 200, 0), "C": (0, 0, 200), "G": (209, 113, 5), "T": (255, 0, 0)}
    for base, rgb in colours.items():
        near = (np.abs(pixels - np.array(rgb)).max(axis=2) < 40).sum()
        assert near > 10, f"no {base} letters drawn ({near} pixels)"
