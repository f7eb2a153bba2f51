"""Chapter 05-ssl: the references against independent oracles (never against themselves).

Oracles: Hugging Face ``ViTMAEForPreTraining`` (patchify, random masking with the same noise, the
masked loss with and without per-patch normalisation), ``F.unfold``, ``F.cross_entropy`` (InfoNCE
written as classification), ``nn.BatchNorm1d``, scikit-learn's ``LogisticRegression`` and
``log_loss`` (the linear probe), and plain float64 loops where no library has one.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course import ssl_learning as ref


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


# --- MAE -------------------------------------------------------------------------------------


def _hf_mae(image_size=16, patch=4, channels=3, mask_ratio=0.75, norm_pix=False):
    from transformers import ViTMAEConfig, ViTMAEForPreTraining

    cfg = ViTMAEConfig(
        image_size=image_size,
        patch_size=patch,
        num_channels=channels,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        decoder_hidden_size=16,
        decoder_num_hidden_layers=1,
        decoder_num_attention_heads=2,
        decoder_intermediate_size=32,
        mask_ratio=mask_ratio,
        norm_pix_loss=norm_pix,
    )
    torch.manual_seed(0)
    return ViTMAEForPreTraining(cfg).eval()


@pytest.mark.parametrize("channels,patch,size", [(3, 4, 16), (1, 2, 8), (2, 8, 32)])
def test_patchify_matches_hf_vitmae(channels, patch, size):
    model = _hf_mae(size, patch, channels)
    x = torch.randn(2, channels, size, size, generator=gen(1))
    torch.testing.assert_close(ref.patchify(x, patch), model.patchify(x), rtol=0, atol=0)
    p = model.patchify(x)
    torch.testing.assert_close(
        ref.unpatchify(p, patch, size, size), model.unpatchify(p, (size, size)), rtol=0, atol=0
    )


def test_patchify_matches_unfold_up_to_the_documented_order():
    """F.unfold gives (B, C*p*p, N), channel-major inside a patch: reorder to (p, p, C)."""
    b, c, h, w, p = 2, 3, 8, 12, 4
    x = torch.randn(b, c, h, w, generator=gen(2))
    u = F.unfold(x, kernel_size=p, stride=p)  # (B, C*p*p, N), patches row by row
    u = u.reshape(b, c, p, p, -1).permute(0, 4, 2, 3, 1).reshape(b, -1, p * p * c)
    torch.testing.assert_close(ref.patchify(x, p), u, rtol=0, atol=0)
    back = F.fold(
        ref.patchify(x, p).reshape(b, -1, p, p, c).permute(0, 4, 2, 3, 1).reshape(b, c * p * p, -1),
        output_size=(h, w),
        kernel_size=p,
        stride=p,
    )
    torch.testing.assert_close(ref.unpatchify(ref.patchify(x, p), p, h, w), back, rtol=0, atol=0)
    torch.testing.assert_close(back, x, rtol=0, atol=0)


@pytest.mark.parametrize("ratio", [0.75, 0.5, 0.0, 0.9375])
def test_random_masking_matches_hf_vitmae_with_the_same_noise(ratio):
    model = _hf_mae(16, 4, 3, mask_ratio=ratio)
    seq = torch.randn(3, 16, 5, generator=gen(3))
    noise = torch.rand(3, 16, generator=gen(4))
    want = model.vit.embeddings.random_masking(seq, noise=noise)
    got = ref.random_masking(seq, ratio, noise)
    for w, g in zip(want, got):
        torch.testing.assert_close(g, w, rtol=0, atol=0)


def test_random_masking_by_brute_force():
    """Kept = the patches with the smallest noise, in increasing noise; restore inverts the shuffle."""
    x = torch.randn(4, 10, 3, generator=gen(5), dtype=torch.float64)
    noise = torch.rand(4, 10, generator=gen(6))
    kept, mask, restore = ref.random_masking(x, 0.6, noise)
    for b in range(4):
        order = sorted(range(10), key=lambda n: float(noise[b, n]))
        assert kept.shape == (4, 4, 3)
        for j, n in enumerate(order[:4]):
            assert torch.equal(kept[b, j], x[b, n])
        for n in range(10):
            assert mask[b, n] == (0.0 if n in order[:4] else 1.0)
            assert order[int(restore[b, n])] == n


@pytest.mark.parametrize("norm_pix", [False, True])
def test_mae_loss_matches_hf_vitmae_forward(norm_pix):
    model = _hf_mae(16, 4, 3, norm_pix=norm_pix)
    x = torch.randn(2, 3, 16, 16, generator=gen(7))
    noise = torch.rand(2, 16, generator=gen(8))
    with torch.no_grad():
        out = model(pixel_values=x, noise=noise)
    loss = ref.mae_loss(out.logits, ref.patchify(x, 4), out.mask, norm_pix_loss=norm_pix)
    torch.testing.assert_close(loss, out.loss)


def test_mae_loss_by_loop():
    pred = torch.randn(2, 5, 6, generator=gen(9), dtype=torch.float64)
    target = torch.randn(2, 5, 6, generator=gen(10), dtype=torch.float64)
    mask = torch.tensor([[1, 0, 1, 1, 0], [0, 0, 0, 1, 0]], dtype=torch.float64)
    total, count = 0.0, 0
    for b in range(2):
        for n in range(5):
            if mask[b, n]:
                total += (
                    sum((float(pred[b, n, i]) - float(target[b, n, i])) ** 2 for i in range(6)) / 6
                )
                count += 1
    assert math.isclose(float(ref.mae_loss(pred, target, mask)), total / count, rel_tol=1e-12)


# --- NT-Xent and MoCo -------------------------------------------------------------------------


@pytest.mark.parametrize("n,d,tau", [(1, 3, 0.5), (4, 8, 0.1), (7, 5, 1.0)])
def test_nt_xent_is_cross_entropy_over_2n_minus_one_classes(n, d, tau):
    z1 = torch.randn(n, d, generator=gen(11))
    z2 = torch.randn(n, d, generator=gen(12))
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = z @ z.T / tau
    logits.fill_diagonal_(-1e9)
    labels = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    torch.testing.assert_close(ref.nt_xent(z1, z2, tau), F.cross_entropy(logits, labels))


def test_nt_xent_by_float64_loop():
    n, d, tau = 3, 4, 0.3
    z1 = torch.randn(n, d, generator=gen(13), dtype=torch.float64)
    z2 = torch.randn(n, d, generator=gen(14), dtype=torch.float64)
    views = [v / v.norm() for v in list(z1) + list(z2)]
    total = 0.0
    for i in range(2 * n):
        j = (i + n) % (2 * n)
        den = sum(math.exp(float(views[i] @ views[k]) / tau) for k in range(2 * n) if k != i)
        total += -math.log(math.exp(float(views[i] @ views[j]) / tau) / den)
    assert math.isclose(float(ref.nt_xent(z1, z2, tau)), total / (2 * n), rel_tol=1e-12)


def test_nt_xent_with_one_example_has_no_negatives_and_zero_loss():
    """With N = 1 each anchor sees only its positive: the loss is exactly 0 (softmax of one)."""
    z1 = torch.randn(1, 4, generator=gen(15))
    z2 = torch.randn(1, 4, generator=gen(16))
    assert float(ref.nt_xent(z1, z2, 0.2)) == pytest.approx(0.0, abs=1e-7)


def test_moco_queue_against_a_python_list():
    """A deque of the last K keys, oldest overwritten first, read back in row order."""
    torch.manual_seed(0)
    dim, size = 3, 5
    mod = ref.MoCoQueue(dim, size)
    rows = [mod.queue[i].clone() for i in range(size)]
    ptr = 0
    for b in (2, 2, 3, 1, 5):
        keys = torch.randn(b, dim, generator=gen(b))
        q = F.normalize(torch.randn(b, dim, generator=gen(10 + b)), dim=1)
        logits = mod(q, keys, 0.07)
        want_neg = torch.stack([torch.stack([qi @ r for r in rows]) for qi in q]) / 0.07
        want_pos = (q * keys).sum(1, keepdim=True) / 0.07
        torch.testing.assert_close(logits, torch.cat([want_pos, want_neg], 1))
        mod.enqueue(keys)
        for key in keys:
            rows[ptr] = key.clone()
            ptr = (ptr + 1) % size
        torch.testing.assert_close(mod.queue, torch.stack(rows))
        assert int(mod.ptr) == ptr


def test_moco_logits_give_infonce_as_cross_entropy_with_label_zero():
    """MoCo's loss: CE(logits, 0) = -log exp(q.k+/t) / (exp(q.k+/t) + sum_queue exp(q.k/t))."""
    torch.manual_seed(1)
    mod = ref.MoCoQueue(4, 6)
    q = F.normalize(torch.randn(2, 4, generator=gen(1), dtype=torch.float64), dim=1)
    k = F.normalize(torch.randn(2, 4, generator=gen(2), dtype=torch.float64), dim=1)
    loss = F.cross_entropy(mod(q, k, 0.2), torch.zeros(2, dtype=torch.long))
    total = 0.0
    for b in range(2):
        pos = math.exp(float(q[b] @ k[b]) / 0.2)
        neg = sum(math.exp(float(q[b] @ mod.queue[j].double()) / 0.2) for j in range(6))
        total += -math.log(pos / (pos + neg))
    assert math.isclose(float(loss), total / 2, rel_tol=1e-6)


