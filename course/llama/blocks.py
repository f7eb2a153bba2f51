"""The graded blocks of chapter 03-llama: the LLaMA reference model, parameter names as Hugging Face's.

Shapes in every docstring; also the one definition of the KV-cache size (:func:`kv_cache_bytes`).

B batch, T new tokens, S cached + new tokens, D hidden size, H query heads, G key/value heads,
Dh head dim, F feed-forward size, V vocabulary. RoPE uses the half-split convention (pairs
(i, i + Dh/2)), as Hugging Face's Llama; GGUF files store q/k permuted for the interleaved
convention, which the loader undoes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


def kv_cache_bytes(
    batch: int,
    seq_len: int,
    num_key_value_heads: int,
    head_dim: int,
    bytes_per: int,
    num_hidden_layers: int,
) -> int:
    """Bytes of a KV cache: 2 (K and V) x B x L x H_kv x D_h x P x N.

    The single definition used by the book, the reference models (``course.llama``,
    ``course.modern_llms``), the catalogues and the checks.
    """
    return 2 * batch * seq_len * num_key_value_heads * head_dim * bytes_per * num_hidden_layers


@dataclass
class LlamaConfig:
    vocab_size: int = 32000
    hidden_size: int = 4096
    intermediate_size: int = 11008
    num_hidden_layers: int = 32
    num_attention_heads: int = 32
    head_dim: int | None = None
    num_key_value_heads: int = 32
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    max_position_embeddings: int = 4096
    tie_word_embeddings: bool = False

    def __post_init__(self) -> None:
        if self.head_dim is None:  # as Hugging Face's LlamaConfig: D / H unless given
            self.head_dim = self.hidden_size // self.num_attention_heads


class RMSNorm(nn.Module):
    """y = x / sqrt(mean(x^2) + eps) * weight, computed in float32, returned in x's dtype. x: (..., D)."""

    def __init__(self, hidden_size: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(hidden_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        normed = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return (self.weight * normed.to(x.dtype)).to(x.dtype)  # HF order: cast, then scale


def rope_cos_sin(
    head_dim: int,
    positions: torch.Tensor,
    theta: float = 10000.0,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin of shape (*positions.shape, Dh): angle_{p,i} = p * theta^(-2i/Dh), halves repeated."""
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = positions.float()[..., None] * inv_freq.to(positions.device)  # (..., Dh/2)
    emb = torch.cat([angles, angles], dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate x: (B, H, T, Dh) by cos/sin: (B, T, Dh) (or (T, Dh)), half-split pairs."""
    if cos.dim() == 3:
        cos, sin = cos[:, None], sin[:, None]
    return x * cos + rotate_half(x) * sin


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """(B, G, S, Dh) -> (B, G * n_rep, S, Dh); query head h uses kv head h // n_rep."""
    if n_rep == 1:
        return x
    b, g, s, d = x.shape
    return x[:, :, None].expand(b, g, n_rep, s, d).reshape(b, g * n_rep, s, d)


def causal_mask(
    t: int,
    s: int,
    attention_mask: torch.Tensor | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """(1 or B, 1, T, S) bool, True = may attend: new token i (at position S - T + i) sees keys <= it,
    and, with ``attention_mask`` (B, S) (1 = real token), no padding."""
    mask = torch.ones(t, s, dtype=torch.bool, device=device).tril(s - t)[None, None]
    if attention_mask is not None:
        mask = mask & attention_mask[:, None, None, :s].bool()
    return mask


class KVCache:
    """Per-layer lists of keys/values, each (B, G, S, Dh), grown by concatenation."""

    def __init__(self, num_layers: int):
        self.k: list[torch.Tensor | None] = [None] * num_layers
        self.v: list[torch.Tensor | None] = [None] * num_layers

    def length(self) -> int:
        return 0 if self.k[0] is None else self.k[0].shape[2]

    def update(
        self, layer: int, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.k[layer] is not None:
            k = torch.cat([self.k[layer], k], dim=2)
            v = torch.cat([self.v[layer], v], dim=2)
        self.k[layer], self.v[layer] = k, v
        return k, v


class LlamaAttention(nn.Module):
    #: use torch's fused scaled_dot_product_attention; False runs the explicit softmax(QK^T/sqrt(d))V
    fused: bool = True

    def __init__(self, config: LlamaConfig, layer_idx: int = 0):
        super().__init__()
        self.layer_idx = layer_idx
        self.h, self.g, self.head_dim = (
            config.num_attention_heads,
            config.num_key_value_heads,
            config.head_dim,
        )
        d = config.hidden_size
        self.q_proj = nn.Linear(d, self.h * self.head_dim, bias=False)
        self.k_proj = nn.Linear(d, self.g * self.head_dim, bias=False)
        self.v_proj = nn.Linear(d, self.g * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.h * self.head_dim, d, bias=False)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        mask: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        """x: (B, T, D); cos/sin: (B, T, Dh) for the new positions; mask: (B, 1, T, S) bool, True = keep."""
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.h, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.g, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.g, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is not None:
            k, v = cache.update(self.layer_idx, k, v)
        if self.fused:
            out = self._fused(q, k, v, mask)
        else:
            k, v = self.expand_kv(k), self.expand_kv(v)
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.head_dim)  # (B, H, T, S)
            if mask is not None:
                scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
            probs = torch.softmax(scores.float(), dim=-1).to(q.dtype)
            out = probs @ v
        return self.o_proj(out.transpose(1, 2).reshape(b, t, self.h * self.head_dim))

    def expand_kv(self, x: torch.Tensor) -> torch.Tensor:
        """(B, G, S, Dh) -> (B, H, S, Dh): query head h uses key/value head h // (H // G).

        A method (not a module global) so that a variant overrides it in a subclass, as Hugging
        Face specialises ``LlamaAttention``, without touching state other threads share.
        """
        return repeat_kv(x, self.h // self.g)

    def _fused(self, q, k, v, mask):
        """The same attention through torch's fused kernel (no repeat_kv copy, no score tensor)."""
        t, s = q.shape[2], k.shape[2]
        if mask is not None and bool(mask.all()):
            mask = None  # one-token decode with no padding: nothing to mask
        if (
            mask is not None
            and t == s
            and bool((mask == causal_mask(t, s, None, mask.device)).all())
        ):
            # exactly the causal mask (no padding): the fused kernel's own causal path
            return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        if mask is not None:  # rows with nothing to attend to (left padding) would give NaN
            mask = mask | ~mask.any(dim=-1, keepdim=True)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)


class LlamaMLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x)); x: (..., D) -> (..., D)."""

    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size, bias=False)
        self.down_proj = nn.Linear(config.intermediate_size, config.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    """Pre-norm block: x + attn(norm(x)), then h + mlp(norm(h))."""

    def __init__(self, config: LlamaConfig, layer_idx: int = 0):
        super().__init__()
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.self_attn = LlamaAttention(config, layer_idx)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.mlp = LlamaMLP(config)

    def forward(self, x, cos, sin, mask=None, cache=None):
        h = x + self.self_attn(self.input_layernorm(x), cos, sin, mask=mask, cache=cache)
        return h + self.mlp(self.post_attention_layernorm(h))


class LlamaModel(nn.Module):
    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = nn.ModuleList(
            LlamaDecoderLayer(config, i) for i in range(config.num_hidden_layers)
        )
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)

    def forward(
        self,
        input_ids: torch.Tensor,
        cache: KVCache | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """input_ids: (B, T) -> hidden states (B, T, D). attention_mask: (B, S) 1 = real token."""
        b, t = input_ids.shape
        past = cache.length() if cache is not None else 0
        positions = torch.arange(past, past + t, device=input_ids.device).expand(b, t)
        x = self.embed_tokens(input_ids)
        cos, sin = rope_cos_sin(self.config.head_dim, positions, self.config.rope_theta, x.dtype)
        mask = causal_mask(t, past + t, attention_mask, x.device)
        for layer in self.layers:
            x = layer(x, cos, sin, mask=mask, cache=cache)
        return self.norm(x)


class LlamaForCausalLM(nn.Module):
    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.config = config
        self.model = LlamaModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight

    def forward(self, input_ids: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        """(B, T) token ids -> (B, T, V) logits; ``cache`` and ``attention_mask`` as in
        :meth:`LlamaModel.forward`."""
        return self.lm_head(self.model(input_ids, *args, **kwargs))

    def new_cache(self) -> KVCache:
        return KVCache(self.config.num_hidden_layers)

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor,
        max_new_tokens: int,
        use_cache: bool = True,
        eos_token_id: int | None = None,
        temperature: float = 0.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
    ) -> torch.Tensor:
        """Prefill the prompt once, then one token per step. (B, T) -> (B, T + n).

        ``temperature == 0`` is greedy; otherwise tokens are drawn from :func:`sampling_probs`
        with a CPU generator seeded by ``seed`` (same seed, same tokens).
        """
        cache = self.new_cache() if use_cache else None
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        ids = input_ids
        step_input = ids
        for _ in range(max_new_tokens):
            logits = self(step_input if use_cache else ids, cache)[:, -1]
            if temperature == 0:
                nxt = logits.argmax(-1, keepdim=True)
            else:
                probs = sampling_probs(logits, temperature, top_k, top_p)
                nxt = torch.multinomial(probs.cpu(), 1, generator=gen).to(ids.device)
            ids = torch.cat([ids, nxt], dim=1)
            step_input = nxt
            if eos_token_id is not None and bool((nxt == eos_token_id).all()):
                break
        return ids


def sampling_probs(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> torch.Tensor:
    """(B, V) logits -> (B, V) float32 probabilities to sample the next token from.

    Divide by ``temperature``; keep the ``top_k`` largest logits; then keep the smallest set of
    most likely tokens whose cumulative probability reaches ``top_p`` (the token that crosses
    the threshold is kept); renormalise.
    """
    logits = logits.float() / temperature
    if top_k is not None:
        kth = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if top_p is not None and top_p < 1.0:
        sorted_p, order = probs.sort(dim=-1, descending=True)
        before = sorted_p.cumsum(-1) - sorted_p  # mass of the strictly more likely tokens
        sorted_p = sorted_p.masked_fill(before >= top_p, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
        probs = probs / probs.sum(-1, keepdim=True)
    return probs
