"""The book's claims about the tiny CLIP hold: it trains in seconds, zero-shot accuracy on
held-out digits is high with a single template and with the six ensembled, and the loss settles
near the class-level floor (captions of one digit are interchangeable within a batch)."""

from __future__ import annotations

import math

import numpy as np

from course.foundation import tiny_clip


def test_tiny_clip_zero_shot_and_loss_floor():
    run = tiny_clip.train_tiny_clip()
    assert run.accuracy_single > 0.9 and run.accuracy_ensemble > 0.9
    _, ytr, _, _ = tiny_clip.load_digits_split()
    counts = np.bincount(ytr.numpy(), minlength=10) / len(ytr) * 128
    floor = float(np.sum(counts / 128 * np.log(counts)))
    assert abs(floor - math.log(12.8)) < 0.05
    assert floor - 0.1 < np.mean(run.losses[-9:]) < floor + 0.4
    assert 1.0 <= run.final_scale <= 100.0
