# ---
# jupyter:
#   autograder:
#     cpu_s: 120
#     memory_mb: 3072
#     timeout_s: 20
#     student_budget_s: 200
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Prologue: FLOPs, a stable softmax, and honest timing
#
# Implement the three functions below. Each has a **docstring contract**; keep the names and
# signatures. Run the test cell after each answer: it runs *visible* checks that explain any
# mismatch. The grader runs more cases than you see here (other shapes, dtypes, gradients, edge
# cases) in a separate process, with **20 s per call, 3 GB of memory and 200 s for the whole
# notebook**.
#
# Read alongside: the book's *Prologue* chapter (tensors and dtypes; devices, timing and the roofline).

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false} copied_from="autograder.kit.KIT_SETUP (its try/except block; tests/test_kit.py checks it)"
import statistics
import time

import torch

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
# ## 1. Counting FLOPs (1 point)
#
# *Taught in the book:* [Measuring devices: FLOP/s, bandwidth and the roofline](../../book/00-prologue/measuring-devices.md) (`book/00-prologue/measuring-devices.md`).
#
# A matrix product of an `(m, k)` matrix by a `(k, n)` matrix computes `m * n` dot products of length
# `k`. Count one multiply and one add as **two** floating-point operations.
#
# **Device and dtype:** none: plain Python values in and out, no tensors.


# %% nbgrader={"grade": false, "grade_id": "matmul_flops", "locked": false, "schema_version": 3, "solution": true, "task": false}
def matmul_flops(m: int, n: int, k: int) -> int:
    """Floating-point operations of ``(m, k) @ (k, n)``.

    Args:
        m, n, k: positive ints, the matrix dimensions.
    Returns:
        int: the number of FLOPs (multiplies and adds both count).
    """
    ### BEGIN SOLUTION
    return 2 * m * n * k
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_matmul_flops", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
assert matmul_flops(2, 3, 4) == 48, "2*3 dot products of length 4, two FLOPs per term"
check("prologue.matmul_flops.visible", matmul_flops)
### BEGIN HIDDEN TESTS
check("prologue.matmul_flops", matmul_flops)
### END HIDDEN TESTS

# %% [markdown]
# ## 2. A numerically stable softmax (3 points)
#
# *Taught in the book:* [A numerically stable softmax](../../book/00-prologue/softmax.md) (`book/00-prologue/softmax.md`).
#
# $\mathrm{softmax}(x)_i = e^{x_i} / \sum_j e^{x_j}$ overflows when some $x_i$ is large (try 1000 in
# float32). Subtracting the maximum first changes nothing mathematically and keeps every exponent
# $\le 0$. For `float16`/`bfloat16` inputs, compute in float32 and return the input's dtype.
# Masked entries are `-inf` and must get probability 0. Do not call `torch.softmax` or
# `torch.nn.functional.softmax`.
#
# **Device:** hidden inputs are on CUDA when the grader has a GPU, else on CPU; make every new
# tensor on the device of `x` (`device=x.device`). **Dtype:** float32, float64 and bfloat16 `x`;
# return `x`'s dtype.


# %% nbgrader={"grade": false, "grade_id": "softmax", "locked": false, "schema_version": 3, "solution": true, "task": false}
def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax of ``x`` along ``dim``.

    Args:
        x: tensor of any shape and floating dtype, on any device; may contain -inf (masked).
        dim: the axis to normalise (negative values count from the end).
    Returns:
        Tensor of the same shape, dtype and device as ``x``; sums to 1 along ``dim``.
        Differentiable (autograd must flow through it).
    """
    ### BEGIN SOLUTION
    compute = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    shifted = compute - compute.amax(dim=dim, keepdim=True)
    e = shifted.exp()
    return (e / e.sum(dim=dim, keepdim=True)).to(x.dtype)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_softmax", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
p = softmax(torch.tensor([[1000.0, 1000.0], [0.0, float("-inf")]]))
assert torch.allclose(p, torch.tensor([[0.5, 0.5], [1.0, 0.0]])), p
check("prologue.softmax.visible", softmax)
### BEGIN HIDDEN TESTS
check("prologue.softmax", softmax)
### END HIDDEN TESTS

# %% [markdown]
# ## 3. Timing that does not lie (2 points)
#
# *Taught in the book:* [Measuring devices: FLOP/s, bandwidth and the roofline](../../book/00-prologue/measuring-devices.md) (`book/00-prologue/measuring-devices.md`).
#
# GPU kernels run asynchronously: read the clock only after `torch.cuda.synchronize()` when CUDA is
# present. Call `fn` `warmup` times without timing it, then `iters` times, timing each call, and
# return the **median** in seconds.
#
# **Device and dtype:** the grader's `fn` is a CPU sleep and the answer a Python float; call
# `torch.cuda.synchronize()` only when `torch.cuda.is_available()`, so that the same code runs on
# CPU and on a GPU.


# %% nbgrader={"grade": false, "grade_id": "time_fn", "locked": false, "schema_version": 3, "solution": true, "task": false}
def time_fn(fn, warmup: int = 2, iters: int = 5) -> float:
    """Median wall-clock seconds of ``fn()`` over ``iters`` timed calls after ``warmup`` calls.

    Args:
        fn: a callable taking no arguments.
        warmup: untimed calls first (caches, allocator, kernel selection).
        iters: timed calls; each is timed separately.
    Returns:
        float: the median of the ``iters`` timings, in seconds. Synchronises CUDA (when
        available) before reading the clock.
    """

    ### BEGIN SOLUTION
    def sync():
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_time_fn", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
t = time_fn(lambda: time.sleep(0.01), warmup=1, iters=3)
assert 0.008 < t < 0.05, f"a 10 ms sleep measured as {t:.4f} s"
check("prologue.time_fn.visible", time_fn)
### BEGIN HIDDEN TESTS
check("prologue.time_fn", time_fn)
### END HIDDEN TESTS
