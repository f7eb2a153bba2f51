# ---
# jupyter:
#   autograder:
#     cpu_s: 120
#     memory_mb: 3072
#     timeout_s: 60
#     student_budget_s: 600
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Scaling laws: parameters, FLOPs, compute-optimal models, fits and utilisation
#
# You will compute what every scaling-law plot is made of: the parameter count of a GPT (equal to
# `numel` of Hugging Face's `GPT2LMHeadModel`), its training FLOPs (equal to what
# `torch.utils.flop_counter.FlopCounterMode` counts on a real forward and backward pass), the
# Chinchilla-optimal model for a compute budget, power-law fits in log space, Hoffmann et al.'s
# Huber fit of L(N, D) = E + A / N^alpha + B / D^beta, the model FLOPs utilisation of a training
# step timed with proper synchronisation, and the FLOP/s a matrix product achieves.
#
# Each block has a **docstring contract**; keep the names and signatures. Run the test cell after
# each answer: it runs *visible* checks that explain any mismatch. The grader runs more cases
# (random configurations, budgets from 1e15 to 1e26 FLOPs, noisy data drawn with a secret seed,
# the chapter's real loss curves) in a separate process, with **60 s per call, 3 GB of memory and
# 600 s for the whole notebook**. The seven blocks are independent: no block needs another.
#
# In the grader, tuples arrive as **lists**, and dicts have string keys. Return plain Python
# `int` / `float` values (not tensors, not numpy scalars where an `int` is asked).
#
# Read alongside: the book's chapter *Scaling laws* (pages *Counting parameters, FLOPs and
# utilisation*, *Kaplan and Chinchilla*, *Fitting scaling laws*).

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false} copied_from="autograder.kit.KIT_SETUP (its try/except block; tests/test_kit.py checks it)"
import itertools
import math
import time

import numpy as np
import torch
from scipy.optimize import minimize

try:  # the course's student kit: the visible checks and the weight loaders
    from coursekit import check
except ImportError:  # Colab, a fresh laptop: install it once (see the students' guide)
    import subprocess
    import sys

    KIT = "https://transformer-workloads.github.io/course/release/coursekit-0.1.0-py3-none-any.whl"
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", KIT])
    from coursekit import check

# %% [markdown]
# ## 1. Parameters of a GPT-2 configuration (2 points)
#
# *Taught in the book:* [Counting parameters, FLOPs and utilisation](../../book/02-scaling-laws/counting.md).
#
# `cfg` is a dict with Hugging Face `GPT2Config`'s names: `vocab_size` (V >= 1), `n_positions`
# (P >= 1, learned position embeddings), `n_embd` (d >= 1), `n_layer` (L >= 0, zero is allowed),
# `n_head` (does not change the count), `n_inner` (the MLP width d_ff; `None` means 4 d) and
# `tie_word_embeddings` (bool: the output layer *is* the token embedding matrix).
#
# A GPT-2 block is `ln_1`, attention (`c_attn`: d -> 3d for q, k, v; `c_proj`: d -> d), `ln_2`, MLP
# (`c_fc`: d -> d_ff; `c_proj`: d_ff -> d). **Every** linear layer has a bias and every layer norm
# has a weight and a bias (d each). After the blocks comes `ln_f`; the output layer (d -> V) has
# no bias.
#
# Return `{"total": int, "non_embedding": int}`:
# - `total` = `sum(p.numel() for p in model.parameters())`, which counts a shared tensor **once**;
# - `non_embedding` = the blocks plus `ln_f`: total minus the token embedding (V d), the position
#   embedding (P d) and, only when untied, the output layer (V d).
#
# Hidden cases: GPT-2 small (124,439,808 parameters), n_layer = 0, V = 1, n_inner given or not,
# tied and untied, random sizes up to V = 60,000, P = 4,096, d = 2,048, L = 48, d_ff = 8,192.
#
# **Device and dtype:** none: plain Python values in and out, no tensors.


