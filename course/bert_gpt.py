"""Reference implementations for chapter 01-bert-gpt (BERT and GPT).

Each block states its shapes and is proven against an independent oracle in
``tests/test_bert_gpt_oracles.py``; the checks in ``autograder/checks/bert_gpt/`` grade students against it.
"""

from __future__ import annotations

import torch


def scale(x: torch.Tensor | float, factor: float) -> torch.Tensor | float:
    """``x * factor`` (any shape). Replace with the chapter's first block."""
    return x * factor
