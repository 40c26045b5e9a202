"""Readers: every file a command takes as attributions or motifs is read through here.

Reader contract (napari-style, entry-point group ``wtko_captum.readers``): a function
``read(path) -> object`` declared with :func:`wtko_captum.core.registry.reader`, whose
``claim(path) -> bool`` says cheaply (file names, a header) whether it reads ``path``.
:func:`read` asks the readers of the wanted kind in turn and uses the first that claims the
path. Built-in attribution readers (this module):

``attribution_set``  a directory written by us (``meta.json`` with our format tag).
``npz_pair``         a modisco-style pair of arrays: ``X.npz``/``ohe.npz`` (one-hot) and
                     ``attr.npz``/``shap.npz``/... (scores), ``.npz`` or ``.npy``, given as the
                     directory holding them or as the scores file; an optional ``*.bed`` in the
                     same directory (one row per sequence, BED3+) supplies the regions.
``torch_tensors``    tangermeme outputs saved with ``torch.save`` (loaded with
                     ``weights_only=True``): a ``(X, attr)`` tuple, a dict with ``X``/``attr``
                     keys, or an attribution tensor with its one-hot saved next to it
                     (``X.pt``/``ohe.pt``).
``hdf5``             an HDF5 file (``.h5``/``.hdf5``): a complete ``wtko attribute`` store, or
                     the documented layout: datasets ``X`` (one-hot) and ``attr`` (scores), each
                     ``(N, 4, L)`` or ``(N, L, 4)``; optional 1-D datasets ``chrom``, ``start``,
                     ``end``, ``name`` (one per sequence; 0-based half-open windows); optional
                     file attributes ``method`` (str) and ``hypothetical`` (bool).

Motif readers (MEME, JASPAR, HOMER, motif tables) live beside their writers in
``track_exporters``; modisco results are read by the modisco plugin.

Arrays in ``(N, L, 4)`` layout (what modisco and TF-MoDISco tutorials often save) are detected,
transposed to ``(N, 4, L)`` and the log says so.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from wtko_captum.core.errors import InputError
from wtko_captum.core.registry import get_registry, reader

log = logging.getLogger("wtko_captum.readers")

X_NAMES = ("x", "ohe", "onehot", "one_hot", "seqs", "sequences", "seq", "inputs")
ATTR_NAMES = ("attr", "attrs", "attribution", "attributions", "shap", "scores", "contrib",
              "contrib_scores", "hyp_scores", "hypothetical", "deeplift", "saliency", "ism")
ARRAY_SUFFIXES = (".npz", ".npy")
TORCH_SUFFIXES = (".pt", ".pth", ".torch")
HDF5_SUFFIXES = (".h5", ".hdf5")


# ---- helpers ----------------------------------------------------------------------------------
def orient(arr, name: str = "array", source=None) -> np.ndarray:
    """``(N, 4, L)`` float32 from ``(N, 4, L)`` or ``(N, L, 4)`` (transposed, logged).

    A ``(4, L)``/``(L, 4)`` single sequence gets a batch axis. When both axes are 4 the array
    is taken as ``(N, 4, L)``.
    """
    arr = np.asarray(arr, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or 4 not in arr.shape[1:]:
        raise InputError(f"{name} must be (N, 4, L) or (N, L, 4) with alphabet A,C,G,T, got shape "
                         f"{arr.shape}", path=source)
    if arr.shape[1] != 4:
        log.info("%s%s is (N, L, 4) = %s: transposed to (N, 4, L)",
                 f"{source}: " if source else "", name, arr.shape)
        arr = np.ascontiguousarray(arr.transpose(0, 2, 1))
    return arr


def is_onehot(arr: np.ndarray) -> bool:
    """Every value 0 or 1 and at most one 1 per column (N columns are all zero)."""
    arr = np.asarray(arr)
    if arr.size == 0:
        return False
    if not np.isin(arr, (0, 1)).all():
        return False
    ax = 1 if arr.shape[1] == 4 else 2
    return bool((arr.sum(axis=ax) <= 1).all())


def _load_array(path: Path) -> np.ndarray:
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    with np.load(path, allow_pickle=False) as data:
        key = "arr_0" if "arr_0" in data.files else data.files[0]
        return np.asarray(data[key])


def _stem(path: Path) -> str:
    return path.name.split(".")[0].lower()


def _default_regions(n: int, length: int) -> pd.DataFrame:
    return pd.DataFrame({"chrom": [f"seq{i}" for i in range(n)], "start": 0, "end": length,
                         "name": [f"seq{i}" for i in range(n)]})


def _regions_for(folder: Path, n: int, length: int) -> tuple[pd.DataFrame, str | None]:
    """Regions from the one ``*.bed`` in ``folder`` (``regions.bed`` preferred), else synthetic."""
    from wtko_captum.core.attribution_set import read_regions_bed

    beds = sorted(folder.glob("*.bed"))
    if (folder / "regions.bed").is_file():
        beds = [folder / "regions.bed"]
    if not beds:
        return _default_regions(n, length), None
    if len(beds) > 1:
        raise InputError(f"several BED files next to the arrays ({', '.join(b.name for b in beds)}); "
                         "keep one, or name it regions.bed", path=folder)
    regions = read_regions_bed(beds[0])
    if len(regions) != n:
        raise InputError(f"{len(regions)} regions for {n} sequences", path=beds[0])
    widths = (regions["end"] - regions["start"]).to_numpy()
    if (widths != length).any():
        log.info("%s: some regions are not %d bp wide; position i maps to start + i", beds[0], length)
    return regions, str(beds[0])


def _pair(X, attr, source) -> tuple[np.ndarray, np.ndarray]:
    X = orient(X, "one-hot", source)
    attr = orient(attr, "attributions", source)
    if X.shape != attr.shape:
        raise InputError(f"one-hot {X.shape} and attributions {attr.shape} differ in shape", path=source)
    return X, attr


def _classify(files: list[Path], load) -> tuple[Path, Path] | None:
    """``(x_file, attr_file)`` among ``files`` by name, falling back to content (one-hot or not)."""
    xs = [f for f in files if _stem(f) in X_NAMES]
    attrs = [f for f in files if _stem(f) in ATTR_NAMES]
    if len(xs) == 1 and len(attrs) == 1:
        return xs[0], attrs[0]
    if len(files) == 2:
        a, b = files
        oa, ob = is_onehot(load(a)), is_onehot(load(b))
        if oa != ob:
            return (a, b) if oa else (b, a)
    return None


def _build(X, attr, regions, method, source, hypothetical=None, extra=None):
    from wtko_captum.core.attribution_set import AttributionSet

    if hypothetical is None:
        # projected scores are zero wherever the base is not observed
        hypothetical = bool(np.any(attr * (1 - X) != 0))
    ex = {"source": str(source), **(extra or {})}
    return AttributionSet(X, attr, regions, method, hypothetical, None, {}, None, [], ex)


# ---- readers ------------------------------------------------------------------------------------
def _is_attribution_set(path) -> bool:
    import json

    from wtko_captum.core.attribution_set import ATTRSET_FORMAT

    meta = Path(path) / "meta.json"
    if not meta.is_file():
        return False
    try:
        return json.loads(meta.read_text()).get("format") == ATTRSET_FORMAT
    except ValueError:
        return False


@reader(kind="attributions", claim=_is_attribution_set,
        description="an attribution directory written by wtko (X.npz, attr.npz, regions.bed, meta.json)")
def read_attribution_set(path):
    """A directory written by :meth:`AttributionSet.save`."""
    from wtko_captum.core.attribution_set import AttributionSet

    return AttributionSet.load(path)


def _claims_npz_pair(path) -> bool:
    path = Path(path)
    if path.is_dir():
        return (not (path / "meta.json").is_file()
                and sum(p.suffix in ARRAY_SUFFIXES for p in path.iterdir()) >= 2)
    return path.is_file() and path.suffix in ARRAY_SUFFIXES and _stem(path) not in X_NAMES


@reader(kind="attributions", claim=_claims_npz_pair,
        description="a one-hot + scores pair of .npz/.npy arrays (modisco style), optional regions BED")
def read_npz_pair(path):
    """A modisco-style one-hot + scores pair of ``.npz``/``.npy`` files (with an optional BED)."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    files = sorted(p for p in folder.iterdir() if p.suffix in ARRAY_SUFFIXES)
    cache = {}

    def load(p):
        if p not in cache:
            cache[p] = _load_array(p)
        return cache[p]

    if path.is_file():
        others = [f for f in files if f != path and _stem(f) in X_NAMES]
        if len(others) != 1:
            others = [f for f in files if f != path and is_onehot(load(f))]
        if len(others) != 1:
            raise InputError("cannot tell which file next to it holds the one-hot sequences "
                             "(name it X.npz or ohe.npz)", path=path)
        x_file, a_file = others[0], path
    else:
        pair = _classify(files, load)
        if pair is None:
            raise InputError(f"cannot pair the arrays {', '.join(f.name for f in files)}: name them "
                             "X.npz (one-hot) and attr.npz (scores)", path=path)
        x_file, a_file = pair
    X, attr = _pair(load(x_file), load(a_file), a_file)
    regions, bed = _regions_for(folder, len(X), X.shape[-1])
    return _build(X, attr, regions, _stem(a_file), a_file,
                  extra={"x_file": x_file.name, "attr_file": a_file.name, "regions_file": bed})


