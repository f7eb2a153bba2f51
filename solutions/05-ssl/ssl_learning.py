# ---
# jupyter:
#   autograder:
#     cpu_s: 120
#     memory_mb: 3072
#     timeout_s: 20
#     student_budget_s: 300
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Self-supervised and contrastive learning: MAE, SimCLR, MoCo, SimSiam, Barlow Twins, DINO
#
# You will write the pieces that turn unlabelled images into training signal: MAE's patches,
# random masking and masked loss; SimCLR's NT-Xent; MoCo's queue and momentum encoder; SimSiam's
# stop-gradient loss; Barlow Twins' redundancy-reduction loss; DINO's centred, sharpened
# self-distillation loss; the sampler of masked generative models (iterative unmasking); and the
# linear probe that scores a frozen encoder. The book's chapter uses these blocks to train encoders
# on the scikit-learn digits.
#
# Each block has a **docstring contract**; keep the names and signatures. Run the test cell after
# each answer: it runs *visible* checks that explain any mismatch. The grader runs more cases
# (other shapes, float32 / float64 / bfloat16, gradients, edge cases such as a batch of one) in a
# separate process, with **20 s per call, 3 GB of memory and 300 s for the whole notebook**. All
# hidden inputs are small (at most a few thousand numbers): plain tensor code is fast enough.
#
# **Dtypes.** Unless a contract says otherwise, return tensors in the dtype of the first input
# (compute in float32 inside if you like, then cast back). **Gradients** are checked where the
# block is trained; where the contract says *no gradient flows* into an input (a target branch),
# the grader checks that none does.
#
# Each block is graded on its own inputs, so a mistake in one block costs points in that block
# only.
#
# Read alongside: the book's chapter *Self-supervised and contrastive learning*.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false} copied_from="autograder.kit.KIT_SETUP (its try/except block; tests/test_kit.py checks it)"
import math

import torch
import torch.nn.functional as F
from torch import nn

try:  # the course's student kit: the visible checks and the weight loaders
    from coursekit import check
except ImportError:  # Colab, a fresh laptop: install it once (see the students' guide)
    import subprocess
    import sys

    KIT = "https://transformer-workloads.github.io/course/release/coursekit-0.1.0-py3-none-any.whl"
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", KIT])
    from coursekit import check

device = "cuda" if torch.cuda.is_available() else "cpu"
print("running on", device)

# %% [markdown]
# ## 1. Patches (2 points)
#
# *Taught in the book:* [Masked autoencoders](../../book/05-ssl/mae.md) (`book/05-ssl/mae.md`).
#
# A ViT (and MAE) sees an image as a sequence of square patches. Write `patchify` and its inverse
# `unpatchify`, in **MAE's layout**:
#
# - `images` has shape `(B, C, H, W)`; `H` and `W` are multiples of `patch_size = p` (not
#   necessarily equal: images may be rectangular);
# - the output has shape `(B, N, p*p*C)` with `N = (H/p) * (W/p)`; patch `n` is the one in patch
#   row `n // (W/p)` and patch column `n % (W/p)` (patches numbered **row by row**, left to right);
# - inside a patch the `p*p*C` values are ordered **(pixel row, pixel column, channel)**, channel
#   fastest: value `(i*p + j)*C + c` is `images[b, c, r*p + i, s*p + j]` for the patch at
#   `(r, s)`. (`F.unfold` gives `(channel, row, column)` instead: reorder if you use it.)
#
# `unpatchify(patches, patch_size, height, width)` undoes it: `(B, N, p*p*C)` to
# `(B, C, height, width)`, with `C = p*p*C / (p*p)`. Both keep the dtype and let gradients
# through. Hidden cases: `p` from 1 to 4 (also `p = H = W`, a single patch), 1 to 4 channels,
# rectangular images, float32 / float64 / bfloat16, gradients in float32.
#
# **Device:** hidden inputs are on CUDA when the grader has a GPU, else on CPU; make every new
# tensor on the device of `images` (`device=images.device`). `unpatchify`: on the device of
# `patches`. **Dtype:** float32, float64 and bfloat16; return the input's dtype.


