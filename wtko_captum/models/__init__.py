"""Model architectures, found through the ``wtko_captum.models`` entry-point group.

Any ``nn.Module`` whose forward maps ``(N, 4, L)`` to ``(N, n_outputs)`` works with the
attribution methods; registered architectures additionally build from a plain config dict
(``Model(**config)``) so checkpoints can describe them as data.
"""
from __future__ import annotations

from wtko_captum.core.registry import get_registry


def architectures() -> list[str]:
    """Names of the registered architectures."""
    return get_registry().names("models")


def build_model(name: str, **config):
    """Instantiate the registered architecture ``name`` with ``config``."""
    cls = get_registry().get("models", name)
    return cls(**config)
