"""Checks for the LLaMA internals assignment (solutions/03-llama).

The student-facing contracts use plain keyword arguments; thin adapters below build the reference
(course/llama.py, proven against Hugging Face in tests/) with the same signatures. Parameter names
follow Hugging Face's Llama so that real weights load into students' models.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
from torch.nn import functional as F

from autograder.checks.compare import DEFAULT_TOL, diagnose
from autograder.checks.spec import Case, Check, Outcome, Step, compare_outcomes, register
from autograder.checks.values import NewCache
from course import llama as ref


def _ri(gen: torch.Generator, lo: int, hi: int) -> int:
    return int(torch.randint(lo, hi + 1, (1,), generator=gen))


def _randn(gen, *shape, scale=1.0, dtype=torch.float32):
    return (torch.randn(shape, generator=gen) * scale).to(dtype)


# ----------------------------------------------------------------------------- reference adapters


class RMSNorm(ref.RMSNorm):
    def __init__(self, hidden_size: int, eps: float = 1e-6):
        super().__init__(hidden_size, eps)


class SwiGLU(ref.LlamaMLP):
    def __init__(self, hidden_size: int, intermediate_size: int):
        super().__init__(
            ref.LlamaConfig(hidden_size=hidden_size, intermediate_size=intermediate_size)
        )


def _config(hidden_size, num_heads, num_kv_heads, intermediate_size=32, eps=1e-5, **kw):
    return ref.LlamaConfig(
        hidden_size=hidden_size,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        intermediate_size=intermediate_size,
        rms_norm_eps=eps,
        **kw,
    )


_mask = ref.causal_mask


class Attention(ref.LlamaAttention):
    fused = False  # grade against the explicit softmax(QK^T / sqrt(d)) V path

    def __init__(self, hidden_size: int, num_heads: int, num_kv_heads: int):
        super().__init__(_config(hidden_size, num_heads, num_kv_heads))

    def forward(self, x, cos, sin, attention_mask=None):
        t = x.shape[1]
        return super().forward(x, cos, sin, _mask(t, t, attention_mask, x.device))


class DecoderLayer(ref.LlamaDecoderLayer):
    def __init__(self, hidden_size, intermediate_size, num_heads, num_kv_heads, eps=1e-5):
        super().__init__(_config(hidden_size, num_heads, num_kv_heads, intermediate_size, eps))

    def forward(self, x, cos, sin):
        t = x.shape[1]
        return super().forward(x, cos, sin, _mask(t, t, None, x.device))


class KVCache(ref.KVCache):
    pass


class LlamaForCausalLM(ref.LlamaForCausalLM):
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
        super().__init__(
            ref.LlamaConfig(
                vocab_size=vocab_size,
                hidden_size=hidden_size,
                intermediate_size=intermediate_size,
                num_hidden_layers=num_layers,
                num_attention_heads=num_heads,
                num_key_value_heads=num_kv_heads,
                rope_theta=rope_theta,
                rms_norm_eps=eps,
                tie_word_embeddings=tie_word_embeddings,
            )
        )

    def forward(self, input_ids, cache=None):
        return super().forward(input_ids, cache)

    def generate(
        self, input_ids, max_new_tokens, temperature=0.0, top_k=None, top_p=None, seed=None
    ):
        return super().generate(
            input_ids, max_new_tokens, True, None, temperature, top_k, top_p, seed
        )


def rmsnorm_triton(x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    x32 = x.float()
    return (weight * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype)).to(
        x.dtype
    )


# ----------------------------------------------------------------------------- known mistakes


class _EpsOutsideRoot(RMSNorm):
    def forward(self, x):
        x32 = x.float()
        y = x32 / (x32.pow(2).mean(-1, keepdim=True).sqrt() + self.eps)
        return (self.weight * y.to(x.dtype)).to(x.dtype)


class _MeanSubtracting(RMSNorm):
    def forward(self, x):
        x32 = x.float()
        y = (x32 - x32.mean(-1, keepdim=True)) * torch.rsqrt(
            x32.var(-1, unbiased=False, keepdim=True) + self.eps
        )
        return (self.weight * y.to(x.dtype)).to(x.dtype)


def _rotate_interleaved(x, cos, sin):
    if cos.dim() == 3:
        cos, sin = cos[:, None], sin[:, None]
    half = x.shape[-1] // 2
    c, s = cos[..., :half], sin[..., :half]
    x1, x2 = x[..., 0::2], x[..., 1::2]
    out = torch.stack([x1 * c - x2 * s, x1 * s + x2 * c], dim=-1)
    return out.flatten(-2).to(x.dtype)


def _cos_sin_shifted(head_dim, positions, theta=10000.0):
    return ref.rope_cos_sin(head_dim, positions + 1, theta)


def _cos_sin_wrong_exponent(head_dim, positions, theta=10000.0):
    inv = 1.0 / theta ** (torch.arange(0, head_dim // 2, dtype=torch.float32) / head_dim)
    ang = positions.float()[..., None] * inv
    emb = torch.cat([ang, ang], -1)
    return emb.cos(), emb.sin()


class _SiluOnUp(SwiGLU):
    def forward(self, x):
        return self.down_proj(self.gate_proj(x) * F.silu(self.up_proj(x)))


class _NoScale(Attention):
    """Scores not divided by sqrt(Dh): scaling q by sqrt(Dh) cancels the reference's division."""

    def forward(self, x, cos, sin, attention_mask=None):
        saved = self.q_proj.weight.data.clone()
        self.q_proj.weight.data *= math.sqrt(self.head_dim)
        try:
            return super().forward(x, cos, sin, attention_mask)
        finally:
            self.q_proj.weight.data = saved


