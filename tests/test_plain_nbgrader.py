"""Plain `nbgrader autograde` still works on the released notebooks (the non-hardened path that
formgrader/JupyterHub users run): a correct submission gets full marks, a stub gets zero."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import PROLOGUE, ROOT, solution_cells, write_submission
from nbgrader.api import Gradebook


def test_nbgrader_autograde_on_released_notebooks(tmp_path):
    course = tmp_path / "course"
    (course / "source" / PROLOGUE).mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / PROLOGUE / "prologue.ipynb", course / "source" / PROLOGUE)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'plain'\nc.ExecutePreprocessor.timeout = 120\n"
    )
    submitted = course / "submitted"
    submitted.mkdir()
    write_submission(submitted, "good", solution_cells())
    write_submission(submitted, "stub", {})
    env = {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]}
    for args in (["generate_assignment", PROLOGUE, "--force"], ["autograde", PROLOGUE, "--force"]):
        proc = subprocess.run(
            [sys.executable, "-m", "nbgrader", *args],
            cwd=course,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", course_id="plain") as gb:
        assert gb.find_submission(PROLOGUE, "good").score == 6
        assert gb.find_submission(PROLOGUE, "stub").score == 0
