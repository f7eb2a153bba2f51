"""``prologue.matmul_flops``: the FLOPs of an (m, k) @ (k, n) matrix product.

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

from autograder.chapters.prologue._common import _randint
from autograder.checks.spec import Case, Step, register_pair
from course import prologue as ref


def _flops_cases(gen, device, n=8):
    fixed = [(1, 1, 1), (1, 4096, 4096), (128, 256, 1)]
    for m, nn, k in fixed + [tuple(_randint(gen, 1, 5000) for _ in range(3)) for _ in range(n)]:
        yield Case(f"m={m}, n={nn}, k={k}", [Step((m, nn, k))])


register_pair(
    name="prologue.matmul_flops",
    target="matmul_flops",
    reference=ref.matmul_flops,
    cases=_flops_cases,
    visible_cases=lambda gen, device: _flops_cases(gen, device, n=1),
    misconceptions={
        "counting a multiply-add as one FLOP instead of two": lambda m, n, k: m * n * k
    },
)
