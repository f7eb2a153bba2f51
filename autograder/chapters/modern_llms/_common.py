"""Shared by the modern-LLM checks: contract adapters over the reference and random helpers.

The student-facing contracts use plain keyword arguments; the adapters build the reference
(course/modern_llms/blocks.py, proven against Hugging Face in tests/test_modern_llms_oracles.py) with the
same signatures. Parameter names follow Hugging Face (Mixtral/DeepSeek experts as ``gate_proj``,
``up_proj``, ``down_proj``; DeepSeek-V3's MLA names; Qwen3's ``q_norm``/``k_norm``; OLMo 2's
``post_attention_layernorm``/``post_feedforward_layernorm``; SmolLM3's ``use_rope``).
"""

from __future__ import annotations

import torch

from autograder.chapters.llama._common import llama_config
from autograder.checks.spec import rand_int
from course import llama
from course import modern_llms as ref
from coursekit.compare import DEFAULT_TOL


def _randn(gen, *shape, scale=1.0, dtype=torch.float32):
    return (torch.randn(shape, generator=gen) * scale).to(dtype)


def _rope(head_dim: int, b: int, t: int, offset: int = 0, dtype=torch.float32):
    """cos, sin (B, T, head_dim) for positions offset .. offset + T - 1."""
    positions = torch.arange(offset, offset + t).expand(b, t).contiguous()
    cos, sin = llama.rope_cos_sin(head_dim, positions)
    return cos.to(dtype), sin.to(dtype)


_BF16 = {**DEFAULT_TOL, torch.bfloat16: (3e-2, 3e-2)}

# the reference's public names, re-exported for the check modules
MoE = ref.MoE
RollingKVCache = ref.RollingKVCache
load_balancing_loss = ref.load_balancing_loss
sliding_window_mask = ref.sliding_window_mask
nope_layers = ref.nope_layers


def _config(hidden_size, num_heads, num_kv_heads, intermediate_size=32, eps=1e-6):
    return llama_config(hidden_size, num_heads, num_kv_heads, intermediate_size, eps)


class MultiHeadLatentAttention(ref.MultiHeadLatentAttention):
    """Contract: forward(x, cos, sin) with the causal mask built inside; latent(x, cos, sin)."""

    def forward(self, x, cos, sin):
        t = x.shape[1]
        return super().forward(x, cos, sin, llama.causal_mask(t, t, None, x.device))


class QKNormAttention(ref.QKNormAttention):
    """Contract: per-head q_norm/k_norm (Qwen3, Gemma 3), head_dim = hidden_size // num_heads."""

    fused = False  # grade against the explicit softmax(QK^T / sqrt(d)) V path

    def __init__(self, hidden_size: int, num_heads: int, num_kv_heads: int, eps: float = 1e-6):
        super().__init__(_config(hidden_size, num_heads, num_kv_heads, eps=eps), 0, per_head=True)

    def forward(self, x, cos, sin, attention_mask=None):
        t = x.shape[1]
        return super().forward(x, cos, sin, llama.causal_mask(t, t, attention_mask, x.device))


class NoPEAttention(ref.NoPEAttention):
    """Contract: SmolLM3's attention, q and k rotated only when ``use_rope``; head_dim = D // H."""

    fused = False  # grade against the explicit softmax(QK^T / sqrt(d)) V path

    def __init__(self, hidden_size: int, num_heads: int, num_kv_heads: int, use_rope: bool = True):
        super().__init__(_config(hidden_size, num_heads, num_kv_heads), 0, use_rope)

    def forward(self, x, cos, sin, attention_mask=None):
        t = x.shape[1]
        return super().forward(x, cos, sin, llama.causal_mask(t, t, attention_mask, x.device))


class PostNormBlock(ref.PostNormDecoderLayer):
    """Contract: OLMo 2's block with ``self_attn`` a QKNormAttention (the contract of part 6,
    called as ``self_attn(x, cos, sin)``) and ``mlp`` a SwiGLU."""

    def __init__(self, hidden_size, intermediate_size, num_heads, num_kv_heads, eps=1e-6):
        cfg = _config(hidden_size, num_heads, num_kv_heads, intermediate_size, eps)
        super().__init__(cfg, 0, per_head=True)
        self.self_attn = QKNormAttention(hidden_size, num_heads, num_kv_heads, eps)

    def forward(self, x, cos, sin):
        h = x + self.post_attention_layernorm(self.self_attn(x, cos, sin))
        return h + self.post_feedforward_layernorm(self.mlp(h))


_ri = rand_int
