"""Where grading time goes: wall-clock seconds per phase, summed over a run (for benchmarks).

The phases of grading one student, in the order they happen:

* ``sandbox``: spawning a confined child from the warm zygote and replaying the notebook's setup
  and answer cells into it (the student's top-level code runs here too);
* ``reference``: drawing each case's inputs and computing the reference's outcome and its float64
  truth (see :func:`autograder.checks.reference.reference_cases`);
* ``student``: calling the student's code on a case in the sandbox, transfers included;
* ``compare``: comparing the student's outcome with the reference's and, on a failure, naming the
  mistake and the first wrong layer;
* ``feedback``: the driver writing the student's feedback page, result file and gradebook row.

Every grading thread adds to one process-wide :class:`PhaseClock`; nothing here changes what is
graded, and no test asserts a time. ``benchmarks/grading.py`` reads it at the end of a graded run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

PHASES = ("sandbox", "reference", "student", "compare", "feedback")


class PhaseClock:
    """Seconds spent per phase, summed over every thread (safe to share between threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seconds: dict[str, float] = dict.fromkeys(PHASES, 0.0)

    def add(self, phase: str, seconds: float) -> None:
        with self._lock:
            self._seconds[phase] = self._seconds.get(phase, 0.0) + seconds

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the block as ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)

    def snapshot(self) -> dict[str, float]:
        """Phase -> seconds so far."""
        with self._lock:
            return dict(self._seconds)

    def reset(self) -> None:
        with self._lock:
            self._seconds = dict.fromkeys(PHASES, 0.0)


#: the process's clock: grading code adds to it, benchmarks read and reset it
CLOCK = PhaseClock()
phase = CLOCK.phase
