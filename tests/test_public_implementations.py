"""Fair to every correct answer (issue 23): for every graded block, a well-known public
implementation, adapted only where the contract forces it (names, signature, argument order, the
contract's dtype), scores full marks under the public seed and a class secret.

Each implementation names the repository and file it follows. Where the public code is a library
installed in the venv (transformers, openai-whisper, tiktoken, tokenizers, torch), the library's own
function or module is called. A test marked ``xfail(strict=True)`` documents a finding: public
code as written that the released contract rejects (its reason says what differs and whose the
fix is: the contract now states each of these rules).

Blocks without a well-known public implementation of their contract are listed in ``SKIPPED``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import outcome
from torch import nn
from torch.nn import functional as F

import autograder.chapters.bert_gpt  # noqa: F401  (registers the checks)
import autograder.chapters.foundation  # noqa: F401
import autograder.chapters.llama  # noqa: F401
import autograder.chapters.modern_llms  # noqa: F401
import autograder.chapters.prologue  # noqa: F401
import autograder.chapters.scaling  # noqa: F401
import autograder.chapters.ssl_learning  # noqa: F401
import autograder.chapters.tokenization  # noqa: F401


def passes(name, obj):
    result = outcome(name, obj)
    assert result.passed, result.message


# =================================================================================================
# 00-prologue
# =================================================================================================
def test_prologue_matmul_flops_torch_flop_counter(secret):
    # pytorch/pytorch torch/utils/flop_counter.py, mm_flop (the formula FlopCounterMode counts)
    from torch.utils.flop_counter import mm_flop

    def matmul_flops(m, n, k):
        return mm_flop((m, k), (k, n))

    passes("prologue.matmul_flops", matmul_flops)


def test_prologue_softmax_triton_tutorial_naive_softmax(secret):
    # triton-lang/triton python/tutorials/02-fused-softmax.py, naive_softmax; adapted: any `dim`
    # (the tutorial reduces dim 1) and float32 inside for 16-bit inputs, as the contract asks
    def softmax(x, dim=-1):
        x_in = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        x_max = x_in.max(dim=dim, keepdim=True)[0]
        z = x_in - x_max
        numerator = torch.exp(z)
        denominator = numerator.sum(dim=dim, keepdim=True)
        ret = numerator / denominator
        return ret.to(x.dtype)

    passes("prologue.softmax", softmax)


def test_prologue_time_fn_timeit_repeat(secret):
    # Python's timeit.Timer(stmt, timer=time.perf_counter).repeat(repeat, number=1), the standard
    # library's timer, and statistics.median; adapted: the warmup calls first, and a CUDA
    # synchronisation inside the timed statement when CUDA is available
    import statistics
    import time
    import timeit

    def time_fn(fn, warmup=2, iters=5):
        def stmt():
            fn()
            if torch.cuda.is_available():
                torch.cuda.synchronize()

        for _ in range(warmup):
            stmt()
        times = timeit.Timer(stmt, timer=time.perf_counter).repeat(repeat=iters, number=1)
        return statistics.median(times)

    passes("prologue.time_fn", time_fn)


# =================================================================================================
# 01-bert-gpt
# =================================================================================================
def test_bert_gpt_sdpa_torch_scaled_dot_product_attention(secret):
    # torch.nn.functional.scaled_dot_product_attention itself; adapted: the contract's padding mask
    # and bottom-right causal mask become torch's boolean attn_mask (True = may attend)
    def scaled_dot_product_attention(q, k, v, attention_mask=None, causal=False):
        t, s = q.shape[-2], k.shape[-2]
        allowed = torch.ones(t, s, dtype=torch.bool, device=q.device)
        if causal:
            allowed = allowed.tril(s - t)
        allowed = allowed[None, None]
        if attention_mask is not None:
            allowed = allowed & attention_mask.bool()[:, None, None, :]
        return F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)

    passes("bert_gpt.sdpa", scaled_dot_product_attention)


class _SDPA(nn.Module):
    """The notebook's given SDPA module (the grader puts its own in this slot)."""

    def forward(self, q, k, v, attention_mask=None, causal=False):
        t, s = q.shape[-2], k.shape[-2]
        allowed = torch.ones(t, s, dtype=torch.bool, device=q.device)
        if causal:
            allowed = allowed.tril(s - t)
        allowed = allowed[None, None]
        if attention_mask is not None:
            allowed = allowed & attention_mask.bool()[:, None, None, :]
        return F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)


class NanoGPTSelfAttention(nn.Module):
    """karpathy/nanoGPT model.py, CausalSelfAttention; adapted: c_attn/c_proj are torch's
    in_proj_weight/in_proj_bias/out_proj (the contract's names), the attention call goes through
    self.sdpa with the contract's masks instead of F.scaled_dot_product_attention(is_causal=True)."""

    def __init__(self, hidden_size, num_heads):
        super().__init__()
        assert hidden_size % num_heads == 0
        self.sdpa = _SDPA()
        self.in_proj_weight = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * hidden_size))
        self.out_proj = nn.Linear(hidden_size, hidden_size)
        nn.init.normal_(self.in_proj_weight, std=0.02)
        self.n_head = num_heads
        self.n_embd = hidden_size

    def forward(self, x, attention_mask=None, causal=False):
        B, T, C = x.size()
        q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        y = self.sdpa(q, k, v, attention_mask, causal)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        y = self.out_proj(y)
        return y


def test_bert_gpt_mha_nanogpt_causal_self_attention(secret):
    passes("bert_gpt.mha", NanoGPTSelfAttention)


def test_bert_gpt_embeddings_hugging_face_bert_embeddings(secret):
    # huggingface/transformers models/bert/modeling_bert.py, BertEmbeddings (the library's class);
    # adapted: built from the contract's arguments instead of a BertConfig, with
    # pad_token_id=None (no padding_idx; see the xfail below for the default)
    passes("bert_gpt.embeddings", _hf_bert_embeddings(pad_token_id=None))


@pytest.mark.xfail(
    strict=True,
    reason="Hugging Face's BertEmbeddings (BertConfig's default pad_token_id=0) builds "
    "word_embeddings with padding_idx=0, so row 0 gets no gradient, while the check feeds id 0 "
    "as an ordinary token and compares that row's gradient; the contract says so (no "
    "padding_idx), and the same class with pad_token_id=None passes",
)
def test_bert_gpt_embeddings_hugging_face_default_padding_idx(secret):
    passes("bert_gpt.embeddings", _hf_bert_embeddings(pad_token_id=0))


def _hf_bert_embeddings(pad_token_id):
    from transformers import BertConfig
    from transformers.models.bert.modeling_bert import BertEmbeddings as HFBertEmbeddings

    class BertEmbeddings(HFBertEmbeddings):
        def __init__(
            self,
            vocab_size,
            hidden_size,
            max_position_embeddings=512,
            type_vocab_size=2,
            eps=1e-12,
            dropout=0.0,
        ):
            super().__init__(
                BertConfig(
                    vocab_size=vocab_size,
                    hidden_size=hidden_size,
                    max_position_embeddings=max_position_embeddings,
                    type_vocab_size=type_vocab_size,
                    layer_norm_eps=eps,
                    hidden_dropout_prob=dropout,
                    pad_token_id=pad_token_id,
                )
            )

        def forward(self, input_ids, token_type_ids=None, position_ids=None):
            return super().forward(input_ids, token_type_ids, position_ids)

    return BertEmbeddings


def test_bert_gpt_mlm_hugging_face_data_collator(secret):
    # huggingface/transformers data/data_collator.py, DataCollatorForLanguageModeling
    # .torch_mask_tokens; adapted: the contract fixes the three draws (u, r, random_ids from one
    # CPU generator), so bernoulli(p) becomes u < p and the 80/10/10 split reads r
    def mask_tokens(
        input_ids, special_tokens_mask, mask_token_id, vocab_size, seed, mlm_probability=0.15
    ):
        gen = torch.Generator().manual_seed(seed)
        shape = tuple(input_ids.shape)
        u = torch.rand(shape, generator=gen).to(input_ids.device)
        r = torch.rand(shape, generator=gen).to(input_ids.device)
        random_words = torch.randint(vocab_size, shape, generator=gen).to(input_ids.device)
        inputs, labels = input_ids.clone(), input_ids.clone()
        probability_matrix = torch.full(labels.shape, mlm_probability, device=labels.device)
        probability_matrix.masked_fill_(special_tokens_mask.bool(), value=0.0)
        masked_indices = u < probability_matrix
        labels[~masked_indices] = -100
        indices_replaced = (r < 0.8) & masked_indices
        inputs[indices_replaced] = mask_token_id
        indices_random = (r >= 0.8) & (r < 0.9) & masked_indices & ~indices_replaced
        inputs[indices_random] = random_words[indices_random]
        return inputs, labels

    passes("bert_gpt.mlm", mask_tokens)


class TorchEncoderLayer(nn.Module):
    """pytorch/pytorch torch/nn/modules/transformer.py, TransformerEncoderLayer (norm_first=False,
    activation=gelu); adapted: self_attn is the contract's MultiHeadAttention, called as
    self_attn(x, attention_mask)."""

    def __init__(self, hidden_size, num_heads, intermediate_size, eps=1e-12):
        super().__init__()
        self.self_attn = NanoGPTSelfAttention(hidden_size, num_heads)
        self.linear1 = nn.Linear(hidden_size, intermediate_size)
        self.dropout = nn.Dropout(0.0)
        self.linear2 = nn.Linear(intermediate_size, hidden_size)
        self.norm1 = nn.LayerNorm(hidden_size, eps=eps)
        self.norm2 = nn.LayerNorm(hidden_size, eps=eps)
        self.dropout1 = nn.Dropout(0.0)
        self.dropout2 = nn.Dropout(0.0)
        self.activation = F.gelu

    def forward(self, x, attention_mask=None):
        x = self.norm1(x + self._sa_block(x, attention_mask))
        x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attention_mask):
        x = self.self_attn(x, attention_mask)
        return self.dropout1(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


def test_bert_gpt_encoder_layer_torch_transformer_encoder_layer(secret):
    passes("bert_gpt.encoder_layer", TorchEncoderLayer)


class _Embeddings(nn.Module):
    def __init__(self, vocab_size, hidden_size, max_position_embeddings, type_vocab_size, eps):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, hidden_size)
        self.position_embeddings = nn.Embedding(max_position_embeddings, hidden_size)
        self.token_type_embeddings = nn.Embedding(type_vocab_size, hidden_size)
        self.LayerNorm = nn.LayerNorm(hidden_size, eps=eps)

    def forward(self, input_ids, token_type_ids=None, position_ids=None):
        t = input_ids.shape[1]
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        positions = torch.arange(t, device=input_ids.device)[None]
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions)
        return self.LayerNorm(x + self.token_type_embeddings(token_type_ids))


