"""``bert_gpt.sdpa, bert_gpt.mha``: scaled dot-product attention with padding and causal masks,
and multi-head self-attention with torch's parameter names.

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

import math

import torch

from autograder.chapters.bert_gpt._common import MHA_PARTS, TOL, _randn, _ri
from autograder.checks.spec import Case, Step, register_pair
from course import bert_gpt as ref


# --- known mistakes ------------------------------------------------------------------------------
def _scaled_by_d(q, k, v, attention_mask=None, causal=False):
    """Scores divided by Dh instead of sqrt(Dh): the same as the reference with q / sqrt(Dh)."""
    return ref.scaled_dot_product_attention(
        q / math.sqrt(q.shape[-1]), k, v, attention_mask, causal
    )


def _mask_after_softmax(q, k, v, attention_mask=None, causal=False):
    t, s = q.shape[-2], k.shape[-2]
    probs = ((q @ k.transpose(-1, -2)).to(ref.softmax_dtype(q)) / math.sqrt(q.shape[-1])).softmax(
        -1
    )
    probs = probs * ref.visible_keys(t, s, attention_mask, causal, q.device)
    return (probs.to(v.dtype) @ v).to(q.dtype)


def _sees_next(q, k, v, attention_mask=None, causal=False):
    """The causal mask is off by one: query i also sees key i + 1."""
    if not causal:
        return ref.scaled_dot_product_attention(q, k, v, attention_mask, False)
    t, s = q.shape[-2], k.shape[-2]
    allowed = torch.ones(t, s, dtype=torch.bool, device=q.device).tril(s - t + 1)
    if attention_mask is not None:
        allowed = allowed & attention_mask.bool()[:, None, None, :]
    scores = (q @ k.transpose(-1, -2)).to(ref.softmax_dtype(q)) / math.sqrt(q.shape[-1])
    probs = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min).softmax(-1)
    probs = torch.where(allowed.any(-1, keepdim=True), probs, 0.0)
    return (probs.to(v.dtype) @ v).to(q.dtype)


def _fully_masked_uniform(q, k, v, attention_mask=None, causal=False):
    """A finite fill value without the zero rule: a query with no visible key averages all values."""
    t, s = q.shape[-2], k.shape[-2]
    scores = (q @ k.transpose(-1, -2)).to(ref.softmax_dtype(q)) / math.sqrt(q.shape[-1])
    allowed = ref.visible_keys(t, s, attention_mask, causal, q.device)
    probs = scores.masked_fill(~allowed, -1e9).softmax(-1)
    return (probs.to(v.dtype) @ v).to(q.dtype)


class _HeadsInterleaved(ref.MultiHeadAttention):
    """Heads split as view(B, T, Dh, H): head h takes every H-th feature."""

    def split_heads(self, x):
        b, t, _ = x.shape
        return x.view(b, t, self.head_dim, self.num_heads).permute(0, 3, 1, 2)

    def forward(self, x, attention_mask=None, causal=False):
        b, t, d = x.shape
        q, k, v = torch.nn.functional.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, -1)
        out = self.sdpa(
            self.split_heads(q), self.split_heads(k), self.split_heads(v), attention_mask, causal
        )
        return self.out_proj(out.permute(0, 2, 3, 1).reshape(b, t, d))


class _NoOutProj(ref.MultiHeadAttention):
    def forward(self, x, attention_mask=None, causal=False):
        b, t, d = x.shape
        q, k, v = torch.nn.functional.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, -1)
        out = self.sdpa(
            self.split_heads(q), self.split_heads(k), self.split_heads(v), attention_mask, causal
        )
        return out.transpose(1, 2).reshape(b, t, d)


# --- cases ---------------------------------------------------------------------------------------
def _padding(gen, b, s, side):
    """(B, S) mask, 1 = real: row 0 padded on ``side`` ('left' or 'right'), others random."""
    mask = torch.ones(b, s, dtype=torch.long)
    n = _ri(gen, 1, max(1, s - 1))
    if side == "left":
        mask[0, :n] = 0
    else:
        mask[0, s - n :] = 0
    return mask


def _sdpa_cases(gen, device, visible=False):
    # (B, H, T, S, Dh, causal, padding, dtype)
    table = [
        (2, 2, 5, 5, 8, False, None, torch.float32),
        (2, 3, 4, 4, 4, True, None, torch.float32),
        (3, 1, 6, 6, 8, False, "right", torch.float32),
        # left padding + causal: the padded queries see no key -> their rows must be 0
        (2, 2, 5, 5, 4, True, "left", torch.float32),
    ]
    if not visible:
        table += [
            (1, 1, 1, 1, 16, True, None, torch.float32),  # length 1
            (2, 4, 3, 7, 8, True, None, torch.float32),  # 3 queries at the end of 7 keys
            (_ri(gen, 1, 3), _ri(gen, 1, 4), 9, 9, 16, True, "left", torch.bfloat16),
            (_ri(gen, 1, 3), _ri(gen, 1, 4), 8, 8, 8, False, "right", torch.float64),
            (1, 2, 12, 12, 32, False, None, torch.float32),
        ]
    else:  # the dtype rule, shown on CPU
        table += [(1, 2, 4, 4, 8, True, None, torch.bfloat16)]
    for b, h, t, s, dh, causal, side, dtype in table:
        q = _randn(gen, b, h, t, dh, dtype=dtype)
        k, v = _randn(gen, b, h, s, dh, dtype=dtype), _randn(gen, b, h, s, dh, dtype=dtype)
        kwargs: dict = {"causal": causal}
        label = f"q{tuple(q.shape)} k{tuple(k.shape)} {str(dtype)[6:]}, causal={causal}"
        if side:
            kwargs["attention_mask"] = _padding(gen, b, s, side)
            label += f", {side}-padded keys"
        # gradients only where every query sees a key (a zero row's gradient may be NaN)
        fully_masked = causal and side == "left"
        grad = (0, 1, 2) if not visible and dtype == torch.float32 and not fully_masked else ()
        yield Case(label, [Step((q, k, v), kwargs)], grad_wrt=grad, device=device)


def _mha_cases(gen, device, visible=False):
    # (D, H, B, T, mode)
    table = [(16, 4, 2, 5, "none"), (12, 3, 2, 6, "right")]
    if not visible:
        table += [
            (24, 1, 1, 1, "causal"),
            (20, 5, 3, 7, "causal"),
            (32, 8, 2, 4, "right"),
            (18, 6, 2, 9, "causal+left"),
            (16, 2, 2, 6, "bf16"),
        ]
    else:  # the dtype rule, shown on CPU
        table += [(8, 2, 1, 4, "bf16")]
    for d, h, b, t, mode in table:
        x = _randn(gen, b, t, d)
        kwargs: dict = {}
        if "causal" in mode:
            kwargs["causal"] = True
        if "right" in mode or "left" in mode:
            kwargs["attention_mask"] = _padding(gen, b, t, "left" if "left" in mode else "right")
        dtype = "bfloat16" if mode == "bf16" else None
        if dtype:
            x = x.bfloat16()
        grads = not visible and dtype is None and "left" not in mode
        yield Case(
            f"D={d}, heads={h}, x{tuple(x.shape)}, {mode}",
            [Step((x,), kwargs)],
            init={"hidden_size": d, "num_heads": h},
            grad_wrt=(0,) if grads else (),
            param_grads=grads,
            device=device,
            dtype=dtype,
        )


# --- registration --------------------------------------------------------------------------------
register_pair(
    name="bert_gpt.sdpa",
    target="scaled_dot_product_attention",
    reference=ref.scaled_dot_product_attention,
    cases=_sdpa_cases,
    tol=TOL,
    misconceptions={
        "scores divided by Dh instead of sqrt(Dh)": _scaled_by_d,
        "mask applied after the softmax (masked probabilities zeroed, rows no longer sum to 1)": _mask_after_softmax,
        "the causal mask lets each query see one future key": _sees_next,
        "a query with no visible key must return 0, not the average of all values": _fully_masked_uniform,
    },
)
register_pair(
    name="bert_gpt.mha",
    target="MultiHeadAttention",
    reference=ref.MultiHeadAttention,
    cases=_mha_cases,
    tol=TOL,
    misconceptions={
        "heads split as (Dh, H) instead of (H, Dh): head h must take features h*Dh:(h+1)*Dh": _HeadsInterleaved,
        "the output projection out_proj is not applied": _NoOutProj,
    },
    submodules=MHA_PARTS,
)
