"""The prologue's references agree with torch (the oracle); checks reject wrong variants and
accept right ones written differently, with a message that teaches."""

import statistics
import time

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder.checks.runner import InKernelExecutor, run_check, seed_for
from autograder.checks.spec import get_check
from course import prologue as ref


@settings(max_examples=40, deadline=None)
@given(
    shape=st.lists(st.integers(1, 6), min_size=1, max_size=4),
    data=st.data(),
    scale=st.sampled_from([1.0, 100.0, 1000.0]),
)
def test_softmax_matches_torch(shape, data, scale):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = torch.randn(shape, dtype=torch.float64) * scale
    torch.testing.assert_close(ref.softmax(x, dim), torch.softmax(x, dim))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_softmax_half_matches_torch(dtype):
    x = torch.randn(4, 33) * 30
    expected = torch.softmax(x.to(dtype).float(), -1).to(dtype)
    torch.testing.assert_close(ref.softmax(x.to(dtype)), expected)


def test_matmul_flops_matches_the_profiler():
    a, b = torch.randn(8, 16), torch.randn(16, 4)
    with torch.profiler.profile(with_flops=True) as prof:
        torch.mm(a, b)
    counted = sum(e.flops for e in prof.key_averages() if e.key == "aten::mm")
    assert ref.matmul_flops(8, 4, 16) == counted


def outcome(name, fn):
    return run_check(get_check(name), InKernelExecutor(fn), seed_for(name))


def naive_softmax(x, dim=-1):
    e = x.exp()
    return e / e.sum(dim=dim, keepdim=True)


def softmax_logsumexp(x, dim=-1):  # right, written differently
    c = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    return (c - torch.logsumexp(c, dim=dim, keepdim=True)).exp().to(x.dtype)


def softmax_moved_axis(x, dim=-1):  # right, written differently: move the axis last
    y = x.movedim(dim, -1)
    c = y.double()
    m = c.max(dim=-1, keepdim=True).values
    e = torch.exp(c - m)
    return (e / e.sum(-1, keepdim=True)).to(x.dtype).movedim(-1, dim)


def softmax_no_cast_back(x, dim=-1):
    return ref.softmax(x.float(), dim)


def softmax_wrong_axis(x, dim=-1):
    return ref.softmax(x, -1)


def time_mean_including_warmup(fn, warmup=2, iters=5):
    start = time.perf_counter()
    for _ in range(warmup + iters):
        fn()
    return (time.perf_counter() - start) / (warmup + iters)


def time_median_no_warmup(fn, warmup=2, iters=5):
    ts = []
    for _ in range(iters):
        s = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - s)
    return statistics.median(ts)


def time_total_not_median(fn, warmup=2, iters=5):
    for _ in range(warmup):
        fn()
    s = time.perf_counter()
    for _ in range(iters):
        fn()
    return time.perf_counter() - s


def time_min_right(fn, warmup=2, iters=5):  # median computed by hand: right
    for _ in range(warmup):
        fn()
    ts = sorted(_timed(fn) for _ in range(iters))
    mid = len(ts) // 2
    return ts[mid] if len(ts) % 2 else (ts[mid - 1] + ts[mid]) / 2


def _timed(fn):
    s = time.perf_counter()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - s


@pytest.mark.parametrize(
    "name,fn,needle",
    [
        ("prologue.softmax", naive_softmax, "subtracting the max"),
        ("prologue.softmax", softmax_wrong_axis, "instead of `dim`"),
        ("prologue.softmax", softmax_no_cast_back, "expected dtype"),
        ("prologue.matmul_flops", lambda m, n, k: m * n * k, "multiply-add as one FLOP"),
        ("prologue.matmul_flops", lambda m, n, k: 2 * m * n * (k - 1), "expected"),
        ("prologue.time_fn", time_mean_including_warmup, "warm-up calls end up in the timing"),
        ("prologue.time_fn", time_median_no_warmup, "called"),
        ("prologue.time_fn", time_total_not_median, "median"),
    ],
)
def test_wrong_variants_fail_with_a_teaching_message(name, fn, needle):
    result = outcome(name, fn)
    assert not result.passed
    assert needle in result.message, result.message


def _late(fn, seconds=0.015):
    """``fn`` on a busy machine: every call returns ``seconds`` late."""

    def late():
        fn()
        time.sleep(seconds)

    return late


@pytest.mark.parametrize(
    "answer,needle",
    [
        (ref.time_fn, None),
        (time_min_right, None),
        (time_mean_including_warmup, "warm-up calls end up in the timing"),
        (time_total_not_median, "median"),
    ],
)
def test_time_fn_holds_on_a_loaded_machine(answer, needle):
    """Every call 15 ms late (longer than the 10-15 ms it sleeps): right answers still pass, the
    check's bound grows by the lateness its wall-clock time shows; mistakes stay named."""

    def loaded(fn, warmup=2, iters=5):
        return answer(_late(fn), warmup=warmup, iters=iters)

    result = outcome("prologue.time_fn", loaded)
    if needle is None:
        assert result.passed, result.message
    else:
        assert not result.passed and needle in result.message, result.message


@pytest.mark.parametrize(
    "name,fn",
    [
        ("prologue.softmax", ref.softmax),
        ("prologue.softmax", softmax_logsumexp),
        ("prologue.softmax", softmax_moved_axis),
        ("prologue.matmul_flops", lambda m, n, k: m * k * n + n * k * m),
        ("prologue.time_fn", ref.time_fn),
        ("prologue.time_fn", time_min_right),
    ],
)
def test_right_variants_pass(name, fn):
    result = outcome(name, fn)
    assert result.passed, result.message


def test_class_secret_changes_inputs_per_student(monkeypatch):
    from autograder.checks.runner import seed_for

    monkeypatch.setenv("AUTOGRADER_SECRET", "ignored: the seed reads no environment")
    public = seed_for("prologue.softmax")
    assert public == seed_for("prologue.softmax", "", "")
    alice = seed_for("prologue.softmax", "alice", "instructor-only")
    bob = seed_for("prologue.softmax", "bob", "instructor-only")
    assert len({public, alice, bob}) == 3
    assert outcome_with_seed("prologue.softmax", ref.softmax, alice).passed


def outcome_with_seed(name, fn, seed):
    return run_check(get_check(name), InKernelExecutor(fn), seed)
