"""Grading on Ray vs the local pool: the same class, the same number of workers, on this machine.

Run: .venv/bin/python benchmarks/grading_ray.py [--students 24] [--workers 1 2]. Writes
book/_static/benchmarks/grading_ray.json. For each worker count, the prologue class (the grading
benchmark's mix: correct, wrong, partly done, hostile, exiting, one hanging) is graded by the local
pool and by a private local Ray instance (one actor per worker). Two figures per run: the whole
command (cold: Ray's start and the actors' warm-up included) and the warm grading rate, from the
first result to the last, which is what a long class on a cluster sees. Ray's overhead is the
ratio of warm times at the same worker count.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from grading import make_class  # noqa: E402  (the grading benchmark's class)

from autograder.layout import Course  # noqa: E402
from autograder.service import grade_class, preload_for, ray_pool  # noqa: E402

PROLOGUE = "00-prologue"


def run(subs: Path, workers: int, on_ray: bool) -> dict:
    """Grade the class once into a fresh folder; wall time and the first/last result times."""
    course = Course(ROOT)
    out = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    stamps: list[float] = []
    start = time.perf_counter()
    results, n = grade_class(
        course,
        PROLOGUE,
        subs,
        out,
        workers,
        None,
        on_result=lambda r, cached: stamps.append(time.perf_counter()),
        make_pool=(lambda: ray_pool(course, workers, None, preload=preload_for(course, PROLOGUE)))
        if on_ray
        else None,
    )
    seconds = time.perf_counter() - start
    shutil.rmtree(out, ignore_errors=True)
    warm = stamps[-1] - stamps[0]
    return {
        "pool": "ray" if on_ray else "local",
        "workers": workers,
        "seconds": round(seconds, 1),
        "warm_seconds": round(warm, 1),
        "students_per_minute": round(60 * n / seconds, 1),
        "warm_students_per_minute": round(60 * (n - 1) / warm, 1),
        "first_result_s": round(stamps[0] - start, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--students", type=int, default=24)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    subs = Path(tempfile.mkdtemp(prefix="bench-class-"))
    make_class(subs, PROLOGUE, "prologue.ipynb", args.students)
    rows = []
    for workers in args.workers:
        for on_ray in (False, True):
            rows.append(run(subs, workers, on_ray))
            print(json.dumps(rows[-1]), flush=True)
    shutil.rmtree(subs, ignore_errors=True)
    by = {(r["pool"], r["workers"]): r for r in rows}
    result = {
        "assignment": PROLOGUE,
        "students": args.students,
        "cpu_count": os.cpu_count(),
        "machine": platform.platform(),
        "rows": rows,
        # Ray's cost per student once warm, at the same number of workers (1.0 = none)
        "warm_overhead_ratio": {
            str(w): round(by["ray", w]["warm_seconds"] / by["local", w]["warm_seconds"], 3)
            for w in args.workers
        },
        # Ray's one-off cost: starting the instance and warming its actors, before any result
        "startup_overhead_s": {
            str(w): round(by["ray", w]["first_result_s"] - by["local", w]["first_result_s"], 1)
            for w in args.workers
        },
    }
    out = ROOT / "book" / "_static" / "benchmarks" / "grading_ray.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
