"""Chapter 02-scaling-laws: the references against independent oracles (never against themselves):
``numel`` of Hugging Face GPT-2 modules, FlopCounterMode on real forward/backward passes,
scipy.optimize for the fits, a brute-force grid for the compute-optimal allocation."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from course import scaling as ref

transformers = pytest.importorskip("transformers")


def gpt2(cfg: dict):
    config = transformers.GPT2Config(**cfg, attn_implementation="eager")
    with torch.device("meta"):
        return transformers.GPT2LMHeadModel(config)


def random_configs(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        heads = rng.choice([1, 2, 4])
        out.append(
            {
                "vocab_size": rng.randint(1, 500),
                "n_positions": rng.randint(1, 300),
                "n_embd": heads * rng.randint(1, 24),
                "n_layer": rng.randint(0, 4),
                "n_head": heads,
                "n_inner": rng.choice([None, rng.randint(1, 200)]),
                "tie_word_embeddings": rng.random() < 0.5,
            }
        )
    return out


GPT2_SMALL = {
    "vocab_size": 50257,
    "n_positions": 1024,
    "n_embd": 768,
    "n_layer": 12,
    "n_head": 12,
    "n_inner": None,
    "tie_word_embeddings": True,
}


@pytest.mark.parametrize("cfg", [GPT2_SMALL, *random_configs(12)])
def test_count_params_is_numel_of_hf_gpt2(cfg):
    model = gpt2(cfg)
    got = ref.count_params(cfg)
    assert got["total"] == sum(p.numel() for p in model.parameters())  # tied counted once
    blocks = sum(p.numel() for p in model.transformer.h.parameters())
    assert got["non_embedding"] == blocks + sum(
        p.numel() for p in model.transformer.ln_f.parameters()
    )


def test_gpt2_small_is_124m():
    assert ref.count_params(GPT2_SMALL)["total"] == 124_439_808


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_flops_match_flop_counter_forward_and_backward(seed):
    cfg = random_configs(1, seed=10 + seed)[0] | {"n_layer": 1 + seed}
    cfg["n_positions"] = max(cfg["n_positions"], 8)
    torch.manual_seed(seed)
    model = transformers.GPT2LMHeadModel(
        transformers.GPT2Config(**cfg, attn_implementation="eager")
    )
    model.config.use_cache = False
    batch, n_ctx = 2, min(cfg["n_positions"], 16)
    ids = torch.randint(0, cfg["vocab_size"], (batch, n_ctx))
    counter = FlopCounterMode(display=False)
    with counter:
        logits = model(ids).logits
    forward = counter.get_total_flops()
    with counter:
        logits.sum().backward()
    backward = counter.get_total_flops()
    want = ref.flops(cfg, n_ctx, batch * n_ctx)
    assert forward == want["forward_per_token"] * batch * n_ctx
    assert forward + backward == want["train"]
    # Kaplan's count leaves out the output layer and half of the attention products
    assert want["kaplan_forward_per_token"] < want["forward_per_token"]


def test_kaplan_n_of_gpt2_small_is_12_l_d_squared():
    assert ref.kaplan_n(GPT2_SMALL) == 12 * 12 * 768**2
    # and it is count_params' non-embedding count without biases and norms
    d, n_layer = 768, 12
    extra = n_layer * (3 * d + d + 4 * d + d + 4 * d) + 2 * d
    assert ref.count_params(GPT2_SMALL)["non_embedding"] == ref.kaplan_n(GPT2_SMALL) + extra


@pytest.mark.parametrize("compute", [1e18, 5.76e23, 3e25])
def test_chinchilla_optimum_matches_a_brute_force_grid(compute):
    law = ref.CHINCHILLA
    got = ref.chinchilla_optimal(compute, law)
    log_n = np.linspace(math.log(1e5), math.log(1e14), 400_001)
    n = np.exp(log_n)
    loss = law["E"] + law["A"] / n ** law["alpha"] + law["B"] / (compute / (6 * n)) ** law["beta"]
    i = int(loss.argmin())
    assert got["n_opt"] == pytest.approx(n[i], rel=1e-4)
    assert got["n_opt"] * got["d_opt"] * 6 == pytest.approx(compute, rel=1e-12)
    assert got["loss_opt"] <= loss[i] + 1e-12  # no grid point does better
    assert got["loss_opt"] == pytest.approx(loss[i], rel=1e-9)
    assert got["loss_opt"] <= got["loss_20"]
    assert got["d_20"] / got["n_20"] == pytest.approx(20)


def test_chinchilla_at_gopher_compute_is_about_chinchilla():
    """Hoffmann et al.: at Gopher's budget (5.76e23 FLOPs) approach 3 gives ~40B parameters."""
    got = ref.chinchilla_optimal(5.76e23)
    assert 3e10 < got["n_opt"] < 5e10


def test_fit_power_law_matches_scipy_linregress_and_recovers_kaplan():
    from scipy.stats import linregress

    gen = torch.Generator().manual_seed(0)
    x = torch.logspace(3, 9, 20, dtype=torch.float64)
    clean = (ref.KAPLAN["N_c"] / x) ** ref.KAPLAN["alpha_N"]
    got = ref.fit_power_law(x, clean)
    assert got["alpha"] == pytest.approx(0.076, rel=1e-9)
    assert got["x_c"] == pytest.approx(8.8e13, rel=1e-7)
    noisy = clean * torch.exp(0.02 * torch.randn(20, generator=gen, dtype=torch.float64))
    fit = linregress(np.log(x.numpy()), np.log(noisy.numpy()))
    got = ref.fit_power_law(x, noisy)
    assert got["alpha"] == pytest.approx(-fit.slope, rel=1e-10)
    assert got["x_c"] == pytest.approx(math.exp(-fit.intercept / fit.slope), rel=1e-9)


