"""``foundation.zero_shot`` (block 2): zero-shot logits from prompt-ensembled class embeddings.
Known mistakes, then the cases, then the registration."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from autograder.chapters.foundation._common import _randn, _ri
from autograder.checks.spec import call_case, register_pair
from course.foundation import clip as ref


def _mean_unnormalised(img, prompts, scale=100.0):
    w = F.normalize(prompts.mean(dim=1), dim=-1)
    return scale * F.normalize(img, dim=-1) @ w.T


def _not_renormalised(img, prompts, scale=100.0):
    w = F.normalize(prompts, dim=-1).mean(dim=1)
    return scale * F.normalize(img, dim=-1) @ w.T


def _first_template(img, prompts, scale=100.0):
    return scale * F.normalize(img, dim=-1) @ F.normalize(prompts[:, 0], dim=-1).T


def _image_unnormalised(img, prompts, scale=100.0):
    return scale * img @ ref.class_embeddings(prompts).T


MISTAKES = {
    "the prompt embeddings are averaged before being normalised": _mean_unnormalised,
    "the averaged class embedding is not normalised again": _not_renormalised,
    "only the first template is used (no ensembling)": _first_template,
    "the image embedding is not normalised": _image_unnormalised,
}


# (B images, C classes, P prompts, D, dtype, scale)
VISIBLE = [(3, 4, 5, 16, torch.float32, 100.0), (1, 2, 1, 8, torch.float32, 100.0)]


def _cases(gen, device, visible=False):
    table = list(VISIBLE)
    if not visible:
        table += [
            (_ri(gen, 1, 8), 10, 7, 32, torch.float32, 100.0),
            (4, 1, 3, 6, torch.float64, 14.3),
            (2, 5, 18, 24, torch.bfloat16, 100.0),
            (_ri(gen, 2, 9), _ri(gen, 2, 12), _ri(gen, 1, 9), 20, torch.float64, 1.0),
        ]
    else:  # the dtype rule, shown on CPU
        table += [(2, 3, 2, 8, torch.bfloat16, 100.0)]
    for b, c, p, d, dtype, scale in table:
        img = _randn(gen, b, d, dtype=dtype)
        # prompts of a class share a direction, with per-prompt norms from 0.2 to 5
        base = _randn(gen, c, 1, d, dtype=torch.float64)
        noise = _randn(gen, c, p, d, scale=0.8, dtype=torch.float64)
        norms = torch.exp(_randn(gen, c, p, 1, scale=1.0, dtype=torch.float64))
        prompts = ((base + noise) * norms).to(dtype)
        grad = (0, 1) if (not visible and dtype != torch.bfloat16) else ()
        label = (
            f"B={b} images, C={c} classes, P={p} prompts, D={d}, scale {scale}, {str(dtype)[6:]}"
        )
        yield call_case(label, img, prompts, scale, grads=grad, device=device)


register_pair(
    name="foundation.zero_shot",
    target="zero_shot_logits",
    reference=ref.zero_shot_logits,
    cases=_cases,
    misconceptions=MISTAKES,
)
