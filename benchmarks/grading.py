"""Grading throughput: the hardened grader vs plain `nbgrader autograde`, same 40 submissions.

Run: .venv/bin/python benchmarks/grading.py [--students 40] [--workers 2]
Writes book/_static/benchmarks/grading.json (students/minute for both, and the ratio).
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


def run_hardened(subs: Path, workers: int) -> float:
    out = Path(tempfile.mkdtemp(prefix="bench-hardened-"))
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            "--assignment",
            PROLOGUE,
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


def run_nbgrader(subs: Path) -> float:
    course = Path(tempfile.mkdtemp(prefix="bench-nbgrader-"))
    (course / "source" / PROLOGUE).mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / PROLOGUE / "prologue.ipynb", course / "source" / PROLOGUE)
    shutil.copytree(subs, course / "submitted")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.course_id = 'bench'\n"
        "c.ExecutePreprocessor.timeout = 20\n"
    )
    env = {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]}
    nbg = [sys.executable, "-m", "nbgrader"]
    subprocess.run(
        [*nbg, "generate_assignment", PROLOGUE, "--force"],
        cwd=course,
        env=env,
        check=True,
        capture_output=True,
    )
    start = time.perf_counter()
    subprocess.run(
        [*nbg, "autograde", PROLOGUE, "--force"], cwd=course, env=env, capture_output=True
    )
    elapsed = time.perf_counter() - start
    shutil.rmtree(course, ignore_errors=True)
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--students", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    subs = Path(tempfile.mkdtemp(prefix="bench-class-"))
    make_class(subs, args.students)
    hardened = run_hardened(subs, args.workers)
    plain = run_nbgrader(subs)
    result = {
        "students": args.students,
        "workers": args.workers,
        "cpu_count": os.cpu_count(),
        "machine": platform.platform(),
        "hardened_seconds": round(hardened, 1),
        "nbgrader_seconds": round(plain, 1),
        "hardened_students_per_minute": round(60 * args.students / hardened, 1),
        "nbgrader_students_per_minute": round(60 * args.students / plain, 1),
        "speedup_vs_nbgrader": round(plain / hardened, 2),
    }
    shutil.rmtree(subs, ignore_errors=True)
    out = ROOT / "book" / "_static" / "benchmarks" / "grading.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
