"""Grading without root, as an instructor's laptop, a JupyterHub server or a CI runner does it.

The grader runs as an unprivileged uid (when the tests run as root, ``as_unprivileged.py`` drops
to one; otherwise the tests already are one): the sandbox then isolates student code in an
unprivileged user namespace. The red-team class gets the same verdicts as with root, and the
student who walks the disk for the checkout's solution, reference and check files finds none.
Where the kernel forbids user namespaces (simulated with ``AUTOGRADER_USERNS=0``), ``grade``
stops with one sentence unless ``--no-isolation`` is passed, which every student's notes record.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROLOGUE, ROOT, solution_cells, write_submission
from test_redteam import CASES, NEEDS_ISOLATION, write_redteam_class

from autograder.sandbox.limits import USERNS_ENV

UNPRIVILEGED_UID = 65534  # nobody: no home, no groups, owns nothing of the checkout


def _userns_possible() -> bool:
    """Can an unprivileged process create a user namespace here? (fork + unshare, as nobody)"""
    code = (
        "import ctypes, os, sys\n"
        f"if os.geteuid() == 0: os.setgid({UNPRIVILEGED_UID}); os.setuid({UNPRIVILEGED_UID})\n"
        "sys.exit(ctypes.CDLL(None).unshare(0x10000000) != 0)\n"
    )
    return subprocess.run([sys.executable, "-c", code]).returncode == 0


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not _userns_possible(),
        reason="UNPRIVILEGED USER NAMESPACES ARE DISABLED on this kernel: the grader refuses to "
        "grade without root here (tested below with AUTOGRADER_USERNS=0)",
    ),
]


def _as_unprivileged(args: list[str], paths: list[Path], env: dict[str, str] | None = None):
    """Run the grader's CLI as an unprivileged user that can reach only ``paths`` (and the
    checkout and Python), with the output folders it writes owned by it."""
    home = paths[-1]
    command = [sys.executable, "-m", "autograder", *args]
    environ = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8", **(env or {})}
    if os.geteuid() == 0:
        for path in paths:
            os.chown(path, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
            for sub, dirs, files in os.walk(path):
                for name in dirs + files:
                    os.lchown(os.path.join(sub, name), UNPRIVILEGED_UID, UNPRIVILEGED_UID)
        visible = [str(ROOT), os.path.realpath(sys.base_prefix), *map(str, paths)]
        launcher = [sys.executable, str(ROOT / "tests" / "as_unprivileged.py")]
        command = [*launcher, str(UNPRIVILEGED_UID), *visible, "--", *command]
    return subprocess.run(
        command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=900
    )


def _grades(out: Path) -> dict[str, dict[str, str]]:
    rows = csv.DictReader(io.StringIO((out / "grades.csv").read_text()))
    return {r["student_id"]: {k: v for k, v in r.items() if k != "notes"} for r in rows}


def _reasons(result: dict) -> str:
    msgs = [c["message"] for nb in result["notebooks"] for p in nb["parts"] for c in p["checks"]]
    return " | ".join(result["notes"] + msgs)


def test_redteam_class_graded_without_root_gets_the_same_verdicts(redteam_class, tmp_path):
    subs, root_out = redteam_class  # graded by this test process (as root when CI is root)
    mine, out = tmp_path / "subs", tmp_path / "out"
    mine.mkdir()
    out.mkdir()
    write_redteam_class(mine)
    run = _as_unprivileged(
        ["grade", "--assignment", PROLOGUE, "--submissions", str(mine), "--out", str(out)]
        + ["--workers", "2", "--quiet"],
        [mine, out],
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert _grades(out) == _grades(root_out)
    results = {
        r["student_id"]: r for r in map(json.loads, map(Path.read_text, out.glob("results/*.json")))
    }
    for sid, _, _, expected, phrase in CASES:
        assert results[sid]["score"] == expected, (sid, _reasons(results[sid]))
        assert phrase in _reasons(results[sid]), sid
    for sid in NEEDS_ISOLATION:  # isolation held: nothing is missing from the sandbox's report
        missing = [m for nb in results[sid]["notebooks"] for m in nb["sandbox_missing"]]
        assert not any("namespace" in m or "allow-list" in m for m in missing), missing
    assert "found on disk" not in _reasons(results["walk_disk"])
    assert not (ROOT / "pwned.txt").exists()


def test_without_user_namespaces_grade_stops_unless_told_not_to_isolate(tmp_path):
    subs, out, out2 = tmp_path / "subs", tmp_path / "out", tmp_path / "out2"
    for d in (subs, out, out2):
        d.mkdir()
    write_submission(subs, "alice", solution_cells())
    args = ["grade", "--assignment", PROLOGUE, "--submissions", str(subs), "--quiet"]
    forbidden = {USERNS_ENV: "0"}  # as if the kernel refused unprivileged user namespaces
    run = _as_unprivileged([*args, "--out", str(out)], [subs, out], forbidden)
    assert run.returncode == 2, run.stdout + run.stderr
    message = run.stderr.strip()
    assert message.startswith("error: the sandbox cannot isolate student code"), message
    assert "--no-isolation" in message and len(message.splitlines()) == 1
    assert not (out / "grades.csv").exists()

    run = _as_unprivileged([*args, "--out", str(out2), "--no-isolation"], [subs, out2], forbidden)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "--no-isolation" in run.stderr
    (row,) = csv.DictReader(io.StringIO((out2 / "grades.csv").read_text()))
    assert row["score"] == "6" and "graded with --no-isolation" in row["notes"]
