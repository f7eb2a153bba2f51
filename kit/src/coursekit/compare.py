"""Compare a student's value with the reference and explain the difference in words."""

from __future__ import annotations

from typing import Any

import torch

# (rtol, atol) per dtype: loose enough for a correct implementation computed in another order,
# tight enough to catch a missing scale, a wrong eps or an off-by-one position.
DEFAULT_TOL: dict[torch.dtype, tuple[float, float]] = {
    torch.float64: (1e-7, 1e-9),
    torch.float32: (1e-4, 1e-5),
    torch.float16: (1e-2, 1e-3),
    torch.bfloat16: (2e-2, 1e-2),
}


def describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"tensor of shape {tuple(value.shape)} and dtype {str(value.dtype).removeprefix('torch.')}"
    return f"{type(value).__name__} {value!r}"[:120]


#: how far beyond the reference's own rounding error a correct answer may land
REFERENCE_ERROR_MARGIN = 10.0

#: what the atol is, said whenever the reference's float64 truth is known (widened or not, so
#: that the wording is the same on every machine). The rounding error is measured where the
#: reference ran: for the kit, on the machine that built its snapshots; for the grader, on the
#: grading machine, on its own cases. One rule, but a number that may differ in its last digits
#: between the two: printed with two significant digits, and not a threshold to tune an answer to.
ATOL_NOTE = (
    ": the larger of {floor:g} and {margin:g} times the reference's own float64 rounding error,"
    " measured where the reference ran"
)


def _widenable(expected: torch.Tensor, truth: Any) -> bool:
    return (
        isinstance(truth, torch.Tensor)
        and truth.shape == expected.shape
        and truth.is_floating_point()
        and expected.is_floating_point()
    )


def widened_atol(atol: float, expected: torch.Tensor, truth: Any) -> float:
    """``atol``, or ``REFERENCE_ERROR_MARGIN`` times the reference's own error when that is larger.

    ``truth`` is the reference computed in float64 on the same (already rounded) inputs: the
    distance between the reference and it is rounding the reference cannot avoid, so a correct
    answer written in another order may be off by a similar amount (a float32 angle at position
    2,000 carries ~6e-5; a bfloat16 attention ~1e-2 of its scale).
    """
    if not _widenable(expected, truth):
        return atol
    err = (expected.detach().cpu().double() - truth.detach().cpu().double()).abs()
    err = err[torch.isfinite(err)]
    return max(atol, REFERENCE_ERROR_MARGIN * float(err.max())) if err.numel() else atol


def diagnose(
    expected: Any, got: Any, tol=None, where: str = "output", truth: Any = None
) -> str | None:
    """None if ``got`` matches ``expected``; otherwise one explanation of what differs and where.

    With ``truth`` (the reference in float64 on the same inputs), the absolute tolerance grows to
    cover the reference's own rounding error (see :func:`widened_atol`).
    """
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return f"{where}: expected a {describe(expected)}, got {describe(got)}"
        if tuple(got.shape) != tuple(expected.shape):
            return f"{where}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}"
        if got.dtype != expected.dtype:
            want_dtype = str(expected.dtype).removeprefix("torch.")
            got_dtype = str(got.dtype).removeprefix("torch.")
            values = None
            if got.is_floating_point() and expected.is_floating_point():
                values = diagnose(expected, got.to(expected.dtype), tol, where, truth)
            if values is None and got.is_floating_point():
                return (
                    f"{where}: the values are right but the dtype is {got_dtype}, not "
                    f"{want_dtype}: cast the result back to the input's dtype at the end (a "
                    f"{want_dtype} tensor times a float32 one promotes to float32)"
                )
            return (
                f"{where}: expected dtype {want_dtype}, got {got_dtype} (compute in float32 if "
                "you need to, then cast back to the input's dtype)"
            )
        if expected.dtype == torch.bool or not expected.is_floating_point():
            bad = got.cpu() != expected.cpu()
            if bad.any():
                idx = tuple(int(i) for i in bad.nonzero()[0])
                return (
                    f"{where}: {int(bad.sum())} of {bad.numel()} values differ; first at index "
                    f"{idx}: expected {expected[idx].item()}, got {got[idx].item()}"
                )
            return None
        rtol, floor = (tol or DEFAULT_TOL).get(expected.dtype, DEFAULT_TOL[torch.float32])
        atol = widened_atol(floor, expected, truth)
        e = expected.detach().cpu().double()
        g = got.detach().cpu().double()
        if g.isnan().any() and not e.isnan().any():
            idx = tuple(int(i) for i in g.isnan().nonzero()[0])
            return (
                f"{where}: contains NaN (first at index {idx}) where the reference is finite; "
                "look for overflow in exp or a division by zero"
            )
        if g.isinf().any() and not e.isinf().any():
            idx = tuple(int(i) for i in g.isinf().nonzero()[0])
            return f"{where}: contains inf (first at index {idx}) where the reference is finite"
        close = torch.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
        if bool(close.all()):
            return None
        bad = ~close
        idx = tuple(int(i) for i in bad.nonzero()[0])
        err = (g - e).abs().nan_to_num(0.0)
        how = ATOL_NOTE.format(floor=floor, margin=REFERENCE_ERROR_MARGIN)
        return (
            f"{where}: {int(bad.sum())} of {bad.numel()} values differ (max abs error "
            f"{err.max().item():.3g}, tolerance rtol={rtol:g}, atol={atol:.2g}"
            f"{how if _widenable(expected, truth) else ''}); first at index "
            f"{idx}: expected {e[idx].item():.6g}, got {g[idx].item():.6g}"
        )
    if isinstance(expected, list | tuple):
        if not isinstance(got, list | tuple) or len(got) != len(expected):
            return f"{where}: expected a sequence of {len(expected)} items, got {describe(got)}"
        truths = truth if isinstance(truth, list | tuple) and len(truth) == len(expected) else None
        for i, (e, g) in enumerate(zip(expected, got)):
            msg = diagnose(e, g, tol, f"{where}[{i}]", truths[i] if truths else None)
            if msg:
                return msg
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            return f"{where}: expected a dict with keys {sorted(expected)}, got {describe(got)}"
        for k in expected:
            t = truth.get(k) if isinstance(truth, dict) else None
            msg = diagnose(expected[k], got[k], tol, f"{where}[{k!r}]", t)
            if msg:
                return msg
        return None
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        return (
            None
            if got == expected and type(got) is type(expected)
            else (f"{where}: expected {expected!r}, got {describe(got)}")
        )
    if isinstance(expected, int):
        if isinstance(got, bool) or not isinstance(got, int):
            return f"{where}: expected the int {expected}, got {describe(got)}"
        return None if got == expected else f"{where}: expected {expected}, got {got}"
    if isinstance(expected, float):
        if isinstance(got, bool) or not isinstance(got, int | float):
            return f"{where}: expected a float close to {expected:.6g}, got {describe(got)}"
        rtol, atol = (tol or DEFAULT_TOL)[torch.float32]
        return (
            None
            if abs(got - expected) <= atol + rtol * abs(expected)
            else (f"{where}: expected {expected:.6g}, got {got:.6g}")
        )
    return f"{where}: cannot compare with a reference of type {type(expected).__name__}"


#: bfloat16 blocks (attention, MoE, SSL losses): a looser bfloat16 tolerance than the default
BF16_TOL: dict[torch.dtype, tuple[float, float]] = {**DEFAULT_TOL, torch.bfloat16: (3e-2, 3e-2)}
