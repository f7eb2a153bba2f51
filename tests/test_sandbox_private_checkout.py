"""A checkout inside a directory only its owner can enter (``mktemp -d``, mode 0700; home
directories are often 0750 or 0700) still grades honestly: the sandbox's unprivileged uid gets
the Python environment back through its private mount namespace (and nothing else of that
directory), so a lazily imported torch module never turns into a student's zero."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import PROLOGUE, ROOT, solution_cells, write_submission

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="needs root and util-linux unshare (the uid switch only happens as root)",
)


def test_grading_from_a_0700_directory_gives_full_marks(tmp_path):
    private = Path(tempfile.mkdtemp(prefix="course-0700-"))  # mode 0700, owned by root
    try:
        assert private.stat().st_mode & 0o777 == 0o700
        venv = private / "checkout" / ".venv"
        venv.mkdir(parents=True)
        subs, out = tmp_path / "subs", tmp_path / "out"
        subs.mkdir()
        write_submission(subs, "honest", solution_cells())
        python = venv / "bin" / "python"
        # The project's venv appears *inside* the private directory (a bind mount in a throwaway
        # mount namespace), so sys.prefix is under the 0700 directory as in a private clone.
        script = (
            f"mount --bind {ROOT / '.venv'} {venv} && "
            f"{python} -c 'import sys; print(sys.prefix)' && "
            f"{python} -m autograder grade --assignment {PROLOGUE} --submissions {subs} "
            f"--out {out} --workers 1 --quiet"
        )
        proc = subprocess.run(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert str(venv) in proc.stdout.splitlines()[0], proc.stdout
        with open(out / "grades.csv") as f:
            rows = {r["student_id"]: r for r in csv.DictReader(f)}
        assert float(rows["honest"]["score"]) == float(rows["honest"]["max_score"]), rows
    finally:
        shutil.rmtree(private, ignore_errors=True)


def test_exposed_paths_are_only_the_python_trees():
    from autograder.sandbox.limits import _blocking_ancestor, needed_paths

    assert set(needed_paths()) == {
        os.path.realpath(sys.base_prefix),
        os.path.realpath(sys.prefix),
    }
    private = Path(tempfile.mkdtemp())
    try:
        assert _blocking_ancestor(str(private / "a" / "b")) == str(private)
        assert _blocking_ancestor("/usr/lib") is None
    finally:
        private.rmdir()
