"""``llama.repeat_kv, llama.attention``: grouped-query attention with RoPE, a causal mask and left padding; repeat_kv.

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

import math
from functools import partial

import torch

from autograder.chapters.llama._common import Attention, _randn, attention_cases
from autograder.checks.spec import Case, Step, register_pair
from course import llama as ref
from coursekit.hooks import attention_padded_rows


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
        mask = torch.ones(t, t, dtype=torch.bool, device=x.device).tril(1)[None, None]
        if attention_mask is not None:
            mask = mask & attention_mask[:, None, None, :].bool()
        return ref.LlamaAttention.forward(self, x, cos, sin, mask)


def _repeat_kv_tiled(x, n_rep):
    return x.repeat(1, n_rep, 1, 1)


class _TiledHeads(Attention):
    """Query heads matched to kv heads by tiling (a subclass: no shared state is touched)."""

    def expand_kv(self, x):
        return _repeat_kv_tiled(x, self.h // self.g)


#: (query heads, kv heads), head dim, T, variant, shown (see ``_common.AttentionRow``)
ATTENTION_CASES = [
    ((4, 4), 8, 5, "", True),
    ((6, 2), 4, 1, "", True),
    ((3, 1), 16, 7, "", False),
    ((9, 3), 8, 4, "padded", False),
    ((5, 5), 2, 3, "", False),
    ((8, 1), 8, 6, "bf16", True),  # the dtype rule, shown on CPU
    ((4, 4), 4, 8, "padded", False),
    ((6, 2), 8, 1, "", False),
]
_attention_cases = partial(attention_cases, table=ATTENTION_CASES)


_compare_attention = attention_padded_rows()  # coursekit.hooks: shared with the kit


def _repeat_kv_cases(gen, device, visible=False):
    for b, g, s, d, n in [(1, 2, 3, 4, 3), (2, 1, 5, 2, 4)] + (
        [] if visible else [(2, 3, 1, 8, 1), (1, 4, 2, 3, 2)]
    ):
        yield Case(
            f"x({b}, {g}, {s}, {d}), n_rep={n}", [Step((_randn(gen, b, g, s, d), n))], device=device
        )


register_pair(
    name="llama.repeat_kv",
    target="repeat_kv",
    reference=ref.repeat_kv,
    cases=_repeat_kv_cases,
    misconceptions={
        "heads tiled (h uses kv head h % G) instead of grouped (h uses kv head h // n_rep)": _repeat_kv_tiled
    },
)
register_pair(
    name="llama.attention",
    target="Attention",
    reference=Attention,
    cases=_attention_cases,
    compare=_compare_attention,
    misconceptions={
        "scores not divided by sqrt(head_dim)": _NoScale,
        "the causal mask lets each token see one future token": _LeakyMask,
        "query heads matched to kv heads by tiling instead of grouping": _TiledHeads,
    },
)