class TorchTransformerEncoderModel(nn.Module):
    """pytorch/pytorch torch/nn/modules/transformer.py, TransformerEncoder.forward (a loop over
    self.layers with the padding mask), behind BERT's embeddings; adapted: the contract's names."""

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
        self.embeddings = _Embeddings(
            vocab_size, hidden_size, max_position_embeddings, type_vocab_size, eps
        )
        self.layers = nn.ModuleList(
            TorchEncoderLayer(hidden_size, num_heads, intermediate_size, eps)
            for _ in range(num_layers)
        )
        self.num_layers = num_layers

    def forward(self, input_ids, token_type_ids=None, attention_mask=None):
        output = self.embeddings(input_ids, token_type_ids)
        for mod in self.layers:
            output = mod(output, attention_mask)
        return output


def test_bert_gpt_bert_model_torch_transformer_encoder(secret):
    passes("bert_gpt.bert_model", TorchTransformerEncoderModel)


class NanoGPTBlock(nn.Module):
    """karpathy/nanoGPT model.py, Block and MLP (pre-LN); adapted: the contract's names (ln_1 ->
    norm1, attn -> self_attn, c_fc -> linear1, c_proj -> linear2)."""

    approximate = "none"  # nanoGPT's MLP uses nn.GELU(): the exact erf GELU

    def __init__(self, hidden_size, num_heads, eps=1e-5):
        super().__init__()
        self.norm1 = nn.LayerNorm(hidden_size, eps=eps)
        self.self_attn = NanoGPTSelfAttention(hidden_size, num_heads)
        self.norm2 = nn.LayerNorm(hidden_size, eps=eps)
        self.linear1 = nn.Linear(hidden_size, 4 * hidden_size)
        self.gelu = nn.GELU(approximate=self.approximate)
        self.linear2 = nn.Linear(4 * hidden_size, hidden_size)

    def forward(self, x):
        x = x + self.self_attn(self.norm1(x), causal=True)
        x = x + self.linear2(self.gelu(self.linear1(self.norm2(x))))
        return x


class NanoGPTBlockTanhGelu(NanoGPTBlock):
    """The same with GELU's tanh approximation, which the contract names (GPT-2's gelu_new, as
    Hugging Face's GPT2MLP)."""

    approximate = "tanh"


def test_bert_gpt_decoder_block_nanogpt_block_tanh_gelu(secret):
    passes("bert_gpt.decoder_block", NanoGPTBlockTanhGelu)


@pytest.mark.xfail(
    strict=True,
    reason="nanoGPT's MLP uses the exact erf GELU (nn.GELU()) where GPT-2 and the contract use "
    "the tanh form; outputs differ by ~6e-4, above rtol=1e-4/atol=1e-5: the public code deviates "
    "from a rule the contract states, so the grader is right (kept to document it)",
)
def test_bert_gpt_decoder_block_nanogpt_block_as_is(secret):
    passes("bert_gpt.decoder_block", NanoGPTBlock)


class NanoGPT(nn.Module):
    """karpathy/nanoGPT model.py, GPT.__init__/forward/generate; adapted: the contract's names
    (transformer.wte -> wte, transformer.h -> layers), no dropout, the contract's generate."""

    block = NanoGPTBlockTanhGelu

    def __init__(self, vocab_size, max_positions, hidden_size, num_layers, num_heads, eps=1e-5):
        super().__init__()
        self.wte = nn.Embedding(vocab_size, hidden_size)
        self.wpe = nn.Embedding(max_positions, hidden_size)
        self.layers = nn.ModuleList(
            [self.block(hidden_size, num_heads, eps) for _ in range(num_layers)]
        )
        self.ln_f = nn.LayerNorm(hidden_size, eps=eps)
        self.lm_head = nn.Linear(hidden_size, vocab_size, bias=False)
        self.wte.weight = self.lm_head.weight  # https://paperswithcode.com/method/weight-tying
        self.block_size = max_positions

    def forward(self, idx):
        device = idx.device
        b, t = idx.size()
        pos = torch.arange(0, t, dtype=torch.long, device=device)
        tok_emb = self.wte(idx)
        pos_emb = self.wpe(pos)
        x = tok_emb + pos_emb
        for block in self.layers:
            x = block(x)
        x = self.ln_f(x)
        logits = self.lm_head(x)
        return logits

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, temperature=0.0, top_k=None, seed=None):
        # adapted: temperature 0 is greedy, and the draw uses the contract's CPU generator
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        for _ in range(max_new_tokens):
            idx_cond = idx if idx.size(1) <= self.block_size else idx[:, -self.block_size :]
            logits = self(idx_cond)
            logits = logits[:, -1, :].float()
            if temperature == 0:
                idx_next = logits.argmax(dim=-1, keepdim=True)
            else:
                logits = logits / temperature
                if top_k is not None:
                    v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                    logits[logits < v[:, [-1]]] = -float("Inf")
                probs = F.softmax(logits, dim=-1)
                idx_next = torch.multinomial(probs.cpu(), num_samples=1, generator=gen)
                idx_next = idx_next.to(idx.device)
            idx = torch.cat((idx, idx_next), dim=1)
        return idx


def test_bert_gpt_gpt2_nanogpt(secret):
    passes("bert_gpt.gpt2", NanoGPT)


def test_bert_gpt_generate_nanogpt(secret):
    passes("bert_gpt.generate", NanoGPT)


def test_bert_gpt_lm_loss_hugging_face_for_causal_lm_loss(secret):
    # huggingface/transformers loss/loss_utils.py, ForCausalLMLoss (the library's function)
    from transformers.loss.loss_utils import ForCausalLMLoss

    def causal_lm_loss(logits, labels, ignore_index=-100):
        return ForCausalLMLoss(logits, labels, logits.shape[-1], ignore_index=ignore_index)

    passes("bert_gpt.lm_loss", causal_lm_loss)


# =================================================================================================
# 02-scaling-laws
# =================================================================================================
def _hf_gpt2(cfg, n_positions=None):
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        vocab_size=cfg["vocab_size"],
        n_positions=n_positions or cfg["n_positions"],
        n_embd=cfg["n_embd"],
        n_layer=cfg["n_layer"],
        n_head=cfg["n_head"],
        n_inner=cfg.get("n_inner"),
        tie_word_embeddings=cfg["tie_word_embeddings"],
    )
    with torch.device("meta"):
        return GPT2LMHeadModel(config)


def test_scaling_count_params_hugging_face_gpt2(secret):
    # huggingface/transformers GPT2LMHeadModel (built on the meta device) and
    # PreTrainedModel.num_parameters(exclude_embeddings=True); adapted: Kaplan's non-embedding
    # count also leaves out an untied output layer, which num_parameters keeps
    def count_params(cfg):
        model = _hf_gpt2(cfg)
        total = sum(p.numel() for p in model.parameters())
        non_embedding = model.num_parameters(exclude_embeddings=True)
        if not cfg["tie_word_embeddings"]:
            non_embedding -= model.lm_head.weight.numel()
        return {"total": total, "non_embedding": non_embedding}

    passes("scaling.count_params", count_params)


def test_scaling_flops_flop_counter_on_hugging_face_gpt2(secret):
    # torch.utils.flop_counter.FlopCounterMode on huggingface/transformers' GPT2LMHeadModel
    # (meta device: shapes only) for the forward pass; Kaplan et al. (2020) Table 1 for the rest
    from torch.utils.flop_counter import FlopCounterMode

    def flops(cfg, n_ctx, n_tokens):
        model = _hf_gpt2(cfg, n_positions=max(cfg["n_positions"], n_ctx))
        model.config._attn_implementation = "eager"
        ids = torch.zeros(1, n_ctx, dtype=torch.long, device="meta")
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(ids)
        forward = counter.get_total_flops() // n_ctx
        d, n_layer = cfg["n_embd"], cfg["n_layer"]
        f = cfg.get("n_inner") or 4 * d
        n = 2 * d * n_layer * (2 * d + f)
        return {
            "kaplan_forward_per_token": 2 * n + 2 * n_layer * n_ctx * d,
            "forward_per_token": forward,
            "train": 3 * forward * n_tokens,
            "six_nd": 6 * n * n_tokens,
        }

    passes("scaling.flops", flops)


def test_scaling_fit_power_law_numpy_polyfit(secret):
    # numpy.polyfit (degree 1) on log y against log x
    def fit_power_law(x, y):
        slope, intercept = np.polyfit(np.log(x.double().numpy()), np.log(y.double().numpy()), 1)
        alpha = -slope
        return {"alpha": float(alpha), "x_c": float(math.exp(intercept / alpha))}

    passes("scaling.fit_power_law", fit_power_law)


def test_scaling_fit_chinchilla_scipy_huber_logsumexp(secret):
    # Hoffmann et al. (2022) approach 3 (Appendix D.2: Huber delta 1e-3 on the log loss, a
    # log-sum-exp prediction, L-BFGS from a grid), written with scipy.special.huber and
    # scipy.special.logsumexp, with the objective's gradient (jac=True, which the contract
    # allows); the grid and the options are the contract's
    import itertools

    from scipy.optimize import minimize
    from scipy.special import huber, logsumexp

    def fit_chinchilla(n, d, loss):
        log_n, log_d, log_l = (np.log(np.asarray(v, dtype=np.float64)) for v in (n, d, loss))

        def objective(params):
            a, b, e, alpha, beta = params
            terms = np.stack([a - alpha * log_n, b - beta * log_d, e * np.ones_like(log_n)])
            pred = logsumexp(terms, axis=0)
            r = pred - log_l
            # the gradient (jac=True): Huber's derivative times the softmax weights of the terms
            h = np.clip(r, -1e-3, 1e-3)
            w = np.exp(terms - pred)
            grad = [
                np.sum(h * w[0]),
                np.sum(h * w[1]),
                np.sum(h * w[2]),
                -np.sum(h * w[0] * log_n),
                -np.sum(h * w[1] * log_d),
            ]
            return np.sum(huber(1e-3, r)), np.array(grad)

        grid = np.array(
            list(
                itertools.product(
                    [0, 5, 10, 15, 20, 25],
                    [0, 5, 10, 15, 20, 25],
                    [-1, -0.5, 0, 0.5, 1],
                    [0, 0.5, 1, 1.5, 2],
                    [0, 0.5, 1, 1.5, 2],
                )
            ),
            dtype=np.float64,
        )
        a, b, e, alpha, beta = (grid[:, i : i + 1] for i in range(5))  # the objective, vectorised
        terms = [a - alpha * log_n, b - beta * log_d, np.broadcast_to(e, (len(grid), len(log_n)))]
        values = np.sum(huber(1e-3, logsumexp(np.stack(terms), axis=0) - log_l), axis=1)
        starts = grid[np.argsort(values, kind="stable")]
        options = {"ftol": 1e-15, "gtol": 1e-12, "maxiter": 3000}
        fits = [
            minimize(objective, s, method="L-BFGS-B", jac=True, options=options) for s in starts[:4]
        ]
        a, b, e, alpha, beta = min(fits, key=lambda r: r.fun).x
        return {"E": math.exp(e), "A": math.exp(a), "B": math.exp(b), "alpha": alpha, "beta": beta}

    passes("scaling.fit_chinchilla", fit_chinchilla)


