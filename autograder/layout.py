"""Where things are in a course checkout, with one-sentence errors when something is off."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from autograder.errors import CourseError

ASSIGNMENT = re.compile(r"^\d\d-[a-z0-9-]+$")


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

    def check_assignment(self, name: str) -> str:
        if name not in self.assignments():
            known = ", ".join(self.assignments()) or "none"
            raise CourseError(f"unknown assignment {name!r}: solutions/ has {known}.")
        return name

    def source_notebooks(self, name: str) -> list[Path]:
        return sorted((self.solutions / self.check_assignment(name)).glob("*.ipynb"))

    def hidden_paths(self) -> list[str]:
        """What a sandboxed student process must not see."""
        return [
            str(self.root / d)
            for d in ("solutions", "course", "autograder", "tests", "benchmarks", "book", ".git")
        ]