def test_momentum_update_matches_torch_ema_helper():
    """torch.optim.swa_utils.get_ema_multi_avg_fn: ema <- decay * ema + (1 - decay) * current."""
    from torch.optim.swa_utils import get_ema_multi_avg_fn

    online = [torch.randn(3, 4, generator=gen(1)), torch.randn(4, generator=gen(2))]
    target = [torch.randn(3, 4, generator=gen(3)), torch.randn(4, generator=gen(4))]
    want = [t.clone() for t in target]
    get_ema_multi_avg_fn(0.99)(want, online, torch.tensor(1))
    out = ref.momentum_update(target, online, 0.99)
    assert out is target
    for w, t in zip(want, target):
        torch.testing.assert_close(t, w)


# --- SimSiam, Barlow Twins, DINO ------------------------------------------------------------


def test_simsiam_loss_by_loop_and_gradients_stop_at_the_targets():
    b, d = 3, 5
    p1, p2, z1, z2 = (
        torch.randn(b, d, generator=gen(i), dtype=torch.float64, requires_grad=True)
        for i in range(4)
    )
    loss = ref.simsiam_loss(p1, p2, z1, z2)

    def cos(a, c):
        a, c = a.detach(), c.detach()
        return float(a @ c) / (float(a.norm()) * float(c.norm()))

    want = sum(-cos(p1[i], z2[i]) / 2 - cos(p2[i], z1[i]) / 2 for i in range(b)) / b
    assert math.isclose(float(loss), want, rel_tol=1e-12)
    loss.backward()
    assert z1.grad is None and z2.grad is None and p1.grad is not None
    # BYOL's form: 2 - 2 cos = mse of the normalised vectors; the same gradient direction
    byol = (F.normalize(p1, dim=-1) - F.normalize(z2.detach(), dim=-1)).pow(2).sum(-1).mean()
    cos12 = F.cosine_similarity(p1, z2, dim=-1).mean()
    assert math.isclose(float(byol), float(2 - 2 * cos12), rel_tol=1e-12)


