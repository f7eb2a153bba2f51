"""Grading throughput on every assignment: the hardened grader vs plain `nbgrader autograde`.

Run: .venv/bin/python benchmarks/grading.py [--assignment NN-slug ...] [--students N]
[--workers 2]. For each assignment it builds one synthetic class (:func:`make_class`: correct,
one block wrong, one block missing, half done, hostile, a broken notebook, repeated, and in the
middle one whose code never returns) and grades it three times, each on the same submissions:

* hardened, with a class secret (every student draws their own hidden inputs: the reference is
  computed for each student);
* hardened, without one (the class shares its inputs, so the reference's side of each check is
  computed once per worker process: :class:`autograder.checks.reference.ReferenceCache`);
* plain ``nbgrader autograde`` on the same source notebook, with the same per-call time limit
  (the notebook's ``timeout_s``).

It writes book/_static/benchmarks/grading/<assignment>.json: seconds and students per minute for
each, the ratio to nbgrader, where the hardened grader's time goes per student (worker-seconds by
phase, :mod:`autograder.timing`), and the machine and its load. The instructors' guide shows the
table, and from it how many workers a 500-student class needs to finish in 10 minutes.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from conftest import solution_cells, write_submission  # noqa: E402

from autograder.notebooks import load_source  # noqa: E402
from autograder.timing import PHASES  # noqa: E402

RESULTS = ROOT / "book" / "_static" / "benchmarks" / "grading"


def assignments() -> list[tuple[str, str]]:
    """(assignment, notebook file) for every chapter's graded notebook, in order."""
    return [(p.parent.name, p.name) for p in sorted((ROOT / "solutions").glob("*/*.ipynb"))]


