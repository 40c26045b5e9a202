"""In-silico saturation mutagenesis: the change in the target logit for every base at every
position (hypothetical; the observed base scores 0).

Two exact paths:

- **local** (the WTKO-CNN and any model with the same shape: ``features`` conv tower,
  ``attention`` = :class:`~wtko_captum.models.wtko_cnn.AttentionPool`, ``head``): the conv
  tower is local, so a substitution at base ``p`` changes only the attention positions whose
  receptive field contains ``p`` (at most ``ceil(rf / stride)`` = 8 on the WTKO-CNN). Only
  that input slice (59 bases) is recomputed; the global attention pooling is then updated
  incrementally in float64 (the softmax's numerator and denominator minus the old window plus
  the new one) and the small dense head is run on the pooled vector. The work per edit is
  ~17x smaller than a full forward pass.
- **tangermeme** (any other ``nn.Module``): ``tangermeme.saturation_mutagenesis`` with
  ``raw_outputs=True``, its fastISM path included.

Both return ``f(x with base b at p) - f(x)`` for output ``target``: raw differences, not
tangermeme's default mean-centred scores.
"""
from __future__ import annotations

import torch

from wtko_captum.methods._common import check_input, check_target, model_on
from wtko_captum.registry import attribution_method


def supports_local(model) -> bool:
    """Whether ``model`` has the conv-tower + attention-pooling shape the local path needs."""
    from wtko_captum.models.wtko_cnn import AttentionPool

    cfg = getattr(model, "config", None) or {}
    return (all(hasattr(model, a) for a in ("features", "head", "receptive_field"))
            and isinstance(getattr(model, "attention", None), AttentionPool) and "pool" in cfg)


@attribution_method(hypothetical=True,
                    description="saturation mutagenesis: change in the target logit per base (exact, fast)")
def ism(model, X, args=None, *, target=0, batch_size=4096, device="cpu", random_state=None,
        verbose=False, fast=True):
    """Saturation mutagenesis of ``model(X)[:, target]``.

    Parameters
    ----------
    X : float32 one-hot ``(N, 4, L)``; all-zero (N) columns are scored for all 4 bases.
    batch_size : edited sequences (substitutions) per pass.
    fast : use the local receptive-field path when the model supports it (exact either way).

    Returns
    -------
    CPU float32 ``(N, 4, L)``: ``f(x[p := b]) - f(x)``; 0 at the observed base.
    """
    X = check_input(X)
    check_target(model, X, target)
    if fast and args is None and supports_local(model):
        return _ism_local(model, X, target, batch_size, device, verbose)
    return _ism_tangermeme(model, X, args, target, batch_size, device, verbose)


def _ism_tangermeme(model, X, args, target, batch_size, device, verbose):
    from tangermeme.saturation_mutagenesis import saturation_mutagenesis

    with model_on(model, device) as dev:
        y0, y_hat = saturation_mutagenesis(model, X, args=args, raw_outputs=True,
                                           batch_size=max(1, batch_size // (3 * X.shape[-1])),
                                           device=dev, verbose=verbose)
    attr = y_hat[..., target] - y0[:, None, None, target]
    return (attr * (1 - X)).to("cpu", torch.float32)  # observed base exactly 0


def _ism_local(model, X, target, batch_size, device, verbose):
    N, A, L = X.shape
    cfg = model.config
    jump, rf = cfg["pool"] ** 2, model.receptive_field
    att = model.attention
    out = torch.zeros(N, A, L)
    with model_on(model, device) as dev, torch.no_grad():
        Lp = model.features(X[:1].to(dev)).shape[-1]
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
            h = model.features(x[None])[0]  # (C, Lp)
            s = att.score(h.T).squeeze(-1).double()  # (Lp,)
            m = s.max()
            e = torch.exp(s - m)
            hd = h.double()
            S, V = e.sum(), hd @ e  # softmax denominator and un-normalised pooled vector
            y0 = model.head(((V / S).float())[None])[0, target]
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
                hn = model.features(xs)  # (E, C, P)
                win = jj[:, None] + torch.arange(P, device=dev)  # (E, P)
                sn = att.score(hn.transpose(1, 2)).squeeze(-1).double()  # (E, P)
                en = torch.exp(sn - m)
                eo = e[win]  # (E, P) old weights of the window
                ho = hd[:, win].permute(1, 0, 2)  # (E, C, P)
                S2 = S - eo.sum(1) + en.sum(1)
                V2 = V - torch.einsum("ecp,ep->ec", ho, eo) + torch.einsum("ecp,ep->ec", hn.double(), en)
                y = model.head((V2 / S2[:, None]).float())[:, target]
                out[n, b.cpu(), p.cpu()] = (y - y0).cpu().float()
    return out