@pytest.mark.parametrize("n,d,lambd", [(2, 3, 5e-3), (8, 6, 0.1), (5, 1, 1.0)])
def test_barlow_twins_matches_batchnorm_and_a_loop(n, d, lambd):
    z1 = torch.randn(n, d, generator=gen(20), dtype=torch.float64)
    z2 = torch.randn(n, d, generator=gen(21), dtype=torch.float64)
    bn = nn.BatchNorm1d(d, affine=False, eps=1e-5).double().train()
    a, b = bn(z1), bn(z2)
    loss = 0.0
    for i in range(d):
        for j in range(d):
            c = sum(float(a[k, i]) * float(b[k, j]) for k in range(n)) / n
            loss += (1 - c) ** 2 if i == j else lambd * c**2
    assert math.isclose(float(ref.barlow_twins_loss(z1, z2, lambd)), loss, rel_tol=1e-10)


def test_barlow_twins_is_zero_for_identical_decorrelated_views():
    """Standardised, uncorrelated features seen twice: C = I (up to eps), loss ~ 0."""
    z = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]], dtype=torch.float64)
    assert float(ref.barlow_twins_loss(z, z, 0.5)) < 1e-8


def test_dino_loss_matches_the_reference_formulation_by_loop():
    """DINO's DINOLoss (facebookresearch/dino, main_dino.py) re-derived with explicit loops."""
    b, k, crops = 3, 7, 4
    s = torch.randn(crops * b, k, generator=gen(30), dtype=torch.float64, requires_grad=True)
    t = torch.randn(2 * b, k, generator=gen(31), dtype=torch.float64, requires_grad=True)
    center = torch.randn(1, k, generator=gen(32), dtype=torch.float64)
    loss, new_center = ref.dino_loss(s, t, center, crops, 0.1, 0.04, 0.9)
    total, terms = 0.0, 0
    for tv in range(2):
        for sv in range(crops):
            if sv == tv:
                continue
            pair = 0.0
            for i in range(b):
                tl = [(float(t[tv * b + i, j]) - float(center[0, j])) / 0.04 for j in range(k)]
                m = max(tl)
                tz = sum(math.exp(x - m) for x in tl)
                sl = [float(s[sv * b + i, j]) / 0.1 for j in range(k)]
                ms = max(sl)
                lse = ms + math.log(sum(math.exp(x - ms) for x in sl))
                pair += -sum(math.exp(tl[j] - m) / tz * (sl[j] - lse) for j in range(k))
            total += pair / b
            terms += 1
    assert terms == 2 * crops - 2
    assert math.isclose(float(loss), total / terms, rel_tol=1e-10)
    want_center = [
        0.9 * float(center[0, j]) + 0.1 * sum(float(t[i, j]) for i in range(2 * b)) / (2 * b)
        for j in range(k)
    ]
    torch.testing.assert_close(new_center[0], torch.tensor(want_center, dtype=torch.float64))
    loss.backward()
    assert t.grad is None and s.grad is not None and not new_center.requires_grad


