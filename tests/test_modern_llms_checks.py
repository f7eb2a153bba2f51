"""The modern-LLM checks beyond the registry's tests (tests/test_checks_registry.py: the solution
against every check, every named mistake under two class secrets): correct variants written
differently pass, a dense MoE is not the reference's code, one mistake costs one deduction."""

from __future__ import annotations

import math

import pytest
import torch
from conftest import outcome
from torch.nn import functional as F

import autograder.chapters.modern_llms  # noqa: F401  (registers the checks)
from autograder.chapters.modern_llms import _common as C
from autograder.chapters.modern_llms.post_norm import SUBMODULES
from autograder.chapters.modern_llms.qk_norm import _NormAfterRope
from autograder.checks.spec import REGISTRY

NAMES = sorted(n for n in REGISTRY if n.startswith("modern_llms."))


def test_nine_blocks_each_with_visible_and_hidden_checks():
    blocks = {n.split(".")[1] for n in NAMES}
    assert blocks == {
        "moe",
        "load_balancing",
        "mla",
        "sliding_window",
        "rolling_cache",
        "qk_norm",
        "post_norm",
        "nope_layers",
        "nope_attention",
    }
    assert all(f"modern_llms.{b}.visible" in REGISTRY for b in blocks)
    assert {s.check for s in SUBMODULES.values()} <= set(NAMES)


# --- correct variants written differently ------------------------------------------------------
class DenseMoE(C.MoE):
    """Every expert on every token, weighted by a mostly-zero (N, E) gate matrix."""

    def forward(self, x):
        flat = x.reshape(-1, x.shape[-1])
        logits, weights, indices = self.route(flat)
        gates = torch.zeros_like(logits).scatter(1, indices, weights).to(x.dtype)  # (N, E)
        every = torch.stack([e(flat) for e in self.experts], dim=1)  # (N, E, D)
        out = (gates[..., None] * every).sum(1)
        if self.shared_expert is not None:
            out = out + self.shared_expert(flat)
        return out.reshape(x.shape), logits


def balancing_bincount(router_logits, top_k, attention_mask=None):
    n, e = router_logits.shape
    probs = router_logits.float().softmax(-1)
    keep = torch.ones(n) if attention_mask is None else attention_mask.float()
    idx = probs.topk(top_k, -1).indices
    counts = torch.zeros(e).index_add(0, idx.reshape(-1), keep.repeat_interleave(top_k))
    return e * (counts / keep.sum() * (probs * keep[:, None]).sum(0) / keep.sum()).sum()


class AbsorbedMLA(C.MultiHeadLatentAttention):
    """The inference trick: W_UK folded into the query and W_UV applied after attention, so the
    keys and values are never expanded; attention runs over the latent c directly."""

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        q = (
            self.q_b_proj(self.q_a_layernorm(self.q_a_proj(x)))
            if self.q_lora_rank
            else self.q_proj(x)
        )
        q = q.view(b, t, self.h, self.nope + self.rope).transpose(1, 2)
        q_nope, q_pe = q.split([self.nope, self.rope], -1)
        q_pe = C.llama.apply_rope(q_pe, cos, sin)
        c, k_pe = self.latent(x, cos, sin).split([self.kv_lora_rank, self.rope], -1)
        w = self.kv_b_proj.weight.view(self.h, self.nope + self.v_dim, self.kv_lora_rank)
        w_uk, w_uv = w[:, : self.nope], w[:, self.nope :]  # (H, dn, r), (H, dv, r)
        q_lat = torch.einsum("bhtn,hnr->bhtr", q_nope, w_uk)
        scores = torch.einsum("bhtr,bsr->bhts", q_lat, c) + torch.einsum(
            "bhtd,bsd->bhts", q_pe, k_pe
        )
        scores = scores / math.sqrt(self.nope + self.rope)
        causal = torch.ones(t, t, dtype=torch.bool).tril()
        probs = scores.masked_fill(~causal, float("-inf")).float().softmax(-1).to(c.dtype)
        out = torch.einsum("bhts,bsr,hvr->bthv", probs, c, w_uv).reshape(b, t, -1)
        return self.o_proj(out)


def window_mask_loops(t, s, window, attention_mask=None):
    rows = [[0 <= (s - t + i) - j < window for j in range(s)] for i in range(t)]
    mask = torch.tensor(rows, dtype=torch.bool)[None, None]
    if attention_mask is not None:
        mask = mask & attention_mask.bool()[:, None, None, :]
    return mask


