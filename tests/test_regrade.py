"""Regrading only what changed: each check has a version, every graded part records the versions
it was graded with, and ``grade`` rerun on the same output regrades only the parts whose check
changed (and students whose submission changed), with ``--dry-run`` reporting only.

One small class of the prologue is graded once for the module; the tolerance change is a
monkeypatch of the loaded check (the checkout's files are never edited), and the file-based half of
a version is tested on a copy of the check and reference modules.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROLOGUE, ROOT, solution_cells, write_submission
from typer.testing import CliRunner

from autograder import gradebook, grading
from autograder.checks.spec import get_check
from autograder.checks.version import check_version, check_versions
from autograder.cli import app

SOL = solution_cells()
#: a softmax 0.1 % too large: wrong at the prologue's tolerance, right at a loose one
SLOPPY = {**SOL, "softmax": SOL["softmax"].replace("return ", "return (1 + 1e-3) * ", 1)}
STUDENTS = ["full", "sloppy", "stub"]
PART = "prologue:test_softmax"
CHECK = "prologue.softmax"


def _grade(subs: Path, out: Path, *extra: str) -> str:
    """``python -m autograder grade`` in this process (so that a monkeypatched check applies);
    its output, after asserting it succeeded."""
    args = ["grade", "--assignment", PROLOGUE, "--submissions", str(subs), "--out", str(out)]
    with pytest.MonkeyPatch.context() as m:
        m.chdir(ROOT)
        run = CliRunner().invoke(app, [*args, "--quiet", *extra])
    assert run.exit_code == 0, (run.output, run.exception)
    return run.output


def _files(*folders: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folders``: path -> (bytes, mtime in ns)."""
    return {
        str(p): (p.read_bytes(), p.stat().st_mtime_ns)
        for folder in folders
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _results(out: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((out / "results").glob("*.json"))}


def _parts(result: dict) -> dict[str, dict]:
    return {f"prologue:{p['grade_id']}": p for nb in result["notebooks"] for p in nb["parts"]}


def _loose(monkeypatch) -> None:
    """The instructor loosens the hidden softmax check's tolerance (its visible twin is not
    graded by the hardened grader, and keeps its own)."""
    check = get_check(CHECK)
    loose = {dtype: (max(atol, 1e-2), max(rtol, 1e-2)) for dtype, (atol, rtol) in check.tol.items()}
    monkeypatch.setattr(check, "tol", loose)


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> tuple[Path, Path]:
    """The class (the solution, a sloppy softmax, the unanswered release) graded once."""
    root = tmp_path_factory.mktemp("regrade")
    subs, out = root / "subs", root / "out"
    subs.mkdir()
    write_submission(subs, "full", SOL)
    write_submission(subs, "sloppy", SLOPPY)
    write_submission(subs, "stub", None)
    _grade(subs, out)
    return subs, out


def test_every_part_records_the_version_of_each_check_it_was_graded_with(graded):
    _, out = graded
    results = _results(out)
    assert sorted(results) == STUDENTS
    for result in results.values():
        for column, part in _parts(result).items():
            names = [f"prologue.{column.removeprefix('prologue:test_')}"]  # the hidden check
            assert part["check_versions"] == check_versions(ROOT, names), column
    assert _parts(results["sloppy"])[PART]["score"] == 0  # the tolerance as released


def test_a_version_follows_the_checks_spec_and_no_other_checks(monkeypatch):
    before = check_versions(
        ROOT, ["prologue.softmax", "prologue.softmax.visible", "prologue.time_fn"]
    )
    assert check_versions(ROOT, before) == before  # the same inputs, the same versions
    _loose(monkeypatch)
    after = check_versions(ROOT, before)
    assert after[CHECK] != before[CHECK]
    assert {n: after[n] for n in after if n != CHECK} == {
        n: before[n] for n in before if n != CHECK
    }


def test_a_version_follows_the_files_the_check_is_made_of(tmp_path):
    """On a copy of the check and reference modules: editing a block's check module changes that
    block's checks only; editing the chapter's references (one file for the prologue's blocks)
    changes every check that calls them."""
    for folder in ("autograder/chapters", "course"):
        shutil.copytree(
            ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    names = ["prologue.softmax", "prologue.softmax.visible", "prologue.matmul_flops"]
    assert check_versions(tmp_path, names) == check_versions(ROOT, names)  # paths are relative

    def versions():
        return {n: check_version(tmp_path, get_check(n)) for n in names}

    start = versions()
    module = tmp_path / "autograder/chapters/prologue/softmax.py"
    module.write_text(module.read_text().replace("(5e-4, 1e-5)", "(1e-3, 1e-5)"))
    edited = versions()
    assert [edited[n] != start[n] for n in names] == [True, True, False]
    blocks = tmp_path / "course/prologue/blocks.py"
    blocks.write_text(blocks.read_text() + "\n# a fix to the references\n")
    assert all(versions()[n] != edited[n] for n in names)


def test_every_check_s_version_starts_at_the_module_that_registers_it():
    """A check's version hashes the one chapter module whose ``register_pair(name=...)``
    registers it (its cases, tolerances and known mistakes live there), found for every check."""
    from autograder.checks.spec import load_all_checks
    from autograder.checks.version import check_files, registered_in

    for name, check in load_all_checks().items():
        home = registered_in(ROOT, check)
        assert len(home) == 1 and home[0].parent.name == name.split(".")[0], (name, home)
        assert home[0] in check_files(ROOT, check), name


def test_a_dry_run_names_the_changed_part_and_writes_nothing(graded, monkeypatch):
    subs, out = graded
    files = _files(subs, out)
    assert "nothing to regrade: 3 students kept" in _grade(subs, out, "--dry-run")
    _loose(monkeypatch)
    said = _grade(subs, out, "--dry-run")
    assert f"would regrade part {PART} (check {CHECK} changed) for 3 students" in said, said
    assert "moved" not in said  # nothing was graded
    assert _files(subs, out) == files


def test_a_changed_submission_is_graded_again_whole(graded, tmp_path):
    subs, out = graded
    changed = tmp_path / "subs"
    shutil.copytree(subs, changed)
    write_submission(changed, "stub", SOL)  # the student resubmitted
    said = _grade(changed, out, "--dry-run")
    assert "would grade 1 student again: their submission changed" in said, said
    assert "would regrade part" not in said and "kept 2 students" in said, said


def test_an_output_folder_that_is_a_file_is_one_sentence(tmp_path):
    (tmp_path / "out").write_text("not a folder")
    args = ["grade", "--assignment", PROLOGUE, "--submissions", str(tmp_path), "--dry-run"]
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", *args, "--out", str(tmp_path / "out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2 and "is a file; pass the folder" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_changed_tolerance_regrades_exactly_that_part_and_a_rerun_nothing(
    graded, monkeypatch, tmp_path
):
    """Last in the module: it regrades the shared class."""
    subs, out = graded
    before = _results(out)
    ran: list[str] = []
    real = grading.run_check

    def counted(spec, session, seed, device=None, cache=None):
        ran.append(spec.name)
        return real(spec, session, seed, device, cache)

    monkeypatch.setattr(grading, "run_check", counted)
    _loose(monkeypatch)
    said = _grade(subs, out)
    assert f"regraded part {PART} (check {CHECK} changed) for 3 students: 1 grade moved" in said
    assert ran == [CHECK] * 3  # that part, for every student, and nothing else
    after = _results(out)
    version = check_versions(ROOT, [CHECK])[CHECK]
    for sid in STUDENTS:
        old, new = _parts(before[sid]), _parts(after[sid])
        assert {c: p for c, p in new.items() if c != PART} == {
            c: p for c, p in old.items() if c != PART
        }, sid
        assert new[PART]["check_versions"] == {CHECK: version}, sid
        assert old[PART]["check_versions"] != new[PART]["check_versions"], sid
    assert [_parts(after[s])[PART]["score"] for s in STUDENTS] == [3, 3, 0]
    assert after["sloppy"]["score"] == before["sloppy"]["score"] + 3

    # grades.csv and the gradebook agree, student by student and part by part
    with open(out / "grades.csv") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    exported = tmp_path / "export.csv"
    gradebook.export(gradebook.default_url(out), PROLOGUE, exported)
    with open(exported) as f:
        db = {r["student_id"]: r for r in csv.DictReader(f)}
    assert sorted(rows) == sorted(db) == STUDENTS
    for sid, row in rows.items():
        for column, value in db[sid].items():
            assert row[column] == value, (sid, column)
    assert rows["sloppy"][PART] == "3"

    ran.clear()
    files = _files(out / "results", out / "feedback")
    again = _grade(subs, out)
    assert "nothing to regrade: 3 students kept" in again and "regraded part" not in again
    assert ran == []
    assert _files(out / "results", out / "feedback") == files
