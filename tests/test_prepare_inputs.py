"""wtko prepare on inputs as users have them: every FASTA header form, sequences without
coordinates, split schemes (random, hash, folds), labelled sequence sets, compressed files and
.2bit genomes. Real files: the bundled NFE2 and Oct4/MafK FASTAs (renamed to each header form),
a slice of the DeepAccess ASCL1-vs-CTCF labelled set, the real mouse genome region."""
from __future__ import annotations

import gzip
import logging
import random
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from wtko_captum.core.dataset import load_prepared, read_fasta_records
from wtko_captum.core.errors import InputError
from wtko_captum.core.genome import open_genome
from wtko_captum.core.sequence import reverse_complement
from wtko_captum.preparation.peaks import read_peaks
from wtko_captum.preparation.prepare import prepare

from twobit import write_2bit

DATA = Path(__file__).parent / "data"
GENOME = DATA / "genomes" / "mouse_chr17_1Mb_region.fa"
CONTIG = "chr17_region"
NFE2 = Path(__file__).parents[1] / "wtko_captum" / "data" / "nfe2_gm12878" / "wgEncodeSydhTfbsGm12878Nfe2hStdAlnRep0"
OCT4, MAFK = DATA / "sequences" / "oct4_mafk_small" / "oct4.fa", DATA / "sequences" / "oct4_mafk_small" / "mafk.fa"
ACCESS = DATA / "sequences" / "deepaccess_ascl1_vs_ctcf"
ACCESS_FA, ACCESS_TXT = ACCESS / "ASCL1vsCTCF_train.every20th.fa", ACCESS / "ASCL1vsCTCF_train.every20th.txt"
SAME = ["chrom", "start", "end", "name", "label", "class", "split", "summit", "peak_start", "peak_end",
        "pad_left", "pad_right", "line", "coordinates"]


def renamed(src: Path, dst: Path, form: str) -> Path:
    """``src`` (``chrom:start-end`` headers) with every header rewritten in ``form``; on the
    ``-`` strand the sequence is written reverse complemented, as ``bedtools getfasta -s`` does."""
    out = []
    for i, (header, seq) in enumerate(read_fasta_records(src)):
        chrom, rng = header.split(":")
        start, end = rng.split("-")
        minus = form.endswith("minus")
        head = {"colon": f"{chrom}:{start}-{end}",
                "colon_plus": f"{chrom}:{start}-{end}(+)",
                "colon_minus": f"{chrom}:{start}-{end}(-)",
                "bedtools_name": f"peak{i}::{chrom}:{start}-{end}",
                "bedtools_name_minus": f"peak{i}::{chrom}:{start}-{end}(-)",
                "underscore": f"{chrom}_{start}_{end}_BALBC_{i}",
                "plain": f"seq{i}"}[form]
        out.append(f">{head} some description\n{reverse_complement(seq) if minus else seq}\n")
    dst.write_text("".join(out))
    return dst


def same_output(a: Path, b: Path) -> None:
    ra, rb = pd.read_csv(a / "regions.tsv", sep="\t"), pd.read_csv(b / "regions.tsv", sep="\t")
    pd.testing.assert_frame_equal(ra[SAME], rb[SAME])
    assert (a / "sequences.fa").read_text() == (b / "sequences.fa").read_text()


