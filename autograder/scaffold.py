"""``new-chapter NN-slug``: create every file a chapter needs, from ``autograder/templates/chapter``.

One chapter name is used everywhere (see the README's naming rule): ``NN-slug`` for folders, and the
slug with ``-`` replaced by ``_`` as the Python name (``--package`` picks another, e.g. when the slug
is a standard-library module such as ``ssl``). The command refuses to overwrite anything.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from autograder.errors import CourseError
from autograder.layout import ASSIGNMENT, Course

TEMPLATES = Path(__file__).parent / "templates" / "chapter"


@dataclass(frozen=True)
class ChapterNames:
    chapter: str  # "05-ssl"
    slug: str  # "ssl" (a Python identifier)
    title: str

    @classmethod
    def parse(
        cls, chapter: str, title: str | None = None, package: str | None = None
    ) -> ChapterNames:
        if not ASSIGNMENT.match(chapter):
            raise CourseError(
                f"{chapter!r} is not a chapter name: use two digits, a dash and a lower-case slug, "
                "for example 05-ssl or 06-clip-sam-whisper."
            )
        slug = package or chapter[3:].replace("-", "_")
        if not slug.isidentifier():
            raise CourseError(
                f"{chapter!r} gives the Python name {slug!r}, which is not valid; "
                "pass --package NAME."
            )
        if slug in sys.stdlib_module_names:
            raise CourseError(
                f"the Python name {slug!r} is a standard-library module (a notebook named "
                f"{slug}.py would shadow it); pass --package NAME, e.g. --package {slug}_learning."
            )
        return cls(chapter, slug, title or chapter[3:].replace("-", " ").capitalize())


def planned_files(course: Course, names: ChapterNames) -> dict[Path, str]:
    """Target path -> template file name."""
    r, c, s = course.root, names.chapter, names.slug
    return {
        r / "book" / c / "index.md": "index.md",
        r / "course" / s / "__init__.py": "course_init.py",
        r / "course" / s / "blocks.py": "course_blocks.py",
        r / "autograder" / "chapters" / s / "__init__.py": "checks_init.py",
        r / "autograder" / "chapters" / s / "scale.py": "checks_block.py",
        r / "solutions" / c / f"{s}.py": "notebook.py",
        r / "tests" / f"test_{s}_oracles.py": "test_oracles.py",
    }


def _render(template: str, names: ChapterNames) -> str:
    text = (TEMPLATES / template).read_text()
    for key in ("chapter", "slug", "title"):
        text = text.replace("{" + key + "}", getattr(names, key))
    return text


def add_to_toc(toc_path: Path, names: ChapterNames) -> bool:
    """Insert ``book/NN-slug/index`` into the "Chapters" part, in chapter order. False if present."""
    toc = yaml.safe_load(toc_path.read_text())
    entry = f"book/{names.chapter}/index"
    parts = toc.get("parts", [])
    chapters = next((p for p in parts if p.get("caption") == "Chapters"), None)
    if chapters is None:
        raise CourseError(f"{toc_path} has no part captioned 'Chapters'; add one, then rerun.")
    files = chapters.setdefault("chapters", [])
    if any(ch.get("file") == entry for ch in files):
        return False
    key = re.compile(r"book/(\d\d)-")
    position = len(files)
    for i, ch in enumerate(files):
        m = key.match(ch.get("file", ""))
        if m and m.group(1) > names.chapter[:2]:
            position = i
            break
    files.insert(position, {"file": entry})
    toc_path.write_text(yaml.safe_dump(toc, sort_keys=False, default_flow_style=False))
    return True


def new_chapter(
    course: Course, chapter: str, title: str | None = None, package: str | None = None
) -> list[Path]:
    """Create the chapter's files and its table-of-contents entry; returns the files written."""
    names = ChapterNames.parse(chapter, title, package)
    plan = planned_files(course, names)
    existing = [p for p in plan if p.exists()]
    if existing or (course.root / "book" / names.chapter).exists():
        shown = ", ".join(str(p.relative_to(course.root)) for p in existing) or f"book/{chapter}"
        raise CourseError(f"chapter {chapter} already has files ({shown}); pick another name.")
    for path, template in plan.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_render(template, names))
    add_to_toc(course.root / "_toc.yml", names)
    return list(plan)
