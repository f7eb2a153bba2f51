"""Reading notebooks as data: the trusted source (solutions/) and untrusted submissions."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

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


#: what a kept code cell of a source notebook is: the student's answer (an nbgrader solution
#: cell), a graded test cell, or the course's own setup code (every other code cell)
CellKind = Literal["answer", "test", "setup"]


@dataclass(frozen=True)
class Cell:
    """One code cell of a source notebook, as the grader keeps it (``skip-grading`` demos and
    markdown are dropped): its kind, its nbgrader ``grade_id`` ("" for setup code) and source."""

    kind: CellKind
    grade_id: str
    source: str


@dataclass(frozen=True)
class NotebookSettings:
    """The grading budgets of a source notebook (its ``autograder:`` front matter).

    ``timeout_s``: seconds for one call into the student's code (a test cell's own
    ``autograder.timeout_s`` overrides it for that part); ``cpu_s`` and ``memory_mb``: the
    sandboxed process's CPU-time and memory limits; ``student_budget_s``: wall-clock seconds for
    all of one student's parts together (None: 10 calls' worth, see :attr:`budget_s`).
    """

    timeout_s: float = 60.0
    cpu_s: int = 120
    memory_mb: int = 3072
    student_budget_s: float | None = None

    @property
    def budget_s(self) -> float:
        """Wall-clock seconds for all of one student's parts of the notebook together."""
        if self.student_budget_s is not None:
            return self.student_budget_s
        return 10 * self.timeout_s

    @classmethod
    def from_metadata(cls, meta: Any, where: Path | str) -> NotebookSettings:
        """Read the front matter's ``autograder`` mapping; CourseError on an unknown key or a
        value that is not a number (``where`` names the notebook in the message)."""
        if not isinstance(meta, dict):
            raise CourseError(f"{where}: the `autograder:` front matter must be a mapping.")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(meta) - known)
        if unknown:
            raise CourseError(
                f"{where}: unknown grading setting(s) {', '.join(unknown)} in the `autograder:` "
                f"front matter (known: {', '.join(sorted(known))})."
            )
        try:
            return cls(
                timeout_s=float(meta.get("timeout_s", cls.timeout_s)),
                cpu_s=int(meta.get("cpu_s", cls.cpu_s)),
                memory_mb=int(meta.get("memory_mb", cls.memory_mb)),
                student_budget_s=(
                    float(meta["student_budget_s"]) if "student_budget_s" in meta else None
                ),
            )
        except (TypeError, ValueError):
            raise CourseError(
                f"{where}: the `autograder:` front matter's settings must be numbers ({meta})."
            ) from None


@dataclass
class SourceNotebook:
    """A trusted nbgrader source notebook (solutions/), as grading needs it."""

    name: str  # file name, e.g. "prologue.ipynb"
    cells: list[Cell]
    parts: list[Part]
    settings: NotebookSettings = field(default_factory=NotebookSettings)

    @property
    def answer_ids(self) -> list[str]:
        return [c.grade_id for c in self.cells if c.kind == "answer"]

    def sources_of(self, *kinds: CellKind) -> list[str]:
        """The source of every cell of these kinds, in notebook order."""
        return [c.source for c in self.cells if c.kind in kinds]

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
    settings = NotebookSettings.from_metadata(nb.metadata.get("autograder", {}), path)
    cells: list[Cell] = []
    parts: list[Part] = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code":
            continue
        gid = meta.get("grade_id", "")
        if "skip-grading" in cell.metadata.get("tags", []):
            continue  # demos (real weights, plots) that the grader need not run
        if meta.get("solution"):
            cells.append(Cell("answer", gid, cell.source))
        elif meta.get("grade"):
            names = check_calls(cell.source)
            if not names:
                raise CourseError(
                    f'test cell {gid!r} in {path} calls no check("...", ...): '
                    "every graded test cell must name its checks."
                )
            timeout = float(
                cell.metadata.get("autograder", {}).get("timeout_s", settings.timeout_s)
            )
            parts.append(Part(gid, float(meta.get("points", 0)), names, timeout))
            cells.append(Cell("test", gid, cell.source))
        else:
            cells.append(Cell("setup", "", cell.source))
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


def setup_imports(sources: list[SourceNotebook]) -> list[str]:
    """The modules the setup cells of ``sources`` import at their top level (``import a.b``,
    ``from a.b import c``: ``a.b``), in order, each once: what a sandbox zygote preloads."""
    found: dict[str, None] = {}
    for source in sources:
        for cell in source.cells:
            if cell.kind != "setup":
                continue
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    found.update(dict.fromkeys(a.name for a in node.names))
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    found[node.module] = None
    return list(found)
