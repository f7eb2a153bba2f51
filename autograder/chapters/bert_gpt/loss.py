"""``bert_gpt.lm_loss``: the causal LM loss, shifted by one, with ignore_index.

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from autograder.chapters.bert_gpt._common import _randn, _ri
from autograder.checks.spec import Case, Step, register_pair
from course import bert_gpt as ref


def _no_shift(logits, labels, ignore_index=-100):
    v = logits.shape[-1]
    return F.cross_entropy(
        logits.reshape(-1, v).float(), labels.reshape(-1), ignore_index=ignore_index
    )


def _shift_backwards(logits, labels, ignore_index=-100):
    v = logits.shape[-1]
    return F.cross_entropy(
        logits[:, 1:].reshape(-1, v).float(), labels[:, :-1].reshape(-1), ignore_index=ignore_index
    )


def _mean_over_all(logits, labels, ignore_index=-100):
    v = logits.shape[-1]
    targets = labels[:, 1:].reshape(-1)
    total = F.cross_entropy(
        logits[:, :-1].reshape(-1, v).float(), targets, ignore_index=ignore_index, reduction="sum"
    )
    return total / targets.numel()


def _cases(gen, device, visible=False):
    # (B, T, V, ignored prefix, dtype)
    table = [(2, 6, 11, 0, torch.float32), (3, 8, 20, 3, torch.float32)]
    if not visible:
        table += [
            (1, 2, 5, 0, torch.float32),  # one prediction
            (4, 16, 50, 5, torch.float32),
            (2, 10, 30, 2, torch.bfloat16),
            (2, 7, 13, 0, torch.float64),
        ]
    else:  # the dtype rule (a float32 loss whatever the logits' dtype), shown on CPU
        table += [(1, 5, 9, 0, torch.bfloat16)]
    for b, t, v, prefix, dtype in table:
        logits = _randn(gen, b, t, v, scale=2.0, dtype=dtype)
        labels = torch.randint(0, v, (b, t), generator=gen)
        label = f"logits{tuple(logits.shape)} {str(dtype)[6:]}"
        if prefix:  # a prompt excluded from the loss, plus one random ignored target
            labels[:, :prefix] = -100
            labels[_ri(gen, 0, b - 1), _ri(gen, prefix, t - 1)] = -100
            label += f", labels -100 on the first {prefix} positions and one more"
        yield Case(
            label,
            [Step((logits, labels))],
            grad_wrt=(0,) if not visible and dtype != torch.bfloat16 else (),
            device=device,
        )


register_pair(
    name="bert_gpt.lm_loss",
    target="causal_lm_loss",
    reference=ref.causal_lm_loss,
    cases=_cases,
    misconceptions={
        "no shift: position t is scored against its own token instead of token t + 1": _no_shift,
        "shifted the wrong way: logits[:, 1:] against labels[:, :-1]": _shift_backwards,
        "averaged over all positions, including the ignored (-100) ones": _mean_over_all,
    },
)
