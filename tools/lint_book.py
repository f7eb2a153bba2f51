"""Lint the code cells of the book's MyST pages with ruff (same rules and line length as the code).

Each ``book/**/*.md`` page that is a MyST notebook is converted by jupytext to py:percent in a
temporary directory that mirrors ``book/``, then ``ruff check`` and ``ruff format --check`` run on
it with the project's configuration. Errors are reported against the page name.

    python tools/lint_book.py          # check
    python tools/lint_book.py --fix    # apply ruff's fixes and formatting back into the pages
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parents[1]


def notebook_pages(book: Path) -> list[Path]:
    """Pages with executable cells (MyST notebooks), not plain Markdown."""
    return sorted(
        p for p in book.rglob("*.md") if "_build" not in p.parts and "{code-cell}" in p.read_text()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fix", action="store_true", help="write ruff's fixes back into the pages")
    args = parser.parse_args(argv)
    ruff = str(Path(sys.executable).parent / "ruff")
    pages = notebook_pages(ROOT / "book")
    with tempfile.TemporaryDirectory(dir=ROOT, prefix=".lint-book-") as tmp:
        out: dict[Path, Path] = {}
        for page in pages:
            target = Path(tmp) / page.relative_to(ROOT).with_suffix(".py")
            target.parent.mkdir(parents=True, exist_ok=True)
            nb = jupytext.read(page)
            target.write_text(jupytext.writes(nb, fmt="py:percent"))
            out[page] = target
        files = [str(p) for p in out.values()]
        config = ["--config", str(ROOT / "pyproject.toml")]
        # pages are notebooks: a name used in a later cell, imports where they are first needed
        rules = ["--extend-ignore", "E402,F811,B018"]
        if args.fix:
            subprocess.run([ruff, "check", "--fix", *config, *rules, *files], cwd=ROOT)
            subprocess.run([ruff, "format", *config, *files], cwd=ROOT)
            for page, target in out.items():
                nb = jupytext.read(target, fmt="py:percent")
                original = jupytext.read(page)
                for cell, new in zip(original.cells, nb.cells):
                    if cell.cell_type == "code" and new.cell_type == "code":
                        cell.source = new.source
                jupytext.write(original, page, fmt="md:myst")
        check = subprocess.run(
            [ruff, "check", *config, *rules, "--output-format", "concise", *files],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        fmt = subprocess.run(
            [ruff, "format", "--check", *config, *files], cwd=ROOT, capture_output=True, text=True
        )
    report = check.stdout + fmt.stdout
    for prefix in (tmp + "/", Path(tmp).name + "/"):
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