# =================================================================================================
# 03-llama
# =================================================================================================
class MetaLlamaRMSNorm(nn.Module):
    """meta-llama/llama llama/model.py, RMSNorm; adapted: the contract's argument names, and the
    product cast to x's dtype (Meta's returns float32 for bfloat16 x and a float32 weight)."""

    def __init__(self, hidden_size, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(hidden_size))

    def _norm(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)

    def forward(self, x):
        output = self._norm(x.float()).type_as(x)
        return (output * self.weight).to(x.dtype)


def test_llama_rmsnorm_meta_llama(secret):
    passes("llama.rmsnorm", MetaLlamaRMSNorm)


def hf_rope_cos_sin(head_dim, positions, theta=10000.0):
    # huggingface/transformers models/llama/modeling_llama.py, LlamaRotaryEmbedding
    # (compute_default_rope_parameters and forward); adapted: a function of (head_dim, positions,
    # theta), positions of any leading shape
    inv_freq = 1.0 / (
        theta
        ** (torch.arange(0, head_dim, 2, dtype=torch.int64).to(positions.device).float() / head_dim)
    )
    position_ids = positions.reshape(1, -1)
    inv_freq_expanded = inv_freq[None, :, None].float().expand(position_ids.shape[0], -1, 1)
    position_ids_expanded = position_ids[:, None, :].float()
    freqs = (inv_freq_expanded.float() @ position_ids_expanded.float()).transpose(1, 2)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    return cos.reshape(*positions.shape, head_dim), sin.reshape(*positions.shape, head_dim)


def test_llama_rope_cos_sin_hugging_face_rotary_embedding(secret):
    passes("llama.rope_cos_sin", hf_rope_cos_sin)


def hf_apply_rope(x, cos, sin):
    # huggingface/transformers models/llama/modeling_llama.py, apply_rotary_pos_emb (the library's)
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    return apply_rotary_pos_emb(x, x, cos, sin, unsqueeze_dim=1)[0]


def test_llama_apply_rope_hugging_face(secret):
    passes("llama.apply_rope", hf_apply_rope)


def _llama_mlp_class():
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaMLP

    class SwiGLU(LlamaMLP):
        # huggingface/transformers LlamaMLP (the library's class), built from the contract's sizes
        def __init__(self, hidden_size, intermediate_size):
            super().__init__(
                LlamaConfig(
                    hidden_size=hidden_size,
                    intermediate_size=intermediate_size,
                    num_attention_heads=1,  # attention is not built; a valid config needs them
                    num_key_value_heads=1,
                    head_dim=2,
                )
            )

    return SwiGLU


def test_llama_swiglu_hugging_face_llama_mlp(secret):
    passes("llama.swiglu", _llama_mlp_class())


def test_llama_repeat_kv_hugging_face(secret):
    # huggingface/transformers models/llama/modeling_llama.py, repeat_kv (the library's function)
    from transformers.models.llama.modeling_llama import repeat_kv

    passes("llama.repeat_kv", repeat_kv)


def _additive_mask(t, s, attention_mask, dtype, device):
    """The 4-D additive mask Hugging Face's create_causal_mask builds for eager attention: 0 where
    a query may look, the dtype's minimum elsewhere (bottom-right causal, padding keys)."""
    allowed = torch.ones(t, s, dtype=torch.bool, device=device).tril(s - t)[None, None]
    if attention_mask is not None:
        allowed = allowed & attention_mask[:, None, None, :s].bool()
    zero = torch.zeros((), dtype=dtype, device=device)
    return torch.where(allowed, zero, torch.finfo(dtype).min)


