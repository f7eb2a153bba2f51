"""The student kit at the lowest PyTorch it declares (kit/pyproject.toml's ``torch>=X``): a fresh
environment with that torch, the kit's wheel and nothing of the course runs every released notebook
with the solutions, and every visible check passes. The pinned torch is tested by tests/test_kit.py.

Ungraded cells that import ``transformers`` are skipped there: the development venv's transformers
(shared into that environment) needs the pinned torch; a student's own transformers matches theirs.

The torch wheel comes from pip's configured find-links only (``--no-index``): where no wheel of
that version is there, the test skips and says so, rather than download a gigabyte.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from conftest import ROOT, fresh_venv, pip_install_into
from test_kit import ASSIGNMENTS, RUNNER, _answers, _execute, _released

from autograder import kit
from autograder.layout import Course

DEPENDENCIES = tomllib.loads((ROOT / "kit/pyproject.toml").read_text())["project"]["dependencies"]
(LOWEST_TORCH,) = [re.fullmatch(r"torch>=([\d.]+)", d)[1] for d in DEPENDENCIES if "torch" in d]


@pytest.fixture(scope="module")
def lowest_env(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("lowest-torch")
    py, site = fresh_venv(tmp)  # its own torch comes first: the lowest one
    got = pip_install_into(
        site, "--no-index", "--only-binary=:all:", f"torch=={LOWEST_TORCH}",
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    if got.returncode != 0:
        pytest.skip(
            f"TORCH {LOWEST_TORCH} (THE KIT'S LOWEST) IS NOT AVAILABLE TO PIP OFFLINE HERE: "
            + got.stderr.strip().splitlines()[-1][:200]
        )
    wheel = kit.build_wheel(Course(ROOT), tmp / "dist")
    pip_install_into(site, str(wheel), check=True)
    shutil.copy(RUNNER, tmp / RUNNER.name)
    version = subprocess.check_output(
        [str(py), "-c", "import torch; print(torch.__version__)"], text=True
    ).strip()
    from packaging.version import Version

    assert Version(version.split("+")[0]) == Version(LOWEST_TORCH), version
    return py


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_released_notebook_passes_at_the_lowest_declared_torch(
    lowest_env, assignment, tmp_path, monkeypatch
):
    notebook = _released(assignment)
    monkeypatch.setenv("KIT_RUNNER_SKIP_IMPORTS", "transformers")  # the runner's env is ours
    cells = _execute(lowest_env, notebook, _answers(assignment, notebook.name), tmp_path)
    failed = {c["grade_id"]: c["error"] for c in cells if c["error"]}
    assert not failed, failed
    graded = [c for c in cells if c["graded"]]
    assert graded and all("cases passed" in c["stdout"] for c in graded), graded
