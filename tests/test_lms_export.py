"""``python -m autograder export --format canvas|moodle|gradescope``: each LMS's import file, with
a round trip from a realistic download of that LMS (its folder names and its own roster export).

The fixtures below are written from the LMSs' public documentation:

* Canvas gradebook CSV (``Student, ID, SIS User ID, SIS Login ID, Section``, one column per
  assignment, "Name (id)" for an existing one, the "Points Possible" row under the header):
  https://teaching.resources.osu.edu/toolsets/carmencanvas/guides/calculating-final-grades/import-csv-file-carmen-grades
  and https://ts.vcu.edu/askit/teaching-and-learning/canvas/faculty/grading-faculty/gradebook-action-menu-faculty/
* Moodle grade import CSV (an identifier column mapped from "Email address" to useremail, or
  from username / ID number; one column per grade item):
  https://docs.moodle.org/311/en/Grade_import ; the assignment's grading worksheet
  (``Identifier`` "Participant N", ``Full name``, ``Email address``) is what "Download all
  submissions" names its folders after ("Full name_N_assignsubmission_file_").
* Gradescope (the roster's ``Name``/``First Name``, ``Last Name``, ``Email``, ``SID`` columns,
  email unique per student; the grade export's ``SID`` and ``Total Score``):
  https://help.gradescope.com/article/w59nl02vyt-instructor-course-add-members

The Moodle class is graded for real (one grade shared by the module); the Canvas and Gradescope
classes are recorded into their own gradebooks from typed results, since export reads only the
gradebook.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys

import pytest
from conftest import PROLOGUE, ROOT, solution_cells, write_submission

from autograder import gradebook, lms
from autograder.layout import Course
from autograder.results import CheckOutcome, NotebookResult, PartResult, StudentResult

SOL = solution_cells()
PARTIAL = {**SOL, "softmax": "def softmax(x, dim=-1):\n    return x\n"}

#: Moodle's "Download all submissions": one folder per participant
MOODLE_CLASS = {
    "Jane Doe_12345_assignsubmission_file_": SOL,
    "Zoë Müller_12346_assignsubmission_file_": PARTIAL,
    "Li Lei_12347_assignsubmission_file_": {},
}
#: the assignment's grading worksheet (Moodle: View all submissions > Download grading worksheet)
MOODLE_WORKSHEET = """\
Identifier,Full name,Email address,Status,Grade,Maximum Grade,Grade can be changed,Last modified (submission),Last modified (grade),Feedback comments
Participant 12345,Jane Doe,jane.doe@example.edu,Submitted for grading,,6.00,Yes,"Monday, 30 November 2026, 9:12 AM",-,
Participant 12346,Zoë Müller,zoe.mueller@example.edu,Submitted for grading,,6.00,Yes,"Monday, 30 November 2026, 11:40 PM",-,
Participant 12347,Li Lei,li.lei@example.edu,Submitted for grading,,6.00,Yes,"Tuesday, 1 December 2026, 8:03 AM",-,
Participant 12348,Sam Absent,sam.absent@example.edu,No submission,,6.00,Yes,-,-,
"""

#: Canvas's "Download Submissions": lastfirst[_LATE]_userid_attachmentid_filename
CANVAS_CLASS = {
    "doejane_12345_67890_prologue": 6.0,
    "mullerzoe_LATE_12346_67891_prologue-1": 3.0,
    "leili_12347_67892_prologue": 0.0,
}
#: Canvas's gradebook export (Grades > Export), the roster; the assignment exists already
CANVAS_EXPORT = """\
Student,ID,SIS User ID,SIS Login ID,Section,00-prologue (4411),Current Score,Final Score
    Points Possible,,,,,6.00,(read only),(read only)
