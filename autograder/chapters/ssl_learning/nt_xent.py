"""``ssl_learning.nt_xent``: SimCLR's NT-Xent (InfoNCE over 2N views): normalised rows, cosine
similarities over a temperature, the other view as the positive, the anchor itself excluded.

Known mistakes, then the cases, then the registration.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from autograder.chapters.ssl_learning._common import BF16, _dt, _pick, _randn, _ri
from autograder.checks.spec import call_case, register_pair
from course import ssl_learning as ref


# --- known mistakes ---------------------------------------------------------------------------
def _logits(z1, z2, temperature, normalise=True):
    z = torch.cat([z1, z2])
    if normalise:
        z = F.normalize(z, dim=1)
    return z @ z.T / temperature


def _pos(n, device):
    return torch.arange(2 * n, device=device).roll(n)


def _self_kept(z1, z2, temperature):
    n = z1.shape[0]
    sim = _logits(z1, z2, temperature)
    return F.cross_entropy(sim.float(), _pos(n, z1.device)).to(z1.dtype)


def _temperature_multiplied(z1, z2, temperature):
    return ref.nt_xent(z1, z2, 1 / temperature)


def _not_normalised(z1, z2, temperature):
    n = z1.shape[0]
    sim = _logits(z1, z2, temperature, normalise=False)
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z1.device), float("-inf"))
    return F.cross_entropy(sim.float(), _pos(n, z1.device)).to(z1.dtype)


def _positive_out_of_denominator(z1, z2, temperature):
    """Decoupled contrastive loss: only the 2N - 2 negatives in the denominator."""
    n = z1.shape[0]
    sim = _logits(z1, z2, temperature).float()
    pos = _pos(n, z1.device)
    rows = torch.arange(2 * n, device=z1.device)
    drop = torch.eye(2 * n, dtype=torch.bool, device=z1.device)
    drop[rows, pos] = True
    neg = torch.logsumexp(sim.masked_fill(drop, float("-inf")), dim=1)
    return (neg - sim[rows, pos]).mean().to(z1.dtype)


def _own_view_as_positive(z1, z2, temperature):
    """labels = arange(2N) on the unmasked matrix: each anchor's target is itself, the other view
    of the same image is counted among the negatives."""
    n = z1.shape[0]
    sim = _logits(z1, z2, temperature).float()
    return F.cross_entropy(sim, torch.arange(2 * n, device=z1.device)).to(z1.dtype)


def _one_direction(z1, z2, temperature):
    """Only the N anchors of the first view."""
    n = z1.shape[0]
    sim = _logits(z1, z2, temperature)
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z1.device), float("-inf"))
    return F.cross_entropy(sim[:n].float(), _pos(n, z1.device)[:n]).to(z1.dtype)


MISTAKES = {
    "self-similarity left in the denominator (the diagonal must be excluded)": _self_kept,
    "temperature multiplied instead of divided": _temperature_multiplied,
    "embeddings not L2-normalised (dot products instead of cosine similarities)": _not_normalised,
    "the positive left out of the denominator (only negatives there)": _positive_out_of_denominator,
    "the positive counted among the negatives (each view labelled as its own positive)": _own_view_as_positive,
    "loss averaged over the N anchors of one view only, not all 2N": _one_direction,
}


# --- cases ------------------------------------------------------------------------------------
# (N, d, temperature): visible (incl. N = 1: no negatives, loss 0), then edge cases (d = 2, a
# small temperature, identical views), then random ones.
VISIBLE = [(4, 8, 0.5), (1, 3, 0.1)]
HIDDEN = [(1, 5, 0.07), (6, 2, 1.0), (8, 16, 0.07), (3, 4, 2.0)]


def cases(gen, device, visible=False):
    table = list(VISIBLE if visible else HIDDEN)
    if not visible:
        for _ in range(3):
            table.append((_ri(gen, 2, 32), _ri(gen, 2, 64), _pick(gen, [0.05, 0.1, 0.2, 0.5, 1.0])))
    for i, (n, d, tau) in enumerate(table):
        dtype = torch.float32
        if not visible and i % 3 == 1:
            dtype = torch.float64
        if i == len(table) - 1:  # visible too: the dtype rule, shown on CPU
            dtype, tau = torch.bfloat16, 0.5
        z1 = _randn(gen, n, d, scale=3.0, dtype=dtype)
        z2 = z1 + _randn(gen, n, d, dtype=dtype) if i % 2 else _randn(gen, n, d, dtype=dtype)
        grad = (0, 1) if dtype == torch.float32 and not visible else ()
        label = f"z1, z2 ({n}, {d}) {_dt(dtype)}, temperature {tau}"
        yield call_case(label, z1, z2, tau, grads=grad, device=device)


# --- registration -----------------------------------------------------------------------------
register_pair(
    name="ssl_learning.nt_xent",
    target="nt_xent",
    reference=ref.nt_xent,
    cases=cases,
    misconceptions=MISTAKES,
    tol=BF16,
    float32_inside=True,
)
