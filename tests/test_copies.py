"""Copied code stays a copy: every ``# Copied from <module>.<name>`` mark (as in Hugging Face's
transformers) sits right above a function or class that must equal the original, after the
renames its ``with a->b, c->d`` tail lists (whole words, in the original's text). Code and
docstrings count; comments and formatting do not (both sides are compared as ``ast.unparse``).

Kernels the solutions copy from the references are marked this way; the kit's install block in
every notebook's setup cell is checked in ``tests/test_kit.py`` (its mark is cell metadata).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARK = re.compile(r"^[ \t]*# Copied from ([\w.]+)(?: with (.+))?$", re.M)
WHERE = ("course", "solutions", "kit/src", "autograder", "benchmarks", "tools", "experiments")


def _marked_files() -> list[Path]:
    files = []
    for top in WHERE:
        for path in sorted((ROOT / top).rglob("*.py")):
            if "vendor" not in path.parts and MARK.search(path.read_text(encoding="utf-8")):
                files.append(path)
    return files


def _definition(tree: ast.AST, qualname: list[str]) -> ast.AST | None:
    """The function or class at ``qualname`` (nested definitions allowed) in ``tree``."""
    node = tree
    for name in qualname:
        found = None
        for child in ast.walk(node):
            if (
                isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and child.name == name
                and child is not node
            ):
                found = child
                break
        if found is None:
            return None
        node = found
    return node


def original(dotted: str) -> tuple[Path, ast.AST]:
    """The file and definition that ``dotted`` (module path, then qualified name) names."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        base = ROOT.joinpath(*parts[:cut])
        for path in (base.with_suffix(".py"), base / "__init__.py"):
            if path.is_file():
                node = _definition(ast.parse(path.read_text(encoding="utf-8")), parts[cut:])
                if node is None:
                    raise AssertionError(f"{dotted}: no {'.'.join(parts[cut:])} in {path}")
                return path, node
    raise AssertionError(f"{dotted} names no module of the repository")


def copies() -> list[tuple[str, int, str, str | None]]:
    """(file, line, original, renames) for every mark."""
    out = []
    for path in _marked_files():
        text = path.read_text(encoding="utf-8")
        for m in MARK.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            out.append((str(path.relative_to(ROOT)), line, m.group(1), m.group(2)))
    return out


def _renamed(source: str, renames: str | None) -> str:
    for pair in (renames or "").split(","):
        if pair.strip():
            old, new = (s.strip() for s in pair.split("->"))
            source = re.sub(rf"\b{re.escape(old)}\b", new, source)
    return source


def _copy_below(path: Path, line: int) -> ast.AST:
    """The first definition that starts (decorators included) after the mark's line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    defs = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and min([n.lineno, *(d.lineno for d in n.decorator_list)]) > line
    ]
    assert defs, f"{path}:{line}: no function or class below the mark"
    return min(defs, key=lambda n: min([n.lineno, *(d.lineno for d in n.decorator_list)]))


def test_the_known_copies_are_marked():
    found = {(f, o) for f, _, o, _ in copies()}
    assert ("solutions/03-llama/llama.py", "course.llama.triton_rmsnorm._rmsnorm_rows") in found
    assert (
        "solutions/01-bert-gpt/bert_gpt.py",
        "course.bert_gpt.blocks._flash_kernel.kernel",
    ) in found


@pytest.mark.parametrize("where, line, dotted, renames", copies())
def test_a_marked_copy_equals_its_original(where, line, dotted, renames):
    _, node = original(dotted)
    want = ast.parse(_renamed(ast.unparse(node), renames))
    got = _copy_below(ROOT / where, line)
    assert ast.unparse(got) == ast.unparse(want), (
        f"{where}:{line} is no longer a copy of {dotted}: make them equal again (or remove the "
        "mark if they are meant to differ)"
    )


def test_a_drifted_copy_is_found(tmp_path):
    """The test above can fail: one changed constant in a copy makes it differ."""
    _, node = original("course.llama.triton_rmsnorm._rmsnorm_rows")
    drifted = ast.unparse(node).replace("1.0 /", "2.0 /")
    path = tmp_path / "copy.py"
    path.write_text(f"# Copied from x\n{drifted}\n")
    assert ast.unparse(_copy_below(path, 1)) != ast.unparse(node)
