"""Grading one student's notebook out of the kernel, and a whole class resumably."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder import __version__
from autograder.checks.spec import StudentError, get_check, run_check, seed_for
from autograder.errors import CourseError
from autograder.notebooks import SourceNotebook, answer_cells
from autograder.sandbox.client import Session, Zygote
from autograder.sandbox.limits import Limits
from autograder.submissions import Submission


@dataclass
class GradeSettings:
    hidden: list[str]
    salt_with_student: bool = True


class NotebookRun:
    """The student's program in a sandbox, replayed into a fresh child whenever one dies."""

    def __init__(
        self,
        zygote: Zygote,
        source: SourceNotebook,
        answers: dict[str, str],
        settings: GradeSettings,
    ):
        self.zygote, self.source, self.answers = zygote, source, answers
        s = source.settings
        self.limits = Limits(
            cpu_s=int(s.get("cpu_s", 120)),
            memory_mb=int(s.get("memory_mb", 3072)),
            hide=settings.hidden,
        )
        self.base_cell_timeout = float(s.get("timeout_s", 60))
        self.cell_timeout = self.base_cell_timeout
        self.program = [
            (gid or f"setup-{i}", src if kind == "setup" else answers.get(gid, ""))
            for i, (kind, gid, src) in enumerate(source.cells)
            if kind != "test"
        ]
        self.bad: set[str] = set()
        self.cell_errors: dict[str, str] = {}
        self.session: Session | None = None
        self.sandbox_missing: list[str] = []

    def ensure(self) -> Session:
        while self.session is None or self.session.dead:
            self.session = self.zygote.spawn(self.limits, self.cell_timeout)
            self.sandbox_missing = self.session.sandbox_missing
            for name, src in self.program:
                if name in self.bad or not src.strip():
                    continue
                try:
                    err = self.session.exec_cell(name, src, self.cell_timeout)
                except StudentError as exc:
                    self.bad.add(name)
                    self.cell_errors[name] = str(exc)
                    break  # the child is gone: start again without this cell
                if err:
                    self.cell_errors.setdefault(name, err)
        return self.session

    def close(self) -> None:
        if self.session is not None:
            self.session.kill()


def grade_notebook(
    zygote: Zygote,
    source: SourceNotebook,
    data: bytes | None,
    student_id: str,
    settings: GradeSettings,
) -> dict[str, Any]:
    parts = []
    notes: list[str] = []
    if data is None:
        answers: dict[str, str] | None = None
    else:
        try:
            answers, notes = answer_cells(data, source)
        except CourseError as exc:
            answers, notes = None, [str(exc)]
    run = NotebookRun(zygote, source, answers or {}, settings) if answers else None
    budget = student_budget_s(source)
    deadline = time.monotonic() + budget
    try:
        for part in source.parts:
            checks = []
            broken = None  # a time-out or crash ends the part: the other checks would repeat it
            for name in graded_checks(part.checks):
                if run is None:
                    checks.append({"name": name, "passed": False, "message": "no answer to grade"})
                    continue
                if broken:
                    checks.append({"name": name, "passed": False, "message": f"not run: {broken}"})
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    checks.append(
                        {
                            "name": name,
                            "passed": False,
                            "message": f"not run: the notebook's time budget ({budget:g} s for "
                            "all parts together) is spent; look for loops that do not end",
                        }
                    )
                    continue
                spec = get_check(name)
                try:
                    run.cell_timeout = min(run.base_cell_timeout, remaining)
                    session = run.ensure()
                    session.timeout = min(part.timeout_s, remaining)
                    salt = (
                        student_id
                        if settings.salt_with_student and os.environ.get("AUTOGRADER_SECRET")
                        else ""
                    )
                    result = run_check(spec, session, seed_for(name, salt))
                    checks.append(
                        {"name": name, "passed": result.passed, "message": result.message}
                    )
                except StudentError as exc:
                    checks.append({"name": name, "passed": False, "message": str(exc)})
                if run.session is not None and run.session.dead:
                    broken = checks[-1]["message"]
            passed = sum(c["passed"] for c in checks)
            score = round(part.points * passed / len(checks), 4) if checks else 0.0
            parts.append(
                {"grade_id": part.grade_id, "points": part.points, "score": score, "checks": checks}
            )
    finally:
        if run is not None:
            run.close()
    if run is not None:
        notes += [f"answer cell {k!r}: {v}" for k, v in run.cell_errors.items()]
    return {
        "notebook": source.name,
        "parts": parts,
        "notes": notes,
        "score": round(sum(p["score"] for p in parts), 4),
        "max_score": source.max_score,
        "sandbox_missing": run.sandbox_missing if run else [],
    }


