"""wtko variants on the simulated two-motif genome (a trained model, planted motifs) and crafted VCFs:
the effect of destroying a planted motif, exact agreement with direct forward passes, the
annotated VCF read back by pysam, skipped alleles, and the one-line errors."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
import torch

from wtko_captum.core.checkpoint import load_model
from wtko_captum.core.sequence import one_hot, reverse_complement
from wtko_captum.variants._vcf import normalise
from wtko_captum.variants.variants import variants

pytestmark = pytest.mark.slow  # the session's two-motif model is trained once (~10 s)


# ---------------------------------------------------------------------------- helpers

def write_vcf(path: Path, rows, sizes: dict, bgzip: bool = False) -> Path:
    """rows: (chrom, pos 1-based, id, ref, alt) -> a VCF (bgzipped + tabix-indexed with bgzip)."""
    lines = ["##fileformat=VCFv4.2", *[f"##contig=<ID={c},length={n}>" for c, n in sizes.items()],
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    lines += ["\t".join([c, str(p), i, r, a, ".", "PASS", "DP=7"]) for c, p, i, r, a in rows]
    text = "\n".join(lines) + "\n"
    if not bgzip:
        path.write_text(text)
        return path
    plain = path.with_suffix("")
    plain.write_text(text)
    return Path(pysam.tabix_index(str(plain), preset="vcf", force=True, keep_original=True))


class Genome:
    """The test's own window builder (the documented rule, written independently)."""

    def __init__(self, path):
        self.seqs = {}
        name = None
        for line in Path(path).read_text().splitlines():
            if line.startswith(">"):
                name = line[1:].split()[0]
                self.seqs[name] = []
            else:
                self.seqs[name].append(line.strip().upper())
        self.seqs = {k: "".join(v) for k, v in self.seqs.items()}
        self.sizes = {k: len(v) for k, v in self.seqs.items()}

    def fetch(self, chrom, a, b):
        s = self.seqs[chrom]
        return "".join(s[i] if 0 <= i < len(s) else "N" for i in range(a, b))

    def window(self, chrom, p, ref, allele, L):
        """Allele centred at offset L//2 - len//2, genome flanks, N past the ends."""
        lf = L // 2 - len(allele) // 2
        return self.fetch(chrom, p - lf, p) + allele + self.fetch(chrom, p + len(ref), p + len(ref) + L - lf - len(allele))


def logits(model, seqs, rc=False) -> np.ndarray:
    with torch.no_grad():
        X = torch.from_numpy(one_hot(seqs))
        y = model(X).double()
        if rc:
            y = 0.5 * (y + model(torch.flip(X, (1, 2))).double())
    return y.numpy()


def plain_model(model):
    """The same network without the tower declaration: any registered model's route."""
    plain = torch.nn.Sequential(model)
    plain.input_length, plain.class_names = model.input_length, model.class_names
    return plain


@pytest.fixture(scope="module")
def run(two_motif_run):
    model = load_model(two_motif_run["model"])
    return dict(model=model, genome=Genome(two_motif_run["genome"]), fasta=two_motif_run["genome"],
                truth=pd.read_csv(two_motif_run["truth"], sep="\t"), L=model.input_length)


def read_scores(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "scores.tsv", sep="\t", dtype={"chrom": str, "id": str})


# ---------------------------------------------------------------------------- ground truth

