"""The graded blocks of chapter 07-modern-llms (Modern LLM variants): the reference implementations.

Built on the LLaMA reference (``course.llama``): every block here reuses its RMSNorm, RoPE,
SwiGLU and attention by import or subclass. Shapes: B batch, T new tokens, S keys, D hidden size,
H query heads, G key/value heads, Dh head dim, E experts, k experts per token, W window.

Each block is proven against an independent oracle (Hugging Face ``transformers`` modules with
copied weights, torch's ``scaled_dot_product_attention``) in ``tests/test_modern_llms_oracles.py``;
the checks in ``autograder/chapters/modern_llms/`` grade students against it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from course.llama.blocks import (
    LlamaAttention,
    LlamaConfig,
    LlamaForCausalLM,
    LlamaMLP,
    LlamaModel,
    RMSNorm,
    apply_rope,
    causal_mask,
    kv_cache_bytes,
    rope_cos_sin,
)

# ---------------------------------------------------------------------------------------------
# 1. Mixture of experts


def swiglu_expert(hidden_size: int, intermediate_size: int) -> LlamaMLP:
    """One expert: the LLaMA SwiGLU MLP (``gate_proj``, ``up_proj``, ``down_proj``)."""
    return LlamaMLP(LlamaConfig(hidden_size=hidden_size, intermediate_size=intermediate_size))


class MoE(nn.Module):
    """A sparse mixture-of-experts feed-forward layer with an optional shared expert.

    Router: ``logits = gate(x)`` (E per token), ``probs = softmax(logits)`` in float32 over all E
    experts, the k largest are selected. ``normalize_topk=True`` renormalises the k selected
    probabilities to sum to 1 (Mixtral, Qwen3-MoE: identical to a softmax over the k selected
    logits); ``False`` keeps them as they are (DeepSeek-V2). Each token's output is
    ``sum_j w_j * expert_{i_j}(x)`` plus, if ``shared_intermediate_size > 0``, a shared SwiGLU
    expert that every token uses with weight 1 (DeepSeek-V2/V3).

    forward(x): x (B, T, D) -> (y (B, T, D) in x's dtype, router_logits (B*T, E) float32).
    """

    def __init__(
        self,
        hidden_size: int,
        intermediate_size: int,
        num_experts: int,
        top_k: int,
        shared_intermediate_size: int = 0,
        normalize_topk: bool = True,
    ):
        super().__init__()
        self.num_experts, self.top_k, self.normalize_topk = num_experts, top_k, normalize_topk
        self.gate = nn.Linear(hidden_size, num_experts, bias=False)
        self.experts = nn.ModuleList(
            swiglu_expert(hidden_size, intermediate_size) for _ in range(num_experts)
        )
        self.shared_expert = (
            swiglu_expert(hidden_size, shared_intermediate_size)
            if shared_intermediate_size
            else None
        )

    def route(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (N, D) -> router logits (N, E) float32, weights (N, k) float32, indices (N, k)."""
        logits = F.linear(x.float(), self.gate.weight.float())
        probs = torch.softmax(logits, dim=-1)
        weights, indices = torch.topk(probs, self.top_k, dim=-1)
        if self.normalize_topk:
            weights = weights / weights.sum(dim=-1, keepdim=True)
        return logits, weights, indices

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = x.shape
        flat = x.reshape(-1, shape[-1])
        logits, weights, indices = self.route(flat)
        out = torch.zeros_like(flat)
        for e, expert in enumerate(self.experts):  # loop over experts (gather the tokens of each)
            token, slot = torch.where(indices == e)
            if token.numel() == 0:
                continue
            y = expert(flat[token]) * weights[token, slot, None].to(flat.dtype)
            out = out.index_add(0, token, y)
        if self.shared_expert is not None:
            out = out + self.shared_expert(flat)
        return out.reshape(shape), logits


def load_balancing_loss(
    router_logits: torch.Tensor,
    top_k: int,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Switch Transformer's auxiliary loss, ``E * sum_i f_i * P_i``, for top-k routing.

    router_logits: (N, E); attention_mask: (N,) 1 = real token (padding is left out of both means).
    ``f_i`` = fraction of tokens whose k selected experts include expert i (so sum_i f_i = k);
    ``P_i`` = mean softmax probability of expert i (over all E). Returns a float32 scalar that is
    ``k`` for perfectly uniform routing, as Hugging Face's ``load_balancing_loss_func``; divide by
    k for DeepSeek-V2's normalisation (1 when balanced). Gradients flow through ``P`` only.
    """
    num_experts = router_logits.shape[-1]
    probs = torch.softmax(router_logits.float(), dim=-1)
    selected = torch.topk(probs, top_k, dim=-1).indices
    dispatch = F.one_hot(selected, num_experts).sum(1).float()  # (N, E): 1 if routed to i
    m = (
        torch.ones(probs.shape[0], device=probs.device)
        if attention_mask is None
        else attention_mask.float()
    )
    n = m.sum()
    f = (dispatch * m[:, None]).sum(0) / n
    p = (probs * m[:, None]).sum(0) / n
    return num_experts * (f * p).sum()


# ---------------------------------------------------------------------------------------------
# 2. Multi-head latent attention (DeepSeek-V2/V3)


#: MLA's cache: a list holding the latents so far (one tensor), filled on the first call
Latents = list[Tensor] | None


class MultiHeadLatentAttention(nn.Module):
    """MLA: keys and values are rebuilt from a small cached latent; RoPE lives in a decoupled key.

    Names as Hugging Face's ``DeepseekV3Attention`` (half-split RoPE, ``rope_interleave=False``):

    * queries: ``q_b_proj(q_a_layernorm(q_a_proj(x)))`` with rank ``q_lora_rank`` (or ``q_proj(x)``
      when ``q_lora_rank`` is 0), split per head into ``qk_nope_head_dim`` + ``qk_rope_head_dim``;
    * ``kv_a_proj_with_mqa(x)`` -> latent ``c`` (``kv_lora_rank``) and one shared rope key
      (``qk_rope_head_dim``, same for every head); ``c = kv_a_layernorm(c)``;
    * ``kv_b_proj(c)`` -> per head ``k_nope`` (``qk_nope_head_dim``) and ``v`` (``v_head_dim``);
    * scores ``(q_nope.k_nope + rope(q_pe).rope(k_pe)) / sqrt(qk_nope_head_dim + qk_rope_head_dim)``.

    The cache holds ``cat(c, rope(k_pe))``: kv_lora_rank + qk_rope_head_dim numbers per token and
    layer, whatever the number of heads.
    """

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        q_lora_rank: int,
        kv_lora_rank: int,
        qk_nope_head_dim: int,
        qk_rope_head_dim: int,
        v_head_dim: int,
        eps: float = 1e-6,
    ):
        super().__init__()
        self.h, self.q_lora_rank, self.kv_lora_rank = num_heads, q_lora_rank, kv_lora_rank
        self.nope, self.rope, self.v_dim = qk_nope_head_dim, qk_rope_head_dim, v_head_dim
        qk = qk_nope_head_dim + qk_rope_head_dim
        if q_lora_rank:
            self.q_a_proj = nn.Linear(hidden_size, q_lora_rank, bias=False)
            self.q_a_layernorm = RMSNorm(q_lora_rank, eps)
            self.q_b_proj = nn.Linear(q_lora_rank, num_heads * qk, bias=False)
        else:
            self.q_proj = nn.Linear(hidden_size, num_heads * qk, bias=False)
        self.kv_a_proj_with_mqa = nn.Linear(
            hidden_size, kv_lora_rank + qk_rope_head_dim, bias=False
        )
        self.kv_a_layernorm = RMSNorm(kv_lora_rank, eps)
        self.kv_b_proj = nn.Linear(
            kv_lora_rank, num_heads * (qk_nope_head_dim + v_head_dim), bias=False
        )
        self.o_proj = nn.Linear(num_heads * v_head_dim, hidden_size, bias=False)
        self.scale = qk**-0.5

    def latent(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        """What the cache stores: x (B, T, D) -> (B, T, kv_lora_rank + qk_rope_head_dim)."""
        c, k_pe = self.kv_a_proj_with_mqa(x).split([self.kv_lora_rank, self.rope], dim=-1)
        k_pe = apply_rope(k_pe[:, None], cos, sin)[:, 0]  # one rope key shared by all heads
        return torch.cat([self.kv_a_layernorm(c), k_pe], dim=-1)

    def forward(
        self, x: Tensor, cos: Tensor, sin: Tensor, mask: Tensor | None = None, cache: Latents = None
    ) -> Tensor:
        """x (B, T, D); cos/sin (B, T, qk_rope_head_dim); mask (B, 1, T, S) bool, True = keep.

        ``cache``: a one-element list holding the latents so far (B, S - T, r + dr), or empty.
        """
        b, t, _ = x.shape
        q = (
            self.q_b_proj(self.q_a_layernorm(self.q_a_proj(x)))
            if self.q_lora_rank
            else self.q_proj(x)
        )
        q = q.view(b, t, self.h, self.nope + self.rope).transpose(1, 2)
        q_nope, q_pe = q.split([self.nope, self.rope], dim=-1)
        q_pe = apply_rope(q_pe, cos, sin)
        lat = self.latent(x, cos, sin)
        if cache is not None:
            if cache:
                lat = torch.cat([cache[0], lat], dim=1)
                cache[0] = lat
            else:
                cache.append(lat)
        s = lat.shape[1]
        c, k_pe = lat.split([self.kv_lora_rank, self.rope], dim=-1)
        kv = self.kv_b_proj(c).view(b, s, self.h, self.nope + self.v_dim).transpose(1, 2)
        k_nope, v = kv.split([self.nope, self.v_dim], dim=-1)
        k = torch.cat([k_nope, k_pe[:, None].expand(b, self.h, s, self.rope)], dim=-1)
        qf = torch.cat([q_nope, q_pe], dim=-1)
        scores = (qf @ k.transpose(-1, -2)) * self.scale  # (B, H, T, S)
        if mask is not None:
            scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        probs = torch.softmax(scores.float(), dim=-1).to(v.dtype)
        out = (probs @ v).transpose(1, 2).reshape(b, t, self.h * self.v_dim)
        return self.o_proj(out)


# ---------------------------------------------------------------------------------------------
# 3. Sliding-window attention and its rolling cache


def sliding_window_mask(
    t: int,
    s: int,
    window: int,
    attention_mask: torch.Tensor | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """(1 or B, 1, T, S) bool, True = may attend. New token i sits at position p = S - T + i and
    sees the ``window`` keys p - window + 1 .. p (itself included), as Hugging Face's
    ``sliding_window`` (Mistral, Gemma 2/3); with ``attention_mask`` (B, S) no padding either.
    On ``device`` if given, else on ``attention_mask``'s device, else on the CPU."""
    if device is None and attention_mask is not None:
        device = attention_mask.device
    mask = causal_mask(t, s, attention_mask, device)
    q_pos = torch.arange(s - t, s, device=device)[:, None]
    k_pos = torch.arange(s, device=device)[None, :]
    return mask & (q_pos - k_pos < window)


class RollingKVCache:
    """A KV cache that keeps only the last ``window`` tokens per layer, in a fixed ring buffer.

    The token at absolute position p lives in slot ``p % window`` of a (B, G, window, Dh) buffer
    (zeros until written). ``update(layer, k, v)`` with T new tokens (k, v: (B, G, T, Dh)) returns
    the keys/values the new tokens may attend to, in position order: the last
    ``min(seen, window - 1)`` cached tokens followed by the T new ones; then stores the new tokens
    (only the last ``window`` of them matter). Attend with
    ``sliding_window_mask(T, returned_length, window)``.
    """

    def __init__(self, num_layers: int, window: int):
        self.window = window
        self.k: list[torch.Tensor | None] = [None] * num_layers
        self.v: list[torch.Tensor | None] = [None] * num_layers
        self.seen = [0] * num_layers

    def length(self) -> int:
        """Tokens seen so far (layer 0): the position of the next token."""
        return self.seen[0]

    def kept(self) -> int:
        """How many cached tokens a new token can still see (at most window - 1)."""
        return min(self.seen[0], self.window - 1)

    def slots(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The raw ring buffers of ``layer``, each (B, G, window, Dh)."""
        return self.k[layer], self.v[layer]

    def update(
        self, layer: int, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        w, p0, t = self.window, self.seen[layer], k.shape[2]
        if self.k[layer] is None:
            b, g, _, d = k.shape
            self.k[layer] = k.new_zeros(b, g, w, d)
            self.v[layer] = v.new_zeros(b, g, w, d)
        keep = min(p0, w - 1)
        old = torch.arange(p0 - keep, p0, device=k.device) % w
        k_att = torch.cat([self.k[layer][:, :, old], k], dim=2)
        v_att = torch.cat([self.v[layer][:, :, old], v], dim=2)
        m = min(t, w)
        new = torch.arange(p0 + t - m, p0 + t, device=k.device) % w
        self.k[layer].index_copy_(2, new, k[:, :, t - m :])  # in place: the ring never moves
        self.v[layer].index_copy_(2, new, v[:, :, t - m :])
        self.seen[layer] = p0 + t
        return k_att, v_att


class SlidingWindowLlamaModel(LlamaModel):
    """LLaMA with every layer's attention limited to the last ``window`` tokens.

    With a :class:`RollingKVCache` the cache holds at most ``window`` tokens per layer; with a
    plain ``KVCache`` (or none) it keeps everything and the mask alone limits attention.
    """

    def __init__(self, config: LlamaConfig, window: int):
        super().__init__(config)
        self.window = window

    def forward(self, input_ids, cache=None, attention_mask=None):
        b, t = input_ids.shape
        past = cache.length() if cache is not None else 0
        kept = cache.kept() if isinstance(cache, RollingKVCache) else past
        positions = torch.arange(past, past + t, device=input_ids.device).expand(b, t)
        x = self.embed_tokens(input_ids)
        cos, sin = rope_cos_sin(self.config.head_dim, positions, self.config.rope_theta, x.dtype)
        mask = sliding_window_mask(t, kept + t, self.window, None, x.device)
        for layer in self.layers:
            x = layer(x, cos, sin, mask, cache)
        return self.norm(x)


class SlidingWindowLlamaForCausalLM(LlamaForCausalLM):
    """:class:`course.llama.LlamaForCausalLM` whose model attends within a window; same weights."""

    def __init__(self, config: LlamaConfig, window: int, rolling: bool = True):
        super().__init__(config)
        self.model = SlidingWindowLlamaModel(config, window)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        self.window, self.rolling = window, rolling

    def new_cache(self):
        if self.rolling:
            return RollingKVCache(self.config.num_hidden_layers, self.window)
        return super().new_cache()


def nope_layers(num_layers: int, interval: int = 4) -> list[bool]:
    """Which layers use RoPE (True) and which none (False, NoPE), as ``SmolLM3Config``'s
    ``no_rope_layers`` (which holds 1 for a RoPE layer despite its name): layer i is a NoPE layer
    when ``(i + 1) % interval == 0``, i.e. layers interval - 1, 2 * interval - 1, ... (0-based)."""
    return [(i + 1) % interval != 0 for i in range(num_layers)]


class NoPEAttention(LlamaAttention):
    """LLaMA attention that rotates queries and keys only when ``use_rope`` (SmolLM3Attention's
    ``use_rope``); a NoPE layer (``use_rope=False``) attends by content, its causal mask kept."""

    def __init__(self, config: LlamaConfig, layer_idx: int = 0, use_rope: bool = True):
        super().__init__(config, layer_idx)
        self.use_rope = use_rope

    def forward(self, x, cos, sin, mask=None, cache=None):
        """As :meth:`LlamaAttention.forward`; cos/sin are ignored when ``use_rope`` is False."""
        if not self.use_rope:  # the identity rotation: apply_rope(q, 1, 0) is q exactly
            cos, sin = torch.ones_like(cos), torch.zeros_like(sin)
        return super().forward(x, cos, sin, mask, cache)


class NoPELlamaModel(LlamaModel):
    """LLaMA where every ``interval``-th layer (layers interval-1, 2*interval-1, ...) uses no
    positional encoding (NoPE), as SmolLM3 (``no_rope_layer_interval = 4``); the others use RoPE.

    A NoPE layer is the same block given cos = 1 and sin = 0, i.e. the identity rotation.
    """

    def __init__(self, config: LlamaConfig, interval: int = 4):
        super().__init__(config)
        self.use_rope = nope_layers(config.num_hidden_layers, interval)

    def forward(self, input_ids, cache=None, attention_mask=None):
        b, t = input_ids.shape
        past = cache.length() if cache is not None else 0
        positions = torch.arange(past, past + t, device=input_ids.device).expand(b, t)
        x = self.embed_tokens(input_ids)
        cos, sin = rope_cos_sin(self.config.head_dim, positions, self.config.rope_theta, x.dtype)
        one, zero = torch.ones_like(cos), torch.zeros_like(sin)
        mask = causal_mask(t, past + t, attention_mask, x.device)
        for layer, rope in zip(self.layers, self.use_rope):
            x = layer(x, cos if rope else one, sin if rope else zero, mask, cache)
        return self.norm(x)


class NoPELlamaForCausalLM(LlamaForCausalLM):
    """:class:`course.llama.LlamaForCausalLM` with SmolLM3's NoPE layers; same weights."""

    def __init__(self, config: LlamaConfig, interval: int = 4):
        super().__init__(config)
        self.model = NoPELlamaModel(config, interval)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight


# ---------------------------------------------------------------------------------------------
# 4. QK-norm attention and the OLMo 2 post-norm block


class QKNormAttention(LlamaAttention):
    """LLaMA attention with RMSNorm on queries and keys *before* RoPE.

    ``per_head=True`` (Qwen3, Gemma 3): ``q_norm``/``k_norm`` have Dh weights, applied to each head.
    ``per_head=False`` (OLMo 2): ``q_norm`` has H*Dh and ``k_norm`` G*Dh weights, applied to the whole
    projection before it is split into heads.
    """

    def __init__(self, config: LlamaConfig, layer_idx: int = 0, per_head: bool = True):
        super().__init__(config, layer_idx)
        self.per_head = per_head
        nq = self.head_dim if per_head else self.h * self.head_dim
        nk = self.head_dim if per_head else self.g * self.head_dim
        self.q_norm = RMSNorm(nq, config.rms_norm_eps)
        self.k_norm = RMSNorm(nk, config.rms_norm_eps)

    def forward(self, x, cos, sin, mask=None, cache=None):
        """x: (B, T, D); cos/sin: (B, T, Dh); mask: (B, 1, T, S) bool, True = keep."""
        b, t, _ = x.shape
        q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        if not self.per_head:
            q, k = self.q_norm(q), self.k_norm(k)
        q = q.view(b, t, self.h, self.head_dim).transpose(1, 2)
        k = k.view(b, t, self.g, self.head_dim).transpose(1, 2)
        v = v.view(b, t, self.g, self.head_dim).transpose(1, 2)
        if self.per_head:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is not None:
            k, v = cache.update(self.layer_idx, k, v)
        return self.o_proj(self.attend(q, k, v, mask).transpose(1, 2).reshape(b, t, -1))

    def attend(self, q, k, v, mask):
        """(B, H, T, Dh), (B, G, S, Dh) x2 -> (B, H, T, Dh): the parent's fused or explicit path."""
        if self.fused:
            return self._fused(q, k, v, mask)
        k, v = self.expand_kv(k), self.expand_kv(v)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        if mask is not None:
            scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        return torch.softmax(scores.float(), dim=-1).to(q.dtype) @ v


class PostNormDecoderLayer(nn.Module):
    """OLMo 2's block: the norm closes each residual *branch*, the stream itself is never normed.

    h = x + post_attention_layernorm(self_attn(x)); out = h + post_feedforward_layernorm(mlp(h)).
    Compare LLaMA's pre-norm x + attn(norm(x)) and the 2017 post-LN norm(x + attn(x)).
    """

    def __init__(self, config: LlamaConfig, layer_idx: int = 0, per_head: bool = True):
        super().__init__()
        self.self_attn = QKNormAttention(config, layer_idx, per_head)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.mlp = LlamaMLP(config)
        self.post_feedforward_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)

    def forward(self, x, cos, sin, mask=None, cache=None):
        h = x + self.post_attention_layernorm(self.self_attn(x, cos, sin, mask, cache))
        return h + self.post_feedforward_layernorm(self.mlp(h))


class PostLNDecoderLayer(nn.Module):
    """The 2017 Transformer's placement (with RMSNorm): norm(x + attn(x)), then norm(h + mlp(h))."""

    def __init__(self, config: LlamaConfig, layer_idx: int = 0):
        super().__init__()
        self.self_attn = LlamaAttention(config, layer_idx)
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.mlp = LlamaMLP(config)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)

    def forward(self, x, cos, sin, mask=None, cache=None):
        h = self.input_layernorm(x + self.self_attn(x, cos, sin, mask, cache))
        return self.post_attention_layernorm(h + self.mlp(h))


# ---------------------------------------------------------------------------------------------
# 5. KV-cache bytes per token for each attention type


def cache_bytes_per_token(
    attention: str,
    num_hidden_layers: int,
    num_key_value_heads: int = 0,
    head_dim: int = 0,
    kv_lora_rank: int = 0,
    qk_rope_head_dim: int = 0,
    bytes_per: int = 2,
) -> int:
    """Cache bytes one token adds, over all layers.

    MHA/GQA/MQA: ``kv_cache_bytes`` (course.llama.blocks, the one definition) for one token:
    2 x G x Dh x bytes x layers (G = H for MHA, 1 for MQA). MLA: (kv_lora_rank + qk_rope_head_dim) x
    bytes x layers: one latent and one shared rope key, no factor 2 and no head count.
    """
    if attention == "mla":
        return (kv_lora_rank + qk_rope_head_dim) * bytes_per * num_hidden_layers
    return kv_cache_bytes(1, 1, num_key_value_heads, head_dim, bytes_per, num_hidden_layers)
