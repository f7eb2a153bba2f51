"""``llama.decoder_layer, llama.model, llama.generate``: the decoder layer, the full model (tied or untied head) and generation.

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

import torch

from autograder.chapters.llama._common import (
    LAYER_PARTS,
    MODEL_PARTS,
    Attention,
    DecoderLayer,
    LlamaForCausalLM,
    _model_init,
    _randn,
    _ri,
)
from autograder.checks.spec import Case, Step, call_case, register_pair
from course import llama as ref
from coursekit.hooks import generated_ids
from coursekit.values import NewCache


class _PostNorm(DecoderLayer):
    def __init__(self, hidden_size, intermediate_size, num_heads, num_kv_heads, eps=1e-5):
        super().__init__(hidden_size, intermediate_size, num_heads, num_kv_heads, eps)
        self.self_attn = Attention(hidden_size, num_heads, num_kv_heads)  # the student's contract

    def forward(self, x, cos, sin, cache=None, layer_idx=0):
        h = self.input_layernorm(x + self.self_attn(x, cos, sin))
        return self.post_attention_layernorm(h + self.mlp(h))


#: (query heads, kv heads), length T, shown to the student (head dim 4, batch drawn per case)
DECODER_CASES = [((4, 4), 4, True), ((6, 2), 1, False), ((3, 1), 6, False), ((9, 3), 3, False)]


def _decoder_cases(gen, device, visible=False):
    for (h, g), t, shown in DECODER_CASES:
        if visible and not shown:
            continue
        dh = 4
        b = _ri(gen, 1, 2)
        x = _randn(gen, b, t, h * dh)
        cos, sin = ref.rope_cos_sin(dh, torch.arange(t).expand(b, t).contiguous())
        init = dict(hidden_size=h * dh, intermediate_size=24, num_heads=h, num_kv_heads=g, eps=1e-5)
        grads = () if visible else (0,)
        yield call_case(
            f"heads {h}/{g}, x{tuple(x.shape)}", x, cos, sin, init=init, grads=grads, device=device
        )


#: model configuration (``_model_init``), prompt length, shown: full forwards, then a prefill of
#: that length followed by 3 one-token decode steps with the cache
FORWARD_CASES = [(0, 6, True), (1, 1, False), (2, 9, False)]
CACHED_CASES = [(3, 4, True), (4, 1, False), (5, 7, False)]


def _model_cases(gen, device, visible=False):
    for config, t, shown in FORWARD_CASES:
        if visible and not shown:
            continue
        init = _model_init(config)
        ids = torch.randint(0, 61, (_ri(gen, 1, 2), t), generator=gen)
        label = (
            f"full forward, heads {init['num_heads']}/{init['num_kv_heads']}, ids{tuple(ids.shape)}"
        )
        yield call_case(label, ids, init=init, param_grads=not visible, device=device)
    for config, p, shown in CACHED_CASES:
        if visible and not shown:
            continue
        init = _model_init(config)
        ids = torch.randint(0, 61, (_ri(gen, 1, 2), p + 3), generator=gen)
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


#: model configuration, prompt length, shown: greedy generation of 6 new tokens
GREEDY_CASES = [(0, 3, True), (1, 1, False), (2, 5, False)]


def _generate_cases(gen, device, visible=False):
    for config, t, shown in GREEDY_CASES:
        if visible and not shown:
            continue
        init = _model_init(config)
        ids = torch.randint(0, 61, (_ri(gen, 1, 2), t), generator=gen)
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


register_pair(
    name="llama.decoder_layer",
    target="DecoderLayer",
    reference=DecoderLayer,
    cases=_decoder_cases,
    misconceptions={"post-norm (norm(x + f(x))) instead of pre-norm (x + f(norm(x)))": _PostNorm},
    submodules=LAYER_PARTS,
)
register_pair(
    name="llama.model",
    target="LlamaForCausalLM",
    reference=LlamaForCausalLM,
    cases=_model_cases,
    submodules=MODEL_PARTS,
)
register_pair(
    name="llama.generate",
    target="LlamaForCausalLM",
    reference=LlamaForCausalLM,
    cases=_generate_cases,
    compare=_compare_generate,
    submodules=MODEL_PARTS,
)
