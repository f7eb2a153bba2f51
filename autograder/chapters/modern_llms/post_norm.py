"""``modern_llms.post_norm``: OLMo 2's decoder block, each residual branch closed by an RMSNorm.

The block contains the graded ``QKNormAttention`` as ``self_attn`` (and the given SwiGLU as
``mlp``). ``SUBMODULES`` declares it: while this check runs, the student's ``self_attn`` answers
with the reference attention on the student's own parameters, so an attention mistake is charged
in part 6 only (one mistake, one deduction; see ``autograder.checks.inject``).

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

from autograder.chapters.modern_llms._common import PostNormBlock, QKNormAttention, _randn, _rope
from autograder.checks.inject import Submodule
from autograder.checks.spec import call_case, register_pair


def _attention(init):
    return QKNormAttention(init["hidden_size"], init["num_heads"], init["num_kv_heads"])


SUBMODULES = {"self_attn": Submodule("modern_llms.qk_norm", _attention)}


class _NormOnStream(PostNormBlock):
    """The 2017 post-LN placement: norm(x + f(x)), the residual stream itself normalised."""

    def forward(self, x, cos, sin):
        h = self.post_attention_layernorm(x + self.self_attn(x, cos, sin))
        return self.post_feedforward_layernorm(h + self.mlp(h))


class _PreNorm(PostNormBlock):
    """LLaMA's pre-norm placement with the same two norms: x + f(norm(x))."""

    def forward(self, x, cos, sin):
        h = x + self.self_attn(self.post_attention_layernorm(x), cos, sin)
        return h + self.mlp(self.post_feedforward_layernorm(h))


def _cases(gen, device, visible=False):
    #  (H, G, Dh, F, B, T)
    table = [(4, 2, 4, 24, 1, 5)]
    if not visible:
        table += [(2, 1, 8, 20, 2, 6), (3, 3, 4, 16, 1, 1), (6, 2, 4, 32, 2, 4)]
    for h, g, dh, f, b, t in table:
        x = _randn(gen, b, t, h * dh, scale=2.0)
        cos, sin = _rope(dh, b, t)
        grad = (0,) if not visible else ()
        yield call_case(
            f"heads {h}, kv heads {g}, head_dim {dh}, F {f}, x{tuple(x.shape)}",
            *(x, cos, sin),
            init=dict(hidden_size=h * dh, intermediate_size=f, num_heads=h, num_kv_heads=g),
            grads=grad,
            device=device,
        )


register_pair(
    name="modern_llms.post_norm",
    target="PostNormBlock",
    reference=PostNormBlock,
    cases=_cases,
    submodules=SUBMODULES,
    misconceptions={
        "the norm is applied to the residual stream, norm(x + f(x)) (the 2017 post-LN), instead "
        "of closing the branch, x + norm(f(x))": _NormOnStream,
        "the norms are placed before the sublayers (LLaMA's pre-norm x + f(norm(x)))": _PreNorm,
    },
)