# %% nbgrader={"grade": false, "grade_id": "count_params", "locked": false, "schema_version": 3, "solution": true, "task": false}
def count_params(cfg: dict) -> dict:
    """Parameters of GPT2LMHeadModel(GPT2Config(**cfg)): {"total": int, "non_embedding": int}."""
    ### BEGIN SOLUTION
    v, p, d, n_layer = cfg["vocab_size"], cfg["n_positions"], cfg["n_embd"], cfg["n_layer"]
    f = cfg["n_inner"] if cfg.get("n_inner") else 4 * d
    attention = (d * 3 * d + 3 * d) + (d * d + d)
    mlp = (d * f + f) + (f * d + d)
    norms = 2 * 2 * d
    non_embedding = n_layer * (attention + mlp + norms) + 2 * d
    embedding = v * d + p * d + (0 if cfg["tie_word_embeddings"] else v * d)
    return {"total": non_embedding + embedding, "non_embedding": non_embedding}
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_count_params", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
check("scaling.count_params.visible", count_params)
### BEGIN HIDDEN TESTS
check("scaling.count_params", count_params)
### END HIDDEN TESTS

# %% [markdown]
# ## 2. FLOPs of a forward pass and of training (3 points)
#
# *Taught in the book:* [Counting parameters, FLOPs and utilisation](../../book/02-scaling-laws/counting.md).
#
# Count matrix-multiplication FLOPs only: a product of an (m, k) and a (k, n) matrix costs
# **2 m n k** (one multiply and one add per term). Biases, layer norms, softmax, GELU and the
# embedding lookup are not counted (FlopCounterMode does not count them either). Use the `cfg` of
# block 1 with sequences of `n_ctx` tokens, and **Kaplan et al.'s N = 2 d L (2 d + d_ff)** (the
# block weight matrices: no biases, no norms, no embeddings).
#
# Return a dict of four Python `int`s:
# - `"kaplan_forward_per_token"`: Kaplan et al.'s Table 1, 2 N + 2 L n_ctx d;
# - `"forward_per_token"`: what a forward pass really computes per token: the block matmuls
#   (2 N), attention scores Q K^T **and** the weighted sum of V over the full n_ctx x n_ctx matrix
#   (torch computes the masked entries too: 2 n_ctx d each, per layer), and the output layer
#   (2 d V);
# - `"train"`: FLOPs of training on `n_tokens` tokens: forward plus backward, where the backward
#   pass costs **twice** the forward (a gradient for the input and one for the weight of every
#   matmul): 3 x forward_per_token x n_tokens;
# - `"six_nd"`: the rule of thumb 6 N D with D = n_tokens.
#
# Hidden cases: n_ctx = 1, n_layer = 0, GPT-2 small on 300B tokens, random sizes, n_ctx up to 8,192
# and n_tokens up to 1e13 (Python ints do not overflow).
#
# **Device and dtype:** none: plain Python values in and out, no tensors.


# %% nbgrader={"grade": false, "grade_id": "flops", "locked": false, "schema_version": 3, "solution": true, "task": false}
def flops(cfg: dict, n_ctx: int, n_tokens: int) -> dict:
    """Matmul FLOPs: kaplan_forward_per_token, forward_per_token, train, six_nd (ints)."""
    ### BEGIN SOLUTION
    d, n_layer, v = cfg["n_embd"], cfg["n_layer"], cfg["vocab_size"]
    f = cfg["n_inner"] if cfg.get("n_inner") else 4 * d
    n = 2 * d * n_layer * (2 * d + f)
    forward = 2 * n + 2 * 2 * n_layer * n_ctx * d + 2 * d * v
    return {
        "kaplan_forward_per_token": 2 * n + 2 * n_layer * n_ctx * d,
        "forward_per_token": forward,
        "train": 3 * forward * n_tokens,
        "six_nd": 6 * n * n_tokens,
    }
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_flops", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
check("scaling.flops.visible", flops)
### BEGIN HIDDEN TESTS
check("scaling.flops", flops)
### END HIDDEN TESTS

