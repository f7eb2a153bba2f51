"""Chapter 07-modern-llms: the references against independent oracles (never against themselves).

Hugging Face ``transformers`` modules (Mixtral, DeepSeek-V2/V3, Qwen3, OLMo 2, Mistral, SmolLM3)
are built from small random configs, our weights are copied into them, and the outputs must agree;
the window mask is also compared with transformers' own mask function and torch's SDPA.
"""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from course import llama
from course import modern_llms as ref

transformers = pytest.importorskip("transformers")


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _randomise(module, seed=0):
    g = _gen(seed)
    with torch.no_grad():
        for p in module.parameters():
            if p.dim() == 1:
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / p.shape[-1] ** 0.5)
    return module


def _experts_into(hf_experts, moe):
    with torch.no_grad():
        for e, mlp in enumerate(moe.experts):
            hf_experts.gate_up_proj[e].copy_(torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]))
            hf_experts.down_proj[e].copy_(mlp.down_proj.weight)


# --- MoE ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("num_experts,top_k", [(8, 2), (5, 1), (6, 3)])
def test_moe_matches_mixtral_sparse_moe_block(num_experts, top_k):
    from transformers.models.mixtral.configuration_mixtral import MixtralConfig
    from transformers.models.mixtral.modeling_mixtral import MixtralSparseMoeBlock

    cfg = MixtralConfig(
        hidden_size=16, intermediate_size=24, num_local_experts=num_experts,
        num_experts_per_tok=top_k, router_jitter_noise=0.0,
    )  # fmt: skip
    ours = _randomise(ref.MoE(16, 24, num_experts, top_k), 1)
    hf = MixtralSparseMoeBlock(cfg).eval()
    with torch.no_grad():
        hf.gate.weight.copy_(ours.gate.weight)
    _experts_into(hf.experts, ours)
    x = torch.randn(3, 7, 16, generator=_gen(2))
    y, logits = ours(x)
    torch.testing.assert_close(y, hf(x))
    torch.testing.assert_close(logits, F.linear(x.reshape(-1, 16), ours.gate.weight))


def test_moe_with_shared_expert_matches_deepseek_v2_moe():
    """DeepSeek-V2: softmax over all experts, top-k *not* renormalised, one shared expert."""
    from transformers.models.deepseek_v2.configuration_deepseek_v2 import DeepseekV2Config
    from transformers.models.deepseek_v2.modeling_deepseek_v2 import DeepseekV2Moe

    cfg = DeepseekV2Config(
        hidden_size=16, num_attention_heads=2, num_key_value_heads=2, moe_intermediate_size=12,
        n_routed_experts=6, num_experts_per_tok=2,
        n_shared_experts=1, routed_scaling_factor=1.0, topk_method="greedy", n_group=1, topk_group=1,
    )  # fmt: skip
    ours = _randomise(ref.MoE(16, 12, 6, 2, shared_intermediate_size=12, normalize_topk=False), 3)
    hf = DeepseekV2Moe(cfg).eval()
    assert hf.experts.num_experts == 6
    with torch.no_grad():
        hf.gate.weight.copy_(ours.gate.weight)
        for name in ("gate_proj", "up_proj", "down_proj"):
            getattr(hf.shared_experts, name).weight.copy_(getattr(ours.shared_expert, name).weight)
    _experts_into(hf.experts, ours)
    x = torch.randn(2, 5, 16, generator=_gen(4))
    torch.testing.assert_close(ours(x)[0], hf(x))


