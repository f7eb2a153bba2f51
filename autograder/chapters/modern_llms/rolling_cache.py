"""``modern_llms.rolling_cache``: a KV cache of ``window`` slots per layer (a ring buffer) for
sliding-window attention. Each case prefills, then decodes far beyond the window; every
``update`` result, both layers' raw slots and ``length()`` are compared.

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

import torch

from autograder.chapters.modern_llms._common import RollingKVCache, _randn, _ri
from autograder.checks.spec import Case, Step, register_pair


class _Variant(RollingKVCache):
    """The reference's logic with one knob per known mistake."""

    slot_shift = 0  # token p written to slot (p + shift) % window
    extra_old = 0  # return window - 1 + extra_old cached tokens
    ring_order = False  # return the cached slots in ring order instead of position order

    def update(self, layer, k, v):
        w, p0, t = self.window, self.seen[layer], k.shape[2]
        if self.k[layer] is None:
            b, g, _, d = k.shape
            self.k[layer], self.v[layer] = k.new_zeros(b, g, w, d), v.new_zeros(b, g, w, d)
        keep = min(p0, w - 1 + self.extra_old)
        old = torch.arange(p0 - keep, p0, device=k.device) % w
        if self.ring_order:
            old = old.sort().values
        k_att = torch.cat([self.k[layer][:, :, old], k], dim=2)
        v_att = torch.cat([self.v[layer][:, :, old], v], dim=2)
        m = min(t, w)
        new = (torch.arange(p0 + t - m, p0 + t, device=k.device) + self.slot_shift) % w
        self.k[layer] = self.k[layer].index_copy(2, new, k[:, :, t - m :])
        self.v[layer] = self.v[layer].index_copy(2, new, v[:, :, t - m :])
        self.seen[layer] = p0 + t
        return k_att, v_att


class _WrongSlot(_Variant):
    slot_shift = 1


class _KeepsWindowTokens(_Variant):
    extra_old = 1


class _RingOrder(_Variant):
    ring_order = True


def _cases(gen, device, visible=False):
    #  (window, chunks)
    table = [(3, [2, 1, 1, 1, 1])]
    if not visible:
        table += [(4, [6, 1, 1, 1, 1, 1]), (1, [3, 1, 1]), (5, [1] * 8), (3, [2, 2, 3, 1])]
        table += [(_ri(gen, 2, 6), [_ri(gen, 1, 7)] + [1] * 7)]
    for w, chunks in table:
        b, g, d = _ri(gen, 1, 2), _ri(gen, 1, 3), [2, 4, 8][_ri(gen, 0, 2)]
        steps = []
        for c in chunks:
            for layer in range(2):
                steps.append(
                    Step((layer, _randn(gen, b, g, c, d), _randn(gen, b, g, c, d)), method="update")
                )
        steps += [Step((0,), method="slots"), Step((1,), method="slots"), Step((), method="length")]
        yield Case(
            f"window {w}, 2 layers, k/v ({b}, {g}, T, {d}), chunks of {chunks} tokens",
            steps,
            init={"num_layers": 2, "window": w},
            device=device,
        )


register_pair(
    name="modern_llms.rolling_cache",
    target="RollingKVCache",
    reference=RollingKVCache,
    cases=_cases,
    misconceptions={
        "the new token overwrites the wrong slot (token p belongs in slot p % window)": _WrongSlot,
        "update returns window cached tokens instead of window - 1 (the new token then sees "
        "window + 1 keys)": _KeepsWindowTokens,
        "cached tokens returned in slot order instead of position order": _RingOrder,
    },
)