class HFLlamaAttention(nn.Module):
    """huggingface/transformers models/llama/modeling_llama.py, LlamaAttention.forward, calling the
    library's apply_rotary_pos_emb and eager_attention_forward; adapted: the contract's
    constructor, the cache called as cache.update(layer_idx, k, v), the mask built here."""

    def __init__(self, hidden_size, num_heads, num_kv_heads):
        super().__init__()
        self.head_dim = hidden_size // num_heads
        self.num_key_value_groups = num_heads // num_kv_heads
        self.scaling = self.head_dim**-0.5
        self.q_proj = nn.Linear(hidden_size, num_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(hidden_size, num_kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(hidden_size, num_kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(num_heads * self.head_dim, hidden_size, bias=False)

    def forward(self, x, cos, sin, attention_mask=None, cache=None, layer_idx=0):
        from transformers.models.llama.modeling_llama import (
            apply_rotary_pos_emb,
            eager_attention_forward,
        )

        hidden_states = x
        input_shape = hidden_states.shape[:-1]
        hidden_shape = (*input_shape, -1, self.head_dim)
        query_states = self.q_proj(hidden_states).view(hidden_shape).transpose(1, 2)
        key_states = self.k_proj(hidden_states).view(hidden_shape).transpose(1, 2)
        value_states = self.v_proj(hidden_states).view(hidden_shape).transpose(1, 2)
        query_states, key_states = apply_rotary_pos_emb(query_states, key_states, cos, sin)
        if cache is not None:
            key_states, value_states = cache.update(layer_idx, key_states, value_states)
        mask = _additive_mask(
            x.shape[1], key_states.shape[2], attention_mask, query_states.dtype, x.device
        )
        attn_output, _ = eager_attention_forward(
            self, query_states, key_states, value_states, mask, dropout=0.0, scaling=self.scaling
        )
        attn_output = attn_output.reshape(*input_shape, -1).contiguous()
        return self.o_proj(attn_output)


def test_llama_attention_hugging_face_llama_attention(secret):
    passes("llama.attention", HFLlamaAttention)


class HFDynamicKVCache:
    """huggingface/transformers cache_utils.py, DynamicCache (the library's class); adapted: the
    contract's update(layer_idx, k, v) and length()."""

    def __init__(self, num_layers):
        from transformers.cache_utils import DynamicCache

        self.cache = DynamicCache()

    def update(self, layer_idx, k, v):
        return self.cache.update(k, v, layer_idx)

    def length(self):
        return self.cache.get_seq_length(0)


def test_llama_kv_cache_hugging_face_dynamic_cache(secret):
    passes("llama.kv_cache", HFDynamicKVCache)


class HFLlamaDecoderLayer(nn.Module):
    """huggingface/transformers models/llama/modeling_llama.py, LlamaDecoderLayer.forward;
    adapted: the contract's constructor and call signature."""

    def __init__(self, hidden_size, intermediate_size, num_heads, num_kv_heads, eps=1e-5):
        super().__init__()
        self.self_attn = HFLlamaAttention(hidden_size, num_heads, num_kv_heads)
        self.mlp = _llama_mlp_class()(hidden_size, intermediate_size)
        self.input_layernorm = MetaLlamaRMSNorm(hidden_size, eps=eps)
        self.post_attention_layernorm = MetaLlamaRMSNorm(hidden_size, eps=eps)

    def forward(self, x, cos, sin, cache=None, layer_idx=0):
        residual = x
        hidden_states = self.input_layernorm(x)
        hidden_states = self.self_attn(hidden_states, cos, sin, cache=cache, layer_idx=layer_idx)
        hidden_states = residual + hidden_states
        residual = hidden_states
        hidden_states = self.post_attention_layernorm(hidden_states)
        hidden_states = self.mlp(hidden_states)
        hidden_states = residual + hidden_states
        return hidden_states


def hf_sampling_probs(logits, temperature=1.0, top_k=None, top_p=None):
    # huggingface/transformers generation/logits_process.py: TemperatureLogitsWarper,
    # TopKLogitsWarper and TopPLogitsWarper (the library's classes), then the softmax that
    # GenerationMixin._sample takes before torch.multinomial
    from transformers.generation.logits_process import (
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    scores = logits.float()
    scores = TemperatureLogitsWarper(temperature)(None, scores)
    if top_k is not None:
        scores = TopKLogitsWarper(top_k)(None, scores)
    if top_p is not None and top_p < 1.0:
        scores = TopPLogitsWarper(top_p)(None, scores)
    return F.softmax(scores, dim=-1)


class HFLlamaForCausalLM(nn.Module):
    """huggingface/transformers models/llama/modeling_llama.py, LlamaModel.forward and
    LlamaForCausalLM (positions from the cache length, rotary embedding in x's dtype, final norm,
    lm_head); adapted: the contract's constructor, cache and generate."""

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
        self.model = nn.Module()
        self.model.embed_tokens = nn.Embedding(vocab_size, hidden_size)
        self.model.layers = nn.ModuleList(
            HFLlamaDecoderLayer(hidden_size, intermediate_size, num_heads, num_kv_heads, eps)
            for _ in range(num_layers)
        )
        self.model.norm = MetaLlamaRMSNorm(hidden_size, eps=eps)
        self.lm_head = nn.Linear(hidden_size, vocab_size, bias=False)
        if tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight

    def new_cache(self):
        return HFDynamicKVCache(self.num_layers)

    def forward(self, input_ids, cache=None):
        inputs_embeds = self.model.embed_tokens(input_ids)
        past_seen_tokens = cache.length() if cache is not None else 0
        cache_position = torch.arange(
            past_seen_tokens, past_seen_tokens + inputs_embeds.shape[1], device=inputs_embeds.device
        )
        position_ids = cache_position.unsqueeze(0).expand(input_ids.shape[0], -1)
        cos, sin = hf_rope_cos_sin(self.head_dim, position_ids, self.rope_theta)
        cos, sin = cos.to(dtype=inputs_embeds.dtype), sin.to(dtype=inputs_embeds.dtype)
        hidden_states = inputs_embeds
        for i, decoder_layer in enumerate(self.model.layers):
            hidden_states = decoder_layer(hidden_states, cos, sin, cache=cache, layer_idx=i)
        hidden_states = self.model.norm(hidden_states)
        return self.lm_head(hidden_states)

    @torch.no_grad()
    def generate(
        self, input_ids, max_new_tokens, temperature=0.0, top_k=None, top_p=None, seed=None
    ):
        # meta-llama/llama llama/generation.py, Llama.generate: prefill, then one token per step
        # through the cache (prev_pos -> cur_pos); adapted: the contract's top-k, seeded CPU
        # generator, and the draw from sampling_probs over the vocabulary
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        cache = self.new_cache()
        tokens, step = input_ids, input_ids
        for _ in range(max_new_tokens):
            logits = self.forward(step, cache)
            if temperature > 0:
                probs = hf_sampling_probs(logits[:, -1], temperature, top_k, top_p)
                next_token = torch.multinomial(probs.cpu(), 1, generator=generator)
            else:
                next_token = torch.argmax(logits[:, -1], dim=-1, keepdim=True)
            next_token = next_token.to(tokens.device)
            tokens = torch.cat([tokens, next_token], dim=1)
            step = next_token
        return tokens


class MetaSampleTopPLlama(HFLlamaForCausalLM):
    """Meta's own sampler, meta-llama/llama llama/generation.py sample_top_p, as it is: it draws
    torch.multinomial over the probabilities *sorted* in decreasing order, then maps back."""

    @torch.no_grad()
    def generate(
        self, input_ids, max_new_tokens, temperature=0.0, top_k=None, top_p=None, seed=None
    ):
        generator = torch.Generator().manual_seed(seed) if seed is not None else None

        def sample_top_p(probs, p):
            probs_sort, probs_idx = torch.sort(probs, dim=-1, descending=True)
            probs_sum = torch.cumsum(probs_sort, dim=-1)
            mask = probs_sum - probs_sort > p
            probs_sort[mask] = 0.0
            probs_sort.div_(probs_sort.sum(dim=-1, keepdim=True))
            next_token = torch.multinomial(probs_sort, num_samples=1, generator=generator)
            next_token = torch.gather(probs_idx, -1, next_token)
            return next_token

        cache = self.new_cache()
        tokens, step = input_ids, input_ids
        for _ in range(max_new_tokens):
            logits = self.forward(step, cache)
            if temperature > 0:
                probs = hf_sampling_probs(logits[:, -1], temperature, top_k, None).cpu()
                next_token = sample_top_p(probs, 1.0 if top_p is None else top_p)
            else:
                next_token = torch.argmax(logits[:, -1], dim=-1, keepdim=True)
            next_token = next_token.to(tokens.device)
            tokens = torch.cat([tokens, next_token], dim=1)
            step = next_token
        return tokens


def test_llama_decoder_layer_hugging_face(secret):
    passes("llama.decoder_layer", HFLlamaDecoderLayer)


def test_llama_model_hugging_face(secret):
    passes("llama.model", HFLlamaForCausalLM)


def test_llama_sampling_probs_hugging_face_logits_warpers(secret):
    passes("llama.sampling_probs", hf_sampling_probs)


def test_llama_generate_meta_llama_loop(secret):
    passes("llama.generate", HFLlamaForCausalLM)


def test_llama_generate_meta_sample_top_p(secret):
    passes("llama.generate", MetaSampleTopPLlama)


def test_llama_rmsnorm_triton_unsloth_kernel(secret):
    # unslothai/unsloth unsloth/kernels/rms_layernorm.py, _rms_layernorm_forward (the forward
    # kernel; its r buffer of inverse roots kept) and the launch in Fast_RMS_Layernorm.forward;
    # adapted: BLOCK_SIZE from triton.next_power_of_2 (unsloth's calculate_settings also picks
    # num_warps)
    import triton
    import triton.language as tl

    @triton.jit
    def _rms_layernorm_forward(
        Y,
        Y_row_stride,
        X,
        X_row_stride,
        W,
        W_row_stride,
        r,
        r_row_stride,
        n_cols,
        eps,
        BLOCK_SIZE: tl.constexpr,
    ):
        row_idx = tl.program_id(0)
        col_offsets = tl.arange(0, BLOCK_SIZE)
        mask = col_offsets < n_cols
        Y += row_idx * Y_row_stride
        X += row_idx * X_row_stride
        r += row_idx * r_row_stride
        X_row = tl.load(X + col_offsets, mask=mask, other=0).to(tl.float32)
        W_row = tl.load(W + col_offsets, mask=mask, other=0)
        row_var = tl.sum(X_row * X_row, axis=0) / n_cols
        inv_var = tl.math.rsqrt(row_var + eps)
        tl.store(r, inv_var)
        normed = X_row * inv_var
        normed = normed.to(W_row.dtype)  # Exact copy from HF
        output = normed * W_row
        tl.store(Y + col_offsets, output, mask=mask)

    def rmsnorm_triton(x, weight, eps=1e-6):
        shape = x.shape
        dim = shape[-1]
        X = x.view(-1, dim)
        n_rows, n_cols = X.shape
        BLOCK_SIZE = triton.next_power_of_2(n_cols)
        Y = torch.empty((n_rows, n_cols), dtype=X.dtype, device=X.device)
        r = torch.empty(n_rows, dtype=torch.float32, device=X.device)
        _rms_layernorm_forward[(n_rows,)](
            Y,
            Y.stride(0),
            X,
            X.stride(0),
            weight,
            weight.stride(0),
            r,
            r.stride(0),
            n_cols,
            eps,
            BLOCK_SIZE=BLOCK_SIZE,
        )
        return Y.view(*shape)

    passes("llama.rmsnorm_triton", rmsnorm_triton)


# =================================================================================================
# 04-tokenization
# =================================================================================================
def test_tokenization_train_bpe_sennrich_learn_bpe(secret):
    # Sennrich et al. (2016), "Neural Machine Translation of Rare Words with Subword Units",
    # Algorithm 1 (get_stats, merge_vocab; rsennrich/subword-nmt learn_bpe.py); adapted: the
    # contract's tie-break (smallest pair; the paper's max() takes the first in dict order), the
    # early stop, and words as tuples (the paper's space-joined strings cannot hold a space)
    import collections

    def get_stats(vocab):
        pairs = collections.defaultdict(int)
        for word, freq in vocab.items():
            symbols = word
            for i in range(len(symbols) - 1):
                pairs[symbols[i], symbols[i + 1]] += freq
        return pairs

    def merge_vocab(pair, v_in):
        v_out = {}
        for word in v_in:
            w_out, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == pair:
                    w_out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    w_out.append(word[i])
                    i += 1
            v_out[tuple(w_out)] = v_in[word]
        return v_out

    def train_bpe(word_counts, num_merges):
        vocab = {tuple(w): c for w, c in word_counts.items()}
        merges = []
        for _ in range(num_merges):
            pairs = get_stats(vocab)
            if not pairs:
                break
            best = min(pairs, key=lambda p: (-pairs[p], p))
            vocab = merge_vocab(best, vocab)
            merges.append(best)
        return merges

    passes("tokenization.train_bpe", train_bpe)


def test_tokenization_bpe_encode_openai_gpt2_encoder(secret):
    # openai/gpt-2 src/encoder.py, get_pairs and Encoder.bpe; adapted: ranks from the merges
    # argument, a list of tokens returned (no cache, no space-joined string)
    def get_pairs(word):
        pairs = set()
        prev_char = word[0]
        for char in word[1:]:
            pairs.add((prev_char, char))
            prev_char = char
        return pairs

    def bpe_encode(token, merges):
        bpe_ranks = {tuple(m): i for i, m in enumerate(merges)}
        if not token:
            return []
        word = tuple(token)
        pairs = get_pairs(word)
        if not pairs:
            return [token]
        while True:
            bigram = min(pairs, key=lambda pair: bpe_ranks.get(pair, float("inf")))
            if bigram not in bpe_ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                    new_word.extend(word[i:j])
                    i = j
                except ValueError:
                    new_word.extend(word[i:])
                    break
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            new_word = tuple(new_word)
            word = new_word
            if len(word) == 1:
                break
            else:
                pairs = get_pairs(word)
        return list(word)

    passes("tokenization.bpe_encode", bpe_encode)


def _minbpe_get_stats(ids, counts=None):
    # karpathy/minbpe minbpe/base.py, get_stats
    counts = {} if counts is None else counts
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def _minbpe_merge(ids, pair, idx):
    # karpathy/minbpe minbpe/base.py, merge
    newids = []
    i = 0
    while i < len(ids):
        if ids[i] == pair[0] and i < len(ids) - 1 and ids[i + 1] == pair[1]:
            newids.append(idx)
            i += 2
        else:
            newids.append(ids[i])
            i += 1
    return newids


def test_tokenization_byte_encode_minbpe(secret):
    # karpathy/minbpe minbpe/basic.py, BasicTokenizer.encode; adapted: merges as a list argument
    def byte_encode(text, merges):
        merges = {tuple(p): 256 + i for i, p in enumerate(merges)}
        text_bytes = text.encode("utf-8")
        ids = list(text_bytes)
        while len(ids) >= 2:
            stats = _minbpe_get_stats(ids)
            pair = min(stats, key=lambda p: merges.get(p, float("inf")))
            if pair not in merges:
                break
            idx = merges[pair]
            ids = _minbpe_merge(ids, pair, idx)
        return ids

    passes("tokenization.byte_encode", byte_encode)


def test_tokenization_byte_decode_minbpe(secret):
    # karpathy/minbpe minbpe/base.py Tokenizer._build_vocab and basic.py BasicTokenizer.decode
    def byte_decode(ids, merges):
        vocab = {idx: bytes([idx]) for idx in range(256)}
        for i, (p0, p1) in enumerate(merges):
            vocab[256 + i] = vocab[p0] + vocab[p1]
        text_bytes = b"".join(vocab[idx] for idx in ids)
        text = text_bytes.decode("utf-8", errors="replace")
        return text

    passes("tokenization.byte_decode", byte_decode)


def test_tokenization_gpt2_pretokenize_openai_gpt2_encoder(secret):
    # openai/gpt-2 src/encoder.py, Encoder.pat and re.findall(self.pat, text)
    import regex as re

    pat = re.compile(
        r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
    )

    def gpt2_pretokenize(text):
        return re.findall(pat, text)

    passes("tokenization.gpt2_pretokenize", gpt2_pretokenize)


def test_tokenization_gpt2_encode_pieces_tiktoken_educational(secret):
    # openai/tiktoken tiktoken/_educational.py, bpe_encode (the library's function) with GPT-2's
    # ranks as openai-whisper ships them (the notebook's GPT2_RANKS)
    import base64
    from importlib import resources

    from tiktoken._educational import bpe_encode

    ranks = {
        base64.b64decode(tok): int(rank)
        for tok, rank in (
            line.split()
            for line in (resources.files("whisper") / "assets" / "gpt2.tiktoken")
            .read_text()
            .splitlines()
            if line
        )
    }

    def gpt2_encode_pieces(pieces):
        return [i for piece in pieces for i in bpe_encode(ranks, piece.encode("utf-8"), None)]

    passes("tokenization.gpt2_encode_pieces", gpt2_encode_pieces)


def test_tokenization_wordpiece_hugging_face_wordpiece_tokenizer(secret):
    # huggingface/transformers models/bert/tokenization_bert.py, WordpieceTokenizer.tokenize as it
    # reads (greedy longest-match-first, max_input_chars_per_word=100); adapted: one word and the
    # vocabulary as arguments
    def wordpiece(word, vocab, unk_token="[UNK]", max_input_chars_per_word=100):
        vocab = set(vocab)
        output_tokens = []
        for token in [word]:
            chars = list(token)
            if len(chars) > max_input_chars_per_word:
                output_tokens.append(unk_token)
                continue
            is_bad = False
            start = 0
            sub_tokens = []
            while start < len(chars):
                end = len(chars)
                cur_substr = None
                while start < end:
                    substr = "".join(chars[start:end])
                    if start > 0:
                        substr = "##" + substr
                    if substr in vocab:
                        cur_substr = substr
                        break
                    end -= 1
                if cur_substr is None:
                    is_bad = True
                    break
                sub_tokens.append(cur_substr)
                start = end
            if is_bad:
                output_tokens.append(unk_token)
            else:
                output_tokens.extend(sub_tokens)
        return output_tokens

    passes("tokenization.wordpiece", wordpiece)


def test_tokenization_bert_pretokenize_hugging_face_tokenizers(secret):
    # huggingface/tokenizers: BertNormalizer(lowercase, strip_accents, handle_chinese_chars) and
    # BertPreTokenizer, the two stages of all-MiniLM-L6-v2's tokenizer.json (the library's)
    from tokenizers.normalizers import BertNormalizer
    from tokenizers.pre_tokenizers import BertPreTokenizer

    normalizer = BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True
    )
    pre_tokenizer = BertPreTokenizer()

    def bert_pretokenize(text):
        return [w for w, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text))]

    passes("tokenization.bert_pretokenize", bert_pretokenize)


# =================================================================================================
# 05-ssl
# =================================================================================================
def test_ssl_patchify_mae(secret):
    # facebookresearch/mae models_mae.py, MaskedAutoencoderViT.patchify; adapted: C channels (MAE
    # has 3) and rectangular images (MAE asserts H == W)
    def patchify(imgs, patch_size):
        p = patch_size
        c = imgs.shape[1]
        h, w = imgs.shape[2] // p, imgs.shape[3] // p
        x = imgs.reshape(shape=(imgs.shape[0], c, h, p, w, p))
        x = torch.einsum("nchpwq->nhwpqc", x)
        x = x.reshape(shape=(imgs.shape[0], h * w, p**2 * c))
        return x

    passes("ssl_learning.patchify", patchify)


def test_ssl_unpatchify_mae(secret):
    # facebookresearch/mae models_mae.py, MaskedAutoencoderViT.unpatchify; adapted: C channels
    # and the image size as arguments (MAE takes h = w = sqrt(N))
    def unpatchify(x, patch_size, height, width):
        p = patch_size
        h, w = height // p, width // p
        c = x.shape[2] // (p * p)
        assert h * w == x.shape[1]
        x = x.reshape(shape=(x.shape[0], h, w, p, p, c))
        x = torch.einsum("nhwpqc->nchpwq", x)
        imgs = x.reshape(shape=(x.shape[0], c, h * p, w * p))
        return imgs

    passes("ssl_learning.unpatchify", unpatchify)


def test_ssl_random_masking_mae(secret):
    # facebookresearch/mae models_mae.py, MaskedAutoencoderViT.random_masking; adapted: the noise
    # is an argument, the mask in x's dtype (MAE's is float32)
    def random_masking(x, mask_ratio, noise):
        N, L, D = x.shape
        len_keep = int(L * (1 - mask_ratio))
        ids_shuffle = torch.argsort(noise, dim=1)
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        ids_keep = ids_shuffle[:, :len_keep]
        x_masked = torch.gather(x, dim=1, index=ids_keep.unsqueeze(-1).repeat(1, 1, D))
        mask = torch.ones([N, L], device=x.device, dtype=x.dtype)
        mask[:, :len_keep] = 0
        mask = torch.gather(mask, dim=1, index=ids_restore)
        return x_masked, mask, ids_restore

    passes("ssl_learning.random_masking", random_masking)


def test_ssl_mae_loss_mae(secret):
    # facebookresearch/mae models_mae.py, MaskedAutoencoderViT.forward_loss; adapted: the target
    # patches come in already patchified
    def mae_loss(pred, target, mask, norm_pix_loss=False):
        if norm_pix_loss:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1.0e-6) ** 0.5
        loss = (pred - target) ** 2
        loss = loss.mean(dim=-1)
        loss = (loss * mask).sum() / mask.sum()
        return loss

    passes("ssl_learning.mae_loss", mae_loss)


