"""Reference implementations for chapter 07-modern-llms (Modern LLM variants).

Each block states its shapes and is proven against an independent oracle in
``tests/test_modern_llms_oracles.py``; the checks in ``autograder/checks/modern_llms/`` grade students against it.
"""

from __future__ import annotations

import torch


def scale(x: torch.Tensor | float, factor: float) -> torch.Tensor | float:
    """``x * factor`` (any shape). Replace with the chapter's first block."""
    return x * factor