# %% nbgrader={"grade": false, "grade_id": "patchify", "locked": false, "schema_version": 3, "solution": true, "task": false}
def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, N, p*p*C), patches row by row, values (row, column, channel)."""
    ### BEGIN SOLUTION
    b, c, h, w = images.shape
    p = patch_size
    x = images.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(b, (h // p) * (w // p), p * p * c)
    ### END SOLUTION


def unpatchify(patches: torch.Tensor, patch_size: int, height: int, width: int) -> torch.Tensor:
    """(B, N, p*p*C) -> (B, C, height, width); the inverse of patchify."""
    ### BEGIN SOLUTION
    b, n, d = patches.shape
    p = patch_size
    c = d // (p * p)
    x = patches.reshape(b, height // p, width // p, p, p, c).permute(0, 5, 1, 3, 2, 4)
    return x.reshape(b, c, height, width)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_patchify", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
_img = torch.arange(2 * 4 * 6, dtype=torch.float32).reshape(1, 2, 4, 6)  # C=2, H=4, W=6
_p = patchify(_img, 2)
assert _p.shape == (1, 6, 8), _p.shape
# patch 1 is the second patch of the first row: pixel (0, 2) channel 0 first, then channel 1
assert _p[0, 1, :2].tolist() == [2.0, 26.0], _p[0, 1]
assert torch.equal(unpatchify(_p, 2, 4, 6), _img), "unpatchify(patchify(x)) must give x back"
check("ssl_learning.patchify.visible", patchify)
check("ssl_learning.unpatchify.visible", unpatchify)
### BEGIN HIDDEN TESTS
check("ssl_learning.patchify", patchify)
check("ssl_learning.unpatchify", unpatchify)
### END HIDDEN TESTS

# %% [markdown]
# ## 2. MAE's random masking (3 points)
#
# *Taught in the book:* [Masked autoencoders](../../book/05-ssl/mae.md), section *Random masking
# by sorting noise*.
#
# MAE removes a random 75% of the patches of **each image independently** and runs the encoder
# on the rest. It draws one number per patch, `noise` of shape `(B, N)`, and keeps the patches
# with the **smallest** noise. Given `x` `(B, N, D)`, a `mask_ratio` and `noise`:
#
# 1. `len_keep = int(N * (1 - mask_ratio))` (exactly this expression);
# 2. `ids_shuffle = argsort(noise, dim=1)` (ascending); `ids_restore = argsort(ids_shuffle, dim=1)`,
#    the inverse permutation: `ids_restore[b, n]` is the position of patch `n` in the shuffled
#    order;
# 3. `x_kept[b] = x[b, ids_shuffle[b, :len_keep]]`, shape `(B, len_keep, D)`, **in the shuffled
#    order** (increasing noise, not sorted back by patch index);
# 4. `mask` `(B, N)` in `x`'s dtype: **1.0 where the patch is removed, 0.0 where it is kept**.
#
# Return `(x_kept, mask, ids_restore)` (`ids_restore` int64). Gradients flow from `x_kept` to `x`.
# Hidden cases: B from 1 to 6, N from 1 to 64, D from 1 to 24, `mask_ratio` in
# {0.0, 0.25, 0.5, 0.75, 0.875, 0.9375} with `len_keep >= 1`, the noise values of a row distinct,
# float32 / float64 / bfloat16 `x`, gradients in float32. Use `torch.gather` (or indexing); do
# not draw your own noise.
#
# **Device:** hidden inputs are on CUDA when the grader has a GPU, else on CPU; make every new
# tensor on the device of `x` (`device=x.device`). `noise` is on the same device. **Dtype:**
# float32, float64 and bfloat16 `x`, float32 `noise`; `x_kept` and `mask` in `x`'s dtype,
# `ids_restore` int64.


# %% nbgrader={"grade": false, "grade_id": "random_masking", "locked": false, "schema_version": 3, "solution": true, "task": false}
def random_masking(
    x: torch.Tensor, mask_ratio: float, noise: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-sample random masking: (x_kept (B, len_keep, D), mask (B, N), ids_restore (B, N))."""
    ### BEGIN SOLUTION
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
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_random_masking", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
_x = torch.arange(4.0).reshape(1, 4, 1)
_kept, _mask, _restore = random_masking(_x, 0.5, torch.tensor([[0.9, 0.1, 0.5, 0.3]]))
assert _kept.flatten().tolist() == [1.0, 3.0], "keep the smallest noise, in increasing noise"
assert _mask.tolist() == [[1.0, 0.0, 1.0, 0.0]], "1 = removed, 0 = kept"
assert _restore.tolist() == [[3, 0, 2, 1]], "ids_restore[n] = position of patch n after sorting"
check("ssl_learning.random_masking.visible", random_masking)
### BEGIN HIDDEN TESTS
check("ssl_learning.random_masking", random_masking)
### END HIDDEN TESTS

