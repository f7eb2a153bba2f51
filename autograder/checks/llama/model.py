"""``llama.decoder_layer, llama.model, llama.generate``: the decoder layer, the full model (tied or untied head) and generation.

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

import torch

from autograder.checks.llama._common import (
    HEADS,
    LAYER_PARTS,
    MODEL_PARTS,
    Attention,
    DecoderLayer,
    LlamaForCausalLM,
    _both,
    _model_init,
    _randn,
    _ri,
)
from autograder.checks.spec import Case, Step, call_case
from autograder.checks.values import NewCache
from course import llama as ref
from coursekit.hooks import generated_ids


class _PostNorm(DecoderLayer):
    def __init__(self, hidden_size, intermediate_size, num_heads, num_kv_heads, eps=1e-5):
        super().__init__(hidden_size, intermediate_size, num_heads, num_kv_heads, eps)
        self.self_attn = Attention(hidden_size, num_heads, num_kv_heads)  # the student's contract

    def forward(self, x, cos, sin, cache=None, layer_idx=0):
        h = self.input_layernorm(x + self.self_attn(x, cos, sin))
        return self.post_attention_layernorm(h + self.mlp(h))


def _decoder_cases(gen, device, visible=False):
    n = 1 if visible else 4
    for i in range(n):
        h, g = HEADS[i]
        dh = 4
        b, t = _ri(gen, 1, 2), [4, 1, 6, 3][i]
        x = _randn(gen, b, t, h * dh)
        cos, sin = ref.rope_cos_sin(dh, torch.arange(t).expand(b, t).contiguous())
        init = dict(hidden_size=h * dh, intermediate_size=24, num_heads=h, num_kv_heads=g, eps=1e-5)
        grads = () if visible else (0,)
        yield call_case(
            f"heads {h}/{g}, x{tuple(x.shape)}", x, cos, sin, init=init, grads=grads, device=device
        )


def _model_cases(gen, device, visible=False):
    n = 1 if visible else 3
    for i in range(n):
        init = _model_init(i)
        b, t = _ri(gen, 1, 2), [6, 1, 9][i]
        ids = torch.randint(0, 61, (b, t), generator=gen)
        label = (
            f"full forward, heads {init['num_heads']}/{init['num_kv_heads']}, ids{tuple(ids.shape)}"
        )
        yield call_case(label, ids, init=init, param_grads=not visible, device=device)
    for i in range(1 if visible else 3):
        init = _model_init(i + 3)
        b, p = _ri(gen, 1, 2), [4, 1, 7][i]
        ids = torch.randint(0, 61, (b, p + 3), generator=gen)
        steps = [Step((ids[:, :p], NewCache()))] + [
            Step((ids[:, j : j + 1], NewCache())) for j in range(p, p + 3)
        ]
        yield Case(
            f"prefill {p} tokens, then 3 one-token decode steps with the cache "
            f"(heads {init['num_heads']}/{init['num_kv_heads']})",
            steps,
            init=init,
            device=device,
        )


def _generate_cases(gen, device, visible=False):
    n = 1 if visible else 3
    for i in range(n):
        init = _model_init(i)
        ids = torch.randint(0, 61, (_ri(gen, 1, 2), [3, 1, 5][i]), generator=gen)
        yield Case(
            f"greedy, 6 new tokens, prompt {tuple(ids.shape)}",
            [Step((ids, 6), {"temperature": 0.0}, method="generate")],
            init=init,
            device=device,
        )
    if not visible:
        init = _model_init(1)
        ids = torch.randint(0, 61, (2, 3), generator=gen)
        yield Case(
            "top_k=1 at temperature 50 must still equal greedy",
            [Step((ids, 5), {"temperature": 50.0, "top_k": 1, "seed": 3}, method="generate")],
            init=init,
            device=device,
        )
        sampled = {"temperature": 1.0, "top_k": 20, "top_p": 0.9, "seed": 11}
        yield Case(
            "sampling twice with the same seed must give the same tokens",
            [Step((ids, 8), dict(sampled), method="generate") for _ in range(2)],
            init=init,
            device=device,
        )


_compare_generate = generated_ids()  # coursekit.hooks: shared with the kit


_both(
    "llama.decoder_layer",
    "DecoderLayer",
    DecoderLayer,
    _decoder_cases,
    misconceptions={"post-norm (norm(x + f(x))) instead of pre-norm (x + f(norm(x)))": _PostNorm},
    submodules=LAYER_PARTS,
)
_both("llama.model", "LlamaForCausalLM", LlamaForCausalLM, _model_cases, submodules=MODEL_PARTS)
_both(
    "llama.generate",
    "LlamaForCausalLM",
    LlamaForCausalLM,
    _generate_cases,
    compare=_compare_generate,
    submodules=MODEL_PARTS,
)
