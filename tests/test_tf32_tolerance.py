"""The Triton attention check on CUDA allows for TF32, ``tl.dot``'s default for float32 inputs.

Found by the first ``make gpu-check`` on an H200: the course's own kernel (plain ``tl.dot``) was
off by about 3e-3 there against a float32 tolerance of 1e-5, because the tensor cores round each
float32 input to 10 mantissa bits. These tests emulate that rounding on the CPU.
"""

from __future__ import annotations

import math

import torch

from coursekit import hooks
from coursekit.calls import Case, Outcome, Step

HOOK = hooks.tf32_on_cuda()


def _inputs(seed: int, t: int = 20, s: int = 33, dh: int = 64):
    gen = torch.Generator().manual_seed(seed)
    q = 2 * torch.randn(1, 2, t, dh, generator=gen)
    k = 2 * torch.randn(1, 2, s, dh, generator=gen)
    v = torch.randn(1, 2, s, dh, generator=gen)
    return q, k, v


def _attention(q, k, v, causal, rounded=False, rescale=True, block=16):
    """Blockwise online-softmax attention in float32, as a kernel computes it; ``rounded``
    rounds both products' inputs to TF32 (what tl.dot does on a GPU by default)."""
    r = hooks.tf32_round if rounded else (lambda x: x)
    t, s = q.shape[-2], k.shape[-2]
    m = torch.full(q.shape[:-1], float("-inf"))
    lsum, acc = torch.zeros_like(m), torch.zeros(q.shape)
    rows = torch.arange(t)[:, None]
    for start in range(0, s, block):
        kb, vb = k[..., start : start + block, :], v[..., start : start + block, :]
        scores = (r(q) @ r(kb).transpose(-1, -2)) / math.sqrt(q.shape[-1])
        if causal:
            keys = torch.arange(start, start + kb.shape[-2])[None, :]
            scores = scores.masked_fill(keys > rows + (s - t), float("-inf"))
        m_new = torch.maximum(m, scores.amax(-1))
        alpha = torch.exp(m - m_new) if rescale else torch.ones_like(m)
        p = torch.exp(scores - m_new[..., None])
        lsum = lsum * alpha + p.sum(-1)
        acc = acc * alpha[..., None] + r(p) @ r(vb)
        m = m_new
    return acc / lsum[..., None]


def _compare(device: str, got: torch.Tensor, q, k, v, causal: bool) -> str | None:
    truth = (
        torch.softmax(
            (q.double() @ k.double().transpose(-1, -2) / math.sqrt(q.shape[-1])).masked_fill(
                torch.arange(k.shape[-2])[None, :]
                > torch.arange(q.shape[-2])[:, None] + (k.shape[-2] - q.shape[-2])
                if causal
                else torch.zeros(q.shape[-2], k.shape[-2], dtype=torch.bool),
                float("-inf"),
            ),
            -1,
        )
        @ v.double()
    )
    expected = Outcome(outputs=[truth.float()], truth=Outcome(outputs=[truth]))
    case = Case("attention", [Step((q, k, v), {"causal": causal})], device=device)
    return HOOK(case, expected, Outcome(outputs=[got]))


def test_a_tf32_kernel_passes_on_cuda_and_an_exact_one_everywhere():
    for seed, causal in [(0, False), (1, True), (2, True)]:
        q, k, v = _inputs(seed)
        tf32 = _attention(q, k, v, causal, rounded=True)
        exact = _attention(q, k, v, causal)
        assert _compare("cuda", tf32, q, k, v, causal) is None
        assert _compare("cuda", exact, q, k, v, causal) is None
        assert _compare("cpu", exact, q, k, v, causal) is None


def test_tf32_rounding_is_not_accepted_on_the_cpu():
    q, k, v = _inputs(3)
    msg = _compare("cpu", _attention(q, k, v, False, rounded=True), q, k, v, False)
    assert msg is not None and "values differ" in msg


def test_the_known_mistakes_still_fail_on_cuda_and_the_message_names_tf32():
    q, k, v = _inputs(4)
    no_rescale = _attention(q, k, v, False, rounded=True, rescale=False)
    msg = _compare("cuda", no_rescale, q, k, v, False)
    assert msg is not None and "TF32" in msg and "input_precision='ieee'" in msg
    unscaled = _attention(q * math.sqrt(64), k, v, False, rounded=True)
    assert _compare("cuda", unscaled, q, k, v, False) is not None


def test_tf32_rounding_keeps_ten_mantissa_bits():
    x = torch.tensor([1.0, 1.0 + 2**-10, 1.0 + 2**-12, 3.14159265, -2.5e-3])
    r = hooks.tf32_round(x)
    assert r[0] == 1.0 and r[1] == 1.0 + 2**-10 and r[2] == 1.0
    assert torch.all((r - x).abs() <= x.abs() * 2**-11)