# %% [markdown]
# ## 3. The Chinchilla-optimal model for a compute budget (2 points)
#
# *Taught in the book:* [Kaplan and Chinchilla](../../book/02-scaling-laws/laws.md).
#
# `law` is a dict `{"E", "A", "B", "alpha", "beta"}` (floats) of L(N, D) = E + A / N^alpha +
# B / D^beta; Hoffmann et al.'s fit is E = 1.69, A = 406.4, B = 410.7, alpha = 0.34,
# beta = 0.28. With C = **6 N D** FLOPs, minimise L over N (D = C / (6 N)) in closed form:
# set the derivative of A N^-alpha + B (C / 6N)^-beta to zero.
#
# Return a dict of six floats: `"n_opt"`, `"d_opt"`, `"loss_opt"` (the optimum and its loss,
# E included), and the rule of thumb of 20 tokens per parameter: `"n_20"`, `"d_20"` with
# D = 20 N and C = 6 N D, and `"loss_20"`.
#
# Hidden cases: C from 1e15 to 1e26, the published law, alpha = beta, random laws with
# alpha, beta in [0.2, 0.6], A, B in [50, 2000], E in [1, 2.5]. Relative tolerance 1e-4.
#
# **Device and dtype:** none: plain Python values in and out, no tensors.


# %% nbgrader={"grade": false, "grade_id": "chinchilla_optimal", "locked": false, "schema_version": 3, "solution": true, "task": false}
def chinchilla_optimal(compute: float, law: dict) -> dict:
    """Compute-optimal (N, D) under C = 6ND, and the 20-tokens rule, with their losses."""
    ### BEGIN SOLUTION
    a, b = law["alpha"], law["beta"]

    def loss(n, d):
        return law["E"] + law["A"] / n**a + law["B"] / d**b

    g = (a * law["A"] / (b * law["B"])) ** (1 / (a + b))
    n_opt = g * (compute / 6) ** (b / (a + b))
    d_opt = compute / (6 * n_opt)
    n_20 = math.sqrt(compute / 120)
    d_20 = 20 * n_20
    return {
        "n_opt": n_opt,
        "d_opt": d_opt,
        "loss_opt": loss(n_opt, d_opt),
        "n_20": n_20,
        "d_20": d_20,
        "loss_20": loss(n_20, d_20),
    }
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_chinchilla_optimal", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
check("scaling.chinchilla_optimal.visible", chinchilla_optimal)
### BEGIN HIDDEN TESTS
check("scaling.chinchilla_optimal", chinchilla_optimal)
### END HIDDEN TESTS

# %% [markdown]
# ## 4. Fitting a power law in log space (2 points)
#
# *Taught in the book:* [Fitting scaling laws](../../book/02-scaling-laws/fitting.md).
#
# Fit y = (x_c / x)^alpha to points `x`, `y` (1-D tensors of the same length n >= 2, positive,
# float32 or float64, at least two distinct x) by **ordinary least squares on log y against
# log x** (natural logs, computed in float64): log y = alpha log x_c - alpha log x, a straight
# line of slope -alpha. Return `{"alpha": float, "x_c": float}`; alpha is positive when y falls
# as x grows.
#
# Hidden cases: Kaplan's L(N) and L(D) with 2-5% multiplicative noise (a secret seed), two points,
# 3 to 40 points with alpha in [0.03, 1.5] and x_c in [1e2, 1e14], and the chapter's real sweep.
# Relative tolerance 1e-4.
#
# **Device and dtype:** hidden `x` and `y` are CPU tensors (this block's cases stay on the CPU, GPU
# or not), float32 or float64; compute in float64 and return Python floats.


