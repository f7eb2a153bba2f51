"""``scaling.mfu`` (block 6): model FLOPs utilisation, timed with synchronisation.

The device is simulated with two sleeping callables (``values.Sleeper``), so that the check runs
anywhere and models CUDA's asynchrony: ``step()`` returns at once (a launch), ``sync()`` sleeps
until the queued work would be done. Its first call (after the warm-up) drains the warm-up's
work (``cold_s``), the next drains the timed steps (``warm_s``). The ratio of the student's answer
to the right one names the mistake: 1/3 for 2ND, about 1/2 for a clock started before the warm-up
work drained, 1/iters for seconds per loop instead of per step, and far above 1 without ``sync()``.
"""

from __future__ import annotations

from autograder.checks.scaling._common import _rng, register_pair
from autograder.checks.spec import Case, Outcome, Step
from autograder.checks.values import Sleeper

LOW, HIGH = 0.75, 1.35


def _expected(step: Step) -> float:
    sync: Sleeper = step.args[1]
    kw = step.kwargs
    seconds_per_step = sync.warm_s / kw["iters"]
    return 6 * kw["n_params"] * kw["tokens_per_step"] / seconds_per_step / kw["peak_flops"]


def _compare(case: Case, expected: Outcome, got: Outcome) -> str | None:
    step = case.steps[0]
    warmup, iters = step.kwargs["warmup"], step.kwargs["iters"]
    result = got.outputs[0]
    if isinstance(result, bool) or not isinstance(result, float | int):
        return f"expected a float (a fraction of the peak), got {type(result).__name__}"
    calls = got.sleeper_calls
    steps = calls[0] if calls else 0
    syncs = calls[1] if len(calls) > 1 else 0
    if steps != warmup + iters:
        return f"step() was called {steps} times; expected warmup + iters = {warmup + iters}"
    if syncs == 0:
        return (
            "sync() was never called: timed without synchronising. On CUDA a step only "
            "launches work; call sync() after the warm-up (before starting the clock) and after "
            "the timed steps (before stopping it)"
        )
    want = _expected(step)
    ratio = result / want
    if LOW <= ratio <= HIGH:
        return None
    msg = f"returned {result:.4g}, expected about {want:.4g} (ratio {ratio:.3g})"
    if ratio > HIGH:
        return msg + ": the clock stopped before the work finished (timed without synchronising)"
    if abs(ratio - 1 / 3) < 0.06:
        return msg + ": 2ND instead of 6ND (a training step costs 6 FLOPs per parameter per token)"
    if abs(ratio - 1 / iters) < 0.3 / iters:
        return msg + ": the time of all iters steps used as the time of one step"
    if ratio < 0.7:
        return msg + (
            ": the warm-up's work ended up in the timing; call sync() after the warm-up steps, "
            "before starting the clock"
        )
    return msg


def _cases(gen, device):
    rng = _rng(gen)
    settings = [(2, 5), (1, 4), (3, 8), (2, 6)]
    for warmup, iters in settings:
        timed = 0.15 + 0.02 * rng.randint(0, 3)  # the timed steps' work, drained by sync()
        step = Sleeper(warm_s=0.0)
        sync = Sleeper(warm_s=timed, cold_s=2 * timed, cold_calls=1)
        kw = {
            "n_params": rng.randint(10**5, 10**9),
            "tokens_per_step": rng.choice([512, 2048, 8192]),
            "peak_flops": rng.choice([1e12, 3.12e14, 9.89e14]),
            "warmup": warmup,
            "iters": iters,
        }
        yield Case(
            f"warmup={warmup}, iters={iters}: steps launch instantly, their work takes "
            f"{timed / iters:.4f} s each",
            [Step((step, sync), kw)],
        )


register_pair("mfu", "mfu", lambda *a, **k: None, _cases, compare=_compare, n_visible=1)
