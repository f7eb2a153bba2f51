# ---
# jupyter:
#   autograder:
#     cpu_s: 120
#     memory_mb: 3072
#     timeout_s: 20
#     student_budget_s: 300
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Modern LLM variants: mixture of experts, latent attention, windows, QK-norm, post-norm, NoPE
#
# You will build the pieces that distinguish 2024-2025 open models from the LLaMA of chapter 3:
# a mixture-of-experts layer and its load-balancing loss (Mixtral, DeepSeek, Qwen3-MoE),
# DeepSeek's multi-head latent attention, a sliding-window mask with a rolling KV cache (Mistral,
# Gemma 2/3), attention with QK-norm (Qwen3, Gemma 3, OLMo 2), OLMo 2's post-norm block and
# SmolLM3's NoPE layers (attention without RoPE in every fourth layer).
#
# The chapter-3 building blocks are **given** in the setup cell (`RMSNorm`, `rope_cos_sin`,
# `apply_rope`, `SwiGLU`): use them. Parameter names follow Hugging Face (`gate_proj`,
# `q_a_proj`, `kv_b_proj`, `q_norm`, `post_feedforward_layernorm`...), so that checkpoints
# would load without renaming. Shapes: `B` batch, `T` new tokens, `S` keys, `D` hidden size,
# `H` query heads, `G` key/value heads, `Dh` head dim, `E` experts, `k` experts per token.
#
# Run the test cell after each answer: it runs *visible* checks that explain any mismatch. The
# grader runs more cases (other shapes, dtypes, gradients, edge cases) in a separate process, with
# **20 s per call, 3 GB of memory and 300 s for the whole notebook**.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false} copied_from="autograder.kit.KIT_SETUP (its try/except block; tests/test_kit.py checks it)"
import math

import torch
from torch import nn
from torch.nn import functional as F

try:  # the course's student kit: the visible checks and the weight loaders
    from coursekit import check
except ImportError:  # Colab, a fresh laptop: install it once (see the students' guide)
    import subprocess
    import sys

    KIT = "https://transformer-workloads.github.io/course/release/coursekit-0.1.0-py3-none-any.whl"
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", KIT])
    from coursekit import check

device = "cuda" if torch.cuda.is_available() else "cpu"
print("running on", device)