# %% nbgrader={"grade": false, "grade_id": "fit_power_law", "locked": false, "schema_version": 3, "solution": true, "task": false}
def fit_power_law(x: torch.Tensor, y: torch.Tensor) -> dict:
    """Least squares in log space for y = (x_c / x)^alpha -> {"alpha": float, "x_c": float}."""
    ### BEGIN SOLUTION
    lx, ly = x.double().log(), y.double().log()
    design = torch.stack([torch.ones_like(lx), lx], dim=1)
    intercept, slope = torch.linalg.lstsq(design, ly[:, None]).solution[:, 0].tolist()
    return {"alpha": -slope, "x_c": math.exp(intercept / -slope)}
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_fit_power_law", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
check("scaling.fit_power_law.visible", fit_power_law)
### BEGIN HIDDEN TESTS
check("scaling.fit_power_law", fit_power_law)
### END HIDDEN TESTS

# %% [markdown]
# ## 5. Fitting L(N, D) as Hoffmann et al. do (approach 3) (3 points)
#
# *Taught in the book:* [Fitting scaling laws](../../book/02-scaling-laws/fitting.md).
#
# `n`, `d`, `loss`: lists of floats of the same length (10 to 60 points): model sizes, training
# tokens and final losses. Fit E, A, B, alpha, beta of L = E + A / N^alpha + B / D^beta:
#
# 1. parametrise a = log A, b = log B, e = log E (all three stay positive) and predict
#    log L_hat = logsumexp(a - alpha log N, b - beta log D, e) (`np.logaddexp.reduce`);
# 2. the objective is the **sum** over points of Huber_delta(log L_hat - log L) with delta = 1e-3:
#    Huber(r) = r^2 / 2 if |r| <= delta, else delta (|r| - delta / 2);
# 3. evaluate the objective at every point of the grid a, b in {0, 5, 10, 15, 20, 25},
#    e in {-1, -0.5, 0, 0.5, 1}, alpha, beta in {0, 0.5, 1, 1.5, 2} (4,500 points, order
#    a, b, e, alpha, beta as `itertools.product` gives them), and run
#    `scipy.optimize.minimize(..., method="L-BFGS-B", jac=True, options={"ftol": 1e-15,
#    "gtol": 1e-12, "maxiter": 3000})` from the **4** grid points with the lowest objective, with
#    the objective returning `(value, gradient)`: write the gradient out (the chain rule through
#    `logsumexp` and the Huber loss) or get it from `torch.autograd` (checks call your function
#    with gradients off, as at inference: put autograd code under `torch.enable_grad()`). The
#    objective is tiny and has flat valleys: with scipy's finite-difference gradient, or its
#    default tolerances, L-BFGS stops early, on some data sets at a visibly worse fit;
# 4. keep the best result and return `{"E", "A", "B", "alpha", "beta"}` as floats.
#
# The check accepts any parameters whose objective is within 0.1% (plus 1e-9 per point) of the
# best fit's. Hidden cases: exact points of the published law (your fit must recover it), noisy
# points (0.3-1%, a secret seed) of random laws with N in [1e6, 1e10] and D in [1e8, 1e12], and
# the chapter's own 11 CPU runs.
#
# **Device and dtype:** none: plain Python values in and out, no tensors.