def test_ssl_nt_xent_simclr_info_nce(secret):
    # sthalles/SimCLR simclr.py, SimCLR.info_nce_loss + its CrossEntropyLoss; adapted: the two
    # views as arguments (n_views=2, batch_size=N), the device of z1
    def nt_xent(z1, z2, temperature):
        batch_size, device = z1.shape[0], z1.device
        features = torch.cat([z1, z2], dim=0)
        labels = torch.cat([torch.arange(batch_size) for i in range(2)], dim=0)
        labels = (labels.unsqueeze(0) == labels.unsqueeze(1)).float()
        labels = labels.to(device)
        features = F.normalize(features, dim=1)
        similarity_matrix = torch.matmul(features, features.T)
        mask = torch.eye(labels.shape[0], dtype=torch.bool).to(device)
        labels = labels[~mask].view(labels.shape[0], -1)
        similarity_matrix = similarity_matrix[~mask].view(similarity_matrix.shape[0], -1)
        positives = similarity_matrix[labels.bool()].view(labels.shape[0], -1)
        negatives = similarity_matrix[~labels.bool()].view(similarity_matrix.shape[0], -1)
        logits = torch.cat([positives, negatives], dim=1)
        labels = torch.zeros(logits.shape[0], dtype=torch.long).to(device)
        logits = logits / temperature
        return F.cross_entropy(logits, labels)

    passes("ssl_learning.nt_xent", nt_xent)


class MoCoQueue(nn.Module):
    """facebookresearch/moco moco/builder.py, MoCo's queue, forward logits and
    _dequeue_and_enqueue; adapted: the contract's layout (size, dim) instead of (dim, K), the
    buffer name ptr (queue_ptr), wrap-around (MoCo asserts K % batch_size == 0), k detached."""

    def __init__(self, dim, size):
        super().__init__()
        self.K = size
        self.register_buffer("queue", nn.functional.normalize(torch.randn(size, dim), dim=1))
        self.register_buffer("ptr", torch.zeros(1, dtype=torch.long))

    def forward(self, q, k, temperature):
        k = k.detach()
        l_pos = torch.einsum("nc,nc->n", [q, k]).unsqueeze(-1)
        l_neg = torch.einsum("nc,kc->nk", [q, self.queue.clone().detach()])
        logits = torch.cat([l_pos, l_neg], dim=1)
        logits /= temperature
        return logits

    @torch.no_grad()
    def enqueue(self, keys):
        batch_size = keys.shape[0]
        ptr = int(self.ptr)
        rows = (ptr + torch.arange(batch_size, device=self.queue.device)) % self.K
        self.queue[rows] = keys
        ptr = (ptr + batch_size) % self.K
        self.ptr[0] = ptr


def test_ssl_moco_queue_moco(secret):
    passes("ssl_learning.moco_queue", MoCoQueue)


class MoCoMomentumEncoder(nn.Module):
    """facebookresearch/moco moco/builder.py, encoder_q/encoder_k and _momentum_update_key_encoder;
    adapted: the contract's names (online, target) and update(m)."""

    def __init__(self, dim_in, dim_out):
        super().__init__()
        self.online = nn.Linear(dim_in, dim_out)
        self.target = nn.Linear(dim_in, dim_out)
        for param_q, param_k in zip(self.online.parameters(), self.target.parameters()):
            param_k.data.copy_(param_q.data)
            param_k.requires_grad = False

    @torch.no_grad()
    def update(self, m):
        for param_q, param_k in zip(self.online.parameters(), self.target.parameters()):
            param_k.data = param_k.data * m + param_q.data * (1.0 - m)

    def forward(self, x):
        with torch.no_grad():
            k = self.target(x)
        return self.online(x), k


def test_ssl_momentum_encoder_moco(secret):
    passes("ssl_learning.momentum_encoder", MoCoMomentumEncoder)


def test_ssl_simsiam_loss_simsiam(secret):
    # facebookresearch/simsiam main_simsiam.py (criterion = nn.CosineSimilarity(dim=1)) and
    # simsiam/builder.py (z1.detach(), z2.detach())
    criterion = nn.CosineSimilarity(dim=1)

    def simsiam_loss(p1, p2, z1, z2):
        z1, z2 = z1.detach(), z2.detach()
        return -(criterion(p1, z2).mean() + criterion(p2, z1).mean()) * 0.5

    passes("ssl_learning.simsiam_loss", simsiam_loss)


def test_ssl_barlow_twins_loss_barlowtwins(secret):
    # facebookresearch/barlowtwins main.py, off_diagonal and BarlowTwins.forward (self.bn is
    # nn.BatchNorm1d(affine=False) in training mode); adapted: the projections come in, the batch
    # norm made in their dtype and device, no all_reduce
    def off_diagonal(x):
        n, m = x.shape
        assert n == m
        return x.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()

    def barlow_twins_loss(z1, z2, lambd=5e-3):
        bn = nn.BatchNorm1d(z1.shape[1], affine=False).to(device=z1.device, dtype=z1.dtype)
        c = bn(z1).T @ bn(z2)
        c.div_(z1.shape[0])
        on_diag = torch.diagonal(c).add_(-1).pow_(2).sum()
        off_diag = off_diagonal(c).pow_(2).sum()
        loss = on_diag + lambd * off_diag
        return loss

    passes("ssl_learning.barlow_twins_loss", barlow_twins_loss)


def test_ssl_dino_loss_dino(secret):
    # facebookresearch/dino main_dino.py, DINOLoss.forward and update_center; adapted: the center
    # and temperatures are arguments, the new center returned, one process (no all_reduce)
    def dino_loss(
        student_output,
        teacher_output,
        center,
        n_crops,
        student_temp=0.1,
        teacher_temp=0.04,
        center_momentum=0.9,
    ):
        student_out = student_output / student_temp
        student_out = student_out.chunk(n_crops)
        teacher_out = F.softmax((teacher_output - center) / teacher_temp, dim=-1)
        teacher_out = teacher_out.detach().chunk(2)
        total_loss = 0
        n_loss_terms = 0
        for iq, q in enumerate(teacher_out):
            for v in range(len(student_out)):
                if v == iq:
                    continue
                loss = torch.sum(-q * F.log_softmax(student_out[v], dim=-1), dim=-1)
                total_loss += loss.mean()
                n_loss_terms += 1
        total_loss /= n_loss_terms
        with torch.no_grad():
            batch_center = torch.sum(teacher_output, dim=0, keepdim=True)
            batch_center = batch_center / len(teacher_output)
            new_center = center * center_momentum + batch_center * (1 - center_momentum)
        return total_loss, new_center

    passes("ssl_learning.dino_loss", dino_loss)


