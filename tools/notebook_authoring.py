"""Helpers for the one-off scripts that first wrote the nbgrader source notebooks in solutions/."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]


def md(text: str):
    return new_markdown_cell(text.strip())


def code(text: str, tags=(), **nbg):
    """A code cell; keyword arguments become nbgrader metadata (grade_id, solution, grade, points)."""
    cell = new_code_cell(text.strip())
    if nbg:
        cell.metadata["nbgrader"] = {
            "schema_version": 3,
            "locked": False,
            "solution": False,
            "grade": False,
            "task": False,
            **nbg,
        }
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def save(cells, relpath: str, budgets: dict) -> None:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["autograder"] = budgets
    out = ROOT / relpath
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(out))
    print("wrote", out)
