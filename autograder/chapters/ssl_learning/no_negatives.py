"""``ssl_learning.simsiam_loss`` and ``ssl_learning.barlow_twins_loss``: learning without
negatives: SimSiam's symmetrised negative cosine with a stop-gradient on the targets (gradients
into z1, z2 are checked), and Barlow Twins' cross-correlation pushed towards the identity.

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from autograder.chapters.ssl_learning._common import (
    BF16,
    _dt,
    _pick,
    _randn,
    _ri,
    stop_gradient_compare,
)
from autograder.checks.spec import Case, Step, register_pair
from course import ssl_learning as ref


# --- known mistakes: SimSiam ------------------------------------------------------------------
def _cos(p, z):
    return F.cosine_similarity(p, z.detach(), dim=-1).mean()


def _not_negated(p1, p2, z1, z2):
    return -ref.simsiam_loss(p1, p2, z1, z2)


def _one_side(p1, p2, z1, z2):
    return -_cos(p1, z2)


def _same_view(p1, p2, z1, z2):
    return -_cos(p1, z1) / 2 - _cos(p2, z2) / 2


def _dot_product(p1, p2, z1, z2):
    return -(p1 * z2.detach()).sum(-1).mean() / 2 - (p2 * z1.detach()).sum(-1).mean() / 2


SIMSIAM_MISTAKES = {
    "cosine similarity not negated (the loss must be minimised)": _not_negated,
    "not symmetrised: only D(p1, z2), the term D(p2, z1) is missing": _one_side,
    "each prediction compared with its own view's projection (p1 with z1) instead of the other view's": _same_view,
    "dot products instead of cosine similarities (vectors not normalised)": _dot_product,
}


# --- known mistakes: Barlow Twins -------------------------------------------------------------
def _cross_corr(z1, z2, unbiased=False, over_features=False):
    dim = 1 if over_features else 0

    def std(z):
        return (z - z.mean(dim, keepdim=True)) / torch.sqrt(
            z.var(dim, unbiased=unbiased, keepdim=True) + 1e-5
        )

    return std(z1).T @ std(z2) / z1.shape[0]


def _bt(c, lambd, lambda_on_diagonal=False, off_includes_diagonal=False):
    diag = torch.diagonal(c)
    on = (1 - diag).pow(2).sum()
    off = c.pow(2).sum() - (0 if off_includes_diagonal else diag.pow(2).sum())
    return lambd * on + off if lambda_on_diagonal else on + lambd * off


def _unbiased(z1, z2, lambd=5e-3):
    return _bt(_cross_corr(z1, z2, unbiased=True), lambd)


def _lambda_on_diagonal(z1, z2, lambd=5e-3):
    return _bt(_cross_corr(z1, z2), lambd, lambda_on_diagonal=True)


def _off_includes_diagonal(z1, z2, lambd=5e-3):
    return _bt(_cross_corr(z1, z2), lambd, off_includes_diagonal=True)


def _not_divided_by_n(z1, z2, lambd=5e-3):
    return _bt(_cross_corr(z1, z2) * z1.shape[0], lambd)


def _over_features(z1, z2, lambd=5e-3):
    return _bt(_cross_corr(z1, z2, over_features=True), lambd)


BARLOW_MISTAKES = {
    "features standardised with the unbiased variance (N - 1); the contract is BatchNorm's biased one": _unbiased,
    "lambda applied to the on-diagonal term instead of the off-diagonal one": _lambda_on_diagonal,
    "the off-diagonal sum also includes the diagonal": _off_includes_diagonal,
    "cross-correlation not divided by the batch size N": _not_divided_by_n,
    "standardised across features (each row) instead of across the batch (each column)": _over_features,
}


# --- cases ------------------------------------------------------------------------------------
def _dtype(i, visible, n_cases):
    if i == n_cases - 1:  # the last case in bfloat16, visible too (the dtype rule on CPU)
        return torch.bfloat16
    return torch.float64 if i % 3 == 1 else torch.float32


# SimSiam (B, d): visible (incl. B = 1), then edge cases (B = 1, B = 2), random ones.
SIMSIAM_VISIBLE = [(4, 8), (1, 3)]
SIMSIAM_HIDDEN = [(1, 3), (2, 5), (16, 32)]


def simsiam_cases(gen, device, visible=False):
    table = list(SIMSIAM_VISIBLE if visible else SIMSIAM_HIDDEN)
    if not visible:
        table += [(_ri(gen, 2, 32), _ri(gen, 2, 64)) for _ in range(2)]
    for i, (b, d) in enumerate(table):
        dtype = _dtype(i, visible, len(table))
        z1, z2 = _randn(gen, b, d, dtype=dtype), _randn(gen, b, d, dtype=dtype)
        p1 = (z1.float() + 0.5 * _randn(gen, b, d)).to(dtype)
        p2 = (z2.float() + 0.5 * _randn(gen, b, d)).to(dtype)
        yield Case(
            f"p1, p2, z1, z2 ({b}, {d}) {_dt(dtype)}",
            [Step((p1, p2, z1, z2))],
            grad_wrt=(0, 1, 2, 3) if dtype != torch.bfloat16 else (),
            device=device,
        )


# Barlow Twins (N, D, lambd): visible, then edge cases (N = 2, D = 1, large lambda), random ones.
BARLOW_VISIBLE = [(8, 4, 5e-3), (2, 3, 0.5)]
BARLOW_HIDDEN = [(2, 3, 5e-3), (3, 1, 0.5), (5, 6, 1.0), (32, 16, 5e-3)]


def barlow_cases(gen, device, visible=False):
    table = list(BARLOW_VISIBLE if visible else BARLOW_HIDDEN)
    if not visible:
        table += [
            (_ri(gen, 3, 48), _ri(gen, 2, 32), _pick(gen, [5e-3, 0.05, 0.2])) for _ in range(2)
        ]
    for i, (n, d, lambd) in enumerate(table):
        dtype = _dtype(i, visible, len(table))
        z1 = _randn(gen, n, d, scale=2.0) + 1.0
        z2 = (z1 + _randn(gen, n, d)).to(dtype)
        yield Case(
            f"z1, z2 ({n}, {d}) {_dt(dtype)}, lambd {lambd}",
            [Step((z1.to(dtype), z2, lambd))],
            grad_wrt=(0, 1) if dtype == torch.float32 and not visible else (),
            device=device,
        )


# --- registration -----------------------------------------------------------------------------
register_pair(
    name="ssl_learning.simsiam_loss",
    target="simsiam_loss",
    reference=ref.simsiam_loss,
    cases=simsiam_cases,
    misconceptions=SIMSIAM_MISTAKES,
    compare=stop_gradient_compare({2: "z1", 3: "z2"}),
    tol=BF16,
    float32_inside=True,
)
register_pair(
    name="ssl_learning.barlow_twins_loss",
    target="barlow_twins_loss",
    reference=ref.barlow_twins_loss,
    cases=barlow_cases,
    misconceptions=BARLOW_MISTAKES,
    tol=BF16,
    float32_inside=True,
)
