"""Forward sampling: sequences of a neuron's receptive-field width that activate it.

First layers (no convolution below): every sequence of the width is enumerated when there are
at most ``4 ** max_enumerate`` (the paper enumerates below 11 bp), else they are sampled by the
genetic algorithm from random seeds.

Deeper layers: the paper's genetic algorithm, seeded from the previous layer's motifs.

* **seeds**: random sequences with previous-layer motifs pasted in. Each candidate (motif,
  offset in the window) is scored by its contribution to this neuron, the mean activation gain
  of pasting its consensus into random backgrounds; a seed receives as many motifs as the
  deepest max-pool's window, each drawn with probability proportional to the positive gain,
  never overlapping one already pasted.
* **one generation**: gradient-guided resampling (one-hot + gradient, negative parts set to 0,
  renormalised per position, one base drawn per position), then the next population from the
  resampled one: the top 10% (elitism), circular shifts of those by 1 to ``shift - 1`` bp
  in both directions (20%; only when max-pools below make shifted motifs equivalent, else
  crossover takes their share), and one-point crossovers of pairs drawn by roulette (the rest,
  70%), with fitness ``a + 1`` for ``a >= 0`` and ``exp(a)`` below.
* **stopping**: after ``patience`` (10) generations without a higher mean activation, or after
  ``max_generations`` (200).

Every resampled sequence with a positive activation is kept; at the end duplicates are dropped
and the set is balanced across ``bins`` equal-width activation bins of ``(0, max]`` (at most
``samples / bins`` per bin), so that strong and weak activators both shape the motifs.

Sequences are kept as base indices ``(N, width)`` uint8 (0..3 = A, C, G, T).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from wtko_captum.motifs.neurons.substructure import Substructure

MAX_ENUMERATE = 10


@dataclass
class Samples:
    """Activating sequences of one neuron: ``seqs`` ``(N, width)`` uint8 base indices,
    ``values`` ``(N,)`` float32 activations (> 0), and how they were obtained."""

    seqs: np.ndarray
    values: np.ndarray
    method: str            # "enumeration" | "genetic"
    n_evaluated: int       # sequences whose activation was computed
    n_positive: int        # distinct sequences with a positive activation, before balancing
    generations: int = 0

    def onehot(self) -> np.ndarray:
        """``(N, 4, width)`` float32."""
        return onehot(self.seqs)


@dataclass
class SeedMotif:
    """A previous-layer motif to paste into seeds: ``bases`` ``(w,)`` consensus indices and
    where it came from (``source``, e.g. ``conv1.12/c0``)."""

    bases: np.ndarray
    source: str


def onehot(seqs: np.ndarray) -> np.ndarray:
    """``(N, W)`` base indices -> ``(N, 4, W)`` float32 one-hot."""
    seqs = np.asarray(seqs, dtype=np.int64)
    return np.eye(4, dtype=np.float32)[seqs].transpose(0, 2, 1).copy()


def _onehot_t(seqs: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.one_hot(seqs.long(), 4).transpose(1, 2).float()


def default_population(width: int) -> int:
    """The paper's population size: 1,000 per 20 bp of receptive field, within 2,000..5,000."""
    return int(min(5000, max(2000, width // 20 * 1000)))


def balance(values: np.ndarray, samples: int, bins: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of at most ``samples // bins`` positives from each of ``bins`` equal-width bins of
    ``(0, max]``, in ascending index order (seeded)."""
    values = np.asarray(values)
    pos = np.flatnonzero(values > 0)
    if not len(pos):
        return pos
    top = float(values[pos].max())
    which = np.clip(np.ceil(values[pos] / top * bins).astype(np.int64) - 1, 0, bins - 1)
    per_bin = max(1, samples // bins)
    keep = []
    for b in range(bins):
        members = pos[which == b]
        if len(members) > per_bin:
            members = rng.choice(members, per_bin, replace=False)
        keep.append(members)
    return np.sort(np.concatenate(keep))


def _unique_rows(seqs: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop repeated sequences (first occurrence kept, original order)."""
    if not len(seqs):
        return seqs, values
    flat = np.ascontiguousarray(seqs).view(np.dtype((np.void, seqs.shape[1])))[:, 0]
    _, first = np.unique(flat, return_index=True)
    first = np.sort(first)
    return seqs[first], values[first]


# ---- first layers: enumeration -----------------------------------------------------------
def enumerate_samples(sub: Substructure, channels: list[int], *, samples: int, bins: int, seed: int,
                      batch_size: int = 65536, block_bytes: int = 1 << 26) -> dict[int, Samples]:
    """Every sequence of ``sub.width`` bp (``4 ** width`` of them) through the layer; per
    channel the positive ones, balanced. Channels are processed in blocks so that the
    activations held at once stay under ``block_bytes``."""
    width = sub.width
    total = 4 ** width
    powers = 4 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    block = max(1, block_bytes // (4 * total))
    out = {}
    for lo in range(0, len(channels), block):
        chans = channels[lo:lo + block]
        acts = np.empty((total, len(chans)), np.float32)
        for start in range(0, total, batch_size):
            idx = np.arange(start, min(total, start + batch_size), dtype=np.int64)
            seqs = (idx[:, None] // powers[None, :]) % 4
            acts[start:start + len(idx)] = sub.activations(onehot(seqs), batch_size=batch_size)[:, chans]
        for j, c in enumerate(chans):
            rng = np.random.default_rng([seed, c])
            v = acts[:, j]
            keep = balance(v, samples, bins, rng)
            seqs = ((keep[:, None] // powers[None, :]) % 4).astype(np.uint8)
            out[c] = Samples(seqs, v[keep].astype(np.float32), "enumeration", total, int((v > 0).sum()))
    return out


# ---- deeper layers: seeds from the previous layer ----------------------------------------
@torch.no_grad()
def seed_gains(sub: Substructure, motifs: list[SeedMotif], *, n_backgrounds: int = 8, seed: int = 0,
               batch_size: int = 4096) -> list[tuple[int, int, np.ndarray]]:
    """Mean activation gain of pasting each motif at each offset of the window.

    Returns ``[(motif index, offset, gain (C,))]`` over every placement that fits; the gain is
    the mean over ``n_backgrounds`` random backgrounds of activation(with) - activation(without),
    for every channel of the layer.
    """
    rng = np.random.default_rng(seed)
    width = sub.width
    bg = rng.integers(0, 4, size=(n_backgrounds, width)).astype(np.uint8)
    base = sub.activations(onehot(bg))                     # (B, C)
    placements = [(i, o) for i, m in enumerate(motifs) for o in range(width - len(m.bases) + 1)]
    out = []
    for lo in range(0, len(placements), max(1, batch_size // n_backgrounds)):
        chunk = placements[lo:lo + max(1, batch_size // n_backgrounds)]
        seqs = np.repeat(bg[None], len(chunk), axis=0)     # (P, B, W)
        for k, (i, o) in enumerate(chunk):
            seqs[k, :, o:o + len(motifs[i].bases)] = motifs[i].bases
        acts = sub.activations(onehot(seqs.reshape(-1, width))).reshape(len(chunk), n_backgrounds, -1)
        gains = (acts - base[None]).mean(axis=1)
        out += [(i, o, gains[k]) for k, (i, o) in enumerate(chunk)]
    return out


def seed_population(width: int, motifs: list[SeedMotif], gains: list[tuple[int, int, np.ndarray]], channel: int,
                    n: int, n_paste: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """``n`` random sequences with up to ``n_paste`` non-overlapping motifs each, placements
    drawn with probability proportional to their positive gain for ``channel``. Returns the
    seeds ``(n, width)`` uint8 and the number of placements with a positive gain (0: the seeds
    are plain random sequences)."""
    seqs = rng.integers(0, 4, size=(n, width)).astype(np.uint8)
    weight = np.array([max(float(g[channel]), 0.0) for _, _, g in gains]) if gains else np.zeros(0)
    useful = int((weight > 0).sum())
    if not useful:
        return seqs, 0
    p = weight / weight.sum()
    draws = rng.choice(len(gains), size=(n, n_paste), p=p)
    for s in range(n):
        taken = np.zeros(width, dtype=bool)
        for d in draws[s]:
            i, o, _ = gains[d]
            w = len(motifs[i].bases)
            if taken[o:o + w].any():
                continue
            seqs[s, o:o + w] = motifs[i].bases
            taken[o:o + w] = True
    return seqs, useful


# ---- the genetic algorithm ------------------------------------------------------------------
def genetic_samples(sub: Substructure, channel: int, seeds: np.ndarray, *, samples: int, bins: int, seed: int,
                    max_generations: int = 200, patience: int = 10, elite: float = 0.1, shift: float = 0.2,
                    step: float = 1.0) -> Samples:
    """Evolve ``seeds`` ``(P, width)`` towards high activation of ``channel`` (module docstring).

    Parameters
    ----------
    sub : Substructure
    channel : int
    seeds : ndarray (P, width) uint8
        The first population; its size stays constant.
    samples, bins : int
        The kept set: at most ``samples`` sequences balanced across ``bins`` activation bins.
    seed : int
        Seeds the torch generator of the draws (bases, roulette, cuts, shifts).
    max_generations, patience : int
        Stop after ``max_generations`` or ``patience`` generations without a higher mean activation.
    elite, shift : float
        Fractions of the population kept as the best (elitism) and as their circular shifts.
    step : float
        Gradient step of the resampling (one-hot + step * gradient).
    """
    device = sub.device
    gen = torch.Generator(device=device).manual_seed(int(seed))
    pop = torch.as_tensor(seeds, dtype=torch.long, device=device)
    P = pop.shape[0]
    n_elite = max(1, int(round(elite * P)))
    max_shift = sub.shift - 1
    n_shift = 2 * (int(round(shift * P)) // 2) if max_shift >= 1 else 0
    n_cross = P - n_elite - n_shift
    kept_seqs, kept_vals = [], []
    v0 = sub.channel_activations(_onehot_t(pop), channel).float().cpu()
    kept_seqs.append(np.asarray(seeds, np.uint8)[v0.numpy() > 0])
    kept_vals.append(v0.numpy()[v0.numpy() > 0])
    evaluated, best_mean, stale, generation = P, -np.inf, 0, 0
    for generation in range(1, max_generations + 1):
        x = _onehot_t(pop)
        _, grad = sub.gradient(x, channel)
        new = _draw(x + step * grad, gen)
        v = sub.channel_activations(_onehot_t(new), channel).float()
        evaluated += P
        good = (v > 0).cpu().numpy()
        kept_seqs.append(new.cpu().numpy().astype(np.uint8)[good])
        kept_vals.append(v.cpu().numpy()[good])
        mean = float(v.mean())
        if mean > best_mean:
            best_mean, stale = mean, 0
        else:
            stale += 1
            if stale >= patience:
                break
        pop = _next_population(new, v, n_elite, n_shift, n_cross, max_shift, gen)
    seqs, vals = _unique_rows(np.concatenate(kept_seqs), np.concatenate(kept_vals).astype(np.float32))
    keep = balance(vals, samples, bins, np.random.default_rng([seed, channel]))
    return Samples(seqs[keep], vals[keep], "genetic", evaluated, len(vals), generation)


def _draw(weights: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One base per position from ``(P, 4, W)`` weights: negative parts set to 0, each position
    renormalised (uniform where nothing is left); inverse-CDF draws. Returns ``(P, W)``."""
    w = weights.clamp_min(0)
    total = w.sum(dim=1, keepdim=True)
    prob = torch.where(total > 0, w / total.clamp_min(1e-30), torch.full_like(w, 0.25))
    cdf = prob.cumsum(dim=1)
    u = torch.rand((w.shape[0], 1, w.shape[2]), generator=gen, device=w.device) * cdf[:, -1:, :]
    return (u >= cdf).sum(dim=1).clamp_max(3)


def _next_population(new: torch.Tensor, v: torch.Tensor, n_elite: int, n_shift: int, n_cross: int,
                     max_shift: int, gen: torch.Generator) -> torch.Tensor:
    W = new.shape[1]
    device = new.device
    elites = new[torch.topk(v, n_elite).indices]
    parts = [elites]
    if n_shift:
        half = n_shift // 2
        for sign in (-1, 1):
            rows = elites[torch.randint(0, n_elite, (half,), generator=gen, device=device)]
            amount = torch.randint(1, max_shift + 1, (half,), generator=gen, device=device)
            cols = (torch.arange(W, device=device)[None, :] - sign * amount[:, None]) % W
            parts.append(torch.gather(rows, 1, cols))
    if n_cross:
        fitness = torch.where(v >= 0, v + 1, torch.exp(v))
        n_pairs = (n_cross + 1) // 2
        parents = torch.multinomial(fitness / fitness.sum(), 2 * n_pairs, replacement=True, generator=gen)
        a, b = new[parents[:n_pairs]], new[parents[n_pairs:]]
        cut = torch.randint(0, W, (n_pairs, 1), generator=gen, device=device)
        left = torch.arange(W, device=device)[None, :] < cut
        children = torch.cat([torch.where(left, a, b), torch.where(left, b, a)])[:n_cross]
        parts.append(children)
    return torch.cat(parts)
