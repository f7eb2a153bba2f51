"""Death reasons: a student process that dies says how (signal, CPU limit, memory, time limit,
exit code), read from the wait status that the zygote keeps for its children."""

from __future__ import annotations

import os
import signal

import pytest

from autograder.checks.spec import StudentError
from autograder.sandbox.client import Zygote, death_reason
from autograder.sandbox.limits import Limits


@pytest.fixture(scope="module")
def zygote():
    z = Zygote()
    yield z
    z.close()


def _died(zygote, source: str, *, cpu_s: int = 60, timeout: float = 60) -> str:
    session = zygote.spawn(Limits(cpu_s=cpu_s, memory_mb=2048), timeout)
    try:
        error = session.exec_cell("answer", source, timeout)
    except StudentError as exc:
        return str(exc)
    finally:
        session.kill()
    return f"no death: {error}"


CASES = {
    "segfault through ctypes": (
        "import ctypes\nctypes.string_at(0)",
        "segmentation fault (SIGSEGV)",
        {},
    ),
    "a signal sent to itself": (
        "import os, signal\nos.kill(os.getpid(), signal.SIGABRT)",
        "SIGABRT",
        {},
    ),
    "CPU-time limit": ("while True:\n    pass", "CPU-time limit (1 s) (SIGXCPU)", {"cpu_s": 1}),
    "os._exit(3)": ("import os\nos._exit(3)", "exited with code 3", {}),
    "sleeping past the time limit": (
        "import time\ntime.sleep(60)",
        "did not finish within 2 s",
        {"timeout": 2},
    ),
}


@pytest.mark.parametrize("label", list(CASES))
def test_each_death_is_reported_with_its_cause(zygote, label):
    source, phrase, kw = CASES[label]
    message = _died(zygote, source, **kw)
    assert phrase in message, message


def test_a_huge_allocation_is_a_clear_memory_error_not_a_crash(zygote):
    session = zygote.spawn(Limits(memory_mb=2048), 60)
    try:
        error = session.exec_cell("answer", "x = bytearray(64 * 2**30)", 60)
        assert error is not None and "MemoryError" in error, error
        assert session.exec_cell("answer 2", "y = 1 + 1", 60) is None  # and the process lives on
    finally:
        session.kill()


def test_wait_statuses_map_to_sentences():
    killed = signal.SIGKILL  # a wait status for "killed by signal N" is N
    assert "memory limit (512 MB)" in death_reason(killed, Limits(memory_mb=512))
    assert "exited with code 7" in death_reason(7 << 8)
    assert "could not be read" in death_reason(None)
    assert os.WIFSIGNALED(killed)
