"""Regrading only what changed: which students and parts a rerun of ``grade`` must grade again.

A stored result (``results/<id>.json``) is kept when its resume key still matches (the same
submission, assignment notebooks, class secret and grader version,
:func:`autograder.grading.submission_key`) *and* each of its parts was graded with the current
version of every check it runs (:mod:`autograder.checks.version`). Otherwise:

* no stored result: the student is graded for the first time;
* another key (the submission changed, or the notebooks, the secret or the grader's version), or
  no key (the grader failed on them last time): the student is graded again, whole;
* the same key but a check's version changed: only the parts that run that check are graded
  again; the others keep their results. A part graded before versions were recorded has none
  and is graded again.

:func:`plan` decides (reading files only: ``grade --dry-run`` prints its :meth:`Plan.summary`);
:func:`autograder.service.grade_class` grades what it says and counts the grades that moved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from autograder.grading import graded_checks, submission_key
from autograder.notebooks import SourceNotebook
from autograder.result_files import load_stored
from autograder.results import StudentResult
from autograder.submissions import Submission

#: why a student is graded: for the first time, again whole, some parts again, or not at all
Why = Literal["new", "changed", "retry", "stale", "kept"]
#: the reason given for a part graded before check versions were recorded
UNVERSIONED = "graded before check versions were recorded"


@dataclass
class Planned:
    """One student on this run: ``why`` they are graded, their stored result (``previous``, kept
    or compared with), and for ``stale`` the parts to regrade (notebook -> grade_ids)."""

    sub: Submission
    why: Why
    previous: StudentResult | None = None
    stale: dict[str, list[str]] = field(default_factory=dict)

    @property
    def file_id(self) -> str:
        return self.sub.file_id

    @property
    def student_id(self) -> str:
        return self.sub.student_id


@dataclass
class Plan:
    """What a run of ``grade`` grades, and after it what moved."""

    students: list[Planned]
    #: part column (``<notebook stem>:<grade_id>``, as in grades.csv) -> why it is regraded (the
    #: checks whose version changed, or :data:`UNVERSIONED`)
    reasons: dict[str, list[str]] = field(default_factory=dict)
    #: part column -> students whose part is regraded
    regraded: dict[str, list[str]] = field(default_factory=dict)
    #: part column -> how many of those grades changed (filled in by grading)
    moved: dict[str, int] = field(default_factory=dict)
    #: students whose regrade failed on the grader's side: their stored result is kept as it was
    failed: list[str] = field(default_factory=list)

    def of(self, why: Why) -> list[Planned]:
        return [p for p in self.students if p.why == why]

    def count_moved(self, planned: Planned, result: StudentResult) -> None:
        """Count the regraded parts of ``planned`` whose score ``result`` changes."""
        if planned.previous is None or planned.why != "stale":
            return
        before = _part_scores(planned.previous)
        for column, score in _part_scores(result).items():
            if column in self.regraded and planned.sub.student_id in self.regraded[column]:
                self.moved[column] = self.moved.get(column, 0) + (before.get(column) != score)

    def summary(self, dry_run: bool = False) -> list[str]:
        """One plain sentence per line: what was (``dry_run``: would be) graded and why."""
        verb = "would regrade" if dry_run else "regraded"
        lines = []
        for column in sorted(self.regraded):
            who = self.regraded[column]
            line = (
                f"{verb} part {column} ({_reasons(self.reasons[column])}) for {_students(len(who))}"
            )
            if not dry_run:
                moved = self.moved.get(column, 0)
                line += f": {moved} grade{'' if moved == 1 else 's'} moved"
            lines.append(line)
        for why, words in (
            ("new", "for the first time"),
            ("changed", "again: their submission changed (or the assignment's notebooks, "
             "the class secret or the grader's version did)"),
            ("retry", "again: the grader failed on them last time"),
        ):  # fmt: skip
            if self.of(why):
                lines.append(
                    f"{'would grade' if dry_run else 'graded'} {_students(len(self.of(why)))} "
                    f"{words}"
                )
        if self.failed:
            lines.append(
                f"the regrade failed on the grader's side for {_students(len(self.failed))} "
                f"({', '.join(self.failed[:10])}): their earlier results are kept; rerun the "
                "command to regrade them"
            )
        kept = len(self.of("kept"))
        if kept and kept == len(self.students):
            lines.append(
                f"nothing to regrade: {_students(kept)} kept, graded with every check's current "
                "version and their current submission"
            )
        elif kept:
            lines.append(f"kept {_students(kept)} as graded")
        return lines


def _students(n: int) -> str:
    return f"{n} student{'' if n == 1 else 's'}"


def _reasons(reasons: list[str]) -> str:
    checks = [r for r in reasons if r != UNVERSIONED]
    words = []
    if checks:
        words.append(f"check{'' if len(checks) == 1 else 's'} {', '.join(checks)} changed")
    if UNVERSIONED in reasons:
        words.append(UNVERSIONED)
    return "; ".join(words)


def part_column(notebook: str, grade_id: str) -> str:
    """The part's ``grades.csv`` column: ``<notebook stem>:<grade_id>``."""
    return f"{Path(notebook).stem}:{grade_id}"


def _part_scores(result: StudentResult) -> dict[str, float]:
    return {
        part_column(nb.notebook, p.grade_id): p.score for nb in result.notebooks for p in nb.parts
    }


def plan(
    out: Path,
    assignment: str,
    sources: list[SourceNotebook],
    subs: list[Submission],
    versions: dict[str, str],
    secret: str = "",
) -> Plan:
    """What to grade for each of ``subs`` given the results stored under ``out`` and the checks'
    current ``versions`` (name -> version); reads files, writes none."""
    result = Plan([])
    for sub in subs:
        stored = load_stored(out, sub.file_id)
        if stored is None:
            result.students.append(Planned(sub, "new"))
            continue
        if stored.key is None:
            result.students.append(Planned(sub, "retry", stored))
            continue
        if stored.key != submission_key(assignment, sources, sub, secret):
            result.students.append(Planned(sub, "changed", stored))
            continue
        stale = _stale_parts(stored, sources, versions, result)
        planned = Planned(sub, "stale" if stale else "kept", stored, stale)
        result.students.append(planned)
        for notebook, ids in stale.items():
            for gid in ids:
                result.regraded.setdefault(part_column(notebook, gid), []).append(sub.student_id)
    return result


def _stale_parts(
    stored: StudentResult, sources: list[SourceNotebook], versions: dict[str, str], into: Plan
) -> dict[str, list[str]]:
    """notebook -> the grade_ids of ``stored`` graded with another version of one of their
    checks than ``versions`` (and why, into ``into.reasons``)."""
    by_notebook = {nb.notebook: {p.grade_id: p for p in nb.parts} for nb in stored.notebooks}
    stale: dict[str, list[str]] = {}
    for source in sources:
        parts = by_notebook.get(source.name, {})
        for part in source.parts:
            names = graded_checks(part.checks)
            had = parts[part.grade_id].check_versions if part.grade_id in parts else {}
            if part.grade_id in parts and all(had.get(n) == versions.get(n) for n in names):
                continue
            stale.setdefault(source.name, []).append(part.grade_id)
            why = into.reasons.setdefault(part_column(source.name, part.grade_id), [])
            changed = [n for n in names if n in had and had[n] != versions.get(n)]
            for reason in changed or [UNVERSIONED]:
                if reason not in why:
                    why.append(reason)
    return stale
