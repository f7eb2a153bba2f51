"""``modern_llms.nope_layers`` and ``modern_llms.nope_attention``: SmolLM3's NoPE layers. The rule
that picks them (layer i uses no positional encoding when (i + 1) % interval == 0, Hugging Face's
``SmolLM3Config.no_rope_layers``), and the attention that skips RoPE in such a layer
(``SmolLM3Attention.use_rope``). Two blocks, graded apart: the attention takes its flag as an
argument, so a wrong rule costs its own point only.

Known mistakes, then the cases, then the registrations.
"""

from __future__ import annotations

import math

import torch

from autograder.chapters.llama._common import attention_case
from autograder.chapters.llama.attention import _compare_attention
from autograder.chapters.modern_llms._common import NoPEAttention, _randn, _ri, _rope, nope_layers
from autograder.checks.spec import Case, Step, register_pair
from course.llama import apply_rope, causal_mask

# --- the layer rule -----------------------------------------------------------------------------


def _off_by_one(num_layers, interval=4):
    """Layer i is NoPE when i % interval == 0: layer 0 loses RoPE, the 4th, 8th... keep it."""
    return [i % interval != 0 for i in range(num_layers)]


def _inverted(num_layers, interval=4):
    """True for the NoPE layers (reading ``no_rope_layers`` as 'has no RoPE')."""
    return [(i + 1) % interval == 0 for i in range(num_layers)]


def _ints(num_layers, interval=4):
    """Hugging Face's list as it is: 1/0 ints."""
    return [int((i + 1) % interval != 0) for i in range(num_layers)]


def _layer_cases(gen, device, visible=False):
    #  (num_layers, interval; None = the default, 4)
    table = [(8, 4), (3, 4), (5, 1), (12, None)]
    if not visible:
        table += [(36, 4), (1, 1), (1, 4), (6, 2), (9, 3), (7, 7), (2, 10), (16, None)]
        table += [(_ri(gen, 1, 30), _ri(gen, 1, 6))]
    for n, k in table:
        args = (n,) if k is None else (n, k)
        label = f"num_layers={n}, " + ("the default interval" if k is None else f"interval={k}")
        yield Case(label, [Step(args)], device=device)


register_pair(
    name="modern_llms.nope_layers",
    target="nope_layers",
    reference=nope_layers,
    cases=_layer_cases,
    misconceptions={
        "the rule is off by one: layers 0, interval, 2 * interval... are made NoPE, but SmolLM3's "
        "NoPE layers are those with (i + 1) % interval == 0 (layers 3, 7, 11... for interval 4: "
        "the first layer keeps RoPE)": _off_by_one,
        "True and False are swapped: the list says which layers *use* RoPE (Hugging Face's "
        "no_rope_layers holds 1 for a RoPE layer, despite its name)": _inverted,
        "0/1 ints instead of bools (Hugging Face's no_rope_layers holds ints; the contract asks "
        "for True/False)": _ints,
    },
)


# --- the attention ------------------------------------------------------------------------------


def _qkv(m, x):
    b, t, _ = x.shape
    q = m.q_proj(x).view(b, t, m.h, m.head_dim).transpose(1, 2)
    k = m.k_proj(x).view(b, t, m.g, m.head_dim).transpose(1, 2)
    v = m.v_proj(x).view(b, t, m.g, m.head_dim).transpose(1, 2)
    return q, k, v


def _attend(m, q, k, v, mask):
    """softmax(q k^T / sqrt(Dh)) v over the grouped heads, then o_proj: (B, T, D)."""
    b, _, t, _ = q.shape
    k, v = m.expand_kv(k), m.expand_kv(v)
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(m.head_dim)
    if mask is not None:
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    out = torch.softmax(scores.float(), dim=-1).to(q.dtype) @ v
    return m.o_proj(out.transpose(1, 2).reshape(b, t, -1))


class _RopeEverywhere(NoPEAttention):
    """``use_rope`` ignored: q and k rotated in every layer."""

    def forward(self, x, cos, sin, attention_mask=None):
        q, k, v = _qkv(self, x)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        t = x.shape[1]
        return _attend(self, q, k, v, causal_mask(t, t, attention_mask, x.device))


