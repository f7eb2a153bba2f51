"""Contract adapters the prologue's blocks share."""

from __future__ import annotations

import torch


def _randint(gen: torch.Generator, lo: int, hi: int) -> int:
    """A random integer in [lo, hi] (both included), drawn from ``gen`` only."""
    return int(torch.randint(lo, hi + 1, (1,), generator=gen))
