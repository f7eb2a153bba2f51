# ---
# jupyter:
#   autograder:
#     cpu_s: 300
#     memory_mb: 3072
#     timeout_s: 60
#     student_budget_s: 600
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # LLaMA internals: build the model, then run real weights through it
#
# You will implement every block of a LLaMA-architecture decoder: RMSNorm, rotary position
# embeddings, the SwiGLU feed-forward, grouped-query attention, a KV cache, the decoder block and
# the full model, and a sampling loop; then a fused RMSNorm kernel in Triton. At the end, the
# weights of SmolLM2-135M-Instruct (a real LLaMA-architecture model) load into **your** classes and
# generate text.
#
# Parameter names follow Hugging Face's `LlamaForCausalLM` (`q_proj`, `gate_proj`,
# `input_layernorm`, `model.layers.0....`), so real checkpoints load without renaming.
# Shapes: `B` batch, `T` new tokens, `S` cached + new tokens, `D` hidden size, `H` query heads,
# `G` key/value heads, `Dh` head dim. The grader runs more cases than the visible checks
# (other shapes, odd head counts, length 1, bfloat16, gradients, padding, cached decoding) in a
# separate process with **60 s per call, 3 GB of memory and 600 s for the whole notebook**.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false} copied_from="autograder.kit.KIT_SETUP (its try/except block; tests/test_kit.py checks it)"
import math
import os

import torch
from torch import nn
from torch.nn import functional as F

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")  # run Triton kernels on the CPU

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


# %% [markdown]
# ## 1. RMSNorm (2 points)
#
# *Taught in the book:* [Pre- and post-normalisation; LayerNorm and RMSNorm](../../book/03-llama/normalization.md) (`book/03-llama/normalization.md`).
#
# $y = \dfrac{x}{\sqrt{\frac{1}{D}\sum_i x_i^2 + \epsilon}} \odot w$ with a learnable weight `w`
# (initialised to ones). No mean is subtracted (that would be LayerNorm). Compute in float32, cast
# the normalised value back to the input's dtype, multiply by the weight (Hugging Face's order),
# and **return the input's dtype**: cast the product too. Hugging Face's `LlamaRMSNorm` stops at
# `self.weight * x.to(input_dtype)`, which promotes a bfloat16 `x` times a float32 weight to
# float32; here the result is `x`'s dtype, bfloat16 in that case.
#
# Hidden cases: `D` from 1 to 128, 1 to 9 rows, inputs of scale 1e-3 to 3, `eps` from 1e-6 to 0.1,
# float32 and bfloat16 inputs, gradients of the input and the weight (float32).
#
# **Device:** the grader moves the module and its inputs to CUDA when it has a GPU, else keeps them
# on CPU; make every new tensor on the device of `x` (`device=x.device`). **Dtype:** float32 weight;
# float32 or bfloat16 `x`; return `x`'s dtype.