class _QueriesStillRotated(NoPEAttention):
    """A NoPE layer that skips the keys' rotation only."""

    def forward(self, x, cos, sin, attention_mask=None):
        q, k, v = _qkv(self, x)
        q = apply_rope(q, cos, sin)
        if self.use_rope:
            k = apply_rope(k, cos, sin)
        t = x.shape[1]
        return _attend(self, q, k, v, causal_mask(t, t, attention_mask, x.device))


class _NoCausalMask(NoPEAttention):
    """Only the padding is masked: every token also sees the later ones."""

    def forward(self, x, cos, sin, attention_mask=None):
        q, k, v = _qkv(self, x)
        if self.use_rope:
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        mask = None if attention_mask is None else attention_mask[:, None, None, :].bool()
        return _attend(self, q, k, v, mask)


class _ZeroRotation(NoPEAttention):
    """'No rotation' as cos = sin = 0, which multiplies q and k by zero."""

    def forward(self, x, cos, sin, attention_mask=None):
        if not self.use_rope:
            cos, sin = torch.zeros_like(cos), torch.zeros_like(sin)
        q, k, v = _qkv(self, x)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        t = x.shape[1]
        return _attend(self, q, k, v, causal_mask(t, t, attention_mask, x.device))


#: (query heads, kv heads), head dim, T, first position, variant ("", "padded": the first row
#: left-padded; "bf16"), use_rope, shown
NOPE_CASES = [
    ((4, 2), 8, 6, 0, "", False, True),  # a NoPE layer
    ((4, 2), 8, 6, 0, "", True, True),  # a RoPE layer: chapter 3's attention
    ((3, 1), 4, 1, 0, "", False, True),  # one token
    ((2, 1), 8, 5, 0, "bf16", False, True),  # the dtype rule, shown on CPU
    ((6, 3), 4, 7, 0, "", False, False),
    ((4, 4), 16, 4, 0, "", True, False),
    ((8, 2), 4, 7, 0, "padded", False, False),
    ((4, 2), 8, 5, 0, "padded", True, False),
    ((2, 2), 8, 6, 0, "bf16", True, False),
    ((5, 1), 4, 6, 9, "", False, False),  # positions 9..14: a NoPE layer ignores them
    ((4, 2), 4, 5, 3, "", True, False),
]


def _attention_cases(gen, device, visible=False):
    for (h, g), dh, t, p0, variant, use_rope, shown in NOPE_CASES:
        if visible and not shown:
            continue
        b = _ri(gen, 1, 2)
        x = _randn(gen, b, t, h * dh)
        cos, sin = _rope(dh, b, t, p0)
        label = (
            f"use_rope={use_rope}, heads {h}, kv heads {g}, head_dim {dh}, x{tuple(x.shape)}, "
            f"positions {p0}..{p0 + t - 1}"
        )
        padded, bf16 = not visible and variant == "padded", variant == "bf16"
        case = attention_case(
            gen, device, x, cos, sin, (h, g), padded=padded, bf16=bf16, grads=not visible,
            label=label,
        )  # fmt: skip
        case.init["use_rope"] = use_rope
        yield case


register_pair(
    name="modern_llms.nope_attention",
    target="NoPEAttention",
    reference=NoPEAttention,
    cases=_attention_cases,
    compare=_compare_attention,
    misconceptions={
        "RoPE applied whatever use_rope says: a NoPE layer (use_rope=False) rotates neither "
        "queries nor keys and ignores cos and sin": _RopeEverywhere,
        "with use_rope=False the queries are still rotated (only the keys skip RoPE): the scores "
        "then depend on each query's absolute position; skip the rotation of both": _QueriesStillRotated,
        "the causal mask is dropped: a NoPE layer keeps it (it is also what lets the layer tell "
        "positions apart), only the rotation goes": _NoCausalMask,
        "'no rotation' taken as cos = sin = 0, which zeroes q and k (uniform attention): the "
        "identity rotation is cos = 1, sin = 0, i.e. leave q and k as they are": _ZeroRotation,
    },
)