"Doe, Jane",12345,S1001,jdoe,Section A,,,
"Müller, Zoë",12346,S1002,zmuller,Section A,,,
"Lei, Li",12347,S1003,llei,Section B,,,
"Student, Test",99999,,,Section A,,,
"""

#: Gradescope: students submitted under their email; the course roster as Gradescope exports it
GRADESCOPE_CLASS = {"jane.doe@example.edu": 6.0, "zoe.mueller@example.edu": 4.0}
GRADESCOPE_ROSTER = """\
First Name,Last Name,Email,SID,Role,Sections
Jane,Doe,jane.doe@example.edu,S1001,Student,Section A
Zoë,Müller,zoe.mueller@example.edu,S1002,Student,Section A
"""


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "autograder", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.fixture(scope="module")
def moodle(tmp_path_factory):
    """The Moodle class graded once: (grading OUT folder, worksheet path, grades by id)."""
    from autograder.service import grade_class

    subs = tmp_path_factory.mktemp("moodle-download")
    out = tmp_path_factory.mktemp("moodle-out")
    for sid, answers in MOODLE_CLASS.items():
        write_submission(subs, sid, answers)
    results, _ = grade_class(Course(ROOT), PROLOGUE, subs, out, workers=2, db_url=None)
    roster = out.parent / "moodle-worksheet.csv"
    roster.write_text(MOODLE_WORKSHEET, encoding="utf-8")
    return out, roster, {r.student_id: r.score for r in results}


def _recorded(tmp_path_factory, name: str, scores: dict[str, float]):
    """A gradebook holding these totals for the prologue (typed results, no grading)."""
    out = tmp_path_factory.mktemp(name)
    url = gradebook.default_url(out)
    gradebook.ensure_assignment(Course(ROOT), PROLOGUE, url)
    results = []
    for sid, total in scores.items():
        parts = []
        left = total
        for gid, points in (
            ("test_matmul_flops", 1.0),
            ("test_softmax", 3.0),
            ("test_time_fn", 2.0),
        ):
            passed = left >= points
            left -= points if passed else 0
            parts.append(PartResult(gid, points, [CheckOutcome(gid, passed, "")]))
        results.append(
            StudentResult(sid, PROLOGUE, "k", [NotebookResult("prologue.ipynb", 6.0, parts)])
        )
    gradebook.record(url, results)
    return out


def test_download_names_are_read_as_each_lms_writes_them():
    p = lms.parse_download_name("Jane Doe_12345_assignsubmission_file_")
    assert (p.name, p.lms_id, p.source) == ("Jane Doe", "12345", "moodle")
    p = lms.parse_download_name("mullerzoe_LATE_12346_67891_prologue-1")
    assert (p.name, p.lms_id, p.source) == ("mullerzoe", "12346", "canvas")
    assert lms.parse_download_name("jane.doe@example.edu").email == "jane.doe@example.edu"
    assert lms.parse_download_name("jdoe").username == "jdoe"


def test_a_canvas_download_is_a_class_folder(tmp_path):
    """Canvas's "Download Submissions" zip holds one file per student, no folders: each
    notebook is a student, named as Canvas named the file, graded as the assignment's notebook."""
    from autograder.submissions import discover

    for sid in CANVAS_CLASS:
        write_submission(tmp_path, sid.split("_")[0], SOL)
        (tmp_path / sid.split("_")[0] / PROLOGUE / "prologue.ipynb").rename(
            tmp_path / f"{sid}.ipynb"
        )
    subs = discover(tmp_path, PROLOGUE, ["prologue.ipynb"])
    got = {s.student_id: s for s in subs if s.notebooks}
    assert set(got) == set(CANVAS_CLASS)
    assert all(set(s.notebooks) == {"prologue.ipynb"} for s in got.values())
    assert all(s.notes == [f"graded {s.student_id}.ipynb as prologue.ipynb"] for s in got.values())


def test_moodle_round_trip(moodle, tmp_path):
    out, roster, graded = moodle
    assert sorted(graded.values()) == [0, 3, 6]
    dest = tmp_path / "moodle.csv"
    proc = _cli("export", "--format", "moodle", "--assignment", PROLOGUE, "--from", str(out),
                "--roster", str(roster), "--out", str(dest))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = _rows(dest.read_text(encoding="utf-8"))
    assert rows[0] == ["Email address", PROLOGUE]  # identifier column, then the grade item
    # Moodle's import: map "Email address" to useremail, the worksheet says who that is
    worksheet = {r["Email address"]: r["Identifier"] for r in csv.DictReader(io.StringIO(MOODLE_WORKSHEET))}  # fmt: skip
    back = {worksheet[email]: float(grade) for email, grade in rows[1:]}
    want = {f"Participant {sid.split('_')[1]}": score for sid, score in graded.items()}
    assert back == want
    assert "Participant 12348" not in back  # no submission: no row, Moodle keeps its grade


