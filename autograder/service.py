"""The grader's use cases: grade a class (resumable, parallel), validate an assignment."""

from __future__ import annotations

import functools
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

import autograder
from autograder import feedback, gradebook, regrade
from autograder.checks.version import check_versions
from autograder.errors import CourseError
from autograder.grading import (
    NO_ISOLATION_NOTE,
    GradeSettings,
    grade_submission,
    probe_sandbox,
)
from autograder.layout import Course
from autograder.notebooks import SourceNotebook, load_source, setup_imports
from autograder.pool import LocalPool, Lost, Pool
from autograder.result_files import save_result, write_csv
from autograder.results import CheckOutcome, NotebookResult, PartResult, StudentResult
from autograder.sandbox.client import Zygote, use_uid_window
from autograder.submissions import Submission, discover
from autograder.timing import phase


def load_sources(course: Course, assignment: str) -> list[SourceNotebook]:
    return [load_source(p) for p in course.source_notebooks(assignment)]


@dataclass
class Worker:
    """What one worker slot owns for its whole life: a pre-warmed sandbox zygote, and the paths
    on its own machine the sandbox must hide besides the driver's (on a Ray node: the course copy
    Ray shipped there and Ray's session files)."""

    zygote: Zygote
    hidden: list[str] = field(default_factory=list)


def local_worker(preload: Sequence[str] = ()) -> Worker:
    return Worker(Zygote(preload))


def preload_for(course: Course, assignment: str) -> list[str]:
    """What the assignment's setup cells import: each worker's zygote imports it once."""
    return setup_imports(load_sources(course, assignment))


def warm_workers(zygotes: list[Zygote], preload: Sequence[str] = ()) -> Callable[[], Worker]:
    """A worker factory that hands out ``zygotes`` (already started, e.g. the one that probed
    the sandbox) before starting new ones (preloading ``preload``): a zygote never runs student
    code, so probing leaves it as fresh as a new one, and reusing it saves one torch import."""
    spare, lock = list(zygotes), threading.Lock()

    def make() -> Worker:
        with lock:
            zygote = spare.pop() if spare else None
        if zygote is not None and not zygote.alive():
            zygote.close()
            zygote = None
        return Worker(zygote or Zygote(preload))

    return make


def close_worker(worker: Worker) -> None:
    worker.zygote.close()


def cluster_worker(
    slot: int, require_isolation: bool = True, preload: Sequence[str] = ()
) -> Worker:
    """A worker slot inside a Ray actor: its own uid window, one thread for the trusted
    comparisons, a zygote probed before anyone is graded (a broken node stops the run in one
    sentence), and this node's course copy and Ray files hidden from the sandbox."""
    import ray

    use_uid_window(slot)
    torch.set_num_threads(1)
    zygote = Zygote(preload)
    try:
        probe_sandbox(zygote, require_isolation)
    except BaseException:
        zygote.close()
        raise
    here = Course.find(Path(autograder.__file__).parent)
    return Worker(zygote, here.hidden_paths() + [ray.get_runtime_context().get_temp_dir()])


def ray_pool(
    course: Course,
    workers: int,
    address: str | None,
    require_isolation: bool = True,
    preload: Sequence[str] = (),
) -> Pool:
    """A :class:`~autograder.pool_ray.RayPool` of ``workers`` actors; the course files they need
    (the autograder, the references, the source notebooks) reach every node as Ray's
    ``working_dir``, staged from ``course`` so that what grades is what the driver has."""
    from autograder.pool_ray import RayPool

    staged = course.stage_for_workers()
    try:
        pool = RayPool(
            workers,
            functools.partial(
                cluster_worker, require_isolation=require_isolation, preload=list(preload)
            ),
            close_worker,
            address=address,
            working_dir=staged,
        )
    finally:
        shutil.rmtree(staged, ignore_errors=True)  # uploaded by ray.init: no longer needed
    return pool


def plan_class(
    course: Course,
    assignment: str,
    submissions_dir: Path,
    out: Path,
    secret: str = "",
) -> tuple[list[SourceNotebook], list[Submission], dict[str, str], regrade.Plan]:
    """What grading ``submissions_dir`` into ``out`` would grade (:func:`autograder.regrade.plan`):
    the sources, the submissions, every check's version and the plan. Reads files, writes none:
    this is ``grade --dry-run``."""
    if out.exists() and not out.is_dir():
        raise CourseError(f"--out {out} is a file; pass the folder grading writes into.")
    sources = load_sources(course, assignment)
    subs = discover(submissions_dir, assignment, [s.name for s in sources])
    names = [n for s in sources for p in s.parts for n in p.checks]
    versions = check_versions(course.root, names)
    return sources, subs, versions, regrade.plan(out, assignment, sources, subs, versions, secret)