class _LeakyMask(Attention):
    def forward(self, x, cos, sin, attention_mask=None):
        t = x.shape[1]
        mask = torch.ones(t, t, dtype=torch.bool).tril(1)[None, None]
        if attention_mask is not None:
            mask = mask & attention_mask[:, None, None, :].bool()
        return ref.LlamaAttention.forward(self, x, cos, sin, mask)


def _repeat_kv_tiled(x, n_rep):
    return x.repeat(1, n_rep, 1, 1)


class _TiledHeads(Attention):
    """Query heads matched to kv heads by tiling (a subclass: no shared state is touched)."""

    def expand_kv(self, x):
        return _repeat_kv_tiled(x, self.h // self.g)


class _CacheDropsFirst(KVCache):
    def update(self, layer, k, v):
        k_all, v_all = super().update(layer, k, v)
        if k_all.shape[2] > k.shape[2]:
            return k_all[:, :, 1:], v_all[:, :, 1:]
        return k_all, v_all


class _PostNorm(DecoderLayer):
    def forward(self, x, cos, sin):
        t = x.shape[1]
        m = _mask(t, t, None, x.device)
        h = self.input_layernorm(x + self.self_attn(x, cos, sin, m))
        return self.post_attention_layernorm(h + self.mlp(h))


def _top_k_exactly_k(logits, temperature=1.0, top_k=None, top_p=None):
    """Keeps exactly k tokens by index (ties at the k-th logit broken arbitrarily)."""
    if top_k is None:
        return ref.sampling_probs(logits, temperature, top_k, top_p)
    logits = logits.float() / temperature
    idx = torch.topk(logits, min(top_k, logits.shape[-1]), -1).indices
    kept = torch.full_like(logits, float("-inf")).scatter(-1, idx, logits.gather(-1, idx))
    return ref.sampling_probs(kept, 1.0, None, top_p)


def _top_p_one_too_few(logits, temperature=1.0, top_k=None, top_p=None):
    logits = logits.float() / temperature
    if top_k is not None:
        kth = torch.topk(logits, min(top_k, logits.shape[-1]), -1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, -1)
    if top_p is not None and top_p < 1.0:
        sp, order = probs.sort(-1, descending=True)
        sp = sp.masked_fill(sp.cumsum(-1) > top_p, 0.0)
        sp[..., 0] = torch.where(sp.sum(-1) == 0, probs.max(-1).values, sp[..., 0])
        probs = torch.zeros_like(probs).scatter(-1, order, sp)
        probs = probs / probs.sum(-1, keepdim=True)
    return probs


def _no_temperature(logits, temperature=1.0, top_k=None, top_p=None):
    return ref.sampling_probs(logits, 1.0, top_k, top_p)


# ----------------------------------------------------------------------------- case generators

_BF16 = {**DEFAULT_TOL, torch.bfloat16: (3e-2, 3e-2)}


def _rmsnorm_cases(gen, device, visible=False):
    n = 2 if visible else 8
    for i in range(n):
        d = [1, 7, 64, 33, 128, 5, 16, 96][i]
        shape = (_ri(gen, 1, 3), [1, 5, 2, 1, 9, 3, 1, 4][i], d)
        eps = [1e-6, 1e-5, 0.1, 1e-6][i % 4]
        scale = [1.0, 1e-3, 3.0, 1e-2][i % 4]
        dtype = torch.bfloat16 if (i % 3 == 2 and not visible) else torch.float32
        x = _randn(gen, *shape, scale=scale, dtype=dtype)
        grad = (0,) if dtype == torch.float32 and not visible else ()
        yield Case(
            f"x{shape} {str(dtype)[6:]}, scale {scale:g}, eps {eps:g}",
            [Step((x,))],
            init={"hidden_size": d, "eps": eps},
            grad_wrt=grad,
            param_grads=bool(grad),
            device=device,
        )


def _rope_cos_sin_exact(head_dim, positions, theta=10000.0):
    """cos, sin in float64 throughout: the angles a float32 computation rounds."""
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = positions.double()[..., None] * inv_freq
    emb = torch.cat([angles, angles], dim=-1)
    return emb.cos(), emb.sin()


def _cos_sin_cases(gen, device, visible=False):
    n = 2 if visible else 6
    for i in range(n):
        dh = [8, 64, 2, 32, 128, 16][i]
        t = [5, 1, 7, 3, 4, 9][i]
        offset = 0 if i % 2 == 0 else _ri(gen, 1, 2000)
        theta = 10000.0 if i % 3 else 500000.0
        b = _ri(gen, 1, 2)
        positions = (torch.arange(t) + offset).expand(b, t).contiguous()
        yield Case(
            f"head_dim={dh}, positions {offset}..{offset + t - 1}, theta={theta:g}",
            [Step((dh, positions), {"theta": theta})],
            device=device,
        )


def _apply_rope_cases(gen, device, visible=False):
    n = 2 if visible else 6
    for i in range(n):
        dh = [8, 64, 16, 32, 4, 128][i]
        b, h, t = _ri(gen, 1, 2), [1, 3, 2, 9, 1, 4][i], [4, 1, 6, 3, 2, 5][i]
        offset = _ri(gen, 0, 100)
        positions = (torch.arange(t) + offset).expand(b, t).contiguous()
        cos, sin = ref.rope_cos_sin(dh, positions, 10000.0)
        dtype = torch.bfloat16 if (i == 3 and not visible) else torch.float32
        x = _randn(gen, b, h, t, dh, dtype=dtype)
        grad = (0,) if dtype == torch.float32 and not visible else ()
        yield Case(
            f"x({b}, {h}, {t}, {dh}) {str(dtype)[6:]}, positions from {offset}",
            [Step((x, cos.to(dtype), sin.to(dtype)))],
            grad_wrt=grad,
            device=device,
        )


def _swiglu_cases(gen, device, visible=False):
    n = 1 if visible else 4
    for i in range(n):
        d, f = [8, 16, 5, 24][i], [16, 43, 12, 64][i]
        x = _randn(gen, _ri(gen, 1, 3), [3, 1, 4, 2][i], d)
        yield Case(
            f"hidden {d}, intermediate {f}, x{tuple(x.shape)}",
            [Step((x,))],
            init={"hidden_size": d, "intermediate_size": f},
            grad_wrt=(0,) if not visible else (),
            param_grads=not visible,
            device=device,
        )


HEADS = [(4, 4), (6, 2), (3, 1), (9, 3), (5, 5), (8, 1)]


def _attention_cases(gen, device, visible=False):
    n = 2 if visible else 8
    for i in range(n):
        h, g = HEADS[i % len(HEADS)]
        dh = [8, 4, 16, 8, 2, 8, 4, 8][i]
        b, t = _ri(gen, 1, 3), [5, 1, 7, 4, 3, 6, 8, 1][i]
        x = _randn(gen, b, t, h * dh)
        positions = torch.arange(t).expand(b, t).contiguous()
        cos, sin = ref.rope_cos_sin(dh, positions)
        kwargs = {}
        label = f"heads {h}, kv heads {g}, head_dim {dh}, x{tuple(x.shape)}"
        if i in (3, 6) and not visible:  # left padding: padded keys must get no attention
            pad = torch.ones(b, t, dtype=torch.long)
            pad[0, : _ri(gen, 1, t - 1)] = 0
            kwargs["attention_mask"] = pad
            label += ", left-padded batch"
        dtype = "bfloat16" if (i == 5 and not visible) else None
        if dtype:
            x, cos, sin = x.bfloat16(), cos.bfloat16(), sin.bfloat16()
            label += ", bfloat16"
        # gradients only without padding: a fully masked row's value is unspecified (may be NaN)
        grad = (0,) if not visible and not dtype and not kwargs else ()
        yield Case(
            label,
            [Step((x, cos, sin), kwargs)],
            init={"hidden_size": h * dh, "num_heads": h, "num_kv_heads": g},
            grad_wrt=grad,
            param_grads=bool(grad),
            device=device,
            dtype=dtype,
            cotangent_mask=kwargs["attention_mask"][..., None]
            if "attention_mask" in kwargs
            else None,
        )


def _compare_attention(case: Case, expected: Outcome, got: Outcome) -> str | None:
    """Padded query rows attend to nothing real: their values are unspecified, so skip them
    (select the specified rows by indexing: multiplying by 0 would keep a NaN)."""
    mask = case.steps[0].kwargs.get("attention_mask")
    e, g = expected.outputs[0], got.outputs[0]
    if mask is not None and isinstance(g, torch.Tensor) and g.shape == e.shape:
        keep = mask.bool().to(e.device)
        truth = expected.truth
        expected = replace(
            expected,
            outputs=[e[keep]],
            truth=replace(truth, outputs=[truth.outputs[0][keep]]) if truth else None,
        )
        got = replace(got, outputs=[g[keep]])
    return compare_outcomes(expected, got, _BF16, case.grad_wrt)


def _repeat_kv_cases(gen, device, visible=False):
    for b, g, s, d, n in [(1, 2, 3, 4, 3), (2, 1, 5, 2, 4)] + (
        [] if visible else [(2, 3, 1, 8, 1), (1, 4, 2, 3, 2)]
    ):
        yield Case(
            f"x({b}, {g}, {s}, {d}), n_rep={n}", [Step((_randn(gen, b, g, s, d), n))], device=device
        )


def _kv_cache_cases(gen, device, visible=False):
    n = 1 if visible else 3
    for i in range(n):
        b, g, d = _ri(gen, 1, 2), [2, 1, 3][i], [4, 8, 2][i]
        chunks = [[3, 1, 1], [1, 1, 1, 1], [5, 2, 1]][i]
        steps = []
        for layer in range(2):
            for c in chunks:
                steps.append(
                    Step((layer, _randn(gen, b, g, c, d), _randn(gen, b, g, c, d)), method="update")
                )
        steps.append(Step((), method="length"))
        yield Case(
            f"2 layers, chunks of {chunks} tokens (prefill then decode)",
            steps,
            init={"num_layers": 2},
            device=device,
        )


def _decoder_cases(gen, device, visible=False):
    n = 1 if visible else 4
    for i in range(n):
        h, g = HEADS[i]
        dh = 4
        b, t = _ri(gen, 1, 2), [4, 1, 6, 3][i]
        x = _randn(gen, b, t, h * dh)
        cos, sin = ref.rope_cos_sin(dh, torch.arange(t).expand(b, t).contiguous())
        yield Case(
            f"heads {h}/{g}, x{tuple(x.shape)}",
            [Step((x, cos, sin))],
            init={
                "hidden_size": h * dh,
                "intermediate_size": 24,
                "num_heads": h,
                "num_kv_heads": g,
                "eps": 1e-5,
            },
            grad_wrt=() if visible else (0,),
            param_grads=not visible,
            device=device,
        )


def _model_init(i):
    h, g = HEADS[i % len(HEADS)]
    return {
        "vocab_size": 61,
        "hidden_size": h * 4,
        "intermediate_size": 20,
        "num_layers": 2,
        "num_heads": h,
        "num_kv_heads": g,
        "rope_theta": [10000.0, 500000.0][i % 2],
        "eps": 1e-5,
        "tie_word_embeddings": i % 2 == 1,
    }


def _model_cases(gen, device, visible=False):
    n = 1 if visible else 3
    for i in range(n):
        init = _model_init(i)
        b, t = _ri(gen, 1, 2), [6, 1, 9][i]
        ids = torch.randint(0, 61, (b, t), generator=gen)
        yield Case(
            f"full forward, heads {init['num_heads']}/{init['num_kv_heads']}, ids{tuple(ids.shape)}",
            [Step((ids,))],
            init=init,
            param_grads=not visible,
            device=device,
        )
    for i in range(1 if visible else 3):
        init = _model_init(i + 3)
        b, p = _ri(gen, 1, 2), [4, 1, 7][i]
        ids = torch.randint(0, 61, (b, p + 3), generator=gen)
        steps = [Step((ids[:, :p], NewCache()))] + [
            Step((ids[:, j : j + 1], NewCache())) for j in range(p, p + 3)
        ]
        yield Case(
            f"prefill {p} tokens, then 3 one-token decode steps with the cache "
            f"(heads {init['num_heads']}/{init['num_kv_heads']})",
            steps,
            init=init,
            device=device,
        )


def _sampling_cases(gen, device, visible=False):
    # edge cases first (visible too): top_k > V, and ties at the k-th logit (all tied tokens kept)
    logits = _randn(gen, 2, 8, scale=2.0)
    yield Case(
        "logits(2, 8), top_k=50 > V=8 keeps every token",
        [Step((logits,), {"temperature": 1.0, "top_k": 50, "top_p": None})],
        device=device,
    )
    tied = torch.tensor([[3.0, 1.0, 1.0, 1.0, -2.0, 0.5]])
    yield Case(
        "ties at the k-th logit: logits [3, 1, 1, 1, -2, 0.5], top_k=2 keeps all three 1.0s",
        [Step((tied,), {"temperature": 1.0, "top_k": 2, "top_p": None})],
        device=device,
    )
    combos = [(1.0, None, None), (0.7, 5, None), (1.0, None, 0.9)]
    if not visible:
        combos += [
            (1.3, 3, 0.5),
            (0.5, None, 0.3),
            (1.0, 1, None),
            (2.0, 10, 0.95),
            (1.0, None, 0.05),
        ]
    for temperature, k, p in combos:
        logits = _randn(gen, _ri(gen, 1, 3), _ri(gen, 8, 40), scale=2.0)
        yield Case(
            f"logits{tuple(logits.shape)}, temperature={temperature}, top_k={k}, top_p={p}",
            [Step((logits,), {"temperature": temperature, "top_k": k, "top_p": p})],
            device=device,
        )


def _generate_cases(gen, device, visible=False):
    n = 1 if visible else 3
    for i in range(n):
        init = _model_init(i)
        ids = torch.randint(0, 61, (_ri(gen, 1, 2), [3, 1, 5][i]), generator=gen)
        yield Case(
            f"greedy, 6 new tokens, prompt {tuple(ids.shape)}",
            [Step((ids, 6), {"temperature": 0.0}, method="generate")],
            init=init,
            device=device,
        )
    if not visible:
        init = _model_init(1)
        ids = torch.randint(0, 61, (2, 3), generator=gen)
        yield Case(
            "top_k=1 at temperature 50 must still equal greedy",
            [Step((ids, 5), {"temperature": 50.0, "top_k": 1, "seed": 3}, method="generate")],
            init=init,
            device=device,
        )
        sampled = {"temperature": 1.0, "top_k": 20, "top_p": 0.9, "seed": 11}
        yield Case(
            "sampling twice with the same seed must give the same tokens",
            [Step((ids, 8), dict(sampled), method="generate") for _ in range(2)],
            init=init,
            device=device,
        )


def _compare_generate(case: Case, expected: Outcome, got: Outcome) -> str | None:
    if len(case.steps) == 2:  # determinism: the student's two runs, compared with each other
        first, second = got.outputs
        prompt = case.steps[0].args[0]
        want = (prompt.shape[0], prompt.shape[1] + case.steps[0].args[1])
        if not isinstance(first, torch.Tensor) or tuple(first.shape) != want:
            return f"generated ids: expected shape {want}, got {getattr(first, 'shape', first)}"
        if not torch.equal(first[:, : prompt.shape[1]].cpu(), prompt):
            return "generated ids must start with the prompt"
        if not isinstance(second, torch.Tensor) or not torch.equal(first, second):
            return (
                "two runs with the same seed gave different tokens: draw with "
                "torch.multinomial(..., generator=torch.Generator().manual_seed(seed))"
            )
        return None
    return diagnose(expected.outputs[0], got.outputs[0], None, "generated ids")


def _triton_cases(gen, device, visible=False):
    n = 1 if visible else 4
    for i in range(n):
        rows, d = [4, 1, 7, 3][i], [64, 33, 128, 1000][i]
        x = _randn(gen, rows, d, scale=[1, 1e-3, 3, 1][i])
        w = 1 + 0.2 * _randn(gen, d)
        eps = [1e-6, 0.1, 1e-5, 1e-6][i]
        yield Case(f"x({rows}, {d}), eps={eps:g}", [Step((x, w, eps))], device=device)


# ----------------------------------------------------------------------------- registration


def _both(name, target, reference, cases, **kw):
    register(
        Check(
            name=f"{name}.visible",
            target=target,
            reference=reference,
            cases=lambda g, d: cases(g, d, visible=True),
            visible=True,
            **kw,
        )
    )
    register(Check(name=name, target=target, reference=reference, cases=cases, **kw))


_both(
    "llama.rmsnorm",
    "RMSNorm",
    RMSNorm,
    _rmsnorm_cases,
    tol=_BF16,
    misconceptions={
        "eps added outside the square root (sqrt(mean(x^2)) + eps instead of sqrt(mean(x^2) + eps))": _EpsOutsideRoot,
        "subtracting the mean (that is LayerNorm, not RMSNorm)": _MeanSubtracting,
    },
)
_both(
    "llama.rope_cos_sin",
    "rope_cos_sin",
    ref.rope_cos_sin,
    _cos_sin_cases,
    misconceptions={
        "positions shifted by one (the first token must have position 0 + offset)": _cos_sin_shifted,
        "frequency exponent i/d instead of 2i/d": _cos_sin_wrong_exponent,
    },
    exact=_rope_cos_sin_exact,
)
_both(
    "llama.apply_rope",
    "apply_rope",
    ref.apply_rope,
    _apply_rope_cases,
    tol=_BF16,
    misconceptions={
        "interleaved pairs (x0,x1),(x2,x3)... instead of the half-split pairs (x_i, x_{i+d/2}) of the weights": _rotate_interleaved
    },
)
_both(
    "llama.swiglu",
    "SwiGLU",
    SwiGLU,
    _swiglu_cases,
    misconceptions={"SiLU applied to up_proj instead of gate_proj": _SiluOnUp},
)
_both(
    "llama.repeat_kv",
    "repeat_kv",
    ref.repeat_kv,
    _repeat_kv_cases,
    misconceptions={
        "heads tiled (h uses kv head h % G) instead of grouped (h uses kv head h // n_rep)": _repeat_kv_tiled
    },
)
_both(
    "llama.attention",
    "Attention",
    Attention,
    _attention_cases,
    compare=_compare_attention,
    misconceptions={
        "scores not divided by sqrt(head_dim)": _NoScale,
        "the causal mask lets each token see one future token": _LeakyMask,
        "query heads matched to kv heads by tiling instead of grouping": _TiledHeads,
    },
)
_both(
    "llama.kv_cache",
    "KVCache",
    KVCache,
    _kv_cache_cases,
    misconceptions={"the cache drops its first token": _CacheDropsFirst},
)
_both(
    "llama.decoder_layer",
    "DecoderLayer",
    DecoderLayer,
    _decoder_cases,
    misconceptions={"post-norm (norm(x + f(x))) instead of pre-norm (x + f(norm(x)))": _PostNorm},
)
_both("llama.model", "LlamaForCausalLM", LlamaForCausalLM, _model_cases)
_both(
    "llama.sampling_probs",
    "sampling_probs",
    ref.sampling_probs,
    _sampling_cases,
    misconceptions={
        "top-p drops the token that crosses the threshold (keeps one token too few)": _top_p_one_too_few,
        "temperature ignored": _no_temperature,
        "top-k keeps exactly k tokens by index; tied logits at the k-th value must all be kept": _top_k_exactly_k,
    },
)
_both(
    "llama.generate",
    "LlamaForCausalLM",
    LlamaForCausalLM,
    _generate_cases,
    compare=_compare_generate,
)
_both(
    "llama.rmsnorm_triton",
    "rmsnorm_triton",
    rmsnorm_triton,
    _triton_cases,
    must_launch_triton=True,
)

__all__ = ["Attention", "DecoderLayer", "KVCache", "LlamaForCausalLM", "RMSNorm", "SwiGLU"]
