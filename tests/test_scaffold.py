"""``new-chapter``: a scaffolded chapter is complete (pages, notebook, checks, reference, tests, toc)
and its notebook source passes its own checks, and wrong names get one plain sentence."""

import shutil
import subprocess
import sys

import pytest
import yaml
from conftest import ROOT

from autograder.errors import CourseError
from autograder.layout import Course
from autograder.scaffold import ChapterNames, add_to_toc, new_chapter


@pytest.fixture
def course_copy(tmp_path):
    """A minimal course layout (no copy of the big files): toc, solutions/, nbgrader config."""
    for name in ("_toc.yml", "nbgrader_config.py"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "solutions").mkdir()
    return Course(tmp_path)


def test_new_chapter_creates_every_file_and_a_toc_entry_in_order(course_copy):
    written = new_chapter(course_copy, "05-demo-chapter", "A demo")
    rel = {str(p.relative_to(course_copy.root)) for p in written}
    assert rel == {
        "book/05-demo-chapter/index.md",
        "course/demo_chapter/__init__.py",
        "course/demo_chapter/blocks.py",
        "autograder/chapters/demo_chapter/__init__.py",
        "autograder/chapters/demo_chapter/scale.py",
        "solutions/05-demo-chapter/demo_chapter.py",
        "tests/test_demo_chapter_oracles.py",
    }
    files = [
        ch["file"]
        for part in yaml.safe_load((course_copy.root / "_toc.yml").read_text())["parts"]
        if part.get("caption") == "Chapters"
        for ch in part["chapters"]
    ]
    assert "book/05-demo-chapter/index" in files
    numbers = [f.split("/")[1][:2] for f in files if f.startswith("book/") and f[5:7].isdigit()]
    assert numbers == sorted(numbers)
    assert "05-demo-chapter" in course_copy.assignments()
    with pytest.raises(CourseError, match="already has files"):
        new_chapter(course_copy, "05-demo-chapter")
    assert add_to_toc(course_copy.root / "_toc.yml", ChapterNames.parse("05-demo-chapter")) is False


@pytest.mark.parametrize("bad", ["5-ssl", "05_ssl", "05-SSL", "ssl", "05-"])
def test_bad_chapter_names_get_one_sentence(bad):
    with pytest.raises(CourseError, match="not a chapter name"):
        ChapterNames.parse(bad)


def test_scaffolded_chapter_passes_its_own_checks(course_copy, tmp_path):
    """The template's reference, check and notebook work together (run in a fresh interpreter)."""
    new_chapter(course_copy, "09-template-probe")
    root = course_copy.root
    code = (
        "import sys; sys.path[:0] = [{root!r}]\n"
        "import course, autograder.chapters as ac\n"
        "course.__path__.insert(0, {course!r}); ac.__path__.insert(0, {chapters!r})\n"
        "from autograder.checks.runner import check\n"
        "from course import template_probe as ref\n"
        "check('template_probe.scale', ref.scale)\n"
        "check('template_probe.scale.visible', ref.scale)\n"
        "try:\n"
        "    check('template_probe.scale', lambda x, f: x / f)\n"
        "except AssertionError as e:\n"
        "    assert 'dividing by the factor' in str(e), e\n"
        "else:\n"
        "    raise SystemExit('the named mistake passed')\n"
    ).format(
        root=str(ROOT), course=str(root / "course"), chapters=str(root / "autograder/chapters")
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--config",
            str(ROOT / "pyproject.toml"),
            str(root),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout


def test_cli_new_chapter_rejects_a_bad_name_in_one_sentence():
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "new-chapter", "bad name"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "not a chapter name" in proc.stderr and "Traceback" not in proc.stderr


def test_a_standard_library_name_is_refused_and_package_picks_another(course_copy):
    with pytest.raises(CourseError, match="standard-library module"):
        ChapterNames.parse("05-ssl")
    written = new_chapter(course_copy, "05-ssl", "SSL", package="ssl_learning")
    rel = {str(p.relative_to(course_copy.root)) for p in written}
    assert "solutions/05-ssl/ssl_learning.py" in rel
    assert "autograder/chapters/ssl_learning/__init__.py" in rel
