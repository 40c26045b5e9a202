"""In-silico saturation mutagenesis: the change in the target logit for every base at every
position (hypothetical; the observed base scores 0).

Three exact routes, the fastest that applies (the one taken is logged at INFO level):

- **delta** (a model declaring an attention-pool layout with two conv blocks, see
  :mod:`wtko_captum.core.layout`; the WTKO-CNN does): each substitution's change is propagated
  layer by layer: conv1+BN changes by a rank-one term (a table lookup), the few pooled positions
  it moves go through conv2 as a transposed convolution, and the global attention pooling is
  updated incrementally in float64 (old window out, new window in); ReLU and max-pool are
  applied to the full new values. Edits are grouped by ``p mod (pool1 * pool2)`` (same offsets
  throughout) and batched across positions and sequences. ~30x plain batched ISM on the 600 bp
  WTKO-CNN (``benchmarks/attribution.py``).
- **local** (any model declaring an attention-pool layout): the conv tower is local, so a
  substitution at base ``p`` changes only the attention positions whose receptive field
  contains it; only that input slice (59 bases on the WTKO-CNN) is recomputed, then the same
  incremental attention update.
- **tangermeme** (any other ``nn.Module``): ``tangermeme.saturation_mutagenesis`` with
  ``raw_outputs=True`` and ``fast`` passed on (tangermeme's fastISM, which it checks against
  the plain route and abandons with a warning where it does not apply or pay off).

All compute ``f(x with base b at p) - f(x)`` for output ``target`` (the raw differences,
``centre=False``). By default (``centre=True``) each position is then mean-centred over the four
bases, as tangermeme's own default does: the observed base's entry becomes minus the mean
effect of mutating it away, so the projected score (``attr * X``) is the base's importance and
modisco and the projected bigWig see it. Raw ISM has 0 at every observed base by definition.
"""
from __future__ import annotations

import logging

import torch

from wtko_captum.api import attention_pool_layout, attribution_method, check_input, check_target, model_on

log = logging.getLogger("wtko_tangermeme.ism")


def supports_local(model) -> bool:
    """Whether ``model`` declares the conv-tower + attention-pooling layout the local route needs."""
    return attention_pool_layout(model) is not None


@attribution_method(hypothetical=True,
                    description="saturation mutagenesis: change in the target logit per base (exact, fast)")
def ism(model, X, args=None, *, target=0, batch_size=4096, device="cpu", seed=None,
        verbose=False, fast=True, centre=True):
    """Saturation mutagenesis of ``model(X)[:, target]``.

    Parameters
    ----------
    X : float32 one-hot ``(N, 4, L)``; all-zero (N) columns are scored for all 4 bases.
    batch_size : edited sequences (substitutions) per pass.
    fast : take the fast exact routes: the delta/local routes of a model declaring an
        attention-pool layout, tangermeme's fastISM otherwise (``fast=`` of
        ``saturation_mutagenesis``). False runs plain batched ISM; exact either way.
    centre : mean-centre each position over the 4 bases (default); False gives raw differences.

    Returns
    -------
    CPU float32 ``(N, 4, L)``: ``d[b, p] = f(x[p := b]) - f(x)`` (0 at the observed base) when
    ``centre=False``, else ``d - mean_b d``.
    """
    raw = _ism_raw(model, X, args, target, batch_size, device, verbose, fast)
    return raw - raw.mean(dim=1, keepdim=True) if centre else raw


def _ism_raw(model, X, args, target, batch_size, device, verbose, fast):
    X = check_input(X)
    check_target(model, X, target)
    layout = attention_pool_layout(model) if fast and args is None else None
    if layout is not None:
        layers = _tower_layers(layout)
        if layers is not None:
            out = _ism_delta(layout, X, target, batch_size, device, verbose, layers, model)
            if out is not None:
                log.info("ism: delta route (declared attention-pool layout, changes propagated per layer)")
                return out
        log.info("ism: local route (declared attention-pool layout, reached slice recomputed)")
        return _ism_local(layout, model, X, target, batch_size, device, verbose)
    log.info("ism: tangermeme route (saturation_mutagenesis, fast=%s)", fast)
    return _ism_tangermeme(model, X, args, target, batch_size, device, verbose, fast)


