"""The graded blocks of chapter 00-prologue: FLOP counting, a numerically stable softmax, timing."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def matmul_flops(m: int, n: int, k: int) -> int:
    """Floating-point operations of ``(m, k) @ (k, n)``: one multiply and one add per term."""
    return 2 * m * n * k


def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax along ``dim`` that never overflows: subtract the max before ``exp``.

    Shapes: any ``x``; the output has the shape and dtype of ``x``. Accumulates in float32
    for half-precision inputs.
    """
    compute = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    shifted = compute - compute.amax(dim=dim, keepdim=True)
    e = shifted.exp()
    return (e / e.sum(dim=dim, keepdim=True)).to(x.dtype)


def synchronize(device: torch.device | str | None = None) -> None:
    """Wait for queued GPU work; a no-op on the CPU."""
    if torch.cuda.is_available():
        torch.cuda.synchronize(device)


def time_fn(fn: Callable[[], object], warmup: int = 2, iters: int = 5) -> float:
    """Median wall time of ``fn()`` in seconds, after ``warmup`` untimed calls.

    GPU kernels are launched asynchronously, so the clock is read only after
    ``torch.cuda.synchronize()`` when CUDA is present.
    """
    for _ in range(warmup):
        fn()
    synchronize()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