@pytest.mark.parametrize("norm_topk_prob", [True, False])
def test_moe_matches_qwen3_moe_block(norm_topk_prob):
    """Qwen3-MoE: softmax over all experts, top-k, renormalised when norm_topk_prob is set."""
    from transformers import Qwen3MoeConfig
    from transformers.models.qwen3_moe.modeling_qwen3_moe import Qwen3MoeSparseMoeBlock

    cfg = Qwen3MoeConfig(
        hidden_size=16, num_attention_heads=2, num_key_value_heads=2, moe_intermediate_size=10,
        num_experts=8, num_experts_per_tok=3, norm_topk_prob=norm_topk_prob,
    )  # fmt: skip
    ours = _randomise(ref.MoE(16, 10, 8, 3, normalize_topk=norm_topk_prob), 22)
    hf = Qwen3MoeSparseMoeBlock(cfg).eval()
    with torch.no_grad():
        hf.gate.weight.copy_(ours.gate.weight)
    _experts_into(hf.experts, ours)
    x = torch.randn(2, 6, 16, generator=_gen(23))
    torch.testing.assert_close(ours(x)[0], hf(x))


@pytest.mark.parametrize("masked", [False, True])
def test_load_balancing_loss_matches_mixtral(masked):
    from transformers.models.mixtral.modeling_mixtral import load_balancing_loss_func

    logits = torch.randn(2 * 9, 8, generator=_gen(5))
    mask = torch.ones(2, 9, dtype=torch.long)
    mask[0, :4] = 0
    got = ref.load_balancing_loss(logits, 2, mask.reshape(-1) if masked else None)
    want = load_balancing_loss_func((logits,), 8, 2, mask if masked else None)
    torch.testing.assert_close(got, want)


def test_load_balancing_loss_is_top_k_when_uniform():
    logits = torch.zeros(4, 8)
    logits[torch.arange(4), torch.arange(4) * 2] = 1e-3  # ties broken so each expert gets 1 token
    logits[torch.arange(4), torch.arange(4) * 2 + 1] = 1e-3
    torch.testing.assert_close(
        ref.load_balancing_loss(logits, 2), torch.tensor(2.0), atol=1e-3, rtol=0
    )


# --- MLA ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("q_lora_rank", [12, 0])
def test_mla_matches_deepseek_v3_attention(q_lora_rank):
    from transformers.models.deepseek_v3.configuration_deepseek_v3 import DeepseekV3Config
    from transformers.models.deepseek_v3.modeling_deepseek_v3 import DeepseekV3Attention

    d, h, r, dn, dr, dv = 24, 3, 10, 8, 4, 6
    cfg = DeepseekV3Config(
        hidden_size=d, num_attention_heads=h, num_key_value_heads=h,
        q_lora_rank=q_lora_rank or None, kv_lora_rank=r, qk_nope_head_dim=dn,
        qk_rope_head_dim=dr, v_head_dim=dv, rope_interleave=False, attention_bias=False,
    )  # fmt: skip
    cfg._attn_implementation = "sdpa"
    ours = _randomise(ref.MultiHeadLatentAttention(d, h, q_lora_rank, r, dn, dr, dv, 1e-6), 6)
    hf = DeepseekV3Attention(cfg, 0).eval()
    missing, unexpected = hf.load_state_dict(ours.state_dict(), strict=False)
    assert not unexpected and not missing
    b, t = 2, 6
    x = torch.randn(b, t, d, generator=_gen(7))
    pos = torch.arange(t).expand(b, t)
    cos, sin = llama.rope_cos_sin(dr, pos)
    mask = llama.causal_mask(t, t).expand(b, 1, t, t)
    want, _ = hf(x, position_embeddings=(cos, sin), attention_mask=mask)
    torch.testing.assert_close(ours(x, cos, sin, mask), want)


def test_mla_cache_decoding_equals_recomputation_and_stores_r_plus_dr():
    d, h, r, dn, dr, dv = 16, 4, 6, 4, 2, 4
    m = _randomise(ref.MultiHeadLatentAttention(d, h, 8, r, dn, dr, dv), 8)
    t = 7
    x = torch.randn(1, t, d, generator=_gen(9))
    cos, sin = llama.rope_cos_sin(dr, torch.arange(t)[None])
    full = m(x, cos, sin, llama.causal_mask(t, t))
    cache: list[torch.Tensor] = []
    outs = [m(x[:, :4], cos[:, :4], sin[:, :4], llama.causal_mask(4, 4), cache)]
    for i in range(4, t):
        outs.append(m(x[:, i : i + 1], cos[:, i : i + 1], sin[:, i : i + 1], None, cache))
    torch.testing.assert_close(torch.cat(outs, 1), full)
    assert cache[0].shape == (1, t, r + dr)


