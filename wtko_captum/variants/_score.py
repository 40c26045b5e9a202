"""Model outputs for the reference and alternative windows of a batch of alleles.

Two routes give the same numbers (checked against plain forward passes before use):

``batched`` (any model)
    Each distinct reference window is run once (the alleles of a multi-allelic record, and
    records at one position, share it), every alternative window once, in batches on the
    device.
``tower`` (models that declare a conv tower with attention pooling, see :func:`tower_of`)
    Overlapping reference windows share their computation: the tower runs once over a tile
    of genome covering many windows (one tile per residue of the window start modulo the
    tower's stride, so every window's positions fall on the tile's grid), and each window
    takes its slice of the tile's features. A substitution's alternative window differs from
    its reference window only in the tower positions whose receptive field holds the changed
    bases, so only those are recomputed, from a short slice of the sequence. Insertions and
    deletions move the flanks and run the whole alternative window.

With ``rc_average`` each window is also run on the reverse strand and the two outputs
(logits) are averaged.
"""
from __future__ import annotations

import logging
from collections import defaultdict

import numpy as np
import torch

from wtko_captum.core.errors import InputError
from wtko_captum.core.layout import attention_pool_layout
from wtko_captum.core.sequence import encode_indices, one_hot, reverse_complement, reverse_complement_onehot
from wtko_captum.core.targets import check_output, predict_logits
from wtko_captum.variants._vcf import Allele
from wtko_captum.variants._windows import Windows, allele_offset

log = logging.getLogger("wtko_captum.variants")

#: longest tile of genome the tower runs over in one piece (bases)
TILE_BASES = 1 << 14


class _Tower:
    """What the tower route uses of a model's declared layout
    (:class:`~wtko_captum.core.layout.AttentionPoolLayout`): ``features(x)`` maps ``(N, 4, L)``
    to ``(N, C, L')`` where position ``j`` depends only on input bases ``[stride * j, stride * j
    + receptive_field)``, and :meth:`from_features` gives the logits from those features, so
    that ``model(x) == from_features(features(x))``."""

    def __init__(self, layout):
        self.features, self._score, self._head = layout.features, layout.score, layout.head
        self.stride, self.receptive_field = int(layout.jump), int(layout.receptive_field)

    def from_features(self, h: torch.Tensor) -> torch.Tensor:
        """``head(sum_j h[:, :, j] * softmax_j(score(h[:, :, j])))``, ``(N, C, L') -> (N, k)``."""
        w = torch.softmax(self._score(h.transpose(1, 2)).squeeze(-1), dim=-1)
        return self._head((h * w.unsqueeze(1)).sum(dim=-1))


def tower_of(model) -> _Tower | None:
    """The conv tower the tower route shares, from the layout ``model`` declares
    (``model.attention_pool_layout()``, see :mod:`wtko_captum.core.layout`; the WTKO-CNN
    does), or None for a model that declares none (it gets the batched route). The route is
    checked against plain forward passes before it is used."""
    layout = attention_pool_layout(model)
    return None if layout is None else _Tower(layout)


def _forward(model, X: torch.Tensor, dev, batch_size: int, rc: bool) -> np.ndarray:
    """Logits ``(n, k)`` float64 of one-hot ``X`` (CPU), strands averaged when ``rc``."""
    y = predict_logits(model, X, batch_size, dev).double()
    if rc:
        y = 0.5 * (y + predict_logits(model, reverse_complement_onehot(X), batch_size, dev).double())
    return y.numpy()


