"""Repository hygiene: notebooks without outputs, exercises/ generated from solutions/, no leaks."""

import json
import re
import subprocess
import sys

import nbformat
from conftest import ROOT

from autograder.layout import Course


def test_notebooks_are_stored_without_outputs():
    tracked = subprocess.run(
        ["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    paths = tracked or [str(p.relative_to(ROOT)) for p in ROOT.glob("*/*/*.ipynb")]
    assert paths
    for rel in paths:
        nb = json.loads((ROOT / rel).read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell.get("outputs"), f"{rel} has outputs: strip them"
                assert cell.get("execution_count") is None, f"{rel} has execution counts"


def _solution_regions(source: str) -> list[str]:
    return re.findall(r"### BEGIN (?:SOLUTION|HIDDEN TESTS)\n(.*?)### END", source, re.S)


def test_release_contains_no_solution_code_or_hidden_tests():
    course = Course(ROOT)
    for assignment in course.assignments():
        for src_path in course.source_notebooks(assignment):
            released = (course.exercises / assignment / src_path.name).read_text()
            src = nbformat.read(str(src_path), as_version=4)
            public = "\n".join(
                re.sub(r"### BEGIN (SOLUTION|HIDDEN TESTS).*?### END \1", "", c.source, flags=re.S)
                for c in src.cells
            )
            secrets = [
                line.strip()
                for c in src.cells
                for region in _solution_regions(c.source)
                for line in region.splitlines()
                if len(line.strip()) > 12 and line.strip() not in public
            ]
            assert secrets, "the source notebook should have solution regions"
            for line in secrets:
                assert line not in released, f"released {src_path.name} leaks: {line!r}"
            assert "BEGIN HIDDEN" not in released and "BEGIN SOLUTION" not in released


def test_release_check_command_passes():
    """exercises/ and the student kit are in sync with solutions/ (what `make release` writes)."""
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "release", "--all", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_stale_release_fails_the_check_command(monkeypatch):
    """`release --all --check` (what CI runs) exits 1 when a generated notebook is stale."""
    import pytest

    from autograder import cli
    from autograder import release as rel

    monkeypatch.setattr(rel, "stale_files", lambda course, name: [f"exercises/{name}/x.ipynb"])
    monkeypatch.setattr(sys, "argv", ["autograder", "release", "--all", "--check"])
    monkeypatch.chdir(ROOT)
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 1


def test_release_holds_only_student_files():
    """The .py notebook sources hold the solutions: no file of any release may be one."""
    course = Course(ROOT)
    for assignment in course.assignments():
        for path in (course.exercises / assignment).rglob("*"):
            text = path.read_text(errors="ignore") if path.is_file() else ""
            assert "BEGIN SOLUTION" not in text, f"{path} leaks a solution region"
            assert path.suffix != ".py" or "nbgrader=" not in text, f"{path} is a notebook source"


def test_every_source_notebook_has_one_py_source():
    """solutions/NN-slug/x.py is the one source; x.ipynb is generated from it."""
    course = Course(ROOT)
    for assignment in course.assignments():
        for nb_path in course.source_notebooks(assignment):
            assert nb_path.with_suffix(".py").is_file(), f"{nb_path} has no .py source"


def test_no_generated_or_build_files_are_tracked():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    bad = [p for p in tracked if ".egg-info/" in p or "__pycache__" in p or p.startswith("_build/")]
    assert not bad, f"generated files are tracked: {bad[:5]}"
