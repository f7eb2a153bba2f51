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
# # BERT and GPT: build both from one attention function
#
# You will implement scaled dot-product attention with padding and causal masks, multi-head
# attention, BERT's embeddings, its masked-LM corruption, BERT's post-LN encoder layer and the
# encoder, GPT-2's pre-LN block and language model, the causal LM loss, a first decoding loop, and
# finally a tiled attention kernel with an online softmax in Triton. At the end, the real weights of
# all-MiniLM-L6-v2 (a 6-layer BERT) load into **your** encoder and rank sentences by meaning.
#
# Parameter names follow `torch.nn.TransformerEncoderLayer` (`self_attn.in_proj_weight`,
# `self_attn.out_proj`, `linear1`, `linear2`, `norm1`, `norm2`) and Hugging Face's `BertEmbeddings`
# (`word_embeddings`, `position_embeddings`, `token_type_embeddings`, `LayerNorm`): your layers'
# state dicts load unchanged into torch's own layers, and real checkpoints load after a renaming
# the course provides. Shapes: `B` batch, `T` query length, `S` key length, `D` hidden size, `H`
# heads, `Dh = D / H`, `V` vocabulary. The grader runs more cases than the visible checks (other
# shapes, one head, length 1, padding, bfloat16 and float64, gradients) in a separate process with
# **60 s per call, 3 GB of memory and 600 s for the whole notebook**.
#
# **One mistake, one deduction.** Composite blocks are built from earlier ones through the named
# attributes given in each contract (`self.sdpa`, `self.self_attn`, `self.embeddings`,
# `self.layers`). While a composite is checked, those attributes answer with the reference
# (applied to your own parameters), so a bug in part 1 costs points in part 1 only: keep the names.

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
# ## 1. Scaled dot-product attention with masks (3 points)
#
# *Taught in the book:* [Attention and its masks](../../book/01-bert-gpt/attention.md) (`book/01-bert-gpt/attention.md`).
#
# $\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(QK^\top/\sqrt{D_h} + M\right) V$, where
# $M$ is $0$ where a query may look and $-\infty$ where it may not. Two masks:
#
# - **padding** (`attention_mask`, shape `(B, S)`, 1 for a real token and 0 for padding): no query
#   attends to a padding key;
# - **causal** (`causal=True`): query `i` sees key `j` only if `j <= i + (S - T)` (the `T` queries
#   are the *last* `T` of the `S` positions; with `S == T` that is `j <= i`).
#
# Compute the scores and the softmax in float32 (float64 for float64 inputs) and return `q`'s dtype.
# **A query with no visible key** (left padding with `causal=True`: a padding query sees only
# padding keys) **returns zeros**, as torch's `scaled_dot_product_attention` does; with a `-inf`
# mask the softmax of such a row is NaN (0/0), so handle it. Hidden cases: 1 to 4 heads, `Dh` from
# 4 to 32, `T` = `S` = 1, `T < S` with `causal=True` (3 queries over 7 keys), left- and
# right-padded batches, bfloat16 and float64, gradients with respect to `q`, `k` and `v` on
# batches where every query sees at least one key.
#
# **Device:** hidden inputs are on CUDA when the grader has a GPU, else on CPU; make every new
# tensor on the device of `q` (`device=q.device`). Masks too. **Dtype:** float32, bfloat16 and
# float64 `q`, `k`, `v` (same dtype); return `q`'s dtype. `attention_mask` is int64.


# %% nbgrader={"grade": false, "grade_id": "sdpa", "locked": false, "schema_version": 3, "solution": true, "task": false}
def scaled_dot_product_attention(q, k, v, attention_mask=None, causal=False):
    """softmax(q k^T / sqrt(Dh) + mask) v.

    Args:
        q: (B, H, T, Dh); k, v: (B, H, S, Dh), S >= T.
        attention_mask: optional (B, S) integer or bool, 1 = real key, 0 = padding.
        causal: if True, query i sees keys j <= i + S - T.
    Returns:
        (B, H, T, Dh) in q's dtype; rows with no visible key are 0.
    """
    ### BEGIN SOLUTION
    t, s = q.shape[-2], k.shape[-2]
    up = torch.promote_types(q.dtype, torch.float32)
    scores = (q @ k.transpose(-1, -2)).to(up) / math.sqrt(q.shape[-1])
    allowed = torch.ones(t, s, dtype=torch.bool, device=q.device)
    if causal:
        allowed = allowed.tril(s - t)
    allowed = allowed[None, None]
    if attention_mask is not None:
        allowed = allowed & attention_mask.bool()[:, None, None, :]
    scores = scores.masked_fill(~allowed, torch.finfo(up).min)
    probs = scores.softmax(dim=-1)
    probs = torch.where(allowed.any(dim=-1, keepdim=True), probs, torch.zeros_like(probs))
    return (probs.to(v.dtype) @ v).to(q.dtype)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_sdpa", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
