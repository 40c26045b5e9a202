"""wtko variants with other models than the session's WTKO-CNN: a multi-task checkpoint (one
sigmoid per task) and zoo architectures, each compared with direct forward passes on windows
the test builds itself. Random weights on a seeded random genome: the numbers are exact
identities, not learned effects, so no training is needed."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
import torch

from wtko_captum.core.architecture import build_model
from wtko_captum.core.checkpoint import save_checkpoint
from wtko_captum.core.errors import InputError
from wtko_captum.core.sequence import one_hot
from wtko_captum.variants.variants import variants

L = 120


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    rng = np.random.default_rng(7)
    seqs = {c: "".join(rng.choice(list("ACGT"), n)) for c, n in (("chr1", 1500), ("chr2", 900))}
    path = tmp_path_factory.mktemp("variants_models") / "genome.fa"
    path.write_text("".join(f">{c}\n{s}\n" for c, s in seqs.items()))
    return path, seqs


def write_vcf(path: Path, seqs: dict) -> tuple[Path, list]:
    """SNVs (one near a chromosome start: an N-padded window), an MNV, an insertion and a
    deletion, as (chrom, 0-based start, ref, alt) already in normalised form."""
    rows = []
    for chrom, p in (("chr1", 30), ("chr1", 400), ("chr1", 401), ("chr1", 1100), ("chr2", 500)):
        ref = seqs[chrom][p]
        rows.append((chrom, p, ref, "ACGT"[("ACGT".index(ref) + 1) % 4]))
    ref = seqs["chr2"][200:202]
    rows.append(("chr2", 200, ref, "".join("ACGT"[("ACGT".index(b) + 2) % 4] for b in ref)))
    rows.append(("chr1", 700, seqs["chr1"][700], seqs["chr1"][700] + "GATTACA"))
    rows.append(("chr2", 650, seqs["chr2"][650:656], seqs["chr2"][650]))
    lines = ["##fileformat=VCFv4.2", *[f"##contig=<ID={c},length={len(s)}>" for c, s in seqs.items()],
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    rows.sort()
    lines += [f"{c}\t{p + 1}\tv{i}\t{r}\t{a}\t.\tPASS\t." for i, (c, p, r, a) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path, rows


def window(seqs, chrom, p, r, allele):
    """The documented window rule: the allele at offset L//2 - len//2, genome flanks, N outside."""
    s = seqs[chrom]
    lf = L // 2 - len(allele) // 2
    fetch = lambda a, b: "".join(s[i] if 0 <= i < len(s) else "N" for i in range(a, b))  # noqa: E731
    return fetch(p - lf, p) + allele + fetch(p + len(r), p + len(r) + L - lf - len(allele))


def direct_logits(model, seqs, rows):
    ref = [window(seqs, c, p, r, r) for c, p, r, a in rows]
    alt = [window(seqs, c, p, r, a) for c, p, r, a in rows]
    with torch.no_grad():
        return (model(torch.from_numpy(one_hot(ref))).double().numpy(),
                model(torch.from_numpy(one_hot(alt))).double().numpy())


def make(name, n, **options):
    torch.manual_seed(0)
    model = build_model(name, input_length=L, n_classes=n, **options).eval()
    # BatchNorm at its initial statistics is an identity; random statistics make it count
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    return model


