"""Shared by the chapter 05-ssl checks: seeded random helpers and a comparison that names a
missing stop-gradient.

The student-facing contracts are the reference's own signatures (course/ssl_learning/blocks.py, proven
against Hugging Face ViTMAE, F.unfold, F.cross_entropy, nn.BatchNorm1d and float64 loops in
tests/test_ssl_learning_oracles.py).
"""

from __future__ import annotations

import torch

from autograder.checks.spec import rand_int
from coursekit.compare import DEFAULT_TOL
from coursekit.hooks import stop_gradient


def _randn(gen: torch.Generator, *shape, scale: float = 1.0, dtype=torch.float32):
    return (torch.randn(shape, generator=gen) * scale).to(dtype)


def _pick(gen: torch.Generator, options):
    return options[_ri(gen, 0, len(options) - 1)]


def _dt(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


#: bfloat16 losses go through exp/log and a normalisation: a little looser than the default
BF16 = {**DEFAULT_TOL, torch.bfloat16: (3e-2, 3e-2)}


def stop_gradient_compare(arg_names: dict[int, str]):
    """Compare as usual, but first name a gradient that reaches an argument behind a
    stop-gradient (``coursekit.hooks.stop_gradient``, shared with the kit)."""
    return stop_gradient(arg_names={str(k): v for k, v in arg_names.items()})


#: float64 results computed in float32 inside: float32's tolerance (the stop-gradient hook
#: uses the same rule: coursekit.hooks.FLOAT32_INSIDE_TOL)
FLOAT32_INSIDE = DEFAULT_TOL[torch.float32]


_ri = rand_int
