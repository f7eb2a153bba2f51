"""The graded blocks of chapter 02-scaling-laws (Scaling laws): the reference implementations.

Each block is proven against an independent oracle in ``tests/test_scaling_oracles.py`` (``numel``
of Hugging Face GPT-2 modules, ``torch.utils.flop_counter.FlopCounterMode`` on real forward and
backward passes, ``scipy.optimize``, a brute-force grid); the checks in
``autograder/chapters/scaling/`` grade students against them.

A GPT configuration is a dict with Hugging Face ``GPT2Config``'s names: ``vocab_size`` (V),
``n_positions`` (P, learned positions), ``n_embd`` (d), ``n_layer`` (L), ``n_head``, ``n_inner``
(the MLP width d_ff, ``None`` for 4 d) and ``tie_word_embeddings`` (the output layer shares the
token embedding). Every linear layer of a GPT-2 block has a bias; every layer norm has a weight and
a bias.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable

import numpy as np
import torch

#: Hoffmann et al. (2022), eq. (10): L(N, D) = E + A / N^alpha + B / D^beta
CHINCHILLA = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
#: Kaplan et al. (2020), eqs. (1.1)-(1.3): exponents and scales (N non-embedding, D tokens,
#: C_min in PF-days)
KAPLAN = {
    "alpha_N": 0.076,
    "N_c": 8.8e13,
    "alpha_D": 0.095,
    "D_c": 5.4e13,
    "alpha_C": 0.050,
    "C_c": 3.1e8,
}
PF_DAY = 1e15 * 86400  # FLOPs in a petaflop/s-day


def d_ff(cfg: dict) -> int:
    return cfg["n_inner"] if cfg.get("n_inner") else 4 * cfg["n_embd"]


# --- block 1 -------------------------------------------------------------------------------------
def count_params(cfg: dict) -> dict[str, int]:
    """Parameters of Hugging Face's ``GPT2LMHeadModel(GPT2Config(**cfg))``.

    Returns ``{"total": ..., "non_embedding": ...}`` (Python ints). ``total`` counts every distinct
    tensor once (a tied output layer is the token embedding, not a second matrix); ``non_embedding``
    is the transformer blocks plus the final layer norm: total minus the token embedding (V d), the
    position embedding (P d) and, when untied, the output layer (V d).
    """
    v, p, d, n_layer = cfg["vocab_size"], cfg["n_positions"], cfg["n_embd"], cfg["n_layer"]
    f = d_ff(cfg)
    attention = d * 3 * d + 3 * d + d * d + d  # c_attn (qkv) and c_proj, with biases
    mlp = d * f + f + f * d + d  # c_fc and c_proj, with biases
    norms = 2 * (2 * d)  # ln_1, ln_2: weight and bias
    non_embedding = n_layer * (attention + mlp + norms) + 2 * d  # + ln_f
    embedding = v * d + p * d + (0 if cfg.get("tie_word_embeddings", True) else v * d)
    return {"total": non_embedding + embedding, "non_embedding": non_embedding}


# --- block 2 -------------------------------------------------------------------------------------
def kaplan_n(cfg: dict) -> int:
    """Kaplan et al.'s non-embedding N = 2 d L (2 d_attn + d_ff), d_attn = d (no biases, norms)."""
    d = cfg["n_embd"]
    return 2 * d * cfg["n_layer"] * (2 * d + d_ff(cfg))


def flops(cfg: dict, n_ctx: int, n_tokens: int) -> dict[str, int]:
    """Matmul FLOPs of a GPT-2 (2 m n k per (m, k) @ (k, n) product), Python ints.

    * ``kaplan_forward_per_token``: Kaplan et al.'s Table 1, 2 N + 2 L n_ctx d;
    * ``forward_per_token``: what a forward pass over sequences of ``n_ctx`` tokens computes per
      token: 2 N (the block matmuls) + 4 L n_ctx d (Q K^T and the weighted sum of V over the full
      n_ctx x n_ctx score matrix, masked entries included) + 2 d V (the output layer);
    * ``train``: 3 x forward_per_token x n_tokens (the backward pass costs twice the forward);
    * ``six_nd``: the rule of thumb 6 N D with D = n_tokens.
    """
    n, d, n_layer, v = kaplan_n(cfg), cfg["n_embd"], cfg["n_layer"], cfg["vocab_size"]
    forward = 2 * n + 4 * n_layer * n_ctx * d + 2 * d * v
    return {
        "kaplan_forward_per_token": 2 * n + 2 * n_layer * n_ctx * d,
        "forward_per_token": forward,
        "train": 3 * forward * n_tokens,
        "six_nd": 6 * n * n_tokens,
    }