def test_multi_task_checkpoint_uses_each_tasks_sigmoid(genome, tmp_path):
    fasta, seqs = genome
    vcf, rows = write_vcf(tmp_path / "calls.vcf", seqs)
    tasks = ["CTCF", "GATA1", "KLF4"]
    model = make("wtko_cnn", 3, n_filters=8, n_filters2=8, hidden=8)
    ckpt = save_checkpoint(tmp_path / "model.pt", model, "wtko_cnn", tasks, outputs="sigmoid")
    res = variants(ckpt, vcf, fasta, tmp_path / "out", target="GATA1", ism_window=4, top=4)
    assert res.route == "tower" and res.n_scored == len(rows)
    got = pd.read_csv(tmp_path / "out/scores.tsv", sep="\t")
    zr, za = direct_logits(model, seqs, rows)
    sig = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
    assert got["target"].eq("GATA1").all()
    np.testing.assert_allclose(got["p_ref"], sig(zr[:, 1]), atol=2e-5)
    np.testing.assert_allclose(got["delta"], sig(za[:, 1]) - sig(zr[:, 1]), atol=2e-5)
    np.testing.assert_allclose(got["logodds_delta"], za[:, 1] - zr[:, 1], atol=1e-4)
    for j, t in enumerate(tasks):  # every task its own sigmoid: they need not sum to 1
        np.testing.assert_allclose(got[f"p_alt_{t}"], sig(za[:, j]), atol=2e-5)
        np.testing.assert_allclose(got[f"delta_{t}"], sig(za[:, j]) - sig(zr[:, j]), atol=2e-5)
    assert not np.allclose(got[[f"p_ref_{t}" for t in tasks]].sum(axis=1), 1.0, atol=1e-3)
    # the ISM heatmap's cell of an SNV's own ALT base, in the reference window, is its Δ (sigmoid too)
    ism = pd.read_csv(tmp_path / "out/ism/ism.tsv", sep="\t")
    snvs = got[(got["kind"] == "snv") & got["id"].isin(ism["variant"])]
    assert len(snvs) >= 1
    for _, r in snvs.iterrows():
        cell = ism[(ism["variant"] == r["id"]) & (ism["window"] == "ref") & (ism["genome_pos"] == r["pos"] - 1)
                   & (ism["base"] == r["alt"])]
        assert cell["delta"].to_numpy() == pytest.approx([r["delta"]], abs=2e-5)
    with pysam.VariantFile(str(tmp_path / "out/annotated.vcf.gz")) as vf:
        recs = list(vf)
    np.testing.assert_allclose([r.info["WTKO_DELTA"][0] for r in recs], got["delta"], atol=1e-5)
    with pytest.raises(InputError, match="one sigmoid output per task"):
        variants(ckpt, vcf, fasta, tmp_path / "pred", target="pred", ism_window=0, top=0)
    assert not (tmp_path / "pred").exists()


@pytest.mark.parametrize("name, options", [
    ("cnn4", dict(n_filters=8, n_filters_deep=8, hidden=8)),
    ("danq", dict(n_filters=8, filter_width=9, pool=4, lstm_hidden=8, hidden=8)),
])
def test_zoo_models_score_like_direct_forward_passes(genome, tmp_path, name, options):
    fasta, seqs = genome
    vcf, rows = write_vcf(tmp_path / "calls.vcf", seqs)
    model = make(name, 2, **options)
    model.input_length, model.class_names = L, ["KO", "WT"]
    res = variants(model, vcf, fasta, tmp_path / "out", ism_window=8, top=2, batch_size=3)
    assert res.route == "batched" and res.n_scored == len(rows)
    got = pd.read_csv(tmp_path / "out/scores.tsv", sep="\t")
    zr, za = direct_logits(model, seqs, rows)
    p = lambda z: torch.softmax(torch.as_tensor(z), 1).numpy()  # noqa: E731
    np.testing.assert_allclose(got["delta_out"], za[:, 1] - zr[:, 1], atol=1e-4)
    np.testing.assert_allclose(got["delta"], p(za)[:, 1] - p(zr)[:, 1], atol=2e-5)
    np.testing.assert_allclose(got["delta_KO"], p(za)[:, 0] - p(zr)[:, 0], atol=2e-5)
    assert len(list((tmp_path / "out/ism").glob("*.png"))) == 2


def test_input_forms_region_and_window_ends(genome, tmp_path):
    """bgzipped without an index (a --region read by filtering), plain gzip (a clear error, as
    htslib reads only BGZF), and --drop-edge against the default N padding."""
    fasta, seqs = genome
    vcf, rows = write_vcf(tmp_path / "calls.vcf", seqs)
    bgz = Path(pysam.tabix_compress(str(vcf), str(tmp_path / "calls.vcf.gz")) or tmp_path / "calls.vcf.gz")
    assert not Path(f"{bgz}.tbi").exists() and not Path(f"{bgz}.csi").exists()
    model = make("wtko_cnn", 2, n_filters=8, n_filters2=8, hidden=8)
    model.input_length, model.class_names = L, ["KO", "WT"]
    run = dict(ism_window=0, top=0)
    variants(model, vcf, fasta, tmp_path / "all", **run)
    variants(model, bgz, fasta, tmp_path / "bgz", region="chr1:100-800", **run)
    everything = pd.read_csv(tmp_path / "all/scores.tsv", sep="\t")
    part = pd.read_csv(tmp_path / "bgz/scores.tsv", sep="\t")
    inside = everything[(everything["chrom"] == "chr1") & (everything["pos"] > 100) & (everything["pos"] <= 800)]
    assert list(part["pos"]) == [401, 402, 701]
    # equal to float rounding (the tower tiles differ with the records read)
    pd.testing.assert_frame_equal(part, inside.reset_index(drop=True), rtol=1e-5, atol=1e-6)
    # N padding by default; --drop-edge lists the edge SNV (chr1 base 30, window from -30) instead
    edge = everything[everything["pos"] == 31].iloc[0]
    assert edge["padded"] == "yes" and edge["window_start"] == 30 - L // 2
    res = variants(model, vcf, fasta, tmp_path / "drop", drop_edge=True, **run)
    assert res.skipped == {"window_past_chrom_end": 1} and res.n_scored == len(rows) - 1
    skipped = pd.read_csv(tmp_path / "drop/skipped.tsv", sep="\t")
    assert list(zip(skipped["chrom"], skipped["pos"], skipped["reason"])) == [("chr1", 31, "window_past_chrom_end")]
    with open(vcf, "rb") as a, gzip.open(tmp_path / "plain.vcf.gz", "wb") as b:
        b.write(a.read())
    with pytest.raises(InputError, match="plain gzip, not bgzip"):
        variants(model, tmp_path / "plain.vcf.gz", fasta, tmp_path / "gz", **run)
    assert not (tmp_path / "gz").exists()


