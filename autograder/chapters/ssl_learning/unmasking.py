"""``ssl_learning.cosine_unmask_schedule`` and ``ssl_learning.unmask_step``: MaskGIT-style
iterative unmasking: how many tokens stay masked after each step (cosine schedule), and one greedy
step (predict every masked token, re-mask the least confident).

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

import math

import torch

from autograder.chapters.ssl_learning._common import BF16, _ri
from autograder.checks.spec import Case, Step, register_pair
from course import ssl_learning as ref


# --- known mistakes: the schedule -------------------------------------------------------------
def _linear(num_tokens, steps):
    return [math.floor(num_tokens * (1 - t / steps)) for t in range(1, steps + 1)]


def _ceil(num_tokens, steps):
    return [math.ceil(num_tokens * math.cos(math.pi / 2 * t / steps)) for t in range(1, steps + 1)]


def _unmasked_count(num_tokens, steps):
    return [num_tokens - n for n in ref.cosine_unmask_schedule(num_tokens, steps)]


def _from_zero(num_tokens, steps):
    return [math.floor(num_tokens * math.cos(math.pi / 2 * t / steps)) for t in range(steps)]


SCHEDULE_MISTAKES = {
    "a linear schedule N (1 - t/T) instead of the cosine N cos(pi/2 t/T)": _linear,
    "rounded up (ceil, as the MaskGIT paper writes its schedule) instead of down (floor, as MaskGIT's released code and this contract do)": _ceil,
    "the number of unmasked tokens instead of the number still masked": _unmasked_count,
    "steps counted from t = 0 instead of t = 1 (the last step must leave 0 masked)": _from_zero,
}


# --- known mistakes: one step -----------------------------------------------------------------
def _keep_most_confident_masked(tokens, logits, num_masked, mask_id):
    masked = tokens == mask_id
    conf, pred = logits.float().softmax(-1).max(-1)
    out = torch.where(masked, pred, tokens)
    conf = torch.where(masked, conf, torch.full_like(conf, float("-inf")))
    if num_masked > 0:
        order = torch.argsort(-conf, dim=1, stable=True)[:, :num_masked]
        out = out.scatter(1, order, mask_id)
    return out


def _max_logit_confidence(tokens, logits, num_masked, mask_id):
    masked = tokens == mask_id
    conf, pred = logits.float().max(-1)
    out = torch.where(masked, pred, tokens)
    conf = torch.where(masked, conf, torch.full_like(conf, float("inf")))
    if num_masked > 0:
        order = torch.argsort(conf, dim=1, stable=True)[:, :num_masked]
        out = out.scatter(1, order, mask_id)
    return out


def _visible_repredicted(tokens, logits, num_masked, mask_id):
    """Every position re-predicted, visible ones included (and then competing for re-masking)."""
    probs = logits.float().softmax(-1)
    conf, pred = probs.max(-1)
    out = pred
    if num_masked > 0:
        order = torch.argsort(conf, dim=1, stable=True)[:, :num_masked]
        out = out.scatter(1, order, mask_id)
    return out


STEP_MISTAKES = {
    "the most confident predictions re-masked instead of the least confident": _keep_most_confident_masked,
    "confidence measured by the largest logit instead of the largest probability": _max_logit_confidence,
    "already visible tokens re-predicted (only masked positions may change)": _visible_repredicted,
}


# --- cases ------------------------------------------------------------------------------------
def schedule_cases(gen, device, visible=False):
    table = [(16, 4), (256, 8)] if visible else [(12, 3), (1024, 12), (49, 7), (1, 1), (100, 1)]
    if not visible:
        table += [(_ri(gen, 2, 600), _ri(gen, 2, 24)) for _ in range(2)]
    for n, t in table:
        yield Case(f"num_tokens {n}, steps {t}", [Step((n, t))], device=device)


def _step_inputs(gen, b, length, vocab, n_masked, mask_id):
    """Tokens with exactly n_masked masked positions per row (mask_id >= vocab, never predicted);
    logits whose max-probabilities at the masked positions are at least 1e-3 apart (no near-ties
    to break by rounding)."""
    while True:
        tokens = torch.randint(0, vocab, (b, length), generator=gen)
        for row in range(b):
            pos = torch.randperm(length, generator=gen)[:n_masked]
            tokens[row, pos] = mask_id
        scale = 0.5 + 3 * torch.rand(b, length, 1, generator=gen)
        logits = torch.randn(b, length, vocab, generator=gen) * scale
        conf = logits.double().softmax(-1).max(-1).values
        ok = True
        for row in range(b):
            c = conf[row][tokens[row] == mask_id].sort().values
            if c.numel() > 1 and float((c[1:] - c[:-1]).min()) < 1e-3:
                ok = False
        if ok:
            return tokens, logits


def step_cases(gen, device, visible=False):
    table = (
        [(1, 8, 5, 6, 3, 99), (2, 12, 7, 12, 0, 7)]
        if visible
        else [
            (1, 1, 3, 1, 0, 3),
            (3, 10, 16, 10, 4, 16),
            (2, 16, 9, 5, 5, 1000),
            (4, 20, 32, 12, 6, 32),
        ]
    )
    for b, length, vocab, n_masked, keep, mask_id in table:
        tokens, logits = _step_inputs(gen, b, length, vocab, n_masked, mask_id)
        yield Case(
            f"B {b}, L {length}, V {vocab}, {n_masked} masked per row, {keep} stay masked, "
            f"mask_id {mask_id}",
            [Step((tokens, logits, keep, mask_id))],
            device=device,
        )


# --- registration -----------------------------------------------------------------------------
register_pair(
    name="ssl_learning.cosine_unmask_schedule",
    target="cosine_unmask_schedule",
    reference=ref.cosine_unmask_schedule,
    cases=schedule_cases,
    misconceptions=SCHEDULE_MISTAKES,
    tol=BF16,
    float32_inside=True,
)
register_pair(
    name="ssl_learning.unmask_step",
    target="unmask_step",
    reference=ref.unmask_step,
    cases=step_cases,
    misconceptions=STEP_MISTAKES,
    tol=BF16,
    float32_inside=True,
)
