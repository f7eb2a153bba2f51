"""A student whose every answer loops costs at most the notebook's total time budget (stated in
the notebook), not one timeout per part: the remaining parts are zeros with the reason."""

from __future__ import annotations

import time
from dataclasses import replace

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
            assert source.settings.student_budget_s is not None, path
            budget = f"{student_budget_s(source):g} s for the whole"
            assert budget in path.with_suffix(".py").read_text().replace("\n# ", " "), path


def test_a_looping_student_costs_at_most_the_budget():
    path = Course(ROOT).source_notebooks(PROLOGUE)[0]
    source = load_source(path)
    source.settings = replace(source.settings, timeout_s=2, student_budget_s=5)
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


def test_a_class_that_hung_once_is_not_waited_for_again():
    """LLaMA with an attention that never returns: one timeout in the attention part; the layer,
    model and generation parts refuse the later calls into it at once (same zero, no waiting),
    and parts that never reach it keep their points."""
    from conftest import solution_cells

    llama = "03-llama"
    sol = solution_cells(llama, "llama.ipynb")
    header = "def forward(self, x, cos, sin, attention_mask=None, cache=None, layer_idx=0):\n"
    assert header in sol["attention"]
    hanging = sol["attention"].replace(header, header + "        while True:\n            pass\n")
    import nbformat

    nb = nbformat.read(str(ROOT / "exercises" / llama / "llama.ipynb"), as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in sol:
            cell.source = hanging if gid == "attention" else sol[gid]
    path = Course(ROOT).source_notebooks(llama)[0]
    source = load_source(path)
    source.settings = replace(source.settings, timeout_s=5)
    for part in source.parts:
        part.timeout_s = 5
    zygote = Zygote()
    try:
        data = nbformat.writes(nb).encode()
        result = grade_notebook(zygote, source, data, "hangs", GradeSettings(hidden=[]))
    finally:
        zygote.close()
    checks = {p.grade_id: p.checks for p in result.parts}
    messages = [c.message for cs in checks.values() for c in cs]
    assert sum("(time limit)" in m for m in messages) == 1, messages
    refused = [m for m in messages if "your `Attention` did not finish within 5 s" in m]
    assert refused, messages
    for gid in ("test_rmsnorm", "test_rope", "test_swiglu", "test_kv_cache", "test_triton"):
        assert all(c.passed for c in checks[gid]), (gid, checks[gid])
    layer = next(c for c in checks["test_model"] if c.name == "llama.decoder_layer")
    assert layer.passed, layer  # graded with the reference attention injected, as before
