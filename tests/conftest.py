"""Shared fixtures: seeded data, tiny models, an isolated plugin registry, devices."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

DATA = Path(__file__).parent / "data"

# Test models are tiny: intra-op threads buy nothing, and on a shared 2-core machine the
# thread pool's spin-waiting made a 10-sequence backward pass ~200x slower (measured).
torch.set_num_threads(1)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """One torch thread for every test, again: numba's OpenMP threading layer shares the
    OpenMP thread count with torch, and libraries that set numba's thread count and restore
    it (memelite's Tomtom, tangermeme's shuffles) leave torch on numba's default (all cores).
    A model trained in a fixture after such a test then rounds differently (it made
    ``test_integrated_gradients_completeness[shuffle]`` fail in the whole suite only)."""
    torch.set_num_threads(1)


@pytest.fixture
def data_dir() -> Path:
    """tests/data: real files copied from public sources (provenance in tests/data/README.md)."""
    return DATA


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def random_onehot(n: int, length: int, seed: int = 0) -> np.ndarray:
    """Seeded random one-hot ``(n, 4, length)`` float32."""
    r = np.random.default_rng(seed)
    idx = r.integers(0, 4, size=(n, length))
    return np.eye(4, dtype=np.float32)[idx].transpose(0, 2, 1).copy()


@pytest.fixture
def small_onehot():
    return random_onehot(8, 120, seed=1)


@pytest.fixture
def tiny_wtko():
    """A WTKO-CNN with random (seeded) weights on 120 bp input, eval mode, BN stats randomised."""
    from attr_helpers import make_model

    return make_model(length=120, seed=0)


@pytest.fixture
def registry():
    """An isolated copy of the plugin registry: what a test registers does not leak."""
    from wtko_captum.core.registry import get_registry, use_registry

    reg = get_registry().copy()
    with use_registry(reg):
        yield reg


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request):
    """Runs a test on CPU and, when present, on CUDA."""
    return request.param


# ---- simulated end-to-end runs (simulate -> prepare -> train), built once per session ----
# Small and fast (~10 s each on one core): 600 sequences per class of 200 bp, a WTKO-CNN
# with 32 filters per conv layer, 10 epochs. Test auROC is ~0.95 for both.
SIM_TRAIN = dict(epochs=10, patience=4, batch_size=32, accumulation=1, lr=3e-3, device="cpu", verbose=False,
                 model_options=dict(n_filters=32, n_filters2=32, hidden=32))


def _simulated_run(root: Path, preset: str, n: int = 600, length: int = 200, seed: int = 0) -> dict:
    from wtko_captum.preparation.prepare import prepare
    from wtko_captum.preparation.simulate import simulate
    from wtko_captum.training.train import train

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # threads spin against each other on a busy 2-core machine
    try:
        sim = simulate(preset, root / "sim", n=n, length=length, seed=seed)
        prepare(root / "data", wt=[sim["wt"]], ko=[sim["ko"]], width=length, seed=seed)
        model = train(root / "data", root / "model", seeds=(seed,), **SIM_TRAIN)
    finally:
        torch.set_num_threads(threads)
    return dict(sim=sim["dir"], data=root / "data", model=model, truth=sim["motifs"], genome=sim["genome"],
                chrom_sizes=sim["chrom_sizes"])


@pytest.fixture(scope="session")
def two_motif_run(tmp_path_factory) -> dict:
    """``dict(sim=, data=, model=, truth=, genome=, chrom_sizes=)`` paths of a trained two-motif
    run: WT sequences carry KLF4 (MA0039.4), KO sequences FOS::JUN (MA0099.3); 200 bp windows
    on synthetic chr1..chr10 (test chr6,7; val chr8). ``model`` is model.pt, ``truth`` motifs.tsv."""
    return _simulated_run(tmp_path_factory.mktemp("two_motif_run"), "two-motif")


@pytest.fixture(scope="session")
def agentbind_run(tmp_path_factory) -> dict:
    """Like ``two_motif_run`` for the agentbind preset: GATA1 (MA0035.4) at the centre of every
    sequence, 1-3 TAL1::TCF3 (MA0091.1) sites in WT (positives) only."""
    return _simulated_run(tmp_path_factory.mktemp("agentbind_run"), "agentbind")
