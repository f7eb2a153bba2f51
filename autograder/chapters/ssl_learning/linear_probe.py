"""``ssl_learning.fit_linear_probe``: the linear probe that scores frozen features, an
L2-regularised multinomial logistic regression fitted to its optimum.

A fit is an optimisation, so the check does not compare the parameters entrywise (the objective
ignores a constant added to every bias: b is not unique). It asks that the student's (W, b)
reach the objective's minimum within :data:`GAP` (``coursekit.hooks.linear_probe``, shared with the
kit); the objective is strictly convex in W, so that pins W down. A fit that stopped early is
told so by the comparison itself (its gradient is not 0); the named mistakes below minimise
another objective to its optimum, and are recognised by their (W, b) (loosely: :data:`MATCH`).

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

import torch

from autograder.chapters.ssl_learning._common import _dt, _pick, _ri
from autograder.checks.spec import call_case, register_pair
from course import ssl_learning as ref
from coursekit.hooks import linear_probe

#: the objective may exceed its minimum by this much (float32 L-BFGS reaches ~1e-7 on these
#: cases; the named mistakes and 20 L-BFGS iterations land 1e-4 to 1 above it)
GAP = 1e-5
#: how close a (W, b) must be to a named mistake's to be told it matches (any optimiser reaches
#: that mistake's optimum to this): only for naming, never for passing
MATCH = {torch.float32: (1e-2, 1e-3), torch.float64: (1e-2, 1e-3)}


# --- known mistakes ---------------------------------------------------------------------------
def _cast(fit, features):
    return tuple(t.to(features.dtype) for t in fit)


def _bias_penalised(features, labels, num_classes, weight_decay):
    """(weight_decay / 2) (||W||^2 + ||b||^2): the bias shrunk towards 0 too."""
    fit = ref.softmax_regression_newton(
        features, labels, num_classes, weight_decay, bias_decay=weight_decay
    )
    return _cast(fit, features)


def _summed_loss(features, labels, num_classes, weight_decay):
    """sum (not mean) of the N cross-entropies + (weight_decay / 2) ||W||^2: the same optimum as
    the mean with weight_decay / N, a penalty N times too weak."""
    return ref.fit_linear_probe(features, labels, num_classes, weight_decay / features.shape[0])


def _penalty_not_halved(features, labels, num_classes, weight_decay):
    """weight_decay * ||W||^2 (no 1/2): twice the contract's penalty."""
    return ref.fit_linear_probe(features, labels, num_classes, 2 * weight_decay)


MISTAKES = {
    "the bias penalised too (the contract's penalty is (weight_decay / 2) ||W||^2 only: the bias "
    "is free, it carries the class frequencies)": _bias_penalised,
    "the cross-entropies summed over the N examples instead of averaged (the penalty is then N "
    "times too weak)": _summed_loss,
    "the penalty weight_decay * ||W||^2 without the 1/2 (twice the contract's; torch's "
    "weight_decay=λ adds λ W to the gradient, the gradient of (λ / 2) ||W||^2)": _penalty_not_halved,
}


# --- cases ------------------------------------------------------------------------------------
def _data(gen, n, d, c, dtype):
    """N points in c Gaussian clusters (class means N(0, 1) per feature), one shared offset
    N(0, 2^2) per feature (the bias has work to do), unbalanced classes, every class present."""
    means = torch.randn(c, d, generator=gen, dtype=torch.float64)
    weights = torch.rand(c, generator=gen, dtype=torch.float64) + 0.2
    rest = torch.multinomial(weights / weights.sum(), max(n - c, 1), True, generator=gen)[: n - c]
    labels = torch.cat([torch.arange(c), rest])[torch.randperm(n, generator=gen)]
    noise = torch.randn(n, d, generator=gen, dtype=torch.float64)
    offset = 2.0 * torch.randn(d, generator=gen, dtype=torch.float64)
    return (means[labels] + noise + offset).to(dtype), labels


# (N, D, C, weight_decay): visible (incl. the edge C = 2, D = 1), then edge cases (one example per
# class, a single feature, the largest case, the weakest and strongest penalties), random ones.
VISIBLE = [(40, 4, 3, 0.1), (8, 1, 2, 1.0)]
HIDDEN = [(5, 3, 5, 0.1), (12, 2, 2, 1.0), (100, 1, 3, 0.3), (300, 32, 10, 0.01)]
DECAYS = [0.01, 0.03, 0.1, 0.3, 1.0]


def cases(gen, device, visible=False):
    table = list(VISIBLE if visible else HIDDEN)
    if not visible:
        for _ in range(3):
            c = _ri(gen, 2, 10)
            table.append((_ri(gen, c, 200), _ri(gen, 1, 32), c, _pick(gen, DECAYS)))
    for i, (n, d, c, lam) in enumerate(table):
        dtype = torch.float64 if i % 3 == 1 and not visible else torch.float32
        x, y = _data(gen, n, d, c, dtype)
        label = f"features ({n}, {d}) {_dt(dtype)}, {c} classes, weight_decay {lam}"
        yield call_case(label, x, y, c, lam, device=device)


# --- registration -----------------------------------------------------------------------------
register_pair(
    name="ssl_learning.fit_linear_probe",
    target="fit_linear_probe",
    reference=ref.fit_linear_probe,
    cases=cases,
    misconceptions=MISTAKES,
    compare=linear_probe(gap=GAP),
    tol=MATCH,
)
