"""The sandbox sees an allow-list, not "everything but a few hidden paths": another copy of the
course anywhere on the machine stays invisible; a sandbox that cannot import what grading needs
stops the run before anyone is graded; an import that fails only in the sandbox is the grader's
failure, never a student's zero."""

from __future__ import annotations

import pytest
from conftest import NO_ISOLATION, sandbox_isolates

from autograder import grading
from autograder.errors import CourseError, GraderEnvironmentError
from autograder.sandbox.client import Zygote
from autograder.sandbox.limits import Limits

READ = """
import os
found = []
for p in {paths!r}:
    try:
        open(p).read()
        found.append(p)
    except OSError:
        pass
import torch.fx.experimental.symbolic_shapes  # lazily imported torch modules still load
if found:
    raise RuntimeError("read: " + ", ".join(found))
"""


@pytest.mark.skipif(not sandbox_isolates(), reason=NO_ISOLATION)
def test_another_copy_of_the_course_is_invisible(tmp_path):
    other = tmp_path / "last-years-course" / "solutions"
    other.mkdir(parents=True)
    (other / "answers.py").write_text("SECRET = 42\n")
    home_secret = tmp_path / "credentials"
    home_secret.write_text("token\n")
    paths = [str(other / "answers.py"), str(home_secret)]
    assert all(open(p).read() for p in paths)  # readable by the grader itself
    zygote = Zygote()
    try:
        session = zygote.spawn(Limits(), 60)
        try:
            assert session.sandbox_missing == [], session.sandbox_missing
            err = session.exec_cell("probe", READ.format(paths=paths), 60)
        finally:
            session.kill()
    finally:
        zygote.close()
    assert err is None, err


def test_a_sandbox_that_cannot_import_stops_before_grading(monkeypatch):
    monkeypatch.setattr(grading, "PROBE", "import torch\nimport a_module_that_is_not_there\n")
    zygote = Zygote()
    try:
        with pytest.raises(CourseError, match="the sandbox cannot run what grading needs"):
            grading.probe_sandbox(zygote)
        monkeypatch.undo()
        grading.probe_sandbox(zygote)  # the real probe passes here
    finally:
        zygote.close()


@pytest.mark.parametrize(
    "message,grader_side",
    [
        (
            "raised ModuleNotFoundError: No module named 'torch.fx.experimental.symbolic_shapes'",
            True,
        ),
        ("raised ModuleNotFoundError: No module named 'numpy'", True),
        ("raised ModuleNotFoundError: No module named 'course'", False),  # hidden on purpose
        ("raised ModuleNotFoundError: No module named 'autograder.checks'", False),
        ("raised ModuleNotFoundError: No module named 'not_installed_anywhere'", False),
        ("values differ at index 3", False),
    ],
)
def test_import_errors_that_only_the_sandbox_has_are_grader_failures(message, grader_side):
    if grader_side:
        with pytest.raises(GraderEnvironmentError):
            grading._raise_if_grader_side(message)
    else:
        grading._raise_if_grader_side(message)


def test_a_student_raising_an_import_error_is_graded_not_rerun():
    """A submission cannot make itself "rerun" forever by raising the error a broken sandbox
    would raise: a fresh sandbox imports the module, so the error is the student's own."""
    import nbformat
    from conftest import PROLOGUE, ROOT, solution_cells

    from autograder.grading import GradeSettings, grade_notebook
    from autograder.layout import Course
    from autograder.notebooks import load_source

    fake = "def softmax(x, dim=-1):\n    raise ModuleNotFoundError(\"No module named 'torch'\")\n"
    sol = {**solution_cells(), "softmax": fake}
    nb = nbformat.read(str(ROOT / "exercises" / PROLOGUE / "prologue.ipynb"), as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in sol:
            cell.source = sol[gid]
    source = load_source(Course(ROOT).source_notebooks(PROLOGUE)[0])
    zygote = Zygote()
    try:
        result = grade_notebook(
            zygote, source, nbformat.writes(nb).encode(), "s", GradeSettings(hidden=[])
        )
    finally:
        zygote.close()
    parts = {p.grade_id: p for p in result.parts}
    softmax = next(p for gid, p in parts.items() if "softmax" in gid)
    assert softmax.score == 0 and "No module named 'torch'" in softmax.checks[0].message
    assert result.score > 0  # the other parts are graded as usual
