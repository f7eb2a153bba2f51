"""``scaling.achieved_flops`` (block 7): the FLOP/s of a matrix product, timed with synchronisation.

The device is simulated as for ``scaling.mfu`` (``values.Sleeper``): ``matmul()`` returns at once
(a launch), ``sync()`` sleeps until the queued work would be done. Its first call (after the
warm-up) drains the warm-up's work (``cold_s``, three times the timed work: first calls are slow),
the next drains the ``iters`` timed products (``warm_s``). The ratio of the student's answer to
2 m n k / (warm_s / iters) names the mistake (``coursekit.hooks.matmul_flops_timing``): 1/2 for
m n k (a multiply-add as one FLOP), about 1/3 for a clock started before the warm-up drained,
1/iters for seconds per loop instead of per call, and far above 1 without ``sync()``.
"""

from __future__ import annotations

from autograder.chapters.scaling._common import _rng
from autograder.checks.spec import Case, Step, register_pair
from coursekit.hooks import matmul_flops_timing
from coursekit.values import Sleeper

_compare = matmul_flops_timing()  # coursekit.hooks: shared with the kit


def _cases(gen, device):
    rng = _rng(gen)
    shapes = [
        (4096, 2048, 1024),  # the visible case: no two sizes alike
        (1, 1, 1),  # edge (visible too): a 1 x 1 product, 2 FLOPs per call
        (1, 8192, 8192),  # a matrix-vector product
        tuple(rng.randint(1, 16384) for _ in range(3)),
    ]
    settings = [(2, 10), (1, 5), (3, 12), (2, 8)]
    for (m, n, k), (warmup, iters) in zip(shapes, settings, strict=True):
        timed = 0.15 + 0.02 * rng.randint(0, 3)  # the timed products' work, drained by sync()
        matmul = Sleeper(warm_s=0.0)
        sync = Sleeper(warm_s=timed, cold_s=3 * timed, cold_calls=1)
        yield Case(
            f"m={m}, n={n}, k={k}, warmup={warmup}, iters={iters}: products launch instantly, "
            f"their work takes {timed / iters:.4f} s each",
            [Step((matmul, sync, m, n, k), {"warmup": warmup, "iters": iters})],
        )


register_pair(
    name="scaling.achieved_flops",
    target="achieved_flops",
    reference=lambda *a, **k: None,
    cases=_cases,
    visible_cases=2,
    compare=_compare,
)
