"""Where things are in a course checkout, with one-sentence errors when something is off."""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from autograder.errors import CourseError

ASSIGNMENT = re.compile(r"^\d\d-[a-z0-9-]+$")

#: the checkout's top-level trees that a sandboxed student process must not see: the grader and
#: its checks, the references, the solutions, the tests, the benchmarks, the book's sources, the
#: released notebooks and git's history. The one definition: :meth:`Course.hidden_paths` hides
#: them, and a failed import of one of their names is the student's doing
#: (:func:`hidden_on_purpose`), never the grader's environment failing.
HIDDEN_TREES: tuple[str, ...] = (
    "solutions",
    "course",
    "autograder",
    "tests",
    "benchmarks",
    "book",
    "exercises",
    ".git",
)


def hidden_on_purpose(module: str) -> bool:
    """Is ``module`` (a dotted name) inside one of the :data:`HIDDEN_TREES`? Its import fails in
    the sandbox by design: the student's problem, not the grader's."""
    return module.split(".")[0] in HIDDEN_TREES


@dataclass(frozen=True)
class Course:
    root: Path

    @classmethod
    def find(cls, start: Path | None = None) -> Course:
        here = (start or Path.cwd()).resolve()
        for d in (here, *here.parents):
            if (d / "solutions").is_dir() and (d / "nbgrader_config.py").is_file():
                return cls(d)
        raise CourseError(
            f"{here} is not inside a course checkout (no solutions/ and "
            "nbgrader_config.py found above it); run the command from the repository."
        )

    @property
    def solutions(self) -> Path:
        return self.root / "solutions"

    @property
    def exercises(self) -> Path:
        return self.root / "exercises"

    def assignments(self) -> list[str]:
        return sorted(
            p.name
            for p in self.solutions.iterdir()
            if p.is_dir() and ASSIGNMENT.match(p.name) and any(p.glob("*.py"))
        )

    def chapters(self) -> list[str]:
        """Every chapter's name: the stem of each assignment's source notebook
        (``solutions/NN-slug/<chapter>.py``), which names its checks (``<chapter>.<block>``)."""
        return sorted(p.stem for a in self.assignments() for p in (self.solutions / a).glob("*.py"))

    def check_assignment(self, name: str) -> str:
        if name not in self.assignments():
            known = ", ".join(self.assignments()) or "none"
            raise CourseError(f"unknown assignment {name!r}: solutions/ has {known}.")
        return name

    def source_notebooks(self, name: str) -> list[Path]:
        return sorted((self.solutions / self.check_assignment(name)).glob("*.ipynb"))

    def hidden_paths(self) -> list[str]:
        """What a sandboxed student process must not see: the :data:`HIDDEN_TREES` of this
        checkout, as absolute paths."""
        return [str(self.root / d) for d in HIDDEN_TREES]

    #: what a grading worker on another machine needs of the course (see :meth:`stage_for_workers`):
    #: glob pattern in the checkout -> folder of the staged copy (None: the same relative path)
    WORKER_FILES: ClassVar[dict[str, str | None]] = {
        "autograder": None,
        "course": None,
        "kit/src/coursekit": "coursekit",  # importable from the top, like the package installed
        "solutions": None,
        "nbgrader_config.py": None,
        "book/_static/*.json": None,
    }

    def stage_for_workers(self) -> Path:
        """A fresh temporary folder with what grading workers need, shipped to Ray nodes as their
        ``working_dir`` (which Ray puts first on their ``sys.path``): the autograder and its
        checks, the reference code, the student kit the sandbox preloads, the source notebooks
        and the data files checks read (``book/_static/*.json``). A few MB; nothing else of the
        checkout (no virtual environment, no book build, no submissions or grades)."""
        dest = Path(tempfile.mkdtemp(prefix="ag-course-"))
        skip = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
        for pattern, rename in self.WORKER_FILES.items():
            for src in sorted(self.root.glob(pattern)):
                target = dest / (rename or src.relative_to(self.root))
                target.parent.mkdir(parents=True, exist_ok=True)
                if src.is_dir():
                    shutil.copytree(src, target, ignore=skip)
                else:
                    shutil.copy2(src, target)
        return dest
