"""``ssl_learning.mae_loss``: MAE's reconstruction loss: per-patch mean squared error, averaged
over the masked patches only; optionally per-patch normalised targets (``norm_pix_loss``).

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

import torch

from autograder.chapters.ssl_learning._common import BF16, _dt, _pick, _randn, _ri
from autograder.checks.spec import Case, Step, case_table, register_pair
from course import ssl_learning as ref


# --- known mistakes ---------------------------------------------------------------------------
def _all_patches(pred, target, mask, norm_pix_loss=False):
    return ref.mae_loss(pred, target, torch.ones_like(mask), norm_pix_loss)


def _visible_patches(pred, target, mask, norm_pix_loss=False):
    return ref.mae_loss(pred, target, 1 - mask, norm_pix_loss)


def _summed_over_values(pred, target, mask, norm_pix_loss=False):
    return ref.mae_loss(pred, target, mask, norm_pix_loss) * pred.shape[-1]


def _biased_variance(pred, target, mask, norm_pix_loss=False):
    if norm_pix_loss:
        mean = target.mean(dim=-1, keepdim=True)
        var = target.var(dim=-1, keepdim=True, unbiased=False)
        target = (target - mean) / (var + 1.0e-6) ** 0.5
    return ref.mae_loss(pred, target, mask, False)


def _norm_ignored(pred, target, mask, norm_pix_loss=False):
    return ref.mae_loss(pred, target, mask, False)


MISTAKES = {
    "loss over all patches instead of the masked ones": _all_patches,
    "loss over the visible patches (mask read the wrong way round)": _visible_patches,
    "squared errors summed over a patch's values instead of averaged": _summed_over_values,
    "per-patch variance without Bessel's correction (the contract uses torch's default, unbiased var)": _biased_variance,
    "norm_pix_loss ignored (targets not normalised per patch)": _norm_ignored,
}


# --- cases ------------------------------------------------------------------------------------
def _mask(gen, b, n, ratio):
    noise = torch.rand(b, n, generator=gen)
    return ref.random_masking(torch.zeros(b, n, 1), ratio, noise)[1]


# (B, N, D, mask_ratio, norm_pix_loss): visible, then edge cases (one masked patch, D = 2 with
# normalisation), then random ones. At least one patch is masked and one visible in each case.
VISIBLE = [(2, 16, 12, 0.75, False), (1, 4, 6, 0.5, True)]
HIDDEN = [(1, 4, 3, 0.25, False), (2, 8, 2, 0.5, True), (3, 16, 48, 0.75, True)]


def cases(gen, device, visible=False):
    def draw():
        ratio = [0.75, 0.5, 0.875]
        return (
            _ri(gen, 1, 4),
            _pick(gen, [8, 16, 49]),
            _ri(gen, 2, 64),
            _pick(gen, ratio),
            bool(_ri(gen, 0, 1)),
        )

    for i, (b, n, d, ratio, norm) in enumerate(case_table(visible, VISIBLE, HIDDEN, draw)):
        dtype = [torch.float32, torch.bfloat16, torch.float64][i % 3]  # visible: f32, bf16
        pred = _randn(gen, b, n, d, dtype=dtype)
        target = _randn(gen, b, n, d, scale=2.0, dtype=dtype) + 0.5
        mask = _mask(gen, b, n, ratio).to(dtype)
        grad = (0,) if dtype == torch.float32 and not visible else ()
        yield Case(
            f"pred ({b}, {n}, {d}) {_dt(dtype)}, {int(mask.sum())} masked patches, "
            f"norm_pix_loss={norm}",
            [Step((pred, target, mask), {"norm_pix_loss": norm})],
            grad_wrt=grad,
            device=device,
        )


# --- registration -----------------------------------------------------------------------------
register_pair(
    name="ssl_learning.mae_loss",
    target="mae_loss",
    reference=ref.mae_loss,
    cases=cases,
    misconceptions=MISTAKES,
    tol=BF16,
    float32_inside=True,
)