def test_cosine_unmask_schedule_matches_maskgit_formula():
    n, steps = 256, 8
    sched = ref.cosine_unmask_schedule(n, steps)
    assert sched[-1] == 0 and all(a >= b for a, b in zip(sched, sched[1:]))
    assert sched[0] == math.floor(256 * math.cos(math.pi / 16))


def test_unmask_step_keeps_the_least_confident_masked():
    tokens = torch.tensor([[9, 1, 9, 9]])
    logits = torch.full((1, 4, 9), -5.0)
    logits[0, 0, 3] = 5.0  # confident
    logits[0, 2, 4] = 0.5  # least confident
    logits[0, 3, 5] = 2.0
    out = ref.unmask_step(tokens, logits, 1, mask_id=9)
    assert out.tolist() == [[3, 1, 9, 5]]


# --- the linear probe ----------------------------------------------------------------------------


def _probe_data(seed, n, d, c):
    from autograder.chapters.ssl_learning.linear_probe import _data

    return _data(gen(seed), n, d, c, torch.float64)


def _centred(b):
    return b - b.mean()


@pytest.mark.parametrize("solver,atol", [("lbfgs", 1e-4), ("newton-cg", 1e-9)])
@pytest.mark.parametrize(
    "n,d,c,lam", [(40, 4, 3, 0.1), (300, 32, 10, 0.01), (5, 3, 5, 0.1), (100, 1, 4, 1.0)]
)
def test_linear_probe_matches_sklearn_multinomial_logistic_regression(n, d, c, lam, solver, atol):
    """scikit-learn minimises C * sum of the N log-losses + ||W||^2 / 2 with the intercept free:
    divided by C N, our objective with lambda = 1 / (C N). Its L-BFGS stops a little short on
    the ill-conditioned cases (1e-6 in W, 5e-5 in b, 1e-13 in the objective), its Newton-CG does not: the
    reference's objective is never above either's."""
    from sklearn.linear_model import LogisticRegression

    x, y = _probe_data(n + c, n, d, c)
    clf = LogisticRegression(C=1 / (lam * n), solver=solver, tol=1e-12, max_iter=100_000)
    clf.fit(x.numpy(), y.numpy())
    coef, intercept = torch.from_numpy(clf.coef_), torch.from_numpy(clf.intercept_)
    w, b = ref.fit_linear_probe(x, y, c, lam)
    torch.testing.assert_close(w, coef, rtol=0, atol=atol)
    torch.testing.assert_close(_centred(b), _centred(intercept), rtol=0, atol=atol)
    mine, theirs = (float(ref.probe_objective(x, y, *p, lam)) for p in ((w, b), (coef, intercept)))
    assert mine <= theirs + 1e-14


