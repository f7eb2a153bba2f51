"""Run a released notebook's code cells as a student's kernel would, with the kit's interpreter.

Used by tests/test_kit.py with the Python of a virtual environment that holds the kit and its
third-party dependencies only: this file imports nothing from the course repository. Each code
cell runs in one shared namespace; an exception ends that cell, not the run (like a student who
runs every cell). Prints one JSON list: per cell its grade_id, whether it is a graded test, its
stdout and its error (type and message) or null.

    python kit_notebook_runner.py NOTEBOOK.ipynb [ANSWERS.json]

ANSWERS.json (optional): grade_id -> source that replaces that answer cell's source. Cells tagged
``skip-grading`` (the real-weights demos) are skipped when KIT_RUNNER_SKIP_DEMOS=1, and ungraded
cells that import a module named in KIT_RUNNER_SKIP_IMPORTS (comma-separated) are skipped too.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import traceback


def main() -> None:
    nb = json.load(open(sys.argv[1]))
    answers = json.load(open(sys.argv[2])) if len(sys.argv) > 2 else {}
    namespace: dict = {"__name__": "__main__"}
    results = []
    skip_demos = os.environ.get("KIT_RUNNER_SKIP_DEMOS") == "1"
    skip_imports = [m for m in os.environ.get("KIT_RUNNER_SKIP_IMPORTS", "").split(",") if m]
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        if skip_demos and "skip-grading" in cell.get("metadata", {}).get("tags", []):
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        gid = meta.get("grade_id", f"cell-{i}")
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        if not meta and any(
            f"import {m}" in source or f"from {m} " in source or f"from {m}." in source
            for m in skip_imports
        ):
            continue
        if meta.get("solution") and gid in answers:
            source = answers[gid]
        out = io.StringIO()
        error = None
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(source, f"<cell {gid}>", "exec"), namespace)
        except BaseException as exc:  # the notebook goes on, as in Jupyter's "run all" with errors
            error = f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, AssertionError | NotImplementedError):
                error += "\n" + "".join(traceback.format_exception(exc)[-3:])
        results.append(
            {
                "grade_id": gid,
                "graded": bool(meta.get("grade")),
                "stdout": out.getvalue()[-4000:],
                "error": error,
            }
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
