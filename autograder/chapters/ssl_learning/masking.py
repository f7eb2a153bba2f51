"""``ssl_learning.random_masking``: MAE's per-sample random masking by sorting noise: the kept
patches (smallest noise first), the binary mask (1 = removed) and the restore indices.

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

import torch

from autograder.chapters.ssl_learning._common import BF16, _dt, _pick, _randn, _ri
from autograder.checks.spec import call_case, case_table, register_pair
from course import ssl_learning as ref


# --- known mistakes ---------------------------------------------------------------------------
def _same_for_every_sample(x, mask_ratio, noise):
    return ref.random_masking(x, mask_ratio, noise[:1].expand_as(noise))


def _mask_inverted(x, mask_ratio, noise):
    kept, mask, restore = ref.random_masking(x, mask_ratio, noise)
    return kept, 1 - mask, restore


def _restore_is_shuffle(x, mask_ratio, noise):
    kept, mask, _ = ref.random_masking(x, mask_ratio, noise)
    return kept, mask, torch.argsort(noise, dim=1)


def _largest_noise_kept(x, mask_ratio, noise):
    return ref.random_masking(x, mask_ratio, -noise)


def _kept_in_original_order(x, mask_ratio, noise):
    b, n, d = x.shape
    len_keep = int(n * (1 - mask_ratio))
    ids_keep = torch.argsort(noise, dim=1)[:, :len_keep].sort(dim=1).values
    kept = torch.gather(x, 1, ids_keep.unsqueeze(-1).expand(b, len_keep, d))
    _, mask, restore = ref.random_masking(x, mask_ratio, noise)
    return kept, mask, restore


def _ratio_kept(x, mask_ratio, noise):
    """mask_ratio read as the fraction to keep."""
    return ref.random_masking(x, 1 - mask_ratio, noise)


MISTAKES = {
    "the same positions masked for every sample (one noise row shared by the batch)": _same_for_every_sample,
    "mask inverted (1 must mean removed, 0 kept)": _mask_inverted,
    "ids_restore is argsort(noise) itself; it must be its inverse, argsort(argsort(noise))": _restore_is_shuffle,
    "kept the patches with the largest noise instead of the smallest": _largest_noise_kept,
    "kept patches sorted back into their original order instead of increasing noise": _kept_in_original_order,
    "mask_ratio used as the fraction kept instead of the fraction removed": _ratio_kept,
}


# --- cases ------------------------------------------------------------------------------------
def _noise(gen, b, n):
    """Distinct values in each row: a random permutation plus jitter smaller than the gaps."""
    perm = torch.stack([torch.randperm(n, generator=gen) for _ in range(b)]).float()
    return (perm + 0.5 * torch.rand(b, n, generator=gen)) / n


# (B, N, D, mask_ratio): visible, then edge cases (one patch kept of many, nothing masked, one
# patch in all, D = 1), then random ones. len_keep = int(N * (1 - mask_ratio)) >= 1 always.
VISIBLE = [(2, 16, 8, 0.75), (1, 4, 3, 0.5)]
HIDDEN = [(3, 16, 4, 0.9375), (2, 5, 3, 0.0), (1, 1, 2, 0.0), (4, 8, 1, 0.25)]


def cases(gen, device, visible=False):
    def draw():
        n, ratio = [8, 16, 32, 49, 64], [0.75, 0.5, 0.25, 0.875]
        return _ri(gen, 1, 6), _pick(gen, n), _ri(gen, 2, 24), _pick(gen, ratio)

    for i, (b, n, d, ratio) in enumerate(case_table(visible, VISIBLE, HIDDEN, draw)):
        dtype = [torch.float64, torch.float32, torch.bfloat16][i % 3]
        if visible:  # float32, then bfloat16 (the dtype rule, shown on CPU)
            dtype = [torch.float32, torch.bfloat16][i]
        x = _randn(gen, b, n, d, dtype=dtype)
        noise = _noise(gen, b, n)
        grad = (0,) if dtype == torch.float32 and not visible else ()
        label = f"x ({b}, {n}, {d}) {_dt(dtype)}, mask_ratio {ratio}"
        yield call_case(label, x, ratio, noise, grads=grad, device=device)


# --- registration -----------------------------------------------------------------------------
register_pair(
    name="ssl_learning.random_masking",
    target="random_masking",
    reference=ref.random_masking,
    cases=cases,
    misconceptions=MISTAKES,
    tol=BF16,
    float32_inside=True,
)
