"""The notebooks as students run them (in-kernel, nbclient): the source notebooks pass every visible
and hidden test (and the real-weights demo runs); the released stubs fail their tests without
crashing the run."""

from __future__ import annotations

import nbformat
import pytest
from conftest import ROOT
from nbclient import NotebookClient

from autograder.layout import Course

COURSE = Course(ROOT)
NOTEBOOKS = [(a, p.name) for a in COURSE.assignments() for p in COURSE.source_notebooks(a)]


def _run(path, allow_errors):
    nb = nbformat.read(str(path), as_version=4)
    NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    return nb


@pytest.mark.parametrize("assignment,name", NOTEBOOKS)
def test_source_notebook_passes_all_tests(assignment, name):
    nb = _run(COURSE.solutions / assignment / name, allow_errors=False)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "cases passed" in text


@pytest.mark.parametrize("assignment,name", NOTEBOOKS)
def test_released_stubs_fail_their_tests_without_crashing(assignment, name):
    nb = _run(COURSE.exercises / assignment / name, allow_errors=True)
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert graded
    for cell in graded:
        errors = [o for o in cell.outputs if o.get("output_type") == "error"]
        assert errors, f"test cell {cell.metadata['nbgrader']['grade_id']} passed on a stub"
