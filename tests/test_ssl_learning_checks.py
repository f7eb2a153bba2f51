"""The chapter 05-ssl checks beyond the registry's tests (tests/test_checks_registry.py: the
solution against every check, every named mistake under two class secrets): a missing
stop-gradient is named, and correct variants written differently pass (under two class secrets:
other random inputs each time)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import outcome

import autograder.chapters.ssl_learning  # noqa: F401  (registers the checks)
from autograder.checks.spec import REGISTRY
from course import ssl_learning as ref

REFERENCE = {
    "patchify": ref.patchify,
    "unpatchify": ref.unpatchify,
    "random_masking": ref.random_masking,
    "mae_loss": ref.mae_loss,
    "nt_xent": ref.nt_xent,
    "MoCoQueue": ref.MoCoQueue,
    "MomentumEncoder": ref.MomentumEncoder,
    "simsiam_loss": ref.simsiam_loss,
    "barlow_twins_loss": ref.barlow_twins_loss,
    "dino_loss": ref.dino_loss,
    "cosine_unmask_schedule": ref.cosine_unmask_schedule,
    "unmask_step": ref.unmask_step,
    "fit_linear_probe": ref.fit_linear_probe,
}
NAMES = sorted(n for n in REGISTRY if n.startswith("ssl_learning."))
MISTAKES = [
    (name, label)
    for name in NAMES
    if not REGISTRY[name].visible
    for label in REGISTRY[name].misconceptions
]


def test_every_block_has_visible_and_hidden_checks():
    targets = {REGISTRY[n].target for n in NAMES}
    assert targets == set(REFERENCE)
    assert all(f"{n}.visible" in REGISTRY for n in NAMES if not REGISTRY[n].visible)
    assert len(MISTAKES) >= 2 * len(REFERENCE)


# --- a missing stop-gradient is caught from the gradients alone -------------------------------
def simsiam_no_stopgrad(p1, p2, z1, z2):
    return (
        -F.cosine_similarity(p1, z2, dim=-1).mean() / 2
        - F.cosine_similarity(p2, z1, dim=-1).mean() / 2
    )


def dino_no_stopgrad(s, t, c, n, st=0.1, tt=0.04, m=0.9):
    tp = F.softmax((t - c) / tt, dim=-1).chunk(2)
    sp = F.log_softmax(s / st, dim=-1).chunk(n)
    terms = [
        (-(a * b).sum(-1)).mean() for i, a in enumerate(tp) for v, b in enumerate(sp) if v != i
    ]
    return sum(terms) / len(terms), c * m + t.detach().mean(0, keepdim=True) * (1 - m)


class QueueNoDetach(ref.MoCoQueue):
    def forward(self, q, k, temperature):
        l_pos = (q * k).sum(1, keepdim=True)
        return torch.cat([l_pos, q @ self.queue.T.to(q.dtype)], 1) / temperature


@pytest.mark.parametrize(
    "name,obj",
    [
        ("ssl_learning.simsiam_loss", simsiam_no_stopgrad),
        ("ssl_learning.dino_loss", dino_no_stopgrad),
        ("ssl_learning.moco_queue", QueueNoDetach),
    ],
)
def test_missing_stop_gradient_fails_and_is_named(name, obj, secret):
    result = outcome(name, obj)
    assert not result.passed
    assert "missing stop-gradient" in result.message, result.message


# --- correct variants written differently -----------------------------------------------------
def patchify_unfold(images, patch_size):
    b, c, h, w = images.shape
    p = patch_size
    u = F.unfold(images.float(), kernel_size=p, stride=p).to(images.dtype)
    return u.reshape(b, c, p, p, -1).permute(0, 4, 2, 3, 1).reshape(b, -1, p * p * c)


def unpatchify_fold(patches, patch_size, height, width):
    b, n, d = patches.shape
    p = patch_size
    c = d // (p * p)
    cols = patches.reshape(b, n, p, p, c).permute(0, 4, 2, 3, 1).reshape(b, c * p * p, n)
    return F.fold(cols.float(), (height, width), kernel_size=p, stride=p).to(patches.dtype)


def masking_loops(x, mask_ratio, noise):
    b, n, d = x.shape
    keep = int(n * (1 - mask_ratio))
    kept, mask, restore = [], torch.ones(b, n, dtype=x.dtype), torch.zeros(b, n, dtype=torch.long)
    for i in range(b):
        order = sorted(range(n), key=lambda j: float(noise[i, j]))
        kept.append(torch.stack([x[i, j] for j in order[:keep]]) if keep else x[i, :0])
        for pos, j in enumerate(order):
            restore[i, j] = pos
            if pos < keep:
                mask[i, j] = 0
    return torch.stack(kept), mask.to(x.device), restore.to(x.device)


def mae_loss_indexing(pred, target, mask, norm_pix_loss=False):
    if norm_pix_loss:
        target = (target - target.mean(-1, keepdim=True)) / torch.sqrt(
            target.var(-1, keepdim=True) + 1e-6
        )
    sel = mask.bool()
    return F.mse_loss(pred[sel], target[sel])


def nt_xent_cross_entropy(z1, z2, temperature):
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = (z @ z.T / temperature).fill_diagonal_(float("-inf"))
    labels = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(logits, labels)


class QueueRolling(torch.nn.Module):
    """Another bookkeeping: a Python-side pointer mirrored into the buffer."""

    def __init__(self, dim, size):
        super().__init__()
        self.register_buffer("queue", torch.zeros(size, dim))
        self.register_buffer("ptr", torch.zeros(1, dtype=torch.long))

    def forward(self, q, k, temperature):
        pos = torch.einsum("bd,bd->b", q, k.detach())[:, None]
        neg = torch.einsum("bd,kd->bk", q, self.queue.to(q.dtype))
        return torch.cat([pos, neg], 1).div(temperature)

    def enqueue(self, keys):
        with torch.no_grad():
            for key in keys:
                p = int(self.ptr)
                self.queue[p] = key
                self.ptr.fill_((p + 1) % self.queue.shape[0])


class MomentumEncoderForeach(torch.nn.Module):
    def __init__(self, dim_in, dim_out):
        super().__init__()
        self.online = torch.nn.Linear(dim_in, dim_out)
        self.target = torch.nn.Linear(dim_in, dim_out)
        self.target.requires_grad_(False)

    def update(self, m):
        with torch.no_grad():
            t = list(self.target.parameters())
            torch._foreach_lerp_(t, list(self.online.parameters()), 1 - m)

    def forward(self, x):
        return self.online(x), self.target(x).detach()


def simsiam_byol_form(p1, p2, z1, z2):
    """SimSiam's D written through BYOL's normalised MSE: -cos = (|p^ - z^|^2 - 2) / 2."""

    def d(p, z):
        return (
            (F.normalize(p, dim=-1) - F.normalize(z.detach(), dim=-1)).pow(2).sum(-1) - 2
        ).mean() / 2

    return d(p1, z2) / 2 + d(p2, z1) / 2


def barlow_batchnorm(z1, z2, lambd=5e-3):
    n, d = z1.shape
    bn = torch.nn.BatchNorm1d(d, affine=False, eps=1e-5).to(z1.device, z1.dtype)
    c = bn(z1).T @ bn(z2) / n
    on = (torch.diagonal(c) - 1).pow(2).sum()
    off = (c - torch.diag(torch.diagonal(c))).pow(2).sum()
    return on + lambd * off


def dino_stacked(s, t, c, n, st=0.1, tt=0.04, m=0.9):
    b = t.shape[0] // 2
    tp = F.softmax((t.detach() - c) / tt, -1).reshape(2, b, -1)
    sp = F.log_softmax(s / st, -1).reshape(n, b, -1)
    ce = -torch.einsum("tbk,vbk->tvb", tp, sp).mean(-1)  # (2, n)
    keep = ~torch.eye(2, n, dtype=torch.bool, device=s.device)
    new_center = torch.lerp(t.detach().mean(0, keepdim=True), c, m)
    return ce[keep].mean(), new_center


def schedule_numpy(num_tokens, steps):
    import numpy as np

    t = np.arange(1, steps + 1, dtype=np.float64)
    return [int(v) for v in np.floor(num_tokens * np.cos(np.pi / 2 * t / steps))]


def unmask_loops(tokens, logits, num_masked, mask_id):
    out = tokens.clone()
    probs = logits.double().softmax(-1)
    for b in range(tokens.shape[0]):
        masked = [i for i in range(tokens.shape[1]) if int(tokens[b, i]) == mask_id]
        conf = {i: float(probs[b, i].max()) for i in masked}
        for i in masked:
            out[b, i] = int(probs[b, i].argmax())
        for i in sorted(masked, key=lambda i: conf[i])[:num_masked]:
            out[b, i] = mask_id
    return out


def probe_scipy_shifted(features, labels, num_classes, weight_decay):
    """scipy's L-BFGS-B on the flattened [W | b] with the closed-form gradient, in float64 on the
    CPU; the bias returned shifted by +3 (softmax ignores a common shift: it must still pass)."""
    import numpy as np
    from scipy.optimize import minimize

    x = features.detach().cpu().double().numpy()
    y = labels.cpu().numpy()
    n, d = x.shape
    onehot = np.eye(num_classes)[y]

    def f(theta):
        w, b = theta[: num_classes * d].reshape(num_classes, d), theta[num_classes * d :]
        z = x @ w.T + b
        z = z - z.max(1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(1, keepdims=True))
        resid = np.exp(logp) - onehot
        loss = -(logp * onehot).sum() / n + weight_decay / 2 * (w * w).sum()
        grad = np.concatenate([(resid.T @ x / n + weight_decay * w).ravel(), resid.mean(0)])
        return loss, grad

    start = np.zeros(num_classes * (d + 1))
    res = minimize(f, start, jac=True, method="L-BFGS-B", options={"gtol": 1e-12, "ftol": 0})
    w = torch.from_numpy(res.x[: num_classes * d].reshape(num_classes, d))
    b = torch.from_numpy(res.x[num_classes * d :]) + 3.0
    return w.to(features), b.to(features)


ALTERNATIVES = [
    ("ssl_learning.patchify", patchify_unfold),
    ("ssl_learning.unpatchify", unpatchify_fold),
    ("ssl_learning.random_masking", masking_loops),
    ("ssl_learning.mae_loss", mae_loss_indexing),
    ("ssl_learning.nt_xent", nt_xent_cross_entropy),
    ("ssl_learning.moco_queue", QueueRolling),
    ("ssl_learning.momentum_encoder", MomentumEncoderForeach),
    ("ssl_learning.simsiam_loss", simsiam_byol_form),
    ("ssl_learning.barlow_twins_loss", barlow_batchnorm),
    ("ssl_learning.dino_loss", dino_stacked),
    ("ssl_learning.cosine_unmask_schedule", schedule_numpy),
    ("ssl_learning.unmask_step", unmask_loops),
    ("ssl_learning.fit_linear_probe", probe_scipy_shifted),
]


@pytest.mark.parametrize("name,obj", ALTERNATIVES, ids=[a[0].split(".")[1] for a in ALTERNATIVES])
def test_correct_variant_written_differently_passes(name, obj, secret):
    for n in (name, name + ".visible"):
        result = outcome(n, obj)
        assert result.passed, result.message


# --- the linear probe: a fit stopped early is told so by the comparison -----------------------
def probe_lbfgs_defaults(features, labels, num_classes, weight_decay):
    """torch.optim.LBFGS with its defaults: one step() is at most 20 iterations."""
    w = torch.zeros(num_classes, features.shape[1], requires_grad=True)
    b = torch.zeros(num_classes, requires_grad=True)
    opt = torch.optim.LBFGS([w, b])

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(features.float() @ w.T + b, labels) + weight_decay / 2 * (w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().to(features), b.detach().to(features)


def probe_float32_bias_penalised(features, labels, num_classes, weight_decay):
    """A student's own float32 L-BFGS on the wrong objective: still named (by its (W, b))."""
    w = torch.zeros(num_classes, features.shape[1], requires_grad=True)
    b = torch.zeros(num_classes, requires_grad=True)
    opt = torch.optim.LBFGS(
        [w, b],
        max_iter=1000,
        tolerance_grad=1e-9,
        tolerance_change=1e-12,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        penalty = (w**2).sum() + (b**2).sum()
        loss = F.cross_entropy(features.float() @ w.T + b, labels) + weight_decay / 2 * penalty
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().to(features), b.detach().to(features)


def test_a_probe_stopped_early_fails_and_is_told_so(secret):
    result = outcome("ssl_learning.fit_linear_probe", probe_lbfgs_defaults)
    assert not result.passed
    assert "the optimiser stopped short of the minimum" in result.message, result.message
    assert "common mistake" not in result.message, result.message


def test_a_students_own_fit_of_a_wrong_objective_is_named(secret):
    result = outcome("ssl_learning.fit_linear_probe", probe_float32_bias_penalised)
    assert not result.passed
    assert "the bias penalised too" in result.message, result.message


def test_a_probe_of_the_wrong_shape_or_dtype_is_told_so():
    def transposed(features, labels, num_classes, weight_decay):
        w, b = ref.fit_linear_probe(features, labels, num_classes, weight_decay)
        return w.T.contiguous(), b

    def float64(features, labels, num_classes, weight_decay):
        w, b = ref.fit_linear_probe(features.double(), labels, num_classes, weight_decay)
        return w, b

    assert (
        "W: expected shape" in outcome("ssl_learning.fit_linear_probe.visible", transposed).message
    )
    assert "W: expected dtype float32" in outcome("ssl_learning.fit_linear_probe", float64).message
