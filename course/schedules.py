"""Learning-rate schedules: linear warm-up followed by a cosine decay to a floor (LLaMA 1 and 2).

Touvron et al. (2023a, 2023b): 2,000 warm-up steps, then a cosine schedule whose final learning rate
is 10% of the peak. The papers do not say where the warm-up starts or whether the cosine spans the
whole run or only the steps after warm-up; this module fixes one common convention and states it:

- step ``s`` counts optimizer updates from 0 (the learning rate used by the ``s``-th update);
- warm-up: ``peak * (s + 1) / warmup_steps`` for ``s < warmup_steps``, so the first update is not
  wasted at a learning rate of 0 and update ``warmup_steps - 1`` uses the peak;
- cosine: from the peak at ``s = warmup_steps`` down to ``final_ratio * peak`` at the last update,
  ``s = total_steps - 1``; later steps stay at the floor.
"""

from __future__ import annotations

import math


def warmup_cosine_lr(
    step: int,
    *,
    peak_lr: float,
    warmup_steps: int,
    total_steps: int,
    final_ratio: float = 0.1,
) -> float:
    """Learning rate of update ``step`` (0-based) under linear warm-up + cosine decay.

    Args:
        step: index of the optimizer update, >= 0.
        peak_lr: the maximum learning rate, reached at the end of warm-up.
        warmup_steps: number of warm-up updates (>= 1).
        total_steps: number of updates in the run (> warmup_steps).
        final_ratio: the last update's learning rate as a fraction of ``peak_lr`` (0.1 in LLaMA).
    Returns:
        The learning rate, a float.
    """
    if step < 0 or warmup_steps < 1 or total_steps <= warmup_steps:
        raise ValueError("need step >= 0, warmup_steps >= 1 and total_steps > warmup_steps")
    if step < warmup_steps:
        return peak_lr * (step + 1) / warmup_steps
    decay_steps = total_steps - 1 - warmup_steps
    progress = 1.0 if decay_steps == 0 else min(1.0, (step - warmup_steps) / decay_steps)
    floor = final_ratio * peak_lr
    return floor + (peak_lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_cosine_factor(
    step: int, *, warmup_steps: int, total_steps: int, final_ratio: float = 0.1
) -> float:
    """The same schedule as a multiplier of the peak, for ``torch.optim.lr_scheduler.LambdaLR``."""
    return warmup_cosine_lr(
        step,
        peak_lr=1.0,
        warmup_steps=warmup_steps,
        total_steps=total_steps,
        final_ratio=final_ratio,
    )
