"""Shared by the LLaMA checks: contract adapters over the reference and random helpers.

The student-facing contracts use plain keyword arguments; the adapters build the reference
(course/llama/blocks.py, proven against Hugging Face in tests/) with the same signatures. Parameter names
follow Hugging Face's Llama so that real weights load into students' models.
"""

from __future__ import annotations

import torch

from autograder.checks.inject import Submodule
from autograder.checks.spec import Case, Step, rand_int, randn
from course import llama as ref
from coursekit.compare import DEFAULT_TOL

HEADS = [(4, 4), (6, 2), (3, 1), (9, 3), (5, 5), (8, 1)]


class RMSNorm(ref.RMSNorm):
    def __init__(self, hidden_size: int, eps: float = 1e-6):
        super().__init__(hidden_size, eps)


class SwiGLU(ref.LlamaMLP):
    def __init__(self, hidden_size: int, intermediate_size: int):
        super().__init__(
            ref.LlamaConfig(hidden_size=hidden_size, intermediate_size=intermediate_size)
        )


def llama_config(hidden_size, num_heads, num_kv_heads, intermediate_size=32, eps=1e-5, **kw):
    """The reference's config from the students' constructor arguments (also used by ch 07)."""
    return ref.LlamaConfig(
        hidden_size=hidden_size,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        intermediate_size=intermediate_size,
        rms_norm_eps=eps,
        **kw,
    )


_config = llama_config


def _mask(x, cache, attention_mask=None, mask=None):
    """``mask`` if the caller (a reference layer) passed one, else the causal (and padding) mask
    for the new tokens of ``x`` (B, T, D) after what ``cache`` holds."""
    if mask is not None:
        return mask
    t = x.shape[1]
    return ref.causal_mask(
        t, t + (cache.length() if cache is not None else 0), attention_mask, x.device
    )


class Attention(ref.LlamaAttention):
    fused = False  # grade against the explicit softmax(QK^T / sqrt(d)) V path

    def __init__(self, hidden_size: int, num_heads: int, num_kv_heads: int):
        super().__init__(_config(hidden_size, num_heads, num_kv_heads))

    def forward(self, x, cos, sin, attention_mask=None, cache=None, layer_idx=0, mask=None):
        """The student's contract; ``mask`` (a full boolean mask) is how the reference's own
        layers call it (when grading, the composite's reference sub-blocks answer both)."""
        return super().forward(x, cos, sin, _mask(x, cache, attention_mask, mask), cache)


class DecoderLayer(ref.LlamaDecoderLayer):
    def __init__(self, hidden_size, intermediate_size, num_heads, num_kv_heads, eps=1e-5):
        super().__init__(_config(hidden_size, num_heads, num_kv_heads, intermediate_size, eps))

    def forward(self, x, cos, sin, cache=None, layer_idx=0, mask=None):
        """The student's contract, or the reference's own call with a full boolean ``mask``."""
        return super().forward(x, cos, sin, _mask(x, cache, mask=mask), cache)


class KVCache(ref.KVCache):
    pass


class LlamaForCausalLM(ref.LlamaForCausalLM):
    def __init__(
        self,
        vocab_size,
        hidden_size,
        intermediate_size,
        num_layers,
        num_heads,
        num_kv_heads,
        rope_theta=10000.0,
        eps=1e-5,
        tie_word_embeddings=False,
    ):
        super().__init__(
            ref.LlamaConfig(
                vocab_size=vocab_size,
                hidden_size=hidden_size,
                intermediate_size=intermediate_size,
                num_hidden_layers=num_layers,
                num_attention_heads=num_heads,
                num_key_value_heads=num_kv_heads,
                rope_theta=rope_theta,
                rms_norm_eps=eps,
                tie_word_embeddings=tie_word_embeddings,
            )
        )

    def forward(self, input_ids, cache=None):
        return super().forward(input_ids, cache)

    def generate(
        self, input_ids, max_new_tokens, temperature=0.0, top_k=None, top_p=None, seed=None
    ):
        return super().generate(
            input_ids, max_new_tokens, True, None, temperature, top_k, top_p, seed
        )


def rmsnorm_triton(x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    x32 = x.float()
    return (weight * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)).to(
        x.dtype
    )


_BF16 = {**DEFAULT_TOL, torch.bfloat16: (3e-2, 3e-2)}


