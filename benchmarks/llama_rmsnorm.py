"""RMSNorm: eager reference vs torch.nn.RMSNorm vs torch.compile (vs a fused Triton kernel on GPU).

Run: .venv/bin/python benchmarks/llama_rmsnorm.py   (about 1 minute on 2 CPU cores)
Baseline named in the ratios: torch.nn.RMSNorm. Bandwidth = bytes read + written / time.

Why the allocator is pinned (issue 9, correction 7). An earlier version of this script reported
torch.nn.RMSNorm at ~2,000 us for 1024x576 float32, while the book page measured ~60 us at 512x576:
16x apart per element. The cause was not threads or warm-up but *allocation*: each eager call
allocates its output and temporaries (2.4 MB each here), and glibc malloc handed freed blocks back
to the kernel (mmap'd chunks are unmapped, the heap top is trimmed), so every call page-faulted its
memory in again: ~1,100 minor faults per call, ~2 us each on this VM. Whether that happens depends
on the heap's history (importing torch.compile's machinery was enough to tip it), so the same op
measured 150 us or 2,400 us in the same process. We now raise glibc's mmap and trim thresholds
before anything is allocated, as a long-running server's allocator (or PyTorch's CUDA caching
allocator) would behave, and report the minor page faults per call next to each time so a
regression is visible. Implementations are timed in interleaved rounds (median of rounds), so a
noisy neighbour on the shared machine hits all of them alike.
"""

from __future__ import annotations

import ctypes
import os
import resource
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import write  # noqa: E402

from course.llama import RMSNorm  # noqa: E402
from course.prologue import time_fn  # noqa: E402

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3


def steady_allocator(threshold: int = 1 << 30) -> bool:
    """Stop glibc from returning freed memory to the OS (no munmap/trim between calls).

    Returns False where glibc's mallopt is unavailable (the measurement then says so).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, threshold)) and bool(
        libc.mallopt(M_TRIM_THRESHOLD, threshold)
    )


def faults_per_call(fn, calls: int = 20) -> float:
    """Minor page faults per call of ``fn`` in steady state (after one untimed call)."""
    fn()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        fn()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls


def bench_shape(
    tokens: int, dim: int, device: str, dtype: torch.dtype, rounds: int = 5
) -> list[list]:
    """Rows [shape, implementation, median us, GB/s, speed vs baseline, faults/call]."""
    x = torch.randn(tokens, dim, device=device, dtype=dtype)
    ours = RMSNorm(dim, 1e-5).to(device)
    base = torch.nn.RMSNorm(dim, eps=1e-5, device=device)
    impls = {"torch.nn.RMSNorm (baseline)": lambda: base(x), "eager reference": lambda: ours(x)}
    if os.environ.get("SKIP_COMPILE") != "1":
        compiled = torch.compile(ours)
        impls["torch.compile(reference)"] = lambda: compiled(x)
    if device == "cuda":
        from course.llama.triton_rmsnorm import rmsnorm as fused

        impls["fused Triton kernel"] = lambda: fused(x, ours.weight, 1e-5)
    nbytes = 2 * x.numel() * x.element_size() + dim * 4
    samples: dict[str, list[float]] = {k: [] for k in impls}
    with torch.no_grad():
        for f in impls.values():  # compile and warm everything before any timing
            time_fn(f, warmup=3, iters=1)
        for _ in range(rounds):
            for k, f in impls.items():
                samples[k].append(time_fn(f, warmup=2, iters=20))
        faults = {k: faults_per_call(f) for k, f in impls.items()}
    times = {k: statistics.median(v) for k, v in samples.items()}
    t0 = times["torch.nn.RMSNorm (baseline)"]
    return [
        [
            f"{tokens}x{dim} {str(dtype)[6:]}",
            k,
            f"{1e6 * t:.1f}",
            f"{nbytes / t / 1e9:.1f}",
            f"{t0 / t:.2f}",
            f"{faults[k]:.0f}",
        ]
        for k, t in times.items()
    ]


def main() -> None:
    pinned = steady_allocator()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    shapes = (
        [(4096, 4096), (16384, 4096)]
        if device == "cuda"
        else [(512, 576), (1024, 576), (4096, 1024)]
    )
    rows = [row for tokens, dim in shapes for row in bench_shape(tokens, dim, device, dtype)]
    write(
        f"llama_rmsnorm{'_cuda' if device == 'cuda' else ''}.json",
        [
            "shape",
            "implementation",
            "time (us)",
            "GB/s",
            "speed vs torch.nn.RMSNorm",
            "page faults / call",
        ],
        rows,
        allocator="glibc mmap/trim thresholds raised to 1 GiB"
        if pinned
        else "default (mallopt unavailable)",
        method="median of 5 interleaved rounds of median-of-20 calls, after compile and warm-up",
    )


if __name__ == "__main__":
    main()
