"""``modern_llms.sliding_window``: the sliding-window causal mask (window w = keys seen, itself
included), for prefill, chunks at an offset and one-token decoding, with optional padding.

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

import torch

from autograder.chapters.modern_llms._common import _ri, sliding_window_mask
from autograder.checks.spec import Case, Step, register_pair


def _w_plus_one(t, s, window, attention_mask=None):
    return sliding_window_mask(t, s, window + 1, attention_mask)


def _offset_ignored(t, s, window, attention_mask=None):
    """Query i treated as position i (not S - T + i): wrong for chunks and decoding."""
    q = torch.arange(t)[:, None]
    k = torch.arange(s)[None, :]
    mask = ((k <= q) & (q - k < window))[None, None]
    if attention_mask is not None:
        mask = mask & attention_mask[:, None, None, :].bool()
    return mask


def _band_not_causal(t, s, window, attention_mask=None):
    q = torch.arange(s - t, s)[:, None]
    k = torch.arange(s)[None, :]
    mask = ((q - k).abs() < window)[None, None]
    if attention_mask is not None:
        mask = mask & attention_mask[:, None, None, :].bool()
    return mask


def _padding_ignored(t, s, window, attention_mask=None):
    return sliding_window_mask(t, s, window, None)


def _cases(gen, device, visible=False):
    #  (T, S, window, padded batch)
    table = [(6, 6, 3, 0), (1, 9, 4, 0)]
    if not visible:
        table += [(5, 5, 1, 0), (4, 10, 4, 0), (7, 7, 10, 0), (1, 1, 1, 0), (6, 6, 2, 2)]
        table += [(3, 12, 5, 3), (8, 8, _ri(gen, 2, 7), 0)]
    for t, s, w, b in table:
        kwargs, label = {}, f"t={t}, s={s}, window={w}"
        if b:
            pad = torch.ones(b, s, dtype=torch.long)
            pad[0, : _ri(gen, 1, s - 1)] = 0
            kwargs["attention_mask"] = pad
            label += f", left-padded batch of {b}"
        yield Case(label, [Step((t, s, w), kwargs)], device=device)


register_pair(
    name="modern_llms.sliding_window",
    target="sliding_window_mask",
    reference=sliding_window_mask,
    cases=_cases,
    misconceptions={
        "the window is off by one: each token sees window + 1 keys (itself and window before)": _w_plus_one,
        "the queries are taken to sit at positions 0..T-1 instead of S-T..S-1 (chunks and "
        "decoding with a cache)": _offset_ignored,
        "the band is not causal (future tokens inside the window are visible)": _band_not_causal,
        "padding is ignored": _padding_ignored,
    },
)
