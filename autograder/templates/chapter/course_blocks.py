"""The graded blocks of chapter {chapter} ({title}): reference implementations.

Each block states its shapes and is proven against an independent oracle in
``tests/test_{slug}_oracles.py``; the checks in ``autograder/chapters/{slug}/`` grade students against it.
"""

from __future__ import annotations

import torch


def scale(x: torch.Tensor | float, factor: float) -> torch.Tensor | float:
    """``x * factor`` (any shape). Replace with the chapter's first block."""
    return x * factor
