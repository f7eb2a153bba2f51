"""Lint the code cells of the book's MyST pages with ruff (same rules and line length as the code).

Each ``book/**/*.md`` page that is a MyST notebook is converted by jupytext to py:percent in a
temporary directory: ``ruff check`` runs on the whole page (names flow from cell to cell) and
``ruff format --check`` on each code cell on its own (a cell is formatted as a unit, as in an
editor). Errors are reported against the page name.

    python tools/lint_book.py          # check
    python tools/lint_book.py --fix    # apply ruff's fixes and formatting back into the pages
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parents[1]
# Pages are notebooks: imports where first needed, a name redefined in a later cell, a bare
# expression as a cell's displayed value, timing lambdas consumed inside the loop that made them.
PAGE_RULES = ["--extend-ignore", "E402,F811,B018,B023"]
CELL = re.compile(r"^# %%.*$", re.M)


def notebook_pages(book: Path) -> list[Path]:
    """Pages with executable cells (MyST notebooks), not plain Markdown."""
    return sorted(
        p for p in book.rglob("*.md") if "_build" not in p.parts and "{code-cell}" in p.read_text()
    )


def _split(text: str) -> tuple[list[str], list[str]]:
    """py:percent text -> (headers, bodies); bodies[0] is the front matter before the first cell."""
    headers = CELL.findall(text)
    bodies = CELL.split(text)
    return headers, bodies


def _ruff(*args: str) -> subprocess.CompletedProcess:
    ruff = str(Path(sys.executable).parent / "ruff")
    config = ["--config", str(ROOT / "pyproject.toml")]
    return subprocess.run(
        [ruff, args[0], *config, *args[1:]], cwd=ROOT, capture_output=True, text=True
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fix", action="store_true", help="write ruff's fixes back into the pages")
    args = parser.parse_args(argv)
    pages = notebook_pages(ROOT / "book")
    with tempfile.TemporaryDirectory(dir=ROOT, prefix=".lint-book-") as tmp:
        whole: dict[Path, Path] = {}
        cells: dict[Path, dict[int, Path]] = {}
        for page in pages:
            rel = page.relative_to(ROOT)
            target = Path(tmp) / rel.with_suffix(".py")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(jupytext.writes(jupytext.read(page), fmt="py:percent"))
            whole[page] = target
            headers, bodies = _split(target.read_text())
            cells[page] = {}
            for i, (header, body) in enumerate(zip(headers, bodies[1:])):
                if "[markdown]" in header or not body.strip():
                    continue
                cell = Path(tmp) / "cells" / rel.with_suffix("") / f"cell{i:03d}.py"
                cell.parent.mkdir(parents=True, exist_ok=True)
                cell.write_text(body.strip("\n") + "\n")
                cells[page][i] = cell
        cell_files = [str(c) for per_page in cells.values() for c in per_page.values()]
        if args.fix:
            _ruff("check", "--fix", *PAGE_RULES, *map(str, whole.values()))
            for page, target in whole.items():  # the cells to format are the check-fixed ones
                _, fixed_bodies = _split(target.read_text())
                for i, cell in cells[page].items():
                    cell.write_text(fixed_bodies[i + 1].strip("\n") + "\n")
            _ruff("format", *cell_files)
            for page, target in whole.items():
                headers, bodies = _split(target.read_text())
                for i, cell in cells[page].items():
                    bodies[i + 1] = "\n" + cell.read_text() + "\n"
                text = bodies[0] + "".join(h + b for h, b in zip(headers, bodies[1:]))
                fixed = jupytext.reads(text, fmt="py:percent")
                original = jupytext.read(page)
                for cell_, new in zip(original.cells, fixed.cells):
                    if cell_.cell_type == "code" and new.cell_type == "code":
                        cell_.source = new.source
                jupytext.write(original, page, fmt="md:myst")
        check = _ruff("check", *PAGE_RULES, "--output-format", "concise", *map(str, whole.values()))
        fmt = _ruff("format", "--check", *cell_files)
    report = check.stdout + fmt.stdout
    for prefix in (tmp + "/cells/", tmp + "/", Path(tmp).name + "/cells/", Path(tmp).name + "/"):
        report = report.replace(prefix, "")
    report = report.replace(".py:", ".md (code cell):")
    if check.returncode or fmt.returncode:
        print(report.strip())
        print("book pages need linting: run `python tools/lint_book.py --fix` (or fix by hand).")
        return 1
    print(f"{len(pages)} book pages lint clean")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
