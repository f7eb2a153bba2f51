"""``modern_llms.qk_norm``: grouped-query attention with per-head RMSNorm on queries and keys,
applied before RoPE (Qwen3, Gemma 3; OLMo 2 normalises the whole projection, also before RoPE).

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

from functools import partial

from autograder.chapters.llama._common import attention_cases
from autograder.chapters.llama.attention import _compare_attention
from autograder.chapters.modern_llms._common import QKNormAttention
from autograder.checks.spec import register_pair
from course.llama import apply_rope, causal_mask


class _NormAfterRope(QKNormAttention):
    """RMSNorm applied to the rotated q and k (the weight then scales rotated coordinates)."""

    def forward(self, x, cos, sin, attention_mask=None):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.h, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.g, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.g, self.head_dim).transpose(1, 2)
        q = self.q_norm(apply_rope(q, cos, sin))
        k = self.k_norm(apply_rope(k, cos, sin))
        mask = causal_mask(t, t, attention_mask, x.device)
        return self.o_proj(self.attend(q, k, v, mask).transpose(1, 2).reshape(b, t, -1))


class _KeysNotNormalised(QKNormAttention):
    def forward(self, x, cos, sin, attention_mask=None):
        saved = self.k_norm.forward
        self.k_norm.forward = lambda y: y  # an instance attribute: this object only
        try:
            return super().forward(x, cos, sin, attention_mask)
        finally:
            self.k_norm.forward = saved


#: (query heads, kv heads), head dim, T, variant, shown (see ``llama._common.AttentionRow``);
#: large activations (scale 3): what QK-norm tames
QK_NORM_CASES = [
    ((4, 2), 8, 5, "", True),
    ((3, 1), 4, 1, "", True),
    ((6, 3), 4, 6, "", False),
    ((4, 4), 16, 4, "", False),
    ((8, 2), 4, 7, "padded", False),
    ((2, 1), 8, 3, "bf16", True),  # the dtype rule, shown on CPU
    ((4, 2), 8, 6, "", False),
]
_cases = partial(attention_cases, table=QK_NORM_CASES, max_batch=2, scale=3.0)


register_pair(
    name="modern_llms.qk_norm",
    target="QKNormAttention",
    reference=QKNormAttention,
    cases=_cases,
    compare=_compare_attention,
    misconceptions={
        "q_norm/k_norm applied after RoPE (Qwen3, Gemma 3 and OLMo 2 normalise before rotating)": _NormAfterRope,
        "keys not normalised (k_norm is applied to k, like q_norm to q)": _KeysNotNormalised,
    },
)
