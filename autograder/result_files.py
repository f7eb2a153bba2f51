"""Grading's output files, written atomically: each student's result JSON (what a rerun resumes
from), ``grades.csv``, and any CSV table (the gradebook's export).

The typed results (:mod:`autograder.results`) become JSON or CSV here and nowhere else.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path

from autograder.notebooks import SourceNotebook
from autograder.results import StudentResult

#: the columns of ``grades.csv`` before the per-part ones, and the last one
GRADES_HEAD = ["student_id", "assignment", "score", "max_score"]
GRADES_TAIL = "notes"
#: at most this many characters of a student's notes go into ``grades.csv``
MAX_NOTES_CHARS = 2000


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (parents made) so that readers never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def result_path(out: Path, file_id: str) -> Path:
    """``OUT/results/<file_id>.json``: one student's result."""
    return out / "results" / f"{file_id}.json"


def save_result(out: Path, file_id: str, result: StudentResult) -> None:
    """Write one student's result as JSON (``indent=1``), atomically."""
    write_atomic(result_path(out, file_id), json.dumps(result.to_json(), indent=1))


def load_stored(out: Path, file_id: str) -> StudentResult | None:
    """The stored result of ``file_id``, whatever its key; None when there is none or it is
    unreadable (what a regrade compares with, :mod:`autograder.regrade`)."""
    try:
        data = json.loads(result_path(out, file_id).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    try:
        return StudentResult.from_json(data)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def load_result(out: Path, file_id: str, key: str) -> StudentResult | None:
    """The stored result of ``file_id`` if its key is ``key`` (same code, secret, sources and
    submission); None when there is none, it is unreadable, or it is for other inputs."""
    stored = load_stored(out, file_id)
    return stored if stored is not None and stored.key == key else None


def part_columns(sources: list[SourceNotebook]) -> list[str]:
    """One ``grades.csv`` column per graded part: ``<notebook stem>:<grade_id>``."""
    return [f"{Path(s.name).stem}:{p.grade_id}" for s in sources for p in s.parts]


def grades_row(result: StudentResult) -> dict[str, str]:
    """One student's ``grades.csv`` row: column -> text (scores as ``%g``)."""
    row = {
        "student_id": result.student_id,
        "assignment": result.assignment,
        "score": f"{result.score:g}",
        "max_score": f"{result.max_score:g}",
    }
    for nb in result.notebooks:
        for p in nb.parts:
            row[f"{Path(nb.notebook).stem}:{p.grade_id}"] = f"{p.score:g}"
    row[GRADES_TAIL] = "; ".join(result.notes)[:MAX_NOTES_CHARS]
    return row


def write_csv(path: Path, sources: list[SourceNotebook], results: list[StudentResult]) -> None:
    """``grades.csv``: one row per student (sorted by id), one column per part of ``sources``."""
    rows = [grades_row(r) for r in sorted(results, key=lambda r: r.student_id)]
    write_table(path, [*GRADES_HEAD, *part_columns(sources), GRADES_TAIL], rows)


def write_table(path: Path, fields: list[str], rows: list[dict[str, str]]) -> None:
    """Write rows as CSV, atomically (readers never see a half-written file)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(path, buf.getvalue())