# --- block 3 -------------------------------------------------------------------------------------
def chinchilla_loss(n: float, d: float, law: dict = CHINCHILLA) -> float:
    return law["E"] + law["A"] / n ** law["alpha"] + law["B"] / d ** law["beta"]


def chinchilla_optimal(compute: float, law: dict = CHINCHILLA) -> dict[str, float]:
    """Compute-optimal (N, D) for ``compute`` FLOPs under C = 6 N D, and the 20-tokens rule.

    Minimising A / N^a + B / D^b with D = C / (6 N) gives
    N_opt = G (C / 6)^(b / (a + b)), D_opt = (C / 6)^(a / (a + b)) / G, G = (a A / (b B))^(1 / (a + b)).
    The rule of thumb D = 20 N gives N_20 = sqrt(C / 120), D_20 = 20 N_20. Returns floats
    ``n_opt, d_opt, loss_opt, n_20, d_20, loss_20``.
    """
    a, b = law["alpha"], law["beta"]
    g = (a * law["A"] / (b * law["B"])) ** (1 / (a + b))
    n_opt = g * (compute / 6) ** (b / (a + b))
    d_opt = (compute / 6) ** (a / (a + b)) / g
    n_20 = math.sqrt(compute / 120)
    d_20 = 20 * n_20
    return {
        "n_opt": n_opt,
        "d_opt": d_opt,
        "loss_opt": chinchilla_loss(n_opt, d_opt, law),
        "n_20": n_20,
        "d_20": d_20,
        "loss_20": chinchilla_loss(n_20, d_20, law),
    }


def kaplan_optimal(compute: float) -> dict[str, float]:
    """Kaplan et al.'s compute-efficient size N = 1.3e9 C_min^0.73 (C_min in PF-days, N
    non-embedding), with D from C = 6 N D."""
    n = 1.3e9 * (compute / PF_DAY) ** 0.73
    return {"n_opt": n, "d_opt": compute / (6 * n)}


