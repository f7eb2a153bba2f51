"""What grading produces, typed: a student's result, per notebook, per part, per check.

The grader builds these; they are written once per student as JSON (``results/<id>.json``, which is
what makes a rerun resume) and everything downstream (feedback, gradebook, ``grades.csv``, the CLI
table) reads that JSON form, :meth:`StudentResult.to_json`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class CheckOutcome:
    """One named check of a part: passed or not, and the message the student reads."""

    name: str
    passed: bool
    message: str


@dataclass
class PartResult:
    """One graded cell (nbgrader ``grade_id``): its points shared equally among its checks."""

    grade_id: str
    points: float
    checks: list[CheckOutcome] = field(default_factory=list)

    @property
    def score(self) -> float:
        if not self.checks:
            return 0.0
        return round(self.points * sum(c.passed for c in self.checks) / len(self.checks), 4)


@dataclass
class NotebookResult:
    """One graded notebook of a submission: its parts, and notes the feedback shows."""

    notebook: str
    max_score: float
    parts: list[PartResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: protections the sandbox could not set up on this machine (said in the feedback)
    sandbox_missing: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return round(sum(p.score for p in self.parts), 4)


@dataclass
class StudentResult:
    """Everything one student gets for one assignment; ``key`` makes a rerun skip it."""

    student_id: str
    assignment: str
    #: the submission's content key; None means "grade again on the next run" (a grader failure)
    key: str | None
    notebooks: list[NotebookResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def max_score(self) -> float:
        return sum(nb.max_score for nb in self.notebooks)

    @property
    def score(self) -> float:
        return round(sum(nb.score for nb in self.notebooks), 4)

    def to_json(self) -> dict[str, Any]:
        """The JSON form written to ``results/<id>.json`` (scores included, for readers)."""
        return {
            "student_id": self.student_id,
            "assignment": self.assignment,
            "key": self.key,
            "score": self.score,
            "max_score": self.max_score,
            "notebooks": [
                {
                    "notebook": nb.notebook,
                    "score": nb.score,
                    "max_score": nb.max_score,
                    "notes": list(nb.notes),
                    "sandbox_missing": list(nb.sandbox_missing),
                    "parts": [
                        {
                            "grade_id": p.grade_id,
                            "points": p.points,
                            "score": p.score,
                            "checks": [asdict(c) for c in p.checks],
                        }
                        for p in nb.parts
                    ],
                }
                for nb in self.notebooks
            ],
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StudentResult:
        return cls(
            student_id=data["student_id"],
            assignment=data["assignment"],
            key=data.get("key"),
            notebooks=[
                NotebookResult(
                    notebook=nb["notebook"],
                    max_score=nb["max_score"],
                    notes=list(nb.get("notes", [])),
                    sandbox_missing=list(nb.get("sandbox_missing", [])),
                    parts=[
                        PartResult(
                            p["grade_id"], p["points"], [CheckOutcome(**c) for c in p["checks"]]
                        )
                        for p in nb["parts"]
                    ],
                )
                for nb in data["notebooks"]
            ],
            notes=list(data.get("notes", [])),
        )