# %% [markdown]
# ## 3. MAE's loss on the masked patches (2 points)
#
# *Taught in the book:* [Masked autoencoders](../../book/05-ssl/mae.md), section *The loss*.
#
# The decoder predicts every patch's pixels, but MAE only scores the **masked** ones:
#
# $$\mathcal{L} = \frac{\sum_{b,n} m_{bn}\, \tfrac{1}{D}\sum_{i} (\hat x_{bni} - x_{bni})^2}{\sum_{b,n} m_{bn}}$$
#
# with `pred` and `target` `(B, N, D)` and `mask` `(B, N)` (1 = masked, as returned by
# `random_masking`). With `norm_pix_loss=True`, each target patch is first normalised by its own
# statistics: `(t - mean) / sqrt(var + 1e-6)` over the patch's `D` values, `var` being torch's
# default **unbiased** `t.var(dim=-1, keepdim=True)`. Return a scalar tensor in `pred`'s dtype;
# gradients flow into `pred`. Hidden cases: B 1 to 4, N in {4, 8, 16, 49}, D from 2 to 64, at
# least one masked and one visible patch, both values of `norm_pix_loss`, float32 / float64 /
# bfloat16, gradients in float32.
#
# **Device:** hidden inputs are on CUDA when the grader has a GPU, else on CPU; make every new
# tensor on the device of `pred` (`device=pred.device`). **Dtype:** `pred`, `target` and `mask` in
# one dtype (float32, float64 or bfloat16); return `pred`'s dtype.


# %% nbgrader={"grade": false, "grade_id": "mae_loss", "locked": false, "schema_version": 3, "solution": true, "task": false}
def mae_loss(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, norm_pix_loss: bool = False
) -> torch.Tensor:
    """Mean squared error per patch, averaged over the masked patches only (scalar)."""
    ### BEGIN SOLUTION
    if norm_pix_loss:
        mean = target.mean(dim=-1, keepdim=True)
        var = target.var(dim=-1, keepdim=True)
        target = (target - mean) / (var + 1.0e-6) ** 0.5
    per_patch = ((pred - target) ** 2).mean(dim=-1)
    return (per_patch * mask).sum() / mask.sum()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_mae_loss", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
_pred = torch.zeros(1, 2, 2)
_target = torch.tensor([[[1.0, 1.0], [3.0, 3.0]]])
assert float(mae_loss(_pred, _target, torch.tensor([[0.0, 1.0]]))) == 9.0, "masked patch only"
check("ssl_learning.mae_loss.visible", mae_loss)
### BEGIN HIDDEN TESTS
check("ssl_learning.mae_loss", mae_loss)
### END HIDDEN TESTS

# %% [markdown]
# ## 4. NT-Xent, SimCLR's contrastive loss (3 points)
#
# *Taught in the book:* [Contrastive learning](../../book/05-ssl/contrastive.md), section
# *InfoNCE and NT-Xent*.
#
# `z1` and `z2` `(N, d)` are the projections of two augmented views of the same N images (row i
# of each: image i). Stack them into 2N rows `z = [z1; z2]`, **L2-normalise each row**, and form
# the similarities `s_ij = z_i . z_j / temperature` (**divide** by the temperature). For anchor
# `i` the positive is the other view of the same image, `j(i) = (i + N) mod 2N`; the other 2N - 2
# rows are negatives; **the anchor itself is excluded** (no `s_ii` anywhere). The loss is
#
# $$\mathcal{L} = \frac{1}{2N}\sum_{i=1}^{2N} -\log \frac{\exp(s_{i,j(i)})}{\sum_{k \ne i} \exp(s_{ik})}$$
#
# (the positive stays in the denominator). Return a scalar in `z1`'s dtype; gradients flow into
# both `z1` and `z2`. Hidden cases: N from 1 to 32 (N = 1: no negatives, the loss is 0), d from 2
# to 64, temperatures from 0.05 to 2, float32 / float64 / bfloat16, gradients in float32.
#
# **Device:** hidden inputs are on CUDA when the grader has a GPU, else on CPU; make every new
# tensor on the device of `z1` (`device=z1.device`). The positive indices and the diagonal mask too.
# **Dtype:** float32, float64 and bfloat16; return `z1`'s dtype.