class HistoryCache:
    """Keeps every token and derives the ring view from the history (memory is not graded)."""

    def __init__(self, num_layers, window):
        self.w, self.hist = window, [None] * num_layers

    def update(self, layer, k, v):
        prev = self.hist[layer]
        seen = 0 if prev is None else prev[0].shape[2]
        keep = min(seen, self.w - 1)
        k_att = k if prev is None else torch.cat([prev[0][:, :, seen - keep :], k], 2)
        v_att = v if prev is None else torch.cat([prev[1][:, :, seen - keep :], v], 2)
        self.hist[layer] = (
            (k, v) if prev is None else (torch.cat([prev[0], k], 2), torch.cat([prev[1], v], 2))
        )
        return k_att, v_att

    def slots(self, layer):
        k, v = self.hist[layer]
        n = k.shape[2]
        kb, vb = (
            k.new_zeros(*k.shape[:2], self.w, k.shape[3]),
            v.new_zeros(*v.shape[:2], self.w, v.shape[3]),
        )
        for p in range(max(0, n - self.w), n):
            kb[:, :, p % self.w], vb[:, :, p % self.w] = k[:, :, p], v[:, :, p]
        return kb, vb

    def length(self):
        return 0 if self.hist[0] is None else self.hist[0][0].shape[2]


class FusedQKNorm(C.QKNormAttention):
    fused = True  # torch's scaled_dot_product_attention instead of the explicit softmax


class PostNormFunctional(C.PostNormBlock):
    """The branch norms through torch's F.rms_norm instead of the RMSNorm modules' forward."""

    def forward(self, x, cos, sin):
        n1, n2 = self.post_attention_layernorm, self.post_feedforward_layernorm
        h = x + F.rms_norm(self.self_attn(x, cos, sin), (x.shape[-1],), n1.weight, n1.eps)
        return h + F.rms_norm(self.mlp(h), (x.shape[-1],), n2.weight, n2.eps)


def nope_layers_modulo(num_layers, interval=4):
    """The rule read off the positions 1..L: position i + 1 a multiple of interval = NoPE."""
    return [bool((i + 1) % interval) for i in range(num_layers)]


class NoPEByIdentityRotation(C.NoPEAttention):
    """A NoPE layer as the LLaMA layer given the identity rotation (cos = 1, sin = 0), through
    torch's fused attention (the way course.modern_llms.NoPELlamaModel calls its layers)."""

    fused = True

    def forward(self, x, cos, sin, attention_mask=None):
        if not self.use_rope:
            cos, sin = torch.ones_like(cos), torch.zeros_like(sin)
        t = x.shape[1]
        mask = C.llama.causal_mask(t, t, attention_mask, x.device)
        return C.llama.LlamaAttention.forward(self, x, cos, sin, mask)


ALTERNATIVES = [
    ("modern_llms.moe", DenseMoE),
    ("modern_llms.load_balancing", balancing_bincount),
    ("modern_llms.mla", AbsorbedMLA),
    ("modern_llms.sliding_window", window_mask_loops),
    ("modern_llms.rolling_cache", HistoryCache),
    ("modern_llms.qk_norm", FusedQKNorm),
    ("modern_llms.post_norm", PostNormFunctional),
    ("modern_llms.nope_layers", nope_layers_modulo),
    ("modern_llms.nope_attention", NoPEByIdentityRotation),
]


@pytest.mark.parametrize("name,obj", ALTERNATIVES, ids=[n for n, _ in ALTERNATIVES])
def test_correct_variant_written_differently_passes(name, obj, secret):
    result = outcome(name, obj)
    assert result.passed, result.message


def test_dense_moe_is_not_the_reference_code():
    """The dense variant really computes every expert (no gather), yet agrees."""
    m = DenseMoE(8, 6, 4, 2)
    x = torch.randn(1, 3, 8)
    torch.testing.assert_close(m(x)[0], C.MoE.forward(m, x)[0])
    assert F.softmax(m(x)[1], -1).shape == (3, 4)


class PostNormWithWrongAttention(C.PostNormBlock):
    """A correct block around an attention that normalises after RoPE (part 6's mistake)."""

    def __init__(self, hidden_size, intermediate_size, num_heads, num_kv_heads, eps=1e-6):
        super().__init__(hidden_size, intermediate_size, num_heads, num_kv_heads, eps)
        self.self_attn = _NormAfterRope(hidden_size, num_heads, num_kv_heads, eps)

    def forward(self, x, cos, sin):
        h = x + self.post_attention_layernorm(self.self_attn(x, cos, sin))
        return h + self.post_feedforward_layernorm(self.mlp(h))


def test_one_mistake_one_deduction_post_norm_is_graded_with_the_reference_attention():
    assert not outcome("modern_llms.qk_norm", _NormAfterRope).passed
    result = outcome("modern_llms.post_norm", PostNormWithWrongAttention)
    assert result.passed, result.message


def test_one_mistake_one_deduction_nope_attention_takes_its_flag_not_the_rule():
    """The attention is graded on the flag it is given: a wrong layer rule (part 8) leaves part 9
    whole, and the rule's check sees no attention."""
    from autograder.chapters.modern_llms.nope import _off_by_one

    assert not outcome("modern_llms.nope_layers", _off_by_one).passed
    assert REGISTRY["modern_llms.nope_attention"].submodules == {}
    cases = REGISTRY["modern_llms.nope_attention"].cases(torch.Generator().manual_seed(0), "cpu")
    assert {c.init["use_rope"] for c in cases} == {True, False}
