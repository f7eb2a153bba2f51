"""Shared by the chapter 05-ssl checks: seeded random helpers, the visible/hidden registration
pair, and a comparison that names a missing stop-gradient.

The student-facing contracts are the reference's own signatures (course/ssl_learning.py, proven
against Hugging Face ViTMAE, F.unfold, F.cross_entropy, nn.BatchNorm1d and float64 loops in
tests/test_ssl_learning_oracles.py).
"""

from __future__ import annotations

from dataclasses import replace

import torch

from autograder.checks.compare import DEFAULT_TOL
from autograder.checks.spec import Case, Outcome, compare_outcomes, rand_int, register_pair


def _randn(gen: torch.Generator, *shape, scale: float = 1.0, dtype=torch.float32):
    return (torch.randn(shape, generator=gen) * scale).to(dtype)


def _pick(gen: torch.Generator, options):
    return options[_ri(gen, 0, len(options) - 1)]


def _dt(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


#: bfloat16 losses go through exp/log and a normalisation: a little looser than the default
BF16 = {**DEFAULT_TOL, torch.bfloat16: (3e-2, 3e-2)}


def stop_gradient_compare(arg_names: dict[int, str]):
    """Compare as usual, but first say plainly when a gradient reaches an argument that sits
    behind a stop-gradient in the reference (its expected gradient is None)."""

    def compare(case: Case, expected: Outcome, got: Outcome) -> str | None:
        grads = list(got.input_grads)
        for k, j in enumerate(case.grad_wrt):
            want = expected.input_grads[k] if k < len(expected.input_grads) else None
            have = grads[k] if k < len(grads) else None
            if want is None and isinstance(have, torch.Tensor):
                if bool(have.abs().sum() > 0):
                    name = arg_names.get(j, f"argument {j}")
                    return (
                        f"a gradient reached {name}: missing stop-gradient (the target branch "
                        f"must be detached, e.g. {name}.detach(), so that no gradient flows "
                        "into it)"
                    )
                grads[k] = None  # an all-zero gradient is as good as none
        if len(got.outputs) != len(expected.outputs):
            return f"expected {len(expected.outputs)} results, got {len(got.outputs)}"
        got = replace(got, input_grads=grads)
        return compare_outcomes(expected, got, BF16, case.grad_wrt)

    return compare


def both(name: str, target: str, reference, cases, **kw) -> None:
    """Register the visible check ``<name>.visible`` and the hidden check ``<name>`` (bf16
    tolerances unless given)."""
    kw.setdefault("tol", BF16)
    register_pair(name, target, reference, cases, **kw)


_ri = rand_int