def synthetic(law: dict, n_points: int, noise: float, seed: int):
    gen = torch.Generator().manual_seed(seed)
    n = torch.exp(
        torch.empty(n_points, dtype=torch.float64).uniform_(
            math.log(1e7), math.log(1e10), generator=gen
        )
    )
    d = torch.exp(
        torch.empty(n_points, dtype=torch.float64).uniform_(
            math.log(1e9), math.log(1e12), generator=gen
        )
    )
    loss = law["E"] + law["A"] / n ** law["alpha"] + law["B"] / d ** law["beta"]
    return n, d, loss * torch.exp(noise * torch.randn(n_points, generator=gen, dtype=torch.float64))


def test_fit_chinchilla_recovers_the_published_law_from_clean_points():
    n, d, loss = synthetic(ref.CHINCHILLA, 40, 0.0, 0)
    got = ref.fit_chinchilla(n, d, loss)
    for k, v in ref.CHINCHILLA.items():
        assert got[k] == pytest.approx(v, rel=2e-3), k


def test_fit_chinchilla_reaches_scipy_least_squares_huber_optimum():
    """scipy's least_squares with loss='huber' (f_scale = delta): its cost is the same Huber sum."""
    from scipy.optimize import least_squares

    n, d, loss = synthetic(ref.CHINCHILLA, 60, 0.01, 1)
    logs = [np.log(t.numpy()) for t in (n, d, loss)]

    def residuals(theta):
        a, b, e, alpha, beta = theta
        terms = np.stack([a - alpha * logs[0], b - beta * logs[1], np.full_like(logs[0], e)])
        return np.logaddexp.reduce(terms, axis=0) - logs[2]

    best = min(
        (
            least_squares(residuals, x0, loss="huber", f_scale=ref.HUBER_DELTA)
            for x0 in [
                [6.0, 6.0, 0.5, 0.3, 0.3],
                [5.0, 7.0, 0.0, 0.4, 0.25],
                [7.0, 5.0, 0.6, 0.3, 0.3],
            ]
        ),
        key=lambda r: r.cost,
    )
    got = ref.fit_chinchilla(n, d, loss)
    ours = ref.objective_of(got, n, d, loss)
    assert ours <= best.cost * (1 + 1e-6) + 1e-12
    theirs = {"A": math.exp(best.x[0]), "B": math.exp(best.x[1]), "E": math.exp(best.x[2])}
    assert got["E"] == pytest.approx(theirs["E"], rel=0.05)


def test_mfu_counts_six_n_tokens_over_synchronised_time():
    import time

    launched = []

    def step():  # an "asynchronous" step: queues 10 ms of work
        launched.append(0.01)

    def sync():
        time.sleep(sum(launched))
        launched.clear()

    got = ref.mfu(step, sync, n_params=1000, tokens_per_step=100, peak_flops=1e9, warmup=2, iters=5)
    assert got == pytest.approx(6 * 1000 * 100 / 0.01 / 1e9, rel=0.3)


def _counted_matmul_flops(m: int, n: int, k: int) -> int:
    """FlopCounterMode's count of one (m, k) @ (k, n) torch.matmul (on the meta device)."""
    a, b = torch.empty(m, k, device="meta"), torch.empty(k, n, device="meta")
    with FlopCounterMode(display=False) as counter:
        torch.matmul(a, b)
    return counter.get_total_flops()


@pytest.mark.parametrize(
    "m,n,k,warmup,iters", [(1, 1, 1, 1, 5), (4096, 2048, 1024, 2, 10), (1, 8192, 8192, 3, 12)]
)
def test_achieved_flops_on_a_simulated_device_is_counted_flops_over_time_per_call(
    monkeypatch, m, n, k, warmup, iters
):
    """A device with its own clock: matmul() only queues work (the first calls 5x slower, as a
    cold start), sync() advances the clock by the queued work. The reference, reading that
    clock, returns exactly FlopCounterMode's count over the work of one warm call."""
    from types import SimpleNamespace

    from course.scaling import blocks

    work_s, now, queued, calls = 0.004, [0.0], [0.0], [0]

    def matmul():
        calls[0] += 1
        queued[0] += work_s * (5 if calls[0] <= warmup else 1)

    def sync():
        now[0] += queued[0]
        queued[0] = 0.0

    monkeypatch.setattr(blocks, "time", SimpleNamespace(perf_counter=lambda: now[0]))
    got = ref.achieved_flops(matmul, sync, m, n, k, warmup=warmup, iters=iters)
    assert calls[0] == warmup + iters
    assert got == pytest.approx(_counted_matmul_flops(m, n, k) / work_s, rel=1e-12)


def test_achieved_flops_of_torch_matmul_agrees_with_an_independent_timing():
    """A sanity oracle, not a speed test: on the CPU (a no-op sync), the reference's FLOP/s of a
    real torch.matmul and FlopCounterMode's count over a perf_counter timing of the same loop,
    taken here, agree within a loose factor (both are noisy measurements of the same thing)."""
    import time

    m, n, k, iters = 192, 256, 320, 10
    torch.manual_seed(0)
    a, b = torch.randn(m, k), torch.randn(k, n)
    ours = max(ref.achieved_flops(lambda: a @ b, lambda: None, m, n, k, iters=iters) for _ in "abc")
    rounds = []
    for _ in range(3):
        torch.matmul(a, b)
        t0 = time.perf_counter()
        for _ in range(iters):
            torch.matmul(a, b)
        rounds.append(_counted_matmul_flops(m, n, k) * iters / (time.perf_counter() - t0))
    theirs = max(rounds)
    assert theirs / 10 < ours < theirs * 10, (ours, theirs)
