"""``llama.rmsnorm``: RMSNorm: eps inside the root, no mean, float32 inside, the input dtype out.

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

import torch

from autograder.checks.llama._common import (
    _BF16,
    RMSNorm,
    _both,
    _randn,
    _ri,
)
from autograder.checks.spec import Case, Step


class _EpsOutsideRoot(RMSNorm):
    def forward(self, x):
        x32 = x.float()
        y = x32 / (x32.pow(2).mean(-1, keepdim=True).sqrt() + self.eps)
        return (self.weight * y.to(x.dtype)).to(x.dtype)


class _MeanSubtracting(RMSNorm):
    def forward(self, x):
        x32 = x.float()
        y = (x32 - x32.mean(-1, keepdim=True)) * torch.rsqrt(
            x32.var(-1, unbiased=False, keepdim=True) + self.eps
        )
        return (self.weight * y.to(x.dtype)).to(x.dtype)


def _rmsnorm_cases(gen, device, visible=False):
    n = 3 if visible else 8  # visible: case 2 in bfloat16 too
    for i in range(n):
        d = [1, 7, 64, 33, 128, 5, 16, 96][i]
        shape = (_ri(gen, 1, 3), [1, 5, 2, 1, 9, 3, 1, 4][i], d)
        eps = [1e-6, 1e-5, 0.1, 1e-6][i % 4]
        scale = [1.0, 1e-3, 3.0, 1e-2][i % 4]
        dtype = torch.bfloat16 if i % 3 == 2 else torch.float32
        x = _randn(gen, *shape, scale=scale, dtype=dtype)
        grad = (0,) if dtype == torch.float32 and not visible else ()
        yield Case(
            f"x{shape} {str(dtype)[6:]}, scale {scale:g}, eps {eps:g}",
            [Step((x,))],
            init={"hidden_size": d, "eps": eps},
            grad_wrt=grad,
            param_grads=bool(grad),
            device=device,
        )


_both(
    "llama.rmsnorm",
    "RMSNorm",
    RMSNorm,
    _rmsnorm_cases,
    tol=_BF16,
    misconceptions={
        "eps added outside the square root (sqrt(mean(x^2)) + eps instead of sqrt(mean(x^2) + eps))": _EpsOutsideRoot,
        "subtracting the mean (that is LayerNorm, not RMSNorm)": _MeanSubtracting,
    },
)
