"""``llama.swiglu``: the SwiGLU feed-forward, down(silu(gate(x)) * up(x)).

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

from torch.nn import functional as F

from autograder.chapters.llama._common import SwiGLU, _randn, _ri
from autograder.checks.spec import Case, Step, register_pair


class _SiluOnUp(SwiGLU):
    def forward(self, x):
        return self.down_proj(self.gate_proj(x) * F.silu(self.up_proj(x)))


def _swiglu_cases(gen, device, visible=False):
    n = 1 if visible else 4
    for i in range(n):
        d, f = [8, 16, 5, 24][i], [16, 43, 12, 64][i]
        x = _randn(gen, _ri(gen, 1, 3), [3, 1, 4, 2][i], d)
        yield Case(
            f"hidden {d}, intermediate {f}, x{tuple(x.shape)}",
            [Step((x,))],
            init={"hidden_size": d, "intermediate_size": f},
            grad_wrt=(0,) if not visible else (),
            param_grads=not visible,
            device=device,
        )


register_pair(
    name="llama.swiglu",
    target="SwiGLU",
    reference=SwiGLU,
    cases=_swiglu_cases,
    misconceptions={"SiLU applied to up_proj instead of gate_proj": _SiluOnUp},
)