# %% nbgrader={"grade": false, "grade_id": "nt_xent", "locked": false, "schema_version": 3, "solution": true, "task": false}
def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent over the 2N views (scalar)."""
    ### BEGIN SOLUTION
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    pos = torch.arange(2 * n, device=z.device).roll(n)
    return -(sim.log_softmax(dim=1)[torch.arange(2 * n, device=z.device), pos]).mean()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_nt_xent", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
_e = torch.eye(2)
# two images, identical views: for each anchor the positive scores 1/0.5 = 2, the two negatives 0
_want = -torch.log(torch.tensor(2.0).exp() / (torch.tensor(2.0).exp() + 2))
assert abs(float(nt_xent(_e, _e, 0.5)) - float(_want)) < 1e-5, float(nt_xent(_e, _e, 0.5))
assert abs(float(nt_xent(torch.randn(1, 3), torch.randn(1, 3), 0.1))) < 1e-6, "N = 1: loss 0"
# the device rule on CPU: inputs on torch's "meta" device (shapes, no data) give a loss there
_z = torch.randn(3, 4, device="meta")
assert nt_xent(_z, _z, 0.5).device == _z.device, "make the mask and the indices on z1.device"
check("ssl_learning.nt_xent.visible", nt_xent)
### BEGIN HIDDEN TESTS
check("ssl_learning.nt_xent", nt_xent)
### END HIDDEN TESTS

# %% [markdown]
# ## 5. MoCo: the queue and the momentum encoder (3 points)
#
# *Taught in the book:* [Contrastive learning](../../book/05-ssl/contrastive.md), section *MoCo:
# a queue and a momentum encoder*.
#
# **The queue.** `MoCoQueue(dim, size)` is an `nn.Module` holding two **buffers** (use
# `register_buffer`, these exact names): `queue`, float `(size, dim)` (any initial values: the
# grader loads its own), and `ptr`, int64 `(1,)`, starting at 0: the row the next key goes to.
#
# - `forward(q, k, temperature)`: `q`, `k` `(B, dim)`, already L2-normalised. Return the logits
#   `(B, 1 + size)`: column 0 is the positive `q_b . k_b`, columns 1.. are `q_b . queue_j` for
#   every row j of the queue **as it is now**; everything divided by `temperature`. The keys come
#   from the key encoder: **no gradient flows into `k`** (detach it); gradients flow into `q`.
#   `forward` does not change the queue.
# - `enqueue(keys)`: `keys` `(B, dim)` with `1 <= B <= size`: write them at rows `ptr, ptr+1, ...`
#   **wrapping around** to row 0 past the end (B need not divide size), advance `ptr` by B modulo
#   `size`, return `None`. No gradient is recorded in the buffer.
#
# MoCo's loss is then `F.cross_entropy(logits, zeros)`: the positive is class 0.
#
# **The momentum encoder.** `MomentumEncoder(dim_in, dim_out)` holds two `nn.Linear(dim_in,
# dim_out)` named `online` and `target` (the grader loads different weights into each).
# `update(m)` moves **every parameter of the target towards the online network**:
# `theta_target <- m * theta_target + (1 - m) * theta_online`, in place, without recording
# gradients; it returns `None`. `forward(x)` returns `(online(x), target(x))`, no gradient through
# the target's output. Hidden cases: queues of 1 to 32 rows, dims 2 to 16, several batches
# (sizes not dividing the queue, a batch as large as the queue), temperatures 0.07 to 1, `m` in
# {0, 0.5, 0.7, 0.9, 0.99, 0.996, 1}; gradients with respect to `q` and `k` on the last call.
#
# **Device:** the grader moves the module and its inputs to CUDA when it has a GPU, else keeps them
# on CPU; make every new tensor on the device of `q` (`device=q.device`). The buffers move with the
# module (`register_buffer`): `enqueue` makes its tensors on `self.queue.device`. **Dtype:** float32
# throughout; `ptr` int64.


# %% nbgrader={"grade": false, "grade_id": "moco", "locked": false, "schema_version": 3, "solution": true, "task": false}
class MoCoQueue(nn.Module):
    def __init__(self, dim: int, size: int):
        super().__init__()
        ### BEGIN SOLUTION
        self.register_buffer("queue", F.normalize(torch.randn(size, dim), dim=1))
        self.register_buffer("ptr", torch.zeros(1, dtype=torch.long))
        ### END SOLUTION

    def forward(self, q: torch.Tensor, k: torch.Tensor, temperature: float) -> torch.Tensor:
        """Logits (B, 1 + size): [q.k, q.queue_j ...] / temperature; no gradient into k."""
        ### BEGIN SOLUTION
        k = k.detach()
        l_pos = (q * k).sum(dim=1, keepdim=True)
        l_neg = q @ self.queue.T.to(q.dtype)
        return torch.cat([l_pos, l_neg], dim=1) / temperature
        ### END SOLUTION

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """Write keys at rows ptr, ptr+1, ... (wrapping); advance ptr."""
        ### BEGIN SOLUTION
        size = self.queue.shape[0]
        p = int(self.ptr)
        rows = (p + torch.arange(keys.shape[0], device=self.queue.device)) % size
        self.queue[rows] = keys.detach().to(self.queue.dtype)
        self.ptr[0] = (p + keys.shape[0]) % size
        ### END SOLUTION


class MomentumEncoder(nn.Module):
    def __init__(self, dim_in: int, dim_out: int):
        super().__init__()
        ### BEGIN SOLUTION
        self.online = nn.Linear(dim_in, dim_out)
        self.target = nn.Linear(dim_in, dim_out)
        self.target.load_state_dict(self.online.state_dict())
        self.target.requires_grad_(False)
        ### END SOLUTION

    @torch.no_grad()
    def update(self, m: float) -> None:
        """theta_target <- m * theta_target + (1 - m) * theta_online (every parameter)."""
        ### BEGIN SOLUTION
        for t, o in zip(self.target.parameters(), self.online.parameters()):
            t.mul_(m).add_(o, alpha=1 - m)
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(online(x), target(x)), no gradient through the target."""
        ### BEGIN SOLUTION
        with torch.no_grad():
            t = self.target(x)
        return self.online(x), t
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_moco", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
_q = MoCoQueue(2, 3)
assert [n for n, _ in _q.named_buffers()] == ["queue", "ptr"]
_q.enqueue(torch.eye(2))
_q.enqueue(torch.tensor([[1.0, 1.0], [2.0, 2.0]]))  # wraps: rows 2 and 0
assert _q.queue.tolist() == [[2.0, 2.0], [0.0, 1.0], [1.0, 1.0]] and int(_q.ptr) == 1
_enc = MomentumEncoder(2, 1)
with torch.no_grad():
    _enc.online.weight.fill_(1.0)
    _enc.target.weight.fill_(0.0)
