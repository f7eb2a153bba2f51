"""``scaling.chinchilla_optimal`` (block 3): the closed-form optimum under C = 6ND, and 20 tokens/param."""

from __future__ import annotations

import math

from autograder.chapters.scaling._common import _rng
from autograder.checks.spec import Case, Step, register_pair
from course import scaling as ref


def _variant(*, six=6.0, swapped=False, with_e=True, sqrt_rule=True):
    def optimal(compute, law):
        a, b = law["alpha"], law["beta"]
        g = (a * law["A"] / (b * law["B"])) ** (1 / (a + b))
        pn, pd = (a, b) if swapped else (b, a)
        n_opt = g * (compute / six) ** (pn / (a + b))
        d_opt = (compute / six) ** (pd / (a + b)) / g
        n_20 = math.sqrt(compute / (six * 20)) if sqrt_rule else compute / (six * 20)
        d_20 = 20 * n_20
        e = law["E"] if with_e else 0.0

        def loss(n, d):
            return e + law["A"] / n**a + law["B"] / d**b

        return {
            "n_opt": n_opt,
            "d_opt": d_opt,
            "loss_opt": loss(n_opt, d_opt),
            "n_20": n_20,
            "d_20": d_20,
            "loss_20": loss(n_20, d_20),
        }

    return optimal


MISTAKES = {
    "C = 2ND instead of 6ND": _variant(six=2.0),
    "the exponents swapped (N_opt grows as C^(beta / (alpha + beta)), not alpha)": _variant(
        swapped=True
    ),
    "the irreducible term E left out of the loss": _variant(with_e=False),
    "the 20-tokens rule solved as N = C / 120 (D = 20 N grows with N: N = sqrt(C / 120))": (
        _variant(sqrt_rule=False)
    ),
}


def _cases(gen, device):
    rng = _rng(gen)
    fixed = [
        ("Gopher's budget 5.76e23 FLOPs, the published law", 5.76e23, dict(ref.CHINCHILLA)),
        ("1e18 FLOPs, the published law", 1e18, dict(ref.CHINCHILLA)),
        ("alpha = beta (N and D grow as sqrt(C))", 1e21, ref.CHINCHILLA | {"beta": 0.34}),
    ]
    for label, c, law in fixed:
        yield Case(label, [Step((c, law))])
    for _ in range(6):
        law = {
            "E": round(rng.uniform(1.0, 2.5), 3),
            "A": round(rng.uniform(50, 2000), 1),
            "B": round(rng.uniform(50, 2000), 1),
            "alpha": round(rng.uniform(0.2, 0.6), 3),
            "beta": round(rng.uniform(0.2, 0.6), 3),
        }
        c = 10 ** rng.uniform(15, 26)
        yield Case(f"C={c:.3g}, law {law}", [Step((c, law))])


register_pair(
    name="scaling.chinchilla_optimal",
    target="chinchilla_optimal",
    reference=ref.chinchilla_optimal,
    cases=_cases,
    visible_cases=3,
    misconceptions=MISTAKES,
)