def test_binary_linear_probe_matches_sklearn_binary_logistic_regression():
    """Two classes: scikit-learn fits one vector w (class 1's logit minus class 0's). The
    softmax's two rows with the least penalty for that difference are -w/2 and w/2, whose penalty
    lambda/2 (|w|^2 / 4 + |w|^2 / 4) = lambda |w|^2 / 4: scikit-learn's with C = 2 / (lambda N)."""
    from sklearn.linear_model import LogisticRegression

    n, d, lam = 30, 3, 0.2
    x, y = _probe_data(7, n, d, 2)
    clf = LogisticRegression(C=2 / (lam * n), solver="newton-cg", tol=1e-12, max_iter=100_000)
    clf.fit(x.numpy(), y.numpy())
    w, b = ref.fit_linear_probe(x, y, 2, lam)
    coef = torch.from_numpy(clf.coef_[0])
    torch.testing.assert_close(w, torch.stack([-coef / 2, coef / 2]), rtol=0, atol=1e-9)
    torch.testing.assert_close(b[1] - b[0], torch.tensor(float(clf.intercept_[0])).double())


def test_probe_objective_is_sklearn_log_loss_plus_the_penalty():
    from sklearn.metrics import log_loss

    x, y = _probe_data(3, 50, 6, 4)
    w, b = torch.randn(4, 6, generator=gen(1)), torch.randn(4, generator=gen(2))
    probs = (x @ w.double().T + b.double()).softmax(1).numpy()
    want = log_loss(y.numpy(), probs, labels=range(4)) + 0.3 / 2 * float(w.double().pow(2).sum())
    assert abs(float(ref.probe_objective(x, y, w, b, 0.3)) - want) < 1e-12


def test_linear_probe_is_the_stationary_point_and_keeps_the_dtype():
    """At the minimum the gradient is 0 (computed by autograd, not the reference's closed form);
    the bias sums to zero (softmax's shift), and so does each column of W (a common component
    of the rows adds penalty and changes no probability); float32 in, float32 out."""
    x, y = _probe_data(5, 80, 8, 5)
    for dtype in (torch.float32, torch.float64):
        w, b = ref.fit_linear_probe(x.to(dtype), y, 5, 0.05)
        assert w.dtype == b.dtype == dtype
        w, b = w.double().requires_grad_(), b.double().requires_grad_()
        loss = F.cross_entropy(x @ w.T + b, y) + 0.05 / 2 * w.pow(2).sum()
        g_w, g_b = torch.autograd.grad(loss, (w, b))
        limit = 1e-9 if dtype == torch.float64 else 1e-5
        assert max(float(g_w.abs().max()), float(g_b.abs().max())) < limit
        w, b = w.detach(), b.detach()
        assert abs(float(b.sum())) < 10 * limit and float(w.sum(0).abs().max()) < 10 * limit


def test_linear_probe_with_uninformative_features_learns_the_class_frequencies():
    w, b = ref.fit_linear_probe(torch.zeros(6, 2), torch.tensor([0, 0, 0, 1, 2, 2]), 3, 0.1)
    assert float(w.abs().max()) < 1e-6
    torch.testing.assert_close(b.softmax(0), torch.tensor([3 / 6, 1 / 6, 2 / 6]))
