"""Seed sweep for ``validate``: the solution passes every check for many class secrets and students,
and so do the precision variants its contract allows (computed in float64 inside; in float32
inside where the contract says so).

The hardened ``validate`` grades each source notebook once through the sandbox; tolerances and
case generators must however hold for *every* class secret and student id an instructor might
use. This module runs the solution notebook's objects (executed once, in this process) against
every check its test cells call, for ``n`` (secret, student) pairs, and reports each failure with
the secret, the student id and the failing case (its label names shapes, positions and dtypes).
"""

from __future__ import annotations

import linecache
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

if not torch.cuda.is_available():  # before Triton is first imported: kernels run interpreted
    os.environ.setdefault("TRITON_INTERPRET", "1")

from autograder.checks.runner import InKernelExecutor, run_check, seed_for
from autograder.checks.spec import Check, get_check  # noqa: E402
from autograder.layout import Course  # noqa: E402
from autograder.notebooks import check_calls, load_source  # noqa: E402


@dataclass(frozen=True)
class SweepFailure:
    notebook: str
    check: str
    secret: str
    student: str
    message: str
    variant: str = "solution"

    def __str__(self) -> str:
        return (
            f"{self.notebook}: {self.check} ({self.variant}) failed for class secret "
            f"{self.secret!r}, student {self.student!r}: {self.message}"
        )


def _cast(value: Any, src: tuple[torch.dtype, ...], dst: torch.dtype) -> Any:
    if isinstance(value, torch.Tensor) and value.dtype in src:
        return value.to(dst)
    if isinstance(value, list | tuple):
        return type(value)(_cast(v, src, dst) for v in value)
    if isinstance(value, dict):
        return {k: _cast(v, src, dst) for k, v in value.items()}
    return value


def _first_float_dtype(args: tuple) -> torch.dtype | None:
    for a in args:
        if isinstance(a, torch.Tensor) and a.is_floating_point():
            return a.dtype
    return None


def float64_inside(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` computed in float64 on its floating inputs, results cast back to the first floating
    input's dtype: more precise than asked, so it must pass every check."""

    def answer(*args: Any, **kwargs: Any) -> Any:
        dtype = _first_float_dtype(args)
        low = (torch.float32, torch.float16, torch.bfloat16)
        out = fn(*_cast(args, low, torch.float64), **_cast(kwargs, low, torch.float64))
        return out if dtype in (None, torch.float64) else _cast(out, (torch.float64,), dtype)

    return answer


def float32_inside(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` computed in float32 on float64 inputs, results cast back: what a contract with
    ``Check.float32_inside`` allows."""

    def answer(*args: Any, **kwargs: Any) -> Any:
        dtype = _first_float_dtype(args)
        f64 = (torch.float64,)
        out = fn(*_cast(args, f64, torch.float32), **_cast(kwargs, f64, torch.float32))
        return out if dtype != torch.float64 else _cast(out, (torch.float32,), torch.float64)

    return answer


def answer_variants(check: Check, solution: Any) -> list[tuple[str, Any]]:
    """The solution, and (for a function target) the precision variants its contract allows."""
    variants: list[tuple[str, Any]] = [("solution", solution)]
    if isinstance(solution, type) or not callable(solution):
        return variants
    variants.append(("float64 inside", float64_inside(solution)))
    if check.float32_inside:
        variants.append(("float32 inside", float32_inside(solution)))
    return variants


def solution_namespace(path: Path) -> dict[str, Any]:
    """Execute a source notebook's setup and answer cells (trusted code) into a namespace."""
    ns: dict[str, Any] = {"__name__": "__main__"}
    os.environ.setdefault("TRITON_INTERPRET", "1")
    sys.path.insert(0, str(path.parent))
    try:
        for i, cell in enumerate(load_source(path).cells):
            if cell.kind in ("setup", "answer"):
                filename = f"<{path.name} cell {i}>"  # Triton's jit reads kernel sources
                lines = cell.source.splitlines(True)
                linecache.cache[filename] = (len(cell.source), None, lines, filename)
                exec(compile(cell.source, filename, "exec"), ns)
    finally:
        sys.path.remove(str(path.parent))
    return ns


def used_checks(path: Path) -> list[str]:
    """Every check the source notebook's test cells call, in order (repeats kept)."""
    return [name for source in load_source(path).sources_of("test") for name in check_calls(source)]


def sweep(course: Course, assignment: str, n: int = 50) -> list[SweepFailure]:
    """Failures of the solution over ``n`` (class secret, student id) pairs (empty: all pass)."""
    failures = []
    for path in course.source_notebooks(assignment):
        ns = solution_namespace(path)
        for i in range(n):
            secret, student = f"sweep-secret-{i}", f"student-{i:03d}"
            for name in used_checks(path):
                check = get_check(name)
                for variant, answer in answer_variants(check, ns[check.target]):
                    result = run_check(
                        check, InKernelExecutor(answer), seed_for(name, student, secret)
                    )
                    if not result.passed:
                        failures.append(
                            SweepFailure(path.name, name, secret, student, result.message, variant)
                        )
    return failures