def test_ssl_cosine_unmask_schedule_maskgit(secret):
    # google-research/maskgit maskgit/libml/mask_schedule.py, schedule(method="cosine"), and the
    # mask_len = floor(unknown * mask_ratio) of maskgit/libml/parallel_decode.py decode;
    # adapted: numpy in place of jax.numpy (not installed; jax's float32 default would round
    # differently, the contract asks for Python floats), without decode's clamp of mask_len to
    # [1, unknown - 1] (the contract's schedule is the raw floor, ending at 0)
    def schedule(ratio, total_unknown, method="cosine"):
        if method == "cosine":
            mask_ratio = np.cos(math.pi / 2.0 * ratio)
        mask_ratio = np.clip(mask_ratio, 1e-6, 1.0)
        return mask_ratio

    def cosine_unmask_schedule(num_tokens, steps):
        out = []
        for step in range(steps):
            ratio = 1.0 * (step + 1) / steps
            mask_ratio = schedule(ratio, num_tokens)
            out.append(int(np.floor(num_tokens * mask_ratio)))
        return out

    passes("ssl_learning.cosine_unmask_schedule", cosine_unmask_schedule)


def test_ssl_unmask_step_maskgit(secret):
    # google-research/maskgit maskgit/libml/parallel_decode.py, decode's loop body and
    # mask_by_random_topk, ported to torch; adapted: argmax in place of the categorical draw and
    # no Gumbel noise (the contract's step is deterministic)
    _CONFIDENCE_OF_KNOWN_TOKENS = float("inf")

    def mask_by_random_topk(mask_len, probs, temperature=0.0):
        confidence = torch.log(probs)  # + temperature * gumbel noise, with temperature 0
        sorted_confidence, _ = torch.sort(confidence, dim=-1)
        # Obtains cut off threshold given the mask lengths.
        cut_off = torch.gather(sorted_confidence, -1, mask_len.long())
        # Masks tokens with lower confidence.
        masking = confidence < cut_off
        return masking

    def unmask_step(tokens, logits, num_masked, mask_id):
        cur_ids = tokens
        unknown_map = cur_ids == mask_id
        probs = F.softmax(logits.float(), dim=-1)
        sampled_ids = probs.argmax(dim=-1)
        sampled_ids = torch.where(unknown_map, sampled_ids, cur_ids)
        selected_probs = torch.gather(probs, -1, sampled_ids[..., None])[..., 0]
        selected_probs = torch.where(
            unknown_map,
            selected_probs,
            torch.full_like(selected_probs, _CONFIDENCE_OF_KNOWN_TOKENS),
        )
        mask_len = torch.full((tokens.shape[0], 1), num_masked, device=tokens.device)
        masking = mask_by_random_topk(mask_len, selected_probs)
        return torch.where(masking, torch.full_like(sampled_ids, mask_id), sampled_ids)

    passes("ssl_learning.unmask_step", unmask_step)


# =================================================================================================
# 06-clip-sam-whisper
# =================================================================================================
def test_foundation_clip_loss_hugging_face_clip(secret):
    # huggingface/transformers models/clip/modeling_clip.py: CLIPModel.forward's normalisation
    # (_get_vector_norm), logits_per_text, and image_text_contrastive_loss (the library's
    # functions); adapted: the
    # scale clamped to [1, 100] as open_clip's training loop clamps logit_scale (out of place,
    # since t is an input)
    from transformers.models.clip.modeling_clip import (
        _get_vector_norm,
        image_text_contrastive_loss,
    )

    def clip_loss(image_features, text_features, log_scale):
        image_embeds = image_features / _get_vector_norm(image_features)
        text_embeds = text_features / _get_vector_norm(text_features)
        logit_scale = log_scale.clamp(0, math.log(100))
        logits_per_text = torch.matmul(text_embeds, image_embeds.t()) * logit_scale.exp()
        return image_text_contrastive_loss(logits_per_text)

    passes("foundation.clip_loss", clip_loss)


def test_foundation_clip_loss_open_clip(secret):
    # mlfoundations/open_clip src/open_clip/loss.py, ClipLoss.get_logits/forward (one process),
    # with the model's normalize=True features and the train loop's clamp of logit_scale
    # (the package itself needs ftfy, not installed)
    def clip_loss(image_features, text_features, log_scale):
        image_features = F.normalize(image_features, dim=-1)
        text_features = F.normalize(text_features, dim=-1)
        logit_scale = log_scale.clamp(0, math.log(100)).exp()
        logits_per_image = logit_scale * image_features @ text_features.T
        logits_per_text = logit_scale * text_features @ image_features.T
        labels = torch.arange(
            logits_per_image.shape[0], device=image_features.device, dtype=torch.long
        )
        total_loss = (
            F.cross_entropy(logits_per_image, labels) + F.cross_entropy(logits_per_text, labels)
        ) / 2
        return total_loss

    passes("foundation.clip_loss", clip_loss)


def test_foundation_zero_shot_open_clip(secret):
    # mlfoundations/open_clip src/open_clip/zero_shot_classifier.py, build_zero_shot_classifier
    # (encode_text(normalize=True), mean over templates, normalise) and the logits of its
    # zero-shot evaluation (logit_scale * image_features @ classifier); adapted: the prompt
    # embeddings and the scale come in
    def zero_shot_logits(image_features, prompt_features, logit_scale=100.0):
        num_batch_classes, num_templates = prompt_features.shape[:2]
        class_embeddings = F.normalize(
            prompt_features.reshape(-1, prompt_features.shape[-1]), dim=-1
        )
        class_embeddings = class_embeddings.reshape(num_batch_classes, num_templates, -1).mean(
            dim=1
        )
        class_embeddings = class_embeddings / class_embeddings.norm(dim=1, keepdim=True)
        classifier = class_embeddings.T
        image_features = F.normalize(image_features, dim=-1)
        return logit_scale * image_features @ classifier

    passes("foundation.zero_shot", zero_shot_logits)


def test_foundation_embed_prompts_segment_anything(secret):
    # facebookresearch/segment-anything segment_anything/modeling/prompt_encoder.py:
    # PositionEmbeddingRandom._pe_encoding/forward_with_coords and PromptEncoder._embed_points/
    # _embed_boxes/forward; adapted: the weights come in as tensors, coordinates stay in their
    # dtype (SAM casts them to float32), the padding point made in the points' dtype
    def embed_prompts(points, labels, boxes, image_size, gaussian, point_embed, not_a_point):
        def _pe_encoding(coords):
            coords = 2 * coords - 1
            coords = coords @ gaussian
            coords = 2 * np.pi * coords
            return torch.cat([torch.sin(coords), torch.cos(coords)], dim=-1)

        def forward_with_coords(coords_input, image_size):
            coords = coords_input.clone()
            coords[:, :, 0] = coords[:, :, 0] / image_size[1]
            coords[:, :, 1] = coords[:, :, 1] / image_size[0]
            return _pe_encoding(coords.to(gaussian.dtype))

        def _embed_points(points, labels, pad):
            points = points + 0.5
            if pad:
                padding_point = torch.zeros(
                    (points.shape[0], 1, 2), device=points.device, dtype=points.dtype
                )
                padding_label = -torch.ones((labels.shape[0], 1), device=labels.device)
                points = torch.cat([points, padding_point], dim=1)
                labels = torch.cat([labels, padding_label], dim=1)
            point_embedding = forward_with_coords(points, image_size)
            point_embedding[labels == -1] = 0.0
            point_embedding[labels == -1] += not_a_point
            point_embedding[labels == 0] += point_embed[0]
            point_embedding[labels == 1] += point_embed[1]
            return point_embedding

        def _embed_boxes(boxes):
            boxes = boxes + 0.5
            coords = boxes.reshape(-1, 2, 2)
            corner_embedding = forward_with_coords(coords, image_size)
            corner_embedding[:, 0, :] += point_embed[2]
            corner_embedding[:, 1, :] += point_embed[3]
            return corner_embedding

        bs = points.shape[0]
        sparse_embeddings = torch.empty(
            (bs, 0, point_embed.shape[1]), device=points.device, dtype=point_embed.dtype
        )
        point_embeddings = _embed_points(points, labels, pad=(boxes is None))
        sparse_embeddings = torch.cat([sparse_embeddings, point_embeddings], dim=1)
        if boxes is not None:
            box_embeddings = _embed_boxes(boxes)
            sparse_embeddings = torch.cat([sparse_embeddings, box_embeddings], dim=1)
        return sparse_embeddings

    passes("foundation.embed_prompts", embed_prompts)


