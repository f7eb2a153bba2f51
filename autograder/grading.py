"""Grading one student, in a sandbox: their answer cells run in a confined child, the checks
compare what it returns with the references here, and the verdicts come back typed.

* :func:`grade_submission`: one student's notebooks -> a :class:`~autograder.results.StudentResult`
  whose ``key`` (:func:`submission_key`: code version, class secret, sources, submission bytes)
  lets a rerun skip them;
* :func:`grade_notebook`: one notebook, part by part; a :class:`NotebookRun` replays the setup and
  answer cells into a fresh child whenever one dies, a time-out ends its part, a name that hung
  is refused at once afterwards, and the notebook's time budget (:func:`student_budget_s`) bounds
  all parts together;
* :class:`GradeSettings`: what every worker needs to grade alike (hidden paths, class secret);
* :func:`probe_sandbox`: before anyone is graded, can the sandbox import what grading needs (and
  isolate, when asked)? An import that fails only in the sandbox stops that student as the
  grader's failure (:func:`_raise_if_grader_side`), never a zero.

Grading a whole class (workers, resuming, the output files) is :mod:`autograder.service`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import sys
import time
from dataclasses import asdict, astuple, dataclass, field

from autograder import __version__
from autograder.checks.reference import ReferenceCache
from autograder.checks.runner import run_check, seed_for
from autograder.checks.spec import StudentError, get_check
from autograder.errors import CourseError, GraderEnvironmentError
from autograder.layout import hidden_on_purpose
from autograder.notebooks import Part, SourceNotebook, answer_cells
from autograder.results import CheckOutcome, NotebookResult, PartResult, StudentResult
from autograder.sandbox.client import Session, Zygote
from autograder.sandbox.limits import Limits
from autograder.submissions import Submission
from autograder.timing import phase

#: the reference's side of every check, computed once per process for students who share a seed
REFERENCES = ReferenceCache()


@dataclass
class GradeSettings:
    """How a class is graded, carried as data to every worker (local threads, Ray actors).

    ``secret`` is the class secret: hidden inputs are drawn from it (and the student id), and the
    resume key includes it. It travels here, never through ``os.environ``, so that workers of a
    cluster started elsewhere draw the same inputs as the driver. ``isolated`` False: the
    instructor chose to grade without the filesystem and network isolation (``--no-isolation``),
    recorded in every student's notes. ``versions``: each check's version
    (:func:`autograder.checks.version.check_versions`, computed by the driver), recorded in every
    part graded with it."""

    hidden: list[str]
    salt_with_student: bool = True
    secret: str = ""
    isolated: bool = True
    versions: dict[str, str] = field(default_factory=dict)

    def seed(self, check_name: str, student_id: str) -> int:
        salt = student_id if self.salts_per_student else ""
        return seed_for(check_name, salt, self.secret)

    @property
    def salts_per_student(self) -> bool:
        """Does each student get their own hidden inputs? (With a class secret, by default.)
        Otherwise the whole class shares them, and so the reference's work (:data:`REFERENCES`)."""
        return self.salt_with_student and bool(self.secret)


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
        self.limits = Limits(
            cpu_s=source.settings.cpu_s, memory_mb=source.settings.memory_mb, hide=settings.hidden
        )
        self.base_cell_timeout = source.settings.timeout_s
        self.cell_timeout = self.base_cell_timeout
        #: (cell name, source) run in order: the course's setup cells, the student's answers
        self.program = [
            (
                c.grade_id or f"setup-{i}",
                c.source if c.kind == "setup" else answers.get(c.grade_id, ""),
            )
            for i, c in enumerate(source.cells)
            if c.kind != "test"
        ]
        self.bad: set[str] = set()
        self.cell_errors: dict[str, str] = {}
        #: the student's names that ran out of time in a check -> why later calls are refused
        self.hung: dict[str, str] = {}
        self.session: Session | None = None
        self.sandbox_missing: list[str] = []

    def ensure(self) -> Session:
        if self.session is None or self.session.dead:
            with phase("sandbox"):
                return self._start()
        return self.session

    def _start(self) -> Session:
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
                if err and name.startswith("setup-"):  # the course's own code: never the student's
                    raise GraderEnvironmentError(f"the notebook's setup cell failed: {err}")
                if err:
                    _raise_if_grader_side(err, self.zygote)
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
    keep: dict[str, PartResult] | None = None,
) -> NotebookResult:
    """Grade ``source``'s parts for one student; the parts in ``keep`` (grade_id -> result, from an
    earlier grading of the same submission) are kept as they are, not run."""
    keep = keep or {}
    result = NotebookResult(source.name, source.max_score)
    if data is None:
        answers: dict[str, str] | None = None
    else:
        try:
            answers, result.notes = answer_cells(data, source)
        except CourseError as exc:
            answers, result.notes = None, [str(exc)]
    run = NotebookRun(zygote, source, answers or {}, settings) if answers else None
    budget = student_budget_s(source)
    deadline = time.monotonic() + budget
    try:
        for part in source.parts:
            if part.grade_id in keep:
                result.parts.append(keep[part.grade_id])
                continue
            names = graded_checks(part.checks)
            versions = {n: settings.versions[n] for n in names if n in settings.versions}
            graded = PartResult(part.grade_id, part.points, check_versions=versions)
            result.parts.append(graded)
            broken = None  # a time-out or crash ends the part: the other checks would repeat it
            for name in names:
                graded.checks.append(
                    _grade_check(run, name, part, broken, deadline, budget, student_id, settings)
                )
                if run is not None and run.session is not None and run.session.dead:
                    broken = graded.checks[-1].message
    finally:
        if run is not None:
            run.close()
    if run is not None:
        result.notes += [f"answer cell {k!r}: {v}" for k, v in run.cell_errors.items()]
        result.sandbox_missing = run.sandbox_missing
    return result