def test_cache_bytes_per_token_deepseek_v2_table1():
    """DeepSeek-V2 Table 1: MLA caches (d_c + d_h^R) l elements; with d_c = 4 d_h, d_h^R = d_h / 2
    that is 4.5 d_h l, i.e. GQA with 2.25 groups."""
    dh, layers = 128, 60
    mla = ref.cache_bytes_per_token("mla", layers, kv_lora_rank=4 * dh, qk_rope_head_dim=dh // 2)
    gqa = ref.cache_bytes_per_token("gqa", layers, num_key_value_heads=1, head_dim=dh)
    assert mla / gqa == 4.5 / 2
    assert ref.cache_bytes_per_token("mha", 2, 3, 4, bytes_per=1) == 2 * 3 * 4 * 2


def test_mla_cache_bytes_equal_the_hf_cache_it_fills():
    """Measured: the bytes Hugging Face's DynamicCache holds for a DeepSeek-V3 model."""
    from transformers import DeepseekV3Config, DeepseekV3ForCausalLM, DynamicCache

    cfg = DeepseekV3Config(
        vocab_size=50, hidden_size=32, intermediate_size=32, moe_intermediate_size=8,
        num_hidden_layers=2, first_k_dense_replace=2, num_attention_heads=4,
        num_key_value_heads=4, q_lora_rank=16, kv_lora_rank=12, qk_nope_head_dim=8,
        qk_rope_head_dim=4, v_head_dim=8, rope_interleave=False, n_routed_experts=4,
        n_group=1, topk_group=1,
    )  # fmt: skip
    model = DeepseekV3ForCausalLM(cfg).eval().to(torch.bfloat16)
    cache = DynamicCache(config=cfg)
    t = 5
    with torch.no_grad():
        model(torch.arange(t)[None], past_key_values=cache, use_cache=True)
    held = sum(
        layer.keys.numel() * layer.keys.element_size()
        + layer.values.numel() * layer.values.element_size()
        for layer in cache.layers
    )
    assert held == t * ref.cache_bytes_per_token("mla", 2, kv_lora_rank=12, qk_rope_head_dim=4)


# --- sliding window -----------------------------------------------------------------------------
@pytest.mark.parametrize("t,s,w", [(6, 6, 3), (1, 9, 4), (3, 8, 1), (5, 5, 10), (4, 10, 4)])
def test_sliding_window_mask_matches_transformers(t, s, w):
    from transformers.masking_utils import sliding_window_causal_mask_function

    fn = sliding_window_causal_mask_function(w)
    q_idx = torch.arange(s - t, s)[:, None]
    kv_idx = torch.arange(s)[None, :]
    want = fn(torch.tensor(0), torch.tensor(0), q_idx, kv_idx).expand(t, s)
    got = ref.sliding_window_mask(t, s, w)[0, 0]
    assert torch.equal(got, want)
    assert int(got[-1].sum()) == min(w, s)  # the last query sees exactly w keys


def _llama_and_mistral(window, seed=10, layers=2, tie=False):
    from transformers import MistralConfig, MistralForCausalLM

    cfg = llama.LlamaConfig(
        vocab_size=41, hidden_size=32, intermediate_size=40, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, rope_theta=10000.0, rms_norm_eps=1e-5,
        tie_word_embeddings=tie,
    )  # fmt: skip
    ours = _randomise(ref.SlidingWindowLlamaForCausalLM(cfg, window), seed).eval()
    hf_cfg = MistralConfig(
        vocab_size=41, hidden_size=32, intermediate_size=40, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5, sliding_window=window,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, tie_word_embeddings=tie,
    )  # fmt: skip
    hf_cfg._attn_implementation = "sdpa"
    hf = MistralForCausalLM(hf_cfg).eval()
    hf.load_state_dict(ours.state_dict(), strict=True)
    return ours, hf


@pytest.mark.parametrize("window", [1, 3, 5, 40])
def test_sliding_window_model_matches_mistral(window):
    ours, hf = _llama_and_mistral(window)
    ids = torch.randint(0, 41, (2, 12), generator=_gen(11))
    with torch.no_grad():
        torch.testing.assert_close(ours(ids), hf(ids).logits)


@pytest.mark.parametrize("window,prefill", [(4, 2), (4, 9), (1, 3), (6, 6)])
def test_rolling_cache_decode_equals_windowed_recomputation(window, prefill):
    """Decode far beyond the window with a ring buffer of `window` slots == full recompute."""
    ours, hf = _llama_and_mistral(window, seed=12)
    ids = torch.randint(0, 41, (1, 15), generator=_gen(13))
    with torch.no_grad():
        full = hf(ids).logits
        cache = ours.new_cache()
        outs = [ours(ids[:, :prefill], cache)]
        for i in range(prefill, ids.shape[1]):
            outs.append(ours(ids[:, i : i + 1], cache))
            assert cache.k[0].shape[2] == window  # the cache never grows
    torch.testing.assert_close(torch.cat(outs, 1), full, atol=1e-4, rtol=1e-4)


def test_windowed_attention_equals_sdpa_with_explicit_mask():
    cfg = llama.LlamaConfig(hidden_size=24, num_attention_heads=6, num_key_value_heads=2)
    attn = _randomise(llama.LlamaAttention(cfg), 14)
    t, w = 9, 3
    x = torch.randn(2, t, 24, generator=_gen(15))
    cos, sin = llama.rope_cos_sin(4, torch.arange(t).expand(2, t))
    mask = ref.sliding_window_mask(t, t, w)
    q = llama.apply_rope(attn.q_proj(x).view(2, t, 6, 4).transpose(1, 2), cos, sin)
    k = llama.apply_rope(attn.k_proj(x).view(2, t, 2, 4).transpose(1, 2), cos, sin)
    v = attn.v_proj(x).view(2, t, 2, 4).transpose(1, 2)
    allowed = torch.tensor([[0 <= i - j < w for j in range(t)] for i in range(t)])
    o = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, enable_gqa=True)
    want = attn.o_proj(o.transpose(1, 2).reshape(2, t, 24))
    torch.testing.assert_close(attn(x, cos, sin, mask), want)