_enc.update(0.9)
assert torch.allclose(_enc.target.weight, torch.full((1, 2), 0.1)), "target moves 10% of the way"
check("ssl_learning.moco_queue.visible", MoCoQueue)
check("ssl_learning.momentum_encoder.visible", MomentumEncoder)
### BEGIN HIDDEN TESTS
check("ssl_learning.moco_queue", MoCoQueue)
check("ssl_learning.momentum_encoder", MomentumEncoder)
### END HIDDEN TESTS

# %% [markdown]
# ## 6. SimSiam's loss and the stop-gradient (2 points)
#
# *Taught in the book:* [Learning without negatives](../../book/05-ssl/no-negatives.md), section
# *BYOL and SimSiam*.
#
# With `D(p, z) = -mean_b cos(p_b, z_b)` (cosine similarity per row, averaged over the batch),
# SimSiam's symmetrised loss is
#
# $$\mathcal{L} = \tfrac12 D(p_1, \mathrm{sg}(z_2)) + \tfrac12 D(p_2, \mathrm{sg}(z_1))$$
#
# where `p1, p2` `(B, d)` are the predictor's outputs for views 1 and 2, `z1, z2` `(B, d)` the
# projections, and `sg` the **stop-gradient**: the grader checks that **no gradient reaches `z1`
# or `z2`**, and that the gradients of `p1`, `p2` are right. Return a scalar in `p1`'s dtype.
# Hidden cases: B from 1 to 32, d from 2 to 64, float32 / float64 / bfloat16.
#
# **Device:** hidden inputs are on CUDA when the grader has a GPU, else on CPU; make every new
# tensor on the device of `p1` (`device=p1.device`). **Dtype:** float32, float64 and bfloat16;
# return `p1`'s dtype.


# %% nbgrader={"grade": false, "grade_id": "simsiam_loss", "locked": false, "schema_version": 3, "solution": true, "task": false}
def simsiam_loss(
    p1: torch.Tensor, p2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor
) -> torch.Tensor:
    """0.5 * D(p1, sg(z2)) + 0.5 * D(p2, sg(z1)), D = -mean cosine similarity."""

    ### BEGIN SOLUTION
    def d(p, z):
        return -F.cosine_similarity(p, z.detach(), dim=-1).mean()

    return d(p1, z2) / 2 + d(p2, z1) / 2
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_simsiam_loss", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
_z = torch.randn(3, 4, requires_grad=True)
_l = simsiam_loss(_z.detach() * 2, _z.detach() * 2, _z, _z)
assert abs(float(_l) + 1) < 1e-5, "identical directions: the loss is -1"
_p1 = torch.randn(3, 4, requires_grad=True)
simsiam_loss(_p1, _p1.detach(), _z, _z).backward()
assert _z.grad is None, "missing stop-gradient: a gradient reached z"
check("ssl_learning.simsiam_loss.visible", simsiam_loss)
### BEGIN HIDDEN TESTS
check("ssl_learning.simsiam_loss", simsiam_loss)
### END HIDDEN TESTS

