"""Shared by the foundation-model checks: random helpers.

The student-facing contracts are the references' own signatures (course/foundation/, proven
against open_clip, Hugging Face and openai-whisper in tests/test_foundation_oracles.py).
"""

from __future__ import annotations

import torch

from autograder.checks.spec import rand_int


def _rf(gen: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=gen))


def _randn(gen, *shape, scale=1.0, dtype=torch.float32):
    return (torch.randn(shape, generator=gen, dtype=torch.float64) * scale).to(dtype)


_ri = rand_int