def expected_alt_track(proj_alt, p, r, a, rs):
    """The alt track over the reference window ``[rs, rs + L)``, written from the documented
    rule: each genome base takes the alternative window's score of the same base (flanks shifted
    by the re-centring), a deleted base 0, a base outside the alternative window no value."""
    lf = L // 2 - len(a) // 2
    out = np.full(L, np.nan)
    for i in range(L):
        g = rs + i
        if g < p:
            j = g - (p - lf)
        elif g < p + min(len(r), len(a)):
            j = lf + g - p
        elif g < p + len(r):
            out[i] = 0.0
            continue
        else:
            j = lf + len(a) + g - p - len(r)
        if 0 <= j < L:
            out[i] = proj_alt[j]
    return out


def test_indel_tracks_put_the_alternative_back_on_genome_bases(genome, tmp_path):
    """ref/alt/Δ bigWigs at an insertion and a deletion equal saliency of windows the test
    builds, mapped back to genome bases by the test's own rule (no other variant's window
    overlaps these two)."""
    import pyBigWig

    from wtko_captum.attribution.attribute import attribute

    fasta, seqs = genome
    vcf, rows = write_vcf(tmp_path / "calls.vcf", seqs)
    model = make("wtko_cnn", 2, n_filters=8, n_filters2=8, hidden=8)
    model.input_length, model.class_names = L, ["KO", "WT"]
    variants(model, vcf, fasta, tmp_path / "out", methods=["saliency"], tracks=True, top=len(rows), ism_window=0)
    indels = [row for row in rows if len(row[2]) != len(row[3])]
    assert {len(r) < len(a) for _, _, r, a in indels} == {True, False}  # one insertion, one deletion
    for c, p, r, a in indels:
        X = torch.from_numpy(one_hot([window(seqs, c, p, r, r), window(seqs, c, p, r, a)]))
        proj = (attribute(model, X, "saliency", target=1).numpy() * X.numpy()).sum(1)
        rs = p - (L // 2 - len(r) // 2)
        want = {"ref": proj[0], "alt": expected_alt_track(proj[1], p, r, a, rs)}
        want["delta"] = want["alt"] - proj[0]
        for role in ("ref", "alt", "delta"):
            with pyBigWig.open(str(tmp_path / f"out/tracks/saliency.{role}.projected.bw")) as bw:
                got = np.asarray(bw.values(c, rs, rs + L), dtype=float)
            np.testing.assert_allclose(got, want[role], rtol=1e-5, atol=1e-7, equal_nan=True, err_msg=f"{role} {c}:{p}")


class _Shifted(torch.nn.Module):
    """A model whose declared layout does not describe it: the logits get a position-dependent
    term the layout's tower and head do not have."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.input_length, self.class_names = inner, L, ["KO", "WT"]

    def forward(self, x):
        y = self.inner(x)
        return y + torch.stack([torch.zeros(len(x)), x[:, 0, :10].sum(1)], 1)

    def attention_pool_layout(self):
        return self.inner.attention_pool_layout()


def test_a_layout_that_does_not_hold_falls_back_to_plain_passes(genome, tmp_path, caplog):
    fasta, seqs = genome
    vcf, rows = write_vcf(tmp_path / "calls.vcf", seqs)
    model = _Shifted(make("wtko_cnn", 2, n_filters=8, n_filters2=8, hidden=8)).eval()
    with caplog.at_level("WARNING", logger="wtko_captum"):
        res = variants(model, vcf, fasta, tmp_path / "out", ism_window=0, top=0)
    assert res.route == "batched" and "shared-tower route does not hold" in caplog.text
    got = pd.read_csv(tmp_path / "out/scores.tsv", sep="\t")
    zr, za = direct_logits(model, seqs, rows)
    np.testing.assert_allclose(got["delta_out"], za[:, 1] - zr[:, 1], atol=1e-4)
