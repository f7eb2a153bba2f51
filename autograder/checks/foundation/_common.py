"""Shared by the foundation-model checks: random helpers and the visible/hidden registration pair.

The student-facing contracts are the references' own signatures (course/foundation/, proven
against open_clip, Hugging Face and openai-whisper in tests/test_foundation_oracles.py).
"""

from __future__ import annotations

import torch

from autograder.checks.spec import Check, register


def _ri(gen: torch.Generator, lo: int, hi: int) -> int:
    """A uniform integer in [lo, hi] drawn from ``gen``."""
    return int(torch.randint(lo, hi + 1, (1,), generator=gen))


def _rf(gen: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=gen))


def _randn(gen, *shape, scale=1.0, dtype=torch.float32):
    return (torch.randn(shape, generator=gen, dtype=torch.float64) * scale).to(dtype)


def _both(name, target, reference, cases, **kw):
    """Register ``name.visible`` (cases(..., visible=True)) and the hidden ``name``."""
    register(
        Check(
            name=f"{name}.visible",
            target=target,
            reference=reference,
            cases=lambda g, d: cases(g, d, visible=True),
            visible=True,
            **kw,
        )
    )
    register(Check(name=name, target=target, reference=reference, cases=cases, **kw))