# %% [markdown]
# ## 7. Barlow Twins (2 points)
#
# *Taught in the book:* [Learning without negatives](../../book/05-ssl/no-negatives.md), section
# *Barlow Twins*.
#
# Standardise every feature (column) of `z1` and `z2` `(N, D)` **over the batch**, as
# `nn.BatchNorm1d(D, affine=False)` does in training mode: `(z - mean) / sqrt(var + 1e-5)` with the
# **biased** variance (divide by N). Form the cross-correlation `C = z1n^T z2n / N` `(D, D)` and
# return
#
# $$\mathcal{L} = \sum_i (1 - C_{ii})^2 + \lambda \sum_i \sum_{j \ne i} C_{ij}^2$$
#
# as a scalar in `z1`'s dtype (gradients flow into both inputs). Hidden cases: N from 2 to 48, D
# from 1 to 32, `lambd` from 5e-3 to 1, float32 / float64 / bfloat16, gradients in float32.
#
# **Device:** hidden inputs are on CUDA when the grader has a GPU, else on CPU; make every new
# tensor on the device of `z1` (`device=z1.device`). The identity or off-diagonal mask too.
# **Dtype:** float32, float64 and bfloat16; return `z1`'s dtype.


# %% nbgrader={"grade": false, "grade_id": "barlow_twins_loss", "locked": false, "schema_version": 3, "solution": true, "task": false}
def barlow_twins_loss(z1: torch.Tensor, z2: torch.Tensor, lambd: float = 5e-3) -> torch.Tensor:
    """Cross-correlation of batch-standardised embeddings pushed towards the identity."""
    ### BEGIN SOLUTION
    n = z1.shape[0]

    def standardise(z):
        return (z - z.mean(dim=0)) / torch.sqrt(z.var(dim=0, unbiased=False) + 1e-5)

    c = standardise(z1).T @ standardise(z2) / n
    diag = torch.diagonal(c)
    return (1 - diag).pow(2).sum() + lambd * (c.pow(2).sum() - diag.pow(2).sum())
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_barlow_twins_loss", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
_z = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
assert float(barlow_twins_loss(_z, _z, 0.5)) < 1e-8, "decorrelated, identical views: C = I"
check("ssl_learning.barlow_twins_loss.visible", barlow_twins_loss)
### BEGIN HIDDEN TESTS
check("ssl_learning.barlow_twins_loss", barlow_twins_loss)
### END HIDDEN TESTS

# %% [markdown]
# ## 8. DINO: centering, sharpening and self-distillation (3 points)
#
# *Taught in the book:* [Learning without negatives](../../book/05-ssl/no-negatives.md), section
# *DINO*.
#
# The student sees `n_crops` crops of each of B images; the teacher sees the two global crops.
# `student_out` is `(n_crops * B, K)`, **crop-major** (rows `v*B ... v*B + B - 1` are crop `v`;
# crops 0 and 1 are the global ones); `teacher_out` is `(2 * B, K)` (global crop 0, then 1);
# `center` is `(1, K)`.
#
# 1. Teacher probabilities, **centred and sharpened**: `softmax((teacher_out - center) /
#    teacher_temp)`; **no gradient flows into `teacher_out`** (checked).
# 2. Student log-probabilities: `log_softmax(student_out / student_temp)`.
# 3. For every teacher view `t` in {0, 1} and every student crop `v != t`, the cross-entropy
#    `-sum_k P_t[b, k] log P_s,v[b, k]` averaged over the B images; the loss is the **mean over
#    these 2 * n_crops - 2 pairs**.
# 4. The new center: `center * center_momentum + (1 - center_momentum) * teacher_out.mean(0)`,
#    shape `(1, K)`, without gradient.
#
# Return `(loss, new_center)`, in the inputs' dtype. Hidden cases: B from 1 to 6, K from 2 to 64,
# `n_crops` from 2 to 6, student_temp 0.1 or 0.2, teacher_temp 0.04 to 0.07, center_momentum 0,
# 0.9 or 1, float32 / float64, gradients with respect to both logits.
#
# **Device:** hidden inputs are on CUDA when the grader has a GPU, else on CPU; make every new
# tensor on the device of `student_out` (`device=student_out.device`). **Dtype:** float32 and
# float64, all three inputs in one dtype; both outputs in that dtype.


