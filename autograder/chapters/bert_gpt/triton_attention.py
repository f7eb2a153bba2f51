"""``bert_gpt.flash_attention``: tiled attention with an online softmax, as a Triton kernel;
graded on a launched Triton kernel and its values (TRITON_INTERPRET=1 on a CPU).

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

import math

import torch

from autograder.chapters.bert_gpt._common import _randn
from autograder.checks.spec import Case, Step, register_pair
from course import bert_gpt as ref
from coursekit.hooks import tf32_on_cuda


def _no_rescale(q, k, v, causal=False, block=16):
    """Online softmax whose accumulator and sum are not rescaled when the running max grows."""
    t, s = q.shape[-2], k.shape[-2]
    scale = 1.0 / math.sqrt(q.shape[-1])
    m = torch.full(q.shape[:-1], float("-inf"), device=q.device)
    lsum, acc = torch.zeros_like(m), torch.zeros(q.shape, device=q.device)
    rows = torch.arange(t, device=q.device)[:, None]
    for start in range(0, s, block):
        kb, vb = k[..., start : start + block, :].float(), v[..., start : start + block, :].float()
        scores = (q.float() @ kb.transpose(-1, -2)) * scale
        if causal:
            keys = torch.arange(start, start + kb.shape[-2], device=q.device)[None, :]
            scores = scores.masked_fill(keys > rows + (s - t), float("-inf"))
        m = torch.maximum(m, scores.amax(-1))
        p = torch.exp(scores - m[..., None])
        lsum = lsum + p.sum(-1)
        acc = acc + p @ vb
    return (acc / lsum[..., None]).to(q.dtype)


def _no_scale(q, k, v, causal=False, block=16):
    return ref.online_softmax_attention(q * math.sqrt(q.shape[-1]), k, v, causal, block)


def _reference(q, k, v, causal=False):
    """The exact answer (the check needs no Triton on the trusted side)."""
    return ref.scaled_dot_product_attention(q, k, v, None, causal)


def _cases(gen, device, visible=False):
    # (B, H, T, S, Dh, causal): T and S not multiples of 16 exercise the masked tiles
    table = [(1, 2, 16, 16, 16, False), (1, 1, 20, 20, 16, True)]
    if not visible:
        table += [
            (2, 1, 17, 33, 32, True),  # 17 queries at the end of 33 keys
            (1, 1, 1, 1, 16, True),
            (1, 2, 40, 40, 16, False),
            (1, 1, 9, 24, 64, False),
        ]
    for b, h, t, s, dh, causal in table:
        q = _randn(gen, b, h, t, dh, scale=2.0)  # large scores: the running max must move
        k, v = _randn(gen, b, h, s, dh, scale=2.0), _randn(gen, b, h, s, dh)
        yield Case(
            f"q{tuple(q.shape)} k{tuple(k.shape)}, causal={causal}",
            [Step((q, k, v), {"causal": causal})],
            device=device,
        )


register_pair(
    name="bert_gpt.flash_attention",
    target="flash_attention",
    reference=_reference,
    cases=_cases,
    must_launch_triton=True,
    compare=tf32_on_cuda(),
    misconceptions={
        "the accumulator and running sum are not rescaled by exp(m_old - m_new) when the max grows": _no_rescale,
        "scores not multiplied by 1/sqrt(Dh)": _no_scale,
    },
)
