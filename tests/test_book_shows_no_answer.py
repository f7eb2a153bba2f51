"""The built book prints no answer to a graded block.

Every solution region of every source notebook (``### BEGIN SOLUTION`` ... ``### END SOLUTION``)
is compared, as a syntax tree with its names forgotten, with every code cell the book executed and
every output it printed (``_build/jupyter_execute``: a page that prints ``inspect.getsource`` of a
reference shows the answer as an output, not as a cell). A graded function or class whose body
stands in the book, or a run of a few statements of one, fails here with the page that shows it.
"""

from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXECUTED = Path(os.environ.get("BOOK_EXECUTED", ROOT / "_build" / "jupyter_execute"))
REGION = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n(.*?)^[ \t]*### END SOLUTION", re.M | re.S)
#: consecutive statements of a graded body that, shown together, give the answer away
WINDOW = 3
#: a window shorter than this (its normalised dump) is too generic to mean anything (``x = x.float()``)
MIN_DUMP = 160


class _Forget(ast.NodeTransformer):
    """Names, attributes' objects, arguments and constants replaced by placeholders, so that the
    same code with other names compares equal; the structure and attribute names stay."""

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return ast.copy_location(ast.Name(id="_", ctx=node.ctx), node)

    def visit_arg(self, node: ast.arg) -> ast.AST:
        return ast.copy_location(ast.arg(arg="_"), node)

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        return ast.copy_location(ast.Constant(value=type(node.value).__name__), node)


def _shape(node: ast.AST) -> str:
    return ast.dump(_Forget().visit(ast.parse(ast.unparse(node))), annotate_fields=False)


def _dedented_region(indent: str, body: str) -> str:
    lines = body.splitlines()
    return "\n".join(line[len(indent) :] if line.startswith(indent) else line for line in lines)


def solution_bodies() -> list[tuple[str, list[ast.stmt]]]:
    """(where, statements) of every graded body: each solution region's function and class
    bodies, and the region itself where it is a body of statements."""
    found = []
    for source in sorted((ROOT / "solutions").glob("[0-9][0-9]-*/*.py")):
        for match in REGION.finditer(source.read_text()):
            try:
                tree = ast.parse(_dedented_region(match.group(1), match.group(2)))
            except SyntaxError:
                continue
            line = source.read_text()[: match.start()].count("\n") + 1
            where = f"{source.relative_to(ROOT)}:{line}"
            found.append((where, tree.body))
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.ClassDef):
                    found.append((f"{where} ({node.name})", node.body))
    return found


def windows(statements: list[ast.stmt]) -> set[str]:
    """The shapes of every run of WINDOW consecutive statements (the whole body if shorter), and
    of each compound statement's own body, recursively."""
    out: set[str] = set()
    runs = [statements[i : i + WINDOW] for i in range(max(1, len(statements) - WINDOW + 1))]
    for run in runs:
        shape = "".join(_shape(s) for s in run)
        if len(shape) >= MIN_DUMP:
            out.add(shape)
    for s in statements:
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(s, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                out |= windows(inner)
    return out


def _python_in(text: str) -> list[ast.Module]:
    """``text`` as Python, whole, or each block of it separated by blank lines (printed source)."""
    trees = []
    for chunk in [text, *re.split(r"\n\s*\n", text)]:
        try:
            trees.append(ast.parse(chunk))
        except (SyntaxError, ValueError):
            continue
    return trees


def book_code() -> dict[str, list[ast.Module]]:
    """page -> the syntax trees of its executed code cells and of every printed output."""
    pages: dict[str, list[ast.Module]] = {}
    for path in sorted(EXECUTED.rglob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        trees = []
        for cell in cells:
            if cell.get("cell_type") != "code":
                continue
            trees += _python_in("".join(cell.get("source", "")))
            for output in cell.get("outputs", []):
                text = output.get("text") or output.get("data", {}).get("text/plain", "")
                trees += _python_in("".join(text) if isinstance(text, list) else text)
        pages[str(path.relative_to(EXECUTED))] = trees
    return pages


def shown_windows(trees: list[ast.Module]) -> set[str]:
    out: set[str] = set()
    for tree in trees:
        out |= windows(tree.body)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                out |= windows(node.body)
    return out


@pytest.fixture(scope="module")
def executed_book() -> dict[str, set[str]]:
    if not any(EXECUTED.rglob("*.ipynb")):
        pytest.fail("the book is not built: run `make book` (make test does it first)")
    return {page: shown_windows(trees) for page, trees in book_code().items()}


@pytest.mark.parametrize(
    "where, body", solution_bodies(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_no_page_shows_a_graded_answer(where, body, executed_book):
    graded = windows(body)
    shown = sorted(page for page, seen in executed_book.items() if graded & seen)
    assert not shown, (
        f"the graded answer at {where} stands in the built book ({', '.join(shown)}): teach the idea "
        "with other code or describe it; never print a graded block's source"
    )


def test_the_comparison_sees_a_printed_answer():
    """A page that printed a graded body (here, as ``inspect.getsource`` would) would be caught."""
    where, body = next((w, b) for w, b in solution_bodies() if windows(b))
    printed = ast.unparse(ast.Module(body=body, type_ignores=[]))
    renamed = re.sub(r"\bx\b", "inputs", printed)
    assert windows(body) & shown_windows(_python_in(renamed)), where
