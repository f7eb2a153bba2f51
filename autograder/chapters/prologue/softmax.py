"""``prologue.softmax``: a numerically stable softmax over any axis.

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

import torch

from autograder.chapters.prologue._common import _randint
from autograder.checks.spec import Case, Step, register_pair
from course import prologue as ref
from coursekit.compare import DEFAULT_TOL


def _softmax_cases(gen, device, visible=False):
    # visible: float32, then bfloat16 (the dtype rule, shown on CPU)
    dtypes = (
        [torch.float32, torch.bfloat16]
        if visible
        else [torch.float32, torch.float64, torch.bfloat16]
    )
    n = 2 if visible else 10
    for i in range(n):
        rank = _randint(gen, 1, 4)
        shape = tuple(_randint(gen, 1, 9) for _ in range(rank))
        dim = _randint(gen, -rank, rank - 1)
        dtype = dtypes[i % len(dtypes)]
        scale = 1.0 if i % 2 == 0 else 500.0  # large logits overflow a naive exp
        x = (torch.randn(shape, generator=gen, dtype=torch.float64) * scale).to(dtype)
        grad = () if dtype == torch.bfloat16 or visible else (0,)
        yield Case(
            f"x{tuple(shape)} {str(dtype)[6:]}, scale {scale:g}, dim={dim}",
            [Step((x,), {"dim": dim})],
            grad_wrt=grad,
            device=device,
        )
    if not visible:
        # Edge cases: length-1 axis, a masked (-inf) entry, constant rows.
        yield Case(
            "length-1 axis", [Step((torch.randn(3, 1, generator=gen),), {"dim": -1})], device=device
        )
        x = torch.randn(2, 5, generator=gen)
        x[:, 1] = float("-inf")
        yield Case("row with a -inf (masked) entry", [Step((x,), {"dim": -1})], device=device)
        yield Case(
            "constant row of 1e4", [Step((torch.full((2, 6), 1e4),), {"dim": 1})], device=device
        )


def _naive_softmax(x, dim=-1):
    e = x.exp()
    return e / e.sum(dim=dim, keepdim=True)


def _last_dim_softmax(x, dim=-1):
    return ref.softmax(x, dim=-1)


_softmax_mistakes = {
    "softmax over the last axis instead of `dim`": _last_dim_softmax,
    "exp without subtracting the max first (overflow)": _naive_softmax,
}
# x - logsumexp(x) is a correct formulation that loses a few bits at |x| ~ 1e4 in float32.
_softmax_tol = {**DEFAULT_TOL, torch.float32: (5e-4, 1e-5)}
register_pair(
    name="prologue.softmax",
    target="softmax",
    reference=ref.softmax,
    cases=_softmax_cases,
    misconceptions=_softmax_mistakes,
    tol=_softmax_tol,
)