check("bert_gpt.sdpa.visible", scaled_dot_product_attention)
### BEGIN HIDDEN TESTS
check("bert_gpt.sdpa", scaled_dot_product_attention)
### END HIDDEN TESTS

# %% [markdown]
# ## 2. Multi-head self-attention (2 points)
#
# *Taught in the book:* [Attention and its masks](../../book/01-bert-gpt/attention.md) (`book/01-bert-gpt/attention.md`).
#
# One projection makes q, k and v: `in_proj_weight` `(3D, D)` stacks $W_Q$, $W_K$, $W_V$ (in that
# order) and `in_proj_bias` `(3D,)` their biases; `out_proj` is `nn.Linear(D, D)` (with bias).
# These are `torch.nn.MultiheadAttention`'s names: your state dict loads into it. Head `h` uses
# features `h*Dh:(h+1)*Dh` of q, k and v (reshape `(B, T, D)` to `(B, T, H, Dh)`, then move the
# heads before `T`). The attention itself goes through `self.sdpa`, an instance of the `SDPA`
# module given below (it calls your part 1): keep that attribute. Hidden cases: `D` from 12 to 32,
# 1 to 8 heads, length 1, padding (left and right), causal, bfloat16 parameters and input,
# gradients with respect to `x` and every parameter.
#
# **Device:** the grader moves the module and its inputs to CUDA when it has a GPU, else keeps them
# on CPU; make every new tensor on the device of `x` (`device=x.device`). **Dtype:** float32, or
# bfloat16 parameters with a bfloat16 `x`; return `x`'s dtype.


# %% nbgrader={"grade": false, "grade_id": "mha", "locked": false, "schema_version": 3, "solution": true, "task": false}
class SDPA(nn.Module):
    """Part 1 as a module without parameters (given): the attention core of MultiHeadAttention."""

    def forward(self, q, k, v, attention_mask=None, causal=False):
        return scaled_dot_product_attention(q, k, v, attention_mask, causal)


class MultiHeadAttention(nn.Module):
    """Self-attention with H heads.

    Args:
        hidden_size: D; num_heads: H (D % H == 0).
    Parameters: in_proj_weight (3D, D), in_proj_bias (3D,), out_proj nn.Linear(D, D).
    Submodule: sdpa = SDPA().
    forward(x, attention_mask=None, causal=False): x (B, T, D), attention_mask (B, T) or None
        -> (B, T, D) in x's dtype.
    """

    def __init__(self, hidden_size: int, num_heads: int):
        super().__init__()
        self.sdpa = SDPA()
        ### BEGIN SOLUTION
        self.num_heads, self.head_dim = num_heads, hidden_size // num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * hidden_size))
        self.out_proj = nn.Linear(hidden_size, hidden_size)
        nn.init.xavier_uniform_(self.in_proj_weight)
        ### END SOLUTION

    def forward(self, x, attention_mask=None, causal=False):
        ### BEGIN SOLUTION
        b, t, d = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        q, k, v = (
            z.view(b, t, self.num_heads, self.head_dim).transpose(1, 2) for z in qkv.chunk(3, -1)
        )
        out = self.sdpa(q, k, v, attention_mask, causal)
        return self.out_proj(out.transpose(1, 2).reshape(b, t, d))
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_mha", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
check("bert_gpt.mha.visible", MultiHeadAttention)
### BEGIN HIDDEN TESTS
check("bert_gpt.mha", MultiHeadAttention)
### END HIDDEN TESTS