# --- QK-norm and the post-norm block ------------------------------------------------------------
def _hf_cfg(cls, **kw):
    cfg = cls(
        hidden_size=24, num_attention_heads=6, num_key_value_heads=2, head_dim=4,
        intermediate_size=20, rms_norm_eps=1e-5, attention_bias=False, **kw,
    )  # fmt: skip
    cfg._attn_implementation = "sdpa"
    return cfg


def _our_cfg():
    return llama.LlamaConfig(
        hidden_size=24, num_attention_heads=6, num_key_value_heads=2, head_dim=4,
        intermediate_size=20, rms_norm_eps=1e-5,
    )  # fmt: skip


def _inputs(t=7, b=2):
    x = torch.randn(b, t, 24, generator=_gen(16))
    cos, sin = llama.rope_cos_sin(4, torch.arange(t).expand(b, t))
    return x, cos, sin, llama.causal_mask(t, t).expand(b, 1, t, t)


@pytest.mark.parametrize("fused", [True, False])
def test_qk_norm_attention_matches_qwen3(fused):
    from transformers import Qwen3Config
    from transformers.models.qwen3.modeling_qwen3 import Qwen3Attention

    ours = _randomise(ref.QKNormAttention(_our_cfg(), per_head=True), 17)
    ours.fused = fused
    hf = Qwen3Attention(_hf_cfg(Qwen3Config), 0).eval()
    hf.load_state_dict(ours.state_dict(), strict=True)
    x, cos, sin, mask = _inputs()
    torch.testing.assert_close(ours(x, cos, sin, mask), hf(x, (cos, sin), mask)[0])


