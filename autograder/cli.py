"""Command line: ``python -m autograder {release,validate,grade,new-chapter,export,similarity}``.

Each command parses its options, finds the course checkout (:class:`~autograder.layout.Course`)
and calls the module that does the work: ``release`` (:mod:`autograder.release`, and
:mod:`autograder.kit` for the student kit), ``validate``
(:func:`autograder.service.validate_assignment` and the seed sweep of :mod:`autograder.validate`),
``grade`` (:func:`autograder.service.grade_class`, on local threads or Ray; rerun on the same
output it regrades only what changed, :mod:`autograder.regrade`), ``new-chapter``
(:mod:`autograder.scaffold`), ``export`` (:mod:`autograder.gradebook`, and :mod:`autograder.lms`
for the LMS formats) and ``similarity`` (:mod:`autograder.similarity`). The class secret is
read here once (``--secret-file`` or ``AUTOGRADER_SECRET``) and passed on as a value. Every
:class:`~autograder.errors.CourseError` ends the command with its one sentence and exit code 2.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from autograder.errors import CourseError
from autograder.layout import Course

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Release, validate and grade the course's nbgrader assignments.",
)
console = Console(stderr=False)
err = Console(stderr=True)


SECRET_ENV = "AUTOGRADER_SECRET"

SecretFile = Annotated[
    Path | None,
    typer.Option(
        "--secret-file",
        metavar="PATH",
        help=f"read the class secret from this file (default: the {SECRET_ENV} variable)",
    ),
]


def class_secret(secret_file: Path | None) -> str:
    """The class secret, read once here and then passed as a value (never put in os.environ):
    from ``--secret-file`` when given, else the ``AUTOGRADER_SECRET`` variable, else none."""
    if secret_file is None:
        return os.environ.get(SECRET_ENV, "")
    try:
        secret = secret_file.read_text().strip()
    except OSError as exc:
        raise CourseError(
            f"cannot read the class secret from {secret_file} ({exc.strerror}); check the path."
        ) from None
    if not secret:
        raise CourseError(f"{secret_file} is empty: write the class secret into it, then rerun.")
    return secret


def _assignments(course: Course, assignment: str | None, all_: bool) -> list[str]:
    if all_:
        return course.assignments()
    if not assignment:
        raise CourseError("name an assignment (for example 00-prologue) or pass --all.")
    return [course.check_assignment(assignment)]


@app.command()
def release(
    assignment: Annotated[str | None, typer.Argument()] = None,
    all_: Annotated[bool, typer.Option("--all")] = False,
    check: Annotated[
        bool, typer.Option("--check", help="exit 1 if exercises/ or the student kit is stale")
    ] = False,
    kit: Annotated[
        bool,
        typer.Option(
            "--kit", help="rebuild the student kit's snapshots and its wheel (dist/) as well"
        ),
    ] = False,
):
    """Generate exercises/ from solutions/ (nbgrader generate_assignment), and the student kit."""
    from autograder import kit as kit_mod
    from autograder import release as rel

    course = Course.find()
    if kit and check:
        raise CourseError("--check already checks the kit: pass --check or --kit, not both.")
    names = [] if kit and not (assignment or all_) else _assignments(course, assignment, all_)
    stale = []
    for name in names:
        if check:
            stale += rel.stale_files(course, name)
        else:
            path = rel.release(course, name)
            console.print(f"released {name} -> {path.relative_to(course.root)}")
    if check:
        if stale:
            print(
                "generated notebooks are out of date with their sources in solutions/*/*.py: "
                + ", ".join(stale)
                + ". Edit the .py source, run `python -m autograder release --all --kit` "
                "(or `make release`) and commit the result.",
                file=sys.stderr,
            )
            raise typer.Exit(1)
        console.print("exercises/ is up to date with solutions/.")
        if all_:
            problems = kit_mod.stale_kit(course)
            if problems:
                print(kit_mod.stale_message(problems), file=sys.stderr)
                raise typer.Exit(1)
            console.print("the student kit is up to date with its sources.")
    if kit:
        checks = kit_mod.build_snapshots(course)
        wheel = kit_mod.build_wheel(course)
        console.print(
            f"kit: {len(checks)} visible checks snapshotted; wheel "
            f"{wheel.relative_to(course.root)} ({wheel.stat().st_size / 1e6:.1f} MB)"
        )


@app.command()
def publish(
    site: Annotated[Path, typer.Argument(help="the built site (make book: _build/html)")],
):
    """Put the student release (notebooks, kit wheel) into a built site's release/ folder."""
    from autograder.publish import publish as publish_release

    course = Course.find()
    written = publish_release(course, site.resolve())
    console.print(f"published {len(written)} files into {site / 'release'}")