def _model_init(i):
    h, g = HEADS[i % len(HEADS)]
    return {
        "vocab_size": 61,
        "hidden_size": h * 4,
        "intermediate_size": 20,
        "num_layers": 2,
        "num_heads": h,
        "num_kv_heads": g,
        "rope_theta": [10000.0, 500000.0][i % 2],
        "eps": 1e-5,
        "tie_word_embeddings": i % 2 == 1,
    }


def _norm(init):
    return RMSNorm(init["hidden_size"], init["eps"])


def _attention(init):
    return Attention(init["hidden_size"], init["num_heads"], init["num_kv_heads"])


def _swiglu(init):
    return SwiGLU(init["hidden_size"], init["intermediate_size"])


def _layer(init):
    keys = ("hidden_size", "intermediate_size", "num_heads", "num_kv_heads", "eps")
    return DecoderLayer(**{k: init[k] for k in keys})


#: one mistake, one deduction: a layer is graded with the reference norms, attention and MLP
LAYER_PARTS = {
    "input_layernorm": Submodule("llama.rmsnorm", _norm),
    "self_attn": Submodule("llama.attention", _attention),
    "post_attention_layernorm": Submodule("llama.rmsnorm", _norm),
    "mlp": Submodule("llama.swiglu", _swiglu),
}
#: ... and the model with the reference layers and final norm (a call with a KV cache runs the
#: student's own layer, whose norms and MLP are still the reference's)
MODEL_PARTS = {
    "model.layers.*": Submodule("llama.decoder_layer", _layer),
    "model.norm": Submodule("llama.rmsnorm", _norm),
    **{
        f"model.layers.*.{k}": v
        for k, v in LAYER_PARTS.items()
        if k != "self_attn"  # attention with a cache is the student's (the cache is their object)
    },
}


_ri, _randn = rand_int, randn


def attention_case(
    gen, device, x, cos, sin, heads, *, padded=False, bf16=False, grads=True, label=""
) -> Case:
    """One self-attention case on ``x`` (B, T, H * Dh) with RoPE tables ``cos``, ``sin``.

    ``padded``: the first row is left-padded (padded keys must get no attention); ``bf16``: inputs
    and parameters in bfloat16. Gradients (inputs and parameters) only in float32 without padding:
    a fully masked row's value is unspecified (it may be NaN), and its output gradient is zero.
    """
    b, t = x.shape[:2]
    h, g = heads
    kwargs: dict = {}
    label = label or f"heads {h}, kv heads {g}, head_dim {x.shape[-1] // h}, x{tuple(x.shape)}"
    if padded:
        pad = torch.ones(b, t, dtype=torch.long)
        pad[0, : rand_int(gen, 1, t - 1)] = 0
        kwargs["attention_mask"] = pad
        label += ", left-padded batch"
    if bf16:
        x, cos, sin = x.bfloat16(), cos.bfloat16(), sin.bfloat16()
        label += ", bfloat16"
    grad = (0,) if grads and not bf16 and not padded else ()
    return Case(
        label,
        [Step((x, cos, sin), kwargs)],
        init={"hidden_size": x.shape[-1], "num_heads": h, "num_kv_heads": g},
        grad_wrt=grad,
        param_grads=bool(grad),
        device=device,
        dtype="bfloat16" if bf16 else None,
        cotangent_mask=kwargs["attention_mask"][..., None] if padded else None,
    )


#: a row of an attention case table: (query heads, kv heads), head dim, length T, variant ("",
#: "padded": the first row left-padded, hidden only; "bf16": inputs and parameters in bfloat16),
#: shown to the student (a visible case too)
AttentionRow = tuple[tuple[int, int], int, int, str, bool]


def attention_cases(
    gen,
    device,
    visible: bool = False,
    *,
    table: list[AttentionRow],
    max_batch: int = 3,
    scale: float = 1.0,
):
    """Self-attention cases at positions 0..T-1, one per row of ``table`` (the rows marked shown
    when ``visible``), each on a random batch of 1 to ``max_batch``; hidden cases compare
    gradients where :func:`attention_case` allows."""
    for heads, dh, t, variant, shown in table:
        if visible and not shown:
            continue
        h, _ = heads
        b = rand_int(gen, 1, max_batch)
        x = randn(gen, b, t, h * dh, scale=scale)
        cos, sin = ref.rope_cos_sin(dh, torch.arange(t).expand(b, t).contiguous())
        hidden = not visible
        padded, bf16 = hidden and variant == "padded", variant == "bf16"
        yield attention_case(
            gen, device, x, cos, sin, heads, padded=padded, bf16=bf16, grads=hidden
        )
