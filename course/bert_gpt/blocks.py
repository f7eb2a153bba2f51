"""The graded blocks of chapter 01-bert-gpt (BERT and GPT): the reference implementations.

B batch, T query length, S key length (S = T in self-attention), D hidden size, H heads,
Dh = D / H head size, F feed-forward size, V vocabulary.

Parameter names follow ``torch.nn.TransformerEncoderLayer`` (``self_attn.in_proj_weight``,
``self_attn.out_proj``, ``linear1``, ``linear2``, ``norm1``, ``norm2``) so that a layer's state dict
loads unchanged into torch's own layer; the embeddings use Hugging Face's ``BertEmbeddings``
names. :mod:`course.bert_gpt.weights` renames real checkpoints for them.

Each block is proven against an independent oracle in ``tests/test_bert_gpt_oracles.py``; the
checks in ``autograder/chapters/bert_gpt/`` grade students against it.
"""

from __future__ import annotations

import math
from functools import cache

import torch
from torch import nn
from torch.nn import functional as F


# --------------------------------------------------------------------------------------------
# 1. Scaled dot-product attention with padding and causal masks
def visible_keys(
    t: int,
    s: int,
    attention_mask: torch.Tensor | None = None,
    causal: bool = False,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Boolean (B or 1, 1, T, S): True where query i may attend to key j.

    ``attention_mask`` (B, S): 1 for real tokens, 0 for padding keys. ``causal``: query i sees keys
    j <= i + (S - T) (the T queries are the last T positions of the S keys).
    """
    allowed = torch.ones(t, s, dtype=torch.bool, device=device)
    if causal:
        allowed = allowed.tril(s - t)
    allowed = allowed[None, None]
    if attention_mask is not None:
        allowed = allowed & attention_mask.to(device=device).bool()[:, None, None, :]
    return allowed


def softmax_dtype(x: torch.Tensor) -> torch.dtype:
    """float32 for half and bfloat16 inputs (and float32), float64 for float64."""
    return torch.promote_types(x.dtype, torch.float32)


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    causal: bool = False,
) -> torch.Tensor:
    """softmax(q k^T / sqrt(Dh) + mask) v.

    q: (B, H, T, Dh); k, v: (B, H, S, Dh); attention_mask: optional (B, S), 1 = real key, 0 = padding.
    Returns (B, H, T, Dh) in q's dtype; the softmax runs in float32 (float64 for float64). A query row with no visible key
    returns zeros (as torch's ``scaled_dot_product_attention`` does).
    """
    t, s = q.shape[-2], k.shape[-2]
    scores = (q @ k.transpose(-1, -2)).to(softmax_dtype(q)) / math.sqrt(q.shape[-1])
    allowed = visible_keys(t, s, attention_mask, causal, q.device)
    scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
    probs = scores.softmax(dim=-1)
    probs = torch.where(allowed.any(dim=-1, keepdim=True), probs, torch.zeros_like(probs))
    return (probs.to(v.dtype) @ v).to(q.dtype)


class SDPA(nn.Module):
    """:func:`scaled_dot_product_attention` as a module (no parameters), so that a model's
    attention core is a named submodule (``self_attn.sdpa``) the grader can swap."""

    def forward(self, q, k, v, attention_mask=None, causal=False):
        return scaled_dot_product_attention(q, k, v, attention_mask, causal)


class FusedSDPA(SDPA):
    """The same contract through torch's fused ``scaled_dot_product_attention`` (no (T, S) score
    matrix kept for the backward pass by its flash and memory-efficient kernels)."""

    def forward(self, q, k, v, attention_mask=None, causal=False):
        t, s = q.shape[-2], k.shape[-2]
        if attention_mask is None and (not causal or t == s):
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=visible_keys(t, s, attention_mask, causal, q.device)
        )


def use_fused_attention(model: nn.Module) -> nn.Module:
    """Swap every ``sdpa`` submodule of ``model`` for :class:`FusedSDPA` (in place)."""
    for module in list(model.modules()):
        if isinstance(getattr(module, "sdpa", None), SDPA):
            module.sdpa = FusedSDPA()
    return model


# --------------------------------------------------------------------------------------------
# 2. Multi-head self-attention (torch's nn.MultiheadAttention parameter names)
class MultiHeadAttention(nn.Module):
    """Self-attention with H heads.

    Parameters: ``in_proj_weight`` (3D, D) = [W_q; W_k; W_v], ``in_proj_bias`` (3D,),
    ``out_proj`` nn.Linear(D, D). Head h uses rows h*Dh:(h+1)*Dh of each of W_q, W_k, W_v.
    forward(x, attention_mask=None, causal=False): x (B, T, D) -> (B, T, D).
    """

    def __init__(self, hidden_size: int, num_heads: int):
        super().__init__()
        assert hidden_size % num_heads == 0
        self.num_heads, self.head_dim = num_heads, hidden_size // num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * hidden_size))
        self.out_proj = nn.Linear(hidden_size, hidden_size)
        self.sdpa = SDPA()
        nn.init.xavier_uniform_(self.in_proj_weight)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, H, T, Dh)."""
        b, t, _ = x.shape
        return x.view(b, t, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, x, attention_mask=None, causal=False):
        b, t, d = x.shape
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        out = self.sdpa(
            self.split_heads(q), self.split_heads(k), self.split_heads(v), attention_mask, causal
        )
        return self.out_proj(out.transpose(1, 2).reshape(b, t, d))


# --------------------------------------------------------------------------------------------
# 3. BERT embeddings (Hugging Face's BertEmbeddings names)
class BertEmbeddings(nn.Module):
    """LayerNorm(word + position + segment embeddings), then dropout.

    Parameters: ``word_embeddings`` (V, D), ``position_embeddings`` (P, D),
    ``token_type_embeddings`` (2, D), ``LayerNorm`` (D,) with ``eps``.
    forward(input_ids (B, T), token_type_ids=None (zeros), position_ids=None (0..T-1)) -> (B, T, D).
    """

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        max_position_embeddings: int = 512,
        type_vocab_size: int = 2,
        eps: float = 1e-12,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, hidden_size)
        self.position_embeddings = nn.Embedding(max_position_embeddings, hidden_size)
        self.token_type_embeddings = nn.Embedding(type_vocab_size, hidden_size)
        self.LayerNorm = nn.LayerNorm(hidden_size, eps=eps)
        self.dropout = nn.Dropout(dropout)

    def forward(self, input_ids, token_type_ids=None, position_ids=None):
        b, t = input_ids.shape
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        if position_ids is None:
            position_ids = torch.arange(t, device=input_ids.device).expand(b, t)
        x = (
            self.word_embeddings(input_ids)
            + self.position_embeddings(position_ids)
            + self.token_type_embeddings(token_type_ids)
        )
        return self.dropout(self.LayerNorm(x))


