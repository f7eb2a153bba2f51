"""``{slug}.scale``: contract adapter, known mistakes, a table of cases, registration.

Replace with the chapter's first block; keep this shape (readable top to bottom).
"""

from __future__ import annotations

import torch

from autograder.checks.spec import Case, Step, register_pair
from course import {slug} as ref

# Known mistakes: a wrong variant the feedback recognises and names.
MISTAKES = {
    "dividing by the factor instead of multiplying": lambda x, factor: x / factor,
}


def cases(gen: torch.Generator, device: str, visible: bool = False):
    """Literal edge cases first, then random ones drawn from ``gen`` (never global RNG)."""
    table = [((1,), torch.float32, 2.0), ((3, 1, 4), torch.float64, -0.5)]
    if not visible:
        table += [((2, 5), torch.bfloat16, 3.0), ((7,), torch.float32, 1.5)]
    for shape, dtype, factor in table:
        x = torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype)
        grad = (0,) if dtype != torch.bfloat16 and not visible else ()
        yield Case(
            f"x{shape} {str(dtype)[6:]}, factor {factor}",
            [Step((x, factor))],
            grad_wrt=grad,
            device=device,
        )


# the visible check "{slug}.scale.visible" (cases(..., visible=True)) and the hidden "{slug}.scale"
register_pair(
    name="{slug}.scale",
    target="scale",
    reference=ref.scale,
    cases=cases,
    misconceptions=MISTAKES,
)
