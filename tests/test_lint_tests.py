"""``tools/lint_tests.py`` (``make lint``): each kind of assert that cannot fail is reported, the
real tests written alike are not, and the repository's own tests are clean."""

from __future__ import annotations

import sys
from pathlib import Path
from textwrap import dedent

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import lint_tests  # noqa: E402


def rules(source: str, helpers: set[str] = frozenset()) -> list[tuple[int, str]]:
    found = lint_tests.lint_source(dedent(source), Path("test_x.py"), helpers)
    return [(f.line, f.rule) for f in found]


@pytest.mark.parametrize(
    "line, rule",
    [
        ("assert True", "constant"),
        ("assert 'unfinished'", "constant"),
        ("assert (x == 1, 'x is one')", "constant"),
        ("assert math.isfinite(1.0)", "constants only"),
        ("assert len('ab') == 2", "constants only"),
        ("assert 2 * 3 == 6", "constants only"),
        ("assert x == x", "same on both sides"),
        ("assert f(x)[0] <= f(x)[0]", "same on both sides"),
        ("assert np.sum(x) == numpy.sum(x)", "same on both sides"),
        ("assert C is not None", "imported"),
        ("assert np", "imported"),
    ],
)
def test_each_vacuous_assert_is_reported(line, rule):
    source = f"""
        import math
        import numpy
        import numpy as np
        import autograder.chapters.foundation as C

        def test_it(x, f):
            {line}
    """
    assert rules(source) == [(8, rule)]


@pytest.mark.parametrize(
    "line",
    [
        "assert x",
        "assert ffn_hidden_size(8192, 256, None) == 22016",  # the project, constant arguments
        "assert os.path.exists('/etc')",  # depends on the machine, not on the constant
        "assert math.isfinite(x)",
        "assert x == y",
        "assert f(x) == g(x)",
        "assert ref.kv_cache_bytes(1, 2) == other.kv_cache_bytes(1, 2)",  # two implementations
        "assert x is not None",
        "assert math.isfinite(1.0)  # lint-tests: ok, the reason",
    ],
)
def test_real_asserts_are_not_reported(line):
    source = f"""
        import math
        import os
        from course import other, ref
        from course.llama.catalogue import ffn_hidden_size

        def test_it(x, y, f, g):
            {line}
    """
    assert rules(source) == []


def test_a_name_imported_and_also_assigned_may_be_none():
    source = """
        try:
            import triton
        except ImportError:
            triton = None

        def test_it():
            assert triton is not None
    """
    assert rules(source) == []


def test_a_re_export_is_the_same_function():
    """course.llama re-exports course.llama.blocks.kv_cache_bytes (a star import), and so does
    course.llama.catalogue (by name), both followed in their source: the comparison that once
    stood in test_book_facts compared the formula with itself."""
    source = """
        from course import llama
        from course.llama.catalogue import kv_cache_bytes

        def test_it():
            assert llama.kv_cache_bytes(3, 100, 2, 32, 4, 4) == kv_cache_bytes(3, 100, 2, 32, 4, 4)
    """
    assert rules(source) == [(6, "same on both sides")]


def test_a_test_that_checks_nothing_is_reported():
    source = """
        import pytest
        import torch

        def helper(x):
            assert x

        def test_nothing():
            torch.ones(3).sum()

        def test_asserts():
            assert torch.ones(3).sum() == 3

        def test_raises():
            with pytest.raises(ValueError):
                int("x")

        def test_close():
            torch.testing.assert_close(torch.ones(1), torch.ones(1))

        def test_calls_a_helper():
            helper(1)

        def test_calls_a_helper_of_another_file():
            outcome("name", 1)

        def test_skipped():
            pytest.skip("no GPU")

        def test_smoke():  # lint-tests: ok, it must only run
            torch.ones(3)
    """
    assert rules(source, helpers={"outcome"}) == [(8, "no check")]


def test_the_repository_tests_are_clean(capsys):
    assert lint_tests.main([str(ROOT / "tests")]) == 0, capsys.readouterr().out
