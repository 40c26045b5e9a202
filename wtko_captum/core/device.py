"""Choosing the torch device from ``auto|cpu|cuda``."""
from __future__ import annotations

import torch

from wtko_captum.core.errors import WtkoError


def resolve_device(device="auto") -> torch.device:
    """``auto`` -> cuda when available else cpu; ``cuda`` when absent is a clear error."""
    if isinstance(device, torch.device):
        device = device.type if device.index is None else str(device)
    device = (device or "auto").lower()
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise WtkoError("--device cuda requested but no CUDA device is available (use --device cpu or auto)")
    return torch.device(device)
