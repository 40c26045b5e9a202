"""Backward demixing: split a neuron's samples by what its max-pools chose.

A max-pool of window k passes on the largest of k positions, so one deep neuron responds to a
motif at k shifts (or to k different motifs) the same way; stacking its samples blurs them.
The input of the pool tells the cases apart: it differs with the position the motif is at.

From the deepest max-pool of the substructure to the first: the pool's input feature maps
within the substructure, flattened, are clustered by k-means into ``k = window x groups``
clusters (weighted by the neuron's activation, as in the paper), and each cluster is split
again at the next shallower pool. A cluster of ``min_size`` (50) sequences or fewer, or fewer
than k, is not split further.
"""
from __future__ import annotations

import warnings

import numpy as np

from wtko_captum.motifs.neurons.sampling import Samples
from wtko_captum.motifs.neurons.substructure import Substructure

MIN_SIZE = 50


def demix(sub: Substructure, samples: Samples, *, groups: int = 1, min_size: int = MIN_SIZE, seed: int = 0,
          n_init: int = 3) -> list[np.ndarray]:
    """Split the samples of one neuron into clusters.

    Parameters
    ----------
    sub : Substructure
    samples : Samples
    groups : int
        Pattern groups per pool position: k-means uses ``k = pool window x groups`` (a neuron
        that recognises several motifs at each position needs more than the window).
    min_size : int
        Clusters of at most this many sequences are not split.
    seed, n_init : int
        k-means seed and restarts.

    Returns
    -------
    list of ndarray
        Indices into ``samples`` of each cluster (non-empty, deepest split first, each sorted).
        One cluster with every sample when the substructure has no max-pool.
    """
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    X = samples.onehot()
    pools = list(reversed(sub.pools))  # deepest first

    def split(index: np.ndarray, depth: int) -> list[np.ndarray]:
        if depth == len(pools):
            return [index]
        k = pools[depth].kernel * groups
        if len(index) <= min_size or len(index) < k:
            return [index]
        maps = sub.pool_maps(X[index], pools[depth].call)
        km = KMeans(n_clusters=k, n_init=n_init, random_state=seed)
        with warnings.catch_warnings():
            # fewer distinct feature maps than k (a neuron with fewer facets): empty clusters go
            warnings.simplefilter("ignore", ConvergenceWarning)
            labels = km.fit_predict(maps, sample_weight=np.clip(samples.values[index], 1e-12, None))
        out = []
        for c in range(k):
            members = index[labels == c]
            if len(members):
                out += split(members, depth + 1)
        return out

    if not len(samples.values):
        return []
    return split(np.arange(len(samples.values)), 0)


def stacked(samples: Samples) -> list[np.ndarray]:
    """No demixing: one cluster with every sample (what stacking the top sequences gives)."""
    return [np.arange(len(samples.values))] if len(samples.values) else []

