"""Readers: bring attributions made elsewhere in as an :class:`AttributionSet`.

Reader contract (napari-style): ``read(path) -> AttributionSet`` when the reader recognises
``path``, ``None`` to decline. Readers are plugins in the ``wtko_captum.core.readers`` entry-point
group; :func:`read_attributions` tries every installed reader and uses the first that claims
the path. Built-in readers:

``attribution_set``  a directory written by us (``meta.json`` with our format tag).
``npz_pair``         a modisco-style pair of arrays: ``X.npz``/``ohe.npz`` (one-hot) and
                     ``attr.npz``/``shap.npz``/... (scores), ``.npz`` or ``.npy``, given as the
                     directory holding them or as the scores file; an optional ``*.bed`` in the
                     same directory (one row per sequence, BED3+) supplies the regions.
``torch_tensors``    tangermeme outputs saved with ``torch.save`` (loaded with
                     ``weights_only=True``): a ``(X, attr)`` tuple, a dict with ``X``/``attr``
                     keys, or an attribution tensor with its one-hot saved next to it
                     (``X.pt``/``ohe.pt``).

Arrays in ``(N, L, 4)`` layout (what modisco and TF-MoDISco tutorials often save) are detected,
transposed to ``(N, 4, L)`` and the log says so.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from wtko_captum.core.errors import InputError

log = logging.getLogger("wtko_captum.readers")

X_NAMES = ("x", "ohe", "onehot", "one_hot", "seqs", "sequences", "seq", "inputs")
ATTR_NAMES = ("attr", "attrs", "attribution", "attributions", "shap", "scores", "contrib",
              "contrib_scores", "hyp_scores", "hypothetical", "deeplift", "saliency", "ism")
ARRAY_SUFFIXES = (".npz", ".npy")
TORCH_SUFFIXES = (".pt", ".pth", ".torch")


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
def read_attribution_set(path):
    """A directory written by :meth:`AttributionSet.save` (``meta.json`` with our format tag)."""
    import json

    from wtko_captum.core.attribution_set import ATTRSET_FORMAT, AttributionSet

    path = Path(path)
    meta = path / "meta.json"
    if not (path.is_dir() and meta.is_file()):
        return None
    try:
        if json.loads(meta.read_text()).get("format") != ATTRSET_FORMAT:
            return None
    except ValueError:
        return None
    return AttributionSet.load(path)


def read_npz_pair(path):
    """A modisco-style one-hot + scores pair of ``.npz``/``.npy`` files (with an optional BED)."""
    path = Path(path)
    if path.is_dir():
        if (path / "meta.json").is_file():
            return None  # ours: the attribution_set reader's
        folder, files = path, sorted(p for p in path.iterdir() if p.suffix in ARRAY_SUFFIXES)
        if len(files) < 2:
            return None
    elif path.is_file() and path.suffix in ARRAY_SUFFIXES:
        folder = path.parent
        files = sorted(p for p in folder.iterdir() if p.suffix in ARRAY_SUFFIXES)
        if _stem(path) in X_NAMES:
            return None
    else:
        return None
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


def read_torch_tensors(path):
    """tangermeme results saved with ``torch.save`` (read with ``weights_only=True``)."""
    import torch

    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in TORCH_SUFFIXES)
        if not files or (path / "meta.json").is_file():
            return None
        folder = path
        attr_files = [f for f in files if _stem(f) not in X_NAMES]
        if len(attr_files) != 1:
            raise InputError(f"expected one attribution tensor file, found "
                             f"{', '.join(f.name for f in attr_files) or 'none'}", path=path)
        main = attr_files[0]
    elif path.is_file() and path.suffix in TORCH_SUFFIXES:
        folder, main = path.parent, path
    else:
        return None

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


def read_attributions(path, *, reader: str | None = None):
    """Read attributions from ``path`` with the named reader, or the first installed reader
    that claims it.

    Raises :class:`InputError` when no reader claims the path (listing the readers tried).
    """
    from wtko_captum.core.registry import get_registry

    path = Path(path)
    if not path.exists():
        raise InputError("no such file or directory", path=path)
    reg = get_registry()
    names = [reader] if reader else _ordered(reg.names("readers"))
    for name in names:
        result = reg.get("readers", name)(path)
        if result is not None:
            log.debug("%s read by the %s reader", path, name)
            result.extra.setdefault("reader", name)
            return result
    raise InputError(f"no reader recognises this (tried: {', '.join(names) or 'none installed'}); "
                     "expected an attribution directory, an X.npz + attr.npz pair, or torch.save "
                     "tensors", path=path)


def _ordered(names: list[str]) -> list[str]:
    """Our own strict reader first, then the rest alphabetically."""
    first = [n for n in ("attribution_set",) if n in names]
    return first + [n for n in names if n not in first]
