"""Grading throughput: the hardened grader vs plain `nbgrader autograde`, on the same class.

Run: .venv/bin/python benchmarks/grading.py [--assignment 00-prologue|03-llama] [--students N]
[--workers 2]. Writes book/_static/benchmarks/grading.json (prologue, 40 students by default) or
grading_llama.json (the LLaMA assignment, 12 students by default): students/minute for both, and
the ratio. Both graders get the same per-call time limit (the notebook's ``timeout_s``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from conftest import PROLOGUE, solution_cells, write_submission  # noqa: E402

LLAMA = "03-llama"


def make_llama_class(root: Path, n: int) -> None:
    """Correct, partly correct, wrong in one block, hostile, exiting and hanging submissions."""
    sol = solution_cells(LLAMA, "llama.ipynb")
    leaky = sol["attention"].replace(".tril(s - t)", ".tril(s - t + 1)")
    eps_outside = sol["rmsnorm"].replace(
        "torch.rsqrt(x32.pow(2).mean(dim=-1, keepdim=True) + self.eps)",
        "1 / (x32.pow(2).mean(dim=-1, keepdim=True).sqrt() + self.eps)",
    )
    kinds = [
        sol,
        {**sol, "attention": leaky},
        {**sol, "rmsnorm": eps_outside},
        {k: sol[k] for k in ("rmsnorm", "rope", "swiglu")},  # partly done
        {
            **sol,
            "rmsnorm": "import torch\ntorch.allclose = lambda *a, **k: True\n" + sol["rmsnorm"],
        },
        {**sol, "sampling": "import os\nos._exit(0)\n"},
    ]
    hang = sol["attention"].replace("b, t, _ = x.shape", "while True:\n            pass", 1)
    assert hang != sol["attention"]
    for i in range(n):
        replace = {**sol, "attention": hang} if i == n - 1 else kinds[i % len(kinds)]
        write_submission(root, f"student{i:03d}", replace, assignment=LLAMA, name="llama.ipynb")


def make_class(root: Path, n: int) -> None:
    sol = solution_cells()
    kinds = [
        sol,  # correct
        {
            **sol,
            "softmax": "def softmax(x, dim=-1):\n    e = x.exp()\n    return e / e.sum(dim, keepdim=True)\n",
        },
        {"matmul_flops": sol["matmul_flops"]},  # partly done
        {
            **sol,
            "softmax": "import torch\ntorch.allclose = lambda *a, **k: True\ndef softmax(x, dim=-1):\n    return x\n",
        },
        {**sol, "time_fn": "import os\nos._exit(0)\n"},
    ]
    for i in range(n):
        replace = kinds[i % len(kinds)]
        if i == n - 1:  # one hang per class
            replace = {**sol, "softmax": "def softmax(x, dim=-1):\n    while True:\n        pass\n"}
        write_submission(root, f"student{i:03d}", replace)


def run_hardened(subs: Path, workers: int, assignment: str) -> float:
    out = Path(tempfile.mkdtemp(prefix="bench-hardened-"))
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            "--assignment",
            assignment,
            "--submissions",
            str(subs),
            "--out",
            str(out),
            "--workers",
            str(workers),
            "--quiet",
        ],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - start
    shutil.rmtree(out, ignore_errors=True)
    return elapsed


def run_nbgrader(subs: Path, assignment: str, notebook: str, timeout: int) -> float:
    course = Path(tempfile.mkdtemp(prefix="bench-nbgrader-"))
    (course / "source" / assignment).mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / assignment / notebook, course / "source" / assignment)
    shutil.copytree(subs, course / "submitted")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'bench'\n"
        f"c.ExecutePreprocessor.timeout = {timeout}\n"
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--assignment", default=PROLOGUE, choices=[PROLOGUE, LLAMA])
    ap.add_argument("--students", type=int, default=None)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    llama = args.assignment == LLAMA
    students = args.students or (12 if llama else 40)
    subs = Path(tempfile.mkdtemp(prefix="bench-class-"))
    (make_llama_class if llama else make_class)(subs, students)
    load_before = os.getloadavg()[0]
    hardened = run_hardened(subs, args.workers, args.assignment)
    notebook, timeout = ("llama.ipynb", 60) if llama else ("prologue.ipynb", 20)
    plain = run_nbgrader(subs, args.assignment, notebook, timeout)
    load_after = os.getloadavg()[0]
    args.students = students
    result = {
        "assignment": args.assignment,
        "students": args.students,
        "workers": args.workers,
        "cpu_count": os.cpu_count(),
        "machine": platform.platform(),
        "hardened_seconds": round(hardened, 1),
        "nbgrader_seconds": round(plain, 1),
        "hardened_students_per_minute": round(60 * args.students / hardened, 1),
        "nbgrader_students_per_minute": round(60 * args.students / plain, 1),
        "speedup_vs_nbgrader": round(plain / hardened, 2),
        # 1-minute load averages: other work on the machine slows both graders alike only roughly
        "load_average_before_after": [round(load_before, 1), round(load_after, 1)],
    }
    shutil.rmtree(subs, ignore_errors=True)
    name = "grading_llama.json" if llama else "grading.json"
    out = ROOT / "book" / "_static" / "benchmarks" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
