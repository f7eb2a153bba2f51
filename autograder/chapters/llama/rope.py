"""``llama.rope_cos_sin, llama.apply_rope``: rotary embeddings: cos/sin tables (with offsets) and their application to q and k.

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

import torch

from autograder.chapters.llama._common import _BF16, _randn, _ri
from autograder.checks.spec import Case, Step, register_pair
from course import llama as ref


def _rotate_interleaved(x, cos, sin):
    if cos.dim() == 3:
        cos, sin = cos[:, None], sin[:, None]
    half = x.shape[-1] // 2
    c, s = cos[..., :half], sin[..., :half]
    x1, x2 = x[..., 0::2], x[..., 1::2]
    out = torch.stack([x1 * c - x2 * s, x1 * s + x2 * c], dim=-1)
    return out.flatten(-2).to(x.dtype)


def _cos_sin_shifted(head_dim, positions, theta=10000.0):
    return ref.rope_cos_sin(head_dim, positions + 1, theta)


def _cos_sin_wrong_exponent(head_dim, positions, theta=10000.0):
    inv = 1.0 / theta ** (
        torch.arange(0, head_dim // 2, dtype=torch.float32, device=positions.device) / head_dim
    )
    ang = positions.float()[..., None] * inv
    emb = torch.cat([ang, ang], -1)
    return emb.cos(), emb.sin()


def _rope_cos_sin_exact(head_dim, positions, theta=10000.0):
    """cos, sin in float64 throughout: the angles a float32 computation rounds."""
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = positions.double()[..., None] * inv_freq
    emb = torch.cat([angles, angles], dim=-1)
    return emb.cos(), emb.sin()


def _cos_sin_cases(gen, device, visible=False):
    n = 2 if visible else 6
    for i in range(n):
        dh = [8, 64, 2, 32, 128, 16][i]
        t = [5, 1, 7, 3, 4, 9][i]
        offset = 0 if i % 2 == 0 else _ri(gen, 1, 2000)
        theta = 10000.0 if i % 3 else 500000.0
        b = _ri(gen, 1, 2)
        positions = (torch.arange(t) + offset).expand(b, t).contiguous()
        yield Case(
            f"head_dim={dh}, positions {offset}..{offset + t - 1}, theta={theta:g}",
            [Step((dh, positions), {"theta": theta})],
            device=device,
        )


def _apply_rope_cases(gen, device, visible=False):
    for i in [0, 1, 3] if visible else range(6):  # case 3 (bfloat16) is visible too
        dh = [8, 64, 16, 32, 4, 128][i]
        b, h, t = _ri(gen, 1, 2), [1, 3, 2, 9, 1, 4][i], [4, 1, 6, 3, 2, 5][i]
        offset = _ri(gen, 0, 100)
        positions = (torch.arange(t) + offset).expand(b, t).contiguous()
        cos, sin = ref.rope_cos_sin(dh, positions, 10000.0)
        dtype = torch.bfloat16 if i == 3 else torch.float32
        x = _randn(gen, b, h, t, dh, dtype=dtype)
        grad = (0,) if dtype == torch.float32 and not visible else ()
        yield Case(
            f"x({b}, {h}, {t}, {dh}) {str(dtype)[6:]}, positions from {offset}",
            [Step((x, cos.to(dtype), sin.to(dtype)))],
            grad_wrt=grad,
            device=device,
        )


register_pair(
    name="llama.rope_cos_sin",
    target="rope_cos_sin",
    reference=ref.rope_cos_sin,
    cases=_cos_sin_cases,
    misconceptions={
        "positions shifted by one (the first token must have position 0 + offset)": _cos_sin_shifted,
        "frequency exponent i/d instead of 2i/d": _cos_sin_wrong_exponent,
    },
    exact=_rope_cos_sin_exact,
)
register_pair(
    name="llama.apply_rope",
    target="apply_rope",
    reference=ref.apply_rope,
    cases=_apply_rope_cases,
    tol=_BF16,
    misconceptions={
        "interleaved pairs (x0,x1),(x2,x3)... instead of the half-split pairs (x_i, x_{i+d/2}) of the weights": _rotate_interleaved
    },
)
