"""Checks for the prologue assignment (solutions/00-prologue)."""

from __future__ import annotations

import torch

from autograder.checks.compare import DEFAULT_TOL
from autograder.checks.spec import Case, Check, Step, register
from autograder.checks.values import Sleeper
from course import prologue as ref
from coursekit.hooks import median_timing


def _randint(gen: torch.Generator, lo: int, hi: int) -> int:
    return int(torch.randint(lo, hi + 1, (1,), generator=gen))


# --- matmul_flops -----------------------------------------------------------------------------


def _flops_cases(gen, device, n=8):
    fixed = [(1, 1, 1), (1, 4096, 4096), (128, 256, 1)]
    for m, nn, k in fixed + [tuple(_randint(gen, 1, 5000) for _ in range(3)) for _ in range(n)]:
        yield Case(f"m={m}, n={nn}, k={k}", [Step((m, nn, k))])


register(
    Check(
        name="prologue.matmul_flops.visible",
        target="matmul_flops",
        reference=ref.matmul_flops,
        cases=lambda gen, device: _flops_cases(gen, device, n=1),
        visible=True,
        misconceptions={
            "counting a multiply-add as one FLOP instead of two": lambda m, n, k: m * n * k
        },
    )
)
register(
    Check(
        name="prologue.matmul_flops",
        target="matmul_flops",
        reference=ref.matmul_flops,
        cases=_flops_cases,
        misconceptions={
            "counting a multiply-add as one FLOP instead of two": lambda m, n, k: m * n * k
        },
    )
)


# --- softmax ----------------------------------------------------------------------------------


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
register(
    Check(
        name="prologue.softmax.visible",
        target="softmax",
        reference=ref.softmax,
        cases=lambda gen, device: _softmax_cases(gen, device, visible=True),
        visible=True,
        misconceptions=_softmax_mistakes,
    )
)
# x - logsumexp(x) is a correct formulation that loses a few bits at |x| ~ 1e4 in float32.
_softmax_tol = {**DEFAULT_TOL, torch.float32: (5e-4, 1e-5)}
register(
    Check(
        name="prologue.softmax",
        target="softmax",
        reference=ref.softmax,
        cases=_softmax_cases,
        misconceptions=_softmax_mistakes,
        tol=_softmax_tol,
    )
)


# --- time_fn ----------------------------------------------------------------------------------


def _timing_cases(gen, device, visible=False):
    settings = [(2, 5)] if visible else [(2, 5), (1, 3), (3, 4)]
    for warmup, iters in settings:
        warm = 0.01 + 0.005 * _randint(gen, 0, 1)
        fn = Sleeper(warm_s=warm, cold_s=0.1, cold_calls=warmup)
        yield Case(
            f"fn sleeping {warm:.3f} s (first {warmup} calls 0.1 s), warmup={warmup}, "
            f"iters={iters}",
            [Step((fn,), {"warmup": warmup, "iters": iters})],
        )


_compare_timing = median_timing()  # coursekit.hooks: shared with the kit


register(
    Check(
        name="prologue.time_fn.visible",
        target="time_fn",
        reference=lambda fn, **kw: None,
        cases=lambda gen, device: _timing_cases(gen, device, visible=True),
        compare=_compare_timing,
        visible=True,
    )
)
register(
    Check(
        name="prologue.time_fn",
        target="time_fn",
        reference=lambda fn, **kw: None,
        cases=_timing_cases,
        compare=_compare_timing,
    )
)
