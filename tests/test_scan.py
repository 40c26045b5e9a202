"""`wtko scan` on a simulated 200 kb genome: the same values as `attribute` + `export bigwig` on
the same windows, independent of shard size and engine, and a run killed with SIGKILL resumes to
the bigWigs of an uninterrupted run."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyBigWig
import pytest
import torch

from attr_helpers import ROOT, WTKO, make_model
from wtko_captum.core.errors import InputError
from wtko_captum.scan import scan
from wtko_captum.scan._tiling import Tiling, chromosome_spans, grid, region_spans

W = 200
N_BLOCK = (50_000, 53_000)  # an N stretch on chrA: its windows are skipped and left as gaps
SIZES = {"chrA": 120_003, "chrB": 79_997}


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    """A seeded 200 kb genome (two chromosomes, sizes not multiples of the window, one N block)
    and a tiny WTKO-CNN checkpoint on 200 bp windows."""
    from wtko_captum.core.checkpoint import save_checkpoint

    root = tmp_path_factory.mktemp("scan_genome")
    r = np.random.default_rng(0)
    seqs = {c: "".join(r.choice(list("ACGT"), n)) for c, n in SIZES.items()}
    a = seqs["chrA"]
    seqs["chrA"] = a[:N_BLOCK[0]] + "N" * (N_BLOCK[1] - N_BLOCK[0]) + a[N_BLOCK[1]:]
    fa = root / "genome.fa"
    with open(fa, "w") as fh:
        for c, s in seqs.items():
            fh.write(f">{c}\n" + "\n".join(s[i:i + 60] for i in range(0, len(s), 60)) + "\n")
    model = make_model(length=W, seed=0)
    save_checkpoint(root / "model.pt", model, "wtko_cnn", ["KO", "WT"])
    return dict(root=root, fasta=fa, model=root / "model.pt", seqs=seqs)


def values(path) -> dict[str, np.ndarray]:
    """Every base of every chromosome of a bigWig (NaN = no value)."""
    bw = pyBigWig.open(str(path))
    try:
        return {c: np.array(bw.values(c, 0, n), dtype=np.float64) for c, n in bw.chroms().items()}
    finally:
        bw.close()


def assert_same_bigwigs(a: Path, b: Path, names, *, same_bytes: bool):
    for name in names:
        va, vb = values(a / name), values(b / name)
        assert va.keys() == vb.keys()
        for c in va:
            np.testing.assert_array_equal(va[c], vb[c], err_msg=f"{name} {c}")
        if same_bytes:
            assert (a / name).read_bytes() == (b / name).read_bytes(), name


# deeplift hooks the model's modules: it fails on a model that a worker received damaged
OUTPUTS = ["saliency.projected.bw", "saliency.maxabs.bw", "deeplift.projected.bw", "deeplift.maxabs.bw",
           "prediction.p_KO.bw", "prediction.p_WT.bw"]
OPTS = dict(methods=["saliency", "deeplift"], options={"reference": "zero"}, stride=W // 2, target=1, device="cpu",
            batch_size=16)


@pytest.fixture(scope="module")
def reference(genome, tmp_path_factory):
    """An uninterrupted local run with overlapping windows (stride W/2), shards of 60 windows."""
    out = tmp_path_factory.mktemp("scan_ref") / "ref"
    res = scan(genome["model"], genome["fasta"], out, shard_size=60, workers=1, **OPTS)
    assert res["computed"] == res["n_shards"] > 10
    return out


# ---- the plan --------------------------------------------------------------------------------
def test_tiling_covers_every_base_and_shards_partition_spans():
    sizes = {"c1": 4_007, "c2": 450, "c3": 3_000}
    for stride in (1, 37, 100, 200):
        t = Tiling.plan(chromosome_spans(sizes), sizes, W, stride, shard_windows=7 if stride > 1 else 150)
        shards = t.shards()
        for sp in t.spans:
            starts = sp.grid0 + stride * np.arange(sp.n_windows)
            cover = np.zeros(sp.end - sp.start, int)
            for s in starts:
                cover[max(s, sp.start) - sp.start:min(s + W, sp.end) - sp.start] += 1
            assert cover.min() >= 1  # every base lies in a window
            # centred: the overhang differs by at most one base between the two ends
            left, right = sp.start - starts[0], starts[-1] + W - sp.end
            assert 0 <= left and 0 <= right and abs(left - right) <= 1
            own = [s for s in shards if s.chrom == sp.chrom]
            assert own[0].start == sp.start and own[-1].end == sp.end
            assert all(a.end == b.start for a, b in zip(own, own[1:]))  # a partition, in order
            for s in own:  # a shard computes exactly the windows that reach into its bases
                np.testing.assert_array_equal(t.window_starts(s), starts[(starts < s.end) & (starts + W > s.start)])
        assert [s.index for s in shards] == list(range(len(shards)))


def test_region_spans_are_clipped_sorted_and_merged():
    sizes = {"c1": 1000, "c2": 500}
    bed = pd.DataFrame({"chrom": ["c2", "c1", "c1", "c1"], "start": [400, 50, 100, 700],
                        "end": [600, 120, 300, 800]})
    assert region_spans(bed, sizes) == [("c1", 50, 300), ("c1", 700, 800), ("c2", 400, 500)]
    assert grid(50, 300, 200, 100) == (25, 2)  # 2 windows cover 300 bp, 25 bp overhang each side


# ---- values --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_scan_at_stride_width_equals_attribute_then_export(genome, tmp_path):
    """stride = width: every base in exactly one window, so the scan's tracks must be the
    per-window attributions `attribute()` computes, written by the `bigwig` exporter."""
    from wtko_captum.attribution.attribute import attribute
    from wtko_captum.core.attribution_set import AttributionSet
    from wtko_captum.core.checkpoint import load_model
    from wtko_captum.core.export import export
    from wtko_captum.core.sequence import one_hot

    methods = ["saliency", "deeplift_shap"]
    res = scan(genome["model"], genome["fasta"], tmp_path / "scan", methods=methods, stride=W, target="WT",
               options={"n_shuffles": 2}, device="cpu", workers=1)
    # the windows, from the documented grid: centred on each chromosome, N outside it
    rows, seqs = [], []
    for c, n in SIZES.items():
        k = -(-n // W)
        g0 = -((k * W - n) // 2)
        for i in range(k):
            s = g0 + i * W
            seq = "N" * max(0, -s) + genome["seqs"][c][max(s, 0):s + W] + "N" * max(0, s + W - n)
            if set(seq) != {"N"}:
                rows.append((c, s, s + W))
                seqs.append(seq)
    X = one_hot(seqs)
    model = load_model(genome["model"])
    regions = pd.DataFrame(rows, columns=["chrom", "start", "end"])
    for m in methods:
        A = attribute(model, X, m, 1, seed=0, **({"n_shuffles": 2} if m == "deeplift_shap" else {}))
        export("bigwig", AttributionSet(X, A.numpy(), regions, m), tmp_path / "ref", genome=genome["fasta"])
        for t in ("projected", "maxabs"):
            got, want = values(tmp_path / "scan" / f"{m}.{t}.bw"), values(tmp_path / "ref" / f"{m}.{t}.bw")
            for c in SIZES:
                assert np.array_equal(np.isnan(got[c]), np.isnan(want[c]))  # the same gaps, exactly
                # equal up to float32 rounding: a window's last bits depend on its batch's size
                np.testing.assert_allclose(got[c], want[c], rtol=1e-5, atol=1e-7, err_msg=f"{m} {t} {c}")
    gaps = np.isnan(values(tmp_path / "scan" / "saliency.projected.bw")["chrA"])
    assert gaps[N_BLOCK[0]:N_BLOCK[1]].all() and not gaps[:N_BLOCK[0]].any()
    # predictions: each window's softmax probability over the bases of that window
    with torch.no_grad():
        p = torch.softmax(model(torch.from_numpy(X)).double(), 1).numpy()
    pred = values(tmp_path / "scan" / "prediction.p_WT.bw")
    centres = [(c, s + W // 2) for c, s, _ in rows]
    got = np.array([pred[c][x] for c, x in centres])
    np.testing.assert_allclose(got, p[:, 1], rtol=1e-6)
    assert np.isnan(pred["chrA"][N_BLOCK[0] + W:N_BLOCK[1] - W]).all()
    skipped = pd.read_csv(res["skipped"], sep="\t")
    no_bases = skipped[skipped["reason"] == "no_bases"]
    assert len(no_bases) == 1 and no_bases.iloc[0]["start"] >= N_BLOCK[0] and no_bases.iloc[0]["end"] <= N_BLOCK[1]


@pytest.mark.slow
def test_shard_size_and_overlap_rule(genome, reference, tmp_path):
    """Shards of 15 windows give the very bigWigs of shards of 60 (the halo makes each shard's
    bases final); another overlap rule changes the values only where windows overlap."""
    scan(genome["model"], genome["fasta"], tmp_path / "small", shard_size=15, workers=1, **OPTS)
    assert_same_bigwigs(reference, tmp_path / "small", OUTPUTS, same_bytes=True)
    manifest = json.loads((tmp_path / "small" / "manifest.json").read_text())
    assert manifest["state"] == "complete" and manifest["n_done"] == manifest["n_shards"] > 100
    assert not (tmp_path / "small" / "shards").exists()  # removed once the bigWigs are written

    # one chromosome is enough here (its window grid is the whole-genome run's)
    scan(genome["model"], genome["fasta"], tmp_path / "maxabs", chroms=["chrB"], shard_size=60, workers=1,
         overlap="max-abs", tracks=["projected"], **OPTS)
    mean, mx = values(reference / "saliency.projected.bw"), values(tmp_path / "maxabs" / "saliency.projected.bw")
    assert np.isnan(mx["chrA"]).all()
    for c in ["chrB"]:
        both = ~np.isnan(mean[c])
        assert np.array_equal(both, ~np.isnan(mx[c]))
        assert np.all(np.abs(mx[c][both]) >= np.abs(mean[c][both]) - 1e-6)
        assert np.any(np.abs(mx[c][both]) > np.abs(mean[c][both]) + 1e-6)


@pytest.mark.slow
def test_dask_equals_local_with_a_worker_lost(genome, reference, tmp_path):
    """dask (LocalCluster, 2 workers) writes exactly the local bigWigs, even when a worker
    process is killed mid-run: dask reruns its shards, none twice, none missed."""
    import psutil

    out = tmp_path / "dask"
    killed = []

    def kill_a_worker():
        manifest = out / "manifest.json"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if manifest.is_file():
                try:
                    doc = json.loads(manifest.read_text())
                except ValueError:
                    doc = {}
                if doc.get("n_done", 0) >= 2:
                    break
            time.sleep(0.05)
        # the worker processes of the LocalCluster are children of this process running distributed
        for child in psutil.Process().children(recursive=True):
            if "distributed" in " ".join(child.cmdline()) or "spawn_main" in " ".join(child.cmdline()):
                killed.append(child.pid)
                child.kill()
                return

    watcher = threading.Thread(target=kill_a_worker, daemon=True)
    watcher.start()
    res = scan(genome["model"], genome["fasta"], out, shard_size=60, engine="dask", workers=2, **OPTS)
    watcher.join(timeout=5)
    assert killed, "no dask worker process was found to kill"
    assert res["computed"] == res["n_shards"]
    assert_same_bigwigs(reference, out, OUTPUTS, same_bytes=True)


@pytest.mark.slow
def test_local_pool_survives_a_lost_worker(genome, reference, tmp_path):
    """Two local processes; one is killed mid-run: the pool is restarted and the result is the
    in-process result exactly."""
    import psutil

    out = tmp_path / "pool"
    killed = []

    def kill_a_worker():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            shards = list((out / "shards").glob("*.npz")) if (out / "shards").is_dir() else []
            if len(shards) >= 2:
                break
            time.sleep(0.05)
        for child in psutil.Process().children(recursive=True):
            if "multiprocessing" in " ".join(child.cmdline()) and "resource_tracker" not in " ".join(child.cmdline()):
                killed.append(child.pid)
                child.kill()
                return

    watcher = threading.Thread(target=kill_a_worker, daemon=True)
    watcher.start()
    scan(genome["model"], genome["fasta"], out, shard_size=60, workers=2, **OPTS)
    watcher.join(timeout=5)
    assert killed, "no worker process was found to kill"
    assert_same_bigwigs(reference, out, OUTPUTS, same_bytes=True)


# ---- resume ---------------------------------------------------------------------------------------
def _cli(genome, out):
    return [*WTKO, "scan", str(genome["model"]), "--genome", str(genome["fasta"]), "--method", "saliency,deeplift",
            "--reference", "zero",
            "--stride", str(W // 2), "--target", "1", "--device", "cpu", "--workers", "1", "--shard-size", "60", "--batch-size", "16",
            "-o", str(out), "-q"]


@pytest.mark.slow
def test_killed_run_resumes_to_the_uninterrupted_bigwigs(genome, reference, tmp_path):
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(_cli(genome, out), env=env, cwd=str(ROOT), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    doc = {}
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            doc = json.loads((out / "manifest.json").read_text())
        except (OSError, ValueError):
            doc = {}
        if doc.get("n_done", 0) >= 2:
            break
        time.sleep(0.02)
    assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read().decode()}"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = len(list((out / "shards").glob("*.npz")))
    n_shards = doc["n_shards"]
    assert 2 <= done < n_shards
    assert not list(out.glob("*.bw"))  # no output that looks complete

    res = scan(genome["model"], genome["fasta"], out, shard_size=60, workers=1, **OPTS)
    assert res["computed"] == n_shards - done  # finished shards were not computed again
    assert_same_bigwigs(reference, out, OUTPUTS, same_bytes=True)
    again = scan(genome["model"], genome["fasta"], out, shard_size=60, workers=1, **OPTS)
    assert again["computed"] == 0  # a complete run is not redone

    # other options into the same directory: refused before any work, naming what differs
    # (in this process: the CLI's exit 2 for an InputError is the CLI's own, tested with it)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    with pytest.raises(InputError, match=r"other options \(overlap: 'mean' then, 'max-abs' now\)"):
        scan(genome["model"], genome["fasta"], out, shard_size=60, workers=1, overlap="max-abs", **OPTS)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


# ---- inputs refused before any work ------------------------------------------------------------
@pytest.mark.parametrize("kw, msg", [
    (dict(stride=W + 1), "stride"),
    (dict(chroms=["chrC"]), "not in the genome"),
    (dict(chroms=["chrA"], bed="x.bed"), "not both"),
    (dict(tracks=["hypothetical"], methods=["grad_cam"]), "hypothetical"),
    (dict(methods=["nope"]), "nope"),
    (dict(target="XX"), "XX"),
])
def test_bad_inputs_are_refused(genome, tmp_path, kw, msg):
    opts = {**dict(methods=["saliency"], device="cpu", workers=1), **kw}
    with pytest.raises(Exception) as exc:
        scan(genome["model"], genome["fasta"], tmp_path / "bad", **opts)
    assert msg in str(exc.value)
    assert isinstance(exc.value, (InputError, KeyError))
    assert not (tmp_path / "bad" / "manifest.json").exists()


def test_bed_regions_scan_only_their_bases(genome, tmp_path):
    bed = tmp_path / "regions.bed"
    bed.write_text("chrB\t1000\t1700\nchrB\t1500\t2100\nchrA\t119900\t120500\n")
    scan(genome["model"], genome["fasta"], tmp_path / "bed", bed=bed, methods=["saliency"], stride=W,
         target=1, device="cpu", workers=1)
    v = values(tmp_path / "bed" / "saliency.projected.bw")
    has = {c: np.flatnonzero(~np.isnan(a)) for c, a in v.items()}
    assert has["chrB"].min() == 1000 and has["chrB"].max() == 2099 and len(has["chrB"]) == 1100
    assert has["chrA"].min() == 119900 and has["chrA"].max() == SIZES["chrA"] - 1  # clipped at the end


def test_every_genome_format_gives_the_same_bigwigs(genome, tmp_path, monkeypatch):
    """The scan reads its genome through `open_genome`: bgzip FASTA, plain gzip FASTA and .2bit
    give the bigWigs of the plain FASTA byte for byte (regions at a chromosome start, across the
    edges of the N block, and at a chromosome end, where windows are N-padded)."""
    import gzip

    from Bio import bgzf
    from twobit import write_2bit

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    text = genome["fasta"].read_bytes()
    files = {"fasta": genome["fasta"], "bgzip": tmp_path / "g.fa.bgz", "gzip": tmp_path / "g.fa.gz",
             "2bit": write_2bit(tmp_path / "g.2bit", genome["seqs"])}
    with bgzf.BgzfWriter(str(files["bgzip"]), "wb") as fh:
        fh.write(text)
    files["gzip"].write_bytes(gzip.compress(text))
    bed = tmp_path / "regions.bed"
    bed.write_text(f"chrA\t0\t1500\nchrA\t{N_BLOCK[0] - 700}\t{N_BLOCK[1] + 700}\n"
                   f"chrB\t{SIZES['chrB'] - 1300}\t{SIZES['chrB']}\n")
    names = ["saliency.projected.bw", "saliency.maxabs.bw", "prediction.p_KO.bw", "prediction.p_WT.bw"]
    for kind, path in files.items():
        scan(genome["model"], path, tmp_path / kind, bed=bed, methods=["saliency"], stride=W // 2, target=1,
             device="cpu", workers=1, batch_size=16)
        if kind != "fasta":
            assert_same_bigwigs(tmp_path / "fasta", tmp_path / kind, names, same_bytes=True)
    v = values(tmp_path / "2bit" / "saliency.projected.bw")["chrA"]
    assert np.isnan(v[N_BLOCK[0]:N_BLOCK[1]]).all() and not np.isnan(v[N_BLOCK[0] - 700:N_BLOCK[0]]).any()
    assert not np.isnan(v[N_BLOCK[1]:N_BLOCK[1] + 700]).any() and not np.isnan(v[:1500]).any()


def test_dask_scheduler_address_gives_the_local_bigwigs(genome, tmp_path):
    """`--scheduler ADDR`: the scan connects to a running cluster (here one started by the
    test, two single-threaded workers in this process, so both run shards at once on copies
    of the model) and writes exactly the bigWigs of the in-process local run."""
    from distributed import LocalCluster

    bed = tmp_path / "regions.bed"
    bed.write_text(f"chrA\t{N_BLOCK[0] - 3000}\t{N_BLOCK[1] + 3000}\nchrB\t70000\t{SIZES['chrB']}\n")
    opts = dict(bed=bed, shard_size=12, **OPTS)
    local = scan(genome["model"], genome["fasta"], tmp_path / "local", workers=1, **opts)
    assert local["n_shards"] >= 8
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        res = scan(genome["model"], genome["fasta"], tmp_path / "remote", engine="dask",
                   scheduler=cluster.scheduler_address, **opts)
        assert res["computed"] == local["n_shards"]
        # the client is closed; the cluster, which the scan did not start, is left running
        assert len(cluster.scheduler_info["workers"]) == 2
    assert_same_bigwigs(tmp_path / "local", tmp_path / "remote", OUTPUTS, same_bytes=True)
