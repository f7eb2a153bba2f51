"""The BERT/GPT checks discriminate beyond the registry's tests (tests/test_checks_registry.py runs
the solution against every check and every named mistake under two class secrets): correct
variants written differently pass, Triton is required where the contract says so, and composites
are graded with the reference sub-blocks."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import outcome
from torch import nn
from torch.nn import functional as F

import autograder.chapters.bert_gpt  # noqa: F401  (registers the checks)
from autograder.checks.spec import REGISTRY
from course import bert_gpt as ref

NAMES = sorted(n for n in REGISTRY if n.startswith("bert_gpt."))


def test_every_block_has_a_visible_and_a_hidden_check():
    assert len({n.removesuffix(".visible") for n in NAMES}) >= 11
    for n in NAMES:
        assert (
            n.removesuffix(".visible") in REGISTRY
            and n.removesuffix(".visible") + ".visible" in REGISTRY
        )


# --- correct variants written differently --------------------------------------------------------
def sdpa_einsum(q, k, v, attention_mask=None, causal=False):
    """-inf masking, NaN rows replaced by 0, einsum, softmax in float32."""
    t, s = q.shape[-2], k.shape[-2]
    up = torch.promote_types(q.dtype, torch.float32)
    scores = torch.einsum("bhtd,bhsd->bhts", q.to(up), k.to(up)) * q.shape[-1] ** -0.5
    bias = torch.zeros(t, s)
    if causal:
        bias = bias.masked_fill(torch.ones(t, s, dtype=torch.bool).triu(s - t + 1), -math.inf)
    scores = scores + bias.to(scores.device)
    if attention_mask is not None:
        scores = scores.masked_fill(attention_mask[:, None, None, :] == 0, -math.inf)
    probs = scores.softmax(-1).nan_to_num(0.0)
    return torch.einsum("bhts,bhsd->bhtd", probs, v.to(up)).to(q.dtype)


def sdpa_torch(q, k, v, attention_mask=None, causal=False):
    """torch's fused kernel with a boolean mask (fully masked rows give 0 there)."""
    t, s = q.shape[-2], k.shape[-2]
    allowed = torch.ones(t, s, dtype=torch.bool, device=q.device)
    if causal:
        allowed = allowed.tril(s - t)
    allowed = allowed[None, None]
    if attention_mask is not None:
        allowed = allowed & attention_mask.bool()[:, None, None, :]
    return F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)


class MHAPerHeadLoop(ref.MultiHeadAttention):
    """Heads computed one at a time with slices of the weights."""

    def forward(self, x, attention_mask=None, causal=False):
        d, dh = x.shape[-1], self.head_dim
        outs = []
        for h in range(self.num_heads):
            rows = [slice(j * d + h * dh, j * d + (h + 1) * dh) for j in range(3)]
            q, k, v = (
                F.linear(x, self.in_proj_weight[r], self.in_proj_bias[r])[:, None] for r in rows
            )
            outs.append(self.sdpa(q, k, v, attention_mask, causal)[:, 0])
        return self.out_proj(torch.cat(outs, -1))


def mask_tokens_indexing(
    input_ids, special_tokens_mask, mask_token_id, vocab_size, seed, mlm_probability=0.15
):
    gen = torch.Generator().manual_seed(seed)
    u = torch.rand(input_ids.shape, generator=gen)
    r = torch.rand(input_ids.shape, generator=gen)
    rnd = torch.randint(0, vocab_size, input_ids.shape, generator=gen)
    chosen = (u < mlm_probability) & (special_tokens_mask == 0)
    out, labels = input_ids.clone(), torch.full_like(input_ids, -100)
    labels[chosen] = input_ids[chosen]
    out[chosen & (r < 0.8)] = mask_token_id
    swap = chosen & (r >= 0.8) & (r < 0.9)
    out[swap] = rnd[swap]
    return out, labels


def loss_manual(logits, labels, ignore_index=-100):
    logp = logits[:, :-1].float().log_softmax(-1)
    target = labels[:, 1:]
    keep = target != ignore_index
    picked = logp.gather(-1, target.clamp(min=0)[..., None])[..., 0]
    return -(picked * keep).sum() / keep.sum()