# ----------------------------------------------------------------------------- header forms
@pytest.mark.parametrize("form, log_says", [
    ("colon_plus", "chrom:start-end(strand) 100"),
    ("colon_minus", "- strand, reverse complemented 100"),
    ("bedtools_name", "name::chrom:start-end 100"),
    ("bedtools_name_minus", "name::chrom:start-end 100"),
    ("underscore", "chrom_start_end[_suffix] 100"),
])
def test_every_header_form_gives_the_windows_of_the_colon_form(tmp_path, caplog, form, log_says):
    """Oct4/MafK (0-based headers): each form yields exactly the chrom:start-end form's windows."""
    ref = prepare(tmp_path / "ref", [OCT4], [MAFK], width=180, balance_classes=False)
    wt, ko = renamed(OCT4, tmp_path / "wt.fa", form), renamed(MAFK, tmp_path / "ko.fa", form)
    with caplog.at_level(logging.INFO, logger="wtko_captum"):
        res = prepare(tmp_path / "form", [wt], [ko], width=180, balance_classes=False)
    same_output(tmp_path / "ref", tmp_path / "form")
    assert res.counts() == ref.counts() and res.meta["splits"]["scheme"] == "chrom"
    assert f"{wt}: 100 regions (WT); " in caplog.text and log_says in caplog.text
    assert (pd.read_csv(tmp_path / "form" / "regions.tsv", sep="\t")["coordinates"] == "genome").all()


def test_nfe2_one_based_headers_in_each_form(tmp_path, caplog):
    """NFE2 headers are 1-based inclusive (236 letters under chr10:22605206-22605441): every form
    keeps that reading, and says so in the log."""
    prepare(tmp_path / "ref", [f"{NFE2}.tr.fa"], [f"{NFE2}.neg.tr.fa"], width=250)
    for form in ("bedtools_name_minus", "underscore"):
        wt = renamed(Path(f"{NFE2}.tr.fa"), tmp_path / f"wt_{form}.fa", form)
        ko = renamed(Path(f"{NFE2}.neg.tr.fa"), tmp_path / f"ko_{form}.fa", form)
        with caplog.at_level(logging.INFO, logger="wtko_captum"):
            prepare(tmp_path / form, [wt], [ko], width=250)
        same_output(tmp_path / "ref", tmp_path / form)
        assert f"{wt}: 644 regions (WT); " in caplog.text and "1-based inclusive 644" in caplog.text
    first = load_prepared(tmp_path / "underscore").regions.iloc[0]
    assert (first["chrom"], first["peak_start"], first["peak_end"]) == ("chr10", 22605205, 22605441)


def test_plain_names_are_sequences_without_coordinates(tmp_path, caplog):
    """>seq1-style headers: never an error; sequence coordinates (chrom = the name, 0..L), a hash
    split (no chromosome), and the same bases as the coordinate form."""
    wt, ko = renamed(OCT4, tmp_path / "wt.fa", "plain"), renamed(MAFK, tmp_path / "ko.fa", "plain")
    with caplog.at_level(logging.INFO, logger="wtko_captum"):
        res = prepare(tmp_path / "d", [wt], [ko], width=180, balance_classes=False)
    assert "no coordinates (a plain name) 100" in caplog.text and "split by sequence hash" in caplog.text
    assert res.meta["splits"]["scheme"] == "hash" and res.meta["coordinates"] == {"genome": 0, "sequence": 200}
    reg = load_prepared(tmp_path / "d").regions
    assert (reg["coordinates"] == "sequence").all()
    # names repeat across the two files (seq0 in both): the second one is renamed
    assert reg["chrom"].is_unique and reg["name"].tolist() == reg["chrom"].tolist()
    assert {"seq0", "seq0.2"} <= set(reg["chrom"])
    # 200 bp trimmed to 180 around the centre: window = sequence positions 10..190
    assert (reg["start"] == 10).all() and (reg["end"] == 190).all()
    assert (reg["peak_start"] == 0).all() and (reg["peak_end"] == 200).all()
    given = {f"seq{i}": s for i, (_, s) in enumerate(read_fasta_records(OCT4))}
    stored = dict(read_fasta_records(tmp_path / "d" / "sequences.fa"))
    row = reg[reg["label"] == 1].iloc[0]
    assert stored[row["name"]] == given[row["name"]][10:190]
    # the bases equal those of the coordinate form, window for window
    prepare(tmp_path / "ref", [OCT4], [MAFK], width=180, balance_classes=False)
    assert sorted(stored.values()) == sorted(s for _, s in read_fasta_records(tmp_path / "ref" / "sequences.fa"))