# %% [markdown]
# ## 3. BERT's embeddings (2 points)
#
# *Taught in the book:* [BERT: inputs, masked LM, fine-tuning](../../book/01-bert-gpt/bert.md) (`book/01-bert-gpt/bert.md`).
#
# BERT's input vector for token `t` is the sum of three learned embeddings: the token
# (`word_embeddings`), its position `0, 1, ..., T-1` (`position_embeddings`, learned, not
# sinusoidal) and its segment, sentence A = 0 or sentence B = 1 (`token_type_embeddings`); the sum
# goes through `LayerNorm` (with `eps`) and then dropout. `token_type_ids=None` means all zeros and
# `position_ids=None` means `0..T-1` for every row. Every id is an ordinary token: no
# `padding_idx` (Hugging Face's `BertEmbeddings` passes `padding_idx=pad_token_id`, 0 by default,
# which freezes row 0; build `nn.Embedding(V, D)` plainly, since the graded gradients include row
# 0). The grader uses `dropout=0.0`. Hidden cases:
# `V` 20 to 50, `D` 8 to 32, `T` from 1 up to `max_position_embeddings`, explicit `position_ids`
# that start later than 0, bfloat16 parameters, gradients of every parameter.
#
# **Device:** the grader moves the module and its inputs to CUDA when it has a GPU, else keeps them
# on CPU; make every new tensor on the device of `input_ids` (`device=input_ids.device`). The
# default `token_type_ids` and `position_ids` too. **Dtype:** ids are int64; parameters float32 or
# bfloat16; return the parameters' dtype.


# %% nbgrader={"grade": false, "grade_id": "embeddings", "locked": false, "schema_version": 3, "solution": true, "task": false}
class BertEmbeddings(nn.Module):
    """LayerNorm(word + position + token type embeddings), then dropout.

    Parameters: word_embeddings (V, D), position_embeddings (P, D), token_type_embeddings (2, D),
    LayerNorm (nn.LayerNorm(D, eps)); dropout nn.Dropout(dropout) (no parameters).
    forward(input_ids (B, T) int64, token_type_ids=None, position_ids=None) -> (B, T, D).
    """

    def __init__(
        self,
        vocab_size,
        hidden_size,
        max_position_embeddings=512,
        type_vocab_size=2,
        eps=1e-12,
        dropout=0.0,
    ):
        super().__init__()
        ### BEGIN SOLUTION
        self.word_embeddings = nn.Embedding(vocab_size, hidden_size)
        self.position_embeddings = nn.Embedding(max_position_embeddings, hidden_size)
        self.token_type_embeddings = nn.Embedding(type_vocab_size, hidden_size)
        self.LayerNorm = nn.LayerNorm(hidden_size, eps=eps)
        self.dropout = nn.Dropout(dropout)
        ### END SOLUTION

    def forward(self, input_ids, token_type_ids=None, position_ids=None):
        ### BEGIN SOLUTION
        b, t = input_ids.shape
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        if position_ids is None:
            position_ids = torch.arange(t, device=input_ids.device).expand(b, t)
        x = self.word_embeddings(input_ids) + self.position_embeddings(position_ids)
        x = x + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(x))
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_embeddings", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
check("bert_gpt.embeddings.visible", BertEmbeddings)
### BEGIN HIDDEN TESTS
check("bert_gpt.embeddings", BertEmbeddings)
### END HIDDEN TESTS

# %% [markdown]
# ## 4. Masked-LM corruption: 15%, then 80/10/10 (3 points)
#
# *Taught in the book:* [BERT: inputs, masked LM, fine-tuning](../../book/01-bert-gpt/bert.md) (`book/01-bert-gpt/bert.md`).
#
# BERT chooses 15% of the tokens to predict. Of the **chosen** tokens, 80% are replaced by
# `[MASK]`, 10% by a random token and 10% stay unchanged; special tokens (`[CLS]`, `[SEP]`,
# `[PAD]`, marked in `special_tokens_mask`) are never chosen. The labels are the original ids at
# chosen positions and `-100` everywhere else (the value `cross_entropy` ignores).
#
# To make the result reproducible and gradable, draw exactly three tensors, **in this order**, from
# `gen = torch.Generator().manual_seed(seed)`, a CPU generator, each of `input_ids`' shape and
# drawn on the CPU whatever `input_ids`' device: `u = torch.rand(shape, generator=gen)`,
# `r = torch.rand(shape, generator=gen)`, `random_ids = torch.randint(vocab_size, shape,
# generator=gen)`; then move the three to `input_ids.device` (`.to(input_ids.device)`).
# A token is chosen if it is not
# special and `u < mlm_probability`; a chosen token becomes `mask_token_id` if `r < 0.8`,
# `random_ids` if `0.8 <= r < 0.9`, and stays itself otherwise. Hidden cases: `B` 1 to 4, `T` 1
# to 64, `V` 25 to 1000, `mlm_probability` 0, 0.15, 0.5 and 0.9, rows padded at the end.
#
# **Device:** hidden inputs are on CUDA when the grader has a GPU, else on CPU; the draws are made
# on the CPU (above) and both outputs are on `input_ids`' device. **Dtype:** int64 ids, bool
# `special_tokens_mask`; both outputs int64.


