"""The graded blocks of chapter 05-ssl (Self-supervised and contrastive learning): the references.

Each block states its shapes and is proven against an independent oracle in
``tests/test_ssl_learning_oracles.py`` (Hugging Face ``ViTMAEForPreTraining``, ``F.unfold``,
``F.cross_entropy``, ``nn.BatchNorm1d``, float64 loops); the checks in
``autograder/chapters/ssl_learning/`` grade students against it.

Blocks: :func:`patchify` / :func:`unpatchify`, :func:`random_masking`, :func:`mae_loss` (MAE,
He et al. 2022); :func:`nt_xent` (SimCLR's InfoNCE over 2N views); :class:`MoCoQueue` and
:func:`momentum_update` (MoCo); :func:`simsiam_loss` (SimSiam / BYOL, stop-gradient);
:func:`barlow_twins_loss`; :func:`dino_loss` (centering, sharpening, EMA of the center);
:func:`cosine_unmask_schedule` (iterative unmasking, MaskGIT); :func:`fit_linear_probe` (the linear
probe that scores frozen features: L2-regularised multinomial logistic regression, to its optimum).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# --------------------------------------------------------------------------------------------
# MAE: patches, random masking, the loss on masked patches


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut images into non-overlapping square patches, MAE's layout.

    Args:
        images: (B, C, H, W), H and W multiples of ``patch_size``.
    Returns:
        (B, N, p*p*C) with N = (H/p) * (W/p); patches numbered row by row (left to right, top to
        bottom); inside a patch the values are ordered (row, column, channel), channel fastest.
    """
    b, c, h, w = images.shape
    p = patch_size
    x = images.reshape(b, c, h // p, p, w // p, p)
    x = x.permute(0, 2, 4, 3, 5, 1)  # b, h/p, w/p, p(row), p(col), c
    return x.reshape(b, (h // p) * (w // p), p * p * c)


def unpatchify(patches: torch.Tensor, patch_size: int, height: int, width: int) -> torch.Tensor:
    """Inverse of :func:`patchify`: (B, N, p*p*C) -> (B, C, height, width)."""
    b, n, d = patches.shape
    p = patch_size
    c = d // (p * p)
    x = patches.reshape(b, height // p, width // p, p, p, c)
    x = x.permute(0, 5, 1, 3, 2, 4)  # b, c, h/p, p, w/p, p
    return x.reshape(b, c, height, width)


def random_masking(
    x: torch.Tensor, mask_ratio: float, noise: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """MAE's per-sample random masking by sorting noise.

    Keeps ``len_keep = int(N * (1 - mask_ratio))`` patches per sample: those with the *smallest*
    noise, in increasing order of noise.

    Args:
        x: (B, N, D) patch embeddings.
        mask_ratio: fraction of patches to remove, in [0, 1).
        noise: (B, N) floats, distinct within each row (one random draw per patch).
    Returns:
        x_kept: (B, len_keep, D), x's dtype; row b lists x[b, ids_shuffle[b, :len_keep]].
        mask: (B, N), x's dtype, 1.0 where the patch is removed, 0.0 where it is kept.
        ids_restore: (B, N) int64, the inverse permutation of ids_shuffle = argsort(noise): the
            position of patch n in the shuffled order.
    """
    b, n, d = x.shape
    len_keep = int(n * (1 - mask_ratio))
    ids_shuffle = torch.argsort(noise, dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    ids_keep = ids_shuffle[:, :len_keep]
    x_kept = torch.gather(x, 1, ids_keep.unsqueeze(-1).expand(b, len_keep, d))
    mask = torch.ones(b, n, dtype=x.dtype, device=x.device)
    mask[:, :len_keep] = 0
    mask = torch.gather(mask, 1, ids_restore)
    return x_kept, mask, ids_restore


def mae_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    norm_pix_loss: bool = False,
) -> torch.Tensor:
    """MAE's reconstruction loss: mean squared error per patch, averaged over *masked* patches only.

    Args:
        pred: (B, N, D) the decoder's pixel predictions, one row per patch.
        target: (B, N, D) the patchified image (:func:`patchify`).
        mask: (B, N) 1 for removed (masked) patches, 0 for visible ones; at least one 1.
        norm_pix_loss: normalise each target patch by its own mean and (unbiased) variance,
            ``(t - mean) / sqrt(var + 1e-6)``, before the error.
    Returns:
        A scalar tensor in pred's dtype.
    """
    if norm_pix_loss:
        mean = target.mean(dim=-1, keepdim=True)
        var = target.var(dim=-1, keepdim=True)
        target = (target - mean) / (var + 1.0e-6) ** 0.5
    per_patch = ((pred - target) ** 2).mean(dim=-1)
    return (per_patch * mask).sum() / mask.sum()


# --------------------------------------------------------------------------------------------
# Contrastive: NT-Xent (SimCLR), MoCo's queue and momentum update


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's NT-Xent loss over 2N views.

    Rows are L2-normalised; the 2N x 2N cosine similarities are divided by ``temperature``; for
    anchor i the positive is the other view of the same example (i + N mod 2N), the other 2N - 2
    views are negatives, and the anchor's similarity with itself is excluded. The loss is the mean
    over the 2N anchors of -log softmax(positive).

    Args:
        z1, z2: (N, d) projections of the two views (row i of z1 and row i of z2: one example).
        temperature: tau > 0.
    Returns:
        A scalar tensor in z1's dtype.
    """
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / temperature
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    sim = sim.masked_fill(self_mask, float("-inf"))
    pos = torch.arange(2 * n, device=z.device).roll(n)  # i -> i + N mod 2N
    return -(sim.log_softmax(dim=1)[torch.arange(2 * n, device=z.device), pos]).mean()


class MoCoQueue(nn.Module):
    """MoCo's dictionary: a FIFO queue of K keys and the contrastive logits against it.

    Buffers: ``queue`` (K, dim) float, ``ptr`` (1,) int64, the row the next key goes to.
    """

    def __init__(self, dim: int, size: int):
        super().__init__()
        self.register_buffer("queue", F.normalize(torch.randn(size, dim), dim=1))
        self.register_buffer("ptr", torch.zeros(1, dtype=torch.long))

    def forward(self, q: torch.Tensor, k: torch.Tensor, temperature: float) -> torch.Tensor:
        """Logits (B, 1 + K): column 0 is q_b . k_b, columns 1.. are q_b . queue_j; all / tau.

        q, k: (B, dim), already L2-normalised; k comes from the key encoder: no gradient reaches it.
        The queue is not changed here.
        """
        k = k.detach()
        l_pos = (q * k).sum(dim=1, keepdim=True)
        l_neg = q @ self.queue.T.to(q.dtype)
        return torch.cat([l_pos, l_neg], dim=1) / temperature

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """Write keys (B, dim), B <= K, at rows ptr, ptr+1, ... (wrapping at K); advance ptr."""
        size = self.queue.shape[0]
        b = keys.shape[0]
        p = int(self.ptr)
        rows = (p + torch.arange(b, device=self.queue.device)) % size
        self.queue[rows] = keys.detach().to(self.queue.dtype)
        self.ptr[0] = (p + b) % size


@torch.no_grad()
def momentum_update(
    target: list[torch.Tensor], online: list[torch.Tensor], m: float
) -> list[torch.Tensor]:
    """MoCo / BYOL's EMA: theta_k <- m * theta_k + (1 - m) * theta_q, in place; returns ``target``."""
    for t, o in zip(target, online):
        t.mul_(m).add_(o.detach().to(t.dtype), alpha=1 - m)
    return target


class MomentumEncoder(nn.Module):
    """An online network and its momentum (EMA) copy: MoCo's key encoder, BYOL's target network.

    ``online`` and ``target`` are ``nn.Linear(dim_in, dim_out)``; the target's parameters do not
    require gradients and change only through :meth:`update`.
    """

    def __init__(self, dim_in: int, dim_out: int):
        super().__init__()
        self.online = nn.Linear(dim_in, dim_out)
        self.target = nn.Linear(dim_in, dim_out)
        self.target.load_state_dict(self.online.state_dict())
        for p in self.target.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, m: float) -> None:
        """theta_target <- m * theta_target + (1 - m) * theta_online, every parameter, in place."""
        momentum_update(list(self.target.parameters()), list(self.online.parameters()), m)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(online(x), target(x)); no gradient flows through the target's output."""
        with torch.no_grad():
            t = self.target(x)
        return self.online(x), t


# --------------------------------------------------------------------------------------------
# Without negatives: SimSiam / BYOL, Barlow Twins, DINO


def simsiam_loss(
    p1: torch.Tensor, p2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor
) -> torch.Tensor:
    """SimSiam's symmetrised loss: D(p1, sg(z2)) / 2 + D(p2, sg(z1)) / 2, D(p, z) = -mean cos(p, z).

    Args:
        p1, p2: (B, d) predictor outputs of views 1 and 2.
        z1, z2: (B, d) projections of views 1 and 2 (targets: stop-gradient, no gradient flows).
    Returns:
        A scalar tensor in p1's dtype, in [-1, 1].
    """

    def d(p, z):
        return -F.cosine_similarity(p, z.detach(), dim=-1).mean()

    return d(p1, z2) / 2 + d(p2, z1) / 2


def barlow_twins_loss(z1: torch.Tensor, z2: torch.Tensor, lambd: float = 5e-3) -> torch.Tensor:
    """Barlow Twins: the cross-correlation of standardised embeddings pushed towards the identity.

    Each feature is standardised over the batch as BatchNorm1d(affine=False) does in training
    mode: (z - mean) / sqrt(var + 1e-5) with the biased variance. C = z1n^T z2n / N (D x D);
    loss = sum_i (1 - C_ii)^2 + lambd * sum_{i != j} C_ij^2.

    Args:
        z1, z2: (N, D) embeddings of the two views, N >= 2.
    Returns:
        A scalar tensor in z1's dtype.
    """
    n = z1.shape[0]

    def standardise(z):
        mean = z.mean(dim=0)
        var = z.var(dim=0, unbiased=False)
        return (z - mean) / torch.sqrt(var + 1e-5)

    c = standardise(z1).T @ standardise(z2) / n
    diag = torch.diagonal(c)
    on = (1 - diag).pow(2).sum()
    off = c.pow(2).sum() - diag.pow(2).sum()
    return on + lambd * off


def dino_loss(
    student_out: torch.Tensor,
    teacher_out: torch.Tensor,
    center: torch.Tensor,
    n_crops: int,
    student_temp: float = 0.1,
    teacher_temp: float = 0.04,
    center_momentum: float = 0.9,
) -> tuple[torch.Tensor, torch.Tensor]:
    """DINO's self-distillation loss, with the teacher centred and sharpened, and the new center.

    Args:
        student_out: (n_crops * B, K) student logits, crop-major (rows v*B .. v*B+B-1: crop v);
            crops 0 and 1 are the two global views.
        teacher_out: (2 * B, K) teacher logits of the two global views (no gradient flows).
        center: (1, K) running center of the teacher's logits.
        n_crops: number of student crops (>= 2).
    Returns:
        loss: scalar (student dtype): the mean over pairs (teacher view t, student crop v != t) of
            mean_b [ -sum_k softmax((teacher - center) / teacher_temp)_k
                      * log_softmax(student / student_temp)_k ].
        new_center: (1, K): center * m + (1 - m) * teacher_out.mean(0), no gradient.
    """
    b = teacher_out.shape[0] // 2
    teacher_out = teacher_out.detach()
    t = F.softmax((teacher_out - center) / teacher_temp, dim=-1).chunk(2)
    s = F.log_softmax(student_out / student_temp, dim=-1).chunk(n_crops)
    total, terms = 0.0, 0
    for it, tp in enumerate(t):
        for v, sp in enumerate(s):
            if v == it:
                continue
            total = total + (-(tp * sp).sum(dim=-1)).mean()
            terms += 1
    assert b * 2 == teacher_out.shape[0]
    new_center = center * center_momentum + teacher_out.mean(dim=0, keepdim=True) * (
        1 - center_momentum
    )
    return total / terms, new_center


# --------------------------------------------------------------------------------------------
# Masked generative models: the iterative-unmasking schedule


def cosine_unmask_schedule(num_tokens: int, steps: int) -> list[int]:
    """How many tokens are still masked after each of ``steps`` decoding steps (MaskGIT's cosine).

    After step t (1..T) the masked count is floor(N * cos(pi/2 * t/T)); the last is 0. Returned
    as a list of T ints, non-increasing.
    """
    return [math.floor(num_tokens * math.cos(math.pi / 2 * t / steps)) for t in range(1, steps + 1)]


def unmask_step(
    tokens: torch.Tensor,
    logits: torch.Tensor,
    num_to_keep_masked: int,
    mask_id: int,
) -> torch.Tensor:
    """One greedy iterative-unmasking step: predict every masked position, keep the most confident.

    tokens: (B, L) int64 with ``mask_id`` at masked positions; logits: (B, L, V). Every masked
    position gets argmax(logits); then the ``num_to_keep_masked`` masked positions with the lowest
    max-probability are masked again (ties: lower position stays masked first). Returns (B, L).
    """
    masked = tokens == mask_id
    probs = logits.float().softmax(-1)
    conf, pred = probs.max(-1)
    out = torch.where(masked, pred, tokens)
    conf = torch.where(masked, conf, torch.full_like(conf, float("inf")))
    if num_to_keep_masked > 0:
        order = torch.argsort(conf, dim=1, stable=True)[:, :num_to_keep_masked]
        out = out.scatter(1, order, mask_id)
    return out


# --------------------------------------------------------------------------------------------
# The linear probe: multinomial logistic regression on frozen features


def probe_objective(
    features: torch.Tensor,
    labels: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor,
    weight_decay: float,
) -> torch.Tensor:
    """The probe's objective: mean cross-entropy of ``features @ weight.T + bias`` plus
    ``weight_decay / 2 * ||weight||^2`` (the bias is not penalised). A scalar, in float64."""
    x, w, b = features.double(), weight.double(), bias.double()
    ce = F.cross_entropy(x @ w.T + b, labels)
    return ce + weight_decay / 2 * w.pow(2).sum()


def softmax_regression_newton(
    features: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int,
    weight_decay: float,
    bias_decay: float = 0.0,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Minimise mean CE + (weight_decay / 2) ||W||^2 + (bias_decay / 2) ||b||^2 by damped Newton
    in float64 (the Hessian in closed form: C (D + 1) <= a few hundred parameters).

    With ``bias_decay = 0`` the objective does not change when the same constant is added to every
    bias (softmax's shift invariance): the Hessian is singular along that one direction, and the
    step is solved with it added as a rank-one term. The gradient never has a component along it,
    so b keeps summing to zero from its start at 0. Stops when every gradient entry is below
    ``tol`` (or the line search can decrease the objective no further, at rounding level).
    Returns (W (C, D), b (C,)) in float64 on the features' device.
    """
    x = features.detach().double()
    n, d = x.shape
    c = num_classes
    dev = x.device
    xt = torch.cat([x, torch.ones(n, 1, dtype=x.dtype, device=dev)], dim=1)  # (N, D + 1)
    y = F.one_hot(labels.to(dev), c).to(x.dtype)
    reg = torch.full((c, d + 1), float(weight_decay), dtype=x.dtype, device=dev)
    reg[:, d] = float(bias_decay)
    theta = torch.zeros(c, d + 1, dtype=x.dtype, device=dev)  # [W | b]
    size = c * (d + 1)
    shift = torch.zeros(c, d + 1, dtype=x.dtype, device=dev)
    shift[:, d] = 1 / math.sqrt(c)
    shift = shift.flatten()

    def objective(th: torch.Tensor) -> float:
        return float(F.cross_entropy(xt @ th.T, labels.to(dev)) + 0.5 * (reg * th * th).sum())

    for _ in range(max_iter):
        p = (xt @ theta.T).softmax(dim=1)  # (N, C)
        grad = (p - y).T @ xt / n + reg * theta  # (C, D + 1)
        if float(grad.abs().max()) < tol:
            break
        # Hessian of the mean CE: 1/N sum_i (diag(p_i) - p_i p_i^T) kron x_i x_i^T
        diag = torch.einsum("ic,ij,il->cjl", p, xt, xt) / n  # (C, D + 1, D + 1)
        z = (p[:, :, None] * xt[:, None, :]).reshape(n, size)
        hess = -(z.T @ z) / n
        blocks = hess.view(c, d + 1, c, d + 1)
        idx = torch.arange(c, device=dev)
        blocks[idx, :, idx, :] += diag
        hess = hess + torch.diag(reg.flatten())
        if bias_decay == 0:
            hess = hess + torch.outer(shift, shift)
        step = torch.linalg.solve(hess, -grad.flatten()).view(c, d + 1)
        f0, slope, t = objective(theta), float((grad * step).sum()), 1.0
        while objective(theta + t * step) > f0 + 1e-4 * t * slope and t > 1e-8:
            t /= 2
        if t <= 1e-8:  # no decrease left at float64's rounding
            break
        theta = theta + t * step
    return theta[:, :d].contiguous(), theta[:, d].contiguous()


def fit_linear_probe(
    features: torch.Tensor, labels: torch.Tensor, num_classes: int, weight_decay: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """A linear probe: the (W, b) minimising mean cross-entropy + (weight_decay / 2) ||W||^2.

    Args:
        features: (N, D) float32 or float64, frozen (no gradient is taken through them).
        labels: (N,) int64 in [0, num_classes), every class present at least once.
        num_classes: C >= 2.
        weight_decay: lambda > 0; the bias is not penalised.
    Returns:
        (W (C, D), b (C,)) in the features' dtype, on their device. W is unique (the objective is
        strictly convex in it); b is unique up to a constant added to every class (this returns
        the one with sum zero).
    """
    w, b = softmax_regression_newton(features, labels, num_classes, weight_decay)
    return w.to(features.dtype), b.to(features.dtype)