# --- block 4 -------------------------------------------------------------------------------------
def fit_power_law(x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Least squares in log space for y = (x_c / x)^alpha: log y = alpha log x_c - alpha log x.

    x, y: (n,) positive float tensors, n >= 2 with at least two distinct x. Returns floats
    ``alpha`` (positive when y falls with x) and ``x_c``.
    """
    lx, ly = x.double().log(), y.double().log()
    mx, my = lx.mean(), ly.mean()
    slope = ((lx - mx) * (ly - my)).sum() / ((lx - mx) ** 2).sum()
    intercept = my - slope * mx
    alpha = -float(slope)
    return {"alpha": alpha, "x_c": math.exp(float(intercept) / alpha)}


# --- block 5 -------------------------------------------------------------------------------------
HUBER_DELTA = 1e-3
#: Hoffmann et al.'s grid of initial values for (a, b, e, alpha, beta), a = log A, b = log B,
#: e = log E (4,500 points); L-BFGS starts from the ``N_STARTS`` grid points with the lowest objective
INIT_GRID = {
    "a": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    "b": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    "e": (-1.0, -0.5, 0.0, 0.5, 1.0),
    "alpha": (0.0, 0.5, 1.0, 1.5, 2.0),
    "beta": (0.0, 0.5, 1.0, 1.5, 2.0),
}
N_STARTS = 4
#: L-BFGS-B stopping rules: the objective is tiny (Huber with delta 1e-3), so scipy's default
#: relative tolerance stops far from the minimum
LBFGS_OPTIONS = {"ftol": 1e-15, "gtol": 1e-12, "maxiter": 3000}


def huber(r: np.ndarray, delta: float = HUBER_DELTA) -> np.ndarray:
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r**2, delta * (a - 0.5 * delta))


def chinchilla_objective(theta, log_n, log_d, log_l, delta: float = HUBER_DELTA) -> float:
    """Sum of Huber(log L_hat - log L), log L_hat = LSE(a - alpha log N, b - beta log D, e)."""
    return _objective_and_grad(theta, log_n, log_d, log_l, delta)[0]


def _objective_and_grad(theta, log_n, log_d, log_l, delta: float = HUBER_DELTA):
    a, b, e, alpha, beta = theta
    terms = np.stack([a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e)])
    lse = np.logaddexp.reduce(terms, axis=0)
    r = lse - log_l
    w = np.exp(terms - lse) * np.clip(r, -delta, delta)  # dHuber/dterm_k, (3, n)
    grad = np.array(
        [w[0].sum(), w[1].sum(), w[2].sum(), -(w[0] * log_n).sum(), -(w[1] * log_d).sum()]
    )
    return float(huber(r, delta).sum()), grad


def objective_of(params: dict, n, d, loss) -> float:
    """The Huber objective at parameters given as ``{"E", "A", "B", "alpha", "beta"}``."""
    theta = [
        math.log(params["A"]),
        math.log(params["B"]),
        math.log(params["E"]),
        params["alpha"],
        params["beta"],
    ]
    return chinchilla_objective(
        theta, *(np.log(np.asarray(t, dtype=np.float64)) for t in (n, d, loss))
    )


def fit_chinchilla(n: list[float], d: list[float], loss: list[float]) -> dict[str, float]:
    """Hoffmann et al.'s approach 3: fit L(N, D) = E + A / N^alpha + B / D^beta.

    Minimises the sum of Huber (delta 1e-3) losses between the predicted and observed log-loss with
    L-BFGS from the ``N_STARTS`` best points of ``INIT_GRID`` and keeps the best result. n, d, loss:
    sequences (lists or 1-D tensors) of positive numbers. Returns floats ``E, A, B, alpha, beta``.
    """
    from scipy.optimize import minimize

    logs = [np.log(np.asarray(t, dtype=np.float64)) for t in (n, d, loss)]
    grid = np.array(list(itertools.product(*INIT_GRID.values())))  # (4500, 5)
    a, b, e, alpha, beta = (grid[:, i : i + 1] for i in range(5))
    terms = np.stack(
        [a - alpha * logs[0], b - beta * logs[1], np.broadcast_to(e, (len(grid), len(logs[0])))]
    )
    values = huber(np.logaddexp.reduce(terms, axis=0) - logs[2]).sum(axis=1)  # (4500,)
    best = None
    for theta0 in grid[np.argsort(values, kind="stable")[:N_STARTS]]:
        res = minimize(
            _objective_and_grad,
            theta0,
            args=tuple(logs),
            method="L-BFGS-B",
            jac=True,
            options=LBFGS_OPTIONS,
        )
        if best is None or res.fun < best.fun:
            best = res
    a, b, e, alpha, beta = best.x
    return {
        "E": math.exp(e),
        "A": math.exp(a),
        "B": math.exp(b),
        "alpha": float(alpha),
        "beta": float(beta),
    }


# --- block 6 -------------------------------------------------------------------------------------
def mfu(
    step: Callable[[], object],
    sync: Callable[[], object],
    n_params: int,
    tokens_per_step: int,
    peak_flops: float,
    warmup: int = 2,
    iters: int = 5,
) -> float:
    """Model FLOPs utilisation of a training step: (6 N tokens_per_step) / seconds per step / peak.

    ``step()`` launches one training step (on CUDA it returns before the work is done), ``sync()``
    waits for all launched work. Run ``warmup`` untimed steps, ``sync()``, start the clock, run
    ``iters`` steps, ``sync()``, stop the clock.
    """
    for _ in range(warmup):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(iters):
        step()
    sync()
    seconds = (time.perf_counter() - t0) / iters
    return 6 * n_params * tokens_per_step / seconds / peak_flops


# --- block 7 -------------------------------------------------------------------------------------
def achieved_flops(
    matmul: Callable[[], object],
    sync: Callable[[], object],
    m: int,
    n: int,
    k: int,
    warmup: int = 2,
    iters: int = 10,
) -> float:
    """FLOP/s that one ``(m, k) @ (k, n)`` product achieves: 2 m n k FLOPs per call (a multiply
    and an add per term) over the synchronised seconds per call.

    ``matmul()`` launches one product (on CUDA it returns before the work is done), ``sync()``
    waits for all launched work. Run ``warmup`` untimed calls, ``sync()``, start the clock, run
    ``iters`` calls, ``sync()``, stop the clock; seconds per call is the elapsed time over
    ``iters``.
    """
    for _ in range(warmup):
        matmul()
    sync()
    t0 = time.perf_counter()
    for _ in range(iters):
        matmul()
    sync()
    seconds = (time.perf_counter() - t0) / iters
    return 2 * m * n * k / seconds