# %% nbgrader={"grade": false, "grade_id": "mlm", "locked": false, "schema_version": 3, "solution": true, "task": false}
def mask_tokens(
    input_ids, special_tokens_mask, mask_token_id, vocab_size, seed, mlm_probability=0.15
):
    """BERT's masked-LM inputs and labels.

    Args:
        input_ids: (B, T) int64.
        special_tokens_mask: (B, T) bool, True at [CLS], [SEP] and [PAD].
        mask_token_id, vocab_size, seed: ints; mlm_probability: float in [0, 1].
    Returns:
        (corrupted_ids, labels), both (B, T) int64; labels are -100 where a token was not chosen.
    """
    ### BEGIN SOLUTION
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
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_mlm", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# the device rule on CPU: inputs on torch's "meta" device (shapes, no data) give outputs there
_ids = torch.full((2, 6), 7, device="meta")
_out = mask_tokens(_ids, torch.zeros(2, 6, dtype=torch.bool, device="meta"), 4, 40, seed=0)
assert all(o.device == _ids.device for o in _out), "move the CPU draws to input_ids.device"
check("bert_gpt.mlm.visible", mask_tokens)
### BEGIN HIDDEN TESTS
check("bert_gpt.mlm", mask_tokens)
### END HIDDEN TESTS

# %% [markdown]
# ## 5. BERT's post-LN encoder layer and the encoder (3 points)
#
# *Taught in the book:* [BERT: inputs, masked LM, fine-tuning](../../book/01-bert-gpt/bert.md) (`book/01-bert-gpt/bert.md`).
#
# BERT keeps the original Transformer's **post-LN** order: normalise *after* each residual sum,
# `h = norm1(x + self_attn(x, attention_mask))`, then `out = norm2(h + linear2(gelu(linear1(h))))`,
# with the exact (erf) GELU, `F.gelu(x)`. Attention is bidirectional: every token sees every real
# token. `BertModel` is `embeddings` followed by `layers` (an `nn.ModuleList`), with the padding
# mask passed to every layer; it returns the last hidden states (no pooler). Hidden cases: `D` 8
# to 24, 1 to 6 heads, length 1, right-padded batches, bfloat16, gradients of the input and of every
# parameter; `BertModel` with 2 layers, segments and padding.
#
# **Device:** the grader moves the module and its inputs to CUDA when it has a GPU, else keeps them
# on CPU; make every new tensor on the device of `x` (`device=x.device`). **Dtype:** float32, or
# bfloat16 parameters with a bfloat16 `x` (`EncoderLayer`); return `x`'s dtype. `BertModel` takes
# int64 ids and masks and float32 parameters.


# %% nbgrader={"grade": false, "grade_id": "encoder", "locked": false, "schema_version": 3, "solution": true, "task": false}
class EncoderLayer(nn.Module):
    """Post-LN encoder layer.

    Submodules: self_attn (MultiHeadAttention), linear1 nn.Linear(D, F), linear2 nn.Linear(F, D),
    norm1, norm2 nn.LayerNorm(D, eps).
    forward(x (B, T, D), attention_mask=None (B, T)) -> (B, T, D).
    """

    def __init__(self, hidden_size, num_heads, intermediate_size, eps=1e-12):
        super().__init__()
        ### BEGIN SOLUTION
        self.self_attn = MultiHeadAttention(hidden_size, num_heads)
        self.linear1 = nn.Linear(hidden_size, intermediate_size)
        self.linear2 = nn.Linear(intermediate_size, hidden_size)
        self.norm1 = nn.LayerNorm(hidden_size, eps=eps)
        self.norm2 = nn.LayerNorm(hidden_size, eps=eps)
        ### END SOLUTION

    def forward(self, x, attention_mask=None):
        ### BEGIN SOLUTION
        h = self.norm1(x + self.self_attn(x, attention_mask))
        return self.norm2(h + self.linear2(F.gelu(self.linear1(h))))
        ### END SOLUTION


