"""``modern_llms.mla``: multi-head latent attention (DeepSeek-V2/V3): the cached latent, then the
attention rebuilt from it.

Each case calls ``latent(x, cos, sin)`` (what the cache stores) and then ``forward(x, cos, sin)``.
Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

import torch

from autograder.chapters.modern_llms._common import _BF16, MultiHeadLatentAttention, _randn, _rope
from autograder.checks.spec import Case, Step, register_pair
from course.llama import apply_rope


class _ScaleNopeOnly(MultiHeadLatentAttention):
    """Scores divided by sqrt(qk_nope_head_dim) instead of sqrt(nope + rope)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.scale = self.nope**-0.5


class _LatentNotNormalised(MultiHeadLatentAttention):
    def latent(self, x, cos, sin):
        c, k_pe = self.kv_a_proj_with_mqa(x).split([self.kv_lora_rank, self.rope], dim=-1)
        return torch.cat([c, apply_rope(k_pe[:, None], cos, sin)[:, 0]], dim=-1)


class _RopeNotApplied(MultiHeadLatentAttention):
    """The decoupled key (and query) left unrotated: cos = 1, sin = 0."""

    def latent(self, x, cos, sin):
        return super().latent(x, cos * 0 + 1, sin * 0)

    def forward(self, x, cos, sin):
        return super().forward(x, cos * 0 + 1, sin * 0)


def _cases(gen, device, visible=False):
    #  (D, H, q rank, kv rank, nope, rope, v, B, T, offset, dtype)
    table = [(16, 2, 8, 6, 4, 2, 4, 1, 5, 0, None), (24, 3, 0, 8, 6, 4, 6, 2, 4, 3, None)]
    if not visible:
        table += [
            (32, 4, 12, 10, 8, 4, 8, 2, 6, 0, None),
            (16, 4, 0, 4, 2, 2, 3, 1, 1, 7, None),  # one token at position 7
            (20, 2, 6, 12, 4, 8, 10, 1, 7, 0, None),  # rope part larger than the nope part
            (32, 4, 16, 8, 8, 4, 8, 2, 5, 0, "bfloat16"),
        ]
    else:  # the dtype rule (bfloat16 x, cos and sin), shown on CPU
        table.append((16, 2, 8, 6, 4, 2, 4, 1, 3, 0, "bfloat16"))
    for d, h, qr, r, dn, dr, dv, b, t, off, dtype in table:
        x = _randn(gen, b, t, d)
        cos, sin = _rope(dr, b, t, off)
        label = (
            f"x{(b, t, d)}, {h} heads, q_lora_rank {qr}, kv_lora_rank {r}, nope {dn}, rope {dr}, "
            f"v {dv}, positions from {off}"
        )
        if dtype:
            x, cos, sin = x.bfloat16(), cos.bfloat16(), sin.bfloat16()
            label += ", bfloat16"
        grad = (0,) if not visible and not dtype else ()
        yield Case(
            label,
            [Step((x, cos, sin), method="latent"), Step((x, cos, sin))],
            init=dict(hidden_size=d, num_heads=h, q_lora_rank=qr, kv_lora_rank=r)
            | dict(qk_nope_head_dim=dn, qk_rope_head_dim=dr, v_head_dim=dv),
            grad_wrt=grad,
            param_grads=bool(grad),
            device=device,
            dtype=dtype,
        )


register_pair(
    name="modern_llms.mla",
    target="MultiHeadLatentAttention",
    reference=MultiHeadLatentAttention,
    cases=_cases,
    tol=_BF16,
    misconceptions={
        "scores divided by sqrt(qk_nope_head_dim) instead of sqrt(qk_nope_head_dim + "
        "qk_rope_head_dim)": _ScaleNopeOnly,
        "the latent is cached without kv_a_layernorm": _LatentNotNormalised,
        "RoPE is not applied to the decoupled query/key parts": _RopeNotApplied,
    },
)