class GPT2SortedTopK(ref.GPT2):
    """top-k by sorting and thresholding at the k-th sorted value."""

    @torch.no_grad()
    def generate(self, input_ids, max_new_tokens, temperature=0.0, top_k=None, seed=None):
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        ids = input_ids
        for _ in range(max_new_tokens):
            logits = self(ids)[:, -1].float()
            if temperature == 0:
                nxt = logits.argmax(-1, keepdim=True)
            else:
                logits = logits / temperature
                if top_k is not None and top_k < logits.shape[-1]:
                    kth = logits.sort(-1, descending=True).values[:, top_k - 1 : top_k]
                    logits = torch.where(logits >= kth, logits, -torch.inf)
                nxt = torch.multinomial(F.softmax(logits, -1), 1, generator=gen)
            ids = torch.cat([ids, nxt], 1)
        return ids


class EncoderLayerTorchNames(nn.Module):
    """Written with explicit LayerNorm functions and an nn.GELU module."""

    def __init__(self, hidden_size, num_heads, intermediate_size, eps=1e-12):
        super().__init__()
        self.self_attn = ref.MultiHeadAttention(hidden_size, num_heads)
        self.linear1 = nn.Linear(hidden_size, intermediate_size)
        self.linear2 = nn.Linear(intermediate_size, hidden_size)
        self.norm1 = nn.LayerNorm(hidden_size, eps=eps)
        self.norm2 = nn.LayerNorm(hidden_size, eps=eps)
        self.act = nn.GELU()

    def forward(self, x, attention_mask=None):
        x = F.layer_norm(
            x + self.self_attn(x, attention_mask),
            x.shape[-1:],
            self.norm1.weight,
            self.norm1.bias,
            self.norm1.eps,
        )
        return self.norm2(x + self.linear2(self.act(self.linear1(x))))


@pytest.mark.parametrize(
    "name,obj",
    [
        ("bert_gpt.sdpa", sdpa_einsum),
        ("bert_gpt.sdpa", sdpa_torch),
        ("bert_gpt.mha", MHAPerHeadLoop),
        ("bert_gpt.mlm", mask_tokens_indexing),
        ("bert_gpt.lm_loss", loss_manual),
        ("bert_gpt.generate", GPT2SortedTopK),
        ("bert_gpt.encoder_layer", EncoderLayerTorchNames),
    ],
)
def test_correct_variant_passes(name, obj, secret):
    result = outcome(name, obj)
    assert result.passed, result.message


def test_flash_attention_in_torch_is_refused():
    """Right values computed with torch operations: no Triton kernel ran, so no points."""
    result = outcome("bert_gpt.flash_attention.visible", ref.online_softmax_attention)
    assert not result.passed and "no Triton kernel ran" in result.message


# --- one mistake, one deduction ---------------------------------------------------------------------
class _WrongSDPA(ref.SDPA):
    def forward(self, q, k, v, attention_mask=None, causal=False):
        return ref.scaled_dot_product_attention(q * 2.0, k, v, attention_mask, causal)


class MHAAroundWrongSDPA(ref.MultiHeadAttention):
    def __init__(self, hidden_size, num_heads):
        super().__init__(hidden_size, num_heads)
        self.sdpa = _WrongSDPA()


class LayerAroundWrongMHA(ref.EncoderLayer):
    def __init__(self, hidden_size, num_heads, intermediate_size, eps=1e-12):
        super().__init__(hidden_size, num_heads, intermediate_size, eps)
        self.self_attn = MHAAroundWrongSDPA(hidden_size, num_heads)


class BlockAroundWrongMHA(ref.DecoderBlock):
    def __init__(self, hidden_size, num_heads, eps=1e-5):
        super().__init__(hidden_size, num_heads, eps)
        self.self_attn = MHAAroundWrongSDPA(hidden_size, num_heads)


@pytest.mark.parametrize(
    "name,obj",
    [
        ("bert_gpt.mha", MHAAroundWrongSDPA),
        ("bert_gpt.encoder_layer", LayerAroundWrongMHA),
        ("bert_gpt.decoder_block", BlockAroundWrongMHA),
    ],
)
def test_composite_is_graded_with_the_reference_sub_blocks(name, obj):
    """A wrong attention core is charged in part 1 only: the composites around it pass, because
    their graded sub-blocks answer with the reference while they are checked."""
    assert not outcome("bert_gpt.sdpa", _WrongSDPA()).passed
    assert outcome(name, obj).passed, outcome(name, obj).message
