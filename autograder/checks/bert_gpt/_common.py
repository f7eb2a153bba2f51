"""Shared by the BERT/GPT checks: random helpers, the visible/hidden registration pair, and the
map of graded sub-blocks inside composite blocks.

The student-facing contracts are the reference's own signatures (course/bert_gpt.py, proven
against torch and Hugging Face in tests/test_bert_gpt_oracles.py), so the references are
registered directly.
"""

from __future__ import annotations

import torch

from autograder.checks.compare import DEFAULT_TOL
from autograder.checks.spec import Check, register

#: tolerances: bfloat16 attention and LayerNorm stacks carry ~1e-2 of their scale
TOL = {**DEFAULT_TOL, torch.bfloat16: (3e-2, 3e-2)}

#: One mistake, one deduction: for each composite check, the attribute paths (globs) of graded
#: sub-blocks in the student's module and the check whose reference replaces them while grading.
#: (Kept here until spec.Check has a ``submodules`` field; then passed to each Check.)
SUBMODULES: dict[str, dict[str, str]] = {
    "bert_gpt.mha": {"sdpa": "bert_gpt.sdpa"},
    "bert_gpt.encoder_layer": {"self_attn": "bert_gpt.mha"},
    "bert_gpt.bert_model": {
        "embeddings": "bert_gpt.embeddings",
        "layers.*": "bert_gpt.encoder_layer",
    },
    "bert_gpt.decoder_block": {"self_attn": "bert_gpt.mha"},
    "bert_gpt.gpt2": {"layers.*": "bert_gpt.decoder_block"},
    "bert_gpt.generate": {"layers.*": "bert_gpt.decoder_block"},
}


def _ri(gen: torch.Generator, lo: int, hi: int) -> int:
    """An int in [lo, hi] drawn from ``gen``."""
    return int(torch.randint(lo, hi + 1, (1,), generator=gen))


def _randn(gen: torch.Generator, *shape, scale: float = 1.0, dtype=torch.float32) -> torch.Tensor:
    return (torch.randn(shape, generator=gen) * scale).to(dtype)


def _both(name: str, target: str, reference, cases, **kw) -> None:
    """Register the visible check (``name.visible``) and the hidden one (``name``)."""
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