def _grade_check(
    run: NotebookRun | None,
    name: str,
    part: Part,
    broken: str | None,
    deadline: float,
    budget: float,
    student_id: str,
    settings: GradeSettings,
) -> CheckOutcome:
    """One check of one part, or the reason it was not run."""
    if run is None:
        return CheckOutcome(name, False, "no answer to grade")
    if broken:
        return CheckOutcome(name, False, f"not run: {broken}")
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return CheckOutcome(
            name,
            False,
            f"not run: the notebook's time budget ({budget:g} s for all parts together) is "
            "spent; look for loops that do not end",
        )
    spec = get_check(name)
    target = spec.target
    if target in run.hung:
        return CheckOutcome(name, False, f"not run: {run.hung[target]}")
    session = None
    try:
        run.cell_timeout = min(run.base_cell_timeout, remaining)
        session = run.ensure()
        session.timeout = min(part.timeout_s, remaining)
        session.refuse = dict(run.hung)
        cache = None if settings.salts_per_student else REFERENCES
        result = run_check(spec, session, settings.seed(name, student_id), cache=cache)
        if not result.passed:
            _raise_if_grader_side(result.message, run.zygote)
        outcome = CheckOutcome(name, result.passed, result.message)
    except StudentError as exc:
        _raise_if_grader_side(str(exc), run.zygote)
        outcome = CheckOutcome(name, False, str(exc))
    if session is not None and session.timed_out:
        run.hung[target] = (
            f"your `{target}` did not finish within {session.timeout:g} s in part "
            f"'{part.grade_id}', so later calls to it are not waited for"
        )
    return outcome


_NO_MODULE = re.compile(r"No module named '([\w.]+)'")


def _raise_if_grader_side(message: str, zygote: Zygote | None = None) -> None:
    """An import that fails in the sandbox but works here is the grader's environment failing
    (permissions, a missing mount), never a student's mistake: stop grading this student.

    With ``zygote``, a fresh sandbox first tries the import itself: if it works there, the error
    came from the student's code (a raised ``ModuleNotFoundError``, a broken ``sys.path``) and is
    graded as theirs, so no submission can make itself "rerun" forever.
    """
    m = _NO_MODULE.search(message)
    if not m or hidden_on_purpose(m.group(1)):
        return
    try:
        found = importlib.util.find_spec(m.group(1)) is not None
    except (ImportError, ValueError):
        found = False
    if found and zygote is not None and _sandbox_can_import(zygote, m.group(1)):
        return
    if found:
        raise GraderEnvironmentError(
            f"module {m.group(1)!r} exists in the grader's environment but the sandbox could not "
            "import it"
        )


def _sandbox_can_import(zygote: Zygote, module: str) -> bool:
    """Does ``import module`` work in a fresh sandbox (nothing of the student's in it)?"""
    session = zygote.spawn(Limits(), 120)
    try:
        return session.exec_cell("import-check", f"import {module}", 120) is None
    except StudentError:
        return False
    finally:
        session.kill()