def _ism_tangermeme(model, X, args, target, batch_size, device, verbose, fast):
    from tangermeme.saturation_mutagenesis import saturation_mutagenesis

    with model_on(model, device) as dev:
        y0, y_hat = saturation_mutagenesis(model, X, args=args, raw_outputs=True,
                                           batch_size=max(1, batch_size // (3 * X.shape[-1])),
                                           device=dev, verbose=verbose, fast=bool(fast))
    attr = y_hat[..., target] - y0[:, None, None, target]
    return (attr * (1 - X)).to("cpu", torch.float32)  # observed base exactly 0


def _ism_local(layout, model, X, target, batch_size, device, verbose):
    N, A, L = X.shape
    jump, rf = layout.jump, layout.receptive_field
    features, score, head = layout.features, layout.score, layout.head
    out = torch.zeros(N, A, L)
    with model_on(model, device) as dev, torch.no_grad():
        Lp = features(X[:1].to(dev)).shape[-1]
        P = min((rf - 1) // jump + 1, Lp)  # attention positions one base can reach
        span = (P - 1) * jump + rf  # input bases feeding P positions
        # the slice for base p starts at attention position j0(p), so that it covers every
        # position whose receptive field holds p, and lies inside the sequence
        pos = torch.arange(L)
        j0 = (pos // jump - (P - 1)).clamp(0, Lp - P)
        start = j0 * jump
        offs = torch.arange(span)
        seqs = range(N)
        if verbose:
            from tqdm.auto import tqdm

            seqs = tqdm(seqs, desc="ism", unit="seq")
        for n in seqs:
            x = X[n].to(dev)
            h = features(x[None])[0]  # (C, Lp)
            s = score(h.T).squeeze(-1).double()  # (Lp,)
            m = s.max()
            e = torch.exp(s - m)
            hd = h.double()
            S, V = e.sum(), hd @ e  # softmax denominator and un-normalised pooled vector
            y0 = head(((V / S).float())[None])[0, target]
            bases, positions = torch.nonzero(x == 0, as_tuple=True)  # every substitution
            # bases past the last receptive field (dropped by pooling) cannot change f: 0
            keep = positions < (Lp - 1) * jump + rf
            bases, positions = bases[keep], positions[keep]
            for k in range(0, len(bases), batch_size):
                b, p = bases[k:k + batch_size], positions[k:k + batch_size]
                st, jj = start[p.cpu()].to(dev), j0[p.cpu()].to(dev)
                xs = x[:, st[:, None] + offs.to(dev)].permute(1, 0, 2).clone()  # (E, 4, span)
                col = p - st
                e_idx = torch.arange(len(b), device=dev)
                xs[e_idx, :, col] = 0.0
                xs[e_idx, b, col] = 1.0
                hn = features(xs)  # (E, C, P)
                win = jj[:, None] + torch.arange(P, device=dev)  # (E, P)
                sn = score(hn.transpose(1, 2)).squeeze(-1).double()  # (E, P)
                en = torch.exp(sn - m)
                eo = e[win]  # (E, P) old weights of the window
                ho = hd[:, win].permute(1, 0, 2)  # (E, C, P)
                S2 = S - eo.sum(1) + en.sum(1)
                V2 = V - torch.einsum("ecp,ep->ec", ho, eo) + torch.einsum("ecp,ep->ec", hn.double(), en)
                y = head((V2 / S2[:, None]).float())[:, target]
                out[n, b.cpu(), p.cpu()] = (y - y0).cpu().float()
    return out


# ---------------------------------------------------------------------------------------------
# The WTKO-CNN path: per-edit deltas through each layer, batched over positions and sequences
# ---------------------------------------------------------------------------------------------

def _tower_layers(layout):
    """``(conv1, bn1, pool1, conv2, bn2, pool2)`` when the declared layout has the two blocks
    the delta route handles (valid stride-1 convs, eval-mode BatchNorm or Identity, ReLU,
    non-overlapping max-pools); None otherwise."""
    from torch import nn

    if layout.blocks is None or len(layout.blocks) != 2:
        return None
    one = _one
    layers = []
    for block in layout.blocks:
        conv, bn, relu, pool = block.conv, block.norm, block.activation, block.pool
        if not (type(conv) is nn.Conv1d and one(conv.stride) == 1 and one(conv.padding) == 0
                and one(conv.dilation) == 1 and conv.groups == 1 and conv.padding_mode == "zeros"
                and type(bn) in (nn.BatchNorm1d, nn.Identity) and type(relu) is nn.ReLU
                and type(pool) is nn.MaxPool1d and one(pool.stride) == one(pool.kernel_size)
                and one(pool.padding) == 0 and one(pool.dilation) == 1 and not pool.ceil_mode):
            return None
        layers += [conv, bn, pool]
    return tuple(layers)


def _bn_scale(bn, channels, dev):
    """Per-channel scale of an eval-mode BatchNorm (1 for Identity): ``bn(z) = scale*z + shift``."""
    from torch import nn

    if not isinstance(bn, nn.BatchNorm1d):
        return torch.ones(channels, device=dev)
    var = bn.running_var if bn.track_running_stats else None
    if var is None:
        return None
    scale = torch.rsqrt(var + bn.eps)
    return scale * bn.weight if bn.affine else scale


def _ism_delta(layout, X, target, batch_size, device, verbose, layers, model):
    """Exact ISM on the WTKO-CNN by propagating each substitution's change layer by layer.

    A substitution at base ``p`` changes conv1 (+BN, linear) by a rank-one term over its
    ``w1`` outputs (a table lookup), which changes at most ``ceil(w1 / k1) + 1`` pooled
    positions; their change goes through conv2 as a transposed convolution (the only
    matrix work, ~3x less than re-running conv2 on the slice), which changes at most
    ``P`` attention positions; the attention pooling is then updated incrementally in float64
    (old window out, new window in). Nonlinearities (ReLU, max-pool) are applied to the full
    new values, so the result is exact up to float rounding. Edits are grouped by ``p mod
    (k1*k2)``, for which every offset above is the same, and batched across positions and
    sequences.
    """
    import torch.nn.functional as F

    conv1, bn1, pool1, conv2, bn2, pool2 = layers
    N, A, L = X.shape
    w1, w2 = conv1.kernel_size[0], conv2.kernel_size[0]
    k1, k2 = _one(pool1.kernel_size), _one(pool2.kernel_size)
    J = k1 * k2
    features, score, head = layout.features, layout.score, layout.head
    out = torch.zeros(N, A, L)
    with model_on(model, device) as dev, torch.no_grad():
        s1, s2 = _bn_scale(bn1, conv1.out_channels, dev), _bn_scale(bn2, conv2.out_channels, dev)
        if s1 is None or s2 is None:
            return None
        # conv1 change table D[b0, b] (b0 = 4: an N column): rows ordered by output position
        # t = p - w1 + 1 .. p, i.e. kernel tap w1 - 1 .. 0; BN scale folded in
        W1 = conv1.weight * s1[:, None, None]  # (C1, 4, w1)
        W1 = torch.cat([W1, torch.zeros_like(W1[:, :1])], 1).flip(-1).permute(1, 2, 0)  # (5, w1, C1)
        D = (W1[None, :4] - W1[:, None]).contiguous()  # (5, 4, w1, C1)
        # conv2 change as a transposed convolution of the pooled change, BN scale folded in
        W2t = (conv2.weight * s2[:, None, None]).permute(1, 0, 2).flip(-1).contiguous()
        Lp = features(X[:1].to(dev)).shape[-1]
        rf = layout.receptive_field
        last = (Lp - 1) * J + rf  # bases at or past this are dropped by the pools: score 0
        M1 = (L - w1 + 1) // k1  # pooled length after block 1
        # per residue g = p mod J: window offsets relative to q = p // J
        groups = []
        for g in range(J):
            u_lo, u_hi = (g - w1 + 1) // k1, g // k1  # pooled-1 positions changed (q = 0)
            w_lo, w_hi = (u_lo - w2 + 1) // k2, u_hi // k2  # attention positions changed
            groups.append(dict(u_lo=u_lo, U=u_hi - u_lo + 1, o1=(g - w1 + 1) - k1 * u_lo,
                               w_lo=w_lo, P=w_hi - w_lo + 1, o2=(u_lo - w2 + 1) - k2 * w_lo))
        PA = -min(gr["u_lo"] for gr in groups)  # left padding, pooled-1 positions
        PW = -min(gr["w_lo"] for gr in groups)  # left padding, attention positions
        Pmax = max(gr["P"] for gr in groups)
        chunk = max(1, min(N, 64))
        starts = range(0, N, chunk)
        if verbose:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="ism", unit="chunk")
        for c0 in starts:
            Xc = X[c0:c0 + chunk].to(dev)
            # the unedited sequences, layer by layer (the model's own modules), channels last;
            # positions no pool window reads are set to -inf (ReLU -> 0: no change flows)
            z1 = bn1(conv1(Xc))[..., :M1 * k1]
            z1 = F.pad(z1, (k1 * PA, k1 * (PA + L // k1 + 2) - z1.shape[-1]), value=-float("inf"))
            a1 = pool1(torch.relu(z1))  # (n, C1, PA + ...) padded pooled-1
            a1v = a1[..., PA:PA + M1]
            z2 = bn2(conv2(a1v))[..., :Lp * k2]
            h = pool2(torch.relu(z2))  # (n, C2, Lp), as layout.features
            z2 = F.pad(z2, (k2 * PW, k2 * (PW + L // J + Pmax + 2) - z2.shape[-1]),
                       value=-float("inf"))
            z1, a1, z2 = (t.transpose(1, 2).contiguous() for t in (z1, a1, z2))
            s = score(h.transpose(1, 2)).squeeze(-1).double()  # (n, Lp)
            m = s.max(1).values
            e = torch.exp(s - m[:, None])
            hd = h.double()
            S, V = e.sum(1), torch.einsum("ncl,nl->nc", hd, e)
            y0 = head((V / S[:, None]).float())[:, target]
            # sums of e and e*h over every window of Pmax attention positions (zero-padded)
            ep = F.pad(e, (PW, Pmax + L // J + 2))
            hp = F.pad(hd, (PW, Pmax + L // J + 2))
            Sw = ep.unfold(1, Pmax, 1).sum(-1)  # (n, nwin)
            Vw = (hp * ep[:, None]).unfold(2, Pmax, 1).sum(-1).transpose(1, 2)  # (n, nwin, C2)
            # every substitution: (sequence, base, position); b0 = observed base (4 for N)
            nn_, bb, pp = torch.nonzero(Xc == 0, as_tuple=True)
            keep = pp < last
            nn_, bb, pp = nn_[keep], bb[keep], pp[keep]
            col = Xc[nn_, :, pp]  # (E, 4)
            b0 = torch.where(col.sum(1) > 0, col.argmax(1), 4)
            def run(gr, n_, b_, p_, o_):
                """One pass: f(edited) - f(x) for edits (n_, b_, p_) of residue group ``gr``
                (``o_``: the observed base, 4 for N)."""
                # every group recomputes Pmax attention positions (a shorter change window is
                # padded with unchanged positions on the right) to match the window sums
                P, U, o1, o2 = Pmax, gr["U"], gr["o1"], gr["o2"]
                with torch.no_grad():  # grad mode is per thread
                    q = p_ // J
                    u0 = q * k2 + gr["u_lo"] + PA  # padded pooled-1 index of the first change
                    z1w = z1[n_[:, None], k1 * u0[:, None] + torch.arange(k1 * U, device=dev)]
                    z1w[:, o1:o1 + w1] += D[o_, b_]
                    a1n = torch.relu_(z1w).view(len(n_), U, k1, -1).amax(2)
                    da1 = a1n - a1[n_[:, None], u0[:, None] + torch.arange(U, device=dev)]
                    dz2 = F.conv_transpose1d(da1.transpose(1, 2), W2t)  # (E, C2, U + w2 - 1)
                    wq = q + gr["w_lo"]  # first attention position of the window (unpadded)
                    z2w = z2[n_[:, None], k2 * (wq + PW)[:, None]
                             + torch.arange(k2 * P, device=dev)]
                    z2w[:, o2:o2 + dz2.shape[-1]] += dz2.transpose(1, 2)
                    hn = torch.relu_(z2w).view(len(n_), P, k2, -1).amax(2)  # (E, P, C2)
                    sn = score(hn).squeeze(-1).double()
                    wpos = wq[:, None] + torch.arange(P, device=dev)
                    sn = sn.masked_fill((wpos < 0) | (wpos >= Lp), -float("inf"))
                    m_n = m[n_]
                    m2 = torch.maximum(m_n, sn.max(1).values)  # rescale if a score grew
                    en = torch.exp(sn - m2[:, None])
                    scale = torch.exp(m_n - m2)
                    wi = wq + PW
                    S2 = (S[n_] - Sw[n_, wi]) * scale + en.sum(1)
                    V2 = ((V[n_] - Vw[n_, wi]) * scale[:, None]
                          + torch.bmm(en.float()[:, None], hn)[:, 0].double())
                    y = head((V2 / S2[:, None]).float())[:, target]
                    return (y - y0[n_]).float()

            items = []
            for g, gr in enumerate(groups):
                sel = (pp % J) == g
                gsel = [t[sel] for t in (nn_, bb, pp, b0)]
                for e0 in range(0, len(gsel[0]), batch_size):
                    items.append((gr, *(t[e0:e0 + batch_size] for t in gsel)))
            for (_, n_, b_, p_, _), y in zip(items, _map(run, items, dev)):
                out[(c0 + n_).cpu(), b_.cpu(), p_.cpu()] = y.cpu()
    return out


def _one(v):
    return v[0] if isinstance(v, (tuple, list)) else v


def _map(fn, items, dev):
    """``fn(*item)`` for every item. On CPU the passes run in parallel threads, each with one
    torch thread: they are many medium-sized ops, which split across torch's threads pay a
    barrier per op (ruinous when another process takes a core) but run independently here."""
    workers = min(torch.get_num_threads(), len(items))
    if dev.type != "cpu" or workers < 2:
        return [fn(*it) for it in items]
    from concurrent.futures import ThreadPoolExecutor

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(lambda it: fn(*it), items))
    finally:
        torch.set_num_threads(threads)
