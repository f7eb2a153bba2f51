"""RMSNorm: eager reference vs torch.nn.RMSNorm vs torch.compile (vs a fused Triton kernel on GPU).

Run: .venv/bin/python benchmarks/llama_rmsnorm.py
Baseline named in the ratios: torch.nn.RMSNorm. Bandwidth = bytes read + written / time.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write  # noqa: E402

from course.llama import RMSNorm  # noqa: E402
from course.prologue import time_fn  # noqa: E402


def bench_shape(tokens: int, dim: int, device: str, dtype: torch.dtype) -> list[list]:
    x = torch.randn(tokens, dim, device=device, dtype=dtype)
    ours = RMSNorm(dim, 1e-5).to(device)
    base = torch.nn.RMSNorm(dim, eps=1e-5, device=device)
    impls = {"torch.nn.RMSNorm (baseline)": lambda: base(x), "eager reference": lambda: ours(x)}
    if os.environ.get("SKIP_COMPILE") != "1":
        compiled = torch.compile(ours)
        impls["torch.compile(reference)"] = lambda: compiled(x)
    if device == "cuda":
        from course.triton_rmsnorm import rmsnorm as fused

        impls["fused Triton kernel"] = lambda: fused(x, ours.weight, 1e-5)
    nbytes = 2 * x.numel() * x.element_size() + dim * 4
    with torch.no_grad():
        times = {k: time_fn(f, warmup=3, iters=20) for k, f in impls.items()}
    t0 = times["torch.nn.RMSNorm (baseline)"]
    return [
        [
            f"{tokens}x{dim} {str(dtype)[6:]}",
            k,
            f"{1e6 * t:.1f}",
            f"{nbytes / t / 1e9:.1f}",
            f"{t0 / t:.2f}",
        ]
        for k, t in times.items()
    ]


def main() -> None:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    shapes = [(4096, 4096), (16384, 4096)] if device == "cuda" else [(1024, 576), (4096, 1024)]
    rows = [row for tokens, dim in shapes for row in bench_shape(tokens, dim, device, dtype)]
    write(
        f"llama_rmsnorm{'_cuda' if device == 'cuda' else ''}.json",
        ["shape", "implementation", "time (us)", "GB/s", "speed vs torch.nn.RMSNorm"],
        rows,
    )


if __name__ == "__main__":
    main()