# %% nbgrader={"grade": false, "grade_id": "fit_chinchilla", "locked": false, "schema_version": 3, "solution": true, "task": false}
def fit_chinchilla(n: list, d: list, loss: list) -> dict:
    """Hoffmann et al.'s approach 3 -> {"E", "A", "B", "alpha", "beta"} (floats)."""
    ### BEGIN SOLUTION
    log_n, log_d, log_l = (np.log(np.asarray(t, dtype=np.float64)) for t in (n, d, loss))
    delta = 1e-3

    def objective(theta):
        a, b, e, alpha, beta = theta
        terms = np.stack([a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e)])
        lse = np.logaddexp.reduce(terms, axis=0)
        r = lse - log_l
        value = np.where(np.abs(r) <= delta, 0.5 * r**2, delta * (np.abs(r) - 0.5 * delta)).sum()
        dr = np.clip(r, -delta, delta)  # Huber's derivative
        w = np.exp(terms - lse) * dr  # d lse / d term, times the loss's derivative: (3, P)
        grad = [w[0].sum(), w[1].sum(), w[2].sum(), -(w[0] * log_n).sum(), -(w[1] * log_d).sum()]
        return value, np.array(grad)

    grid = list(
        itertools.product(
            [0.0, 5.0, 10.0, 15.0, 20.0, 25.0],
            [0.0, 5.0, 10.0, 15.0, 20.0, 25.0],
            [-1.0, -0.5, 0.0, 0.5, 1.0],
            [0.0, 0.5, 1.0, 1.5, 2.0],
            [0.0, 0.5, 1.0, 1.5, 2.0],
        )
    )
    starts = sorted(grid, key=lambda s: objective(s)[0])[:4]
    options = {"ftol": 1e-15, "gtol": 1e-12, "maxiter": 3000}
    best = min(
        (
            minimize(objective, np.array(s), method="L-BFGS-B", jac=True, options=options)
            for s in starts
        ),
        key=lambda r: r.fun,
    )
    a, b, e, alpha, beta = best.x
    return {
        "E": math.exp(e),
        "A": math.exp(a),
        "B": math.exp(b),
        "alpha": float(alpha),
        "beta": float(beta),
    }
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_fit_chinchilla", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
check("scaling.fit_chinchilla.visible", fit_chinchilla)
### BEGIN HIDDEN TESTS
check("scaling.fit_chinchilla", fit_chinchilla)
### END HIDDEN TESTS

# %% [markdown]
# ## 6. Model FLOPs utilisation of a training step (2 points)
#
# *Taught in the book:* [Counting parameters, FLOPs and utilisation](../../book/02-scaling-laws/counting.md).
#
# MFU = (model FLOPs of one step) / (seconds per step) / (the device's peak FLOP/s), with the
# model FLOPs counted as **6 N T**: N = `n_params`, T = `tokens_per_step` (forward + backward,
# block 2's rule of thumb; recomputation and attention are not counted).
#
# `step()` launches one training step and `sync()` waits until all launched work has finished.
# On CUDA, `step()` returns as soon as its kernels are queued, so the clock must be read only
# after `sync()`: run `warmup` untimed steps, call `sync()`, start the clock
# (`time.perf_counter()`), run `iters` steps, call `sync()`, stop the clock; seconds per step is
# the elapsed time divided by `iters`. Call `sync()` exactly there (not inside the timed loop).
# Return the MFU as a float (0.4 means 40% of the peak).
#
# The grader simulates an asynchronous device: `step()` returns at once and `sync()` sleeps
# until the queued work would be done. Hidden cases: warmup 1 to 3, iters 4 to 8.
#
# **Device and dtype:** no tensors: `step` and `sync` are the grader's callables (CPU sleeps, GPU or
# not) and the answer is a Python float.


# %% nbgrader={"grade": false, "grade_id": "mfu", "locked": false, "schema_version": 3, "solution": true, "task": false}
def mfu(
    step,
    sync,
    n_params: int,
    tokens_per_step: int,
    peak_flops: float,
    warmup: int = 2,
    iters: int = 5,
) -> float:
    """(6 n_params tokens_per_step) / (synchronised seconds per step) / peak_flops."""
    ### BEGIN SOLUTION
    for _ in range(warmup):
        step()
    sync()
    start = time.perf_counter()
    for _ in range(iters):
        step()
    sync()
    seconds = (time.perf_counter() - start) / iters
    return 6 * n_params * tokens_per_step / seconds / peak_flops
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_mfu", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
check("scaling.mfu.visible", mfu)
### BEGIN HIDDEN TESTS
check("scaling.mfu", mfu)
### END HIDDEN TESTS

# %% [markdown]
# ## Try it on this machine
#
# Your `mfu` on a real training step of a small GPT-2 (random weights). On a CPU, `sync` does
# nothing; on CUDA use `torch.cuda.synchronize`. The peak is a rough guess for this CPU: see the
# book's page *Model FLOPs utilisation* for how it is measured.

# %% tags=["skip-grading"]
from transformers import GPT2Config, GPT2LMHeadModel  # noqa: E402

