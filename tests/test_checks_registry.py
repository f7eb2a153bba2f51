"""The registry tests itself, for every chapter found in the course layout (nothing hard-coded):
the solution notebook's objects pass every check its test cells call; every named misconception
fails *and is named*; every check used in solutions/ is registered and every registered check is
used; a broken chapter module is an import error, not "no check is called"; every book page is in
the table of contents."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
import yaml
from conftest import ROOT

from autograder.checks.runner import InKernelExecutor, run_check, seed_for
from autograder.checks.spec import REGISTRY, get_check, load_all_checks
from autograder.layout import Course
from autograder.notebooks import check_calls, load_source
from autograder.validate import solution_namespace

COURSE = Course(ROOT)
SOURCES = [
    (assignment, path)
    for assignment in COURSE.assignments()
    for path in COURSE.source_notebooks(assignment)
]


def _used_checks() -> dict[str, tuple[str, str]]:
    """check name -> (assignment, notebook) for every check() call in every source test cell."""
    used = {}
    for assignment, path in SOURCES:
        for source in load_source(path).sources_of("test"):
            for name in check_calls(source):
                used[name] = (assignment, path.name)
    return used


USED = _used_checks()
load_all_checks()
HIDDEN_MISTAKES = sorted(
    (name, label) for name, c in REGISTRY.items() if not c.visible for label in c.misconceptions
)


def test_every_used_check_is_registered_and_every_registered_check_is_used():
    missing = sorted(set(USED) - set(REGISTRY))
    unused = sorted(set(REGISTRY) - set(USED))
    assert not missing, f"check() names used in solutions/ but not registered: {missing}"
    assert not unused, f"registered checks no notebook uses (delete or use them): {unused}"


_NAMESPACES: dict[Path, dict] = {}


def _solution_namespace(path: Path) -> dict:
    """The solution notebook's setup and answer cells, executed once per notebook."""
    if path not in _NAMESPACES:
        _NAMESPACES[path] = solution_namespace(path)
    return _NAMESPACES[path]


@pytest.mark.parametrize("name", sorted(USED))
def test_solution_passes_each_check(name):
    assignment, notebook = USED[name]
    ns = _solution_namespace(COURSE.solutions / assignment / notebook)
    check = get_check(name)
    result = run_check(check, InKernelExecutor(ns[check.target]), seed_for(name, "registry"))
    assert result.passed, f"{assignment}/{notebook}: {result.message}"


@pytest.mark.parametrize("name,label", HIDDEN_MISTAKES)
def test_each_named_mistake_fails_and_is_named(name, label, secret):
    check = REGISTRY[name]
    if check.must_launch_triton:  # the mistakes are plain torch: judge their values, not launches
        check = dataclasses.replace(check, must_launch_triton=False)
    seed = seed_for(name, "", secret)
    result = run_check(check, InKernelExecutor(check.misconceptions[label]), seed)
    assert not result.passed, f"{name}: the mistake {label!r} passed"
    assert label in result.message, result.message


def test_a_broken_chapter_module_is_an_import_error(tmp_path, monkeypatch):
    import autograder.chapters as package

    (tmp_path / "brokenchapter.py").write_text("import a_module_that_does_not_exist_xyz\n")
    monkeypatch.setattr(package, "__path__", [*package.__path__, str(tmp_path)])
    with pytest.raises(ModuleNotFoundError, match="a_module_that_does_not_exist_xyz"):
        get_check("brokenchapter.block")
    with pytest.raises(KeyError, match="no check is called"):
        get_check("nochapterlikethis.block")


def _toc_files(entries) -> set[str]:
    files = set()
    for entry in entries or []:
        if "file" in entry:
            files.add(entry["file"])
        files |= _toc_files(entry.get("sections"))
        files |= _toc_files(entry.get("chapters"))
    return files


def test_every_book_page_is_in_the_table_of_contents():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    listed = {toc["root"]} | _toc_files(toc.get("parts")) | _toc_files(toc.get("chapters"))
    pages = {
        str(p.relative_to(ROOT).with_suffix(""))
        for p in (ROOT / "book").rglob("*.md")
        if "_build" not in p.parts and not p.name.startswith("_")
    }
    assert not pages - listed, (
        f"pages missing from _toc.yml (they would not be built): {pages - listed}"
    )
    assert not listed - pages, f"_toc.yml lists pages that do not exist: {listed - pages}"


# --- seed sweep: tolerances hold for every class secret, for the solution and exact variants -----

SWEEP = [f"class-{i}" for i in range(25)]


def _rope_float64(head_dim, positions, theta=10000.0):
    """A correct answer written differently: float64 angles, cast to float32 at the end."""
    inv = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    ang = positions.double()[..., None] * inv
    emb = torch.cat([ang, ang], -1)
    return emb.cos().float(), emb.sin().float()


@pytest.mark.parametrize("name", ["llama.rope_cos_sin", "llama.attention", "llama.rmsnorm"])
def test_solution_and_exact_variants_pass_for_every_secret(name):
    ns = _solution_namespace(COURSE.solutions / "03-llama" / "llama.ipynb")
    check = get_check(name)
    answers = [ns[check.target]] + ([_rope_float64] if name == "llama.rope_cos_sin" else [])
    failures = []
    for secret in SWEEP:
        for answer in answers:
            result = run_check(check, InKernelExecutor(answer), seed_for(name, secret))
            if not result.passed:
                failures.append((secret, getattr(answer, "__name__", answer), result.message))
    assert not failures, failures[:3]