def test_moodle_without_a_roster_or_with_a_stale_one_says_so(moodle, tmp_path):
    out, _, _ = moodle
    args = ["export", "--format", "moodle", "--assignment", PROLOGUE, "--from", str(out),
            "--out", str(tmp_path / "m.csv")]  # fmt: skip
    proc = _cli(*args)
    assert proc.returncode == 2 and "email address or username" in proc.stderr, proc.stderr
    stale = tmp_path / "stale.csv"
    stale.write_text(MOODLE_WORKSHEET.replace("Participant 12347,Li Lei,li.lei", "Participant 1,A B,a.b"), encoding="utf-8")  # fmt: skip
    proc = _cli(*args, "--roster", str(stale))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "1 graded student(s) are not in the roster" in proc.stderr
    assert "'Li Lei_12347_assignsubmission_file_'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_canvas_round_trip(tmp_path_factory, tmp_path):
    out = _recorded(tmp_path_factory, "canvas-out", CANVAS_CLASS)
    roster = tmp_path / "canvas-export.csv"
    roster.write_text(CANVAS_EXPORT, encoding="utf-8")
    dest = tmp_path / "canvas.csv"
    proc = _cli("export", "--format", "canvas", "--assignment", PROLOGUE, "--from", str(out),
                "--roster", str(roster), "--out", str(dest))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = _rows(dest.read_text(encoding="utf-8"))
    # Canvas's columns, the existing assignment's own header (updated, not created anew)
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "00-prologue (4411)"]  # fmt: skip
    assert rows[1][0].strip() == "Points Possible" and rows[1][1:] == ["", "", "", "", "6"]
    # Canvas's import: a row is the student whose ID (or SIS User ID) it holds
    export = {r["ID"]: r for r in csv.DictReader(io.StringIO(CANVAS_EXPORT)) if r["ID"]}
    back = {}
    for student, cid, sis, login, section, score in rows[2:]:
        assert (student, sis, login, section) == tuple(
            export[cid][k] for k in ("Student", "SIS User ID", "SIS Login ID", "Section")
        )
        back[cid] = float(score)
    assert back == {sid.split("_")[-3]: s for sid, s in CANVAS_CLASS.items()}
    assert "99999" not in back  # the test student


def test_canvas_without_a_roster_uses_the_ids_in_the_names(tmp_path_factory, tmp_path):
    out = _recorded(tmp_path_factory, "canvas-bare", CANVAS_CLASS)
    dest = tmp_path / "canvas.csv"
    proc = _cli("export", "--format", "canvas", "--assignment", PROLOGUE, "--from", str(out),
                "--out", str(dest))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = _rows(dest.read_text(encoding="utf-8"))
    assert rows[0][-1] == PROLOGUE  # a new assignment, worth the Points Possible row's 6
    assert {r[1]: float(r[-1]) for r in rows[2:]} == {"12345": 6, "12346": 3, "12347": 0}


def test_gradescope_round_trip(tmp_path_factory, tmp_path):
    out = _recorded(tmp_path_factory, "gradescope-out", GRADESCOPE_CLASS)
    roster = tmp_path / "gradescope-roster.csv"
    roster.write_text(GRADESCOPE_ROSTER, encoding="utf-8")
    dest = tmp_path / "gradescope.csv"
    proc = _cli("export", "--format", "gradescope", "--assignment", PROLOGUE, "--from", str(out),
                "--roster", str(roster), "--out", str(dest))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    with open(dest, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["Name", "SID", "Email", "Total Score", "Max Points"]
    assert {r["Email"]: float(r["Total Score"]) for r in rows} == GRADESCOPE_CLASS
    assert {r["SID"] for r in rows} == {"S1001", "S1002"} and {r["Max Points"] for r in rows} == {"6"}  # fmt: skip
    assert {r["Name"] for r in rows} == {"Doe, Jane", "Müller, Zoë"}


@pytest.fixture(scope="module")
def one_student(tmp_path_factory):
    return _recorded(tmp_path_factory, "wrong-input", {"jdoe": 6.0})


@pytest.mark.parametrize(
    "extra,phrase",
    [
        (["--format", "blackboard"], "unknown --format 'blackboard'"),
        (["--roster", "/nonexistent/roster.csv", "--format", "canvas"], "does not exist"),
        (["--assignment", "01-bert-gpt"], "pass one --assignment"),
        (["--format", "gradescope", "--assignment", "01-bert-gpt"], "one assignment's scores"),
    ],
)
def test_wrong_export_input_gets_one_sentence(one_student, tmp_path, extra, phrase):
    out = one_student
    proc = _cli("export", "--assignment", PROLOGUE, "--from", str(out),
                "--out", str(tmp_path / "x.csv"), *extra)  # fmt: skip
    assert proc.returncode == 2, proc.stdout
    assert phrase in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
