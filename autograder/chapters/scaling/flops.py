"""``scaling.flops`` (block 2): Kaplan's per-token count, torch's matmul count, 3x for training, 6ND."""

from __future__ import annotations

from autograder.chapters.scaling._common import GPT2_SMALL, _rng, random_config, small_gpt
from autograder.checks.spec import Case, Step, register_pair
from course import scaling as ref


def _variant(*, passes=3, six=6, attention=4, kaplan_attention=2, head=True, n_fn=ref.kaplan_n):
    def flops(cfg, n_ctx, n_tokens):
        n, d, n_layer, v = n_fn(cfg), cfg["n_embd"], cfg["n_layer"], cfg["vocab_size"]
        forward = 2 * n + attention * n_layer * n_ctx * d + (2 * d * v if head else 0)
        return {
            "kaplan_forward_per_token": 2 * n + kaplan_attention * n_layer * n_ctx * d,
            "forward_per_token": forward,
            "train": passes * forward * n_tokens,
            "six_nd": six * n * n_tokens,
        }

    return flops


MISTAKES = {
    "2ND instead of 6ND (the forward pass only; the backward pass costs twice the forward)": (
        _variant(passes=1, six=2)
    ),
    "the attention term left out (Q K^T and the weighted sum of V)": _variant(
        attention=0, kaplan_attention=0
    ),
    "the attention term halved for the causal mask (torch computes the masked scores too)": (
        _variant(attention=2)
    ),
    "the output layer (2 d V per token) left out of the forward count": _variant(head=False),
    "N counted with biases and layer norms (Kaplan's N is 2 d L (2 d + d_ff))": _variant(
        n_fn=lambda cfg: ref.count_params(cfg)["non_embedding"]
    ),
}


def _cases(gen, device):
    rng = _rng(gen)
    small = small_gpt(n_positions=16)
    fixed = [
        ("a small GPT, n_ctx=8, 16 tokens", small, 8, 16),
        ("GPT-2 small, n_ctx=1024, 300B tokens", GPT2_SMALL, 1024, 300 * 10**9),
        ("n_ctx=1 (a single token), n_inner=3", small | {"n_inner": 3}, 1, 1),
        ("no layers (only the output layer)", small | {"n_layer": 0}, 4, 8),
    ]
    for label, cfg, n_ctx, n_tokens in fixed:
        yield Case(label, [Step((cfg, n_ctx, n_tokens))])
    for _ in range(8):
        cfg = random_config(rng)
        n_ctx = rng.randint(1, 8192)
        n_tokens = rng.randint(1, 10**13)
        yield Case(
            f"random config {cfg}, n_ctx={n_ctx}, {n_tokens} tokens", [Step((cfg, n_ctx, n_tokens))]
        )


register_pair(
    name="scaling.flops",
    target="flops",
    reference=ref.flops,
    cases=_cases,
    visible_cases=3,
    misconceptions=MISTAKES,
)