class Scorer:
    """``scorer(alleles) -> (ref_logits, alt_logits)``, both ``(n, k)`` float64.

    Parameters
    ----------
    model : torch.nn.Module
        Any model mapping ``(N, 4, L)`` one-hot to logits ``(N, k)``; in eval mode on ``dev``.
    genome : Windows
        The windows' source; ``genome.length`` is the model's input length ``L``.
    dev : torch.device
    batch_size : int
        Windows per forward pass.
    rc_average : bool
        Average each window's logits with its reverse complement's.
    """

    def __init__(self, model, genome: Windows, dev, batch_size: int, rc_average: bool):
        self.model, self.genome, self.dev = model, genome, dev
        self.batch_size, self.rc = int(batch_size), bool(rc_average)
        self.tower = tower_of(model)
        self.route = "tower" if self.tower is not None else "batched"
        self._verified = False
        if self.route == "tower":
            try:
                self._setup_tower()
            except Exception as exc:  # a declaration that does not hold for this input length
                self._fall_back(f"{type(exc).__name__}: {exc}")

    def __call__(self, alleles: list[Allele]) -> tuple[np.ndarray, np.ndarray]:
        if not alleles:
            return np.zeros((0, 0)), np.zeros((0, 0))
        if self.route == "tower":
            try:
                ref, alt = self._tower(alleles)
            except InputError:
                raise
            except Exception as exc:  # the declaration broke on real data: the plain route is exact
                self._fall_back(f"{type(exc).__name__}: {exc}")
            else:
                if self._verified or self._verify(alleles, ref, alt):
                    return ref, alt
        return self._batched(alleles)

    def _fall_back(self, why: str) -> None:
        log.warning("variants: the shared-tower route does not hold for this model (%s); "
                    "scoring with plain batched forward passes", why)
        self.route = "batched"

    # ---- the batched route --------------------------------------------------------------
    def _batched(self, alleles):
        keys: dict[tuple[str, int], int] = {}
        ref_seqs, ref_idx, alt_seqs = [], [], []
        for a in alleles:
            key = (a.chrom, self.genome.ref_start(a))
            if key not in keys:
                keys[key] = len(ref_seqs)
                ref_seqs.append(self.genome.ref_window(a))
            ref_idx.append(keys[key])
            alt_seqs.append(self.genome.alt_window(a, ref_seqs[keys[key]]))
        ref = _forward(self.model, torch.from_numpy(one_hot(ref_seqs)), self.dev, self.batch_size, self.rc)
        alt = _forward(self.model, torch.from_numpy(one_hot(alt_seqs)), self.dev, self.batch_size, self.rc)
        return ref[np.asarray(ref_idx)], alt

    def _verify(self, alleles, ref, alt) -> bool:
        """Compare the tower route with plain forward passes on a few alleles (until a chunk
        with a substitution has been checked)."""
        idx = np.unique(np.r_[np.arange(min(4, len(alleles))),
                              [i for i, a in enumerate(alleles) if a.same_length][:4]]).astype(int)
        ref_b, alt_b = self._batched([alleles[i] for i in idx])
        got = np.concatenate([ref[idx], alt[idx]])
        want = np.concatenate([ref_b, alt_b])
        err = np.abs(got - want).max()
        if not err <= 1e-4 * (1.0 + np.abs(want).max()):
            self._fall_back(f"it differs from plain forward passes by {err:.3g}")
            return False
        self._verified = any(alleles[i].same_length for i in idx)
        log.info("variants: shared-tower route checked against plain forward passes (max |diff| %.2g)", err)
        return True

    # ---- the tower route ----------------------------------------------------------------
    def _setup_tower(self) -> None:
        t = self.tower
        self.J, self.rf = t.stride, t.receptive_field
        L = self.genome.length
        with torch.no_grad():
            h = t.features(torch.zeros(1, 4, L, device=self.dev))
        self.Lp = int(h.shape[-1])
        if (self.Lp - 1) * self.J + self.rf > L or self.Lp < 1:
            raise ValueError(f"{self.Lp} tower positions of stride {self.J} and receptive field "
                             f"{self.rf} do not fit a {L} bp window")

    def _tower(self, alleles):
        keys: dict[tuple[str, int], int] = {}
        starts, chroms = [], []
        ref_of = np.empty(len(alleles), dtype=np.int64)
        for i, a in enumerate(alleles):
            key = (a.chrom, self.genome.ref_start(a))
            if key not in keys:
                keys[key] = len(starts)
                chroms.append(a.chrom)
                starts.append(key[1])
            ref_of[i] = keys[key]
        subs = [i for i, a in enumerate(alleles) if a.same_length]
        others = [i for i, a in enumerate(alleles) if not a.same_length]
        by_window = defaultdict(list)
        for i in subs:
            by_window[ref_of[i]].append(i)
        ref = alt = None
        strands = (1, -1) if self.rc else (1,)
        for strand in strands:
            r_s, a_s = self._tower_strand(strand, chroms, np.asarray(starts, dtype=np.int64), by_window, alleles)
            if ref is None:
                ref, alt = np.zeros(r_s.shape), np.zeros((len(alleles), r_s.shape[1]))
            ref += r_s / len(strands)
            alt[subs] += a_s[subs] / len(strands)
        if others:
            seqs = [self.genome.alt_window(alleles[i]) for i in others]
            alt[others] = _forward(self.model, torch.from_numpy(one_hot(seqs)), self.dev, self.batch_size, self.rc)
        return ref[ref_of], alt

    def _tower_strand(self, strand, chroms, starts, by_window, alleles):
        """Reference logits per window and substitution logits per allele on one strand.

        On the reverse strand every coordinate is mirrored (``u = -(start + L)``), so a window
        on the reverse complement of ``[start, start + L)`` starts at ``u`` and tiles are built
        the same way on both strands.
        """
        L, J = self.genome.length, self.J
        coord = starts if strand == 1 else -(starts + L)
        ref_out: np.ndarray | None = None
        alt_out: np.ndarray | None = None
        groups = defaultdict(list)
        for w in np.lexsort((coord, coord % J)):
            groups[(chroms[w], int(coord[w] % J))].append(int(w))
        tiles = []  # (chrom, tile start, tile end, [windows])
        for (chrom, _), ws in groups.items():  # each in coordinate order
            cur = [ws[0]]
            for w in ws[1:]:
                lo, hi = coord[cur[0]], coord[cur[-1]] + L
                if coord[w] < hi and coord[w] + L - lo <= TILE_BASES:
                    cur.append(w)
                else:
                    tiles.append((chrom, int(lo), int(hi), cur))
                    cur = [w]
            tiles.append((chrom, int(coord[cur[0]]), int(coord[cur[-1]] + L), cur))
        # tiles of similar length run together (padded with N, which no window reads)
        tiles.sort(key=lambda t: t[2] - t[1])
        budget = max(self.batch_size * L, TILE_BASES)
        batch: list = []
        for t in tiles + [None]:
            if t is not None and (not batch or (len(batch) + 1) * _bucket(t[2] - t[1], L) <= budget):
                batch.append(t)
                continue
            r, a = self._run_tiles(batch, strand, coord, by_window, alleles, len(starts))
            ref_out = r if ref_out is None else ref_out + r
            alt_out = a if alt_out is None else alt_out + a
            batch = [t] if t is not None else []
        return ref_out, alt_out

    def _run_tiles(self, tiles, strand, coord, by_window, alleles, n_windows):
        """Features of a batch of tiles, then every window's and substitution's logits."""
        L, J, Lp = self.genome.length, self.J, self.Lp
        width = _bucket(max(t[2] - t[1] for t in tiles), L)
        seqs = []
        for chrom, lo, hi, _ in tiles:
            s = self.genome.fetch(chrom, lo, hi) if strand == 1 else reverse_complement(self.genome.fetch(chrom, -hi, -lo))
            seqs.append(s + "N" * (width - len(s)))
        X = torch.from_numpy(one_hot(seqs)).to(self.dev)  # (T, 4, width)
        with torch.no_grad():
            F = self.tower.features(X)  # (T, C, width')
        win, tile_of, offset = [], [], []
        for ti, (_, lo, _, ws) in enumerate(tiles):
            for w in ws:
                win.append(w)
                tile_of.append(ti)
                offset.append(int(coord[w]) - lo)
        win = np.asarray(win)
        tile_of = torch.as_tensor(tile_of, device=self.dev)
        offset = torch.as_tensor(offset, device=self.dev)
        ref_out = alt_out = None
        pos_ar = torch.arange(Lp, device=self.dev)
        with torch.no_grad():
            for b0 in range(0, len(win), self.batch_size):
                sl = slice(b0, b0 + self.batch_size)
                m = offset[sl] // J
                h = F[tile_of[sl][:, None], :, m[:, None] + pos_ar].permute(0, 2, 1)  # (B, C, Lp)
                y = check_output(self.tower.from_features(h), len(h)).double().cpu().numpy()
                if ref_out is None:
                    ref_out = np.zeros((n_windows, y.shape[1]))
                    alt_out = np.zeros((len(alleles), y.shape[1]))
                ref_out[win[sl]] = y
                # the substitutions of these windows start from their reference features
                rows = [(n, i) for n in range(b0, min(b0 + self.batch_size, len(win)))
                        for i in by_window.get(int(win[n]), ())]
                if rows:
                    alt_out[[i for _, i in rows]] = self._substitutions(rows, b0, h, alleles, strand, X, tile_of,
                                                                        offset)
        return ref_out, alt_out

    def _substitutions(self, rows, b0, h_ref, alleles, strand, X, tile_of, offset):
        """Logits of the alternative windows of substitution alleles ``rows`` ``[(n, i)]``
        (``n``: the window's row in this tile batch, ``i``: the allele); ``h_ref`` holds the
        reference features of windows ``b0, b0 + 1, ...``."""
        L, J, Lp, rf = self.genome.length, self.J, self.Lp, self.rf
        dev = self.dev
        n = torch.as_tensor([r for r, _ in rows], device=dev)
        o, length, bases = [], [], []
        for _, i in rows:
            a = alleles[i]
            r = len(a.nref)
            off = allele_offset(L, r)
            if strand == 1:
                o.append(off)
                bases.append(a.nalt)
            else:
                o.append(L - off - r)
                bases.append(reverse_complement(a.nalt))
            length.append(r)
        o_t = torch.as_tensor(o, device=dev)
        len_t = torch.as_tensor(length, device=dev)
        # tower positions whose receptive field holds a changed base
        j_lo = torch.clamp(torch.div(o_t - rf + J, J, rounding_mode="floor"), min=0)
        j_hi = torch.clamp(torch.div(o_t + len_t - 1, J, rounding_mode="floor"), max=Lp - 1)
        P = int((j_hi - j_lo).max()) + 1
        j0 = torch.clamp(j_lo, max=Lp - P)
        span = (P - 1) * J + rf
        # the alternative window's bases [J*j0, J*j0 + span): the reference's, then the allele
        t = tile_of[n]
        start = offset[n] + J * j0
        cols = start[:, None] + torch.arange(span, device=dev)
        xs = X[t[:, None], :, cols].permute(0, 2, 1).clone()  # (E, 4, span)
        lens = np.fromiter((len(b) for b in bases), dtype=np.int64, count=len(bases))
        e_idx = np.repeat(np.arange(len(bases)), lens)
        within = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)
        c_idx = np.repeat(np.asarray(o) - J * j0.cpu().numpy(), lens) + within
        b_idx = encode_indices("".join(bases))[0].astype(np.int64)  # 4: N
        e_idx, c_idx, b_idx = (torch.as_tensor(v, device=dev) for v in (e_idx, c_idx, b_idx))
        xs[e_idx, :, c_idx] = 0.0
        known = b_idx < 4
        xs[e_idx[known], b_idx[known], c_idx[known]] = 1.0
        hn = self.tower.features(xs)  # (E, C, P)
        if hn.shape[-1] != P:
            raise ValueError(f"features of a {span} bp slice have {hn.shape[-1]} positions, expected {P}")
        h = h_ref[n - b0]  # a copy (advanced indexing)
        cols2 = j0[:, None] + torch.arange(P, device=dev)
        h[torch.arange(len(rows), device=dev)[:, None], :, cols2] = hn.permute(0, 2, 1)
        return check_output(self.tower.from_features(h), len(h)).double().cpu().numpy()


def _bucket(length: int, L: int) -> int:
    """Tile lengths rounded up so tiles of similar length share one padded batch."""
    step = max(L, 256)
    return -(-length // step) * step