class SegmentAnythingAttention(nn.Module):
    """facebookresearch/segment-anything segment_anything/modeling/transformer.py, Attention;
    adapted: forward(query, key, value), the contract's argument names."""

    def __init__(self, embedding_dim, num_heads, downsample_rate=1):
        super().__init__()
        self.embedding_dim = embedding_dim
        self.internal_dim = embedding_dim // downsample_rate
        self.num_heads = num_heads
        assert self.internal_dim % num_heads == 0, "num_heads must divide embedding_dim."
        self.q_proj = nn.Linear(embedding_dim, self.internal_dim)
        self.k_proj = nn.Linear(embedding_dim, self.internal_dim)
        self.v_proj = nn.Linear(embedding_dim, self.internal_dim)
        self.out_proj = nn.Linear(self.internal_dim, embedding_dim)

    def _separate_heads(self, x, num_heads):
        b, n, c = x.shape
        x = x.reshape(b, n, num_heads, c // num_heads)
        return x.transpose(1, 2)

    def _recombine_heads(self, x):
        b, n_heads, n_tokens, c_per_head = x.shape
        x = x.transpose(1, 2)
        return x.reshape(b, n_tokens, n_heads * c_per_head)

    def forward(self, query, key, value):
        q, k, v = self.q_proj(query), self.k_proj(key), self.v_proj(value)
        q = self._separate_heads(q, self.num_heads)
        k = self._separate_heads(k, self.num_heads)
        v = self._separate_heads(v, self.num_heads)
        _, _, _, c_per_head = q.shape
        attn = q @ k.permute(0, 1, 3, 2)
        attn = attn / math.sqrt(c_per_head)
        attn = torch.softmax(attn, dim=-1)
        out = attn @ v
        out = self._recombine_heads(out)
        out = self.out_proj(out)
        return out


class _MLPBlock(nn.Module):
    # facebookresearch/segment-anything segment_anything/modeling/common.py, MLPBlock
    def __init__(self, embedding_dim, mlp_dim, act=nn.ReLU):
        super().__init__()
        self.lin1 = nn.Linear(embedding_dim, mlp_dim)
        self.lin2 = nn.Linear(mlp_dim, embedding_dim)
        self.act = act()

    def forward(self, x):
        return self.lin2(self.act(self.lin1(x)))


class SegmentAnythingTwoWayAttentionBlock(nn.Module):
    """facebookresearch/segment-anything segment_anything/modeling/transformer.py,
    TwoWayAttentionBlock; adapted: Hugging Face's names (norm1 -> layer_norm1, ...) and eps=1e-6,
    which the contract states, and positional attention calls."""

    def __init__(
        self,
        embedding_dim,
        num_heads,
        mlp_dim=2048,
        attention_downsample_rate=2,
        skip_first_layer_pe=False,
    ):
        super().__init__()
        self.self_attn = SegmentAnythingAttention(embedding_dim, num_heads)
        self.layer_norm1 = nn.LayerNorm(embedding_dim, eps=1e-6)
        self.cross_attn_token_to_image = SegmentAnythingAttention(
            embedding_dim, num_heads, downsample_rate=attention_downsample_rate
        )
        self.layer_norm2 = nn.LayerNorm(embedding_dim, eps=1e-6)
        self.mlp = _MLPBlock(embedding_dim, mlp_dim, nn.ReLU)
        self.layer_norm3 = nn.LayerNorm(embedding_dim, eps=1e-6)
        self.layer_norm4 = nn.LayerNorm(embedding_dim, eps=1e-6)
        self.cross_attn_image_to_token = SegmentAnythingAttention(
            embedding_dim, num_heads, downsample_rate=attention_downsample_rate
        )
        self.skip_first_layer_pe = skip_first_layer_pe

    def forward(self, queries, keys, query_pe, key_pe):
        if self.skip_first_layer_pe:
            queries = self.self_attn(queries, queries, queries)
        else:
            q = queries + query_pe
            attn_out = self.self_attn(q, q, queries)
            queries = queries + attn_out
        queries = self.layer_norm1(queries)
        q = queries + query_pe
        k = keys + key_pe
        attn_out = self.cross_attn_token_to_image(q, k, keys)
        queries = queries + attn_out
        queries = self.layer_norm2(queries)
        mlp_out = self.mlp(queries)
        queries = queries + mlp_out
        queries = self.layer_norm3(queries)
        q = queries + query_pe
        k = keys + key_pe
        attn_out = self.cross_attn_image_to_token(k, q, queries)
        keys = keys + attn_out
        keys = self.layer_norm4(keys)
        return queries, keys


def test_foundation_sam_attention_segment_anything(secret):
    passes("foundation.sam_attention", SegmentAnythingAttention)


def test_foundation_two_way_block_segment_anything(secret):
    passes("foundation.two_way_block", SegmentAnythingTwoWayAttentionBlock)


def test_foundation_select_masks_segment_anything_onnx(secret):
    # facebookresearch/segment-anything segment_anything/utils/onnx.py, SamOnnxModel.select_masks
    # (its reweighting trick), then mask_threshold = 0.0 from Sam; adapted: multimask_output
    # stands for "one point" (num_points 1) and single-mask for "several" (num_points 3)
    def select_masks(masks, iou_preds, multimask_output):
        num_points = 1 if multimask_output else 3
        num_mask_tokens = masks.shape[1]
        score_reweight = torch.tensor([[1000] + [0] * (num_mask_tokens - 1)]).to(iou_preds.device)
        score = iou_preds + (num_points - 2.5) * score_reweight
        best_idx = torch.argmax(score, dim=1)
        rows = torch.arange(masks.shape[0], device=masks.device)
        masks = masks[rows, best_idx, :, :].unsqueeze(1)
        iou_preds = iou_preds[rows, best_idx].unsqueeze(1)
        return masks[:, 0] > 0.0, iou_preds[:, 0], best_idx

    passes("foundation.select_masks", select_masks)


def test_foundation_log_mel_openai_whisper_library(secret):
    # openai/whisper whisper/audio.py, log_mel_spectrogram (the library's function): it takes the
    # number of mels and loads its own filter bank instead of the filters argument; adapted:
    # float64 audio goes in as float32 (whisper's filters and window are float32), the result
    # returned in the audio's dtype
    from whisper.audio import log_mel_spectrogram

    def log_mel(audio, filters):
        mel = log_mel_spectrogram(audio.float(), n_mels=filters.shape[0], device=audio.device)
        return mel.to(audio.dtype)

    passes("foundation.log_mel", log_mel)


def test_foundation_conv_stem_openai_whisper(secret):
    # openai/whisper whisper/model.py, AudioEncoder's conv1/conv2 and the first lines of its
    # forward, with whisper's Conv1d (the library's class)
    from whisper.model import Conv1d

    class WhisperConvStem(nn.Module):
        def __init__(self, n_mels, d_model):
            super().__init__()
            self.conv1 = Conv1d(n_mels, d_model, kernel_size=3, padding=1)
            self.conv2 = Conv1d(d_model, d_model, kernel_size=3, stride=2, padding=1)

        def forward(self, x):
            x = F.gelu(self.conv1(x))
            x = F.gelu(self.conv2(x))
            x = x.permute(0, 2, 1)
            return x

    passes("foundation.conv_stem", WhisperConvStem)


def test_foundation_sinusoids_openai_whisper(secret):
    # openai/whisper whisper/model.py, sinusoids (the library's function)
    from whisper.model import sinusoids

    passes("foundation.sinusoids", sinusoids)


def test_foundation_decoder_prompt_openai_whisper(secret):
    # openai/whisper whisper/decoding.py, DecodingTask.__init__ (sot_sequence, with
    # sot_sequence_including_notimestamps) and _get_initial_tokens (prompt as token ids); the ids
    # come from the `special` argument, as the contract passes them
    def decoder_prompt(special, language, task, timestamps, previous=None):
        n_ctx = 448
        sot_sequence = [special["<|startoftranscript|>"]]
        if language is not None:
            sot_sequence += [special[f"<|{language}|>"], special[f"<|{task}|>"]]
        if not timestamps:  # options.without_timestamps
            sot_sequence = sot_sequence + [special["<|notimestamps|>"]]
        tokens = list(sot_sequence)
        if prompt := previous:
            prompt_tokens = prompt
            tokens = [special["<|startofprev|>"]] + prompt_tokens[-(n_ctx // 2 - 1) :] + tokens
        return tokens

    passes("foundation.decoder_prompt", decoder_prompt)


# =================================================================================================
# 07-modern-llms
# =================================================================================================
class Qwen2MoeSparseMoeBlock(nn.Module):
    """huggingface/transformers models/qwen2_moe/modeling_qwen2_moe.py (4.x releases),
    Qwen2MoeSparseMoeBlock (Mixtral's dispatch loop over experts, norm_topk_prob); adapted: the contract's constructor,
    router logits in float32 (Qwen2-MoE's are in x's dtype), the shared expert added with weight 1
    (DeepSeek's; Qwen2-MoE gates it with a sigmoid), experts Hugging Face's LlamaMLP."""

    def __init__(
        self,
        hidden_size,
        intermediate_size,
        num_experts,
        top_k,
        shared_intermediate_size=0,
        normalize_topk=True,
    ):
        super().__init__()
        mlp = _llama_mlp_class()
        self.num_experts, self.top_k, self.norm_topk_prob = num_experts, top_k, normalize_topk
        self.gate = nn.Linear(hidden_size, num_experts, bias=False)
        self.experts = nn.ModuleList(
            [mlp(hidden_size, intermediate_size) for _ in range(num_experts)]
        )
        self.shared_expert = (
            mlp(hidden_size, shared_intermediate_size) if shared_intermediate_size else None
        )

    def forward(self, hidden_states):
        batch_size, sequence_length, hidden_dim = hidden_states.shape
        hidden_states = hidden_states.view(-1, hidden_dim)
        router_logits = F.linear(hidden_states.float(), self.gate.weight.float())
        routing_weights = F.softmax(router_logits, dim=1, dtype=torch.float)
        routing_weights, selected_experts = torch.topk(routing_weights, self.top_k, dim=-1)
        if self.norm_topk_prob:
            routing_weights /= routing_weights.sum(dim=-1, keepdim=True)
        routing_weights = routing_weights.to(hidden_states.dtype)
        final_hidden_states = torch.zeros(
            (batch_size * sequence_length, hidden_dim),
            dtype=hidden_states.dtype,
            device=hidden_states.device,
        )
        expert_mask = F.one_hot(selected_experts, num_classes=self.num_experts).permute(2, 1, 0)
        for expert_idx in range(self.num_experts):
            expert_layer = self.experts[expert_idx]
            idx, top_x = torch.where(expert_mask[expert_idx])
            current_state = hidden_states[None, top_x].reshape(-1, hidden_dim)
            current_hidden_states = expert_layer(current_state) * routing_weights[top_x, idx, None]
            final_hidden_states.index_add_(0, top_x, current_hidden_states.to(hidden_states.dtype))
        if self.shared_expert is not None:
            final_hidden_states = final_hidden_states + self.shared_expert(hidden_states)
        final_hidden_states = final_hidden_states.reshape(batch_size, sequence_length, hidden_dim)
        return final_hidden_states, router_logits


def test_modern_llms_moe_hugging_face_qwen2_moe(secret):
    passes("modern_llms.moe", Qwen2MoeSparseMoeBlock)


def test_modern_llms_load_balancing_hugging_face(secret):
    # huggingface/transformers models/mixtral/modeling_mixtral.py, load_balancing_loss_func (the
    # library's function); adapted: one layer's logits, the (N,) mask as a batch of one row
    from transformers.models.mixtral.modeling_mixtral import load_balancing_loss_func

    def load_balancing_loss(router_logits, top_k, attention_mask=None):
        mask = None if attention_mask is None else attention_mask.reshape(1, -1)
        return load_balancing_loss_func((router_logits,), router_logits.shape[-1], top_k, mask)

    passes("modern_llms.load_balancing", load_balancing_loss)


def _hf_mla_class():
    from transformers import DeepseekV3Config
    from transformers.models.deepseek_v3.modeling_deepseek_v3 import DeepseekV3Attention

    class MultiHeadLatentAttention(DeepseekV3Attention):
        """huggingface/transformers DeepseekV3Attention (the library's class, eager attention,
        rope_interleave=False for the half-split layout); adapted: the contract's constructor,
        forward(x, cos, sin) with the causal mask made here, and latent(), which reads the
        compressed kv as DeepseekV3Attention.forward does."""

        def __init__(
            self,
            hidden_size,
            num_heads,
            q_lora_rank,
            kv_lora_rank,
            qk_nope_head_dim,
            qk_rope_head_dim,
            v_head_dim,
        ):
            config = DeepseekV3Config(
                hidden_size=hidden_size,
                num_attention_heads=num_heads,
                num_key_value_heads=num_heads,
                q_lora_rank=q_lora_rank or None,
                kv_lora_rank=kv_lora_rank,
                qk_nope_head_dim=qk_nope_head_dim,
                qk_rope_head_dim=qk_rope_head_dim,
                v_head_dim=v_head_dim,
                rope_interleave=False,
                attention_bias=False,
                rms_norm_eps=1e-6,
            )
            config._attn_implementation = "eager"
            super().__init__(config, layer_idx=0)

        def latent(self, x, cos, sin):
            from transformers.models.deepseek_v3.modeling_deepseek_v3 import apply_rotary_pos_emb

            batch_size, seq_length = x.shape[:-1]
            compressed_kv = self.kv_a_proj_with_mqa(x)
            k_pass, k_rot = torch.split(
                compressed_kv, [self.kv_lora_rank, self.qk_rope_head_dim], dim=-1
            )
            k_rot = k_rot.view(batch_size, 1, seq_length, self.qk_rope_head_dim)
            _, k_rot = apply_rotary_pos_emb(k_rot, k_rot, cos, sin)
            return torch.cat([self.kv_a_layernorm(k_pass), k_rot[:, 0]], dim=-1)

        def forward(self, x, cos, sin):
            t = x.shape[1]
            mask = _additive_mask(t, t, None, x.dtype, x.device)
            return super().forward(x, (cos, sin), mask)[0]

    return MultiHeadLatentAttention


def test_modern_llms_mla_hugging_face_deepseek_v3(secret):
    passes("modern_llms.mla", _hf_mla_class())


def test_modern_llms_sliding_window_hugging_face_masking_utils(secret):
    # huggingface/transformers masking_utils.py, sliding_window_causal_mask_function, and_masks and
    # padding_mask_function (the library's mask functions), evaluated on broadcast indices as
    # sdpa_mask does; adapted: the queries at cache positions S - T ... S - 1
    from transformers.masking_utils import (
        and_masks,
        padding_mask_function,
        sliding_window_causal_mask_function,
    )

    def sliding_window_mask(t, s, window, attention_mask=None):
        device = attention_mask.device if attention_mask is not None else None
        mask_function = sliding_window_causal_mask_function(window)
        b = 1
        if attention_mask is not None:
            mask_function = and_masks(mask_function, padding_mask_function(attention_mask.bool()))
            b = attention_mask.shape[0]
        batch_idx = torch.arange(b, device=device)[:, None, None, None]
        head_idx = torch.arange(1, device=device)[None, :, None, None]
        cache_position = torch.arange(s - t, s, device=device)[None, None, :, None]
        kv_idx = torch.arange(s, device=device)[None, None, None, :]
        return mask_function(batch_idx, head_idx, cache_position, kv_idx).expand(b, 1, t, s)

    passes("modern_llms.sliding_window", sliding_window_mask)


class HFMistralRollingKVCache:
    """huggingface/transformers cache_utils.py, DynamicSlidingWindowLayer (the library's class)
    for what update returns (the last sliding_window - 1 cached tokens, then the new ones), and
    mistralai/mistral-inference one_file_ref.py, the rotating buffer written with
    scatter_(index=positions % sliding_window) for slots(); adapted: the contract's (B, G, w, Dh)
    layout (mistral's is (B, w, G, Dh)) and method names."""

    def __init__(self, num_layers, window):
        from transformers.cache_utils import DynamicSlidingWindowLayer

        self.sliding_window = window
        self.layers = [DynamicSlidingWindowLayer(window) for _ in range(num_layers)]
        self.cache_k = [None] * num_layers
        self.cache_v = [None] * num_layers

    def update(self, layer, k, v):
        seen = self.layers[layer].cumulative_length
        k_att, v_att = self.layers[layer].update(k, v)
        if self.cache_k[layer] is None:
            shape = (k.shape[0], k.shape[1], self.sliding_window, k.shape[3])
            self.cache_k[layer] = torch.zeros(shape, dtype=k.dtype, device=k.device)
            self.cache_v[layer] = torch.zeros(shape, dtype=v.dtype, device=v.device)
        positions = torch.arange(seen, seen + k.shape[2], device=k.device)
        # The cache is a rotating buffer
        scatter_pos = (positions[-self.sliding_window :] % self.sliding_window)[None, None, :, None]
        scatter_pos = scatter_pos.repeat(k.shape[0], k.shape[1], 1, k.shape[3])
        self.cache_k[layer].scatter_(dim=2, index=scatter_pos, src=k[:, :, -self.sliding_window :])
        self.cache_v[layer].scatter_(dim=2, index=scatter_pos, src=v[:, :, -self.sliding_window :])
        return k_att, v_att

    def slots(self, layer):
        return self.cache_k[layer], self.cache_v[layer]

    def length(self):
        return self.layers[0].cumulative_length


@pytest.mark.xfail(
    strict=True,
    reason="Hugging Face's DynamicSlidingWindowLayer keeps keys[:, :, -sliding_window + 1:], "
    "which for sliding_window=1 is [-0:], every token, so with window 1 it returns all past "
    "tokens instead of none; a bug in the library at w = 1, not in the grader (the other "
    "windows pass)",
)
def test_modern_llms_rolling_cache_hugging_face_and_mistral(secret):
    passes("modern_llms.rolling_cache", HFMistralRollingKVCache)


def _hf_qk_norm_class():
    from transformers import Qwen3Config
    from transformers.models.qwen3.modeling_qwen3 import Qwen3Attention

    class QKNormAttention(Qwen3Attention):
        """huggingface/transformers Qwen3Attention (the library's class, eager attention);
        adapted: the contract's constructor (head_dim = D // H), forward(x, cos, sin,
        attention_mask) with the 4-D mask create_causal_mask would make."""

        def __init__(self, hidden_size, num_heads, num_kv_heads, eps=1e-6):
            config = Qwen3Config(
                hidden_size=hidden_size,
                num_attention_heads=num_heads,
                num_key_value_heads=num_kv_heads,
                head_dim=hidden_size // num_heads,
                rms_norm_eps=eps,
                attention_bias=False,
                layer_types=["full_attention"],
                num_hidden_layers=1,
            )
            config._attn_implementation = "eager"
            super().__init__(config, layer_idx=0)

        def forward(self, x, cos, sin, attention_mask=None):
            t = x.shape[1]
            mask = _additive_mask(t, t, attention_mask, x.dtype, x.device)
            return super().forward(x, (cos, sin), mask)[0]

    return QKNormAttention


def test_modern_llms_qk_norm_hugging_face_qwen3(secret):
    passes("modern_llms.qk_norm", _hf_qk_norm_class())


def test_modern_llms_post_norm_hugging_face_olmo2(secret):
    # huggingface/transformers models/olmo2/modeling_olmo2.py, Olmo2DecoderLayer.forward, with the
    # library's Olmo2RMSNorm; adapted: the contract's constructor and self_attn(x, cos, sin)
    from transformers.models.olmo2.modeling_olmo2 import Olmo2RMSNorm

    attention, mlp = _hf_qk_norm_class(), _llama_mlp_class()

    class PostNormBlock(nn.Module):
        def __init__(self, hidden_size, intermediate_size, num_heads, num_kv_heads, eps=1e-6):
            super().__init__()
            self.self_attn = attention(hidden_size, num_heads, num_kv_heads, eps)
            self.mlp = mlp(hidden_size, intermediate_size)
            self.post_attention_layernorm = Olmo2RMSNorm(hidden_size, eps=eps)
            self.post_feedforward_layernorm = Olmo2RMSNorm(hidden_size, eps=eps)

        def forward(self, x, cos, sin):
            residual = x
            hidden_states = self.self_attn(x, cos, sin)
            hidden_states = self.post_attention_layernorm(hidden_states)
            hidden_states = residual + hidden_states
            residual = hidden_states
            hidden_states = self.mlp(hidden_states)
            hidden_states = self.post_feedforward_layernorm(hidden_states)
            hidden_states = residual + hidden_states
            return hidden_states

    passes("modern_llms.post_norm", PostNormBlock)


def test_modern_llms_nope_layers_hugging_face_smollm3_config(secret):
    # huggingface/transformers models/smollm3/configuration_smollm3.py, SmolLM3Config.__post_init__
    # (no_rope_layers); adapted: its 1/0 ints as the contract's bools
    from transformers import SmolLM3Config

    def nope_layers(num_layers, interval=4):
        cfg = SmolLM3Config(
            num_hidden_layers=num_layers, no_rope_layer_interval=interval, pad_token_id=0
        )
        return [bool(r) for r in cfg.no_rope_layers]

    passes("modern_llms.nope_layers", nope_layers)


def test_modern_llms_nope_attention_hugging_face_smollm3(secret):
    from transformers import SmolLM3Config
    from transformers.models.smollm3.modeling_smollm3 import SmolLM3Attention

    class NoPEAttention(SmolLM3Attention):
        """huggingface/transformers SmolLM3Attention (the library's class, eager attention);
        adapted: the contract's constructor (the flag set through no_rope_layers of a one-layer
        config), forward(x, cos, sin, attention_mask) with the 4-D mask create_causal_mask would
        make."""

        def __init__(self, hidden_size, num_heads, num_kv_heads, use_rope=True):
            config = SmolLM3Config(
                hidden_size=hidden_size,
                num_attention_heads=num_heads,
                num_key_value_heads=num_kv_heads,
                num_hidden_layers=1,
                no_rope_layers=[int(use_rope)],
                use_sliding_window=False,
                attention_bias=False,
                pad_token_id=0,
            )
            config._attn_implementation = "eager"
            super().__init__(config, layer_idx=0)

        def forward(self, x, cos, sin, attention_mask=None):
            t = x.shape[1]
            mask = _additive_mask(t, t, attention_mask, x.dtype, x.device)
            return super().forward(x, (cos, sin), mask)[0]

    passes("modern_llms.nope_attention", NoPEAttention)


# =================================================================================================
# blocks without a well-known public implementation of their contract
# =================================================================================================
SKIPPED = {
    "bert_gpt.flash_attention": "the public kernels (Triton's tutorial 06-fused-attention, "
    "flash-attn) need CUDA and sequence lengths that are multiples of the block; adapting them to "
    "masked loads and the interpreter is a rewrite",
    "scaling.chinchilla_optimal": "a closed form from Hoffmann et al. (2022), Appendix D; no "
    "public code beyond the formula",
    "scaling.mfu": "nanoGPT's estimate_mfu counts attention (6N + 12LHQT) and takes dt from the "
    "training loop; the contract's timing protocol (sync placement) is the block itself",
}


@pytest.mark.parametrize("name", sorted(SKIPPED))
def test_blocks_without_public_implementation_are_registered(name):
    from autograder.checks.spec import REGISTRY

    assert name in REGISTRY, f"{name}: not a check (a stale entry in SKIPPED)"
