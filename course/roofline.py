"""Measured roofline inputs: copy bandwidth across buffer sizes, and matmul FLOP/s.

A copy of a buffer that fits in a cache measures the cache, not main memory; the roofline's
memory slope must come from the plateau reached once buffers are much larger than the last-level
cache. Used by the prologue's devices page and the KV-cache page.
"""

from __future__ import annotations

import statistics

import torch

from course.prologue import matmul_flops, time_fn

MiB = 2**20


def copy_bandwidth(nbytes: int, device: torch.device | str = "cpu", iters: int = 5) -> float:
    """Bytes per second of ``dst.copy_(src)`` for float32 buffers of ``nbytes`` (read + write)."""
    src = torch.ones(max(nbytes // 4, 1), device=device)
    dst = torch.empty_like(src)
    seconds = time_fn(lambda: dst.copy_(src), warmup=2, iters=iters)
    return 2 * src.numel() * 4 / seconds


def bandwidth_sweep(
    sizes_mib: tuple[float, ...] = (0.25, 1, 4, 16, 32, 64, 128, 256, 512),
    device: torch.device | str = "cpu",
) -> list[tuple[float, float]]:
    """[(buffer MiB, bytes/s)] for each size; small buffers repeat more to beat the clock."""
    return [
        (size, copy_bandwidth(int(size * MiB), device, iters=9 if size < 64 else 5))
        for size in sizes_mib
    ]


def dram_plateau(sweep: list[tuple[float, float]], last: int = 3) -> float:
    """Main-memory bandwidth: the median over the ``last`` largest buffers of a sweep.

    Not the maximum: the maximum is reached by buffers that fit in a cache.
    """
    largest = sorted(sweep)[-last:]
    return statistics.median(bw for _, bw in largest)


def matmul_rates(
    sizes: tuple[int, ...] = (32, 64, 128, 256, 512, 1024),
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> list[tuple[int, float, float]]:
    """[(n, arithmetic intensity FLOP/byte, FLOP/s)] for square n x n matmuls."""
    bytes_per = torch.finfo(dtype).bits // 8
    out = []
    for n in sizes:
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        seconds = time_fn(lambda a=a, b=b: a @ b, warmup=2, iters=5)
        flops = matmul_flops(n, n, n)
        out.append((n, flops / (3 * n * n * bytes_per), flops / seconds))
    return out