class BertModel(nn.Module):
    """Submodules: embeddings (BertEmbeddings), layers (nn.ModuleList of num_layers EncoderLayer).

    forward(input_ids (B, T), token_type_ids=None, attention_mask=None) -> (B, T, D).
    """

    def __init__(
        self,
        vocab_size,
        hidden_size,
        num_layers,
        num_heads,
        intermediate_size,
        max_position_embeddings=512,
        type_vocab_size=2,
        eps=1e-12,
    ):
        super().__init__()
        ### BEGIN SOLUTION
        self.embeddings = BertEmbeddings(
            vocab_size, hidden_size, max_position_embeddings, type_vocab_size, eps
        )
        self.layers = nn.ModuleList(
            EncoderLayer(hidden_size, num_heads, intermediate_size, eps) for _ in range(num_layers)
        )
        ### END SOLUTION

    def forward(self, input_ids, token_type_ids=None, attention_mask=None):
        ### BEGIN SOLUTION
        x = self.embeddings(input_ids, token_type_ids)
        for layer in self.layers:
            x = layer(x, attention_mask)
        return x
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_encoder", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
check("bert_gpt.encoder_layer.visible", EncoderLayer)
check("bert_gpt.bert_model.visible", BertModel)
### BEGIN HIDDEN TESTS
check("bert_gpt.encoder_layer", EncoderLayer)
check("bert_gpt.bert_model", BertModel)
### END HIDDEN TESTS

# %% [markdown]
# ## 6. GPT-2's pre-LN block and the language model (3 points)
#
# *Taught in the book:* [GPT: next-token prediction, from GPT-1 to GPT-3](../../book/01-bert-gpt/gpt.md) (`book/01-bert-gpt/gpt.md`).
#
# GPT-2 moved the LayerNorm to the **input** of each sub-block (**pre-LN**):
# `h = x + self_attn(norm1(x), causal=True)`, `out = h + linear2(gelu_tanh(linear1(norm2(h))))`
# with `linear1` `(4D, D)` and GELU's tanh approximation, `F.gelu(x, approximate="tanh")`. Because
# the residual stream is never normalised inside the blocks, the model adds a **final** LayerNorm
# `ln_f` before the head. `GPT2` embeds tokens (`wte`) and positions `0..T-1` (`wpe`), runs `layers`,
# applies `ln_f` and a bias-free `lm_head` whose weight **is** `wte.weight` (tied: one tensor, so its
# gradient is the sum of both uses). `generate` is given: it calls your part 8. Hidden cases: `D`
# 8 to 24, 1 to 6 heads, length 1, bfloat16, `T` up to `max_positions`, gradients of every
# parameter.
#
# **Device:** the grader moves the module and its inputs to CUDA when it has a GPU, else keeps them
# on CPU; make every new tensor on the device of `input_ids` (`device=input_ids.device`). Positions
# too. **Dtype:** `DecoderBlock`: float32, or bfloat16 parameters with a bfloat16 `x`, return `x`'s
# dtype; `GPT2`: int64 ids, float32 parameters and logits.


# %% nbgrader={"grade": false, "grade_id": "gpt2", "locked": false, "schema_version": 3, "solution": true, "task": false}
class DecoderBlock(nn.Module):
    """Pre-LN decoder block.

    Submodules: norm1, norm2 nn.LayerNorm(D, eps); self_attn (MultiHeadAttention);
    linear1 nn.Linear(D, 4D); linear2 nn.Linear(4D, D).
    forward(x (B, T, D)) -> (B, T, D), causal.
    """

    def __init__(self, hidden_size, num_heads, eps=1e-5):
        super().__init__()
        ### BEGIN SOLUTION
        self.norm1 = nn.LayerNorm(hidden_size, eps=eps)
        self.self_attn = MultiHeadAttention(hidden_size, num_heads)
        self.norm2 = nn.LayerNorm(hidden_size, eps=eps)
        self.linear1 = nn.Linear(hidden_size, 4 * hidden_size)
        self.linear2 = nn.Linear(4 * hidden_size, hidden_size)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        h = x + self.self_attn(self.norm1(x), causal=True)
        return h + self.linear2(F.gelu(self.linear1(self.norm2(h)), approximate="tanh"))
        ### END SOLUTION


