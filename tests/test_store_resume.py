"""The chunked HDF5 store and resumable `wtko attribute`: a run killed with SIGKILL resumes
where it stopped, and the result equals an uninterrupted run."""
from __future__ import annotations

import json
import functools
import logging
import signal
import sys

import numpy as np
import pandas as pd
import pytest

from attr_helpers import install_plugin, make_prepared, run_wtko
from wtko_captum.core.attribution_set import AttributionSet
from wtko_captum.attribution.attribute_prepared import attribute_prepared
from wtko_captum.core.store import AttributionStore, open_or_create


@pytest.fixture
def tiny_plugin(tmp_path, registry):
    """The third-party `tiny` method: installed for subprocesses, registered in-process, with a
    call counter (chunks computed in this process)."""
    site = install_plugin(tmp_path / "site")
    sys.path.insert(0, str(site))
    try:
        import wtko_tiny_plugin
    finally:
        sys.path.remove(str(site))
    calls = []

    @functools.wraps(wtko_tiny_plugin.tiny)  # keep the method's signature (its defaults are recorded)
    def counted(model, X, args=None, **kw):
        calls.append(len(X))
        return wtko_tiny_plugin.tiny(model, X, args, **kw)

    counted.wtko_info = wtko_tiny_plugin.tiny.wtko_info
    registry.add("attributions", "tiny", counted)
    yield site, calls
    del sys.modules["wtko_tiny_plugin"]


def _same(a: AttributionSet, b: AttributionSet):
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.attr, b.attr)
    pd.testing.assert_frame_equal(a.regions, b.regions)
    assert a.meta["params"] == b.meta["params"] and a.model_identity == b.model_identity


