"""``check(name, obj)``: a notebook's visible check, replayed from the kit's snapshot.

The snapshot holds the visible cases and the reference's outcomes on them (see
:mod:`coursekit.snapshot`); the student's object is called on the same inputs here, in the
notebook's kernel, and compared with the same code the grader uses (:mod:`coursekit.calls`,
:mod:`coursekit.compare`, :mod:`coursekit.hooks`), so the diagnostics are the grader's: shapes,
dtypes, the first differing index, the known mistake the output matches.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

from coursekit import hooks, snapshot
from coursekit.calls import StudentError, compare_case, matching_mistake, run_student

VISIBLE_NOTE = (
    " These are the visible checks; the grader runs more cases (other shapes, dtypes, "
    "gradients, edge cases) with inputs you cannot see."
)


def _device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def _tf32_switches() -> list[tuple[Any, str, Any]]:
    """(object, attribute, full-float32 value) of each TF32 switch this torch has: the
    ``fp32_precision`` settings where they exist (torch 2.9 and later), else ``allow_tf32``."""
    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):
        return [
            (conv, "fp32_precision", "ieee"),
            (torch.backends.cuda.matmul, "fp32_precision", "ieee"),
        ]
    return [
        (torch.backends.cudnn, "allow_tf32", False),
        (torch.backends.cuda.matmul, "allow_tf32", False),
    ]


@contextlib.contextmanager
def full_float32() -> Iterator[None]:
    """TF32 off for cuDNN and cuBLAS while a visible check runs on CUDA, then as it was.

    PyTorch lets cuDNN convolutions round float32 inputs to TF32 by default; the snapshots were
    computed in full float32 on a CPU, so on a GPU a correct ``conv1d`` would miss them by ~1e-3.
    (The grader needs no such switch: its reference runs on the student's device, and its tolerance
    grows with the reference's own error there.)
    """
    if not torch.cuda.is_available():
        yield
        return
    saved = []
    try:
        for owner, attr, value in _tf32_switches():
            saved.append((owner, attr, getattr(owner, attr)))
            setattr(owner, attr, value)
    except Exception:  # a torch whose switches differ: run as configured
        pass
    try:
        yield
    finally:
        for owner, attr, value in reversed(saved):
            with contextlib.suppress(Exception):
                setattr(owner, attr, value)


def run(name: str, obj: Any) -> tuple[bool, str, int]:
    """(passed, message, cases run) of the visible check ``name`` against ``obj``."""
    with full_float32():
        return _run(name, obj)


def _run(name: str, obj: Any) -> tuple[bool, str, int]:
    snap = snapshot.read(name)
    hook = hooks.resolve(*snap.hook) if snap.hook else None
    device = _device()
    for n, sc in enumerate(snap.cases, start=1):
        case = sc.case
        case.device = device
        try:
            got = run_student(obj, case, sc.state, sc.cotangent)
        except StudentError as exc:
            return False, f"[{case.label}] {exc}{snap.note}", n
        msg = compare_case(case, sc.expected, got, snap.tol, hook, snap.must_launch_triton)
        if msg:
            hint = matching_mistake(sc.mistakes, got, snap.tol)
            return False, f"[{case.label}] {msg}{hint}{snap.note}", n
    return True, f"{len(snap.cases)} cases passed{snap.note}", len(snap.cases)


def check(name: str, obj: Any) -> None:
    """Run the visible check ``name`` against ``obj``; AssertionError with a diagnosis on failure.

    A name the kit has no snapshot of (a hidden check, in the source notebooks of the full course
    repository) runs the course's own check when ``autograder`` is importable (the instructors'
    repository); in a student's environment it is a plain KeyError.
    """
    if name not in snapshot.available():
        try:
            from autograder.checks.runner import check as course_check
        except ImportError:
            snapshot.read(name)  # raises the plain KeyError
            raise
        course_check(name, obj)
        return
    passed, message, _ = run(name, obj)
    if not passed:
        raise AssertionError(f"{name}: {message}")
    print(f"{name}: {message}.{VISIBLE_NOTE}")
