"""Every ``course``/``coursekit`` import in a book page resolves, without building the book.

A page that imports a module or a name the course no longer has fails only when ``make book``
executes it, minutes into the build (CI stop 32 failed that way on a removed alias module). This
reads each page's code cells with jupytext, keeps the import statements, and resolves them.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import jupytext
import pytest
from conftest import ROOT

PAGES = sorted((ROOT / "book").rglob("*.md"))
OURS = ("course", "coursekit")


def page_imports(page: Path) -> list[tuple[str, str | None]]:
    """(module, name or None) for each import of a course module in the page's code cells."""
    notebook = jupytext.read(page, fmt="md:myst")
    found: list[tuple[str, str | None]] = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join(
            line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))
        )
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(a.name, None) for a in node.names if a.name.split(".")[0] in OURS]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module.split(".")[0] in OURS:
                    found += [(node.module, a.name) for a in node.names]
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_imports_resolve(page: Path) -> None:
    missing = []
    for module_name, name in page_imports(page):
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            missing.append(f"import {module_name}: {error}")
            continue
        if name is None or name == "*" or hasattr(module, name):
            continue
        try:
            importlib.import_module(f"{module_name}.{name}")
        except ImportError:
            missing.append(f"from {module_name} import {name}: no such name or submodule")
    assert not missing, f"{page.relative_to(ROOT)} imports what the course does not have: {missing}"
