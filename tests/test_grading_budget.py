"""A student whose every answer loops costs at most the notebook's total time budget (stated in
the notebook), not one timeout per part: the remaining parts are zeros with the reason."""

from __future__ import annotations

import time

from conftest import PROLOGUE, ROOT

from autograder.grading import GradeSettings, grade_notebook, student_budget_s
from autograder.layout import Course
from autograder.notebooks import load_source
from autograder.sandbox.client import Zygote

LOOPS = {
    "matmul_flops": "def matmul_flops(m, n, k):\n    while True:\n        pass\n",
    "softmax": "def softmax(x, dim=-1):\n    while True:\n        pass\n",
    "time_fn": "def time_fn(fn, warmup=2, iters=5):\n    while True:\n        pass\n",
}


def _submission(source_path, answers) -> bytes:
    import nbformat

    nb = nbformat.read(str(ROOT / "exercises" / PROLOGUE / source_path.name), as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    return nbformat.writes(nb).encode()


def test_every_notebook_states_its_budget():
    course = Course(ROOT)
    for assignment in course.assignments():
        for path in course.source_notebooks(assignment):
            source = load_source(path)
            assert "student_budget_s" in source.settings, path
            budget = f"{student_budget_s(source):g} s for the whole"
            assert budget in path.with_suffix(".py").read_text().replace("\n# ", " "), path


def test_a_looping_student_costs_at_most_the_budget():
    path = Course(ROOT).source_notebooks(PROLOGUE)[0]
    source = load_source(path)
    source.settings.update(timeout_s=2, student_budget_s=5)
    zygote = Zygote()
    try:
        start = time.monotonic()
        result = grade_notebook(
            zygote, source, _submission(path, LOOPS), "looper", GradeSettings(hidden=[])
        )
        elapsed = time.monotonic() - start
    finally:
        zygote.close()
    assert result.score == 0
    messages = [c.message for p in result.parts for c in p.checks]
    assert any("time budget (5 s for all parts together) is spent" in m for m in messages)
    # the budget, plus one call's timeout, plus sandbox start-ups: far below 3 parts x timeouts
    assert elapsed < 5 + 2 + 30, elapsed