class GPT2(nn.Module):
    """Token ids -> next-token logits.

    Submodules: wte nn.Embedding(V, D), wpe nn.Embedding(max_positions, D), layers (nn.ModuleList
    of DecoderBlock), ln_f nn.LayerNorm(D, eps), lm_head nn.Linear(D, V, bias=False) with
    lm_head.weight = wte.weight.
    forward(input_ids (B, T) int64) -> logits (B, T, V).
    """

    def __init__(self, vocab_size, max_positions, hidden_size, num_layers, num_heads, eps=1e-5):
        super().__init__()
        ### BEGIN SOLUTION
        self.wte = nn.Embedding(vocab_size, hidden_size)
        self.wpe = nn.Embedding(max_positions, hidden_size)
        self.layers = nn.ModuleList(
            DecoderBlock(hidden_size, num_heads, eps) for _ in range(num_layers)
        )
        self.ln_f = nn.LayerNorm(hidden_size, eps=eps)
        self.lm_head = nn.Linear(hidden_size, vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight
        ### END SOLUTION

    def forward(self, input_ids):
        ### BEGIN SOLUTION
        t = input_ids.shape[1]
        x = self.wte(input_ids) + self.wpe(torch.arange(t, device=input_ids.device))
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.ln_f(x))
        ### END SOLUTION

    def generate(self, input_ids, max_new_tokens, temperature=0.0, top_k=None, seed=None):
        return generate(self, input_ids, max_new_tokens, temperature, top_k, seed)


# %% nbgrader={"grade": true, "grade_id": "test_gpt2", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
check("bert_gpt.decoder_block.visible", DecoderBlock)
check("bert_gpt.gpt2.visible", GPT2)
### BEGIN HIDDEN TESTS
check("bert_gpt.decoder_block", DecoderBlock)
check("bert_gpt.gpt2", GPT2)
### END HIDDEN TESTS

# %% [markdown]
# ## 7. The causal language-modelling loss (2 points)
#
# *Taught in the book:* [GPT: next-token prediction, from GPT-1 to GPT-3](../../book/01-bert-gpt/gpt.md) (`book/01-bert-gpt/gpt.md`).
#
# With teacher forcing, one forward pass scores every position at once: the logits at position `t`
# predict the token at `t + 1`. So drop the last position's logits and the first label, and take the
# mean cross-entropy over the remaining `B * (T - 1)` targets, skipping those equal to
# `ignore_index` (a prompt or padding excluded from training). Compute in float32 and return a
# float32 scalar (0-dim tensor). Hidden cases: `T` 2 to 16, `V` 5 to 50, ignored prefixes and
# single ignored targets, bfloat16 and float64 logits, the gradient with respect to the logits.
#
# **Device:** hidden inputs are on CUDA when the grader has a GPU, else on CPU; make every new
# tensor on the device of `logits` (`device=logits.device`). **Dtype:** float32, bfloat16 and
# float64 logits, int64 labels; return a float32 scalar whatever the logits' dtype.


# %% nbgrader={"grade": false, "grade_id": "lm_loss", "locked": false, "schema_version": 3, "solution": true, "task": false}
def causal_lm_loss(logits, labels, ignore_index=-100):
    """Mean next-token cross-entropy.

    Args:
        logits: (B, T, V) float; labels: (B, T) int64 (may contain ignore_index).
    Returns:
        float32 scalar: mean over t < T - 1 of CE(logits[:, t], labels[:, t + 1]), ignored skipped.
    """
    ### BEGIN SOLUTION
    v = logits.shape[-1]
    return F.cross_entropy(
        logits[:, :-1].reshape(-1, v).float(), labels[:, 1:].reshape(-1), ignore_index=ignore_index
    )
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_lm_loss", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
check("bert_gpt.lm_loss.visible", causal_lm_loss)
### BEGIN HIDDEN TESTS
check("bert_gpt.lm_loss", causal_lm_loss)
### END HIDDEN TESTS

