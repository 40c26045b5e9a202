"""Options shared by several subcommands, so they read the same everywhere."""
from __future__ import annotations

import argparse


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="where to run the model (default: auto = cuda when available, else cpu)")


def add_seed(p: argparse.ArgumentParser, default: int = 0) -> None:
    p.add_argument("--seed", type=int, default=default, help=f"random seed (default: {default})")


def add_batch_size(p: argparse.ArgumentParser, default: int = 128) -> None:
    p.add_argument("--batch-size", type=int, default=default, help=f"sequences per batch (default: {default})")


def split_list(text: str | None) -> list[str]:
    """'a,b, c' -> ['a', 'b', 'c']; None or '' -> []."""
    return [t.strip() for t in (text or "").split(",") if t.strip()]
