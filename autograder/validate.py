"""Seed sweep for ``validate``: the solution passes every check for many class secrets and students.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

if not torch.cuda.is_available():  # before Triton is first imported: kernels run interpreted
    os.environ.setdefault("TRITON_INTERPRET", "1")

from autograder.checks.spec import (  # noqa: E402
    InKernelExecutor,
    get_check,
    run_check,
    seed_for,
)
from autograder.layout import Course  # noqa: E402
from autograder.notebooks import check_calls, load_source  # noqa: E402


@dataclass(frozen=True)
class SweepFailure:
    notebook: str
    check: str
    secret: str
    student: str
    message: str

    def __str__(self) -> str:
        return (
            f"{self.notebook}: {self.check} failed for class secret {self.secret!r}, student "
            f"{self.student!r}: {self.message}"
        )


def solution_namespace(path: Path) -> dict[str, Any]:
    """Execute a source notebook's setup and answer cells (trusted code) into a namespace."""
    ns: dict[str, Any] = {"__name__": "__main__"}
    os.environ.setdefault("TRITON_INTERPRET", "1")
    sys.path.insert(0, str(path.parent))
    try:
        for i, (kind, _, source) in enumerate(load_source(path).cells):
            if kind in ("setup", "answer"):
                filename = f"<{path.name} cell {i}>"  # Triton's jit reads kernel sources
                linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
                exec(compile(source, filename, "exec"), ns)
    finally:
        sys.path.remove(str(path.parent))
    return ns


def used_checks(path: Path) -> list[str]:
    return [
        name
        for kind, _, source in load_source(path).cells
        if kind == "test"
        for name in check_calls(source)
    ]


def sweep(course: Course, assignment: str, n: int = 50) -> list[SweepFailure]:
    """Failures of the solution over ``n`` (class secret, student id) pairs (empty: all pass)."""
    failures = []
    for path in course.source_notebooks(assignment):
        ns = solution_namespace(path)
        for i in range(n):
            secret, student = f"sweep-secret-{i}", f"student-{i:03d}"
            for name in used_checks(path):
                check = get_check(name)
                result = run_check(
                    check, InKernelExecutor(ns[check.target]), seed_for(name, student, secret)
                )
                if not result.passed:
                    failures.append(SweepFailure(path.name, name, secret, student, result.message))
    return failures
