"""``modern_llms.load_balancing``: Switch Transformer's auxiliary loss E * sum_i f_i P_i (top-k).

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

import torch

from autograder.chapters.modern_llms._common import _randn, _ri, load_balancing_loss
from autograder.checks.spec import Case, Step, register_pair


def _without_expert_count(router_logits, top_k, attention_mask=None):
    return load_balancing_loss(router_logits, top_k, attention_mask) / router_logits.shape[-1]


def _soft_fraction(router_logits, top_k, attention_mask=None):
    """f_i taken from the probabilities (differentiable) instead of the top-k counts."""
    probs = torch.softmax(router_logits.float(), -1)
    m = (
        torch.ones(probs.shape[0], device=probs.device)
        if attention_mask is None
        else attention_mask.float()
    )
    p = (probs * m[:, None]).sum(0) / m.sum()
    return router_logits.shape[-1] * top_k * (p * p).sum()


def _padding_counted(router_logits, top_k, attention_mask=None):
    return load_balancing_loss(router_logits, top_k, None)


def _f_over_assignments(router_logits, top_k, attention_mask=None):
    return load_balancing_loss(router_logits, top_k, attention_mask) / top_k


def _cases(gen, device, visible=False):
    #  (N, E, k, padded)
    table = [(12, 4, 1, False), (10, 8, 2, True)]
    if not visible:
        table += [(1, 4, 2, False), (30, 16, 4, True), (9, 6, 2, False), (20, 8, 8, False)]
    for n, e, k, padded in table:
        logits = _randn(gen, n, e, scale=2.0)
        kwargs = {}
        label = f"router_logits ({n}, {e}), top_k {k}"
        if padded:
            mask = torch.ones(n, dtype=torch.long)
            mask[: _ri(gen, 1, n // 2)] = 0
            kwargs["attention_mask"] = mask
            label += f", {int((mask == 0).sum())} padding tokens"
        yield Case(label, [Step((logits, k), kwargs)], grad_wrt=(0,), device=device)


register_pair(
    name="modern_llms.load_balancing",
    target="load_balancing_loss",
    reference=load_balancing_loss,
    cases=_cases,
    misconceptions={
        "the sum is not multiplied by the number of experts E": _without_expert_count,
        "f_i computed from the router probabilities instead of the fraction of tokens routed to "
        "expert i": _soft_fraction,
        "padding tokens are counted in f and P": _padding_counted,
        "f_i divided by top_k (DeepSeek-V2's normalisation; the contract asks for f_i = fraction "
        "of tokens, k at balance)": _f_over_assignments,
    },
)
