"""``publish``: put the student release inside the built site, so publishing the book publishes it.

``make book`` runs it after Jupyter Book: ``_build/html/release/`` then holds every released
notebook (``NN-slug/<name>.ipynb``, exactly ``exercises/``), the kit's wheel, the versions the
course is tested with (``requirements.lock``) and an ``index.html`` listing them. Nothing of
``course/``, ``solutions/`` or ``autograder/`` goes there: the notebooks' first cell installs the
kit from ``<baseurl>release/`` (autograder/site.py) and their links point at the published pages.
"""

from __future__ import annotations

import html
import shutil
from pathlib import Path

from autograder import kit
from autograder.errors import CourseError
from autograder.layout import Course
from autograder.site import RELEASE_DIR


def publish(course: Course, site: Path) -> list[Path]:
    """Copy the release into ``site/release/`` (replacing an older copy); the files written."""
    if not (site / "index.html").is_file():
        raise CourseError(
            f"{site} is not a built site (no index.html): build the book first (`make book`)."
        )
    notebooks = sorted(course.exercises.glob("*/*.ipynb"))
    if not notebooks:
        raise CourseError("exercises/ holds no notebook: run `python -m autograder release --all`.")
    target = site / RELEASE_DIR
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    written = []
    for nb in notebooks:
        dest = target / nb.parent.name / nb.name
        dest.parent.mkdir(exist_ok=True)
        shutil.copyfile(nb, dest)
        written.append(dest)
    written.append(kit.build_wheel(course, target))
    shutil.copyfile(course.root / "requirements.lock", target / "requirements.lock")
    written.append(target / "requirements.lock")
    index = target / "index.html"
    index.write_text(_index_page([p.relative_to(target) for p in written]))
    return [*written, index]


def _index_page(files: list[Path]) -> str:
    rows = "\n".join(
        f'<li><a href="{html.escape(str(f))}" download>{html.escape(str(f))}</a></li>'
        for f in files
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Student release</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="../_static/favicon.svg"></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 2em auto; padding: 0 1em">
<h1>Student release</h1>
<p>The graded notebooks (one folder per chapter) and the student kit. The first cell of each
notebook installs the kit from this folder when it is missing; see the
<a href="../book/students-guide.html">students' guide</a>.</p>
<ul>
{rows}
</ul>
</body></html>
"""
