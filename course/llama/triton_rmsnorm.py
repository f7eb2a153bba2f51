"""A fused RMSNorm kernel in Triton (Tillet et al., 2019): one program per row, one read, one write.

On a machine without a GPU, set ``TRITON_INTERPRET=1`` *before importing this module*: the kernel
then runs on CPU tensors through Triton's interpreter (slow, exact).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _rmsnorm_rows(x_ptr, w_ptr, out_ptr, d, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < d
    x = tl.load(x_ptr + row * d + cols, mask=mask, other=0.0).to(tl.float32)
    inv = 1.0 / tl.sqrt(tl.sum(x * x, axis=0) / d + eps)
    w = tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
    tl.store(out_ptr + row * d + cols, (x * inv * w).to(out_ptr.dtype.element_ty), mask=mask)


def rmsnorm(x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """(R, D) -> (R, D) in x's dtype; float32 accumulation; eps inside the root."""
    x = x.contiguous()
    out = torch.empty_like(x)
    _rmsnorm_rows[(x.shape[0],)](
        x, weight, out, x.shape[1], eps, BLOCK=triton.next_power_of_2(x.shape[1])
    )
    return out