class RMSNorm(nn.Module):
    """Given (chapter 3). y = x / sqrt(mean(x^2) + eps) * weight over the last dim; weight (n,)."""

    def __init__(self, hidden_size: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(hidden_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        normed = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return (self.weight * normed.to(x.dtype)).to(x.dtype)


def rope_cos_sin(head_dim: int, positions: torch.Tensor, theta: float = 10000.0):
    """Given (chapter 3). positions (B, T) int -> cos, sin (B, T, head_dim) float32, half-split."""
    inv_freq = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = positions.float()[..., None] * inv_freq.to(positions.device)
    emb = torch.cat([angles, angles], dim=-1)
    return emb.cos(), emb.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Given (chapter 3). x (B, H, T, Dh), cos/sin (B, T, Dh) -> (B, H, T, Dh); pairs (i, i + Dh/2)."""
    cos, sin = cos[:, None], sin[:, None]
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin


class SwiGLU(nn.Module):
    """Given (chapter 3). down_proj(silu(gate_proj(x)) * up_proj(x)); no biases."""

    def __init__(self, hidden_size: int, intermediate_size: int):
        super().__init__()
        self.gate_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


# %% [markdown]
# ## 1. A mixture-of-experts layer (3 points)
#
# *Taught in the book:* [Mixture of experts](../../book/07-modern-llms/moe.md) (`book/07-modern-llms/moe.md`).
#
# A router `gate` (a `Linear(D, E)` without bias) scores each token; the token goes to the `k`
# experts with the largest probability, and its output is the weighted sum of their outputs.
# Each expert is a `SwiGLU(D, intermediate_size)`.
#
# **Routing, exactly.** For the flattened tokens `x` (N, D), compute the router logits **in
# float32** (`F.linear(x.float(), gate.weight.float())`), the softmax over **all** E experts, then
# the top-k probabilities and their expert indices. With `normalize_topk=True` divide the k
# selected probabilities by their sum (Mixtral, Qwen3-MoE; the same as a softmax over the k
# selected logits); with `normalize_topk=False` keep them as they are (DeepSeek-V2: they then sum
# to less than 1). Each token's output is `sum_j w_j * experts[i_j](x)` (cast the weight to x's
# dtype), plus `shared_expert(x)` with weight 1 when `shared_intermediate_size > 0` (a SwiGLU of
# that size that every token uses, as DeepSeek's shared experts).
#
# Return the output *and* the router logits (the load-balancing loss of part 2 needs them).
# Hidden cases: E from 4 to 8, k from 1 to E (k = E is a dense softmax mixture), one token,
# with and without a shared expert, both `normalize_topk` settings, bfloat16 parameters and input,
# gradients with respect to `x` and every parameter. Any correct dispatch is accepted (a loop over
# experts, tokens sorted by expert, or running every expert on every token).
#
# **Device:** the grader moves the module and its inputs to CUDA when it has a GPU, else keeps them
# on CPU; make every new tensor on the device of `x` (`device=x.device`). **Dtype:** float32, or
# bfloat16 parameters and `x`; `y` in `x`'s dtype, the router logits float32 whatever `x`'s dtype.


# %% nbgrader={"grade": false, "grade_id": "moe", "locked": false, "schema_version": 3, "solution": true, "task": false}
class MoE(nn.Module):
    """Sparse mixture of SwiGLU experts with top-k routing and an optional shared expert.

    Args:
        hidden_size: D. intermediate_size: each expert's SwiGLU size.
        num_experts: E. top_k: k experts per token (1 <= k <= E).
        shared_intermediate_size: size of the shared expert's SwiGLU; 0 = no shared expert.
        normalize_topk: renormalise the k selected probabilities to sum to 1.
    Parameters: gate (Linear D -> E, no bias); experts (nn.ModuleList of E SwiGLU);
        shared_expert (SwiGLU) only when shared_intermediate_size > 0.
    forward(x): x (B, T, D) -> (y, router_logits): y (B, T, D) in x's dtype,
        router_logits (B*T, E) float32.
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
        ### BEGIN SOLUTION
        self.top_k, self.normalize_topk = top_k, normalize_topk
        self.gate = nn.Linear(hidden_size, num_experts, bias=False)
        self.experts = nn.ModuleList(
            SwiGLU(hidden_size, intermediate_size) for _ in range(num_experts)
        )
        if shared_intermediate_size:
            self.shared_expert = SwiGLU(hidden_size, shared_intermediate_size)
        else:
            self.shared_expert = None
        ### END SOLUTION

    def forward(self, x: torch.Tensor):
        ### BEGIN SOLUTION
        b, t, d = x.shape
        flat = x.reshape(b * t, d)
        logits = F.linear(flat.float(), self.gate.weight.float())
        probs = logits.softmax(dim=-1)
        weights, chosen = probs.topk(self.top_k, dim=-1)
        if self.normalize_topk:
            weights = weights / weights.sum(dim=-1, keepdim=True)
        # tokens sorted by expert: one contiguous batch per expert
        token_of = torch.arange(b * t, device=x.device).repeat_interleave(self.top_k)
        expert_of, order = chosen.reshape(-1).sort(stable=True)
        token_of, w = token_of[order], weights.reshape(-1)[order]
        counts = torch.bincount(expert_of, minlength=len(self.experts)).tolist()
        out = torch.zeros_like(flat)
        start = 0
        for e, n in enumerate(counts):
            if n:
                idx = token_of[start : start + n]
                y = self.experts[e](flat[idx]) * w[start : start + n, None].to(x.dtype)
                out = out.index_add(0, idx, y)
            start += n
        if self.shared_expert is not None:
            out = out + self.shared_expert(flat)
        return out.reshape(b, t, d), logits
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_moe", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
check("modern_llms.moe.visible", MoE)
### BEGIN HIDDEN TESTS
check("modern_llms.moe", MoE)
### END HIDDEN TESTS

# %% [markdown]
# ## 2. The load-balancing loss (2 points)
#
# *Taught in the book:* [Mixture of experts](../../book/07-modern-llms/moe.md) (`book/07-modern-llms/moe.md`).
#
# Without a penalty the router collapses onto a few experts. Switch Transformer's auxiliary loss is
# $\mathcal{L}_{aux} = E \sum_{i=1}^{E} f_i P_i$, where $P_i$ is the mean router probability of
# expert $i$ (softmax over all E, in float32) and $f_i$ the fraction of tokens that send a copy to
# expert $i$: the token counts for expert $i$ if $i$ is among its top-k (so $\sum_i f_i = k$ and the
# loss is $k$ when routing is perfectly uniform), as Hugging Face's `load_balancing_loss_func`.
# Only $P$ carries a gradient ($f$ comes from a top-k selection). With `attention_mask` (N,) (1 =
# real token), padding tokens are left out of both means.
#
# Hidden cases: N from 1 to 30 tokens, E from 4 to 16, k from 1 to E, padding, gradients with
# respect to the logits.
#
# **Device:** hidden inputs are on CUDA when the grader has a GPU, else on CPU; make every new
# tensor on the device of `router_logits` (`device=router_logits.device`). **Dtype:** float32
# logits, int64 `attention_mask`; return a float32 scalar.


# %% nbgrader={"grade": false, "grade_id": "load_balancing", "locked": false, "schema_version": 3, "solution": true, "task": false}
def load_balancing_loss(router_logits, top_k, attention_mask=None):
    """E * sum_i f_i * P_i.

    Args:
        router_logits: (N, E) float32. top_k: k.
        attention_mask: optional (N,) integer tensor, 1 = real token, 0 = padding.
    Returns:
        a float32 scalar tensor (shape ()), differentiable with respect to router_logits.
    """
    ### BEGIN SOLUTION
    n, e = router_logits.shape
    probs = router_logits.float().softmax(-1)
    chosen = probs.topk(top_k, dim=-1).indices
    routed = torch.zeros(n, e, device=probs.device).scatter(1, chosen, 1.0)
    keep = torch.ones(n, device=probs.device) if attention_mask is None else attention_mask.float()
    f = (routed * keep[:, None]).sum(0) / keep.sum()
    p = (probs * keep[:, None]).sum(0) / keep.sum()
    return e * torch.dot(f, p)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_load_balancing", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
check("modern_llms.load_balancing.visible", load_balancing_loss)
### BEGIN HIDDEN TESTS
check("modern_llms.load_balancing", load_balancing_loss)
### END HIDDEN TESTS

# %% [markdown]
# ## 3. Multi-head latent attention (3 points)
#
# *Taught in the book:* [MHA, MQA, GQA and MLA](../../book/07-modern-llms/attention-variants.md) (`book/07-modern-llms/attention-variants.md`).
#
# DeepSeek-V2/V3 cache one small latent per token instead of per-head keys and values. With the
# names of Hugging Face's `DeepseekV3Attention` (`r` = kv_lora_rank, `dn` = qk_nope_head_dim,
# `dr` = qk_rope_head_dim, `dv` = v_head_dim):
#
# 1. queries: `q_b_proj(q_a_layernorm(q_a_proj(x)))` (rank `q_lora_rank`), or `q_proj(x)` when
#    `q_lora_rank == 0`; view as H heads of `dn + dr` and split into `q_nope` (first `dn`) and
#    `q_pe` (last `dr`); rotate `q_pe` with RoPE;
# 2. `kv_a_proj_with_mqa(x)` (D -> r + dr) splits into the latent `c` (first r) and one rope key
#    `k_pe` (last dr) **shared by all heads**; `c = kv_a_layernorm(c)`; rotate `k_pe` with RoPE;
# 3. `latent(x, cos, sin)` returns what the cache stores: `cat(c, rotated k_pe)`, (B, T, r + dr);
# 4. `kv_b_proj(c)` (r -> H * (dn + dv)) gives per head `k_nope` (first dn) and `v` (last dv);
#    the key of head h is `cat(k_nope_h, k_pe)`;
# 5. causal attention with scores $(q \cdot k)/\sqrt{d_n + d_r}$, output `o_proj` (H*dv -> D).
#
# No biases; RMSNorms with eps 1e-6; RoPE in the half-split layout of `apply_rope` (cos/sin have
# `dr` columns; the positions may start anywhere). Hidden cases: 2 to 4 heads, with and without
# query compression, `dr` larger than `dn`, one token at position 7, bfloat16, gradients with
# respect to `x` and every parameter. Each case calls `latent` and then `forward`.
#
# **Device:** the grader moves the module and its inputs to CUDA when it has a GPU, else keeps them
# on CPU; make every new tensor on the device of `x` (`device=x.device`). The causal mask too.
# **Dtype:** float32, or bfloat16 parameters with bfloat16 `x`, `cos` and `sin` (all three in
# bfloat16); `latent` and `forward` return `x`'s dtype.


# %% nbgrader={"grade": false, "grade_id": "mla", "locked": false, "schema_version": 3, "solution": true, "task": false}
class MultiHeadLatentAttention(nn.Module):
    """Causal MLA with a decoupled RoPE key.

    Args: hidden_size, num_heads, q_lora_rank (0 = no query compression), kv_lora_rank,
        qk_nope_head_dim, qk_rope_head_dim, v_head_dim.
    Parameters: q_a_proj (q_lora_rank, D), q_a_layernorm (q_lora_rank,), q_b_proj
        (H*(dn+dr), q_lora_rank) -- or q_proj (H*(dn+dr), D) when q_lora_rank == 0;
        kv_a_proj_with_mqa (r+dr, D), kv_a_layernorm (r,), kv_b_proj (H*(dn+dv), r), o_proj (D, H*dv).
    latent(x, cos, sin): x (B, T, D), cos/sin (B, T, dr) -> (B, T, r + dr).
    forward(x, cos, sin): -> (B, T, D), causal.
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
    ):
        super().__init__()
        ### BEGIN SOLUTION
        self.h, self.r = num_heads, kv_lora_rank
        self.dn, self.dr, self.dv = qk_nope_head_dim, qk_rope_head_dim, v_head_dim
        q_out = num_heads * (qk_nope_head_dim + qk_rope_head_dim)
        self.q_lora_rank = q_lora_rank
        if q_lora_rank:
            self.q_a_proj = nn.Linear(hidden_size, q_lora_rank, bias=False)
            self.q_a_layernorm = RMSNorm(q_lora_rank)
            self.q_b_proj = nn.Linear(q_lora_rank, q_out, bias=False)
        else:
            self.q_proj = nn.Linear(hidden_size, q_out, bias=False)
        self.kv_a_proj_with_mqa = nn.Linear(
            hidden_size, kv_lora_rank + qk_rope_head_dim, bias=False
        )
        self.kv_a_layernorm = RMSNorm(kv_lora_rank)
        self.kv_b_proj = nn.Linear(
            kv_lora_rank, num_heads * (qk_nope_head_dim + v_head_dim), bias=False
        )
        self.o_proj = nn.Linear(num_heads * v_head_dim, hidden_size, bias=False)
        ### END SOLUTION

    def latent(self, x, cos, sin):
        ### BEGIN SOLUTION
        kv = self.kv_a_proj_with_mqa(x)
        c, k_pe = kv[..., : self.r], kv[..., self.r :]
        k_pe = apply_rope(k_pe.unsqueeze(1), cos, sin).squeeze(1)
        return torch.cat([self.kv_a_layernorm(c), k_pe], dim=-1)
        ### END SOLUTION

    def forward(self, x, cos, sin):
        ### BEGIN SOLUTION
        b, t, _ = x.shape
        q = (
            self.q_b_proj(self.q_a_layernorm(self.q_a_proj(x)))
            if self.q_lora_rank
            else self.q_proj(x)
        )
        q = q.view(b, t, self.h, self.dn + self.dr).transpose(1, 2)
        q_nope, q_pe = q[..., : self.dn], apply_rope(q[..., self.dn :], cos, sin)
        lat = self.latent(x, cos, sin)
        c, k_pe = lat[..., : self.r], lat[..., self.r :]
        kv = self.kv_b_proj(c).view(b, t, self.h, self.dn + self.dv).transpose(1, 2)
        k_nope, v = kv[..., : self.dn], kv[..., self.dn :]
        # scores = nope part (per head) + rope part (one key shared by all heads)
        scores = q_nope @ k_nope.transpose(-1, -2) + q_pe @ k_pe.unsqueeze(1).transpose(-1, -2)
        scores = scores / math.sqrt(self.dn + self.dr)
        causal = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        scores = scores.masked_fill(~causal, torch.finfo(scores.dtype).min)
        out = scores.float().softmax(-1).to(v.dtype) @ v
        return self.o_proj(out.transpose(1, 2).reshape(b, t, self.h * self.dv))
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_mla", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
check("modern_llms.mla.visible", MultiHeadLatentAttention)
### BEGIN HIDDEN TESTS
check("modern_llms.mla", MultiHeadLatentAttention)
### END HIDDEN TESTS

# %% [markdown]
# ## 4. A sliding-window causal mask (1 point)
#
# *Taught in the book:* [Sliding-window attention](../../book/07-modern-llms/sliding-window.md) (`book/07-modern-llms/sliding-window.md`).
#
# With a window of `w`, a token sees itself and the `w - 1` tokens before it: **exactly `w`
# keys** (Hugging Face's `sliding_window` for Mistral and Gemma 2/3). The T queries are the *last*
# T of the S keys: query `i` sits at position `p = S - T + i` and may attend to key `j` if
# `p - w < j <= p`. With `attention_mask` (B, S) (1 = real token), padded keys are masked too.
#
# Return a bool tensor, True = may attend, of shape (1, 1, T, S) without `attention_mask` and
# (B, 1, T, S) with it. Hidden cases: prefill (T = S), a chunk at an offset (T < S), one-token
# decoding, `w = 1`, `w >= S` (plain causal), T = S = 1, left-padded batches.
#
# **Device:** a hidden `attention_mask` is on CUDA when the grader has a GPU, else on CPU; return
# the mask on `attention_mask`'s device (`device=attention_mask.device` for every tensor you make),
# and on the CPU when `attention_mask` is None (the caller moves it). **Dtype:** int64
# `attention_mask`; return bool.


# %% nbgrader={"grade": false, "grade_id": "sliding_window", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sliding_window_mask(t: int, s: int, window: int, attention_mask=None):
    """(1 or B, 1, T, S) bool: query i (position S - T + i) sees keys j with p - window < j <= p.

    On ``attention_mask``'s device, or on the CPU when ``attention_mask`` is None.
    """
    ### BEGIN SOLUTION
    device = attention_mask.device if attention_mask is not None else None
    pos_q = torch.arange(s - t, s, device=device).view(t, 1)
    pos_k = torch.arange(s, device=device).view(1, s)
    distance = pos_q - pos_k
    mask = ((distance >= 0) & (distance < window)).view(1, 1, t, s)
    if attention_mask is not None:
        mask = mask & attention_mask.bool().view(-1, 1, 1, s)
    return mask
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_sliding_window", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# the device rule on CPU: a mask on torch's "meta" device (shapes, no data) gives a mask there
_pad = torch.ones(2, 5, dtype=torch.long, device="meta")
assert sliding_window_mask(3, 5, 2, _pad).device == _pad.device, "use attention_mask.device"
assert sliding_window_mask(3, 5, 2).device.type == "cpu", "without attention_mask: on the CPU"
check("modern_llms.sliding_window.visible", sliding_window_mask)
### BEGIN HIDDEN TESTS
check("modern_llms.sliding_window", sliding_window_mask)
### END HIDDEN TESTS

# %% [markdown]
# ## 5. A rolling KV cache (2 points)
#
# *Taught in the book:* [Sliding-window attention](../../book/07-modern-llms/sliding-window.md) (`book/07-modern-llms/sliding-window.md`).
#
# With a window of `w`, no token ever looks further back than `w - 1` tokens, so the cache needs
# only `w` slots per layer, used as a ring: the token at absolute position `p` lives in slot
# `p % w` of a (B, G, w, Dh) buffer (allocate it with zeros, in k's dtype, at the first `update`
# of that layer).
#
# `update(layer, k, v)` receives T >= 1 new tokens (k, v: (B, G, T, Dh)) and returns the keys and
# values those tokens may attend to, **in position order**: the last `min(seen, w - 1)` cached
# tokens of that layer (`seen` = tokens that layer has received before this call), followed by
# the T new ones. Then it writes the new tokens into their slots (when T > w only the last w
# survive). The caller attends with `sliding_window_mask(T, returned_length, w)`. `slots(layer)`
# returns that layer's two raw buffers (k_buf, v_buf); `length()` the number of tokens layer 0
# has received. Hidden cases: windows 1 to 6, prefills shorter and longer than the window,
# multi-token chunks after the prefill, decoding far beyond the window, two layers.
#
# **Device:** hidden `k` and `v` are on CUDA when the grader has a GPU, else on CPU; allocate the
# buffers on `k`'s device (`device=k.device`) and return everything there. **Dtype:** float32;
# buffers and outputs in `k`'s dtype.


# %% nbgrader={"grade": false, "grade_id": "rolling_cache", "locked": false, "schema_version": 3, "solution": true, "task": false}
class RollingKVCache:
    """Ring-buffer KV cache of `window` slots per layer.

    RollingKVCache(num_layers, window)
    update(layer, k, v) -> (k_att, v_att), each (B, G, min(seen, window - 1) + T, Dh).
    slots(layer) -> (k_buf, v_buf), each (B, G, window, Dh).
    length() -> int.
    """

    def __init__(self, num_layers: int, window: int):
        ### BEGIN SOLUTION
        self.w = window
        self.kbuf = [None] * num_layers
        self.vbuf = [None] * num_layers
        self.count = [0] * num_layers
        ### END SOLUTION

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor):
        ### BEGIN SOLUTION
        if self.kbuf[layer] is None:
            shape = (k.shape[0], k.shape[1], self.w, k.shape[3])
            self.kbuf[layer] = torch.zeros(shape, dtype=k.dtype, device=k.device)
            self.vbuf[layer] = torch.zeros(shape, dtype=v.dtype, device=v.device)
        seen = self.count[layer]
        old = [p % self.w for p in range(max(0, seen - (self.w - 1)), seen)]
        k_att = torch.cat([self.kbuf[layer][:, :, old], k], dim=2)
        v_att = torch.cat([self.vbuf[layer][:, :, old], v], dim=2)
        for i in range(k.shape[2]):  # later tokens overwrite earlier ones in the same slot
            slot = (seen + i) % self.w
            self.kbuf[layer][:, :, slot] = k[:, :, i]
            self.vbuf[layer][:, :, slot] = v[:, :, i]
        self.count[layer] = seen + k.shape[2]
        return k_att, v_att
        ### END SOLUTION

    def slots(self, layer: int):
        ### BEGIN SOLUTION
        return self.kbuf[layer], self.vbuf[layer]
        ### END SOLUTION

    def length(self) -> int:
        ### BEGIN SOLUTION
        return self.count[0]
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_rolling_cache", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
check("modern_llms.rolling_cache.visible", RollingKVCache)
### BEGIN HIDDEN TESTS
check("modern_llms.rolling_cache", RollingKVCache)
### END HIDDEN TESTS

# %% [markdown]
# ## 6. Attention with QK-norm (2 points)
#
# *Taught in the book:* [Where the norm goes: post-LN, pre-LN, OLMo 2 and QK-norm](../../book/07-modern-llms/normalization.md) (`book/07-modern-llms/normalization.md`).
#
# Chapter 3's causal grouped-query attention (H query heads share G key/value heads, query head
# `h` uses kv head `h // (H // G)`; `head_dim = hidden_size // num_heads`; scores
# $QK^\top/\sqrt{D_h}$; no biases), with one change: after the projections and the split into
# heads, and **before RoPE**, queries go through `q_norm` and keys through `k_norm`, two
# `RMSNorm(head_dim, eps)` applied to every head (Qwen3, Gemma 3). The norm bounds the size of the
# logits however large the activations grow.
#
# `attention_mask` (B, T) optional, 1 = real token, 0 = (left) padding: padded keys get no
# attention; a padded *query* row's output is unspecified (the grader skips it). Hidden cases:
# 2 to 8 query heads, G = H, G = 1 and in between, length 1, padding, bfloat16, large inputs,
# gradients with respect to `x` and every parameter.
#
# **Device:** the grader moves the module and its inputs to CUDA when it has a GPU, else keeps them
# on CPU; make every new tensor on the device of `x` (`device=x.device`). The causal and padding
# masks too. **Dtype:** float32, or bfloat16 parameters with bfloat16 `x`, `cos` and `sin`;
# `attention_mask` int64; return `x`'s dtype.


# %% nbgrader={"grade": false, "grade_id": "qk_norm", "locked": false, "schema_version": 3, "solution": true, "task": false}
class QKNormAttention(nn.Module):
    """Causal GQA with per-head RMSNorm on q and k before RoPE.

    Parameters: q_proj (H*Dh, D), k_proj (G*Dh, D), v_proj (G*Dh, D), o_proj (D, H*Dh),
        q_norm (Dh,), k_norm (Dh,).
    forward(x, cos, sin, attention_mask=None): x (B, T, D), cos/sin (B, T, Dh) -> (B, T, D).
    """

    def __init__(self, hidden_size: int, num_heads: int, num_kv_heads: int, eps: float = 1e-6):
        super().__init__()
        ### BEGIN SOLUTION
        self.h, self.g, self.dh = num_heads, num_kv_heads, hidden_size // num_heads
        self.q_proj = nn.Linear(hidden_size, self.h * self.dh, bias=False)
        self.k_proj = nn.Linear(hidden_size, self.g * self.dh, bias=False)
        self.v_proj = nn.Linear(hidden_size, self.g * self.dh, bias=False)
        self.o_proj = nn.Linear(self.h * self.dh, hidden_size, bias=False)
        self.q_norm = RMSNorm(self.dh, eps)
        self.k_norm = RMSNorm(self.dh, eps)
        ### END SOLUTION

    def forward(self, x, cos, sin, attention_mask=None):
        ### BEGIN SOLUTION
        b, t, _ = x.shape
        q = self.q_norm(self.q_proj(x).view(b, t, self.h, self.dh)).transpose(1, 2)
        k = self.k_norm(self.k_proj(x).view(b, t, self.g, self.dh)).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.g, self.dh).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        rep = self.h // self.g
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.dh)
        allowed = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        if attention_mask is not None:
            allowed = allowed & attention_mask[:, None, None, :].bool()
        scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
        out = scores.float().softmax(-1).to(q.dtype) @ v
        return self.o_proj(out.transpose(1, 2).reshape(b, t, self.h * self.dh))
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_qk_norm", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
check("modern_llms.qk_norm.visible", QKNormAttention)
### BEGIN HIDDEN TESTS
check("modern_llms.qk_norm", QKNormAttention)
### END HIDDEN TESTS

# %% [markdown]
# ## 7. OLMo 2's post-norm block (1 point)
#
# *Taught in the book:* [Where the norm goes: post-LN, pre-LN, OLMo 2 and QK-norm](../../book/07-modern-llms/normalization.md) (`book/07-modern-llms/normalization.md`).
#
# OLMo 2 moves the RMSNorm to the *end* of each residual branch: the branch's output is normalised
# before it is added, and the residual stream itself is never normalised:
#
# $$h = x + \mathrm{Norm}_1(\mathrm{Attn}(x)), \qquad y = h + \mathrm{Norm}_2(\mathrm{MLP}(h)).$$
#
# Build it from your `QKNormAttention` as `self.self_attn`, called as `self.self_attn(x, cos, sin)`
# (causal, no padding here; while this part is graded, your attention's forward is replaced by the
# reference's on your parameters, so a mistake in part 6 is not charged twice),
# `SwiGLU(hidden_size, intermediate_size)` as `self.mlp`, and `RMSNorm(hidden_size, eps)` as
# `self.post_attention_layernorm` and `self.post_feedforward_layernorm`. Hidden cases: 2 to 6
# heads, one token, gradients with respect to `x` and every parameter.
#
# **Device:** the grader moves the module and its inputs to CUDA when it has a GPU, else keeps them
# on CPU; make every new tensor on the device of `x` (`device=x.device`). **Dtype:** float32
# throughout.


# %% nbgrader={"grade": false, "grade_id": "post_norm", "locked": false, "schema_version": 3, "solution": true, "task": false}
class PostNormBlock(nn.Module):
    """OLMo 2 decoder block. forward(x, cos, sin): x (B, T, D), cos/sin (B, T, Dh) -> (B, T, D)."""

    def __init__(
        self,
        hidden_size: int,
        intermediate_size: int,
        num_heads: int,
        num_kv_heads: int,
        eps: float = 1e-6,
    ):
        super().__init__()
        ### BEGIN SOLUTION
        self.self_attn = QKNormAttention(hidden_size, num_heads, num_kv_heads, eps)
        self.post_attention_layernorm = RMSNorm(hidden_size, eps)
        self.mlp = SwiGLU(hidden_size, intermediate_size)
        self.post_feedforward_layernorm = RMSNorm(hidden_size, eps)
        ### END SOLUTION

    def forward(self, x, cos, sin):
        ### BEGIN SOLUTION
        h = x + self.post_attention_layernorm(self.self_attn(x, cos, sin))
        return h + self.post_feedforward_layernorm(self.mlp(h))
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_post_norm", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
check("modern_llms.post_norm.visible", PostNormBlock)
### BEGIN HIDDEN TESTS
check("modern_llms.post_norm", PostNormBlock)
### END HIDDEN TESTS

# %% [markdown]
# ## 8. Which layers drop RoPE: SmolLM3's rule (1 point)
#
# *Taught in the book:* [Sliding-window attention](../../book/07-modern-llms/sliding-window.md) (`book/07-modern-llms/sliding-window.md`).
#
# SmolLM3 removes the rotary embedding from every `interval`-th layer (NoPE, "no positional
# encoding"): layer `i` (0-based) is a NoPE layer when `(i + 1) % interval == 0`, so with its
# default `interval = 4` layers 3, 7, 11, ... (the 4th, 8th, 12th...) have no RoPE and the first
# layer keeps it. Return a list of `num_layers` Python **bools**, True = the layer uses RoPE: Hugging
# Face's `SmolLM3Config.no_rope_layers`, which holds 1 for a RoPE layer and 0 for a NoPE layer
# despite its name (return `True`/`False`, not 1/0). Hidden cases: 1 to 36 layers, intervals from 1
# (every layer NoPE) to more than `num_layers` (none), the default interval.
#
# **Device:** no tensors. **Dtype:** plain Python ints in, a `list` of `bool` out.


# %% nbgrader={"grade": false, "grade_id": "nope_layers", "locked": false, "schema_version": 3, "solution": true, "task": false}
def nope_layers(num_layers: int, interval: int = 4) -> list[bool]:
    """[uses RoPE?] for layers 0 .. num_layers - 1: False exactly when (i + 1) % interval == 0."""
    ### BEGIN SOLUTION
    flags = [True] * num_layers
    for i in range(interval - 1, num_layers, interval):
        flags[i] = False
    return flags
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_nope_layers", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
check("modern_llms.nope_layers.visible", nope_layers)
### BEGIN HIDDEN TESTS
check("modern_llms.nope_layers", nope_layers)
### END HIDDEN TESTS

# %% [markdown]
# ## 9. Attention with or without RoPE (2 points)
#
# *Taught in the book:* [Sliding-window attention](../../book/07-modern-llms/sliding-window.md) (`book/07-modern-llms/sliding-window.md`).
#
# SmolLM3's attention: chapter 3's causal grouped-query attention (part 6 without `q_norm` and
# `k_norm`: H query heads share G key/value heads, query head `h` uses kv head `h // (H // G)`;
# `head_dim = hidden_size // num_heads`; scores $QK^\top/\sqrt{D_h}$; no biases) with a flag.
# With `use_rope=True` queries and keys are rotated with `apply_rope` as usual; with
# `use_rope=False` (a NoPE layer) **neither** is rotated and `cos`, `sin` are ignored (the model
# computes them once and hands them to every layer). The causal mask stays in both kinds of layer:
# in a NoPE layer it is the only thing that tells positions apart. Layer `i` of a SmolLM3 model is
# `NoPEAttention(D, H, G, use_rope=nope_layers(L)[i])`.
#
# `attention_mask` (B, T) optional, 1 = real token, 0 = (left) padding: padded keys get no
# attention; a padded *query* row's output is unspecified (the grader skips it). Hidden cases:
# both flags, 2 to 8 query heads, G = H, G = 1 and in between, length 1, positions that do not
# start at 0 (`cos`, `sin` of positions p0 .. p0 + T - 1), padding, bfloat16, gradients with
# respect to `x` and every parameter.
#
# **Device:** the grader moves the module and its inputs to CUDA when it has a GPU, else keeps them
# on CPU; make every new tensor on the device of `x` (`device=x.device`). The causal and padding
# masks too. **Dtype:** float32, or bfloat16 parameters with bfloat16 `x`, `cos` and `sin`;
# `attention_mask` int64; return `x`'s dtype.


# %% nbgrader={"grade": false, "grade_id": "nope_attention", "locked": false, "schema_version": 3, "solution": true, "task": false}
class NoPEAttention(nn.Module):
    """Causal GQA that applies RoPE to q and k only when use_rope is True.

    Parameters: q_proj (H*Dh, D), k_proj (G*Dh, D), v_proj (G*Dh, D), o_proj (D, H*Dh).
    forward(x, cos, sin, attention_mask=None): x (B, T, D), cos/sin (B, T, Dh) -> (B, T, D).
    """

    def __init__(self, hidden_size: int, num_heads: int, num_kv_heads: int, use_rope: bool = True):
        super().__init__()
        ### BEGIN SOLUTION
        self.use_rope = use_rope
        self.h, self.g, self.dh = num_heads, num_kv_heads, hidden_size // num_heads
        self.q_proj = nn.Linear(hidden_size, self.h * self.dh, bias=False)
        self.k_proj = nn.Linear(hidden_size, self.g * self.dh, bias=False)
        self.v_proj = nn.Linear(hidden_size, self.g * self.dh, bias=False)
        self.o_proj = nn.Linear(self.h * self.dh, hidden_size, bias=False)
        ### END SOLUTION

    def forward(self, x, cos, sin, attention_mask=None):
        ### BEGIN SOLUTION
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.h, self.dh).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.g, self.dh).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.g, self.dh).transpose(1, 2)
        if self.use_rope:  # a NoPE layer skips this line and nothing else
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        rep = self.h // self.g
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.dh)
        allowed = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        if attention_mask is not None:
            allowed = allowed & attention_mask[:, None, None, :].bool()
        scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
        out = scores.float().softmax(-1).to(q.dtype) @ v
        return self.o_proj(out.transpose(1, 2).reshape(b, t, self.h * self.dh))
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_nope_attention", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
check("modern_llms.nope_attention.visible", NoPEAttention)
### BEGIN HIDDEN TESTS
check("modern_llms.nope_attention", NoPEAttention)
### END HIDDEN TESTS