# %% nbgrader={"grade": false, "grade_id": "dino_loss", "locked": false, "schema_version": 3, "solution": true, "task": false}
def dino_loss(
    student_out: torch.Tensor,
    teacher_out: torch.Tensor,
    center: torch.Tensor,
    n_crops: int,
    student_temp: float = 0.1,
    teacher_temp: float = 0.04,
    center_momentum: float = 0.9,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, new_center): cross-entropy teacher -> student over views v != t; EMA of the center."""
    ### BEGIN SOLUTION
    teacher_out = teacher_out.detach()
    t = F.softmax((teacher_out - center) / teacher_temp, dim=-1).chunk(2)
    s = F.log_softmax(student_out / student_temp, dim=-1).chunk(n_crops)
    terms = [
        (-(tp * sp).sum(dim=-1)).mean()
        for it, tp in enumerate(t)
        for v, sp in enumerate(s)
        if v != it
    ]
    new_center = center * center_momentum + teacher_out.mean(dim=0, keepdim=True) * (
        1 - center_momentum
    )
    return sum(terms) / len(terms), new_center
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_dino_loss", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
_s = torch.zeros(4, 3, requires_grad=True)  # 2 crops of 2 images, uniform student
_t = torch.randn(4, 3, requires_grad=True)
_loss, _c = dino_loss(_s, _t, torch.zeros(1, 3), 2)
assert abs(float(_loss) - float(torch.log(torch.tensor(3.0)))) < 1e-5, "uniform student: log K"
assert _c.shape == (1, 3)
_loss.backward()
assert _t.grad is None, "missing stop-gradient: a gradient reached teacher_out"
check("ssl_learning.dino_loss.visible", dino_loss)
### BEGIN HIDDEN TESTS
check("ssl_learning.dino_loss", dino_loss)
### END HIDDEN TESTS

# %% [markdown]
# ## 9. Iterative unmasking: MaskGIT's sampler (2 points)
#
# *Taught in the book:* [Masked autoencoders](../../book/05-ssl/mae.md), section *Masked
# generative models: iterative unmasking*.
#
# A masked generative model starts from a fully masked sequence of `N` tokens and fills it in
# over `T` steps. Two pieces:
#
# **The schedule.** `cosine_unmask_schedule(num_tokens, steps)` returns a list of `steps` Python
# ints: after step `t = 1, ..., T`, the number of tokens **still masked** is
# `math.floor(num_tokens * math.cos(math.pi / 2 * t / steps))` (compute with Python floats and
# `math.cos`, not float32). The last value is 0. Rounding down is MaskGIT's released code; its
# paper writes the count rounded up, ⌈γ(t/T)N⌉: this contract follows the code, so round down. Hidden cases: `num_tokens` 1 to 1,024, `steps`
# 1 to 24.
#
# **One step.** `unmask_step(tokens, logits, num_masked, mask_id)`: `tokens` `(B, L)` int64 with
# `mask_id` at masked positions (`mask_id >= V`, never a predicted id); `logits` `(B, L, V)` float
# (the model's output at every position).
#
# 1. At every **masked** position, predict `argmax(logits)` and record its confidence, the largest
#    **softmax probability** `softmax(logits).max(-1)`. Visible tokens never change.
# 2. Of the masked positions of each row, put `mask_id` back at the `num_masked` ones with the
#    **lowest** confidence (`0 <= num_masked <=` the number of masked positions in every row); the
#    others keep their prediction.
#
# Return the new `(B, L)` int64 tokens. Hidden cases: B 1 to 4, L 1 to 20, V 3 to 32, every row
# with the same number of masked positions; confidences of the masked positions differ by at
# least 1e-3 (no ties).
#
# **Device:** hidden inputs are on CUDA when the grader has a GPU, else on CPU; make every new
# tensor on the device of `tokens` (`device=tokens.device`). `cosine_unmask_schedule` has no tensors
# (Python ints in and out). **Dtype:** int64 `tokens` in and out, float32 `logits`.


# %% nbgrader={"grade": false, "grade_id": "unmasking", "locked": false, "schema_version": 3, "solution": true, "task": false}
def cosine_unmask_schedule(num_tokens: int, steps: int) -> list[int]:
    """Tokens still masked after each step t = 1..T: floor(N cos(pi/2 t/T))."""
    ### BEGIN SOLUTION
    return [math.floor(num_tokens * math.cos(math.pi / 2 * t / steps)) for t in range(1, steps + 1)]
    ### END SOLUTION


def unmask_step(
    tokens: torch.Tensor, logits: torch.Tensor, num_masked: int, mask_id: int
) -> torch.Tensor:
    """Predict every masked token; re-mask the num_masked least confident of them."""
    ### BEGIN SOLUTION
    masked = tokens == mask_id
    conf, pred = logits.float().softmax(-1).max(-1)
    out = torch.where(masked, pred, tokens)
    conf = torch.where(masked, conf, torch.full_like(conf, float("inf")))
    if num_masked > 0:
        lowest = torch.argsort(conf, dim=1, stable=True)[:, :num_masked]
        out = out.scatter(1, lowest, mask_id)
    return out
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_unmasking", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
assert cosine_unmask_schedule(16, 4) == [14, 11, 6, 0], cosine_unmask_schedule(16, 4)
_tokens = torch.tensor([[9, 1, 9, 9]])  # mask_id 9: positions 0, 2, 3 are masked
_logits = torch.full((1, 4, 9), -5.0)
_logits[0, 0, 3], _logits[0, 2, 4], _logits[0, 3, 5] = 5.0, 0.5, 2.0
assert unmask_step(_tokens, _logits, 1, 9).tolist() == [[3, 1, 9, 5]], "re-mask the least sure"
check("ssl_learning.cosine_unmask_schedule.visible", cosine_unmask_schedule)
check("ssl_learning.unmask_step.visible", unmask_step)
### BEGIN HIDDEN TESTS
check("ssl_learning.cosine_unmask_schedule", cosine_unmask_schedule)
check("ssl_learning.unmask_step", unmask_step)
### END HIDDEN TESTS

# %% [markdown]
# ## 10. A linear probe (2 points)
#
# *Taught in the book:* [SimCLR and MAE on the digits](../../book/05-ssl/digits.md)
# (`book/05-ssl/digits.md`), where every encoder is scored by one.
#
# A self-supervised encoder is judged by a **linear probe**: freeze it and fit a multinomial
# logistic regression on its features. Given `features` `(N, D)` (frozen: no gradient is taken
# through them) and `labels` `(N,)` int64 in `[0, num_classes)`, return the `W` `(C, D)` and `b`
# `(C,)` (`C = num_classes`) that **minimise**
#
# $$J(W, b) = \frac1N \sum_{i=1}^{N} -\log \operatorname{softmax}(W x_i + b)_{y_i}
#   + \frac{\lambda}{2} \lVert W \rVert^2, \qquad \lambda = \texttt{weight\_decay},$$
#
# the **mean** (not the sum) of the cross-entropies, plus half of `weight_decay` times the sum of
# the squares of every entry of `W`. **The bias is not penalised.** `J` is strictly convex in `W`,
# so `W` at the minimum is unique; `b` is unique up to a constant added to every class (softmax
# ignores it), and any such shift passes.
#
# Fit **to convergence**: the grader computes `J` in float64 at your `(W, b)` and at the minimum,
# and passes if yours is **at most 1e-5 above** it. Full-batch L-BFGS or gradient descent, your
# choice, started from zeros; with `torch.optim.LBFGS`, pass `line_search_fn="strong_wolfe"`, a
# `max_iter` in the hundreds and tight `tolerance_grad` / `tolerance_change` (its default
# `max_iter=20` stops short). Hidden cases: N from C to 300 (N = C: one example per class), D from
# 1 to 32, C from 2 to 10, every class present at least once, unbalanced classes, features offset
# from 0 (the bias has work to do), `weight_decay` from 0.01 to 1, float32 and float64 features.
#
# **Device:** hidden inputs are on CUDA when the grader has a GPU, else on CPU; `labels` is on the
# device of `features`; make `W` and `b` there (`device=features.device`). **Dtype:** float32 or
# float64 features; return `W` and `b` in the features' dtype (computing in float64 inside, then
# casting back, is allowed and the safest).


# %% nbgrader={"grade": false, "grade_id": "linear_probe", "locked": false, "schema_version": 3, "solution": true, "task": false}
def fit_linear_probe(
    features: torch.Tensor, labels: torch.Tensor, num_classes: int, weight_decay: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(W (C, D), b (C,)) minimising mean cross-entropy + (weight_decay / 2) ||W||^2."""
    ### BEGIN SOLUTION
    x = features.detach().double()
    w = torch.zeros(num_classes, x.shape[1], dtype=x.dtype, device=x.device, requires_grad=True)
    b = torch.zeros(num_classes, dtype=x.dtype, device=x.device, requires_grad=True)
    opt = torch.optim.LBFGS(
        [w, b],
        max_iter=500,
        history_size=20,
        tolerance_grad=1e-10,
        tolerance_change=1e-14,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(x @ w.T + b, labels) + weight_decay / 2 * w.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().to(features.dtype), b.detach().to(features.dtype)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_linear_probe", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# features that say nothing (all zero): W = 0, and the free bias learns the class frequencies
_W, _b = fit_linear_probe(torch.zeros(4, 2), torch.tensor([0, 0, 0, 1]), 2, 0.1)
assert _W.shape == (2, 2) and _b.shape == (2,) and _W.dtype == torch.float32
assert _W.abs().max() < 1e-4, "uninformative features: W = 0 at the minimum"
assert abs(float(_b[0] - _b[1]) - math.log(3)) < 1e-3, "softmax(b) = (3/4, 1/4): b not penalised"
check("ssl_learning.fit_linear_probe.visible", fit_linear_probe)
### BEGIN HIDDEN TESTS
check("ssl_learning.fit_linear_probe", fit_linear_probe)
### END HIDDEN TESTS
