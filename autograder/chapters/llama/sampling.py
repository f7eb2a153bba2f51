"""``llama.sampling_probs``: sampling probabilities: temperature, top-k (ties kept, k may exceed V), top-p.

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

import torch

from autograder.chapters.llama._common import _randn, _ri
from autograder.checks.spec import Case, Step, register_pair
from course import llama as ref


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


register_pair(
    name="llama.sampling_probs",
    target="sampling_probs",
    reference=ref.sampling_probs,
    cases=_sampling_cases,
    misconceptions={
        "top-p drops the token that crosses the threshold (keeps one token too few)": _top_p_one_too_few,
        "temperature ignored": _no_temperature,
        "top-k keeps exactly k tokens by index; tied logits at the k-th value must all be kept": _top_k_exactly_k,
    },
)
