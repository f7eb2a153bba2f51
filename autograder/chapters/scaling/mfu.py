"""``scaling.mfu`` (block 6): model FLOPs utilisation, timed with synchronisation.

The device is simulated with two sleeping callables (``values.Sleeper``), so that the check runs
anywhere and models CUDA's asynchrony: ``step()`` returns at once (a launch), ``sync()`` sleeps
until the queued work would be done. Its first call (after the warm-up) drains the warm-up's
work (``cold_s``), the next drains the timed steps (``warm_s``). The ratio of the student's answer
to the right one names the mistake: 1/3 for 2ND, about 1/2 for a clock started before the warm-up
work drained, 1/iters for seconds per loop instead of per step, and far above 1 without ``sync()``.
"""

from __future__ import annotations

from autograder.chapters.scaling._common import _rng
from autograder.checks.spec import Case, Step, register_pair
from coursekit.hooks import mfu_timing
from coursekit.values import Sleeper

_compare = mfu_timing()  # coursekit.hooks: shared with the kit


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


register_pair(
    name="scaling.mfu",
    target="mfu",
    reference=lambda *a, **k: None,
    cases=_cases,
    visible_cases=1,
    compare=_compare,
)