def _claims_torch(path) -> bool:
    path = Path(path)
    if path.is_dir():
        return not (path / "meta.json").is_file() and any(p.suffix in TORCH_SUFFIXES for p in path.iterdir())
    return path.is_file() and path.suffix in TORCH_SUFFIXES


@reader(kind="attributions", claim=_claims_torch,
        description="tangermeme tensors saved with torch.save (read with weights_only=True)")
def read_torch_tensors(path):
    """tangermeme results saved with ``torch.save`` (read with ``weights_only=True``)."""
    import torch

    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in TORCH_SUFFIXES)
        folder = path
        attr_files = [f for f in files if _stem(f) not in X_NAMES]
        if len(attr_files) != 1:
            raise InputError(f"expected one attribution tensor file, found "
                             f"{', '.join(f.name for f in attr_files) or 'none'}", path=path)
        main = attr_files[0]
    else:
        folder, main = path.parent, path

    def load(p):
        try:
            return torch.load(p, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise InputError(f"cannot load with torch.load(weights_only=True): "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                             path=p) from None

    def arr(t):
        return t.detach().float().numpy() if isinstance(t, torch.Tensor) else np.asarray(t, np.float32)

    obj = load(main)
    X = attr = None
    if isinstance(obj, dict):
        lower = {str(k).lower(): v for k, v in obj.items()}
        xk = [k for k in lower if k in X_NAMES]
        ak = [k for k in lower if k in ATTR_NAMES]
        if len(xk) != 1 or len(ak) != 1:
            raise InputError(f"dict keys {sorted(obj)}: expected one one-hot key ({', '.join(X_NAMES[:3])}) "
                             f"and one attribution key ({', '.join(ATTR_NAMES[:3])})", path=main)
        X, attr = arr(lower[xk[0]]), arr(lower[ak[0]])
    elif isinstance(obj, (tuple, list)) and len(obj) == 2 and all(isinstance(t, torch.Tensor) for t in obj):
        a, b = arr(obj[0]), arr(obj[1])
        X, attr = (a, b) if is_onehot(a) or not is_onehot(b) else (b, a)
    elif isinstance(obj, torch.Tensor):
        attr = arr(obj)
        xs = [p for p in folder.iterdir() if p.suffix in TORCH_SUFFIXES + ARRAY_SUFFIXES
              and _stem(p) in X_NAMES and p != main]
        if len(xs) != 1:
            raise InputError("an attribution tensor alone: save the one-hot next to it as X.pt "
                             "(torch.save(X, 'X.pt')) or pass a (X, attr) tuple", path=main)
        xo = load(xs[0]) if xs[0].suffix in TORCH_SUFFIXES else _load_array(xs[0])
        X = arr(xo)
    else:
        raise InputError(f"unrecognised torch.save contents ({type(obj).__name__})", path=main)
    X, attr = _pair(X, attr, main)
    regions, bed = _regions_for(folder, len(X), X.shape[-1])
    return _build(X, attr, regions, _stem(main), main, extra={"regions_file": bed})


def _claims_hdf5(path) -> bool:
    path = Path(path)
    if not (path.is_file() and path.suffix.lower() in HDF5_SUFFIXES):
        return False
    with open(path, "rb") as fh:
        return fh.read(8) == b"\x89HDF\r\n\x1a\n"


@reader(kind="attributions", claim=_claims_hdf5,
        description="HDF5: a complete wtko attribute store, or datasets X and attr (+ chrom/start/end/name)")
def read_hdf5(path):
    """An HDF5 file in the layout documented in this module, or a complete attribution store."""
    import h5py

    from wtko_captum.core.store import STORE_FORMAT

    path = Path(path)
    with h5py.File(path, "r") as h5:
        if h5.attrs.get("format") == STORE_FORMAT:
            return _read_store(path)
        missing = [k for k in ("X", "attr") if k not in h5]
        if missing:
            raise InputError(f"HDF5 file lacks dataset(s) {', '.join(missing)}; expected X (one-hot) and "
                             f"attr (scores), (N, 4, L) or (N, L, 4); found: {', '.join(h5.keys()) or 'none'}",
                             path=path)
        X, attr = _pair(h5["X"][()], h5["attr"][()], path)
        regions = _default_regions(len(X), X.shape[-1])
        cols = [k for k in ("chrom", "start", "end", "name") if k in h5]
        for k in cols:
            values = h5[k][()]
            if len(values) != len(X):
                raise InputError(f"dataset {k} has {len(values)} rows for {len(X)} sequences", path=path)
            regions[k] = [v.decode() if isinstance(v, bytes) else v for v in values]
        method = h5.attrs.get("method", path.stem)
        hyp = h5.attrs.get("hypothetical")
    method = method.decode() if isinstance(method, bytes) else str(method)
    return _build(X, attr, regions, method, path, hypothetical=None if hyp is None else bool(hyp))


def _read_store(path):
    from wtko_captum.core.store import AttributionStore

    with AttributionStore.open(path, mode="r") as store:
        if not store.complete:
            raise InputError(f"attribution store is incomplete ({int(store.done.sum())} of {len(store)} "
                             "rows done): finish it by re-running `wtko attribute` with the same arguments",
                             path=path)
        return store.to_attribution_set()


# ---- dispatch -----------------------------------------------------------------------------------
def read(path, *, kind: str | None = None, reader: str | None = None):
    """Read ``path`` with the named reader, or the first installed reader of ``kind`` that
    claims it (``"attributions"`` -> AttributionSet, ``"motifs"`` -> ``{key: (4, W)}``).

    Already-read objects pass through unchanged (an AttributionSet, a motif dict), so library
    functions can take either a path or the object. Raises :class:`InputError` when no reader
    claims the path (listing those tried).
    """
    from wtko_captum.core.attribution_set import AttributionSet

    if isinstance(path, AttributionSet) and kind in (None, "attributions"):
        return path
    if isinstance(path, dict) and kind in (None, "motifs"):
        return path
    path = Path(path)
    if not path.exists():
        raise InputError("no such file or directory", path=path)
    reg = get_registry()
    names = [reader] if reader else _ordered(reg.names("readers"))
    tried = []
    for name in names:
        func = reg.get("readers", name)
        info = getattr(func, "wtko_info", None)
        if info is None or (kind is not None and info.kind != kind):
            continue
        tried.append(name)
        if reader or info.claim(path):
            result = func(path)
            log.debug("%s read by the %s reader", path, name)
            if isinstance(result, AttributionSet):
                result.extra.setdefault("reader", name)
                result.extra.setdefault("source", str(path))
            return result
    what = {"attributions": "attributions", "motifs": "motifs", None: "input"}.get(kind, kind)
    raise InputError(f"no reader recognises this as {what} (tried: {', '.join(tried) or 'none installed'})",
                     path=path)


def read_attributions(path, *, reader: str | None = None):
    """:func:`read` with ``kind="attributions"``: an :class:`AttributionSet`."""
    return read(path, kind="attributions", reader=reader)


def _ordered(names: list[str]) -> list[str]:
    """Our own strict readers first, then the rest alphabetically."""
    first = [n for n in ("attribution_set", "hdf5") if n in names]
    return first + [n for n in names if n not in first]
