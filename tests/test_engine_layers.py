"""The check engine's files each do one job, and import only downward.

``checks.spec`` declares checks (it runs nothing), ``checks.calling`` calls one object on one
case, ``checks.reference`` computes the reference's side, ``checks.runner`` runs a check; the
sandbox's child may use the calling layer and nothing that declares, runs or knows a check.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: module -> the autograder/course modules it must never import (directly)
FORBIDDEN = {
    "autograder/checks/spec.py": [
        "autograder.checks.calling",
        "autograder.checks.reference",
        "autograder.checks.runner",
    ],
    "autograder/checks/calling.py": [
        "autograder.checks.spec",
        "autograder.checks.reference",
        "autograder.checks.runner",
    ],
    "autograder/checks/reference.py": ["autograder.checks.runner"],
    "autograder/checks/trace.py": [
        "autograder.checks.spec",
        "autograder.checks.reference",
        "autograder.checks.runner",
    ],
}
SANDBOX_MAY_IMPORT = (
    "autograder.sandbox",
    "autograder.checks.calling",
    "autograder.checks.inject",
    "autograder.checks.trace",
)


def imported_modules(path: Path) -> set[str]:
    """Every module named by an import statement in ``path`` (at any depth)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("module", sorted(FORBIDDEN))
def test_each_engine_file_imports_only_downward(module):
    wrong = sorted(imported_modules(ROOT / module) & set(FORBIDDEN[module]))
    assert not wrong, f"{module} imports {wrong}: that would mix declaring and running checks"


def test_declaring_a_check_runs_nothing():
    """``spec`` defines the declaration API only: the running API lives in ``runner``."""
    tree = ast.parse((ROOT / "autograder/checks/spec.py").read_text())
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    running = {"run_check", "check", "seed_for", "reference_cases", "call_target", "CheckResult"}
    assert not defined & running, sorted(defined & running)


@pytest.mark.parametrize("path", sorted((ROOT / "autograder/sandbox").glob("*.py")), ids=str)
def test_the_sandbox_knows_no_check(path):
    ours = {
        m
        for m in imported_modules(path)
        if m.split(".")[0] in ("autograder", "course", "solutions")
    }
    wrong = sorted(m for m in ours if not m.startswith(SANDBOX_MAY_IMPORT) and m != "autograder")
    assert not wrong, (
        f"{path.name} imports {wrong}: the sandbox may not import a check or reference"
    )
