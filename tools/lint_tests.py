"""Find asserts in the tests that cannot fail.

Reads each ``tests/**/*.py`` as an AST (nothing is imported or run) and reports:

* ``constant``: ``assert <constant>`` (``assert True``, ``assert "todo"``, ``assert (x, "msg")``: a
  non-empty tuple is always true);
* ``constants only``: an assert computed from constants alone, through operators and pure
  standard functions (``assert math.isfinite(1.0)``, ``assert len("ab") == 2``). A call into the
  project with constant arguments is a real test and is not reported;
* ``same on both sides``: a comparison whose two sides are the same expression, names resolved
  through the file's imports and re-exports inside the repository
  (``llama.kv_cache_bytes(3) == kv_cache_bytes(3)`` where ``course.llama`` re-exports the one
  ``course.llama.catalogue.kv_cache_bytes``);
* ``imported``: ``assert <name>`` or ``assert <name> is not None`` where the file binds ``<name>``
  only by ``import`` (an imported module or object is never None);
* ``no check``: a ``test_*`` function with no assert, no ``pytest.raises``/``warns``/``fail``, no
  call whose name starts as a check's does (``assert_close``, ``check``, ``verify``, ...) and no call to a
  helper defined in the tests (helpers may assert), nor a ``pytest.skip``/``importorskip``.

    python tools/lint_tests.py              # tests/ of this repository
    python tools/lint_tests.py PATH ...     # these files or folders

Exit status 1 when anything is reported. ``# lint-tests: ok`` on an assert's line (or a test's
``def`` line) accepts it, with a reason after it.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE_ROOTS = [ROOT, ROOT / "kit" / "src"]
ACCEPT = "# lint-tests: ok"

# Functions whose result depends on their arguments only: with constant arguments, constant.
PURE_MODULES = {"math", "cmath", "operator", "string"}
PURE_BUILTINS = {
    "abs", "all", "any", "ascii", "bin", "bool", "bytes", "chr", "complex", "divmod", "float",
    "format", "frozenset", "hex", "int", "isinstance", "issubclass", "len", "list", "max", "min",
    "oct", "ord", "pow", "range", "repr", "reversed", "round", "set", "sorted", "str", "sum",
    "tuple", "type",
}  # fmt: skip
# A call whose name (the last part of a dotted name) starts with one of these counts as a check:
# assert_close, assertEqual, check, check_x, pytest.raises / warns / fail / skip / xfail,
# importorskip; get_check or run_check (they return a result) do not.
CHECK_PREFIXES = ("assert", "check", "verify", "expect", "raises", "warns", "fail", "skip", "xfail")


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    rule: str
    text: str

    def __str__(self) -> str:
        try:
            where = self.path.relative_to(ROOT)
        except ValueError:
            where = self.path
        return f"{where}:{self.line}: {self.rule}: {self.text}"


# --- resolving names through imports ---------------------------------------------------------


def _module_file(module: str) -> Path | None:
    parts = module.split(".")
    for root in SOURCE_ROOTS:
        for candidate in (
            root.joinpath(*parts).with_suffix(".py"),
            root.joinpath(*parts, "__init__.py"),
        ):
            if candidate.is_file():
                return candidate
    return None


def _imports(tree: ast.AST, package: str = "") -> dict[str, str]:
    """Name -> dotted path for every name a module binds by import (top level or in functions)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    names[a.asname] = a.name
                else:
                    top = a.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            for a in node.names:
                if a.name != "*":
                    names[a.asname or a.name] = f"{base}.{a.name}"
    return names


_REEXPORTS: dict[str, dict[str, str]] = {}
#: module -> the modules it star-imports at the top level (``from X import *``)
_STARS: dict[str, list[str]] = {}
#: module -> the names its top level defines itself (def, class, assignment)
_DEFINED: dict[str, set[str]] = {}


def _load(module: str) -> None:
    if module in _REEXPORTS:
        return
    path = _module_file(module)
    try:
        tree = ast.parse(path.read_text()) if path else None
    except (OSError, SyntaxError):
        tree = None
    package = module if path and path.name == "__init__.py" else module.rpartition(".")[0]
    body = tree.body if tree else []
    _REEXPORTS[module] = {
        k: v
        for stmt in body
        if isinstance(stmt, ast.ImportFrom)
        for k, v in _imports(stmt, package).items()
    }
    stars = []
    for stmt in body:
        if isinstance(stmt, ast.ImportFrom) and any(a.name == "*" for a in stmt.names):
            base = stmt.module or ""
            if stmt.level:
                up = package.split(".")[: len(package.split(".")) - stmt.level + 1]
                base = ".".join([*up, base] if base else up)
            stars.append(base)
    _STARS[module] = stars
    defined: set[str] = set()
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(stmt.name)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            defined.update(t.id for t in targets if isinstance(t, ast.Name))
    _DEFINED[module] = defined


def _canonical(dotted: str, depth: int = 0) -> str:
    """Follow re-exports inside the repository, ``from X import name`` and ``from X import *``:
    ``course.llama.f`` -> ``course.llama.blocks.f`` when course/llama/__init__.py star-imports
    course.llama.blocks, which defines ``f``."""
    if depth > 10 or "." not in dotted:
        return dotted
    module, name = dotted.rsplit(".", 1)
    _load(module)
    target = _REEXPORTS[module].get(name)
    if target is None and name not in _DEFINED[module]:
        for base in _STARS[module]:
            candidate = f"{base}.{name}"
            _load(base)
            if name in _DEFINED[base] or _canonical(candidate, depth + 1) != candidate:
                target = candidate
                break
    return _canonical(target, depth + 1) if target else dotted


