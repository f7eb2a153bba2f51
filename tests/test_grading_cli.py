"""The grading CLI: clear one-sentence errors, resumable after kill -9, gradebook export."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import PROLOGUE, ROOT, solution_cells, write_submission

SOL = solution_cells()


def cli(*args, cwd=ROOT, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "autograder", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    "args,phrase",
    [
        (
            ["grade", "--assignment", "99-nope", "--submissions", "x", "--out", "y"],
            "unknown assignment '99-nope'",
        ),
        (
            [
                "grade",
                "--assignment",
                PROLOGUE,
                "--submissions",
                "/nonexistent/subs",
                "--out",
                "/tmp/o",
            ],
            "does not exist",
        ),
        (["release"], "name an assignment"),
        (["validate", "nope"], "unknown assignment"),
        (
            ["export", "--assignment", PROLOGUE, "--out", "/tmp/x.csv", "--from", "/nonexistent"],
            "no gradebook",
        ),
    ],
)
def test_wrong_input_gets_one_clear_sentence(args, phrase):
    proc = cli(*args)
    assert proc.returncode != 0
    assert phrase in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr


def test_wrong_course_layout(tmp_path):
    proc = cli("release", "--all", cwd=tmp_path)
    assert proc.returncode == 2 and "not inside a course checkout" in proc.stderr


def test_duplicate_students_and_empty_folders(tmp_path):
    write_submission(tmp_path, "ann", SOL)
    write_submission(tmp_path, "ann", SOL, as_zip=True)
    proc = cli(
        "grade",
        "--assignment",
        PROLOGUE,
        "--submissions",
        str(tmp_path),
        "--out",
        str(tmp_path / "o"),
    )
    assert proc.returncode == 0, proc.stderr  # graded from the folder, with a note
    grades = (tmp_path / "o" / "grades.csv").read_text()
    assert "both a folder and a zip were submitted" in grades
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = cli(
        "grade", "--assignment", PROLOGUE, "--submissions", str(empty), "--out", str(tmp_path / "o")
    )
    assert proc.returncode == 2 and "no submissions" in proc.stderr


def _class(root: Path, n: int) -> None:
    for i in range(n):
        replace = (
            SOL
            if i % 3
            else {
                **SOL,
                "softmax": "def softmax(x, dim=-1):\n    return x.exp() / x.exp().sum(dim, keepdim=True)\n",
            }
        )
        write_submission(root, f"s{i:02d}", replace, as_zip=i % 2 == 0)


def test_resume_after_kill_9_gives_the_same_grades(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    _class(subs, 6)
    ref_out, out = tmp_path / "ref", tmp_path / "out"
    args = [
        "grade",
        "--assignment",
        PROLOGUE,
        "--submissions",
        str(subs),
        "--workers",
        "2",
        "--quiet",
    ]
    assert cli(*args, "--out", str(ref_out)).returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "autograder", *args, "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 300
    while time.time() < deadline and len(list((out / "results").glob("*.json"))) < 2:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list((out / "results").glob("*.json")))
    assert 0 < done_before < 6, "the kill should land mid-class"
    assert not (out / "grades.csv").exists()
    again = cli(*args, "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert (out / "grades.csv").read_text() == (ref_out / "grades.csv").read_text()
    exported = tmp_path / "export.csv"
    assert (
        cli(
            "export", "--assignment", PROLOGUE, "--out", str(exported), "--from", str(out)
        ).returncode
        == 0
    )
    rows = exported.read_text().splitlines()
    assert len(rows) == 7 and rows[1].startswith("s00,00-prologue,3,6")


def test_a_grader_failure_costs_one_student_and_is_retried(tmp_path, monkeypatch):
    from autograder import service
    from autograder.layout import Course

    subs = tmp_path / "subs"
    subs.mkdir()
    write_submission(subs, "ann", SOL)
    write_submission(subs, "bob", SOL)
    real = service.grade_submission

    def flaky(zygote, assignment, sources, sub, settings):
        if sub.student_id == "bob":
            raise RuntimeError("the sandbox did not start")
        return real(zygote, assignment, sources, sub, settings)

    monkeypatch.setattr(service, "grade_submission", flaky)
    out = tmp_path / "out"
    results, _ = service.grade_class(Course(ROOT), PROLOGUE, subs, out, 2, None)
    by = {r.student_id: r for r in results}
    assert by["ann"].score == 6 and by["bob"].score == 0
    assert "rerun the command" in by["bob"].notes[-1]
    monkeypatch.setattr(service, "grade_submission", real)
    results, _ = service.grade_class(Course(ROOT), PROLOGUE, subs, out, 2, None)
    assert {r.student_id: r.score for r in results} == {"ann": 6, "bob": 6}
