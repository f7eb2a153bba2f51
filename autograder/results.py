"""What grading produces, typed: a student's result, per notebook, per part, per check.

The worker builds these and hands them back as they are; the driver, the CSV, the gradebook, the
feedback and the CLI read them as they are. JSON only at the file boundary: each class has
``to_json`` (the form written to ``results/<id>.json``, which is what makes a rerun resume; scores
included, for readers) and ``from_json`` (its inverse; scores are recomputed, never read back).
Reading and writing the files themselves is :mod:`autograder.result_files`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: a JSON object as :func:`json.loads` returns it
JsonObject = dict[str, Any]


@dataclass
class CheckOutcome:
    """One named check of a part: passed or not, and the message the student reads."""

    name: str
    passed: bool
    message: str

    def to_json(self) -> JsonObject:
        """``{"name", "passed", "message"}``."""
        return {"name": self.name, "passed": self.passed, "message": self.message}

    @classmethod
    def from_json(cls, data: JsonObject) -> CheckOutcome:
        return cls(data["name"], data["passed"], data["message"])


@dataclass
class PartResult:
    """One graded cell (nbgrader ``grade_id``): its points shared equally among its checks, and
    the version of each check it was graded with (:mod:`autograder.checks.version`): a rerun
    regrades the part when one of them changed."""

    grade_id: str
    points: float
    checks: list[CheckOutcome] = field(default_factory=list)
    #: check name -> the check's version when this part was graded (empty: unknown, graded again)
    check_versions: dict[str, str] = field(default_factory=dict)

    @property
    def score(self) -> float:
        if not self.checks:
            return 0.0
        return round(self.points * sum(c.passed for c in self.checks) / len(self.checks), 4)

    def to_json(self) -> JsonObject:
        """``{"grade_id", "points", "score", "check_versions": {name: version},
        "checks": [CheckOutcome...]}``."""
        return {
            "grade_id": self.grade_id,
            "points": self.points,
            "score": self.score,
            "check_versions": dict(self.check_versions),
            "checks": [c.to_json() for c in self.checks],
        }

    @classmethod
    def from_json(cls, data: JsonObject) -> PartResult:
        """The inverse of :meth:`to_json`; a part graded before versions were recorded has none."""
        versions = data.get("check_versions", {})
        if not isinstance(versions, dict):
            raise TypeError("check_versions is not an object")
        return cls(
            data["grade_id"],
            data["points"],
            [CheckOutcome.from_json(c) for c in data["checks"]],
            {str(k): str(v) for k, v in versions.items()},
        )


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

    def to_json(self) -> JsonObject:
        """``{"notebook", "score", "max_score", "notes", "sandbox_missing", "parts": [...]}``."""
        return {
            "notebook": self.notebook,
            "score": self.score,
            "max_score": self.max_score,
            "notes": list(self.notes),
            "sandbox_missing": list(self.sandbox_missing),
            "parts": [p.to_json() for p in self.parts],
        }

    @classmethod
    def from_json(cls, data: JsonObject) -> NotebookResult:
        return cls(
            notebook=data["notebook"],
            max_score=data["max_score"],
            notes=list(data.get("notes", [])),
            sandbox_missing=list(data.get("sandbox_missing", [])),
            parts=[PartResult.from_json(p) for p in data["parts"]],
        )


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

    def to_json(self) -> JsonObject:
        """``{"student_id", "assignment", "key", "score", "max_score", "notebooks": [...],
        "notes"}``: the form written to ``results/<id>.json``."""
        return {
            "student_id": self.student_id,
            "assignment": self.assignment,
            "key": self.key,
            "score": self.score,
            "max_score": self.max_score,
            "notebooks": [nb.to_json() for nb in self.notebooks],
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, data: JsonObject) -> StudentResult:
        """The inverse of :meth:`to_json`; raises KeyError or TypeError on another shape."""
        return cls(
            student_id=data["student_id"],
            assignment=data["assignment"],
            key=data.get("key"),
            notebooks=[NotebookResult.from_json(nb) for nb in data["notebooks"]],
            notes=list(data.get("notes", [])),
        )