def grade_class(
    course: Course,
    assignment: str,
    submissions_dir: Path,
    out: Path,
    workers: int,
    db_url: str | None,
    on_result: Callable[[StudentResult, bool], None] = lambda r, c: None,
    on_total: Callable[[int], None] = lambda n: None,
    make_pool: Callable[[], Pool] | None = None,
    secret: str = "",
    isolated: bool = True,
    on_plan: Callable[[regrade.Plan], None] = lambda p: None,
) -> tuple[list[StudentResult], int]:
    """Grade every submission not graded already (resumable), in ``workers`` sandboxed workers
    (``make_pool``: elsewhere, e.g. :func:`ray_pool`). Workers return typed results; this
    driver alone writes them: ``results/<id>.json`` as each arrives (what a rerun skips), the
    feedback, the gradebook and ``grades.csv``. Returns every student's result (those kept from
    an earlier run included; ``on_result(result, cached)`` sees each as it comes) and the number
    of submissions.

    A student already graded keeps their result unless their submission changed (graded again)
    or a check changed since (only the parts that run it are graded again): see
    :mod:`autograder.regrade`. ``on_plan`` gets the plan before grading starts; its ``moved`` and
    ``failed`` are filled in as results come (:meth:`~autograder.regrade.Plan.summary` says it all).
    A regrade that fails on the grader's side keeps the student's earlier result.

    ``secret`` is the class secret (hidden inputs, resume keys): it reaches the workers inside
    the grading settings. ``isolated`` False grades even where the sandbox cannot hide the disk
    and network (``--no-isolation``); every result's notes say so."""
    sources, subs, versions, plan = plan_class(course, assignment, submissions_dir, out, secret)
    out.mkdir(parents=True, exist_ok=True)
    db_url = db_url or gradebook.default_url(out)
    registered = gradebook.register_in_background(course, assignment, db_url)
    on_total(len(subs))
    on_plan(plan)
    hidden = course.hidden_paths() + [str(submissions_dir.resolve()), str(out.resolve())]
    settings = GradeSettings(hidden=hidden, secret=secret, isolated=isolated, versions=versions)
    torch.set_num_threads(1)

    results: list[StudentResult] = []
    todo: list[regrade.Planned] = []
    for planned in plan.students:
        if planned.why == "kept":
            assert planned.previous is not None
            results.append(planned.previous)
            on_result(planned.previous, True)
        else:
            todo.append(planned)

    def work(task: regrade.Planned, worker: Worker) -> tuple[str, StudentResult | None]:
        mine = replace(settings, hidden=settings.hidden + worker.hidden)
        sub = task.sub
        try:
            if task.why == "stale":
                graded = grade_submission(
                    worker.zygote, assignment, sources, sub, mine, task.previous, task.stale
                )
            else:
                graded = grade_submission(worker.zygote, assignment, sources, sub, mine)
        except Exception as exc:  # a grader-side failure must not end the class's run
            if task.why == "stale":
                return sub.file_id, None  # never lose a grade: the earlier result stays
            graded = failed_result(assignment, sources, sub, exc)
        if not settings.isolated:
            graded.notes.append(NO_ISOLATION_NOTE)
        return sub.file_id, graded

    if not todo:
        pool = None
    elif make_pool is None:
        preload = setup_imports(sources)
        probe = Zygote(preload)
        try:
            probe_sandbox(probe, isolated)  # before anyone is graded: a broken sandbox stops here
        except BaseException:
            probe.close()
            raise
        pool = LocalPool(workers, warm_workers([probe], preload), close_worker)
    else:
        pool = make_pool()  # its workers probe their own sandboxes
    by_file = {t.file_id: t for t in todo}
    try:
        for item in pool.imap_unordered(work, todo) if pool else ():
            if isinstance(item, Lost):
                file_id, result = item.task.file_id, None
                if item.task.why != "stale":
                    result = not_graded(assignment, sources, item.task.sub, item.reason)
            else:
                file_id, result = item
            task = by_file[file_id]
            if result is None:  # a regrade the grader could not finish: keep what was stored
                assert task.previous is not None
                plan.failed.append(task.sub.student_id)
                result = task.previous
                results.append(result)
                on_result(result, True)
                continue
            plan.count_moved(task, result)
            with phase("feedback"):
                feedback.write(out, result)
                save_result(out, file_id, result)
                registered()
                gradebook.record(db_url, [result])
            results.append(result)
            on_result(result, False)
    finally:
        if pool is not None:
            pool.close()
    registered()
    gradebook.record(db_url, results)  # idempotent: repairs a run killed between file and DB
    write_csv(out / "grades.csv", sources, results)
    return results, len(subs)


def failed_result(
    assignment: str, sources: list[SourceNotebook], sub: Submission, exc: Exception
) -> StudentResult:
    """The grader failed on this student (never the student's doing): see :func:`not_graded`."""
    return not_graded(
        assignment, sources, sub, f"the grader failed ({type(exc).__name__}: {str(exc)[:300]})"
    )


def not_graded(
    assignment: str, sources: list[SourceNotebook], sub: Submission, why: str
) -> StudentResult:
    """Zero for every part, a note saying why, and no key: a rerun grades this student again."""
    reason = f"not graded: {why}; rerun the command"
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


@dataclass
class NotebookValidation:
    """How one source notebook validated: the solution's and the unanswered release's scores out
    of ``max``, and each check that went the wrong way (one sentence each)."""

    notebook: str
    solution: float
    stub: float
    max: float
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """The solution scores full marks and the stub zero."""
        return self.solution == self.max and self.stub == 0


def validate_assignment(
    course: Course, assignment: str, secret: str = ""
) -> list[NotebookValidation]:
    """Grade each source notebook (must score full marks) and its release (must score zero),
    with the class ``secret``'s inputs. The course's own notebooks are trusted: the sandbox need
    not isolate them."""
    rows = []
    sources = load_sources(course, assignment)
    zygote = Zygote(setup_imports(sources))
    settings = GradeSettings(hidden=course.hidden_paths(), salt_with_student=False, secret=secret)
    try:
        probe_sandbox(zygote)
        for source in sources:
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
                NotebookValidation(
                    notebook=source.name,
                    solution=scores["solution"],
                    stub=scores["stub"],
                    max=source.max_score,
                    problems=problems,
                )
            )
    finally:
        zygote.close()
    return rows
