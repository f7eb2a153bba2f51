"""``release``: generate exercises/ from solutions/ with nbgrader, or check that it is current."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from autograder.errors import CourseError
from autograder.layout import Course
from autograder.site import base_url, published_links
from autograder.sources import stale_notebooks, write_notebooks


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


def publish_links(release_dir: Path, base: str | None = None) -> None:
    """Point the released notebooks' links to book pages (``../../book/x.md``, which resolve only
    in a clone of the repository) at the published pages (``<baseurl>book/x.html``), so they work in
    Colab and in a downloaded copy. Only markdown cells change: nbgrader checksums code cells."""
    base = base or base_url()
    for path in sorted(release_dir.glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        changed = False
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                new = published_links(cell.source, base)
                changed |= new != cell.source
                cell.source = new
        if changed:
            nbformat.write(nb, str(path))


def _normalised(path: Path) -> str:
    nb = json.loads(path.read_text())
    return json.dumps(nb, sort_keys=True, indent=1)


def _same(a: Path, b: Path) -> bool:
    if a.suffix == ".ipynb":
        return _normalised(a) == _normalised(b)
    return a.is_file() and b.is_file() and a.read_bytes() == b.read_bytes()


def stale_files(course: Course, assignment: str) -> list[str]:
    """Generated files that differ from their source (empty: up to date).

    Checks both steps: ``solutions/<a>/*.ipynb`` against their ``.py`` sources, and
    ``exercises/<a>`` against a fresh nbgrader release of those notebooks.
    """
    stale = [
        str(p.relative_to(course.root)) for p in stale_notebooks(course.solutions / assignment)
    ]
    if stale:
        return stale  # the release would be built from stale notebooks
    with tempfile.TemporaryDirectory() as tmp:
        generate(course, assignment, Path(tmp))
        fresh = Path(tmp) / assignment
        publish_links(fresh)
        current = course.exercises / assignment
        names = {p.name for p in fresh.iterdir()} | (
            {p.name for p in current.iterdir()} if current.is_dir() else set()
        )
        stale = []
        for name in sorted(names):
            a, b = fresh / name, current / name
            if not a.exists() or not b.exists() or _same(a, b) is False:
                stale.append(f"exercises/{assignment}/{name}")
        return stale


def release(course: Course, assignment: str) -> Path:
    """Regenerate ``solutions/<a>/*.ipynb`` from the ``.py`` sources, then ``exercises/<a>``."""
    write_notebooks(course.solutions / assignment)
    target = course.exercises / assignment
    with tempfile.TemporaryDirectory() as tmp:
        generate(course, assignment, Path(tmp))
        publish_links(Path(tmp) / assignment)
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(Path(tmp) / assignment, target)
    return target