# %% nbgrader={"grade": false, "grade_id": "rmsnorm", "locked": false, "schema_version": 3, "solution": true, "task": false}
class RMSNorm(nn.Module):
    """RMSNorm over the last dimension.

    Args:
        hidden_size: D.
        eps: added to the mean square *inside* the square root.
    Parameters:
        weight: (D,), initialised to ones.
    forward(x): x (..., D) of any float dtype -> (..., D) in x's dtype.
    """

    def __init__(self, hidden_size: int, eps: float = 1e-6):
        super().__init__()
        ### BEGIN SOLUTION
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(hidden_size))
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        x32 = x.float()
        rms_inv = torch.rsqrt(x32.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return (self.weight * (x32 * rms_inv).to(x.dtype)).to(x.dtype)
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_rmsnorm", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
check("llama.rmsnorm.visible", RMSNorm)
### BEGIN HIDDEN TESTS
check("llama.rmsnorm", RMSNorm)
### END HIDDEN TESTS

# %% [markdown]
# ## 2. Rotary position embeddings (3 points)
#
# *Taught in the book:* [Positions: sinusoidal, relative, rotary](../../book/03-llama/positions.md) (`book/03-llama/positions.md`).
#
# RoPE rotates pairs of coordinates of q and k by an angle proportional to the token's position, so
# that $\langle f_q(x_m, m), f_k(x_n, n)\rangle$ depends only on $m - n$. For a head of size
# $D_h$, pair $i$ ($0 \le i < D_h/2$) turns by $p \cdot \theta^{-2i/D_h}$ at position $p$.
#
# **Convention:** the pairs are $(x_i, x_{i + D_h/2})$ (the *half-split* layout used by Hugging
# Face's Llama and by the weights we load), not $(x_{2i}, x_{2i+1})$. With `rotate_half(x) =
# cat(-x2, x1)`, the rotation is `x * cos + rotate_half(x) * sin`, where `cos` and `sin` repeat the
# $D_h/2$ angles twice. Positions are passed explicitly: when decoding with a cache, the new token's
# position is the number of cached tokens.
#
# Hidden cases: `head_dim` from 2 to 128, 1 to 9 positions starting anywhere from 0 to about 2,000,
# `theta` 10,000 and 500,000; `apply_rope` on float32 and bfloat16 `x` (with `cos`, `sin` in the same
# dtype) and its gradient. Tolerances follow the float32 rounding of the angles themselves.
#
# **Device:** hidden inputs are on CUDA when the grader has a GPU, else on CPU; make every new
# tensor on the device of `positions` (`device=positions.device`). `apply_rope` gets `x`, `cos`,
# `sin` on one device. **Dtype:** `positions` int64, `rope_cos_sin` returns float32; `apply_rope`
# returns `x`'s dtype.


# %% nbgrader={"grade": false, "grade_id": "rope", "locked": false, "schema_version": 3, "solution": true, "task": false}
def rope_cos_sin(head_dim: int, positions: torch.Tensor, theta: float = 10000.0):
    """cos and sin tables for RoPE.

    Args:
        head_dim: Dh (even).
        positions: integer tensor of any shape P, e.g. (B, T).
        theta: the base (10,000 in LLaMA 1/2, 500,000 in LLaMA 3).
    Returns:
        (cos, sin), each float32 of shape (*P, Dh): angle[..., i] = positions * theta ** (-2i/Dh)
        for i < Dh/2, and the same angles repeated for the second half.
    """
    ### BEGIN SOLUTION
    exponents = (
        torch.arange(0, head_dim, 2, dtype=torch.float32, device=positions.device) / head_dim
    )
    inv_freq = theta ** (-exponents)
    angles = positions.to(torch.float32).unsqueeze(-1) * inv_freq
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos(), angles.sin()
    ### END SOLUTION


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate q or k.

    Args:
        x: (B, H, T, Dh).
        cos, sin: (B, T, Dh), from rope_cos_sin (broadcast over the heads).
    Returns:
        (B, H, T, Dh), same dtype as x.
    """
    ### BEGIN SOLUTION
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return (x * cos + rotated * sin).to(x.dtype)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_rope", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# the device rule on CPU: positions on torch's "meta" device (shapes, no data) give cos, sin there
_pos = torch.arange(4, device="meta")[None]
assert all(c.device == _pos.device for c in rope_cos_sin(8, _pos)), "use device=positions.device"
check("llama.rope_cos_sin.visible", rope_cos_sin)
check("llama.apply_rope.visible", apply_rope)
### BEGIN HIDDEN TESTS
check("llama.rope_cos_sin", rope_cos_sin)
check("llama.apply_rope", apply_rope)
### END HIDDEN TESTS

# %% [markdown]
# ## 3. SwiGLU feed-forward (1 point)
#
# *Taught in the book:* [SwiGLU; MHA, MQA and GQA](../../book/03-llama/ffn-attention.md) (`book/03-llama/ffn-attention.md`).
#
# $\mathrm{FFN}(x) = W_\text{down}\,(\mathrm{SiLU}(W_\text{gate} x) \odot W_\text{up} x)$, no biases.
# LLaMA sizes the hidden layer about $\tfrac{2}{3}\cdot 4D$ so that three matrices cost what two
# did in the original Transformer.
#
# Hidden cases: `D` from 5 to 24, intermediate sizes 12 to 64 (not multiples of anything), 1 to 4
# tokens, gradients of the input and every weight.
#
# **Device:** the grader moves the module and its inputs to CUDA when it has a GPU, else keeps them
# on CPU; make every new tensor on the device of `x` (`device=x.device`). **Dtype:** float32
# throughout.


# %% nbgrader={"grade": false, "grade_id": "swiglu", "locked": false, "schema_version": 3, "solution": true, "task": false}
class SwiGLU(nn.Module):
    """SwiGLU MLP.

    Parameters: gate_proj (F, D), up_proj (F, D), down_proj (D, F), all nn.Linear(bias=False).
    forward(x): (..., D) -> (..., D).
    """

    def __init__(self, hidden_size: int, intermediate_size: int):
        super().__init__()
        ### BEGIN SOLUTION
        self.gate_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.up_proj = nn.Linear(hidden_size, intermediate_size, bias=False)
        self.down_proj = nn.Linear(intermediate_size, hidden_size, bias=False)
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_swiglu", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
check("llama.swiglu.visible", SwiGLU)
### BEGIN HIDDEN TESTS
check("llama.swiglu", SwiGLU)
### END HIDDEN TESTS

# %% [markdown]
# ## 4. Grouped-query attention (3 points)
#
# *Taught in the book:* [SwiGLU; MHA, MQA and GQA](../../book/03-llama/ffn-attention.md) (`book/03-llama/ffn-attention.md`).
#
# `H` query heads share `G` key/value heads (`H % G == 0`): query head `h` uses kv head
# `h // (H // G)`. MHA is `G = H`, MQA is `G = 1`; LLaMA-2-70B uses 64 query heads and 8 kv heads.
# `repeat_kv` expands k and v so that ordinary attention applies. Scores are
# $QK^\top/\sqrt{D_h}$, causal (token `t` sees tokens `<= t`), and an optional padding mask removes
# keys that are padding. Apply RoPE to q and k (not v).
#
# `forward` also takes an optional `cache` (your `KVCache` from part 5) and `layer_idx`: with a
# cache, append the new k, v (after RoPE) and attend over all cached keys; the causal mask then has
# an offset (new token `t` sees cached tokens and new tokens `<= t`).
#
# **Padding rule.** With left padding, a padded *query* row may have no key it is allowed to see.
# Its output is unspecified: any value is accepted there, including NaN from a `-inf` mask (the
# book's softmax page shows why). The grader compares only the rows of real tokens, and checks
# gradients only on batches without padding. Hidden cases: 1 to 9 query heads, `G = H`, `G = 1`
# and groups in between, head sizes 2 to 16, length 1, left-padded batches, bfloat16, gradients
# with respect to `x` and every parameter.
#
# **Device:** the grader moves the module and its inputs to CUDA when it has a GPU, else keeps them
# on CPU; make every new tensor on the device of `x` (`device=x.device`). The causal and padding
# masks too. **Dtype:** float32, or bfloat16 parameters with bfloat16 `x`, `cos` and `sin`;
# `attention_mask` int64; return `x`'s dtype.


# %% nbgrader={"grade": false, "grade_id": "attention", "locked": false, "schema_version": 3, "solution": true, "task": false}
def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """(B, G, S, Dh) -> (B, G * n_rep, S, Dh), each kv head repeated n_rep times *in a row*."""
    ### BEGIN SOLUTION
    return torch.repeat_interleave(x, n_rep, dim=1)
    ### END SOLUTION


class Attention(nn.Module):
    """Causal grouped-query self-attention with RoPE.

    Args:
        hidden_size: D; head_dim is D // num_heads.
        num_heads: H query heads; num_kv_heads: G key/value heads (H % G == 0).
    Parameters: q_proj (H*Dh, D), k_proj (G*Dh, D), v_proj (G*Dh, D), o_proj (D, H*Dh), no biases.
    forward(x, cos, sin, attention_mask=None, cache=None, layer_idx=0):
        x: (B, T, D); cos, sin: (B, T, Dh) for the positions of the T new tokens;
        attention_mask: optional (B, S) with 1 for real tokens and 0 for padding;
        cache: optional KVCache; returns (B, T, D).
    """

    def __init__(self, hidden_size: int, num_heads: int, num_kv_heads: int):
        super().__init__()
        ### BEGIN SOLUTION
        self.h, self.g = num_heads, num_kv_heads
        self.dh = hidden_size // num_heads
        self.q_proj = nn.Linear(hidden_size, self.h * self.dh, bias=False)
        self.k_proj = nn.Linear(hidden_size, self.g * self.dh, bias=False)
        self.v_proj = nn.Linear(hidden_size, self.g * self.dh, bias=False)
        self.o_proj = nn.Linear(self.h * self.dh, hidden_size, bias=False)
        ### END SOLUTION

    def forward(self, x, cos, sin, attention_mask=None, cache=None, layer_idx=0):
        ### BEGIN SOLUTION
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.h, self.dh).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.g, self.dh).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.g, self.dh).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is not None:
            k, v = cache.update(layer_idx, k, v)
        s = k.shape[2]
        k, v = repeat_kv(k, self.h // self.g), repeat_kv(v, self.h // self.g)
        scores = torch.einsum("bhtd,bhsd->bhts", q, k) / math.sqrt(self.dh)
        allowed = torch.ones(t, s, dtype=torch.bool, device=x.device).tril(s - t)
        if attention_mask is not None:
            allowed = allowed & attention_mask[:, None, None, :s].bool()
        scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
        probs = scores.float().softmax(dim=-1).to(q.dtype)
        out = torch.einsum("bhts,bhsd->bhtd", probs, v)
        return self.o_proj(out.transpose(1, 2).reshape(b, t, self.h * self.dh))
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_attention", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
check("llama.repeat_kv.visible", repeat_kv)
check("llama.attention.visible", Attention)
### BEGIN HIDDEN TESTS
check("llama.repeat_kv", repeat_kv)
check("llama.attention", Attention)
### END HIDDEN TESTS

# %% [markdown]
# ## 5. KV cache (2 points)
#
# *Taught in the book:* [The KV cache](../../book/03-llama/kv-cache.md) (`book/03-llama/kv-cache.md`).
#
# At decode time only the newest token is new: the keys and values of all earlier tokens are the
# same as in the previous step. The cache keeps them per layer. Its size is
# $2 \cdot B \cdot L \cdot G \cdot D_h \cdot P \cdot N$ bytes (k and v, batch, length, kv heads, head dim,
# bytes per value, layers), which is why GQA matters for long contexts.
#
# Hidden cases: 2 layers, 1 to 3 kv heads, a prefill of 1 to 5 tokens followed by one-token and
# two-token updates, then `length()`.
#
# **Device:** hidden `k` and `v` are on CUDA when the grader has a GPU, else on CPU; keep the cache
# on their device and return the concatenated keys and values there. **Dtype:** float32; keep `k`'s
# dtype.


# %% nbgrader={"grade": false, "grade_id": "kv_cache", "locked": false, "schema_version": 3, "solution": true, "task": false}
class KVCache:
    """Keys and values of past tokens, per layer.

    KVCache(num_layers)
    update(layer_idx, k, v): k, v (B, G, T, Dh) for new tokens -> (k_all, v_all) of (B, G, S, Dh),
        all tokens so far for that layer (S = previous length + T), in order.
    length() -> int: number of tokens cached (in layer 0).
    """

    def __init__(self, num_layers: int):
        ### BEGIN SOLUTION
        self.keys = [None] * num_layers
        self.values = [None] * num_layers
        ### END SOLUTION

    def update(self, layer_idx: int, k: torch.Tensor, v: torch.Tensor):
        ### BEGIN SOLUTION
        if self.keys[layer_idx] is not None:
            k = torch.cat([self.keys[layer_idx], k], dim=2)
            v = torch.cat([self.values[layer_idx], v], dim=2)
        self.keys[layer_idx], self.values[layer_idx] = k, v
        return k, v
        ### END SOLUTION

    def length(self) -> int:
        ### BEGIN SOLUTION
        return 0 if self.keys[0] is None else self.keys[0].shape[2]
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_kv_cache", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
check("llama.kv_cache.visible", KVCache)
### BEGIN HIDDEN TESTS
check("llama.kv_cache", KVCache)
### END HIDDEN TESTS

# %% [markdown]
# ## 6. Decoder block and the full model (4 points)
#
# *Taught in the book:* [LLaMA internals (architecture and model tables)](../../book/03-llama/index.md) (`book/03-llama/index.md`).
#
# Pre-normalisation: `h = x + attn(norm1(x))`, `out = h + mlp(norm2(h))`. The model embeds tokens,
# runs the blocks, applies a final RMSNorm and a linear head (optionally tied to the embedding).
# With a cache, positions start at `cache.length()`.
#
# One mistake, one deduction: the block and the model are graded with the course's RMSNorm,
# attention and SwiGLU standing in for yours (and the model with the course's decoder block), so a
# mistake in an earlier part is not charged again here; keep the submodule names above. With a KV
# cache, your own attention runs (the cache is your object).
#
# Hidden cases: 1 to 9 query heads with `G = H`, `G = 1` and groups in between, batches of 1 and 2,
# 1 to 9 tokens (a prompt of length 1 included), tied and untied heads, RoPE base 10,000 and 500,000,
# parameter gradients; a prefill of 1 to 7 tokens followed by three one-token decode steps.
#
# **Device:** the grader moves the module and its inputs to CUDA when it has a GPU, else keeps them
# on CPU; make every new tensor on the device of `input_ids` (`device=input_ids.device`). Positions
# too. **Dtype:** the block: float32 `x`, `cos`, `sin`; the model: int64 ids, float32 parameters and
# logits.


# %% nbgrader={"grade": false, "grade_id": "model", "locked": false, "schema_version": 3, "solution": true, "task": false}
class DecoderLayer(nn.Module):
    """One LLaMA block. Submodules: input_layernorm (RMSNorm), self_attn (Attention),
    post_attention_layernorm (RMSNorm), mlp (SwiGLU).
    forward(x, cos, sin, cache=None, layer_idx=0): (B, T, D) -> (B, T, D), causal.
    """

    def __init__(self, hidden_size, intermediate_size, num_heads, num_kv_heads, eps=1e-5):
        super().__init__()
        ### BEGIN SOLUTION
        self.input_layernorm = RMSNorm(hidden_size, eps)
        self.self_attn = Attention(hidden_size, num_heads, num_kv_heads)
        self.post_attention_layernorm = RMSNorm(hidden_size, eps)
        self.mlp = SwiGLU(hidden_size, intermediate_size)
        ### END SOLUTION

    def forward(self, x, cos, sin, cache=None, layer_idx=0):
        ### BEGIN SOLUTION
        h = x + self.self_attn(self.input_layernorm(x), cos, sin, cache=cache, layer_idx=layer_idx)
        return h + self.mlp(self.post_attention_layernorm(h))
        ### END SOLUTION


class LlamaForCausalLM(nn.Module):
    """Token ids -> next-token logits.

    Submodules (Hugging Face names): model.embed_tokens (V, D), model.layers[i] (DecoderLayer),
    model.norm (RMSNorm), lm_head (V, D) without bias; tie_word_embeddings shares lm_head.weight
    with model.embed_tokens.weight.
    forward(input_ids, cache=None): (B, T) int64 -> (B, T, V) logits; with a cache, the T tokens
        continue the cached ones (positions cache.length() ... cache.length() + T - 1).
    new_cache() -> a KVCache for this model.
    """

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
        super().__init__()
        self.num_layers, self.rope_theta = num_layers, rope_theta
        self.head_dim = hidden_size // num_heads
        ### BEGIN SOLUTION
        self.model = nn.Module()
        self.model.embed_tokens = nn.Embedding(vocab_size, hidden_size)
        self.model.layers = nn.ModuleList(
            DecoderLayer(hidden_size, intermediate_size, num_heads, num_kv_heads, eps)
            for _ in range(num_layers)
        )
        self.model.norm = RMSNorm(hidden_size, eps)
        self.lm_head = nn.Linear(hidden_size, vocab_size, bias=False)
        if tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        ### END SOLUTION

    def new_cache(self):
        return KVCache(self.num_layers)

    def forward(self, input_ids, cache=None):
        ### BEGIN SOLUTION
        b, t = input_ids.shape
        start = cache.length() if cache is not None else 0
        positions = torch.arange(start, start + t, device=input_ids.device).expand(b, t)
        x = self.model.embed_tokens(input_ids)
        cos, sin = rope_cos_sin(self.head_dim, positions, self.rope_theta)
        cos, sin = cos.to(x.dtype), sin.to(x.dtype)
        for i, layer in enumerate(self.model.layers):
            x = layer(x, cos, sin, cache=cache, layer_idx=i)
        return self.lm_head(self.model.norm(x))
        ### END SOLUTION

    def generate(
        self, input_ids, max_new_tokens, temperature=0.0, top_k=None, top_p=None, seed=None
    ):
        return generate(self, input_ids, max_new_tokens, temperature, top_k, top_p, seed)


# %% nbgrader={"grade": true, "grade_id": "test_model", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false}
check("llama.decoder_layer.visible", DecoderLayer)
check("llama.model.visible", LlamaForCausalLM)
### BEGIN HIDDEN TESTS
check("llama.decoder_layer", DecoderLayer)
check("llama.model", LlamaForCausalLM)
### END HIDDEN TESTS

# %% [markdown]
# ## 7. Sampling with the cache (3 points)
#
# *Taught in the book:* [GPT: temperature, top-k and top-p (nucleus) sampling](../../book/01-bert-gpt/gpt.md) (`book/01-bert-gpt/gpt.md`) and [Real weights: SmolLM2 through the course model](../../book/03-llama/real-weights.md) (`book/03-llama/real-weights.md`).
#
# `sampling_probs` turns logits into the distribution to sample from: divide by the temperature,
# keep the `top_k` largest logits, then keep the smallest set of most likely tokens whose
# cumulative probability reaches `top_p` (the token that crosses the threshold is kept), and
# renormalise. `generate` prefills the prompt once, then feeds one token per step through the cache;
# `temperature == 0` means greedy. Sampling uses `torch.multinomial` with a CPU `torch.Generator`
# seeded by `seed`, so the same seed gives the same text.
#
# Edge cases the grader uses (each has a visible case below): `top_k` may be larger than the
# vocabulary `V` (then every token is kept); `top_k=1` is greedy at any temperature; **ties** at
# the `k`-th largest logit keep *every* tied token (keep `logits >= k-th largest value`); `top_p`
# as small as 0.05 keeps at least the most likely token; temperatures from 0.5 to 2; batches of 1
# to 3 rows and `V` from 8 to 40.
#
# **Device:** the grader moves the module and its inputs to CUDA when it has a GPU, else keeps them
# on CPU; make every new tensor on the device of `logits` (`device=logits.device`). The generator
# stays on the CPU: draw from `probs` moved to the CPU, then move each new token to the device of
# the ids. **Dtype:** float32 logits, float32 probabilities; int64 ids in and out of `generate`.


# %% nbgrader={"grade": false, "grade_id": "sampling", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sampling_probs(logits, temperature=1.0, top_k=None, top_p=None):
    """(B, V) logits -> (B, V) float32 probabilities (rows sum to 1, zeros outside top-k/top-p)."""
    ### BEGIN SOLUTION
    logits = logits.float() / temperature
    if top_k is not None:
        threshold = logits.topk(min(top_k, logits.shape[-1]), dim=-1).values[..., -1:]
        logits = torch.where(logits < threshold, torch.full_like(logits, -float("inf")), logits)
    probs = logits.softmax(dim=-1)
    if top_p is not None and top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        mass_before = sorted_probs.cumsum(dim=-1) - sorted_probs
        sorted_probs[mass_before >= top_p] = 0.0
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
        probs = probs / probs.sum(dim=-1, keepdim=True)
    return probs
    ### END SOLUTION


@torch.no_grad()
def generate(model, input_ids, max_new_tokens, temperature=0.0, top_k=None, top_p=None, seed=None):
    """(B, T) prompt -> (B, T + max_new_tokens) ids, using model.new_cache() and one token per step."""
    ### BEGIN SOLUTION
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    cache = model.new_cache()
    ids, step = input_ids, input_ids
    for _ in range(max_new_tokens):
        logits = model(step, cache)[:, -1]
        if temperature == 0:
            nxt = logits.argmax(dim=-1, keepdim=True)
        else:
            probs = sampling_probs(logits, temperature, top_k, top_p)
            nxt = torch.multinomial(probs.cpu(), 1, generator=generator).to(ids.device)
        ids = torch.cat([ids, nxt], dim=1)
        step = nxt
    return ids
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_sampling", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
check("llama.sampling_probs.visible", sampling_probs)
check("llama.generate.visible", LlamaForCausalLM)
### BEGIN HIDDEN TESTS
check("llama.sampling_probs", sampling_probs)
check("llama.generate", LlamaForCausalLM)
### END HIDDEN TESTS

# %% [markdown]
# ## 8. A fused RMSNorm kernel in Triton (2 points)
#
# *Taught in the book:* [Triton: programs, blocks and masks](../../book/03-llama/triton.md) (`book/03-llama/triton.md`).
#
# Eager RMSNorm reads and writes the tensor several times (square, mean, rsqrt, multiply, cast).
# A fused kernel reads each row once and writes it once. Write a Triton kernel with one program per
# row: load the row (masked to `D`), accumulate the mean square in float32, multiply by the rsqrt and
# the weight, store. On a CPU the notebook runs Triton's interpreter (`TRITON_INTERPRET=1`), which
# is slow but exact; on a GPU it compiles.
#
# Hidden cases: 1 to 7 rows, `D` from 33 to 1,000 (not powers of two: mask the tail), inputs of
# scale 1e-3 to 3, `eps` 1e-6 to 0.1. The grader checks that a Triton kernel actually ran (it counts
# launches), so a torch-only function scores zero here.
#
# **Device:** hidden inputs are on CUDA when the grader has a GPU, else on CPU; make every new
# tensor on the device of `x` (`device=x.device`). On CPU the grader runs Triton's interpreter.
# **Dtype:** float32 `x` and weight; return `x`'s dtype.

# %% nbgrader={"grade": false, "grade_id": "triton", "locked": false, "schema_version": 3, "solution": true, "task": false}
import triton
import triton.language as tl


def rmsnorm_triton(x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """RMSNorm of a 2-D tensor with a Triton kernel.

    Args:
        x: (R, D) contiguous; weight: (D,); eps inside the root.
    Returns:
        (R, D) in x's dtype, equal to RMSNorm(x) (float32 accumulation).
    """
    ### BEGIN SOLUTION
    x = x.contiguous()
    out = torch.empty_like(x)
    rows, d = x.shape
    _rmsnorm_kernel[(rows,)](x, weight, out, d, eps, BLOCK=triton.next_power_of_2(d))
    return out
    ### END SOLUTION


### BEGIN SOLUTION
# Copied from course.llama.triton_rmsnorm._rmsnorm_rows with _rmsnorm_rows->_rmsnorm_kernel
@triton.jit
def _rmsnorm_kernel(x_ptr, w_ptr, out_ptr, d, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < d
    x = tl.load(x_ptr + row * d + cols, mask=mask, other=0.0).to(tl.float32)
    inv = 1.0 / tl.sqrt(tl.sum(x * x, axis=0) / d + eps)
    w = tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
    tl.store(out_ptr + row * d + cols, (x * inv * w).to(out_ptr.dtype.element_ty), mask=mask)


### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_triton", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
check("llama.rmsnorm_triton.visible", rmsnorm_triton)
### BEGIN HIDDEN TESTS
check("llama.rmsnorm_triton", rmsnorm_triton)
### END HIDDEN TESTS

# %% [markdown]
# ## Real weights through your model (not graded)
#
# SmolLM2-135M-Instruct is a LLaMA-architecture model (30 layers, D = 576, 9 query heads, 3 kv
# heads, RoPE base 100,000). The course's kit ships a loader that reads its GGUF file and returns a
# state dict with Hugging Face names. If your classes follow the contracts, it loads into them
# unchanged.

# %% tags=["skip-grading"]
from coursekit import weights

config, state = weights.smollm2()
mine = LlamaForCausalLM(
    config.vocab_size,
    config.hidden_size,
    config.intermediate_size,
    config.num_hidden_layers,
    config.num_attention_heads,
    config.num_key_value_heads,
    config.rope_theta,
    config.rms_norm_eps,
    tie_word_embeddings=config.tie_word_embeddings,
)
mine.load_state_dict(state)
tokenizer = weights.smollm2_tokenizer()
prompt = tokenizer.apply_chat_template(
    [{"role": "user", "content": "What is a KV cache?"}],
    add_generation_prompt=True,
    return_tensors="pt",
)
ids = prompt if isinstance(prompt, torch.Tensor) else prompt["input_ids"]
out = mine.generate(ids, 40)
print(tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True))