def test_interval_length_disagreement_keeps_the_sequence_without_coordinates(tmp_path, caplog):
    """Sequences from another strain's genome carry indels: 197 bp under a 200 bp interval. They
    are kept (counted in the log) with their chromosome for the split; --strict-coordinates
    makes it an error naming the line."""
    recs = read_fasta_records(OCT4)
    lines = []
    for i, (h, s) in enumerate(recs):
        chrom, rng = h.split(":")
        start, end = rng.split("-")
        seq = s[:100] + s[103:] if i % 4 == 0 else s  # a 3 bp deletion in every 4th sequence
        lines.append(f">{chrom}_{start}_{end}_BALBC_{i}\n{seq}\n")
    wt = tmp_path / "balbc.fa"
    wt.write_text("".join(lines))
    with caplog.at_level(logging.INFO, logger="wtko_captum"):
        res = prepare(tmp_path / "d", [wt], [MAFK], width=200, balance_classes=False)
    assert "chrom_start_end[_suffix] with an interval of another length (kept without coordinates) 25" in caplog.text
    reg = load_prepared(tmp_path / "d").regions
    wt_rows = reg[reg["label"] == 1]
    assert Counter(wt_rows["coordinates"]) == {"genome": 75, "sequence": 25}
    assert res.meta["splits"]["scheme"] == "chrom"  # they still have a chromosome
    # the split follows the header's chromosome for those too
    chrom_of = {f"{h.split(':')[0]}_{h.split(':')[1].replace('-', '_')}_BALBC_{i}": h.split(":")[0]
                for i, (h, _) in enumerate(recs)}
    seq_rows = wt_rows[wt_rows["coordinates"] == "sequence"]
    expected = ["test" if chrom_of[n] in ("chr6", "chr7") else "val" if chrom_of[n] == "chr8" else "train"
                for n in seq_rows["name"]]
    assert seq_rows["split"].tolist() == expected and "test" in expected
    with pytest.raises(InputError, match=r"balbc.fa:1: header interval spans 200 bp but the sequence has 197"):
        prepare(tmp_path / "strict", [wt], [MAFK], width=200, strict_coordinates=True)
    assert not (tmp_path / "strict").exists()


# ----------------------------------------------------------------------------- split schemes
def canonical(seq: str) -> str:
    s = seq.upper()
    return min(s, reverse_complement(s))