# --------------------------------------------------------------------------------------------
# 4. Masked-LM corruption: 15% of maskable tokens; of those 80% [MASK], 10% random, 10% kept
def mask_tokens(
    input_ids: torch.Tensor,
    special_tokens_mask: torch.Tensor,
    mask_token_id: int,
    vocab_size: int,
    seed: int,
    mlm_probability: float = 0.15,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masked-LM inputs and labels, deterministic given ``seed``.

    input_ids (B, T) int64; special_tokens_mask (B, T) bool, True at [CLS], [SEP], [PAD] (never
    chosen). Draws, in this order, from ``torch.Generator().manual_seed(seed)``, each of shape
    (B, T): ``u = rand``, ``r = rand``, ``random_ids = randint(vocab_size)``. A token is chosen when
    it is not special and ``u < mlm_probability``; a chosen token becomes ``mask_token_id`` when
    ``r < 0.8``, ``random_ids`` when ``0.8 <= r < 0.9``, and stays itself otherwise.
    Returns (corrupted ids (B, T) int64, labels (B, T) int64: the original id where chosen, -100
    elsewhere).
    """
    gen = torch.Generator().manual_seed(seed)
    shape = tuple(input_ids.shape)
    u = torch.rand(shape, generator=gen).to(input_ids.device)
    r = torch.rand(shape, generator=gen).to(input_ids.device)
    random_ids = torch.randint(vocab_size, shape, generator=gen).to(input_ids.device)
    chosen = (u < mlm_probability) & ~special_tokens_mask.bool()
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))
    out = torch.where(chosen & (r < 0.8), torch.full_like(input_ids, mask_token_id), input_ids)
    out = torch.where(chosen & (r >= 0.8) & (r < 0.9), random_ids, out)
    return out, labels


# --------------------------------------------------------------------------------------------
# 5. Post-LN encoder layer (BERT) and the encoder
class EncoderLayer(nn.Module):
    """BERT's post-LN layer: h = norm1(x + attn(x)); out = norm2(h + linear2(gelu(linear1(h)))).

    Submodules (torch.nn.TransformerEncoderLayer's names): ``self_attn`` (MultiHeadAttention),
    ``linear1`` (F, D), ``linear2`` (D, F), ``norm1``, ``norm2`` (LayerNorm, eps). GELU is the exact
    (erf) form. forward(x (B, T, D), attention_mask=None (B, T)) -> (B, T, D), bidirectional.
    """

    def __init__(self, hidden_size: int, num_heads: int, intermediate_size: int, eps=1e-12):
        super().__init__()
        self.self_attn = MultiHeadAttention(hidden_size, num_heads)
        self.linear1 = nn.Linear(hidden_size, intermediate_size)
        self.linear2 = nn.Linear(intermediate_size, hidden_size)
        self.norm1 = nn.LayerNorm(hidden_size, eps=eps)
        self.norm2 = nn.LayerNorm(hidden_size, eps=eps)

    def forward(self, x, attention_mask=None):
        h = self.norm1(x + self.self_attn(x, attention_mask))
        return self.norm2(h + self.linear2(F.gelu(self.linear1(h))))


class BertModel(nn.Module):
    """Embeddings, then ``num_layers`` post-LN encoder layers (no pooler).

    Submodules: ``embeddings`` (BertEmbeddings), ``layers`` (nn.ModuleList of EncoderLayer).
    forward(input_ids (B, T), token_type_ids=None, attention_mask=None) -> (B, T, D) hidden states.
    """

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        num_layers: int,
        num_heads: int,
        intermediate_size: int,
        max_position_embeddings: int = 512,
        type_vocab_size: int = 2,
        eps: float = 1e-12,
    ):
        super().__init__()
        self.embeddings = BertEmbeddings(
            vocab_size, hidden_size, max_position_embeddings, type_vocab_size, eps
        )
        self.layers = nn.ModuleList(
            EncoderLayer(hidden_size, num_heads, intermediate_size, eps) for _ in range(num_layers)
        )

    def forward(self, input_ids, token_type_ids=None, attention_mask=None):
        x = self.embeddings(input_ids, token_type_ids)
        for layer in self.layers:
            x = layer(x, attention_mask)
        return x


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Sentence embedding: the mean of the real tokens' vectors, L2-normalised. (B, T, D) -> (B, D)."""
    m = attention_mask.to(hidden.dtype)[..., None]
    pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return F.normalize(pooled, dim=-1)


# --------------------------------------------------------------------------------------------
# 6. Pre-LN decoder block (GPT-2) and the GPT-2 language model (final LN, tied head)
def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """GPT-2's GELU: the tanh approximation."""
    return F.gelu(x, approximate="tanh")


class DecoderBlock(nn.Module):
    """GPT-2's pre-LN block: h = x + attn(norm1(x), causal); out = h + linear2(gelu_tanh(linear1(norm2(h)))).

    Submodules: ``norm1``, ``self_attn`` (MultiHeadAttention), ``norm2``, ``linear1`` (4D, D),
    ``linear2`` (D, 4D). forward(x (B, T, D)) -> (B, T, D), causal.
    """

    def __init__(self, hidden_size: int, num_heads: int, eps: float = 1e-5):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden_size, eps=eps)
        self.self_attn = MultiHeadAttention(hidden_size, num_heads)
        self.norm2 = nn.LayerNorm(hidden_size, eps=eps)
        self.linear1 = nn.Linear(hidden_size, 4 * hidden_size)
        self.linear2 = nn.Linear(4 * hidden_size, hidden_size)

    def forward(self, x):
        h = x + self.self_attn(self.norm1(x), causal=True)
        return h + self.linear2(gelu_tanh(self.linear1(self.norm2(h))))


class GPT2(nn.Module):
    """Token ids -> next-token logits.

    Submodules: ``wte`` (V, D), ``wpe`` (P, D), ``layers`` (ModuleList of DecoderBlock), ``ln_f``
    (the final LayerNorm that pre-LN needs), ``lm_head`` (V, D, no bias) tied to ``wte``.
    forward(input_ids (B, T)) -> logits (B, T, V).
    """

    def __init__(
        self,
        vocab_size: int,
        max_positions: int,
        hidden_size: int,
        num_layers: int,
        num_heads: int,
        eps: float = 1e-5,
    ):
        super().__init__()
        self.wte = nn.Embedding(vocab_size, hidden_size)
        self.wpe = nn.Embedding(max_positions, hidden_size)
        self.layers = nn.ModuleList(
            DecoderBlock(hidden_size, num_heads, eps) for _ in range(num_layers)
        )
        self.ln_f = nn.LayerNorm(hidden_size, eps=eps)
        self.lm_head = nn.Linear(hidden_size, vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight
        nn.init.normal_(self.wte.weight, std=0.02)  # GPT-2's initialisation: near-uniform logits
        nn.init.normal_(self.wpe.weight, std=0.02)

    def forward(self, input_ids):
        t = input_ids.shape[1]
        x = self.wte(input_ids) + self.wpe(torch.arange(t, device=input_ids.device))
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.ln_f(x))

    def generate(self, input_ids, max_new_tokens, temperature=0.0, top_k=None, seed=None):
        return generate(self, input_ids, max_new_tokens, temperature, top_k, seed)


# --------------------------------------------------------------------------------------------
# 7. The causal LM loss: position t predicts token t + 1
def causal_lm_loss(
    logits: torch.Tensor, labels: torch.Tensor, ignore_index: int = -100
) -> torch.Tensor:
    """Mean cross-entropy of logits[:, t] against labels[:, t + 1] over positions whose label is not
    ``ignore_index``. logits (B, T, V) any float dtype; labels (B, T) int64. Returns a float32 scalar."""
    v = logits.shape[-1]
    shifted = logits[:, :-1].reshape(-1, v).float()
    targets = labels[:, 1:].reshape(-1)
    return F.cross_entropy(shifted, targets, ignore_index=ignore_index)


# --------------------------------------------------------------------------------------------
# 8. Decoding without a cache: greedy, temperature, top-k
def top_k_filter(logits: torch.Tensor, top_k: int | None) -> torch.Tensor:
    """Logits below the k-th largest of their row set to -inf (ties at the k-th value kept)."""
    if top_k is None or top_k >= logits.shape[-1]:
        return logits
    kth = logits.topk(top_k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


@torch.no_grad()
def generate(model, input_ids, max_new_tokens, temperature=0.0, top_k=None, seed=None):
    """(B, T) prompt -> (B, T + max_new_tokens): each step runs the whole sequence (no cache).

    temperature 0: argmax. Otherwise divide the last logits (float32) by the temperature, keep the
    top_k, softmax, and draw with ``torch.multinomial(probs, 1, generator=gen)`` where ``gen =
    torch.Generator().manual_seed(seed)`` is made once per call (on the CPU).
    """
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    ids = input_ids
    for _ in range(max_new_tokens):
        logits = model(ids)[:, -1].float()
        if temperature == 0:
            nxt = logits.argmax(dim=-1, keepdim=True)
        else:
            probs = top_k_filter(logits / temperature, top_k).softmax(dim=-1)
            nxt = torch.multinomial(probs.cpu(), 1, generator=gen).to(ids.device)
        ids = torch.cat([ids, nxt], dim=1)
    return ids


# --------------------------------------------------------------------------------------------
# 9. Tiled attention with an online softmax (FlashAttention's forward), in Triton
@cache
def _flash_kernel():
    """Built on first use, so that TRITON_INTERPRET (CPU) is read after the caller set it."""
    import triton
    import triton.language as tl

    @triton.jit
    def kernel(
        q_ptr,
        k_ptr,
        v_ptr,
        o_ptr,
        t,
        s,
        scale,
        DH: tl.constexpr,
        BLOCK_M: tl.constexpr,
        BLOCK_N: tl.constexpr,
        CAUSAL: tl.constexpr,
    ):
        pid_m = tl.program_id(0)
        bh = tl.program_id(1)
        rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
        cols = tl.arange(0, DH)
        q = tl.load(
            q_ptr + bh * t * DH + rows[:, None] * DH + cols[None, :],
            mask=rows[:, None] < t,
            other=0.0,
        ).to(tl.float32)
        m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)
        l_i = tl.zeros([BLOCK_M], tl.float32)
        acc = tl.zeros([BLOCK_M, DH], tl.float32)
        for start in range(0, s, BLOCK_N):
            keys = start + tl.arange(0, BLOCK_N)
            kv_off = bh * s * DH + keys[:, None] * DH + cols[None, :]
            k = tl.load(k_ptr + kv_off, mask=keys[:, None] < s, other=0.0).to(tl.float32)
            v = tl.load(v_ptr + kv_off, mask=keys[:, None] < s, other=0.0).to(tl.float32)
            scores = tl.dot(q, tl.trans(k)) * scale
            ok = keys[None, :] < s
            if CAUSAL:
                ok = ok & (keys[None, :] <= rows[:, None] + (s - t))
            scores = tl.where(ok, scores, float("-inf"))
            m_new = tl.maximum(m_i, tl.max(scores, 1))
            alpha = tl.exp(m_i - m_new)
            p = tl.exp(scores - m_new[:, None])
            l_i = l_i * alpha + tl.sum(p, 1)
            acc = acc * alpha[:, None] + tl.dot(p, v)
            m_i = m_new
        out = acc / l_i[:, None]
        tl.store(
            o_ptr + bh * t * DH + rows[:, None] * DH + cols[None, :],
            out.to(o_ptr.dtype.element_ty),
            mask=rows[:, None] < t,
        )

    return kernel


def flash_attention(q, k, v, causal: bool = False, block: int = 16) -> torch.Tensor:
    """softmax(q k^T / sqrt(Dh)) v without materialising the (T, S) scores, S >= T.

    q (B, H, T, Dh), k and v (B, H, S, Dh), Dh a power of two >= 16. Key blocks of ``block`` are
    visited one at a time with a running max m, running sum l and a rescaled accumulator.
    """
    b, h, t, dh = q.shape
    s = k.shape[2]
    q, k, v = (x.contiguous() for x in (q, k, v))
    out = torch.empty_like(q)
    grid = (math.ceil(t / block), b * h)
    _flash_kernel()[grid](q, k, v, out, t, s, 1.0 / math.sqrt(dh), dh, block, block, causal)
    return out


def online_softmax_attention(q, k, v, causal: bool = False, block: int = 16) -> torch.Tensor:
    """The same algorithm as :func:`flash_attention` in plain torch (one key block at a time)."""
    t, s = q.shape[-2], k.shape[-2]
    scale = 1.0 / math.sqrt(q.shape[-1])
    m = torch.full(q.shape[:-1], float("-inf"), dtype=torch.float32, device=q.device)
    lsum = torch.zeros_like(m)
    acc = torch.zeros(q.shape, dtype=torch.float32, device=q.device)
    rows = torch.arange(t, device=q.device)[:, None]
    for start in range(0, s, block):
        kb, vb = k[..., start : start + block, :].float(), v[..., start : start + block, :].float()
        scores = (q.float() @ kb.transpose(-1, -2)) * scale
        if causal:
            keys = torch.arange(start, start + kb.shape[-2], device=q.device)[None, :]
            scores = scores.masked_fill(keys > rows + (s - t), float("-inf"))
        m_new = torch.maximum(m, scores.amax(-1))
        alpha = torch.exp(m - m_new)
        p = torch.exp(scores - m_new[..., None])
        lsum = lsum * alpha + p.sum(-1)
        acc = acc * alpha[..., None] + p @ vb
        m = m_new
    return (acc / lsum[..., None]).to(q.dtype)
