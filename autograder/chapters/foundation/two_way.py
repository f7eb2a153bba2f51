"""``foundation.sam_attention`` and ``foundation.two_way_block`` (block 4): SAM's downsampled
attention and the two-way (tokens <-> image) attention block. Known mistakes, then the cases, then
the registration.

One mistake, one deduction: while grading the block, its three attentions are the reference's
(``SUBMODULES``, see ``checks.inject``), so a bug in ``SamAttention`` costs points in
``sam_attention`` only.
"""

from __future__ import annotations

import math

import torch

from autograder.chapters.foundation._common import _randn, _ri
from autograder.checks.inject import Submodule
from autograder.checks.spec import call_case, register_pair
from course.foundation import sam as ref


def _attention(rate_key: str | None):
    def build(init: dict) -> ref.SamAttention:
        rate = init.get(rate_key, 2) if rate_key else 1
        return ref.SamAttention(init["embedding_dim"], init["num_heads"], rate)

    return build


#: one mistake, one deduction: the block is graded with the reference SamAttention in its three
#: attention slots (the student's parameters, the reference's code)
SUBMODULES = {
    "self_attn": Submodule("foundation.sam_attention", _attention(None)),
    "cross_attn_token_to_image": Submodule(
        "foundation.sam_attention", _attention("attention_downsample_rate")
    ),
    "cross_attn_image_to_token": Submodule(
        "foundation.sam_attention", _attention("attention_downsample_rate")
    ),
}


class _ScaledQuery(ref.SamAttention):
    """The reference with the query projection scaled by ``factor()`` (a wrong score scale)."""

    def factor(self) -> float:
        raise NotImplementedError

    def forward(self, query, key, value):
        saved = self.q_proj.weight.data.clone(), self.q_proj.bias.data.clone()
        self.q_proj.weight.data *= self.factor()
        self.q_proj.bias.data *= self.factor()
        try:
            return super().forward(query, key, value)
        finally:
            self.q_proj.weight.data, self.q_proj.bias.data = saved