@app.command()
def validate(
    assignment: Annotated[str | None, typer.Argument()] = None,
    all_: Annotated[bool, typer.Option("--all")] = False,
    sweep: Annotated[
        int,
        typer.Option(
            "--sweep",
            min=0,
            help="also run the solution against every check for N class secrets x student ids",
        ),
    ] = 50,
    secret_file: SecretFile = None,
):
    """Check that source notebooks score full marks and released stubs score zero, and that the
    solution passes every check for many class secrets and student ids."""
    from autograder.service import validate_assignment  # noqa: I001
    from autograder.validate import sweep as sweep_seeds  # first: sets TRITON_INTERPRET on CPU

    course = Course.find()
    table = Table("assignment", "notebook", "solution", "stub", "max", "ok")
    ok = True
    for name in _assignments(course, assignment, all_):
        for row in validate_assignment(course, name, class_secret(secret_file)):
            ok &= row.ok
            table.add_row(
                name,
                row.notebook,
                f"{row.solution:g}",
                f"{row.stub:g}",
                f"{row.max:g}",
                "[green]yes" if row.ok else "[red]NO",
            )
            for problem in row.problems:
                err.print(f"  {name}/{row.notebook}: {problem}")
        if sweep:
            failures = sweep_seeds(course, name, sweep)
            ok &= not failures
            for failure in failures[:20]:
                err.print(f"  {name}/{failure}")
            console.print(
                f"{name}: solution over {sweep} class secrets x student ids: "
                + ("all checks pass" if not failures else f"[red]{len(failures)} failures")
            )
    console.print(table)
    if not ok:
        raise typer.Exit(1)


@app.command()
def grade(
    assignment: Annotated[str, typer.Option("--assignment")],
    submissions: Annotated[Path, typer.Option("--submissions")],
    out: Annotated[Path, typer.Option("--out")],
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=4096, help="sandboxed workers (Ray: actors)")
    ] = 2,
    db: Annotated[
        str | None, typer.Option("--db", help="gradebook URL (default: OUT/gradebook.db)")
    ] = None,
    ray: Annotated[
        bool,
        typer.Option(
            "--ray",
            help="grade on Ray: a private local Ray instance, or the cluster --ray-address names",
        ),
    ] = False,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray-address",
            metavar="ADDRESS",
            help="join this Ray cluster (implies --ray): auto, HEAD_HOST:6379 or "
            "ray://HEAD_HOST:10001",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet")] = False,
    secret_file: SecretFile = None,
    no_isolation: Annotated[
        bool,
        typer.Option(
            "--no-isolation",
            help="grade even where the sandbox cannot hide the disk and the network (no root and "
            "no user namespaces); every student's notes say so",
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="only say what a rerun on OUT would grade (the parts whose check changed, the "
            "students whose submission changed); writes nothing",
        ),
    ] = False,
):
    """Grade a class in sandboxed workers; resumable (rerun the same command after an
    interruption). Rerun on the same OUT after fixing a check: only the parts that run a changed
    check are graded again (and the students whose submission changed)."""
    from autograder.service import grade_class, plan_class, preload_for, ray_pool

    course = Course.find()
    course.check_assignment(assignment)
    secret = class_secret(secret_file)
    if dry_run:
        plan = plan_class(course, assignment, submissions, out, secret)[3]
        for line in plan.summary(dry_run=True):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        return
    on_ray = ray or ray_address is not None
    if workers > 64 and not on_ray:
        raise CourseError(
            f"--workers {workers} is more than one machine runs well (64 at most); "
            "to grade with more workers, add --ray and a cluster's --ray-address."
        )
    progress = Progress(
        TextColumn("grading {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
    )
    with progress:
        task = progress.add_task(assignment, total=None)

        def tick(result, cached):
            progress.update(task, advance=1)

        plans: list = []
        results, _ = grade_class(
            course,
            assignment,
            submissions,
            out,
            workers,
            db,
            on_result=tick,
            on_total=lambda n: progress.update(task, total=n),
            make_pool=(
                (
                    lambda: ray_pool(
                        course,
                        workers,
                        ray_address,
                        not no_isolation,
                        preload_for(course, assignment),
                    )
                )
                if on_ray
                else None
            ),
            secret=secret,
            isolated=not no_isolation,
            on_plan=plans.append,
        )
    table = Table(
        "student", "score", "max", "notes", title=f"{assignment}: {len(results)} students"
    )
    for r in sorted(results, key=lambda r: r.student_id):
        table.add_row(r.student_id, f"{r.score:g}", f"{r.max_score:g}", "; ".join(r.notes)[:80])
    if not quiet:
        console.print(table)
    console.print(f"wrote {out / 'grades.csv'} and {out / 'feedback'}/")
    for line in plans[0].summary() if plans else ():
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if no_isolation:
        err.print(
            "graded with --no-isolation: student code could read what this user can read and "
            "reach the network; grades.csv's notes record it for every student."
        )
    ungraded = sorted(r.student_id for r in results if r.key is None)
    if ungraded:
        err.print(
            f"{len(ungraded)} student(s) not graded because the grader failed, not the student "
            f"({', '.join(ungraded[:10])}{', ...' if len(ungraded) > 10 else ''}): the reason is "
            "in grades.csv's notes; rerun the same command to grade them."
        )


@app.command("new-chapter")
def new_chapter(
    chapter: Annotated[str, typer.Argument(help="NN-slug, for example 05-ssl")],
    title: Annotated[str | None, typer.Option("--title", help="the chapter's title")] = None,
    package: Annotated[
        str | None,
        typer.Option("--package", help="Python name (default: the slug with - as _)"),
    ] = None,
):
    """Create a chapter from templates: page, notebook source, checks, reference, tests, toc entry."""
    from autograder.scaffold import new_chapter as scaffold

    course = Course.find()
    for path in scaffold(course, chapter, title, package):
        console.print(f"created {path.relative_to(course.root)}")
    console.print(
        f"added book/{chapter}/index to _toc.yml. Next: edit the files above, then "
        f"`python -m autograder release {chapter}` and `make test`."
    )


@app.command()
def export(
    assignment: Annotated[
        list[str],
        typer.Option("--assignment", help="repeat for one column per assignment (LMS formats)"),
    ],
    out: Annotated[Path, typer.Option("--out")],
    db: Annotated[str | None, typer.Option("--db")] = None,
    results: Annotated[
        Path | None, typer.Option("--from", help="grading OUT folder whose gradebook to use")
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="csv (every part, the default), canvas, moodle or gradescope: the file that "
            "LMS imports",
        ),
    ] = "csv",
    roster: Annotated[
        Path | None,
        typer.Option(
            "--roster",
            metavar="CSV",
            help="the LMS's own export of the class, to map folder names to its students",
        ),
    ] = None,
):
    """Export grades from the gradebook: every part (csv), or the file Canvas, Moodle or
    Gradescope imports."""
    from autograder import gradebook, lms

    if fmt not in lms.FORMATS:
        raise CourseError(f"unknown --format {fmt!r}: pass one of {', '.join(lms.FORMATS)}.")
    if fmt == "csv" and (len(assignment) != 1 or roster is not None):
        raise CourseError(
            "--format csv exports one assignment's parts without a roster: pass one "
            "--assignment, or an LMS --format for several assignments or a roster."
        )
    if fmt == "gradescope" and len(assignment) != 1:
        raise CourseError(
            "Gradescope takes one assignment's scores per upload: pass one --assignment."
        )
    if roster is not None and not roster.is_file():
        raise CourseError(f"the roster {roster} does not exist; pass the LMS's CSV export.")
    if db is None:
        folder = results or Path("grading-out")
        if not (folder / "gradebook.db").is_file():
            raise CourseError(
                f"no gradebook at {folder / 'gradebook.db'}; pass --db URL or --from OUT."
            )
        db = gradebook.default_url(folder)
    if fmt == "csv":
        n = gradebook.export(db, assignment[0], out)
    else:
        n = lms.write(fmt, gradebook.scores(db, assignment), out, roster)
    console.print(f"exported {n} students to {out}" + ("" if fmt == "csv" else f" ({fmt})"))