@pytest.mark.parametrize("kill", ["after:2", "mid:3"])
def test_killed_run_resumes_and_equals_uninterrupted(tmp_path, tiny_plugin, kill, caplog):
    site, calls = tiny_plugin
    model_path, data, _ = make_prepared(tmp_path, n=30)  # 22 test sequences -> 6 chunks of 4
    out = tmp_path / "attr"
    args = ["attribute", model_path, data, "--method", "tiny", "--chunk-size", "4", "--seed", "7",
            "--target", "pred", "-o", out, "-q"]
    proc = run_wtko(args, pythonpath=site, kill_at=kill, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert not (out / "tiny").exists()  # nothing exported that looks complete
    with AttributionStore.open(out / "tiny.h5", "r") as store:
        done = store.done
        assert len(store) == 22 and store.chunk_size == 4
    n_done = 8  # after:2 stops after chunk 2; mid:3 dies before chunk 3 is marked done
    assert done.sum() == n_done and done[:n_done].all()

    with caplog.at_level(logging.INFO, logger="wtko_captum"):
        resumed = attribute_prepared(model_path, data, out, ["tiny"], chunk_size=4, seed=7, target="pred")
    assert "resuming" in caplog.text
    assert sum(calls) == 22 - n_done  # only the rows of chunks not done were computed

    full = attribute_prepared(model_path, data, tmp_path / "full", ["tiny"], chunk_size=4, seed=7,
                              target="pred")
    a, b = AttributionSet.load(resumed["tiny"]), AttributionSet.load(full["tiny"])
    _same(a, b)
    # sanity: chunks were computed with their own seeds (not all the same noise)
    assert not np.array_equal(a.attr[:4], a.attr[4:8])
    # the export is the modisco pair + regions + meta
    assert sorted(p.name for p in (out / "tiny").iterdir()) == [".wtko-output.json", "X.npz", "attr.npz",
                                                               "meta.json", "regions.bed"]


def test_rerun_of_a_complete_run_computes_nothing(tmp_path, tiny_plugin):
    _, calls = tiny_plugin
    model_path, data, _ = make_prepared(tmp_path)
    attribute_prepared(model_path, data, tmp_path / "a", ["tiny"], chunk_size=8, seed=1)
    n_first = len(calls)
    attribute_prepared(model_path, data, tmp_path / "a", ["tiny"], chunk_size=8, seed=1)
    assert len(calls) == n_first
    # other inputs (seed) -> the store starts afresh and gives other noise
    before = AttributionSet.load(tmp_path / "a" / "tiny").attr
    attribute_prepared(model_path, data, tmp_path / "a", ["tiny"], chunk_size=8, seed=2)
    assert len(calls) == 2 * n_first
    assert not np.array_equal(before, AttributionSet.load(tmp_path / "a" / "tiny").attr)


def test_export_contents(tmp_path, tiny_plugin):
    model_path, data, seqs = make_prepared(tmp_path)
    written = attribute_prepared(model_path, data, tmp_path / "a", ["tiny"], target="WT", seed=0,
                                 split="test", chunk_size=5)
    d = written["tiny"]
    meta = json.loads((d / "meta.json").read_text())
    assert meta["method"] == "tiny" and meta["hypothetical"] is False
    assert meta["target"] == 1 and meta["target_name"] == "WT" and meta["class_names"] == ["KO", "WT"]
    assert meta["params"] == {"scale": 1.0, "rc_average": False, "seed": 0, "chunk_size": 5}  # defaults recorded
    assert meta["model_identity"].startswith("wtko_cnn@")
    aset = AttributionSet.load(d)
    r = aset.regions
    assert list(r["name"]) == [f"peak{i}" for i in range(16)]
    assert (r["chrom"] == "chr6").all() and r.loc[3, "start"] == 13_000 and r.loc[3, "end"] == 13_120
    assert {"label", "prediction", "pred_class", "p_KO", "p_WT", "class", "split"} <= set(r.columns)
    np.testing.assert_allclose(r["p_KO"] + r["p_WT"], 1.0, atol=1e-5)
    assert (r["pred_class"] == np.where(r["prediction"] == 1, "WT", "KO")).all()
    # N bases are all-zero columns in X.npz; projected scores are zero there
    assert (aset.X[1, :, 5:8] == 0).all() and (aset.attr[1, :, 5:8] == 0).all()
    with np.load(d / "X.npz") as z:  # the modisco layout: arr_0 (N, 4, L)
        assert z["arr_0"].shape == (16, 4, 120)


def test_other_model_in_out_dir_warns_with_both_identities(tmp_path, tiny_plugin, caplog):
    from wtko_captum.core.checkpoint import load_model, save_checkpoint
    from attr_helpers import make_model

    model_path, data, _ = make_prepared(tmp_path)
    attribute_prepared(model_path, data, tmp_path / "a", ["tiny"], seed=0)
    other = save_checkpoint(tmp_path / "other.pt", make_model(120, seed=5), "wtko_cnn", ["KO", "WT"])
    id_old, id_new = load_model(model_path).identity, load_model(other).identity
    assert id_old != id_new
    with caplog.at_level(logging.WARNING, logger="wtko_captum"):
        attribute_prepared(other, data, tmp_path / "a", ["tiny"], seed=0)
    warning = next(rec.getMessage() for rec in caplog.records if id_old in rec.getMessage())
    assert id_new in warning
    assert AttributionSet.load(tmp_path / "a" / "tiny").model_identity == id_new


def test_store_append_and_damaged_store(tmp_path):
    X = np.eye(4, dtype=np.float32)[np.random.default_rng(0).integers(0, 4, (6, 20))].transpose(0, 2, 1)
    regions = pd.DataFrame({"chrom": "chr1", "start": np.arange(6) * 100, "end": np.arange(6) * 100 + 20,
                            "name": [f"r{i}" for i in range(6)]})
    path = tmp_path / "s.h5"
    with AttributionStore.create(path, X[:4], regions[:4], n_outputs=2, chunk_size=2) as st:
        assert [c[0] for c in st.pending()] == [0, 1]
        st.write(0, X[:2] * 2, np.zeros((2, 2)))
        assert [c[0] for c in st.pending()] == [1]
        start, end = st.append(X[4:], regions[4:], attr=X[4:] * 3, logits=np.ones((2, 2)))
        assert (start, end) == (4, 6) and len(st) == 6
        d = st.read()
        np.testing.assert_array_equal(d["attr"][4:], X[4:] * 3)
        assert list(d["done"]) == [True, True, False, False, True, True]
        assert list(d["regions"]["name"]) == [f"r{i}" for i in range(6)]
    # a file that is not a store (or was truncated) is replaced, never trusted
    path.write_bytes(b"garbage")
    st, resumed = open_or_create(path, X, regions, n_outputs=2, chunk_size=2, meta={}, key={"a": 1})
    with st:
        assert not resumed and not st.done.any() and len(st) == 6


def test_convergence_deltas_are_recorded_across_chunks(tmp_path, registry):
    from wtko_captum.core.registry import attribution_method

    @attribution_method(hypothetical=True)
    def with_deltas(model, X, args=None, *, target=0, deltas_out=None):
        if deltas_out is not None:
            deltas_out.append(-X[:, 0].sum((1,)) / 1000)  # a known "delta" per sequence
        return X.clone()

    registry.add("attributions", "with_deltas", with_deltas)
    model_path, data, _ = make_prepared(tmp_path)
    d = attribute_prepared(model_path, data, tmp_path / "a", ["with_deltas"], chunk_size=5, target=1)
    meta = json.loads((d["with_deltas"] / "meta.json").read_text())
    from wtko_captum.core.dataset import load_prepared

    n_a = load_prepared(data).split("test").X[:, 0].sum(1) / 1000  # count of A per sequence
    cd = meta["convergence_delta"]
    assert cd["n"] == 16
    assert cd["mean_abs"] == pytest.approx(float(n_a.mean()), rel=1e-6)
    assert cd["max_abs"] == pytest.approx(float(n_a.max()), rel=1e-6)


def test_store_of_other_method_defaults_is_not_resumed(tmp_path, tiny_plugin, caplog):
    """A store made when the method had other defaults (e.g. an older package) starts afresh."""
    import wtko_captum.attribution.attribute_prepared as ad

    site, calls = tiny_plugin
    model_path, data, _ = make_prepared(tmp_path, n=30)
    out = tmp_path / "attr"
    attribute_prepared(model_path, data, out, ["tiny"], chunk_size=4, seed=7, target="pred")
    real = ad.method_defaults
    try:
        ad.method_defaults = lambda func: {**real(func), "scale": 2.0}  # the defaults changed
        with caplog.at_level(logging.INFO, logger="wtko_captum"):
            attribute_prepared(model_path, data, out, ["tiny"], chunk_size=4, seed=7, target="pred")
    finally:
        ad.method_defaults = real
    assert "resuming" not in caplog.text and "params" in caplog.text