def test_hash_split_never_puts_a_sequence_and_its_copies_in_two_splits(tmp_path):
    """Copies, reverse-complement copies and copies across classes and files: every group of
    identical-up-to-reverse-complement windows lies in one split, whatever the input order."""
    oct4 = [s for _, s in read_fasta_records(OCT4)]
    mafk = [s for _, s in read_fasta_records(MAFK)]
    wt_seqs = oct4 + [reverse_complement(s) for s in oct4[:15]] + mafk[:5] + [s.lower() for s in oct4[20:25]]
    ko_seqs = mafk + [reverse_complement(s) for s in mafk[10:30]] + [reverse_complement(s) for s in oct4[40:50]]
    names = [f"wt{i}" for i in range(len(wt_seqs))] + [f"ko{i}" for i in range(len(ko_seqs))]
    records = list(zip(names, wt_seqs + ko_seqs))

    def write(path, recs):
        path.write_text("".join(f">{n}\n{s}\n" for n, s in recs))
        return path

    n_wt = len(wt_seqs)
    wt, ko = write(tmp_path / "wt.fa", records[:n_wt]), write(tmp_path / "ko.fa", records[n_wt:])
    res = prepare(tmp_path / "d", [wt], [ko], width=200, split="hash", test_fraction=0.3, val_fraction=0.3,
                  balance_classes=False)
    reg = load_prepared(tmp_path / "d").regions
    seqs = dict(read_fasta_records(tmp_path / "d" / "sequences.fa"))
    split_of: dict[str, set] = {}
    for name, split in zip(reg["name"], reg["split"]):
        split_of.setdefault(canonical(seqs[name]), set()).add(split)
    assert all(len(s) == 1 for s in split_of.values())
    groups = Counter(canonical(seqs[n]) for n in reg["name"])
    assert sum(1 for n in groups.values() if n > 1) >= 40  # the copies were kept, and tested
    assert set(reg["split"]) == {"train", "val", "test"}
    # exact copies across classes are ambiguous and removed; lower case is the same sequence
    assert Counter(res.excluded["reason"])["in_both_classes"] == 10
    assert Counter(res.excluded["reason"])["duplicate"] == 5
    # the split is a function of the sequence alone: shuffled input order, same assignment
    shuffled = records[:]
    random.Random(1).shuffle(shuffled)
    wt2 = write(tmp_path / "wt2.fa", [r for r in shuffled if r[0].startswith("wt")])
    ko2 = write(tmp_path / "ko2.fa", [r for r in shuffled if r[0].startswith("ko")])
    prepare(tmp_path / "d2", [wt2], [ko2], width=200, split="hash", test_fraction=0.3, val_fraction=0.3,
            balance_classes=False)
    reg2 = load_prepared(tmp_path / "d2").regions
    seqs2 = dict(read_fasta_records(tmp_path / "d2" / "sequences.fa"))
    first = {canonical(seqs[n]): s for n, s in zip(reg["name"], reg["split"])}
    assert all(first[canonical(seqs2[n])] == s for n, s in zip(reg2["name"], reg2["split"]))


def test_random_split_is_stratified_and_seeded(tmp_path):
    counts = prepare(tmp_path / "a", [OCT4], [MAFK], width=200, split="random", test_fraction=0.2,
                     val_fraction=0.15, balance_classes=False, seed=3).counts()
    assert counts == {"train": {"WT": 65, "KO": 65}, "val": {"WT": 15, "KO": 15}, "test": {"WT": 20, "KO": 20}}
    prepare(tmp_path / "b", [OCT4], [MAFK], width=200, split="random", test_fraction=0.2, val_fraction=0.15,
            balance_classes=False, seed=3)
    prepare(tmp_path / "c", [OCT4], [MAFK], width=200, split="random", test_fraction=0.2, val_fraction=0.15,
            balance_classes=False, seed=4)
    a, b, c = (pd.read_csv(tmp_path / x / "regions.tsv", sep="\t") for x in "abc")
    assert a["split"].tolist() == b["split"].tolist()
    assert a.sort_values("name")["split"].tolist() != c.sort_values("name")["split"].tolist()
    assert set(a.loc[a["split"] == "test", "chrom"]) - {"chr6", "chr7"}  # not by chromosome