# %% [markdown]
# ## 8. Decoding, one token at a time (2 points)
#
# *Taught in the book:* [GPT: next-token prediction, from GPT-1 to GPT-3](../../book/01-bert-gpt/gpt.md) (`book/01-bert-gpt/gpt.md`).
#
# At inference there is no next token to copy: the model feeds its own choice back. This first
# loop has no cache (chapter 3 adds one, and top-p): each step runs the **whole** sequence and
# reads the logits of the last position, in float32. `temperature == 0` means greedy (`argmax`).
# Otherwise divide the logits by the temperature, keep the `top_k` largest (set the others to
# `-inf`; keep every logit `>=` the `k`-th largest, so ties are kept; `top_k=None` or `top_k >= V`
# keeps all), take the softmax and draw with
# `torch.multinomial(probs, 1, generator=gen)`, where `gen = torch.Generator().manual_seed(seed)` is
# made **once** per call (on the CPU; move `probs` there first). Return the prompt followed by the
# new tokens. Hidden cases: 1 to 3 prompts of 1 to 5 tokens, 5 to 24 new tokens, temperatures 0,
# 0.3, 0.7 to 1.3, 2, 3 and 50, `top_k` 1, 2, 3, 5, `None` and 100 (`> V`). They are graded through
# `GPT2.generate` on small models, most with no blocks at all.
#
# **Device:** the grader moves the module and its inputs to CUDA when it has a GPU, else keeps them
# on CPU; make every new tensor on the device of `input_ids` (`device=input_ids.device`). The
# generator stays on the CPU: draw from `probs` moved to the CPU and move each new token back to
# `input_ids.device`. **Dtype:** int64 ids in and out; float32 parameters; sample from float32
# logits.


# %% nbgrader={"grade": false, "grade_id": "generate", "locked": false, "schema_version": 3, "solution": true, "task": false}
@torch.no_grad()
def generate(model, input_ids, max_new_tokens, temperature=0.0, top_k=None, seed=None):
    """(B, T) prompt -> (B, T + max_new_tokens) int64 ids, without a cache."""
    ### BEGIN SOLUTION
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    ids = input_ids
    for _ in range(max_new_tokens):
        logits = model(ids)[:, -1].float()
        if temperature == 0:
            nxt = logits.argmax(dim=-1, keepdim=True)
        else:
            logits = logits / temperature
            if top_k is not None and top_k < logits.shape[-1]:
                kth = logits.topk(top_k, dim=-1).values[:, -1:]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            probs = logits.softmax(dim=-1)
            nxt = torch.multinomial(probs.cpu(), 1, generator=gen).to(ids.device)
        ids = torch.cat([ids, nxt], dim=1)
    return ids
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_generate", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
check("bert_gpt.generate.visible", GPT2)
### BEGIN HIDDEN TESTS
check("bert_gpt.generate", GPT2)
### END HIDDEN TESTS

# %% [markdown]
# ## 9. Tiled attention with an online softmax, in Triton (3 points)
#
# *Taught in the book:* [Attention without the T x T matrix](../../book/01-bert-gpt/flash-attention.md) (`book/01-bert-gpt/flash-attention.md`).
#
# Part 1 materialises the `(T, S)` score matrix; for long sequences that matrix, not the
# arithmetic, is the cost. FlashAttention's forward pass never stores it: one program handles a
# block of `BLOCK_M` queries, walks over the keys in blocks of `BLOCK_N`, and keeps per query a
# running maximum `m`, a running sum `l` and an unnormalised output `acc`. For each key block with
# scores `s`: `m_new = max(m, rowmax(s))`, `p = exp(s - m_new)`,
# `l = l * exp(m - m_new) + rowsum(p)`, `acc = acc * exp(m - m_new) + p @ v`, `m = m_new`; at the
# end, `out = acc / l`.
#
# Write `flash_attention(q, k, v, causal=False)` that launches such a Triton kernel (the grader
# counts the launches: torch code gets no points). Inputs are float32, contiguous, `Dh` in
# {16, 32, 64}; `T` and `S` (`S >= T`) need not be multiples of the block size (mask the loads);
# with `causal=True` query `i` sees keys `j <= i + S - T`. No padding mask. On a CPU the notebook
# runs Triton's interpreter (`TRITON_INTERPRET=1`); `tl.dot` works there at these sizes. Hidden
# cases: `T` 1 to 40, `S` up to 40, `Dh` 16, 32 and 64, causal and not, scores large enough that the
# running maximum changes from block to block.
#
# **Device:** hidden inputs are on CUDA when the grader has a GPU, else on CPU; make every new
# tensor on the device of `q` (`device=q.device`). On CPU the grader runs Triton's interpreter.
# **Dtype:** float32 in, float32 out. On an NVIDIA GPU `tl.dot` rounds float32 inputs to TF32 (10
# mantissa bits) by default: there the tolerance is ten times the error of attention computed that
# way on the same inputs, so the default passes, and so does `input_precision="ieee"` (exact).

