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
# # {title}
#
# Implement the blocks below. Each has a **docstring contract**; keep the names and signatures.
# Run the test cell after each answer: it runs *visible* checks that explain any mismatch. The
# grader runs more cases (other shapes, dtypes, gradients, edge cases) in a separate process, with
# **20 s per call, 3 GB of memory and 300 s for the whole notebook**.
#
# Read alongside: the book's chapter *{title}*.

# %% nbgrader={"grade": false, "grade_id": "setup", "locked": true, "schema_version": 3, "solution": false, "task": false} copied_from="autograder.kit.KIT_SETUP (its try/except block; tests/test_kit.py checks it)"
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
# ## 1. Scale (1 point)
#
# Return `x * factor` for a tensor `x` of any shape and dtype (the result keeps `x`'s dtype).
# Hidden cases: shapes with length-1 axes, float32/float64/bfloat16, gradients with respect to `x`.


# %% nbgrader={"grade": false, "grade_id": "scale", "locked": false, "schema_version": 3, "solution": true, "task": false}
def scale(x: torch.Tensor, factor: float) -> torch.Tensor:
    """``x * factor``.

    Args:
        x: (...) any shape, floating dtype.
        factor: a Python float.
    Returns:
        (...) same shape and dtype as ``x``.
    """
    ### BEGIN SOLUTION
    return x * factor
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "test_scale", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
check("{slug}.scale.visible", scale)
### BEGIN HIDDEN TESTS
check("{slug}.scale", scale)
### END HIDDEN TESTS
