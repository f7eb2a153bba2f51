"""``prologue.time_fn``: the median time of a function after a warmup.

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

from autograder.chapters.prologue._common import _randint
from autograder.checks.spec import Case, Step, register_pair
from coursekit.hooks import median_timing
from coursekit.values import Sleeper


def _timing_cases(gen, device, visible=False):
    settings = [(2, 5)] if visible else [(2, 5), (1, 3), (3, 4)]
    for warmup, iters in settings:
        warm = 0.01 + 0.005 * _randint(gen, 0, 1)
        fn = Sleeper(warm_s=warm, cold_s=0.1, cold_calls=warmup)
        yield Case(
            f"fn sleeping {warm:.3f} s (first {warmup} calls 0.1 s), warmup={warmup}, "
            f"iters={iters}",
            [Step((fn,), {"warmup": warmup, "iters": iters})],
        )


_compare_timing = median_timing()  # coursekit.hooks: shared with the kit


register_pair(
    name="prologue.time_fn",
    target="time_fn",
    reference=lambda fn, **kw: None,
    cases=_timing_cases,
    compare=_compare_timing,
)