# %% nbgrader={"grade": false, "grade_id": "flash", "locked": false, "schema_version": 3, "solution": true, "task": false}
import triton
import triton.language as tl


def flash_attention(q, k, v, causal=False):
    """softmax(q k^T / sqrt(Dh)) v with a Triton kernel, never storing the (T, S) scores.

    Args:
        q: (B, H, T, Dh); k, v: (B, H, S, Dh); float32; Dh in {16, 32, 64}; S >= T.
        causal: query i sees keys j <= i + S - T.
    Returns:
        (B, H, T, Dh) float32.
    """
    ### BEGIN SOLUTION
    b, h, t, dh = q.shape
    s = k.shape[2]
    q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
    out = torch.empty_like(q)
    block = 16
    grid = (triton.cdiv(t, block), b * h)
    _flash_kernel[grid](q, k, v, out, t, s, 1.0 / math.sqrt(dh), dh, block, block, causal)
    return out
    ### END SOLUTION


### BEGIN SOLUTION
# Copied from course.bert_gpt.blocks._flash_kernel.kernel with kernel->_flash_kernel
@triton.jit
def _flash_kernel(
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


### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_flash", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
check("bert_gpt.flash_attention.visible", flash_attention)
### BEGIN HIDDEN TESTS
check("bert_gpt.flash_attention", flash_attention)
### END HIDDEN TESTS

# %% [markdown]
# ## Real weights through your encoder (not graded)
#
# all-MiniLM-L6-v2 is a BERT (6 layers, `D = 384`, 12 heads) trained to make sentence vectors:
# mean-pool the last hidden states over the real tokens and normalise. The course's kit renames its
# Hugging Face checkpoint for these contracts; if your classes follow them, it loads into your
# `BertModel` unchanged, and similar sentences get similar vectors.

# %% tags=["skip-grading"]
from transformers import BertModel as HFBertModel

from coursekit import weights

cfg, state, tokenizer = weights.minilm()
mine = BertModel(30522, 384, 6, 12, 1536, 512, 2, 1e-12).eval()
mine.load_state_dict(state)
sentences = [
    "A man is playing a guitar.",
    "Someone performs music on a stringed instrument.",
    "The stock market fell sharply today.",
    "Shares dropped at the opening bell.",
    "A cat sleeps on the sofa.",
]
tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
enc = tokenizer.encode_batch(sentences)
ids = torch.tensor([e.ids for e in enc])
mask = torch.tensor([e.attention_mask for e in enc])
theirs = HFBertModel.from_pretrained(str(weights.minilm_dir())).eval()  # Hugging Face's BERT
with torch.no_grad():
    hidden = mine(ids, torch.zeros_like(ids), mask)
    same = torch.allclose(hidden, theirs(input_ids=ids, attention_mask=mask)[0], atol=1e-4)
m = mask[..., None].float()
vectors = F.normalize((hidden * m).sum(1) / m.sum(1), dim=-1)  # mean over the real tokens
print("your encoder reproduces Hugging Face's hidden states:", same)
sims = vectors @ vectors.T
for i, sentence in enumerate(sentences):
    j = max((j for j in range(len(sentences)) if j != i), key=lambda j: sims[i, j])
    print(f"{sentence!r:52} closest: {sentences[j]!r} ({sims[i, j]:.2f})")
