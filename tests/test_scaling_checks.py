"""The scaling checks beyond the registry's tests (tests/test_checks_registry.py: the solution
against every check, every named mistake under two class secrets): the Chinchilla fit, MFU and
matmul FLOP/s mistakes named by their comparisons, and correct variants written differently pass."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import assert_crosses_the_sandbox, outcome

import autograder.chapters.scaling  # noqa: F401  (registers the checks)
from autograder.chapters.scaling import chinchilla_fit
from autograder.checks.spec import REGISTRY, get_check
from course import scaling as ref

REFERENCE = {
    "count_params": ref.count_params,
    "flops": ref.flops,
    "chinchilla_optimal": ref.chinchilla_optimal,
    "fit_power_law": ref.fit_power_law,
    "fit_chinchilla": ref.fit_chinchilla,
    "mfu": ref.mfu,
    "achieved_flops": ref.achieved_flops,
}
NAMES = sorted(n for n in REGISTRY if n.startswith("scaling."))
FAST = [n for n in NAMES if REGISTRY[n].target != "fit_chinchilla"]
TIMED = {"mfu", "achieved_flops"}  # their references sleep: the answers are not compared


def test_every_block_has_checks():
    blocks = {n.split(".")[1] for n in NAMES}
    assert blocks == set(REFERENCE)
    assert all(f"scaling.{b}.visible" in REGISTRY for b in blocks)


def test_reference_fit_chinchilla_passes():
    for name in ("scaling.fit_chinchilla.visible", "scaling.fit_chinchilla"):
        result = outcome(name, ref.fit_chinchilla)
        assert result.passed, result.message


@pytest.mark.parametrize("label", sorted(chinchilla_fit.NAMED_BY_COMPARE))
def test_fit_chinchilla_mistakes_are_named(label):
    result = outcome("scaling.fit_chinchilla", chinchilla_fit.NAMED_BY_COMPARE[label])
    assert not result.passed
    assert label in result.message, result.message


def _mfu_variant(*, sync_start=True, sync_end=True, six=6, per_step=True):
    import time

    def fn(step, sync, n_params, tokens_per_step, peak_flops, warmup=2, iters=5):
        for _ in range(warmup):
            step()
        if sync_start:
            sync()
        t0 = time.perf_counter()
        for _ in range(iters):
            step()
        if sync_end:
            sync()
        seconds = (time.perf_counter() - t0) / (iters if per_step else 1)
        return six * n_params * tokens_per_step / seconds / peak_flops

    return fn


MFU_MISTAKES = {
    "timed without synchronising": _mfu_variant(sync_start=False, sync_end=False),
    "2ND instead of 6ND": _mfu_variant(six=2),
    "the warm-up's work ended up in the timing": _mfu_variant(sync_start=False),
    "the time of all iters steps used as the time of one step": _mfu_variant(per_step=False),
}


@pytest.mark.parametrize("label", sorted(MFU_MISTAKES))
def test_mfu_mistakes_are_named(label):
    result = outcome("scaling.mfu", MFU_MISTAKES[label])
    assert not result.passed
    assert label in result.message, result.message


def test_mfu_holds_on_a_loaded_machine():
    """A busy grading node wakes sleepers late: the right answer, timed on a machine where every
    sync() returns 50 ms late (the student's window grows by that), still passes, because the
    check lowers its bound by the delay the case's own wall-clock time shows; the mistakes stay
    named under the same load."""
    import time

    def late(fn):
        def woken_late():
            fn()
            time.sleep(0.05)

        return woken_late

    def loaded(answer):
        def fn(step, sync, *args, **kwargs):
            return answer(step, late(sync), *args, **kwargs)

        return fn

    result = outcome("scaling.mfu", loaded(ref.mfu))
    assert result.passed, result.message
    for label in sorted(MFU_MISTAKES):
        result = outcome("scaling.mfu", loaded(MFU_MISTAKES[label]))
        assert not result.passed and label in result.message, result.message


def _flops_variant(*, sync_start=True, sync_end=True, two=2, per_call=True, sync_in_loop=False):
    import time

    def fn(matmul, sync, m, n, k, warmup=2, iters=10):
        for _ in range(warmup):
            matmul()
        if sync_start:
            sync()
        t0 = time.perf_counter()
        for _ in range(iters):
            matmul()
            if sync_in_loop:
                sync()
        if sync_end:
            sync()
        seconds = (time.perf_counter() - t0) / (iters if per_call else 1)
        return two * m * n * k / seconds

    return fn


FLOPS_MISTAKES = {
    "timed without synchronising": _flops_variant(sync_start=False, sync_end=False),
    "the clock stopped before the work finished": _flops_variant(sync_end=False),
    "m n k instead of 2 m n k": _flops_variant(two=1),
    "the clock started before the warm-up drained": _flops_variant(sync_start=False),
    "seconds per loop instead of per call": _flops_variant(per_call=False),
    "sync() inside the timed loop": _flops_variant(sync_in_loop=True, sync_end=False),
}


@pytest.mark.parametrize("label", sorted(FLOPS_MISTAKES))
def test_achieved_flops_mistakes_are_named(label):
    result = outcome("scaling.achieved_flops", FLOPS_MISTAKES[label])
    assert not result.passed
    assert label in result.message, result.message


def test_achieved_flops_in_gflops_is_named():
    def gflops(matmul, sync, m, n, k, warmup=2, iters=10):
        return ref.achieved_flops(matmul, sync, m, n, k, warmup, iters) / 1e9

    result = outcome("scaling.achieved_flops.visible", gflops)
    assert not result.passed and "not GFLOP/s" in result.message, result.message


def test_achieved_flops_holds_on_a_loaded_machine():
    """As for mfu: every sync() returns 50 ms late; the right answer passes, the mistakes that
    the ratio names stay named."""
    import time

    def loaded(answer):
        def fn(matmul, sync, *args, **kwargs):
            def woken_late():
                sync()
                time.sleep(0.05)

            return answer(matmul, woken_late, *args, **kwargs)

        return fn

    result = outcome("scaling.achieved_flops", loaded(ref.achieved_flops))
    assert result.passed, result.message
    for label in (
        "m n k instead of 2 m n k",
        "the clock started before the warm-up drained",
        "seconds per loop instead of per call",
    ):
        result = outcome("scaling.achieved_flops", loaded(FLOPS_MISTAKES[label]))
        assert not result.passed and label in result.message, result.message


# --- correct variants written differently ------------------------------------------------------
def count_params_from_meta_module(cfg):
    """Build the real module on the meta device and count (no arithmetic of our own)."""
    import transformers

    with torch.device("meta"):
        model = transformers.GPT2LMHeadModel(transformers.GPT2Config(**cfg))
    total = sum(p.numel() for p in model.parameters())
    non_emb = sum(p.numel() for p in model.transformer.h.parameters()) + sum(
        p.numel() for p in model.transformer.ln_f.parameters()
    )
    return {"total": total, "non_embedding": non_emb}


def flops_by_layer(cfg, n_ctx, n_tokens):
    """Sum the matmuls of one layer shape by shape."""
    d, v = cfg["n_embd"], cfg["vocab_size"]
    f = cfg["n_inner"] or 4 * d
    shapes = [(d, 3 * d), (d, d), (d, f), (f, d)]  # (k, n) of each weight, per token m = 1
    per_layer = sum(2 * k * n for k, n in shapes)
    attention = 2 * n_ctx * d + 2 * n_ctx * d
    kaplan_n = per_layer // 2 * cfg["n_layer"]
    forward = cfg["n_layer"] * (per_layer + attention) + 2 * d * v
    return {
        "kaplan_forward_per_token": 2 * kaplan_n + 2 * cfg["n_layer"] * n_ctx * d,
        "forward_per_token": forward,
        "train": forward * n_tokens + 2 * forward * n_tokens,
        "six_nd": 6 * kaplan_n * n_tokens,
    }


def chinchilla_optimal_numeric(compute, law):
    """Minimise over log N with scipy instead of the closed form."""
    from scipy.optimize import minimize_scalar

    def loss(n, d):
        return law["E"] + law["A"] / n ** law["alpha"] + law["B"] / d ** law["beta"]

    res = minimize_scalar(
        lambda ln: loss(math.exp(ln), compute / (6 * math.exp(ln))),
        bracket=(math.log(compute) / 4, math.log(compute) / 2),
        tol=1e-12,
    )
    n = math.exp(res.x)
    n_20 = (compute / 120) ** 0.5
    return {
        "n_opt": n,
        "d_opt": compute / (6 * n),
        "loss_opt": loss(n, compute / (6 * n)),
        "n_20": n_20,
        "d_20": 20 * n_20,
        "loss_20": loss(n_20, 20 * n_20),
    }


def fit_power_law_polyfit(x, y):
    slope, intercept = np.polyfit(np.log(x.double().numpy()), np.log(y.double().numpy()), 1)
    return {"alpha": float(-slope), "x_c": float(np.exp(intercept / -slope))}


def fit_chinchilla_least_squares(n, d, loss):
    """scipy's least_squares with a Huber loss (the same objective) from the 4 best grid points."""
    import itertools

    from scipy.optimize import least_squares

    logs = [np.log(np.asarray(t, dtype=np.float64)) for t in (n, d, loss)]

    def residuals(theta):
        a, b, e, alpha, beta = theta
        terms = np.stack([a - alpha * logs[0], b - beta * logs[1], np.full_like(logs[0], e)])
        return np.logaddexp.reduce(terms, axis=0) - logs[2]

    grid = list(itertools.product(*ref.INIT_GRID.values()))
    starts = sorted(grid, key=lambda t: ref.chinchilla_objective(t, *logs))[:4]
    best = min(
        (
            least_squares(
                residuals,
                s,
                loss="huber",
                f_scale=ref.HUBER_DELTA,
                xtol=1e-15,
                ftol=1e-15,
                gtol=1e-15,
            )
            for s in starts
        ),
        key=lambda r: r.cost,
    )
    a, b, e, alpha, beta = best.x
    return {"E": math.exp(e), "A": math.exp(a), "B": math.exp(b), "alpha": alpha, "beta": beta}


def mfu_with_flops_first(step, sync, n_params, tokens_per_step, peak_flops, warmup=2, iters=5):
    import time

    flops_per_step = 6 * n_params * tokens_per_step
    [step() for _ in range(warmup)]
    sync()
    times = []
    t0 = time.perf_counter()
    for _ in range(iters):
        step()
    sync()
    times.append(time.perf_counter() - t0)
    return flops_per_step * iters / times[0] / peak_flops


def achieved_flops_from_time_per_loop(matmul, sync, m, n, k, warmup=2, iters=10):
    """All the FLOPs of the loop over the loop's time, with time.monotonic_ns and the prologue's
    counting rule."""
    import time

    from course.prologue import matmul_flops

    [matmul() for _ in range(warmup)]
    sync()
    start_ns = time.monotonic_ns()
    for _ in range(iters):
        matmul()
    sync()
    loop_s = (time.monotonic_ns() - start_ns) * 1e-9
    return float(matmul_flops(m, n, k) * iters / loop_s)


ALTERNATIVES = [
    ("scaling.count_params", count_params_from_meta_module),
    ("scaling.flops", flops_by_layer),
    ("scaling.chinchilla_optimal", chinchilla_optimal_numeric),
    ("scaling.fit_power_law", fit_power_law_polyfit),
    ("scaling.fit_chinchilla", fit_chinchilla_least_squares),
    ("scaling.mfu", mfu_with_flops_first),
    ("scaling.achieved_flops", achieved_flops_from_time_per_loop),
]


@pytest.mark.parametrize("name,fn", ALTERNATIVES, ids=[f.__name__ for _, f in ALTERNATIVES])
def test_correct_variant_passes(name, fn):
    result = outcome(name, fn)
    assert result.passed, result.message


@pytest.mark.parametrize("name", FAST)
def test_cases_and_answers_cross_the_sandbox(name):
    assert_crosses_the_sandbox(name, answers=get_check(name).target not in TIMED)