def isolated_sites(run, cls: str, n: int = 8) -> pd.DataFrame:
    """Planted ``cls`` sites with no other planted site in their window, whose window the model
    calls confidently (P(WT) > 0.9 for WT sites, < 0.1 for KO sites), strongest log-odds first."""
    t, g, L = run["truth"], run["genome"], run["L"]
    centre = (t["start"] + t["end"]) // 2
    keep = []
    for chrom, sites in t.groupby("chrom"):
        c = centre[sites.index].to_numpy()
        starts, ends = sites["start"].to_numpy(), sites["end"].to_numpy()
        for k, i in enumerate(sites.index):
            alone = ((ends > c[k] - L // 2) & (starts < c[k] + L // 2)).sum() == 1
            if t.at[i, "class"] == cls and alone and L <= c[k] <= g.sizes[chrom] - L:
                keep.append(i)
    windows = [g.fetch(t.at[i, "chrom"], centre[i] - L // 2, centre[i] + L // 2) for i in keep]
    p_wt = torch.softmax(torch.as_tensor(logits(run["model"], windows)), 1)[:, 1].numpy()
    confident = p_wt > 0.9 if cls == "WT" else p_wt < 0.1
    chosen = t.loc[[i for i, ok in zip(keep, confident) if ok]]
    return chosen.sort_values("log_odds", ascending=False, kind="stable").head(n)


def test_destroying_a_planted_motif_has_a_large_effect_of_the_right_sign(run, tmp_path):
    g = run["genome"]
    rows = []
    for cls in ("WT", "KO"):
        for _, r in isolated_sites(run, cls).iterrows():
            # delete the whole planted site (VCF: the base before it is the anchor)
            ref = g.fetch(r.chrom, r.start - 1, r.end)
            rows.append((r.chrom, r.start, f"{cls}_site_{r.start}", ref, ref[0]))
    # background SNVs: at least 60 bp from every planted site
    rng = np.random.default_rng(0)
    t = run["truth"]
    while sum(1 for r in rows if r[2].startswith("bg")) < 8:
        chrom = f"chr{rng.integers(1, 11)}"
        p = int(rng.integers(150, g.sizes[chrom] - 150))
        sites = t[t.chrom == chrom]
        if ((sites.start - 60 < p) & (sites.end + 60 > p)).any():
            continue
        ref = g.fetch(chrom, p, p + 1)
        rows.append((chrom, p + 1, f"bg_{chrom}_{p}", ref, "ACGT"[("ACGT".index(ref) + 1) % 4]))
    rows.sort(key=lambda r: (int(r[0][3:]), r[1]))
    vcf = write_vcf(tmp_path / "calls.vcf", rows, g.sizes)
    res = variants(run["model"], vcf, run["fasta"], tmp_path / "out", target="WT", ism_window=0)
    df = read_scores(tmp_path / "out").set_index("id")
    wt = df.loc[df.index.str.startswith("WT_site"), "delta"]
    ko = df.loc[df.index.str.startswith("KO_site"), "delta"]
    bg = df.loc[df.index.str.startswith("bg"), "delta"]
    assert len(wt) >= 5 and len(ko) >= 5 and len(bg) == 8
    # losing the WT motif lowers P(WT); losing the KO motif raises it
    assert wt.median() < -0.2 and (wt < 0).mean() >= 0.8, wt.to_numpy()
    assert ko.median() > 0.2 and (ko > 0).mean() >= 0.8, ko.to_numpy()
    # a background SNV: ~0, far inside the weak band
    assert bg.abs().max() < 0.1 and bg.abs().median() < 0.02, bg.to_numpy()
    assert set(df.loc[wt.index, "kind"]) == {"deletion"}
    assert res.n_scored == len(rows) and res.n_skipped == 0
    assert res.top[0]["label"] == df["abs_delta"].idxmax()


# ---------------------------------------------------------------------------- exactness

def crafted_rows(g, L):
    """Already-normalised variants of every kind, a multi-allelic record, and one at a chromosome
    start (N-padded window)."""
    rows = []
    for k, (chrom, p) in enumerate([("chr2", 500), ("chr2", 530), ("chr3", 1000), ("chr5", 777), ("chr7", 2000)]):
        b = g.fetch(chrom, p, p + 1)
        other = [x for x in "ACGT" if x != b]
        rows.append((chrom, p + 1, f"snv{k}", b, other[k % 3]))
    rows.append(("chr2", 601, "multi", g.fetch("chr2", 600, 601), ",".join(x for x in "ACGT" if x != g.fetch("chr2", 600, 601))))
    rows.append(("chr3", 1201, "mnv", g.fetch("chr3", 1200, 1203), reverse_complement(g.fetch("chr3", 1200, 1203)) + ""))
    ins_anchor = g.fetch("chr4", 300, 301)
    rows.append(("chr4", 301, "ins", ins_anchor, ins_anchor + "GGGGCGGGG"))
    rows.append(("chr4", 801, "del", g.fetch("chr4", 800, 808), g.fetch("chr4", 800, 801)))
    rows.append(("chr1", 3, "edge", g.fetch("chr1", 2, 3), "A" if g.fetch("chr1", 2, 3) != "A" else "C"))
    rows = [r for r in rows if r[3] != r[4]]
    rows.sort(key=lambda r: (int(r[0][3:]), r[1]))
    return rows


def expected_logits(model, g, rows, L, rc=False):
    ref_w, alt_w, ids = [], [], []
    for chrom, pos, vid, ref, alts in rows:
        for k, alt in enumerate(alts.split(","), 1):
            ref_w.append(g.window(chrom, pos - 1, ref, ref, L))
            alt_w.append(g.window(chrom, pos - 1, ref, alt, L))
            ids.append((vid, k))
    return ids, logits(model, ref_w, rc), logits(model, alt_w, rc)


@pytest.mark.parametrize("route, rc", [("tower", False), ("tower", True), ("batched", True)])
def test_delta_equals_two_direct_forward_passes(run, tmp_path, route, rc):
    g, L = run["genome"], run["L"]
    model = run["model"] if route == "tower" else plain_model(run["model"])
    rows = crafted_rows(g, L)
    vcf = write_vcf(tmp_path / "calls.vcf", rows, g.sizes)
    res = variants(model, vcf, run["fasta"], tmp_path / "out", target="diff", rc_average=rc, ism_window=0,
                   chunk_size=3)
    assert res.route == route
    df = read_scores(tmp_path / "out")
    ids, ref, alt = expected_logits(run["model"], g, rows, L, rc)
    assert list(zip(df["id"], df["allele"])) == ids
    want_ref, want_alt = ref[:, 1] - ref[:, 0], alt[:, 1] - alt[:, 0]  # diff = WT - KO (class_names KO, WT)
    np.testing.assert_allclose(df["out_ref"], want_ref, atol=2e-5, rtol=1e-5)
    np.testing.assert_allclose(df["out_alt"], want_alt, atol=2e-5, rtol=1e-5)
    p_ref = torch.softmax(torch.as_tensor(ref), 1).numpy()
    p_alt = torch.softmax(torch.as_tensor(alt), 1).numpy()
    np.testing.assert_allclose(df["delta"], p_alt[:, 1] - p_ref[:, 1], atol=1e-5)
    np.testing.assert_allclose(df["delta_KO"], p_alt[:, 0] - p_ref[:, 0], atol=1e-5)
    # for two classes the log-odds of WT is exactly the logit difference
    np.testing.assert_allclose(df["logodds_delta"], want_alt - want_ref, atol=2e-5)
    edge = df[df["id"] == "edge"].iloc[0]
    assert edge["padded"] == "yes" and edge["window_start"] == 2 - L // 2
    assert set(df["kind"]) == {"snv", "mnv", "insertion", "deletion"}


def test_chunking_and_bgzip_region_give_the_same_table(run, tmp_path):
    g, L = run["genome"], run["L"]
    rows = crafted_rows(g, L)
    plain = write_vcf(tmp_path / "calls.vcf", rows, g.sizes)
    gz = write_vcf(tmp_path / "calls.vcf.gz", rows, g.sizes, bgzip=True)
    variants(run["model"], plain, run["fasta"], tmp_path / "a", ism_window=0, chunk_size=1)
    variants(run["model"], plain, run["fasta"], tmp_path / "b", ism_window=0)
    a, b = read_scores(tmp_path / "a"), read_scores(tmp_path / "b")
    # equal to float rounding (tiles and batches differ with the chunking)
    pd.testing.assert_frame_equal(a, b, rtol=1e-5, atol=1e-6)
    # a region, read through the tabix index and by filtering an unindexed file: same records
    region = "chr2:0-600"  # 0-based half-open: POS 501, 531 inside, 601 (0-based 600) outside
    variants(run["model"], gz, run["fasta"], tmp_path / "c", region=region, ism_window=0)
    variants(run["model"], plain, run["fasta"], tmp_path / "d", region=region, ism_window=0)
    c, d = read_scores(tmp_path / "c"), read_scores(tmp_path / "d")
    pd.testing.assert_frame_equal(c, d, rtol=1e-5, atol=1e-6)
    assert list(c["id"]) == ["snv0", "snv1"]
    pd.testing.assert_frame_equal(c.reset_index(drop=True), a[a["id"].isin(["snv0", "snv1"])].reset_index(drop=True),
                                  rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------- outputs

def test_annotated_vcf_keeps_every_record_and_skipped_lists_why(run, tmp_path):
    g, L = run["genome"], run["L"]
    rows = crafted_rows(g, L) + [
        ("chr8", 101, "sym", g.fetch("chr8", 100, 101), "<DEL>"),
        ("chr8", 201, "bnd", g.fetch("chr8", 200, 201), g.fetch("chr8", 200, 201) + "[chr1:500["),
        ("chr8", 301, "star", g.fetch("chr8", 300, 301), "*"),
        ("chr8", 401, "mixed", g.fetch("chr8", 400, 401), "<INS>," + ("A" if g.fetch("chr8", 400, 401) != "A" else "C")),
        ("chr8", 501, "noalt", g.fetch("chr8", 500, 501), "."),
    ]
    vcf = write_vcf(tmp_path / "calls.vcf", rows, g.sizes)
    res = variants(run["model"], vcf, run["fasta"], tmp_path / "out", indels="skip", ism_window=0)
    out = tmp_path / "out"
    scores = read_scores(out)
    skipped = pd.read_csv(out / "skipped.tsv", sep="\t", dtype={"chrom": str})
    assert dict(zip(skipped["id"], skipped["reason"])) == {
        "ins": "indel", "del": "indel", "sym": "symbolic_allele", "bnd": "breakend", "star": "spanning_deletion",
        "mixed": "symbolic_allele", "noalt": "no_alt"}
    assert res.skipped == {"indel": 2, "symbolic_allele": 2, "breakend": 1, "spanning_deletion": 1, "no_alt": 1}
    # every input record, in order, parsed by pysam; INFO values per ALT equal scores.tsv
    assert (out / "annotated.vcf.gz.tbi").is_file()
    with pysam.VariantFile(str(out / "annotated.vcf.gz")) as vf:
        recs = list(vf)
        assert "WTKO_DELTA" in vf.header.info and vf.header.info["WTKO_DELTA"].number == "A"
        assert len(list(vf.fetch("chr2", 0, 600))) == 2  # the tabix index works
    assert [(r.chrom, r.pos, r.id) for r in recs] == [(c, p, i) for c, p, i, _, _ in rows]
    assert all(r.info["DP"] == "7" or r.info["DP"] == 7 for r in recs)  # the input's own INFO kept
    by_id = {r.id: r for r in recs}
    for _, s in scores.iterrows():
        info = by_id[s["id"]].info
        assert info["WTKO_DELTA"][s["allele"] - 1] == pytest.approx(s["delta"], rel=1e-5, abs=1e-9)
        assert info["WTKO_BAND"][s["allele"] - 1] == s["band"]
    mixed = by_id["mixed"].info
    assert mixed["WTKO_SKIP"] == ("symbolic_allele", ".") and mixed["WTKO_DELTA"][0] is None
    assert "WTKO_DELTA" not in by_id["noalt"].info
    assert (out / "summary.png").stat().st_size > 1000


def test_tracks_ism_and_attributions_of_the_top_variants(run, tmp_path):
    import pyBigWig

    from wtko_captum.attribution.attribute import attribute

    g, L, model = run["genome"], run["L"], run["model"]
    rows = crafted_rows(g, L)
    vcf = write_vcf(tmp_path / "calls.vcf", rows, g.sizes)
    res = variants(model, vcf, run["fasta"], tmp_path / "out", methods=["saliency"], tracks=True, top=3,
                   ism_window=12)
    out = tmp_path / "out"
    scores = read_scores(out)
    top_ids = scores.iloc[np.argsort(-scores["abs_delta"].to_numpy(), kind="stable")[:3]]
    assert [t["delta"] for t in res.top[:3]] == pytest.approx(list(top_ids["delta"]), rel=1e-5)
    # the ref track equals saliency of the reference window, the delta track alt - ref at an SNV
    assert (top_ids["kind"] == "snv").any(), top_ids[["id", "kind"]]  # the checks below need an SNV on top
    snv = top_ids[top_ids["kind"] == "snv"].iloc[0]
    ini = (out / "tracks.ini").read_text()
    order = [ini.index(f"saliency.{r}.projected.bw") for r in ("ref", "alt", "delta")]
    assert ini.index("variants") < order[0] < order[1] < order[2]
    session = (out / "igv_session.xml").read_text()
    first = res.top[0]
    assert f'description="{first["label"]} delta=' in session
    sets = {r: pd.read_csv(out / "attr" / "saliency" / r / "regions.bed", sep="\t") for r in ("ref", "alt", "delta")}
    assert len(sets["ref"]) == 3
    p = int(snv["norm_start"])
    ref_w = g.window(snv["chrom"], p, snv["norm_ref"], snv["norm_ref"], L)
    alt_w = g.window(snv["chrom"], p, snv["norm_ref"], snv["norm_alt"], L)
    X = torch.from_numpy(one_hot([ref_w, alt_w]))
    A = attribute(model, X, "saliency", target=1).numpy()
    proj = (A * X.numpy()).sum(1)
    start = int(snv["window_start"])
    with pyBigWig.open(str(out / "tracks" / "saliency.ref.projected.bw")) as bw:
        got = np.asarray(bw.values(snv["chrom"], p - 5, p + 6))
    np.testing.assert_allclose(got, proj[0, p - 5 - start:p + 6 - start], rtol=1e-5, atol=1e-6)
    with pyBigWig.open(str(out / "tracks" / "saliency.delta.projected.bw")) as bw:
        d = bw.values(snv["chrom"], p, p + 1)[0]
    assert d == pytest.approx(proj[1, p - start] - proj[0, p - start], rel=1e-5, abs=1e-6)
    # ISM of the reference window: the substitution that is this SNV gives exactly its Δ
    ism = pd.read_csv(out / "ism" / "ism.tsv", sep="\t")
    cell = ism[(ism["variant"] == snv["id"]) & (ism["window"] == "ref") & (ism["genome_pos"] == p)
               & (ism["base"] == snv["norm_alt"])]
    assert cell["delta"].iloc[0] == pytest.approx(snv["delta"], abs=1e-5)
    assert len(list((out / "ism").glob("*.png"))) == 3


# ---------------------------------------------------------------------------- normalisation

@pytest.mark.parametrize("genome, start, ref, alt, want", [
    ("GCAAAAT", 5, "AT", "T", (1, "CA", "C")),          # one A of a run deleted: leftmost, anchor C
    ("GCAAAAT", 1, "CAAAAT", "CAAAT", (1, "CA", "C")),  # the same, padded
    ("GCACACAT", 6, "A", "ACA", (0, "G", "GCA")),       # CA inserted in a CA repeat: before it
    ("GACGTT", 1, "ACGT", "ATGT", (2, "C", "T")),       # an MNV that is one SNV
    ("GACGTT", 1, "ACG", "TCA", (1, "ACG", "TCA")),     # a real MNV stays
])
def test_normalise_left_aligns_and_trims(genome, start, ref, alt, want):
    assert normalise(start, ref, alt, lambda i: genome[i]) == want


# ---------------------------------------------------------------------------- errors

def cli(args, capsys):
    from wtko_captum.cli import main

    code = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


@pytest.mark.parametrize("case", ["ref_mismatch", "unknown_chrom", "malformed", "not_vcf"])
def test_bad_input_is_one_line_and_nothing_is_written(run, two_motif_run, tmp_path, capsys, case):
    g = run["genome"]
    good = ("chr2", 501, "ok", g.fetch("chr2", 500, 501), "A" if g.fetch("chr2", 500, 501) != "A" else "C")
    vcf = tmp_path / "calls.vcf"
    second = 2 + len(g.sizes) + 2  # line of the second record: ##fileformat, ##contig x N, #CHROM, record 1
    if case == "ref_mismatch":
        wrong = "ACGT"[("ACGT".index(g.fetch("chr3", 99, 100)) + 1) % 4]
        write_vcf(vcf, [good, ("chr3", 100, "bad", wrong, "N" if wrong != "N" else "A")], g.sizes)
        want = ["chr3:100", "differs from the genome", "--skip-ref-mismatch", f"{vcf}:{second}:"]
    elif case == "unknown_chrom":
        write_vcf(vcf, [good, ("2", 501, "nochr", good[3], good[4])], g.sizes)
        want = ["'2'", "'chr2'", "add the 'chr' prefix"]
    elif case == "malformed":
        write_vcf(vcf, [good], g.sizes)
        vcf.write_text(vcf.read_text() + "chr2\txx\t.\tA\tC\t.\t.\t.\n")
        want = ["malformed VCF record", "after chr2:501", f"{vcf}:{second}:"]
    else:
        vcf.write_text("chr2\t500\t.\tA\tC\n")
        want = ["not a VCF"]
    out = tmp_path / "out"
    code, err = cli(["variants", str(two_motif_run["model"]), "--vcf", str(vcf), "--genome", str(run["fasta"]),
                     "-o", str(out), "-q"], capsys)
    assert code == 2 and len(err) == 1, err
    for w in want:
        assert w in err[0], err[0]
    assert not out.exists() and not list(tmp_path.glob(".out*"))


def test_skip_ref_mismatch_and_unknown_chroms_go_to_skipped(run, two_motif_run, tmp_path, capsys):
    g = run["genome"]
    good = ("chr2", 501, "ok", g.fetch("chr2", 500, 501), "A" if g.fetch("chr2", 500, 501) != "A" else "C")
    wrong = "ACGT"[("ACGT".index(g.fetch("chr3", 99, 100)) + 1) % 4]
    vcf = write_vcf(tmp_path / "calls.vcf", [good, ("chr3", 100, "bad", wrong, "N" if wrong != "N" else "A"),
                                             ("chrUn", 5, "un", "A", "C")], {**g.sizes, "chrUn": 100})
    code, err = cli(["variants", str(two_motif_run["model"]), "--vcf", str(vcf), "--genome", str(run["fasta"]),
                     "-o", str(tmp_path / "out"), "-q", "--skip-ref-mismatch", "--skip-unknown-chroms",
                     "--ism-window", "0"], capsys)
    assert code == 0, err
    skipped = pd.read_csv(tmp_path / "out" / "skipped.tsv", sep="\t")
    assert dict(zip(skipped["id"], skipped["reason"])) == {"bad": "ref_mismatch", "un": "unknown_chrom"}
    with gzip.open(tmp_path / "out" / "annotated.vcf.gz", "rt") as fh:
        body = [ln for ln in fh if not ln.startswith("#")]
    assert [ln.split("\t")[2] for ln in body] == ["ok", "bad", "un"]
