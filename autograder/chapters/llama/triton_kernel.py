"""``llama.rmsnorm_triton``: the fused RMSNorm kernel, graded on a launched Triton kernel and its values.

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

from autograder.chapters.llama._common import _randn, rmsnorm_triton
from autograder.checks.spec import Case, Step, register_pair


def _triton_cases(gen, device, visible=False):
    n = 1 if visible else 4
    for i in range(n):
        rows, d = [4, 1, 7, 3][i], [64, 33, 128, 1000][i]
        x = _randn(gen, rows, d, scale=[1, 1e-3, 3, 1][i])
        w = 1 + 0.2 * _randn(gen, d)
        eps = [1e-6, 0.1, 1e-5, 1e-6][i]
        yield Case(f"x({rows}, {d}), eps={eps:g}", [Step((x, w, eps))], device=device)


register_pair(
    name="llama.rmsnorm_triton",
    target="rmsnorm_triton",
    reference=rmsnorm_triton,
    cases=_triton_cases,
    must_launch_triton=True,
)
