"""``llama.rmsnorm``: RMSNorm: eps inside the root, no mean, float32 inside, the input dtype out.

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

import torch

from autograder.chapters.llama._common import _BF16, RMSNorm, _randn, _ri
from autograder.checks.spec import Case, Step, register_pair


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


#: hidden size, rows T, eps, input scale, dtype, shown to the student (batch drawn per case)
RMSNORM_CASES = [
    (1, 1, 1e-6, 1.0, torch.float32, True),
    (7, 5, 1e-5, 1e-3, torch.float32, True),
    (64, 2, 0.1, 3.0, torch.bfloat16, True),  # the dtype rule, shown on CPU
    (33, 1, 1e-6, 1e-2, torch.float32, False),
    (128, 9, 1e-6, 1.0, torch.float32, False),
    (5, 3, 1e-5, 1e-3, torch.bfloat16, False),
    (16, 1, 0.1, 3.0, torch.float32, False),
    (96, 4, 1e-6, 1e-2, torch.float32, False),
]


def _rmsnorm_cases(gen, device, visible=False):
    for d, t, eps, scale, dtype, shown in RMSNORM_CASES:
        if visible and not shown:
            continue
        shape = (_ri(gen, 1, 3), t, d)
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


register_pair(
    name="llama.rmsnorm",
    target="RMSNorm",
    reference=RMSNorm,
    cases=_rmsnorm_cases,
    tol=_BF16,
    misconceptions={
        "eps added outside the square root (sqrt(mean(x^2)) + eps instead of sqrt(mean(x^2) + eps))": _EpsOutsideRoot,
        "subtracting the mean (that is LayerNorm, not RMSNorm)": _MeanSubtracting,
    },
)
