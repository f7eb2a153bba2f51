"""``scaling.fit_power_law`` (block 4): y = (x_c / x)^alpha by least squares in log space."""

from __future__ import annotations

import math

import numpy as np
import torch

from autograder.chapters.scaling._common import _rng, sweep_points
from autograder.checks.spec import Case, Step, register_pair
from course import scaling as ref


def _linear_space(x, y):
    """Least squares on y itself (curve_fit), started from the log-space answer."""
    from scipy.optimize import curve_fit

    start = ref.fit_power_law(x, y)
    xs, ys = x.double().numpy(), y.double().numpy()
    scale = float(np.exp(np.log(xs).mean()))

    def model(x, alpha, log_xc):  # x_c relative to the data's scale, for conditioning
        return np.exp(alpha * (log_xc - np.log(x / scale)))

    p0 = [start["alpha"], math.log(start["x_c"] / scale)]
    (alpha, log_xc), _ = curve_fit(model, xs, ys, p0=p0, maxfev=20000)
    return {"alpha": float(alpha), "x_c": float(math.exp(log_xc) * scale)}


def _mixed_bases(x, y):
    lx, ly = x.double().log10(), y.double().log10()
    slope = float(((lx - lx.mean()) * (ly - ly.mean())).sum() / ((lx - lx.mean()) ** 2).sum())
    intercept = float(ly.mean()) - slope * float(lx.mean())
    return {"alpha": -slope, "x_c": math.exp(intercept / -slope)}


def _slope_sign(x, y):
    fit = ref.fit_power_law(x, y)
    return {"alpha": -fit["alpha"], "x_c": fit["x_c"]}


MISTAKES = {
    "fitted in linear space (least squares on y instead of log y)": _linear_space,
    "log10 for the fit but exp for x_c (x_c = 10^(intercept / alpha))": _mixed_bases,
    "alpha returned as the slope (negative); y = (x_c / x)^alpha has slope -alpha": _slope_sign,
}


def _data(rng, gen, n, alpha, x_c, lo, hi, noise, dtype=torch.float64):
    x = torch.logspace(lo, hi, n, dtype=torch.float64)
    x = x * torch.exp(0.1 * torch.randn(n, generator=gen, dtype=torch.float64))
    y = (x_c / x) ** alpha * torch.exp(noise * torch.randn(n, generator=gen, dtype=torch.float64))
    return x.to(dtype), y.to(dtype)


def _cases(gen, device):
    rng = _rng(gen)
    x, y = _data(rng, gen, 12, 0.076, 8.8e13, 4, 9, 0.02)
    yield Case("Kaplan's L(N) with 2% noise, 12 points", [Step((x, y))])
    x = torch.tensor([1e3, 1e6], dtype=torch.float64)
    yield Case("two points (an exact line)", [Step((x, (2e9 / x) ** 0.5))])
    x, y = _data(rng, gen, 8, 0.095, 5.4e13, 7, 11, 0.05)
    yield Case("Kaplan's L(D) with 5% noise, 8 points", [Step((x, y))])
    for _ in range(4):
        alpha = rng.uniform(0.03, 1.5)
        x_c = 10 ** rng.uniform(2, 14)
        lo = rng.uniform(0, 6)
        n = rng.randint(3, 40)
        noise = rng.choice([0.0, 0.01, 0.1])
        dtype = rng.choice([torch.float32, torch.float64])
        x, y = _data(rng, gen, n, alpha, x_c, lo, lo + rng.uniform(1, 5), noise, dtype)
        yield Case(
            f"alpha={alpha:.3f}, x_c={x_c:.3g}, {n} points, noise {noise}, {str(dtype)[6:]}",
            [Step((x, y))],
        )
    sweep = sweep_points("sweep")
    if sweep:
        x = torch.tensor([p[0] for p in sweep], dtype=torch.float64)
        y = torch.tensor([p[2] for p in sweep], dtype=torch.float64)
        yield Case("the chapter's CPU sweep: held-out loss vs N", [Step((x, y))])


register_pair(
    name="scaling.fit_power_law",
    target="fit_power_law",
    reference=ref.fit_power_law,
    cases=_cases,
    visible_cases=3,
    misconceptions=MISTAKES,
)
