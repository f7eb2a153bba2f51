"""``ssl_learning.patchify`` and ``ssl_learning.unpatchify``: images <-> (B, N, p*p*C) patches in
MAE's layout (patches row by row; inside a patch (row, column, channel), channel fastest).

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

import torch

from autograder.chapters.ssl_learning._common import BF16, _dt, _randn, _ri
from autograder.checks.spec import Case, Step, register_pair
from course import ssl_learning as ref


# --- known mistakes ---------------------------------------------------------------------------
def _unfold_order(images, patch_size):
    """F.unfold's (C, p, p) order inside a patch."""
    b, c, h, w = images.shape
    p = patch_size
    x = images.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(b, (h // p) * (w // p), c * p * p)


def _column_major(images, patch_size):
    """Patches numbered column by column (top to bottom first)."""
    b, c, h, w = images.shape
    p = patch_size
    x = images.reshape(b, c, h // p, p, w // p, p).permute(0, 4, 2, 3, 5, 1)
    return x.reshape(b, (h // p) * (w // p), p * p * c)


def _plain_reshape(images, patch_size):
    """A reshape without the permute: rows of pixels, not square patches."""
    b, c, h, w = images.shape
    return images.permute(0, 2, 3, 1).reshape(b, -1, patch_size * patch_size * c)


def _unpatchify_misread(layout: str):
    """An unpatchify that reads the patches in a wrong ``layout``: "unfold" (each patch vector in
    (channel, row, column) order) or "column-major" (the patch grid filled column by column)."""

    def unpatchify(patches, patch_size, height, width):
        b, _, d = patches.shape
        p = patch_size
        c, rows, cols = d // (p * p), height // p, width // p
        if layout == "unfold":
            x = patches.reshape(b, rows, cols, c, p, p).permute(0, 3, 1, 4, 2, 5)
        else:
            x = patches.reshape(b, cols, rows, p, p, c).permute(0, 5, 2, 3, 1, 4)
        return x.reshape(b, c, height, width)

    return unpatchify


PATCHIFY_MISTAKES = {
    "values inside a patch in (channel, row, column) order, F.unfold's, instead of (row, column, channel)": _unfold_order,
    "patches numbered column by column instead of row by row": _column_major,
    "a plain reshape without the permute (rows of pixels, not square patches)": _plain_reshape,
}
UNPATCHIFY_MISTAKES = {
    "values inside a patch read in (channel, row, column) order instead of (row, column, channel)": _unpatchify_misread(
        "unfold"
    ),
    "patches placed column by column instead of row by row": _unpatchify_misread("column-major"),
}

# --- cases ------------------------------------------------------------------------------------
# (B, C, H, W, p): visible first (one non-square image), then hidden edge cases (a single patch,
# p = 1, one channel), then random ones.
VISIBLE = [(1, 3, 8, 8, 4), (2, 2, 6, 4, 2)]
HIDDEN = [(1, 1, 4, 4, 4), (2, 3, 3, 5, 1), (1, 2, 12, 8, 4)]


def _shapes(gen, visible):
    if visible:
        yield from VISIBLE
        return
    yield from HIDDEN
    for _ in range(3):
        p = _ri(gen, 1, 4)
        yield (_ri(gen, 1, 3), _ri(gen, 1, 4), p * _ri(gen, 1, 4), p * _ri(gen, 1, 5), p)


def _dtypes(i, visible):
    return [torch.float32, torch.bfloat16, torch.float64][i % 3]  # visible: float32, bfloat16


def patchify_cases(gen, device, visible=False):
    for i, (b, c, h, w, p) in enumerate(_shapes(gen, visible)):
        dtype = _dtypes(i, visible)
        x = _randn(gen, b, c, h, w, dtype=dtype)
        grad = (0,) if dtype == torch.float32 and not visible else ()
        yield Case(
            f"images ({b}, {c}, {h}, {w}) {_dt(dtype)}, patch_size {p}",
            [Step((x, p))],
            grad_wrt=grad,
            device=device,
        )


def unpatchify_cases(gen, device, visible=False):
    for i, (b, c, h, w, p) in enumerate(_shapes(gen, visible)):
        dtype = _dtypes(i, visible)
        n, d = (h // p) * (w // p), p * p * c
        x = _randn(gen, b, n, d, dtype=dtype)
        grad = (0,) if dtype == torch.float32 and not visible else ()
        yield Case(
            f"patches ({b}, {n}, {d}) {_dt(dtype)}, patch_size {p}, height {h}, width {w}",
            [Step((x, p, h, w))],
            grad_wrt=grad,
            device=device,
        )


# --- registration -----------------------------------------------------------------------------
register_pair(
    name="ssl_learning.patchify",
    target="patchify",
    reference=ref.patchify,
    cases=patchify_cases,
    misconceptions=PATCHIFY_MISTAKES,
    tol=BF16,
    float32_inside=True,
)
register_pair(
    name="ssl_learning.unpatchify",
    target="unpatchify",
    reference=ref.unpatchify,
    cases=unpatchify_cases,
    misconceptions=UNPATCHIFY_MISTAKES,
    tol=BF16,
    float32_inside=True,
)