class _Resolve(ast.NodeTransformer):
    """Replace names bound by import (and attribute chains on them) by their canonical path."""

    def __init__(self, imports: dict[str, str]):
        self.imports = imports

    def _dotted(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return self.imports.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self._dotted(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def visit_Name(self, node: ast.Name) -> ast.AST:
        dotted = self._dotted(node)
        return ast.Name(id=_canonical(dotted), ctx=ast.Load()) if dotted else node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        dotted = self._dotted(node)
        if dotted:
            return ast.Name(id=_canonical(dotted), ctx=ast.Load())
        return self.generic_visit(node)


def _resolved(node: ast.AST, imports: dict[str, str]) -> str:
    """``node`` as text, names bound by import replaced by their canonical path (on a copy)."""
    copy = ast.parse(ast.unparse(node), mode="eval").body
    return ast.dump(_Resolve(imports).visit(copy), annotate_fields=False)


# --- the rules --------------------------------------------------------------------------------


def _constant_only(node: ast.AST, imports: dict[str, str]) -> bool:
    """True when ``node`` is computed from literals alone, through pure functions."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_constant_only(e, imports) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(
            k is not None and _constant_only(k, imports) and _constant_only(v, imports)
            for k, v in zip(node.keys, node.values)
        )
    if isinstance(node, ast.UnaryOp):
        return _constant_only(node.operand, imports)
    if isinstance(node, ast.BinOp):
        return _constant_only(node.left, imports) and _constant_only(node.right, imports)
    if isinstance(node, ast.BoolOp):
        return all(_constant_only(v, imports) for v in node.values)
    if isinstance(node, ast.Compare):
        return all(_constant_only(v, imports) for v in [node.left, *node.comparators])
    if isinstance(node, ast.Call):
        return _pure(node.func, imports) and all(
            _constant_only(a.value if isinstance(a, ast.Starred) else a, imports)
            for a in [*node.args, *(k.value for k in node.keywords)]
        )
    return False


def _pure(func: ast.AST, imports: dict[str, str]) -> bool:
    if isinstance(func, ast.Name):
        return func.id in PURE_BUILTINS and func.id not in imports
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return imports.get(func.value.id) in PURE_MODULES
    return False


def _assert_findings(
    node: ast.Assert, imports: dict[str, str], import_only: set[str]
) -> Iterator[tuple[str, str]]:
    test = node.test
    text = ast.unparse(test)
    if isinstance(test, ast.Constant):
        yield "constant", f"assert {text} is a constant"
        return
    if isinstance(test, ast.Tuple) and test.elts:
        yield "constant", f"assert {text}: a non-empty tuple is always true"
        return
    if _constant_only(test, imports):
        yield "constants only", f"assert {text} is computed from constants alone"
        return
    if isinstance(test, ast.Compare):
        sides = [test.left, *test.comparators]
        for a, b in zip(sides, sides[1:]):
            if _resolved(a, imports) == _resolved(b, imports):
                yield "same on both sides", f"{text}: both sides are {ast.unparse(a)}"
                return
    subject = test
    if (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.IsNot)
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value is None
    ):
        subject = test.left
    if isinstance(subject, ast.Name) and subject.id in import_only:
        yield "imported", f"assert {text}: {subject.id} is bound by import, never None or false"


def _bound_otherwise(tree: ast.AST) -> set[str]:
    """Names bound by anything but an import (assignments, loops, defs, arguments, with, ...)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def _last_name(func: ast.AST) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _checks_something(fn: ast.AST, helpers: set[str]) -> bool:
    for node in ast.walk(fn):
        if isinstance(node, (ast.Assert, ast.Raise)):
            return True
        if isinstance(node, ast.Call):
            name = _last_name(node.func)
            if name in helpers or name.lower().startswith(CHECK_PREFIXES) or name == "importorskip":
                return True
    return False


def _accepted(lines: list[str], line: int) -> bool:
    return 0 < line <= len(lines) and ACCEPT in lines[line - 1]


def lint_source(source: str, path: Path, helpers: set[str] = frozenset()) -> list[Finding]:
    """Findings in one test file; ``helpers``: function names defined anywhere in the tests."""
    tree = ast.parse(source, filename=str(path))
    lines = source.splitlines()
    imports = _imports(tree)
    import_only = set(imports) - _bound_otherwise(tree)
    local = {
        n.name
        for n in ast.walk(tree)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }
    found: list[Finding] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) and not _accepted(lines, node.lineno):
            for rule, text in _assert_findings(node, imports, import_only):
                found.append(Finding(path, node.lineno, rule, text))
        elif (
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.name.startswith("test")
            and not _accepted(lines, node.lineno)
            and not _checks_something(node, (set(helpers) | local) - {node.name})
        ):
            found.append(Finding(path, node.lineno, "no check", f"{node.name} asserts nothing"))
    return sorted(found, key=lambda f: (str(f.path), f.line))


def _helpers(files: list[Path]) -> set[str]:
    names: set[str] = set()
    for f in files:
        tree = ast.parse(f.read_text(), filename=str(f))
        names |= {
            n.name
            for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and not n.name.startswith("test")
        }
    return names


def python_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        files += sorted(p.rglob("*.py")) if p.is_dir() else [p]
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[ROOT / "tests"])
    args = parser.parse_args(argv)
    files = python_files(args.paths)
    helpers = _helpers(files)
    found = [f for path in files for f in lint_source(path.read_text(), path, helpers)]
    for f in found:
        print(f)
    print(f"lint_tests: {len(found)} finding(s) in {len(files)} file(s)", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
