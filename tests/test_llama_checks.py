"""The LLaMA checks discriminate: every known-wrong variant fails with its diagnosis, and correct
variants written differently (einsum, complex-number RoPE, preallocated cache...) pass."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import ROOT
from torch import nn

import autograder.chapters.llama as L
from autograder.checks.runner import InKernelExecutor, run_check, seed_for
from autograder.checks.spec import get_check
from autograder.validate import solution_namespace
from course import llama as ref

# The reference/solution passing every check and each named mistake failing *and being named*
# are tested for every chapter at once in tests/test_checks_registry.py.


def outcome(name, obj):
    return run_check(get_check(name), InKernelExecutor(obj), seed_for(name))


# --- wrong variants at the model level (no misconception label: they must still fail) ----------


# Written against the notebook's contract (the solution's classes), as a student would: composite
# checks run the reference in place of the layers and norms (one mistake, one deduction), which
# answer calls in the contract's form.
S = solution_namespace(ROOT / "solutions" / "03-llama" / "llama.ipynb")


class RopeOffsetOffByOne(S["LlamaForCausalLM"]):
    """Cached decoding starts the new tokens at position cache.length() + 1."""

    def forward(self, input_ids, cache=None):
        b, t = input_ids.shape
        start = cache.length() + 1 if cache is not None and cache.length() else 0
        positions = torch.arange(start, start + t).expand(b, t)
        x = self.model.embed_tokens(input_ids)
        cos, sin = S["rope_cos_sin"](self.head_dim, positions, self.rope_theta)
        for i, layer in enumerate(self.model.layers):
            x = layer(x, cos, sin, cache=cache, layer_idx=i)
        return self.lm_head(self.model.norm(x))


class NoCacheModel(S["LlamaForCausalLM"]):
    """Ignores the cache: the decode steps then see only the new token."""

    def forward(self, input_ids, cache=None):
        return super().forward(input_ids, None)


class UntiedWhenTied(S["LlamaForCausalLM"]):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        if self.lm_head.weight is self.model.embed_tokens.weight:
            self.lm_head.weight = nn.Parameter(self.lm_head.weight.detach().clone())


class SamplingIgnoresSeed(S["LlamaForCausalLM"]):
    def generate(
        self, input_ids, max_new_tokens, temperature=0.0, top_k=None, top_p=None, seed=None
    ):
        if temperature == 0:
            return super().generate(input_ids, max_new_tokens)
        probs_ids = input_ids
        for _ in range(max_new_tokens):
            logits = self(probs_ids)[:, -1]
            probs = ref.sampling_probs(logits, temperature, None, None)  # forgets top_k
            nxt = torch.multinomial(probs, 1)
            probs_ids = torch.cat([probs_ids, nxt], 1)
        return probs_ids


class UnseededSampling(S["LlamaForCausalLM"]):
    def generate(
        self, input_ids, max_new_tokens, temperature=0.0, top_k=None, top_p=None, seed=None
    ):
        return super().generate(input_ids, max_new_tokens, temperature, top_k, top_p, seed=None)


@pytest.mark.parametrize(
    "name,wrong,phrase",
    [
        ("llama.model", RopeOffsetOffByOne, "values differ"),
        ("llama.model", NoCacheModel, "step 1"),
        ("llama.model", UntiedWhenTied, "values differ"),
        ("llama.generate", SamplingIgnoresSeed, "generated ids"),
        ("llama.generate", UnseededSampling, "same seed"),
    ],
)
def test_model_level_wrong_variants_fail(name, wrong, phrase):
    result = outcome(name, wrong)
    assert not result.passed
    assert phrase in result.message, result.message


# --- right variants written differently ---------------------------------------------------------


class RMSNormNorm(nn.Module):
    """Via torch.linalg.vector_norm instead of mean of squares."""

    def __init__(self, hidden_size, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(hidden_size))

    def forward(self, x):
        x32 = x.to(torch.float32)
        ms = torch.linalg.vector_norm(x32, dim=-1, keepdim=True) ** 2 / x.shape[-1]
        return (self.weight * (x32 / torch.sqrt(ms + self.eps)).to(x.dtype)).to(x.dtype)


def apply_rope_complex(x, cos, sin):
    """Complex multiplication on the half-split pairs."""
    half = x.shape[-1] // 2
    xc = torch.complex(x[..., :half].float(), x[..., half:].float())
    rot = torch.complex(cos[..., :half].float(), sin[..., :half].float())[:, None]
    y = xc * rot
    return torch.cat([y.real, y.imag], dim=-1).to(x.dtype)


def repeat_kv_expand(x, n_rep):
    b, g, s, d = x.shape
    return x.unsqueeze(2).expand(b, g, n_rep, s, d).flatten(1, 2)


class AttentionSDPA(L.Attention):
    """Uses torch's fused attention with the mask built by hand."""

    def forward(self, x, cos, sin, attention_mask=None):
        b, t, _ = x.shape
        q = ref.apply_rope(
            self.q_proj(x).view(b, t, self.h, self.head_dim).transpose(1, 2), cos, sin
        )
        k = ref.apply_rope(
            self.k_proj(x).view(b, t, self.g, self.head_dim).transpose(1, 2), cos, sin
        )
        v = self.v_proj(x).view(b, t, self.g, self.head_dim).transpose(1, 2)
        mask = torch.ones(t, t, dtype=torch.bool).tril()[None, None]
        if attention_mask is not None:
            mask = mask & attention_mask[:, None, None, :].bool()
        out = torch.nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, enable_gqa=True, scale=1 / math.sqrt(self.head_dim)
        )
        return self.o_proj(out.transpose(1, 2).reshape(b, t, -1))


class PreallocatedCache:
    """A fixed-capacity tensor cache instead of lists + torch.cat."""

    def __init__(self, num_layers, capacity=64):
        self.n, self.cap, self.k, self.v, self.len = num_layers, capacity, {}, {}, [0] * num_layers

    def update(self, layer, k, v):
        if layer not in self.k:
            b, g, _, d = k.shape
            self.k[layer] = k.new_zeros(b, g, self.cap, d)
            self.v[layer] = v.new_zeros(b, g, self.cap, d)
        s, t = self.len[layer], k.shape[2]
        self.k[layer][:, :, s : s + t] = k
        self.v[layer][:, :, s : s + t] = v
        self.len[layer] = s + t
        return self.k[layer][:, :, : s + t], self.v[layer][:, :, : s + t]

    def length(self):
        return self.len[0]


def sampling_probs_loop(logits, temperature=1.0, top_k=None, top_p=None):
    """Row by row with Python loops for the nucleus."""
    probs = ref.sampling_probs(logits, temperature, top_k, None)
    if top_p is None or top_p >= 1:
        return probs
    out = torch.zeros_like(probs)
    for r in range(probs.shape[0]):
        total = 0.0
        for idx in probs[r].argsort(descending=True).tolist():
            out[r, idx] = probs[r, idx]
            total += probs[r, idx].item()
            if total >= top_p:
                break
        out[r] /= out[r].sum()
    return out


@pytest.mark.parametrize(
    "name,right",
    [
        ("llama.rmsnorm", RMSNormNorm),
        ("llama.apply_rope", apply_rope_complex),
        ("llama.repeat_kv", repeat_kv_expand),
        ("llama.attention", AttentionSDPA),
        ("llama.kv_cache", PreallocatedCache),
        ("llama.sampling_probs", sampling_probs_loop),
    ],
)
def test_right_variants_written_differently_pass(name, right):
    result = outcome(name, right)
    assert result.passed, result.message
