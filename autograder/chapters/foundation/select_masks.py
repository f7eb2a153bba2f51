"""``foundation.select_masks`` (block 5): SAM's multimask / single-mask output rule and the
choice by predicted IoU. Known mistakes, then the cases, then the registration."""

from __future__ import annotations

import torch

from autograder.chapters.foundation._common import _randn, _ri
from autograder.checks.spec import Case, Step, register_pair
from course.foundation import sam as ref


def _all_four(masks, iou_pred, multimask_output):
    b = masks.shape[0]
    index = (
        iou_pred.argmax(dim=1)
        if multimask_output
        else torch.zeros(b, dtype=torch.long, device=masks.device)
    )
    rows = torch.arange(b, device=masks.device)
    return masks[rows, index] > 0, iou_pred[rows, index], index


def _inverted(masks, iou_pred, multimask_output):
    return ref.select_masks(masks, iou_pred, not multimask_output)


def _half(masks, iou_pred, multimask_output):
    mask, score, index = ref.select_masks(masks, iou_pred, multimask_output)
    return masks[torch.arange(masks.shape[0], device=masks.device), index] > 0.5, score, index


MISTAKES = {
    "in multimask mode the argmax runs over all four outputs (output 0 is the single-mask "
    "answer, not a candidate)": _all_four,
    "multimask_output inverted": _inverted,
    "mask logits thresholded at 0.5 (a probability threshold) instead of 0": _half,
}


def _cases(gen, device, visible=False):
    table = [(2, 6, 5, True, torch.float32), (1, 4, 4, False, torch.float32)]
    if not visible:
        table += [
            (5, 16, 12, True, torch.float32),
            (3, 8, 8, False, torch.float64),
            (4, 32, 32, True, torch.bfloat16),
            (1, 1, 1, True, torch.float32),
            (_ri(gen, 2, 6), _ri(gen, 1, 20), _ri(gen, 1, 20), True, torch.float64),
        ]
    else:  # the dtype rule, shown on CPU
        table += [(2, 4, 4, True, torch.bfloat16)]
    for b, h, w, multi, dtype in table:
        masks = _randn(gen, b, 4, h, w, scale=2.0, dtype=dtype)
        masks[masks.abs() < 0.05] = 0.3  # no logit sits on the threshold
        iou = torch.randperm(4 * b, generator=gen).reshape(b, 4).to(torch.float64) / (4 * b)
        iou[1:, 0] = -1.0  # other rows: output 0 predicts the worst IoU
        iou[0, 0] = 1.0  # row 0: output 0 predicts the best IoU, yet it is no multimask candidate
        yield Case(
            f"B={b}, masks {h}x{w}, multimask_output={multi}, {str(dtype)[6:]}",
            [Step((masks, iou.to(dtype), multi))],
            device=device,
        )


register_pair(
    name="foundation.select_masks",
    target="select_masks",
    reference=ref.select_masks,
    cases=_cases,
    misconceptions=MISTAKES,
)
