"""Every chapter's checks have one shape: one package per chapter, named like the chapter's
notebook, and one registration form, ``spec.register_pair`` called with keywords only and the
full check name. A newcomer who knows one chapter knows all; these tests fail on any other form.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import ROOT

from autograder.checks.spec import REGISTRY, chapter_modules, load_all_checks

CHECKS = ROOT / "autograder" / "chapters"
TEMPLATE = ROOT / "autograder" / "templates" / "chapter" / "checks_block.py"
CHAPTER_FILES = sorted(p for chapter in chapter_modules() for p in (CHECKS / chapter).rglob("*.py"))


def _registrations(path: Path) -> list[ast.Call]:
    text = path.read_text().replace("{slug}", "slug")  # the template's placeholder
    return [
        node
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name | ast.Attribute)
        and (node.func.id if isinstance(node.func, ast.Name) else node.func.attr)
        in {"register_pair", "_register", "register", "Check"}
    ]


def _name_of(call: ast.Call) -> str | None:
    for keyword in call.keywords:
        if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
            return keyword.value.value
    return None


def test_every_chapter_is_a_package_named_like_its_notebook():
    notebooks = {p.stem for p in (ROOT / "solutions").glob("[0-9][0-9]-*/*.py")}
    assert set(chapter_modules()) == notebooks
    for chapter in chapter_modules():
        assert (CHECKS / chapter / "__init__.py").is_file(), f"{chapter} is not a package"


@pytest.mark.parametrize("path", CHAPTER_FILES, ids=lambda p: str(p.relative_to(CHECKS)))
def test_checks_are_registered_in_one_form(path):
    chapter = path.relative_to(CHECKS).parts[0]
    text = path.read_text()
    assert "= register_pair" not in text, "call spec.register_pair itself, not an alias of it"
    for call in _registrations(path):
        where = f"{path.relative_to(ROOT)}:{call.lineno}"
        func = call.func.id if isinstance(call.func, ast.Name) else call.func.attr
        assert func == "register_pair", f"{where}: register checks with spec.register_pair only"
        assert not call.args, f"{where}: register_pair takes keywords only"
        name = _name_of(call)
        assert name and name.startswith(f"{chapter}."), (
            f"{where}: name= must be the full check name, a literal starting with {chapter!r}"
        )
    tree = ast.parse(text)
    defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    assert not defined & {"register_pair", "both", "_both"}, f"{path}: a registration helper"


def test_the_new_chapter_template_uses_the_same_form():
    calls = _registrations(TEMPLATE)
    assert calls and all(not c.args and _name_of(c) for c in calls)


def test_every_check_has_its_visible_twin():
    hidden = {n for n, c in load_all_checks().items() if not c.visible}
    assert {f"{n}.visible" for n in hidden} == {n for n, c in REGISTRY.items() if c.visible}
