"""LMS exports name folders after people: accents, spaces, CJK. Everyone is graded under the exact
name; only file names are sanitised (stable, distinct); unusable entries get a zero with a reason
in grades.csv and never stop the others."""

from __future__ import annotations

import csv
import subprocess
import sys

from conftest import PROLOGUE, ROOT, solution_cells, write_submission

from autograder.submissions import file_safe

SOL = solution_cells()
ODD = ["Jane Doe_12345_assignsubmission_file_", "Zoë Müller", "李雷", "o'brien (late)"]


def _grade(subs, out):
    return subprocess.run(
        [sys.executable, "-m", "autograder", "grade", "--assignment", PROLOGUE,
         "--submissions", str(subs), "--out", str(out), "--workers", "2", "--quiet"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip


def test_odd_names_are_graded_and_unusable_entries_reported(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    for i, name in enumerate(ODD):
        write_submission(subs, name, SOL, as_zip=i % 2 == 1)
    (subs / "empty zip.zip").write_bytes(b"")  # not a zip at all
    write_submission(subs, "Bad Notebook", raw=b"{not json")
    proc = _grade(subs, out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(out / "grades.csv", encoding="utf-8") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    for name in ODD:
        assert float(rows[name]["score"]) == float(rows[name]["max_score"]) == 6, rows[name]
        assert (out / "feedback" / file_safe(name)).is_dir()
    assert float(rows["empty zip"]["score"]) == 0 and "zip" in rows["empty zip"]["notes"]
    assert float(rows["Bad Notebook"]["score"]) == 0 and rows["Bad Notebook"]["notes"]
    rerun = _grade(subs, out)  # resumes: the same file names are found again
    assert rerun.returncode == 0, rerun.stderr


def test_file_names_are_stable_distinct_and_plain():
    names = ODD + ["Zoe Muller", "Zoë  Müller", "a/b", "..", "ann"]
    safe = [file_safe(n) for n in names]
    assert len(set(safe)) == len(safe)
    assert file_safe("ann") == "ann" and file_safe("Zoë Müller") == file_safe("Zoë Müller")
    for s in safe:
        assert "/" not in s and s not in (".", "..") and s.isascii()
