"""Grading's results are typed up to the file boundary: the JSON written to results/<id>.json
(which a rerun resumes from) and grades.csv keep their exact form, and what is read back is the
same typed result."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from conftest import PROLOGUE, ROOT

from autograder.errors import CourseError
from autograder.grading import submission_key
from autograder.layout import Course
from autograder.notebooks import Cell, NotebookSettings, Part, SourceNotebook, load_source
from autograder.result_files import load_result, result_path, save_result, write_csv
from autograder.results import CheckOutcome, NotebookResult, PartResult, StudentResult
from autograder.submissions import Submission


def _result(key: str | None = "k1") -> StudentResult:
    return StudentResult(
        student_id="ann",
        assignment="00-x",
        key=key,
        notebooks=[
            NotebookResult(
                "nb.ipynb",
                3.0,
                parts=[
                    PartResult(
                        "t1", 1.0, [CheckOutcome("x.f", True, "ok")], {"x.f": "0123456789abcdef"}
                    ),
                    PartResult(
                        "t2",
                        2.0,
                        [CheckOutcome("x.g", True, "ok"), CheckOutcome("x.h", False, "no")],
                    ),
                ],
                notes=["a note"],
                sandbox_missing=["uid switch"],
            )
        ],
        notes=["late"],
    )


#: the exact results/<id>.json of :func:`_result` (its schema is what a rerun reads)
GOLDEN_JSON = {
    "student_id": "ann",
    "assignment": "00-x",
    "key": "k1",
    "score": 2.0,
    "max_score": 3.0,
    "notebooks": [
        {
            "notebook": "nb.ipynb",
            "score": 2.0,
            "max_score": 3.0,
            "notes": ["a note"],
            "sandbox_missing": ["uid switch"],
            "parts": [
                {
                    "grade_id": "t1",
                    "points": 1.0,
                    "score": 1.0,
                    "check_versions": {"x.f": "0123456789abcdef"},
                    "checks": [{"name": "x.f", "passed": True, "message": "ok"}],
                },
                {
                    "grade_id": "t2",
                    "points": 2.0,
                    "score": 1.0,
                    "check_versions": {},
                    "checks": [
                        {"name": "x.g", "passed": True, "message": "ok"},
                        {"name": "x.h", "passed": False, "message": "no"},
                    ],
                },
            ],
        }
    ],
    "notes": ["late"],
}


def test_the_result_file_keeps_its_form_and_reads_back_typed(tmp_path):
    save_result(tmp_path, "ann", _result())
    text = result_path(tmp_path, "ann").read_text()
    assert text == json.dumps(GOLDEN_JSON, indent=1)  # key order included
    assert load_result(tmp_path, "ann", "k1") == _result()


def test_a_result_graded_before_check_versions_reads_back_with_none(tmp_path):
    """Results written before parts recorded their checks' versions still read back (each part
    with no versions, so a rerun regrades it rather than trusting it)."""
    old = json.loads(json.dumps(GOLDEN_JSON))
    for part in old["notebooks"][0]["parts"]:
        del part["check_versions"]
    result_path(tmp_path, "ann").parent.mkdir(parents=True)
    result_path(tmp_path, "ann").write_text(json.dumps(old))
    got = load_result(tmp_path, "ann", "k1")
    assert got is not None
    assert [p.check_versions for p in got.notebooks[0].parts] == [{}, {}]


def test_a_stale_or_broken_result_file_is_graded_again(tmp_path):
    save_result(tmp_path, "ann", _result())
    assert load_result(tmp_path, "ann", "other-key") is None
    assert load_result(tmp_path, "nobody", "k1") is None
    path = result_path(tmp_path, "bob")
    for broken in ("{", "[1, 2]", json.dumps({"key": "k1", "student_id": "bob"})):
        path.write_text(broken)
        assert load_result(tmp_path, "bob", "k1") is None, broken


def test_grades_csv_keeps_its_columns_and_formatting(tmp_path):
    source = SourceNotebook(
        "nb.ipynb", [], [Part("t1", 1.0, ["x.f"], 20.0), Part("t2", 2.0, ["x.g", "x.h"], 20.0)]
    )
    bob = replace(_result(None), student_id="bob", notes=["not graded: x; rerun the command"])
    write_csv(tmp_path / "grades.csv", [source], [bob, _result()])
    assert (tmp_path / "grades.csv").read_text() == (
        "student_id,assignment,score,max_score,nb:t1,nb:t2,notes\n"
        "ann,00-x,2,3,1,1,late\n"
        "bob,00-x,2,3,1,1,not graded: x; rerun the command\n"
    )


def test_the_resume_key_is_unchanged_by_typed_cells():
    """The key a stored result must match: its form is fixed (this value was computed before
    cells and settings became dataclasses), so results graded earlier are still reused."""
    source = SourceNotebook(
        "nb.ipynb",
        [Cell("setup", "", "import torch"), Cell("answer", "a", "def f(): pass")]
        + [Cell("test", "t", 'check("x.f", f)')],
        [Part("t", 2.0, ["x.f"], 20.0)],
        NotebookSettings(timeout_s=20),
    )
    sub = Submission("ann", {"nb.ipynb": b"{}"}, ["a note"])
    assert (
        submission_key("00-x", [source], sub, "sekrit")
        == "84b676ce3c8a04349d0e8b830c7cdf0ad3ec999fd986bcc13337447443525499"
    )


def test_source_cells_and_settings_are_typed():
    source = load_source(Course(ROOT).source_notebooks(PROLOGUE)[0])
    assert {c.kind for c in source.cells} == {"setup", "answer", "test"}
    assert source.answer_ids == [c.grade_id for c in source.cells if c.kind == "answer"]
    assert isinstance(source.settings, NotebookSettings)
    assert source.settings.budget_s == source.settings.student_budget_s
    assert NotebookSettings(timeout_s=6).budget_s == 60  # no stated budget: 10 calls' worth


@pytest.mark.parametrize(
    "meta,phrase",
    [({"timeout": 5}, "unknown grading setting(s) timeout"), ({"cpu_s": "lots"}, "numbers")],
)
def test_a_wrong_grading_setting_is_one_sentence(meta, phrase):
    with pytest.raises(CourseError, match=phrase.replace("(", r"\(").replace(")", r"\)")):
        NotebookSettings.from_metadata(meta, "nb.ipynb")