config = dict(
    vocab_size=256,
    n_positions=128,
    n_embd=128,
    n_layer=2,
    n_head=4,
    n_inner=None,
    tie_word_embeddings=True,
)
model = GPT2LMHeadModel(GPT2Config(**config, bos_token_id=0, eos_token_id=0))
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
ids = torch.randint(0, 256, (4, 128))


def train_step():
    logits = model(ids).logits[:, :-1]
    torch.nn.functional.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten()).backward()
    opt.step()
    opt.zero_grad()


try:
    n = count_params(config)["non_embedding"]
    print(f"{n:,} non-embedding parameters; MFU against a 100 GFLOP/s peak:")
    print(mfu(train_step, lambda: None, n, ids.numel(), 100e9, warmup=1, iters=3))
except NotImplementedError:
    print("answer blocks 1 and 6 first")

# %% [markdown]
# ## 7. The FLOP/s a matrix product achieves (2 points)
#
# *Taught in the book:* [Devices, timing and the roofline](../../book/00-prologue/measuring-devices.md).
#
# Measure the throughput of one `(m, k) @ (k, n)` product the way the peak of block 6 is
# measured: FLOP/s = (FLOPs of one call) / (seconds per call). One call costs **2 m n k** FLOPs:
# each of the m n output entries is a sum of k products, a multiply and an add per term (the
# prologue's `matmul_flops`).
#
# `matmul()` launches one product and `sync()` waits until all launched work has finished. As in
# block 6: run `warmup` untimed calls, call `sync()`, start the clock (`time.perf_counter()`), run
# `iters` calls, call `sync()`, stop the clock; seconds per call is the elapsed time divided by
# `iters`. Call `sync()` exactly there (not inside the timed loop). Return FLOP/s as a float (not
# GFLOP/s).
#
# The grader simulates an asynchronous device as in block 6: `matmul()` returns at once and
# `sync()` sleeps until the queued work would be done (the first calls are slow, so the warm-up's
# work takes longer than the timed calls'). Hidden cases: warmup 1 to 3, iters 5 to 12, each of
# m, n, k from 1 to 16,384 (m = n = k = 1 included), passed positionally in that order.
#
# **Device and dtype:** no tensors: `matmul` and `sync` are the grader's callables (CPU sleeps,
# GPU or not) and the answer is a Python float.


# %% nbgrader={"grade": false, "grade_id": "achieved_flops", "locked": false, "schema_version": 3, "solution": true, "task": false}
def achieved_flops(matmul, sync, m: int, n: int, k: int, warmup: int = 2, iters: int = 10) -> float:
    """(2 m n k) / (synchronised seconds per call of matmul())."""
    ### BEGIN SOLUTION
    for _ in range(warmup):
        matmul()
    sync()
    start = time.perf_counter()
    for _ in range(iters):
        matmul()
    sync()
    seconds = (time.perf_counter() - start) / iters
    return 2 * m * n * k / seconds
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_achieved_flops", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
check("scaling.achieved_flops.visible", achieved_flops)
### BEGIN HIDDEN TESTS
check("scaling.achieved_flops", achieved_flops)
### END HIDDEN TESTS

# %% [markdown]
# ## Try it on this machine
#
# Your `achieved_flops` on a real float32 matrix product, on the GPU if there is one (then `sync`
# is `torch.cuda.synchronize`) and on the CPU otherwise (a no-op `sync`). The figure changes from
# run to run with the machine's load; it is a measured peak of the kind block 6 divides by.

# %% tags=["skip-grading"]
device = "cuda" if torch.cuda.is_available() else "cpu"
size = 4096 if device == "cuda" else 512
a = torch.randn(size, size, device=device)
b = torch.randn(size, size, device=device)
sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
try:
    rate = achieved_flops(lambda: a @ b, sync, size, size, size, warmup=2, iters=10)
    print(f"{size} x {size} float32 matmul on {device}: {rate / 1e9:.1f} GFLOP/s")
except NotImplementedError:
    print("answer block 7 first")