PROBE = """
import numpy, torch
import torch.fx.experimental.symbolic_shapes  # imported lazily by torch: must be readable too
assert float(torch.ones(2) @ torch.ones(2)) == 2.0
"""


#: why grading stops when the sandbox cannot isolate student code, and how to fix it
NOT_ISOLATED = (
    "the sandbox cannot isolate student code on this machine ({why}): without root it needs "
    "unprivileged user namespaces, which this kernel forbids; enable them (`sysctl -w "
    "kernel.unprivileged_userns_clone=1` on Debian, `sysctl -w user.max_user_namespaces=15000`, "
    "or on Ubuntu 24.04 `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`), grade as "
    "root, or pass --no-isolation to grade anyway (student code could then read this checkout, "
    "other submissions and the network; every student's notes will say so)."
)

#: the note every student's result carries when the instructor graded with --no-isolation
NO_ISOLATION_NOTE = (
    "graded with --no-isolation: the student's code could read what the grader's user can"
)


def probe_sandbox(zygote: Zygote, require_isolation: bool = False) -> None:
    """Before grading anyone: can the sandbox import what grading needs, and (with
    ``require_isolation``) does it hide the disk and the network? One sentence if not."""
    session = zygote.spawn(Limits(), 120)
    if require_isolation and not session.isolated:
        session.kill()
        why = "; ".join(session.sandbox_missing[:2]) or "no namespaces"
        raise CourseError(NOT_ISOLATED.format(why=why))
    try:
        err = session.exec_cell("probe", PROBE, 120)
    except StudentError as exc:
        err = str(exc)
    finally:
        session.kill()
    if err:
        raise CourseError(
            f"the sandbox cannot run what grading needs ({err.splitlines()[0][:300]}); its "
            f"unprivileged user must be able to read the Python environment at {sys.prefix} "
            "(check the permissions of that path and its parent directories), then rerun."
        )


def student_budget_s(source: SourceNotebook) -> float:
    """Wall-clock seconds for all of one student's parts of a notebook together: the source's
    ``student_budget_s`` (stated in the notebook's introduction), else 10 calls' worth."""
    return source.settings.budget_s


def graded_checks(names: list[str]) -> list[str]:
    """The checks the hardened grader runs for a part: ``x.visible`` is dropped when the part also
    calls ``x``, whose hidden cases cover the same contract on more inputs."""
    return [
        n for n in names if not (n.endswith(".visible") and n.removesuffix(".visible") in names)
    ]


def submission_key(
    assignment: str, sources: list[SourceNotebook], sub: Submission, secret: str = ""
) -> str:
    """What a stored result must match to be reused: code version, class secret (digested),
    sources and the submission's bytes."""
    h = hashlib.sha256(f"{__version__}|{assignment}|".encode())
    h.update(hashlib.sha256(secret.encode()).digest())
    for s in sources:
        cells = [astuple(c) for c in s.cells]  # [kind, grade_id, source]: the key's fixed form
        h.update(json.dumps([s.name, cells, [asdict(p) for p in s.parts]]).encode())
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
    previous: StudentResult | None = None,
    stale: dict[str, list[str]] | None = None,
) -> StudentResult:
    """Grade one student. With ``previous`` (their stored result, for this same submission) and
    ``stale`` (notebook -> the grade_ids to regrade), only those parts are graded again: the
    others, and the notebooks with none, are kept from ``previous`` as they are."""
    kept = {nb.notebook: nb for nb in previous.notebooks} if previous is not None else {}
    notebooks = []
    for s in sources:
        if previous is not None and stale is not None and s.name in kept:
            if not stale.get(s.name):
                notebooks.append(kept[s.name])
                continue
            keep = {p.grade_id: p for p in kept[s.name].parts if p.grade_id not in stale[s.name]}
        else:
            keep = None
        notebooks.append(
            grade_notebook(zygote, s, sub.notebooks.get(s.name), sub.student_id, settings, keep)
        )
    return StudentResult(
        student_id=sub.student_id,
        assignment=assignment,
        key=submission_key(assignment, sources, sub, settings.secret),
        notebooks=notebooks,
        notes=list(sub.notes) + [n for nb in notebooks for n in nb.notes],
    )
