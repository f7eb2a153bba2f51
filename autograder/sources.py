"""One source per notebook: ``solutions/NN-slug/<name>.py`` (jupytext py:percent) is what authors edit.

The paired ``solutions/NN-slug/<name>.ipynb`` is generated from it (nbgrader reads notebooks), and
``release --check`` fails when the two differ, so the notebook can never drift from its source.
nbgrader cell metadata (``grade_id``, ``solution``, ``grade``, ``points``) lives in each
``# %% nbgrader={...}`` header; the notebook's grading budgets in the ``autograder:`` front matter.
"""

from __future__ import annotations

import json
from pathlib import Path

import jupytext
import nbformat

from autograder.errors import CourseError

#: how the .py sources are written (and re-written by ``from_notebook``)
PY_FORMAT = "py:percent"
NOTEBOOK_FILTER = "autograder,kernelspec,-all"
CELL_FILTER = "nbgrader,tags,-all"


def is_source(path: Path) -> bool:
    """A ``.py`` file under solutions/ that jupytext reads as a notebook (has ``# %%`` cells)."""
    return path.suffix == ".py" and "# %%" in path.read_text(encoding="utf-8")


def sources(assignment_dir: Path) -> list[Path]:
    return sorted(p for p in assignment_dir.glob("*.py") if is_source(p))


def generated_mark(source: Path) -> str:
    """The sentence in the metadata of every notebook made from ``source`` (``solutions/<a>/*.ipynb``
    and, through nbgrader, ``exercises/<a>/*.ipynb``): what it is generated from; do not edit."""
    where = f"solutions/{source.parent.name}/{source.name}"
    return (
        f"generated from {where} by `python -m autograder release`; do not edit: change {where} "
        "and rerun it"
    )


def to_notebook(source: Path) -> nbformat.NotebookNode:
    """The nbgrader source notebook described by ``source`` (no outputs, stable metadata)."""
    try:
        nb = jupytext.read(source, fmt=PY_FORMAT)
    except Exception as exc:
        raise CourseError(f"{source} is not a readable py:percent notebook ({exc}).") from None
    nb.metadata.pop("jupytext", None)
    nb.metadata["generated"] = generated_mark(source)
    nb.metadata["language_info"] = {"name": "python"}
    nb.nbformat, nb.nbformat_minor = 4, 5
    for i, cell in enumerate(nb.cells):  # stable ids, so regenerating changes nothing
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        cell["id"] = gid or f"cell-{i}"
    return nb


def _normalised(nb: nbformat.NotebookNode) -> str:
    return json.dumps(json.loads(nbformat.writes(nb)), sort_keys=True, indent=1)


def stale_notebooks(assignment_dir: Path) -> list[Path]:
    """Generated notebooks that are missing or differ from their ``.py`` source."""
    stale = []
    for src in sources(assignment_dir):
        target = src.with_suffix(".ipynb")
        if not target.exists():
            stale.append(target)
            continue
        current = nbformat.read(str(target), as_version=4)
        if _normalised(current) != _normalised(to_notebook(src)):
            stale.append(target)
    for nb_path in assignment_dir.glob("*.ipynb"):
        if not nb_path.with_suffix(".py").exists():
            stale.append(nb_path)  # a notebook without a source: write one with from_notebook
    return stale


def write_notebooks(assignment_dir: Path) -> list[Path]:
    """Regenerate every ``.ipynb`` of ``assignment_dir`` from its ``.py`` source."""
    written = []
    for src in sources(assignment_dir):
        nb = to_notebook(src)
        target = src.with_suffix(".ipynb")
        nbformat.write(nb, str(target))
        written.append(target)
    return written


def from_notebook(notebook: Path) -> Path:
    """Write the ``.py`` source for an existing ``.ipynb`` (one-off migration or import)."""
    nb = jupytext.read(notebook)
    nb.metadata["jupytext"] = {
        "notebook_metadata_filter": NOTEBOOK_FILTER,
        "cell_metadata_filter": CELL_FILTER,
    }
    target = notebook.with_suffix(".py")
    target.write_text(jupytext.writes(nb, fmt=PY_FORMAT), encoding="utf-8")
    return target
