"""``foundation.sinusoids`` (block 8): Whisper's sinusoidal encoder positions. Known mistakes,
then the cases, then the registration."""

from __future__ import annotations

import math

import torch

from autograder.chapters.foundation._common import _ri
from autograder.checks.spec import Case, Step, register_pair
from course.foundation import whisper as ref


def _angles(length, channels, max_timescale, denominator):
    half = channels // 2
    inv = torch.exp(-math.log(max_timescale) / denominator * torch.arange(half))
    return torch.arange(length)[:, None] * inv[None, :]


def _interleaved(length, channels, max_timescale=10000.0):
    t = _angles(length, channels, max_timescale, channels // 2 - 1)
    return torch.stack([torch.sin(t), torch.cos(t)], dim=-1).reshape(length, channels)


def _vaswani_denominator(length, channels, max_timescale=10000.0):
    t = _angles(length, channels, max_timescale, channels // 2)
    return torch.cat([torch.sin(t), torch.cos(t)], dim=1)


def _cos_first(length, channels, max_timescale=10000.0):
    t = _angles(length, channels, max_timescale, channels // 2 - 1)
    return torch.cat([torch.cos(t), torch.sin(t)], dim=1)


MISTAKES = {
    "sin and cos interleaved (channel 2i = sin, 2i + 1 = cos) instead of two halves [sin | cos]": (
        _interleaved
    ),
    "timescales spaced by ln(max_timescale) / (channels / 2) instead of / (channels / 2 - 1)": (
        _vaswani_denominator
    ),
    "cos half first": _cos_first,
}


def _cases(gen, device, visible=False):
    table = [(6, 8, 10000.0), (1, 4, 10000.0)]
    if not visible:
        table += [
            (1500, 384, 10000.0),  # tiny's encoder
            (_ri(gen, 2, 200), 2 * _ri(gen, 2, 40), 10000.0),
            (448, 512, 10000.0),
            (30, 6, 100.0),
        ]
    for length, channels, timescale in table:
        yield Case(
            f"length={length}, channels={channels}, max_timescale={timescale:g}",
            [Step((length, channels, timescale))],
            device=device,
        )


register_pair(
    name="foundation.sinusoids",
    target="sinusoids",
    reference=ref.sinusoids,
    cases=_cases,
    exact=ref.sinusoids64,
    misconceptions=MISTAKES,
)