def test_chromosome_folds_are_balanced_and_select_splits(tmp_path):
    res = prepare(tmp_path / "d", [f"{NFE2}.tr.fa"], [f"{NFE2}.neg.tr.fa"], width=250, folds=5)
    data = load_prepared(tmp_path / "d")
    reg = data.regions
    assert data.n_folds == 5 and sorted(reg["fold"].unique()) == [0, 1, 2, 3, 4]
    assert (reg.groupby("chrom")["fold"].nunique() == 1).all()  # a chromosome lies in one fold
    # balanced by region count (before class balancing): the greedy deal keeps every fold
    # within one chromosome's count of the others
    per_chrom = Counter(h.split(":")[0] for f in (f"{NFE2}.tr.fa", f"{NFE2}.neg.tr.fa")
                        for h, _ in read_fasta_records(f))
    sizes = res.meta["folds"]["regions"]
    assert sum(sizes) == sum(per_chrom.values()) and max(sizes) - min(sizes) <= max(per_chrom.values())
    assert sorted(c for cs in res.meta["folds"]["chromosomes"].values() for c in cs) == sorted(per_chrom)
    # each fold balanced by class, so every union of folds is
    assert (reg.groupby(["fold", "label"]).size().unstack().pipe(lambda t: t[0] == t[1])).all()
    for i in range(5):
        part = data.with_fold(i)
        assert (part.regions["split"] == "test").tolist() == (reg["fold"] == i).tolist()
        assert (part.regions["split"] == "val").tolist() == (reg["fold"] == (i + 1) % 5).tolist()
    assert (reg["split"] == "test").tolist() == (reg["fold"] == 0).tolist()  # as written: fold 0 held out
    from wtko_captum.training.train import train

    with pytest.raises(InputError, match=r"fold must be in 0\.\.4 \(got '5'\)"):
        train(tmp_path / "d", tmp_path / "m", fold=5)
    prepare(tmp_path / "nofolds", [OCT4], [MAFK], width=200)
    with pytest.raises(InputError, match=r"the data has no folds \(run `wtko prepare --folds K`\)"):
        train(tmp_path / "nofolds", tmp_path / "m", fold=0)
    assert not (tmp_path / "m").exists()


# ----------------------------------------------------------------------------- labelled sets
def deepaccess_truth():
    """Independent reading of the slice: per FASTA record, the positive columns."""
    rows = [tuple(j for j, v in enumerate(line.split()) if float(v) == 1.0)
            for line in ACCESS_TXT.read_text().splitlines()]
    names = [h for h, _ in read_fasta_records(ACCESS_FA)]
    assert len(rows) == len(names) == 714
    return names, rows