def student_budget_s(source: SourceNotebook) -> float:
    """Wall-clock seconds for all of one student's parts of a notebook together: the source's
    ``student_budget_s`` (stated in the notebook's introduction), else 10 calls' worth."""
    settings = source.settings
    return float(settings.get("student_budget_s", 10 * float(settings.get("timeout_s", 60))))


def graded_checks(names: list[str]) -> list[str]:
    """The checks the hardened grader runs for a part: ``x.visible`` is dropped when the part also
    calls ``x``, whose hidden cases cover the same contract on more inputs."""
    return [
        n for n in names if not (n.endswith(".visible") and n.removesuffix(".visible") in names)
    ]


def submission_key(assignment: str, sources: list[SourceNotebook], sub: Submission) -> str:
    h = hashlib.sha256(
        f"{__version__}|{assignment}|{os.environ.get('AUTOGRADER_SECRET', '')}".encode()
    )
    for s in sources:
        h.update(json.dumps([s.name, s.cells, [p.__dict__ for p in s.parts]]).encode())
    for name in sorted(sub.notebooks):
        h.update(name.encode() + hashlib.sha256(sub.notebooks[name]).digest())
    h.update(json.dumps(sub.notes).encode())
    return h.hexdigest()


def grade_submission(
    zygote: Zygote,
    assignment: str,
    sources: list[SourceNotebook],
    sub: Submission,
    settings: GradeSettings,
) -> dict[str, Any]:
    notebooks = [
        grade_notebook(zygote, s, sub.notebooks.get(s.name), sub.student_id, settings)
        for s in sources
    ]
    notes = list(sub.notes) + [n for nb in notebooks for n in nb["notes"]]
    return {
        "student_id": sub.student_id,
        "assignment": assignment,
        "key": submission_key(assignment, sources, sub),
        "score": round(sum(nb["score"] for nb in notebooks), 4),
        "max_score": sum(nb["max_score"] for nb in notebooks),
        "notebooks": notebooks,
        "notes": notes,
    }


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_result(out: Path, file_id: str, key: str) -> dict[str, Any] | None:
    path = out / "results" / f"{file_id}.json"
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return result if result.get("key") == key else None


def part_columns(sources: list[SourceNotebook]) -> list[str]:
    return [f"{Path(s.name).stem}:{p.grade_id}" for s in sources for p in s.parts]


def write_csv(path: Path, sources: list[SourceNotebook], results: list[dict[str, Any]]) -> None:
    cols = part_columns(sources)
    rows = []
    for r in sorted(results, key=lambda r: r["student_id"]):
        row = {
            "student_id": r["student_id"],
            "assignment": r["assignment"],
            "score": f"{r['score']:g}",
            "max_score": f"{r['max_score']:g}",
        }
        for nb in r["notebooks"]:
            for p in nb["parts"]:
                row[f"{Path(nb['notebook']).stem}:{p['grade_id']}"] = f"{p['score']:g}"
        row["notes"] = "; ".join(r["notes"])[:2000]
        rows.append(row)
    write_table(path, ["student_id", "assignment", "score", "max_score", *cols, "notes"], rows)


def write_table(path: Path, fields: list[str], rows: list[dict[str, Any]]) -> None:
    """Write rows as CSV, atomically (readers never see a half-written file)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(path, buf.getvalue())
