"""``release``: generate exercises/ from solutions/ with nbgrader, or check that it is current."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from autograder.errors import CourseError
from autograder.layout import Course


def _nbgrader(course: Course, *args: str) -> None:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course.root,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise CourseError(f"nbgrader {args[0]} failed; its output ends with:\n{tail}")


def generate(course: Course, assignment: str, release_dir: Path, db_url: str | None = None) -> None:
    """Run ``nbgrader generate_assignment`` for ``assignment`` into ``release_dir``."""
    with tempfile.TemporaryDirectory() as tmp:
        db = db_url or f"sqlite:///{tmp}/gradebook.db"
        _nbgrader(
            course,
            "generate_assignment",
            assignment,
            "--force",
            f"--db={db}",
            f"--CourseDirectory.release_directory={release_dir}",
            "--log-level=WARN",
        )


def _normalised(path: Path) -> str:
    nb = json.loads(path.read_text())
    return json.dumps(nb, sort_keys=True, indent=1)


def stale_files(course: Course, assignment: str) -> list[str]:
    """Files of exercises/<assignment> that differ from a fresh release (empty: up to date)."""
    with tempfile.TemporaryDirectory() as tmp:
        generate(course, assignment, Path(tmp))
        fresh = Path(tmp) / assignment
        current = course.exercises / assignment
        names = {p.name for p in fresh.glob("*.ipynb")} | (
            {p.name for p in current.glob("*.ipynb")} if current.is_dir() else set()
        )
        stale = []
        for name in sorted(names):
            a, b = fresh / name, current / name
            if not a.exists() or not b.exists() or _normalised(a) != _normalised(b):
                stale.append(f"exercises/{assignment}/{name}")
        return stale


def release(course: Course, assignment: str) -> Path:
    target = course.exercises / assignment
    with tempfile.TemporaryDirectory() as tmp:
        generate(course, assignment, Path(tmp))
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(Path(tmp) / assignment, target)
    return target
