"""Reading notebooks as data: the trusted source (solutions/) and untrusted submissions."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.errors import CourseError

MAX_NOTEBOOK_BYTES = 20 * 2**20


@dataclass
class Part:
    """A graded test cell of the source notebook: its points and the checks it calls."""

    grade_id: str
    points: float
    checks: list[str]
    timeout_s: float


@dataclass
class SourceNotebook:
    name: str  # file name, e.g. "prologue.ipynb"
    cells: list[tuple[str, str, str]]  # (kind, grade_id or "", source); kind: answer|test|setup
    parts: list[Part]
    settings: dict = field(default_factory=dict)

    @property
    def answer_ids(self) -> list[str]:
        return [gid for kind, gid, _ in self.cells if kind == "answer"]

    @property
    def max_score(self) -> float:
        return sum(p.points for p in self.parts)


def check_calls(source: str) -> list[str]:
    """Names passed as the first argument of every ``check("name", ...)`` call in ``source``."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", None)) == "check"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.append(node.args[0].value)
    return names


def load_source(path: Path) -> SourceNotebook:
    """Parse an nbgrader source notebook (trusted). Raises CourseError when it is not one."""
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:
        raise CourseError(
            f"{path} is not a readable notebook ({exc}); fix or regenerate it."
        ) from None
    settings = dict(nb.metadata.get("autograder", {}))
    default_timeout = float(settings.get("timeout_s", 60))
    cells, parts = [], []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code":
            continue
        gid = meta.get("grade_id", "")
        if "skip-grading" in cell.metadata.get("tags", []):
            continue  # demos (real weights, plots) that the grader need not run
        if meta.get("solution"):
            cells.append(("answer", gid, cell.source))
        elif meta.get("grade"):
            names = check_calls(cell.source)
            if not names:
                raise CourseError(
                    f'test cell {gid!r} in {path} calls no check("...", ...): '
                    "every graded test cell must name its checks."
                )
            timeout = float(cell.metadata.get("autograder", {}).get("timeout_s", default_timeout))
            parts.append(Part(gid, float(meta.get("points", 0)), names, timeout))
            cells.append(("test", gid, cell.source))
        else:
            cells.append(("setup", "", cell.source))
    if not parts:
        raise CourseError(f"{path} has no graded test cells; is it an nbgrader source notebook?")
    return SourceNotebook(path.name, cells, parts, settings)


def answer_cells(data: bytes, source: SourceNotebook) -> tuple[dict[str, str], list[str]]:
    """The student's code per answer grade_id, from an untrusted notebook's bytes, and notes.

    Only the *source* of code cells whose grade_id names one of the source's answer cells is
    used; outputs, test cells, points and all other metadata in the submission are ignored.
    """
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise CourseError(
            f"the notebook is {len(data) / 2**20:.0f} MB, over the "
            f"{MAX_NOTEBOOK_BYTES // 2**20} MB limit"
        )
    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception:
        raise CourseError(
            "the notebook is not valid JSON/nbformat (was it saved correctly?)"
        ) from None
    wanted = set(source.answer_ids)
    found: dict[str, str] = {}
    for cell in nb.get("cells", []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        gid = meta.get("grade_id") if isinstance(meta, dict) else None
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else src
        if isinstance(gid, str) and gid in wanted and gid not in found and isinstance(src, str):
            found[gid] = src
    notes = [
        f"answer cell {gid!r} is missing from the submission"
        for gid in source.answer_ids
        if gid not in found
    ]
    return found, notes


STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