def test_qk_norm_attention_whole_projection_matches_olmo2():
    from transformers import Olmo2Config
    from transformers.models.olmo2.modeling_olmo2 import Olmo2Attention

    ours = _randomise(ref.QKNormAttention(_our_cfg(), per_head=False), 18)
    hf = Olmo2Attention(_hf_cfg(Olmo2Config), 0).eval()
    hf.load_state_dict(ours.state_dict(), strict=True)
    x, cos, sin, mask = _inputs()
    torch.testing.assert_close(ours(x, cos, sin, mask), hf(x, (cos, sin), mask)[0])


def test_post_norm_block_matches_olmo2_decoder_layer():
    from transformers import Olmo2Config
    from transformers.models.olmo2.modeling_olmo2 import Olmo2DecoderLayer

    ours = _randomise(ref.PostNormDecoderLayer(_our_cfg(), per_head=False), 19)
    hf = Olmo2DecoderLayer(_hf_cfg(Olmo2Config), 0).eval()
    hf.load_state_dict(ours.state_dict(), strict=True)
    x, cos, sin, mask = _inputs()
    want = hf(x, attention_mask=mask, position_embeddings=(cos, sin))
    want = want[0] if isinstance(want, tuple) else want
    torch.testing.assert_close(ours(x, cos, sin, mask), want)


