"""Readers: AttributionSet directories, modisco-style npz pairs (+BED), torch.save tensors,
(N, L, 4) detection; every reader declines what is not its own."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import random_onehot
from wtko_captum.core.attribution_set import AttributionSet
from wtko_captum.core.errors import InputError
from wtko_captum.core.readers import read_attributions
from wtko_captum.core.registry import reader

@pytest.fixture
def arrays():
    X = random_onehot(5, 30, seed=3)
    X[2, :, 10:12] = 0  # N bases
    attr = np.random.default_rng(1).normal(size=X.shape).astype(np.float32)
    return X, attr

def _claimants(path) -> list[str]:
    """The installed attribution readers that claim ``path``."""
    from wtko_captum.core.registry import get_registry

    reg = get_registry()
    return [n for n in reg.names("readers") if reg.get("readers", n).wtko_info.kind == "attributions"
            and reg.get("readers", n).wtko_info.claim(path)]


def test_attribution_set_roundtrip(tmp_path, arrays):
    X, attr = arrays
    regions = pd.DataFrame({"chrom": "chr2", "start": [100, 200, 300, 400, 500], "end": [130, 230, 330, 430, 530],
                            "name": list("abcde"), "prediction": [1, 0, 1, 1, 0]})
    AttributionSet(X, attr, regions, "saliency", True, 1, {"n": 3}, "wtko_cnn@abc", ["KO", "WT"]).save(tmp_path / "s")
    got = read_attributions(tmp_path / "s")
    assert got.method == "saliency" and got.model_identity == "wtko_cnn@abc" and got.extra["reader"] == "attribution_set"
    np.testing.assert_array_equal(got.attr, attr)
    assert list(got.regions["prediction"]) == [1, 0, 1, 1, 0] and got.regions.loc[4, "start"] == 500
    # the other readers decline our directory
    assert _claimants(tmp_path / "s") == ["attribution_set"]

def test_modisco_pair_in_nlc_layout_with_bed(tmp_path, arrays, caplog):
    X, attr = arrays
    d = tmp_path / "modisco"
    d.mkdir()
    # chrombpnet-style names, (N, L, 4) layout, projected scores
    np.savez(d / "ohe.npz", X.transpose(0, 2, 1))
    np.savez(d / "shap.npz", (attr * X).transpose(0, 2, 1))
    (d / "peaks.bed").write_text("".join(f"chr3\t{1000 + 30 * i}\t{1030 + 30 * i}\tp{i}\n" for i in range(5)))
    with caplog.at_level(logging.INFO, logger="wtko_captum"):
        got = read_attributions(d)
    assert "transposed to (N, 4, L)" in caplog.text
    np.testing.assert_array_equal(got.X, X)
    np.testing.assert_array_equal(got.attr, attr * X)
    assert got.hypothetical is False and got.method == "shap" and got.extra["reader"] == "npz_pair"
    assert list(got.regions["name"]) == [f"p{i}" for i in range(5)] and got.regions.loc[1, "start"] == 1030
    assert _claimants(d) == ["npz_pair"]

def test_npz_pair_given_as_the_scores_file_without_bed(tmp_path, arrays):
    X, attr = arrays
    np.save(tmp_path / "seqs.npy", X)
    np.savez(tmp_path / "scores.npz", attr)
    got = read_attributions(tmp_path / "scores.npz")
    np.testing.assert_array_equal(got.attr, attr)
    assert got.hypothetical is True
    assert list(got.regions["chrom"]) == [f"seq{i}" for i in range(5)] and (got.regions["end"] == 30).all()

def test_npz_pair_told_apart_by_content_and_bad_pairs(tmp_path, arrays):
    X, attr = arrays
    d = tmp_path / "p"
    d.mkdir()
    np.savez(d / "first.npz", attr)
    np.savez(d / "second.npz", X)  # names say nothing: the one-hot one is the sequences
    got = read_attributions(d)
    np.testing.assert_array_equal(got.X, X)
    np.savez(d / "second.npz", X[:, :, :20])
    with pytest.raises(InputError, match="differ in shape"):
        read_attributions(d)
    (d / "second.npz").unlink()
    np.savez(d / "second.npz", attr[:, :3])
    with pytest.raises(InputError, match="alphabet|cannot pair"):
        read_attributions(d)

@pytest.mark.parametrize("form", ["tuple", "dict", "separate"])
def test_tangermeme_torch_save(tmp_path, arrays, form):
    X, attr = arrays
    Xt, At = torch.from_numpy(X), torch.from_numpy(attr)
    if form == "tuple":
        torch.save((Xt, At), tmp_path / "dls.pt")
        path = tmp_path / "dls.pt"
    elif form == "dict":
        torch.save({"X": Xt, "attributions": At.permute(0, 2, 1)}, tmp_path / "dls.pt")  # (N, L, 4) too
        path = tmp_path / "dls.pt"
    else:
        torch.save(Xt, tmp_path / "X.pt")
        torch.save(At, tmp_path / "deep_lift_shap.pt")
        path = tmp_path
    got = read_attributions(path)
    assert got.extra["reader"] == "torch_tensors"
    np.testing.assert_array_equal(got.X, X)
    np.testing.assert_array_equal(got.attr, attr)

def test_torch_reader_refuses_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"X": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(InputError, match=r"weights_only=True"):
        read_attributions(tmp_path / "evil.pt")

def test_nothing_claims_it(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match="no reader recognises this.*tried: attribution_set"):
        read_attributions(tmp_path / "notes.txt")
    with pytest.raises(InputError, match="no such file"):
        read_attributions(tmp_path / "missing")

def test_third_party_reader_through_registry(tmp_path, registry, arrays):
    X, attr = arrays

    @reader(kind="attributions", claim=lambda path: str(path).endswith(".scores"))
    def read_csv_scores(path):
        return AttributionSet(X, attr, pd.DataFrame({"chrom": ["c"] * 5, "start": 0, "end": 30}), "csv")

    registry.add("readers", "csv_scores", read_csv_scores)
    (tmp_path / "x.scores").write_text("")
    got = read_attributions(tmp_path / "x.scores")
    assert got.extra["reader"] == "csv_scores" and got.method == "csv"
    # a reader of another kind is never asked for attributions, and claims decide
    registry.add("readers", "greedy_motifs", reader(kind="motifs", claim=lambda p: True)(lambda p: {}))
    assert read_attributions(tmp_path / "x.scores").extra["reader"] == "csv_scores"