def _first_definition(source: str) -> ast.stmt | None:
    """The answer cell's first top-level function or class (what a mistake is put into)."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            return node
    return None


def wrapped(source: str, body: str) -> str | None:
    """``source`` with its first function (or class's ``forward``) replaced by a wrapper whose
    call runs ``body`` with ``out`` bound to the right answer: a mistake written by hand."""
    node = _first_definition(source)
    if node is None:
        return None
    name = node.name
    if isinstance(node, ast.FunctionDef):
        return (
            f"{source}\n\n_right_{name} = {name}\n\n\ndef {name}(*args, **kwargs):\n"
            f"    out = _right_{name}(*args, **kwargs)\n{body}"
        )
    if not any(isinstance(b, ast.FunctionDef) and b.name == "forward" for b in node.body):
        return None
    return (
        f"{source}\n\n_Right{name} = {name}\n\n\nclass {name}(_Right{name}):\n"
        "    def forward(self, *args, **kwargs):\n"
        "        out = super().forward(*args, **kwargs)\n"
        + "\n".join("    " + line for line in body.splitlines())
        + "\n"
    )


#: off by 1% in floating outputs (a wrong constant, a missing term)
SKEWED = (
    "    import torch\n"
    "    if isinstance(out, torch.Tensor) and out.is_floating_point():\n"
    "        return out * 1.01\n"
    "    return out\n"
)
#: never returns
HANGS = "    while True:\n        pass\n"


def _wrong_somewhere(sol: dict[str, str], body: str) -> dict[str, str]:
    """The solution with ``body`` put into the middle-most answer cell that can take it."""
    ids = list(sol)
    for gid in sorted(ids, key=lambda g: abs(ids.index(g) - len(ids) // 2)):
        changed = wrapped(sol[gid], body)
        if changed is not None:
            return {**sol, gid: changed}
    raise ValueError("no answer cell defines a function or a module with a forward")


def specific_mistakes(assignment: str, sol: dict[str, str]) -> dict[str, dict[str, str]]:
    """Hand-written mistakes for two chapters (the rest get :data:`SKEWED` only)."""
    if assignment == "00-prologue":
        naive = (
            "def softmax(x, dim=-1):\n    e = x.exp()\n    return e / e.sum(dim, keepdim=True)\n"
        )
        return {"softmax without the max shift": {**sol, "softmax": naive}}
    if assignment == "03-llama":
        eps = sol["rmsnorm"].replace(
            "torch.rsqrt(x32.pow(2).mean(dim=-1, keepdim=True) + self.eps)",
            "1 / (x32.pow(2).mean(dim=-1, keepdim=True).sqrt() + self.eps)",
        )
        leaky = sol["attention"].replace(".tril(s - t)", ".tril(s - t + 1)")
        assert eps != sol["rmsnorm"] and leaky != sol["attention"]
        return {
            "causal mask one step leaky": {**sol, "attention": leaky},
            "eps outside the square root": {**sol, "rmsnorm": eps},
        }
    return {}


def class_mix(assignment: str, notebook: str) -> list[tuple[str, dict[str, str] | bytes]]:
    """(kind, answer cells or raw notebook bytes) of one synthetic class, the hang last."""
    sol = solution_cells(assignment, notebook)
    ids = list(sol)
    middle = ids[len(ids) // 2]
    hostile = {
        **sol,
        ids[0]: "import torch\ntorch.allclose = lambda *a, **k: True\n" + sol[ids[0]],
        ids[-1]: "import os\nos._exit(0)\n",
    }
    return [
        ("correct", sol),
        *specific_mistakes(assignment, sol).items(),
        ("one block off by 1%", _wrong_somewhere(sol, SKEWED)),
        ("one block missing", {k: v for k, v in sol.items() if k != middle}),
        ("half done", {k: sol[k] for k in ids[: len(ids) // 2]}),
        ("hostile (patches torch.allclose, calls os._exit)", hostile),
        ("broken notebook file", b"{ this is not a notebook"),
        ("one block never returns", _wrong_somewhere(sol, HANGS)),
    ]


def make_class(root: Path, assignment: str, notebook: str, n: int) -> list[str]:
    """``n`` submissions under ``root``: the mix repeated, with one hang, in the middle."""
    mix = class_mix(assignment, notebook)
    kinds = [mix[i % (len(mix) - 1)] for i in range(n - 1)]
    kinds.insert(n // 2, mix[-1])
    for i, (_, answers) in enumerate(kinds):
        raw = answers if isinstance(answers, bytes) else None
        replace = None if raw is not None else answers
        write_submission(
            root, f"student{i:03d}", replace, raw=raw, assignment=assignment, name=notebook
        )
    return [k for k, _ in kinds]


def run_hardened(
    subs: Path, assignment: str, workers: int, secret: str
) -> tuple[float, dict[str, float]]:
    """Seconds to grade the class in a fresh process (its imports included, as when an instructor
    runs ``python -m autograder grade``), and the worker-seconds it spent in each phase."""
    out = Path(tempfile.mkdtemp(prefix="bench-hardened-"))
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, __file__, "--grade-into", str(out), str(subs), assignment],
            input=json.dumps({"workers": workers, "secret": secret}),
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        elapsed = time.perf_counter() - start
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return elapsed, json.loads(proc.stdout.strip().splitlines()[-1])


def grade_into(out: Path, subs: Path, assignment: str) -> None:
    """The graded run :func:`run_hardened` times: what ``autograder grade`` does, then the phase
    clock as one line of JSON (workers and secret come on stdin)."""
    from autograder.layout import Course
    from autograder.service import grade_class
    from autograder.timing import CLOCK

    opts = json.loads(sys.stdin.read())
    course = Course.find(ROOT)
    grade_class(course, assignment, subs, out, opts["workers"], None, secret=opts["secret"])
    print(json.dumps(CLOCK.snapshot()))


def run_nbgrader(subs: Path, assignment: str, notebook: str, timeout: float) -> float:
    course = Path(tempfile.mkdtemp(prefix="bench-nbgrader-"))
    (course / "source" / assignment).mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / assignment / notebook, course / "source" / assignment)
    shutil.copytree(subs, course / "submitted")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'bench'\n"
        f"c.ExecutePreprocessor.timeout = {math.ceil(timeout)}\n"
    )
    env = {
        **os.environ,
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"],
        "PYTHONPATH": str(ROOT),  # the notebooks import the course's checks
        "TRITON_INTERPRET": os.environ.get("TRITON_INTERPRET", "1"),
    }
    nbg = [sys.executable, "-m", "nbgrader"]
    subprocess.run(
        [*nbg, "generate_assignment", assignment, "--force"],
        cwd=course,
        env=env,
        check=True,
        capture_output=True,
    )
    start = time.perf_counter()
    subprocess.run(
        [*nbg, "autograde", assignment, "--force"], cwd=course, env=env, capture_output=True
    )
    elapsed = time.perf_counter() - start
    shutil.rmtree(course, ignore_errors=True)
    return elapsed


def bench(assignment: str, notebook: str, students: int, workers: int) -> dict:
    subs = Path(tempfile.mkdtemp(prefix="bench-class-"))
    try:
        kinds = make_class(subs, assignment, notebook, students)
        load_before = os.getloadavg()[0]
        salted, phases = run_hardened(subs, assignment, workers, "benchmark-class-secret")
        shared, shared_phases = run_hardened(subs, assignment, workers, "")
        timeout = load_source(ROOT / "solutions" / assignment / notebook).settings.timeout_s
        plain = run_nbgrader(subs, assignment, notebook, timeout)
        load_after = os.getloadavg()[0]
    finally:
        shutil.rmtree(subs, ignore_errors=True)
    return {
        "assignment": assignment,
        "notebook": notebook,
        "students": students,
        "class": kinds,
        "workers": workers,
        "timeout_s": timeout,
        "hardened_seconds": round(salted, 1),
        "hardened_shared_inputs_seconds": round(shared, 1),
        "nbgrader_seconds": round(plain, 1),
        "hardened_students_per_minute": round(60 * students / salted, 1),
        "hardened_shared_inputs_students_per_minute": round(60 * students / shared, 1),
        "nbgrader_students_per_minute": round(60 * students / plain, 1),
        "speedup_vs_nbgrader": round(plain / salted, 2),
        "speedup_shared_inputs_vs_nbgrader": round(plain / shared, 2),
        # worker-seconds per student in each phase; the rest of the wall time is the driver's
        # planning, the sandbox probe and workers waiting for the last student
        "phase_seconds_per_student": {p: round(phases[p] / students, 3) for p in PHASES},
        "shared_inputs_phase_seconds_per_student": {
            p: round(shared_phases[p] / students, 3) for p in PHASES
        },
        "cpu_count": os.cpu_count(),
        "machine": platform.platform(),
        # 1-minute load averages: other work on the machine slows both graders, roughly alike
        "load_average_before_after": [round(load_before, 1), round(load_after, 1)],
    }


def main() -> None:
    if sys.argv[1:2] == ["--grade-into"]:
        out, subs, assignment = sys.argv[2:5]
        grade_into(Path(out), Path(subs), assignment)
        return
    every = [a for a, _ in assignments()]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--assignment", nargs="*", choices=every, default=every)
    ap.add_argument("--students", type=int, default=24)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    for assignment, notebook in assignments():
        if assignment not in args.assignment:
            continue
        result = bench(assignment, notebook, args.students, args.workers)
        (RESULTS / f"{assignment}.json").write_text(json.dumps(result, indent=1) + "\n")
        print(json.dumps(result, indent=1), flush=True)


if __name__ == "__main__":
    main()