def test_deepaccess_labelled_set_in_fasta_order(tmp_path, caplog):
    names, rows = deepaccess_truth()
    kinds = Counter(len(r) if len(r) < 2 else 2 for r in rows)
    with caplog.at_level(logging.INFO, logger="wtko_captum"):
        res = prepare(tmp_path / "d", sequences=ACCESS_FA, labels=ACCESS_TXT, label_names=["ASCL1", "CTCF"],
                      width=100, balance_classes=False)
    assert f"{kinds[1]} single-label, {kinds[2]} multi-label, {kinds[0]} background" in caplog.text
    data = load_prepared(tmp_path / "d")
    assert data.class_names == ["ASCL1", "CTCF"] and res.meta["splits"]["scheme"] == "chrom"
    reg = data.regions
    assert len(reg) == kinds[1]
    # every kept window carries its row's class (line -> record index in a 2-line FASTA)
    for line, label in zip(reg["line"], reg["label"]):
        assert rows[(line - 1) // 2] == (label,)
    ex = res.excluded
    assert Counter(ex.loc[ex["kept"] == "no", "reason"]) == {"multi_label": kinds[2], "background": kinds[0]}
    # test split on mm10 chr6/chr7, from the headers
    test_names = {n for n, r in zip(names, rows) if len(r) == 1 and n.split(":")[0] in ("chr6", "chr7")}
    assert (reg["split"] == "test").sum() == len(test_names)


def test_labelled_set_keyed_by_name_gzip_multi_label_and_background(tmp_path):
    names, rows = deepaccess_truth()
    # keyed by name, with a header, rows shuffled, gzip-compressed
    lines = [f"{n}\t{int(0 in r)}\t{int(1 in r)}" for n, r in zip(names, rows)]
    random.Random(0).shuffle(lines)
    keyed = tmp_path / "labels.tsv.gz"
    with gzip.open(keyed, "wt") as fh:
        fh.write("name\tASCL1\tCTCF\n" + "\n".join(lines) + "\n")
    prepare(tmp_path / "order", sequences=ACCESS_FA, labels=ACCESS_TXT, label_names=["ASCL1", "CTCF"], width=100)
    prepare(tmp_path / "keyed", sequences=ACCESS_FA, labels=keyed, width=100)
    same_output(tmp_path / "order", tmp_path / "keyed")
    # multi-label rows as their own class, background rows kept as a class
    res = prepare(tmp_path / "all", sequences=ACCESS_FA, labels=keyed, width=100, multi_label="combine",
                  background="class", background_name="neither", balance_classes=False)
    data = load_prepared(tmp_path / "all")
    assert set(data.class_names) == {"ASCL1", "CTCF", "ASCL1+CTCF", "neither"} and len(data) == 714
    truth = Counter({(0,): "ASCL1", (1,): "CTCF", (0, 1): "ASCL1+CTCF", (): "neither"}[r] for r in rows)
    assert Counter(data.regions["class"]) == truth
    assert res.meta["labels"]["rows"] == {"single-label": truth["ASCL1"] + truth["CTCF"],
                                          "multi-label": truth["ASCL1+CTCF"], "background": truth["neither"]}
    first_both = next(i for i, r in enumerate(rows) if len(r) == 2)
    with pytest.raises(InputError, match=r"is multi-label \(positive: ASCL1\+CTCF\); choose what to do with "
                                         r"--multi-label drop\|combine"):
        prepare(tmp_path / "err", sequences=ACCESS_FA, labels=ACCESS_TXT, width=100, multi_label="error",
                label_names=["ASCL1", "CTCF"])
    with pytest.raises(InputError, match=rf"{ACCESS_TXT}:{first_both + 1}:"):
        prepare(tmp_path / "err", sequences=ACCESS_FA, labels=ACCESS_TXT, width=100, multi_label="error")
    assert not (tmp_path / "err").exists()


def test_single_label_column_of_class_names(tmp_path):
    names, rows = deepaccess_truth()
    names_of = {(0,): "ASCL1", (1,): "CTCF", (0, 1): "both", (): "none"}
    table = tmp_path / "classes.csv"
    table.write_text("id,class\n" + "".join(f"{n},{names_of[r]}\n" for n, r in zip(names, rows)))
    prepare(tmp_path / "d", sequences=ACCESS_FA, labels=table, width=100, balance_classes=False)
    data = load_prepared(tmp_path / "d")
    assert data.class_names == ["ASCL1", "CTCF", "both", "none"]
    assert Counter(data.regions["class"]) == Counter(names_of[r] for r in rows)
    bad = tmp_path / "short.txt"
    bad.write_text("1\t0\n" * 10)
    with pytest.raises(InputError, match="label table has 10 rows for 714 sequences"):
        prepare(tmp_path / "e", sequences=ACCESS_FA, labels=bad, width=100)


# ----------------------------------------------------------------------------- formats
def test_gzip_and_bgzip_sequence_and_peak_files(tmp_path):
    from Bio import bgzf

    ref = tmp_path / "ref"
    prepare(ref, [OCT4], [MAFK], width=200)
    gz = tmp_path / "oct4.fa.gz"
    gz.write_bytes(gzip.compress(OCT4.read_bytes()))
    bgz = tmp_path / "mafk.fa.bgz"
    with bgzf.BgzfWriter(str(bgz), "wb") as fh:
        fh.write(MAFK.read_bytes())
    prepare(tmp_path / "gz", [gz], [bgz], width=200)
    same_output(ref, tmp_path / "gz")
    # BED (gzip) and narrowPeak (bgzip) against the genome; summit -1 means "no summit": midpoint
    bed = "".join(f"{CONTIG}\t{s}\t{s + 300}\n" for s in range(5_000, 200_000, 9_000))
    peaks = "".join(f"{CONTIG}\t{s}\t{s + 400}\tp{i}\t0\t.\t1\t1\t1\t{-1 if i % 2 else 37}\n"
                    for i, s in enumerate(range(7_000, 200_000, 9_000)))
    (tmp_path / "a.bed").write_text(bed)
    (tmp_path / "b.narrowPeak").write_text(peaks)
    (tmp_path / "a.bed.gz").write_bytes(gzip.compress(bed.encode()))
    with bgzf.BgzfWriter(str(tmp_path / "b.narrowPeak.gz"), "wb") as fh:
        fh.write(peaks.encode())
    common = dict(genome=GENOME, width=100, test_chroms=(), val_chroms=())
    prepare(tmp_path / "plain", [tmp_path / "a.bed"], [tmp_path / "b.narrowPeak"], **common)
    prepare(tmp_path / "packed", [tmp_path / "a.bed.gz"], [tmp_path / "b.narrowPeak.gz"], **common)
    same_output(tmp_path / "plain", tmp_path / "packed")
    np_regions = read_peaks(tmp_path / "b.narrowPeak.gz")
    assert [r.summit - r.start for r in np_regions[:4]] == [37, 200, 37, 200]


def test_genome_formats_give_the_same_windows(tmp_path, monkeypatch):
    """Plain FASTA, bgzip FASTA, gzip FASTA (decompressed once into the cache) and .2bit (py2bit)
    through one interface: identical sizes, bases and soft-masking, identical prepared windows."""
    from Bio import bgzf

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    text = GENOME.read_bytes()
    seq = "".join(GENOME.read_text().splitlines()[1:])
    bgz, gz = tmp_path / "g.fa.gz", tmp_path / "plain_gzip.fa.gz"
    with bgzf.BgzfWriter(str(bgz), "wb") as fh:
        fh.write(text)
    gz.write_bytes(gzip.compress(text))
    tb = write_2bit(tmp_path / "g.2bit", {CONTIG: seq})
    kinds = {}
    for path in (GENOME, bgz, gz, tb):
        g = open_genome(path)
        kinds[path.name] = g.kind
        assert g.sizes == {CONTIG: len(seq)}
        for a, b in ((0, 50), (123_456, 124_000), (len(seq) - 30, len(seq))):
            assert g.fetch(CONTIG, a, b) == seq[a:b]
        with pytest.raises(InputError, match="interval outside the chromosome"):
            g.fetch(CONTIG, len(seq) - 5, len(seq) + 5)
    assert kinds == {GENOME.name: "fasta", "g.fa.gz": "bgzip", "plain_gzip.fa.gz": "gzip", "g.2bit": "2bit"}
    # windows that start exactly on a BGZF block boundary (pyfaidx 0.9 raises on every one)
    with open(bgz, "rb") as fh:
        boundaries = [data_start for _, _, data_start, _ in bgzf.BgzfBlocks(fh)][1:-1]
    g = open_genome(bgz)
    assert len(boundaries) >= 10
    for off in boundaries:
        b = len(text[:off].split(b"\n", 1)[1].replace(b"\n", b""))  # bases before that byte
        assert g.fetch(CONTIG, b, b + 50) == seq[b:b + 50]
    assert list((tmp_path / "cache" / "wtko" / "genomes").glob("plain_gzip.fa.gz-*/plain_gzip.fa"))
    peaks = tmp_path / "p.bed"
    peaks.write_text("".join(f"{CONTIG}\t{s}\t{s + 250}\n" for s in (10, 400_000, 999_900)))
    other = tmp_path / "q.bed"
    other.write_text("".join(f"{CONTIG}\t{s}\t{s + 250}\n" for s in (5_000, 600_000)))
    for path in (GENOME, bgz, gz, tb):
        prepare(tmp_path / path.name.replace(".", "_"), [peaks], [other], genome=path, width=300,
                test_chroms=(), val_chroms=(), balance_classes=False)
    for path in (bgz, gz, tb):
        same_output(tmp_path / GENOME.name.replace(".", "_"), tmp_path / path.name.replace(".", "_"))
    stored = [s for _, s in read_fasta_records(tmp_path / "g_2bit" / "sequences.fa")]
    assert stored[0] == "N" * 15 + seq[:285]  # padded at the contig start, soft-masking kept