@app.command("similarity")
def similarity_(
    assignment: Annotated[str, typer.Option("--assignment")],
    submissions: Annotated[Path, typer.Option("--submissions")],
    out: Annotated[Path, typer.Option("--out", help="folder for similarity.html and .csv")],
    min_tokens: Annotated[
        int,
        typer.Option(
            "--min-tokens",
            min=1,
            help="answers shorter than this many normalised tokens are not compared",
        ),
    ] = 20,  # autograder.similarity.MIN_TOKENS (not imported here: it loads copydetect)
    top: Annotated[
        int, typer.Option("--top", min=1, help="pairs shown side by side (all flagged ones too)")
    ] = 50,
):
    """Rank pairs of students by how much of each answer cell they share (reads notebooks only)."""
    from autograder.similarity import FLAG_SCORE, similarity

    course = Course.find()
    report = similarity(course, assignment, submissions, out, min_tokens, top)
    flagged = [m for m in report.matches if m.flagged]
    table = Table("part", "student A", "student B", "score", title=f"{assignment}: flagged pairs")
    for m in flagged[:20]:
        table.add_row(m.part, m.a.student, m.b.student, f"{m.score:.2f}")
    if flagged:
        console.print(table)
    console.print(
        f"{len(report.students)} students, {len(flagged)} (part, pair) row(s) at or above "
        f"{FLAG_SCORE:.2f}; wrote {out / 'similarity.html'} and {out / 'similarity.csv'}"
    )


def main() -> None:
    # nbgrader runs `alembic` from PATH when it creates a gradebook: make the venv's bin visible.
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    try:
        # without standalone mode click *returns* a command's typer.Exit code instead of exiting
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except CourseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except SystemExit:
        raise
    except (typer.BadParameter, typer.Abort) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