class _ScaleByWidth(_ScaledQuery):
    """Scores divided by sqrt(C // rate) (all heads) instead of sqrt(head dim)."""

    def factor(self) -> float:
        return math.sqrt(self.internal_dim // self.num_heads) / math.sqrt(self.internal_dim)


class _NoScale(_ScaledQuery):
    """Scores not divided at all."""

    def factor(self) -> float:
        return math.sqrt(self.internal_dim // self.num_heads)


def _attention_cases(gen, device, visible=False):
    table = [(16, 4, 2, 3, 5), (8, 2, 1, 1, 1)]  # (C, heads, rate, Nq, Nk)
    if not visible:
        table += [(32, 4, 2, 7, 16), (24, 3, 1, 2, 9), (64, 8, 2, 5, 64), (12, 1, 3, 4, 4)]
    else:  # the dtype rule, shown on CPU
        table += [(8, 2, 1, 2, 3)]
    bf16_at = 2 if visible else 4
    for i, (c, h, r, nq, nk) in enumerate(table):
        b = _ri(gen, 1, 3)
        dtype = "bfloat16" if i == bf16_at else None
        dt = torch.bfloat16 if dtype else torch.float32
        q, k = _randn(gen, b, nq, c, dtype=dt), _randn(gen, b, nk, c, dtype=dt)
        v = _randn(gen, b, nk, c, dtype=dt)
        grad = (0, 1, 2) if (not visible and not dtype) else ()
        yield call_case(
            f"C={c}, heads={h}, downsample_rate={r}, query {tuple(q.shape)}, key/value "
            f"{tuple(k.shape)}" + (", bfloat16" if dtype else ""),
            *(q, k, v),
            init=dict(embedding_dim=c, num_heads=h, downsample_rate=r),
            grads=grad,
            device=device,
            dtype=dtype,
        )


class _OneWay(ref.TwoWayAttentionBlock):
    """The image embedding is returned unchanged (no image -> token attention)."""

    def forward(self, queries, keys, query_pe, key_pe):
        return super().forward(queries, keys, query_pe, key_pe)[0], keys


class _PeInValues(ref.TwoWayAttentionBlock):
    """Positional encodings added to the values too (v = x + pe instead of v = x)."""

    def forward(self, queries, keys, query_pe, key_pe):
        if self.skip_first_layer_pe:
            queries = self.self_attn(queries, queries, queries)
        else:
            q = queries + query_pe
            queries = queries + self.self_attn(q, q, q)
        queries = self.layer_norm1(queries)
        q, k = queries + query_pe, keys + key_pe
        queries = self.layer_norm2(queries + self.cross_attn_token_to_image(q, k, k))
        queries = self.layer_norm3(queries + self.mlp(queries))
        q, k = queries + query_pe, keys + key_pe
        keys = self.layer_norm4(keys + self.cross_attn_image_to_token(k, q, q))
        return queries, keys


class _SkipIgnored(ref.TwoWayAttentionBlock):
    """skip_first_layer_pe ignored: the first block adds the pe and keeps the residual."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.skip_first_layer_pe = False


class _PreNorm(ref.TwoWayAttentionBlock):
    """LayerNorm before each sub-layer (pre-norm) instead of after the residual add."""

    def forward(self, queries, keys, query_pe, key_pe):
        x = self.layer_norm1(queries)
        if self.skip_first_layer_pe:
            queries = self.self_attn(x, x, x)
        else:
            queries = queries + self.self_attn(x + query_pe, x + query_pe, x)
        x = self.layer_norm2(queries)
        queries = queries + self.cross_attn_token_to_image(x + query_pe, keys + key_pe, keys)
        queries = queries + self.mlp(self.layer_norm3(queries))
        y = self.layer_norm4(keys)
        keys = keys + self.cross_attn_image_to_token(y + key_pe, queries + query_pe, queries)
        return queries, keys


def _block_cases(gen, device, visible=False):
    table = [
        (16, 2, 24, 2, False, 3, 4),
        (16, 4, 32, 2, True, 5, 9),
    ]  # C, h, mlp, rate, skip, Nq, Nk
    if not visible:
        table += [
            (32, 4, 48, 2, False, 7, 16),
            (24, 3, 20, 1, True, 1, 6),
            (32, 8, 64, 2, False, 6, 64),
            (8, 1, 16, 2, False, 2, 1),
        ]
    else:  # the dtype rule, shown on CPU
        table += [(8, 2, 16, 2, False, 2, 3)]
    bf16_at = 2 if visible else 4
    for i, (c, h, m, r, skip, nq, nk) in enumerate(table):
        b = _ri(gen, 1, 2)
        dtype = "bfloat16" if i == bf16_at else None
        dt = torch.bfloat16 if dtype else torch.float32
        args = tuple(_randn(gen, b, n, c, dtype=dt) for n in (nq, nk, nq, nk))
        grad = (0, 1) if (not visible and not dtype) else ()
        init = dict(embedding_dim=c, num_heads=h, mlp_dim=m, attention_downsample_rate=r)
        yield call_case(
            f"C={c}, heads={h}, mlp_dim={m}, rate={r}, skip_first_layer_pe={skip}, "
            f"{nq} tokens, {nk} image positions, batch {b}" + (", bfloat16" if dtype else ""),
            *args,
            init=init | {"skip_first_layer_pe": skip},
            grads=grad,
            device=device,
            dtype=dtype,
        )


register_pair(
    name="foundation.sam_attention",
    target="SamAttention",
    reference=ref.SamAttention,
    cases=_attention_cases,
    misconceptions={
        "scores divided by sqrt(embedding_dim // downsample_rate) instead of sqrt(head dim)": (
            _ScaleByWidth
        ),
        "scores not divided by sqrt(head dim)": _NoScale,
    },
)
register_pair(
    name="foundation.two_way_block",
    target="TwoWayAttentionBlock",
    reference=ref.TwoWayAttentionBlock,
    cases=_block_cases,
    misconceptions={
        "the image embedding is not updated (no image -> token attention: one-way)": _OneWay,
        "positional encodings added to the values as well as to queries and keys": _PeInValues,
        "skip_first_layer_pe ignored": _SkipIgnored,
        "LayerNorm before each sub-layer (pre-norm) instead of after the residual add": _PreNorm,
    },
    submodules=SUBMODULES,
)
