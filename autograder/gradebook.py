"""Recording grades in nbgrader's gradebook (SQLite or PostgreSQL) and exporting them."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from autograder.errors import CourseError
from autograder.layout import Course
from autograder.release import generate
from autograder.result_files import write_table
from autograder.results import StudentResult


def default_url(out: Path) -> str:
    return f"sqlite:///{(out / 'gradebook.db').resolve()}"


COURSE_ID = "transformer-workloads"  # as in nbgrader_config.py (PostgreSQL enforces the course row)


def normalize_url(url: str) -> str:
    """SQLAlchemy 2.1 maps plain postgresql:// to psycopg 3; the pinned driver is psycopg2."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


def _open(url: str) -> Gradebook:
    url = normalize_url(url)
    try:
        return Gradebook(url, course_id=COURSE_ID)
    except Exception as exc:
        raise CourseError(
            f"cannot open the gradebook at {url} ({str(exc).splitlines()[0][:200]}); "
            "check the --db URL and that the server is running."
        ) from None


def ensure_assignment(course: Course, assignment: str, url: str) -> None:
    """Make sure the gradebook knows the assignment's notebooks and grade cells (nbgrader's way)."""
    if not _knows(url, assignment):
        _register(course, assignment, url)


def _knows(url: str, assignment: str) -> bool:
    with _open(url) as gb:
        try:
            gb.find_assignment(assignment)
            return True
        except MissingEntry:
            return False


def _register(course: Course, assignment: str, url: str) -> None:
    """nbgrader's way of teaching the gradebook an assignment: ``generate_assignment`` into it."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        generate(course, assignment, Path(tmp), db_url=normalize_url(url))


def register_in_background(course: Course, assignment: str, url: str) -> Callable[[], None]:
    """:func:`ensure_assignment`, with the slow part (nbgrader's ``generate_assignment``, seconds)
    off the critical path: the gradebook is opened here, so a wrong URL stops the run before anyone
    is graded, and the assignment is registered in a background thread while grading starts.
    Returns ``wait()``: call it before writing to the gradebook (it re-raises a failure)."""
    if _knows(url, assignment):
        return lambda: None
    pool = ThreadPoolExecutor(1, thread_name_prefix="gradebook")
    done = pool.submit(_register, course, assignment, url)
    pool.shutdown(wait=False)
    return lambda: done.result()


def record(url: str, results: list[StudentResult]) -> None:
    """Write auto scores for every result (idempotent: rerunning overwrites with the same values)."""
    with _open(url) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nbgrader's own SQLAlchemy autoflush chatter
        for r in results:
            gb.update_or_create_student(r.student_id)
            gb.update_or_create_submission(r.assignment, r.student_id)
            for nb in r.notebooks:
                stem = Path(nb.notebook).stem
                for part in nb.parts:
                    grade = gb.find_grade(part.grade_id, stem, r.assignment, r.student_id)
                    grade.auto_score = part.score
                    grade.needs_manual_grade = False
            gb.db.commit()


def export(url: str, assignment: str, out: Path) -> int:
    with _open(url) as gb:
        try:
            a = gb.find_assignment(assignment)
        except MissingEntry:
            raise CourseError(
                f"the gradebook has no assignment {assignment!r}; grade it first."
            ) from None
        rows = []
        for sub in sorted(a.submissions, key=lambda s: s.student.id):
            row = {
                "student_id": sub.student.id,
                "assignment": assignment,
                "score": f"{sub.score:g}",
                "max_score": f"{sub.max_score:g}",
            }
            for nb in sub.notebooks:
                for g in nb.grades:
                    row[f"{nb.name}:{g.name}"] = f"{g.score:g}"
            rows.append(row)
    fields = ["student_id", "assignment", "score", "max_score"]
    fields += sorted({k for r in rows for k in r} - set(fields))
    write_table(out, fields, rows)
    return len(rows)


def scores(url: str, assignments: list[str]) -> list:
    """Each assignment's total per student and its points possible, from the gradebook (what the
    LMS formats of :mod:`autograder.lms` write)."""
    from autograder.lms import AssignmentScores

    out = []
    with _open(url) as gb:
        for assignment in assignments:
            try:
                a = gb.find_assignment(assignment)
            except MissingEntry:
                raise CourseError(
                    f"the gradebook has no assignment {assignment!r}; grade it first."
                ) from None
            out.append(
                AssignmentScores(
                    assignment,
                    float(a.max_score),
                    {sub.student.id: float(sub.score) for sub in a.submissions},
                )
            )
    return out
