from __future__ import annotations

import os
import shutil
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
PROLOGUE = "00-prologue"

# Without a GPU, Triton kernels run in Triton's interpreter; this must be set before any test
# module imports triton (the kernels' decorator reads it once).
if not os.path.exists("/dev/nvidia0"):
    os.environ.setdefault("TRITON_INTERPRET", "1")

# nbgrader shells out to `alembic`: make the venv's bin visible to subprocesses.
os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")


def solution_cells(assignment: str = PROLOGUE, name: str = "prologue.ipynb") -> dict[str, str]:
    nb = nbformat.read(str(ROOT / "solutions" / assignment / name), as_version=4)
    return {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }


def write_submission(
    root: Path,
    sid: str,
    replace: dict[str, str] | None = None,
    *,
    edit=None,
    as_zip: bool = False,
    raw: bytes | None = None,
    assignment: str = PROLOGUE,
    name: str = "prologue.ipynb",
) -> Path:
    """A student's submission built from the release, with answer cells replaced."""
    nb = nbformat.read(str(ROOT / "exercises" / assignment / name), as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if replace and gid in replace:
            cell.source = replace[gid]
    if edit:
        edit(nb)
    data = raw if raw is not None else nbformat.writes(nb).encode()
    if as_zip:
        path = root / f"{sid}.zip"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr(f"{assignment}/{name}", data)
        return path
    d = root / sid / assignment
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)
    return d / name


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def redteam_class(tmp_path_factory) -> tuple[Path, Path]:
    """The red-team class (tests/test_redteam.py) graded once by the local pool: its submissions
    and output folders, shared by the red-team tests and the Ray tests that compare with it."""
    from test_redteam import write_redteam_class

    from autograder.layout import Course
    from autograder.service import grade_class

    subs = tmp_path_factory.mktemp("redteam-class")
    out = tmp_path_factory.mktemp("redteam-out")
    write_redteam_class(subs)
    grade_class(Course(ROOT), PROLOGUE, subs, out, workers=2, db_url=None)
    return subs, out


@pytest.fixture(scope="module")
def driver():
    """Headless Chromium for the widget tests (skips loudly when it is not installed)."""
    chromium = shutil.which("chromium") or shutil.which("google-chrome")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.skip("HEADLESS CHROMIUM IS NOT INSTALLED: run `make system-deps` as root")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(flag)
    drv = webdriver.Chrome(service=Service(driver_path), options=opts)
    try:
        yield drv
    finally:
        drv.quit()
