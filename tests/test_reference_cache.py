"""The reference's side of a check computed once per class (checks.reference.ReferenceCache): only
for students who share their inputs, lazily, as copies nothing can write through, and never with
fewer cases than the check has."""

from __future__ import annotations

import pytest
import torch

import autograder.chapters.llama  # noqa: F401  (registers the checks)
import autograder.chapters.prologue  # noqa: F401
from autograder.checks import reference
from autograder.checks.reference import ReferenceCache, reference_cases
from autograder.checks.runner import InKernelExecutor, run_check, seed_for
from autograder.checks.spec import get_check
from autograder.grading import GradeSettings


def _tensors(item) -> list[torch.Tensor]:
    case, state, cot, expected = item
    found = [v for s in case.steps for v in s.args if isinstance(v, torch.Tensor)]
    found += list((state or {}).values()) + [t for t in expected.outputs if torch.is_tensor(t)]
    return found + ([cot] if torch.is_tensor(cot) else [])


def test_cached_cases_are_the_references_cases():
    check = get_check("llama.rmsnorm")
    seed = seed_for(check.name)
    cache = ReferenceCache()
    plain = list(reference_cases(check, seed, "cpu"))
    for cached in (list(cache.cases(check, seed, "cpu")), list(cache.cases(check, seed, "cpu"))):
        assert [c.label for c, *_ in cached] == [c.label for c, *_ in plain]
        for a, b in zip(cached, plain):
            assert all(torch.equal(x, y) for x, y in zip(_tensors(a), _tensors(b), strict=True))


def test_writing_into_a_handed_out_case_does_not_reach_the_next_student():
    check = get_check("llama.rmsnorm")
    cache = ReferenceCache()
    first = next(cache.cases(check, 1, "cpu"))
    before = [t.clone() for t in _tensors(next(cache.cases(check, 1, "cpu")))]
    for t in _tensors(first):
        t.fill_(7.0) if t.is_floating_point() else t.zero_()
    again = _tensors(next(cache.cases(check, 1, "cpu")))
    assert all(torch.equal(x, y) for x, y in zip(again, before, strict=True))


def test_cases_are_computed_only_as_far_as_someone_got(monkeypatch):
    drawn = []
    real = reference.reference_cases

    def counting(check, seed, device):
        for item in real(check, seed, device):
            drawn.append(item[0].label)
            yield item

    monkeypatch.setattr(reference, "reference_cases", counting)
    check = get_check("llama.rmsnorm")
    cache = ReferenceCache()
    next(cache.cases(check, 2, "cpu"))
    assert len(drawn) == 1
    total = len(list(cache.cases(check, 2, "cpu")))
    assert len(drawn) == total > 1
    list(cache.cases(check, 2, "cpu"))
    assert len(drawn) == total  # the second full pass computed nothing


def test_a_reference_that_fails_fails_for_everyone_never_with_fewer_cases(monkeypatch):
    real = reference.reference_cases

    def breaks_at_second(check, seed, device):
        cases = real(check, seed, device)
        yield next(cases)
        raise RuntimeError("the reference broke")

    monkeypatch.setattr(reference, "reference_cases", breaks_at_second)
    check = get_check("llama.rmsnorm")
    cache = ReferenceCache()
    for _ in range(2):
        cases = cache.cases(check, 3, "cpu")
        next(cases)
        with pytest.raises(RuntimeError, match="the reference broke"):
            next(cases)


def test_a_check_graded_from_the_cache_gives_the_same_verdicts():
    check = get_check("prologue.softmax")
    cache = ReferenceCache()

    def naive(x, dim=-1):
        e = x.exp()
        return e / e.sum(dim, keepdim=True)

    for obj in (torch.softmax, naive, lambda x, dim=-1: x):
        seed = seed_for(check.name)
        plain = run_check(check, InKernelExecutor(obj), seed)
        for _ in range(2):
            assert run_check(check, InKernelExecutor(obj), seed, cache=cache) == plain


@pytest.mark.parametrize(
    ("secret", "salt", "shared"),
    [("", True, True), ("s3cret", True, False), ("s3cret", False, True)],
)
def test_only_students_who_share_their_inputs_share_the_reference(secret, salt, shared):
    settings = GradeSettings(hidden=[], salt_with_student=salt, secret=secret)
    assert settings.salts_per_student is not shared
    same_seed = settings.seed("llama.rmsnorm", "alice") == settings.seed("llama.rmsnorm", "bob")
    assert same_seed is shared
