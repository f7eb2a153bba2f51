"""What the sandbox hides is defined once (autograder.layout.HIDDEN_TREES): every hidden tree
is hidden from the student's process, and a failed import of one is the student's doing, never
reported as the grader's environment failing (which would regrade the student forever)."""

from __future__ import annotations

import pytest
from conftest import NO_ISOLATION, ROOT, sandbox_isolates

from autograder.grading import _raise_if_grader_side
from autograder.layout import HIDDEN_TREES, Course, hidden_on_purpose
from autograder.sandbox.client import Zygote
from autograder.sandbox.limits import Limits

SEEN = """
import os
seen = [p for p in {paths!r} if os.path.exists(p) and (not os.path.isdir(p) or os.listdir(p))]
if seen:
    raise RuntimeError("visible: " + ", ".join(seen))
"""


def _unloaded_module(tree: str) -> str:
    """A module of ``tree`` that the sandbox has not loaded before the student's code runs: the
    sandbox's own code (``autograder.sandbox``, what it imports) is in memory already, so its
    modules import from ``sys.modules``; nothing more of the hidden tree can be read."""
    return "autograder.service" if tree == "autograder" else tree


def test_hidden_paths_are_the_hidden_trees_of_the_checkout():
    course = Course(ROOT)
    assert course.hidden_paths() == [str(ROOT / name) for name in HIDDEN_TREES]
    for top in ("solutions", "course", "autograder", "tests", "exercises"):
        assert top in HIDDEN_TREES and (ROOT / top).is_dir(), top


@pytest.mark.parametrize("name", [n for n in HIDDEN_TREES if n.isidentifier()])
def test_an_import_of_a_hidden_tree_is_the_students_problem(name):
    assert hidden_on_purpose(f"{name}.anything")
    _raise_if_grader_side(f"raised ModuleNotFoundError: No module named '{name}'")


@pytest.mark.skipif(not sandbox_isolates(), reason=NO_ISOLATION)
def test_every_hidden_tree_is_hidden_in_the_sandbox():
    paths = Course(ROOT).hidden_paths()
    assert any((ROOT / n).exists() for n in HIDDEN_TREES)
    zygote = Zygote()
    try:
        session = zygote.spawn(Limits(hide=paths), 60)
        try:
            err = session.exec_cell("look", SEEN.format(paths=paths), 60)
            imports = {
                module: session.exec_cell(f"import-{module}", f"import {module}", 60)
                for module in map(_unloaded_module, HIDDEN_TREES)
                if module.isidentifier() or "." in module
            }
        finally:
            session.kill()
        assert err is None, err
        for module, failure in imports.items():
            assert failure is not None, f"`import {module}` works in the sandbox"
            _raise_if_grader_side(failure, zygote)  # the student's problem: no exception
    finally:
        zygote.close()
