"""The grader's use cases: grade a class (resumable, parallel), validate an assignment."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from autograder import feedback, gradebook
from autograder.errors import CourseError
from autograder.grading import (
    GradeSettings,
    grade_submission,
    load_result,
    probe_sandbox,
    submission_key,
    write_atomic,
    write_csv,
)
from autograder.layout import Course
from autograder.notebooks import SourceNotebook, load_source
from autograder.pool import LocalPool, Pool
from autograder.results import CheckOutcome, NotebookResult, PartResult, StudentResult
from autograder.sandbox.client import Zygote
from autograder.submissions import Submission, discover


def load_sources(course: Course, assignment: str) -> list[SourceNotebook]:
    return [load_source(p) for p in course.source_notebooks(assignment)]


def grade_class(
    course: Course,
    assignment: str,
    submissions_dir: Path,
    out: Path,
    workers: int,
    db_url: str | None,
    on_result: Callable[[dict, bool], None] = lambda r, c: None,
    on_total: Callable[[int], None] = lambda n: None,
    pool: Pool | None = None,
) -> tuple[list[dict[str, Any]], int]:
    sources = load_sources(course, assignment)
    subs = discover(submissions_dir, assignment, [s.name for s in sources])
    out.mkdir(parents=True, exist_ok=True)
    db_url = db_url or gradebook.default_url(out)
    gradebook.ensure_assignment(course, assignment, db_url)
    on_total(len(subs))
    probe = Zygote()
    try:
        probe_sandbox(
            probe
        )  # before anyone is graded: a broken sandbox stops here, in one sentence
    finally:
        probe.close()
    hidden = course.hidden_paths() + [str(submissions_dir.resolve()), str(out.resolve())]
    settings = GradeSettings(hidden=hidden)
    torch.set_num_threads(1)

    results: list[dict[str, Any]] = []
    todo: list[Submission] = []
    for sub in subs:
        cached = load_result(out, sub.file_id, submission_key(assignment, sources, sub))
        if cached is not None:
            results.append(cached)
            on_result(cached, True)
        else:
            todo.append(sub)

    def work(sub: Submission, zygote: Zygote) -> dict[str, Any]:
        try:
            graded = grade_submission(zygote, assignment, sources, sub, settings)
        except Exception as exc:  # a grader-side failure must not end the class's run
            graded = failed_result(assignment, sources, sub, exc)
        result = graded.to_json()
        feedback.write(out, result)
        write_atomic(out / "results" / f"{sub.file_id}.json", json.dumps(result, indent=1))
        return result

    pool = pool or LocalPool(workers, Zygote, lambda z: z.close())
    try:
        for result in pool.imap_unordered(work, todo):
            results.append(result)
            gradebook.record(db_url, [result])
            on_result(result, False)
    finally:
        pool.close()
    gradebook.record(db_url, results)  # idempotent: repairs a run killed between file and DB
    write_csv(out / "grades.csv", sources, results)
    return results, len(subs)


def failed_result(
    assignment: str, sources: list[SourceNotebook], sub: Submission, exc: Exception
) -> StudentResult:
    """Zero for every part, a note saying why, and no key: a rerun grades this student again."""
    reason = (
        f"not graded: the grader failed ({type(exc).__name__}: {str(exc)[:300]}); rerun the command"
    )
    notebooks = [
        NotebookResult(
            s.name,
            s.max_score,
            parts=[
                PartResult(p.grade_id, p.points, [CheckOutcome(c, False, reason) for c in p.checks])
                for p in s.parts
            ],
            notes=[reason],
        )
        for s in sources
    ]
    return StudentResult(sub.student_id, assignment, None, notebooks, [*sub.notes, reason])


def validate_assignment(course: Course, assignment: str) -> list[dict[str, Any]]:
    """Grade each source notebook (must score full marks) and its release (must score zero)."""
    rows = []
    zygote = Zygote()
    settings = GradeSettings(hidden=course.hidden_paths(), salt_with_student=False)
    try:
        probe_sandbox(zygote)
        for source in load_sources(course, assignment):
            released = course.exercises / assignment / source.name
            if not released.is_file():
                raise CourseError(
                    f"{released} is missing; run `python -m autograder release {assignment}`."
                )
            problems = []
            scores = {}
            for label, path in (
                ("solution", course.solutions / assignment / source.name),
                ("stub", released),
            ):
                sub = Submission("validate", {source.name: path.read_bytes()})
                result = grade_submission(zygote, assignment, [source], sub, settings)
                scores[label] = result.score
                for nb in result.notebooks:
                    for part in nb.parts:
                        for c in part.checks:
                            if (label == "solution") != c.passed:
                                problems.append(
                                    f"{label}: {c.name} "
                                    f"{'passed' if c.passed else 'failed'}: {c.message}"
                                )
            rows.append(
                {
                    "notebook": source.name,
                    "solution": scores["solution"],
                    "stub": scores["stub"],
                    "max": source.max_score,
                    "problems": problems,
                }
            )
    finally:
        zygote.close()
    return rows