# --- NoPE layers ------------------------------------------------------------------------------
@pytest.mark.parametrize("layers,interval", [(4, 4), (6, 2), (3, 4)])
def test_nope_model_matches_smollm3(layers, interval):
    from transformers import SmolLM3Config, SmolLM3ForCausalLM

    cfg = llama.LlamaConfig(
        vocab_size=37, hidden_size=32, intermediate_size=40, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-6, tie_word_embeddings=True,
    )  # fmt: skip
    ours = _randomise(ref.NoPELlamaForCausalLM(cfg, interval), 20).eval()
    hf_cfg = SmolLM3Config(
        vocab_size=37, hidden_size=32, intermediate_size=40, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-6, tie_word_embeddings=True,
        no_rope_layer_interval=interval, use_sliding_window=False, pad_token_id=0,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
    )  # fmt: skip
    hf_cfg._attn_implementation = "sdpa"
    hf = SmolLM3ForCausalLM(hf_cfg).eval()
    hf.load_state_dict(ours.state_dict(), strict=True)
    assert [not r for r in ours.model.use_rope] == [not h for h in hf_cfg.no_rope_layers]
    ids = torch.randint(0, 37, (2, 9), generator=_gen(21))
    with torch.no_grad():
        torch.testing.assert_close(ours(ids), hf(ids).logits)
        cache = ours.new_cache()  # the NoPE model decodes with the ordinary cache
        steps = [ours(ids[:, :5], cache)] + [ours(ids[:, i : i + 1], cache) for i in range(5, 9)]
        torch.testing.assert_close(torch.cat(steps, 1), hf(ids).logits, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("layers", [1, 3, 4, 8, 36])
@pytest.mark.parametrize("interval", [1, 2, 3, 4, 5, 40])
def test_nope_layers_match_smollm3_config(layers, interval):
    """SmolLM3Config's no_rope_layers (1 = RoPE, 0 = NoPE), as bools."""
    from transformers import SmolLM3Config

    hf_cfg = SmolLM3Config(
        num_hidden_layers=layers, no_rope_layer_interval=interval, pad_token_id=0
    )
    assert ref.nope_layers(layers, interval) == [bool(r) for r in hf_cfg.no_rope_layers]
    assert ref.nope_layers(layers) == [
        bool(r) for r in SmolLM3Config(num_hidden_layers=layers, pad_token_id=0).no_rope_layers
    ]


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("padded", [False, True])
@pytest.mark.parametrize("layer_idx", [2, 3])  # interval 4: layer 2 uses RoPE, layer 3 does not
def test_nope_attention_matches_smollm3_attention(layer_idx, padded, fused):
    from transformers import SmolLM3Config
    from transformers.models.smollm3.modeling_smollm3 import SmolLM3Attention

    hf_cfg = SmolLM3Config(
        hidden_size=24, num_attention_heads=6, num_key_value_heads=2, intermediate_size=20,
        num_hidden_layers=4, no_rope_layer_interval=4, use_sliding_window=False,
        attention_bias=False, pad_token_id=0,
    )  # fmt: skip
    hf_cfg._attn_implementation = "sdpa"
    use_rope = ref.nope_layers(4)[layer_idx]
    ours = _randomise(ref.NoPEAttention(_our_cfg(), layer_idx, use_rope), 25)
    ours.fused = fused
    hf = SmolLM3Attention(hf_cfg, layer_idx).eval()
    assert hf.use_rope == use_rope
    hf.load_state_dict(ours.state_dict(), strict=True)
    x, cos, sin, mask = _inputs()
    real = torch.ones(2, 7, dtype=torch.bool)
    if padded:  # the first row left-padded by 3: its padded queries' outputs are unspecified
        real[0, :3] = False
        mask = mask & real[:, None, None, :]
    x.requires_grad_(True)
    got = ours(x, cos, sin, mask)
    want = hf(x, (cos, sin), mask)[0]
    torch.testing.assert_close(got[real], want[real])
    cot = torch.randn(got.shape, generator=_gen(26)) * real[..., None]
    (g_ours,) = torch.autograd.grad(got, x, cot)
    (g_hf,) = torch.autograd.grad(want.nan_to_num(0.0), x, cot)
    torch.testing.assert_close(g_ours, g_hf)
    # the flag matters: the other kind of layer gives another answer (after position 0)
    ours.use_rope = not use_rope
    assert not torch.allclose(ours(x, cos, sin, mask)[:, 1:], got[:, 1:], atol=1e-3)


# --- Gemma 3: QK-norm and a sliding window in one layer -----------------------------------------
@pytest.mark.parametrize("layer_type,window", [("sliding_attention", 3), ("full_attention", 3)])
def test_windowed_qk_norm_attention_matches_gemma3(layer_type, window):
    """Gemma 3's attention = the course's per-head QK-norm attention with the window mask.

    Gemma's RMSNorm scales by (1 + w): its weights are ours minus one; its score scale is
    query_pre_attn_scalar ** -0.5 (= head_dim here); sliding layers get the window mask.
    """
    from transformers import Gemma3TextConfig
    from transformers.models.gemma3.modeling_gemma3 import Gemma3Attention

    hf_cfg = Gemma3TextConfig(
        hidden_size=24, num_attention_heads=6, num_key_value_heads=2, head_dim=4,
        query_pre_attn_scalar=4, rms_norm_eps=1e-5, sliding_window=window, attention_bias=False,
        layer_types=[layer_type], num_hidden_layers=1, attn_logit_softcapping=None,
    )  # fmt: skip
    hf_cfg._attn_implementation = "sdpa"
    ours = _randomise(ref.QKNormAttention(_our_cfg(), per_head=True), 24)
    hf = Gemma3Attention(hf_cfg, 0).eval()
    state = dict(ours.state_dict())
    for name in ("q_norm.weight", "k_norm.weight"):
        state[name] = state[name] - 1.0
    hf.load_state_dict(state, strict=True)
    t = 8
    x, cos, sin, _ = _inputs(t)
    from transformers.masking_utils import (
        causal_mask_function,
        sliding_window_causal_mask_function,
    )

    fn = causal_mask_function
    if layer_type == "sliding_attention":
        fn = sliding_window_causal_mask_function(window)
    zero, idx = torch.tensor(0), torch.arange(t)
    hf_mask = fn(zero, zero, idx[:, None], idx[None, :]).expand(2, 1, t, t)  # transformers' rule
    want = hf(x, (cos, sin), hf_mask)[0]
    ours_mask = ref.sliding_window_mask(t, t, window if layer_type == "sliding_attention" else t)
    torch.testing.assert_close(ours(x, cos, sin, ours_mask.expand(2, 1, t, t)), want)
