"""``foundation.clip_loss`` (block 1): CLIP's symmetric contrastive loss with a clamped, learnable
logit scale. Known mistakes, then the cases, then the registration."""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from autograder.chapters.foundation._common import _randn, _ri
from autograder.checks.spec import call_case, register_pair
from course.foundation import clip as ref


def _logits(img, txt, scale):
    return scale * F.normalize(img, dim=-1) @ F.normalize(txt, dim=-1).T


def _one_direction(img, txt, t):
    logits = _logits(img, txt, t.clamp(0, ref.MAX_LOG_SCALE).exp())
    return F.cross_entropy(logits, torch.arange(len(img), device=img.device))


def _not_clamped(img, txt, t):
    logits = _logits(img, txt, t.exp())
    target = torch.arange(len(img), device=img.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def _divided(img, txt, t):
    logits = _logits(img, txt, 1 / t.clamp(0, ref.MAX_LOG_SCALE).exp())
    target = torch.arange(len(img), device=img.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def _unnormalised(img, txt, t):
    logits = t.clamp(0, ref.MAX_LOG_SCALE).exp() * img @ txt.T
    target = torch.arange(len(img), device=img.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


MISTAKES = {
    "one direction only (image->text cross-entropy, without the text->image term)": _one_direction,
    "the logit scale exp(t) is not clamped to [1, 100]": _not_clamped,
    "the similarities are divided by the scale exp(t) instead of multiplied by it": _divided,
    "the embeddings are not L2-normalised before the dot products": _unnormalised,
}


def _cases(gen, device, visible=False):
    table = [  # (N, D, t, dtype): t covers inside, above ln 100 and below 0
        (4, 8, math.log(1 / 0.07), torch.float32),
        (6, 5, 5.3, torch.float32),
        (1, 3, 2.0, torch.float32),
    ]
    if not visible:
        table += [
            (16, 32, -0.7, torch.float32),
            (33, 12, 4.0, torch.float64),
            (_ri(gen, 2, 40), _ri(gen, 2, 64), 3.0, torch.float32),
            (9, 16, 1.5, torch.bfloat16),
            (_ri(gen, 2, 12), 7, 7.0, torch.float64),
        ]
    else:  # the dtype rule, shown on CPU
        table += [(3, 4, 1.5, torch.bfloat16)]
    for n, d, t, dtype in table:
        img = _randn(gen, n, d, scale=3.0, dtype=dtype)
        txt = (img.double() + _randn(gen, n, d, scale=2.0, dtype=torch.float64)).to(dtype)
        log_scale = torch.tensor(t, dtype=dtype)
        grad = (0, 1, 2) if (not visible and dtype != torch.bfloat16) else ()
        label = f"N={n}, D={d}, t={t:.3g} (exp(t)={math.exp(t):.3g}), {str(dtype)[6:]}"
        yield call_case(label, img, txt, log_scale, grads=grad, device=device)


register_pair(
    name="foundation.clip_loss",
    target="clip_loss",
    reference=ref.clip_loss,
    cases=_cases,
    misconceptions=MISTAKES,
)
