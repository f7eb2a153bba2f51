"""``modern_llms.moe``: a sparse MoE layer (router, top-k, SwiGLU experts, optional shared expert).

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

import torch

from autograder.chapters.modern_llms._common import _BF16, MoE, _randn
from autograder.checks.spec import call_case, register_pair
from coursekit.hooks import unchosen_experts

_compare = unchosen_experts()  # coursekit.hooks: shared with the kit


class _NeverRenormalised(MoE):
    """Top-k probabilities kept as softmax over all experts even when normalize_topk=True."""

    def route(self, x):
        logits = torch.nn.functional.linear(x.float(), self.gate.weight.float())
        weights, indices = torch.topk(torch.softmax(logits, -1), self.top_k, dim=-1)
        return logits, weights, indices


class _AlwaysRenormalised(MoE):
    """Top-k probabilities renormalised even when normalize_topk=False (DeepSeek-V2 keeps them)."""

    def route(self, x):
        logits, weights, indices = super().route(x)
        return logits, weights / weights.sum(-1, keepdim=True), indices


class _NoSharedExpert(MoE):
    def forward(self, x):
        shared, self.shared_expert = self.shared_expert, None
        try:
            return super().forward(x)
        finally:
            self.shared_expert = shared


def _cases(gen, device, visible=False):
    #  (D, F, E, k, shared F, normalize, B, T, dtype)
    table = [
        (8, 12, 4, 2, 0, True, 2, 5, None),
        (8, 6, 6, 2, 6, False, 1, 4, None),
    ]
    if not visible:
        table += [
            (12, 8, 8, 2, 0, True, 2, 7, None),  # Mixtral-like
            (8, 10, 5, 1, 0, True, 1, 1, None),  # top-1, one token: weight exactly 1
            (16, 6, 8, 3, 12, False, 2, 6, None),  # DeepSeek-V2-like, shared expert
            (8, 6, 7, 7, 0, True, 1, 3, None),  # k = E: every expert, weights = softmax
            (10, 8, 6, 2, 8, True, 1, 9, None),  # Qwen-like renormalised + shared
            (16, 12, 8, 2, 8, False, 2, 4, "bfloat16"),
        ]
    else:  # the dtype rule (bfloat16 in, bfloat16 out, float32 router logits), shown on CPU
        table.append((8, 6, 4, 2, 0, True, 1, 3, "bfloat16"))
    for d, f, e, k, fs, norm, b, t, dtype in table:
        x = _randn(gen, b, t, d)
        if dtype:
            x = x.to(getattr(torch, dtype))
        label = (
            f"x{(b, t, d)}, {e} experts, top-{k}, {'renormalised' if norm else 'not renormalised'}"
            f"{f', shared expert F={fs}' if fs else ''}{', ' + dtype if dtype else ''}"
        )
        grad = (0,) if not visible and not dtype else ()
        init = dict(hidden_size=d, intermediate_size=f, num_experts=e, top_k=k)
        init |= dict(shared_intermediate_size=fs, normalize_topk=norm)
        yield call_case(label, x, init=init, grads=grad, device=device, dtype=dtype)


register_pair(
    name="modern_llms.moe",
    target="MoE",
    reference=MoE,
    cases=_cases,
    tol=_BF16,
    compare=_compare,
    misconceptions={
        "the k selected weights are not renormalised to sum to 1 (normalize_topk=True: "
        "Mixtral and Qwen3-MoE renormalise)": _NeverRenormalised,
        "the k selected weights are renormalised although normalize_topk=False (DeepSeek-V2 keeps "
        "the softmax over all experts)": _AlwaysRenormalised,
        "the shared expert is left out (every token adds shared_expert(x) with weight 1)": _NoSharedExpert,
    },
)
