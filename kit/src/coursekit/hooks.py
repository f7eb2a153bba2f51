"""Checks' own comparisons (where "outputs equal within tolerance" is not the contract).

Each hook is ``hook(case, expected, got) -> message or None``, shared by the kit (which finds it by
the name recorded in a snapshot) and the grader (whose check specs import it from here). Each
carries ``kit_hook = (name, params)``: the recipe :func:`resolve` rebuilds it from. No reference
implementation is needed by any of them: they read the expected outcome they are given.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import torch

from coursekit.calls import Case, Outcome, compare_outcomes
from coursekit.compare import BF16_TOL, DEFAULT_TOL, REFERENCE_ERROR_MARGIN, diagnose
from coursekit.values import Sleeper

Hook = Callable[[Case, Outcome, Outcome], "str | None"]
_FACTORIES: dict[str, Callable[..., Hook]] = {}


def _named(name: str):
    """Register a hook factory under ``name``; every hook it makes records its recipe."""

    def register(factory: Callable[..., Hook]) -> Callable[..., Hook]:
        def make(**params: Any) -> Hook:
            fn = factory(**params)
            fn.kit_hook = (name, params)
            return fn

        make.__name__ = factory.__name__
        make.__doc__ = factory.__doc__
        _FACTORIES[name] = make
        return make

    return register


def resolve(name: str, params: dict[str, Any] | None = None) -> Hook:
    """The hook a snapshot names (``kit_hook`` of the check's comparison)."""
    if name not in _FACTORIES:
        raise KeyError(f"this kit knows no comparison called {name!r}: upgrade the kit")
    return _FACTORIES[name](**(params or {}))


@_named("generated_ids")
def generated_ids() -> Hook:
    """Generated token ids equal the expected ones; with two steps (the same seed twice), the
    student's two runs must agree with each other and start with the prompt."""

    def compare(case: Case, expected: Outcome, got: Outcome) -> str | None:
        if len(case.steps) == 2:  # determinism: the student's two runs, compared with each other
            first, second = got.outputs
            prompt = case.steps[0].args[0]
            want = (prompt.shape[0], prompt.shape[1] + case.steps[0].args[1])
            if not isinstance(first, torch.Tensor) or tuple(first.shape) != want:
                return f"generated ids: expected shape {want}, got {getattr(first, 'shape', first)}"
            if not torch.equal(first[:, : prompt.shape[1]].cpu(), prompt.cpu()):
                return "generated ids must start with the prompt"
            if not isinstance(second, torch.Tensor) or not torch.equal(first, second):
                return (
                    "two runs with the same seed gave different tokens: draw with "
                    "torch.multinomial(..., generator=torch.Generator().manual_seed(seed))"
                )
            return None
        return diagnose(expected.outputs[0], got.outputs[0], None, "generated ids")

    return compare


@_named("attention_padded_rows")
def attention_padded_rows() -> Hook:
    """Padded query rows attend to nothing real: their values are unspecified, so skip them
    (select the specified rows by indexing: multiplying by 0 would keep a NaN)."""

    def compare(case: Case, expected: Outcome, got: Outcome) -> str | None:
        mask = case.steps[0].kwargs.get("attention_mask")
        e, g = expected.outputs[0], got.outputs[0]
        if mask is not None and isinstance(g, torch.Tensor) and g.shape == e.shape:
            keep = mask.bool().to(e.device)
            truth = expected.truth
            expected = replace(
                expected,
                outputs=[e[keep]],
                truth=replace(truth, outputs=[truth.outputs[0][keep]]) if truth else None,
            )
            got = replace(got, outputs=[g[keep]])
        return compare_outcomes(expected, got, BF16_TOL, case.grad_wrt)

    return compare


@_named("unchosen_experts")
def unchosen_experts() -> Hook:
    """An expert no token chose has no gradient in a gathered implementation and a zero gradient
    in a dense one: both are right, so a missing gradient counts as zeros."""

    def filled(outcome: Outcome, other: Outcome) -> Outcome:
        grads = dict(outcome.param_grads)
        for name, g in other.param_grads.items():
            if grads.get(name) is None and g is not None:
                grads[name] = torch.zeros_like(g)
        return replace(outcome, param_grads=grads)

    def compare(case: Case, expected: Outcome, got: Outcome) -> str | None:
        expected = filled(expected, got)
        if expected.truth is not None:
            expected.truth = filled(expected.truth, got)
        return compare_outcomes(expected, filled(got, expected), BF16_TOL, case.grad_wrt)

    return compare


#: chapter 5's blocks may compute in float32 inside for float64 inputs (their contracts say so)
FLOAT32_INSIDE_TOL = {**BF16_TOL, torch.float64: BF16_TOL[torch.float32]}


@_named("stop_gradient")
def stop_gradient(arg_names: dict[str, str]) -> Hook:
    """Compare as usual, but first say plainly when a gradient reaches an argument that sits
    behind a stop-gradient in the reference (its expected gradient is None). ``arg_names``:
    positional index (as a string) -> the argument's name in feedback."""

    def compare(case: Case, expected: Outcome, got: Outcome) -> str | None:
        grads = list(got.input_grads)
        for k, j in enumerate(case.grad_wrt):
            want = expected.input_grads[k] if k < len(expected.input_grads) else None
            have = grads[k] if k < len(grads) else None
            if want is None and isinstance(have, torch.Tensor):
                if bool(have.abs().sum() > 0):
                    name = arg_names.get(str(j), f"argument {j}")
                    return (
                        f"a gradient reached {name}: missing stop-gradient (the target branch "
                        f"must be detached, e.g. {name}.detach(), so that no gradient flows "
                        "into it)"
                    )
                grads[k] = None  # an all-zero gradient is as good as none
        if len(got.outputs) != len(expected.outputs):
            return f"expected {len(expected.outputs)} results, got {len(got.outputs)}"
        got = replace(got, input_grads=grads)
        return compare_outcomes(expected, got, FLOAT32_INSIDE_TOL, case.grad_wrt)

    return compare


@_named("median_timing")
def median_timing() -> Hook:
    """``time_fn``: called warmup + iters times, returns about one warm call's seconds."""

    def compare(case: Case, expected: Outcome, got: Outcome) -> str | None:
        step = case.steps[0]
        sleeper: Sleeper = step.args[0]
        warmup, iters = step.kwargs["warmup"], step.kwargs["iters"]
        result = got.outputs[0]
        if isinstance(result, bool) or not isinstance(result, float | int):
            return f"expected a float number of seconds, got {type(result).__name__}"
        calls = got.sleeper_calls[0] if got.sleeper_calls else 0
        if calls != warmup + iters:
            return (
                f"fn was called {calls} times; expected warmup + iters = {warmup + iters} "
                "(call it warmup times untimed, then iters times timed)"
            )
        # a loaded machine wakes every sleep late: the case's wall-clock time beyond its nominal
        # sleeps, shared over the calls, is how late each one was on average
        nominal = sleeper.cold_s * warmup + sleeper.warm_s * iters
        late = max(0.0, (got.wall_s or 0.0) - nominal) / max(1, warmup + iters)
        if not 0.8 * sleeper.warm_s <= result <= 1.5 * sleeper.warm_s + 0.01 + late:
            hint = (
                " (did the warm-up calls end up in the timing?)" if result > sleeper.warm_s else ""
            )
            return (
                f"returned {result:.4f} s but each timed call takes about {sleeper.warm_s:.3f} s; "
                f"report the median of the timed calls in seconds{hint}"
            )
        return None

    return compare


#: an MFU within these ratios of the right one passes (sleeps are not exact)
MFU_LOW, MFU_HIGH = 0.75, 1.35
#: however loaded the machine, a ratio below this fails: the named mistakes sit at 1/2 and below
MFU_FLOOR = 0.58


def mfu_low(sync: Sleeper, wall_s: float | None) -> float:
    """The lowest MFU ratio that passes. A busy machine (several grading workers per node, by
    design) wakes sleepers late, which lengthens the student's timed window and lowers their
    MFU; the case's wall-clock time beyond its nominal sleeps bounds that delay, so the bound
    drops by it (never below :data:`MFU_FLOOR`)."""
    nominal = sync.cold_s * sync.cold_calls + sync.warm_s
    late = max(0.0, (wall_s or 0.0) - nominal)
    return max(MFU_FLOOR, min(MFU_LOW, MFU_LOW * sync.warm_s / (sync.warm_s + late)))


@_named("mfu_timing")
def mfu_timing() -> Hook:
    """``mfu`` on a simulated asynchronous device (two sleepers: ``step`` launches, ``sync``
    drains). The ratio of the answer to the right one names the mistake."""

    def compare(case: Case, expected: Outcome, got: Outcome) -> str | None:
        step = case.steps[0]
        warmup, iters = step.kwargs["warmup"], step.kwargs["iters"]
        result = got.outputs[0]
        if isinstance(result, bool) or not isinstance(result, float | int):
            return f"expected a float (a fraction of the peak), got {type(result).__name__}"
        calls = got.sleeper_calls
        steps = calls[0] if calls else 0
        syncs = calls[1] if len(calls) > 1 else 0
        if steps != warmup + iters:
            return f"step() was called {steps} times; expected warmup + iters = {warmup + iters}"
        if syncs == 0:
            return (
                "sync() was never called: timed without synchronising. On CUDA a step only "
                "launches work; call sync() after the warm-up (before starting the clock) and "
                "after the timed steps (before stopping it)"
            )
        sync: Sleeper = step.args[1]
        kw = step.kwargs
        want = 6 * kw["n_params"] * kw["tokens_per_step"] / (sync.warm_s / iters) / kw["peak_flops"]
        ratio = result / want
        low = mfu_low(sync, got.wall_s)
        if low <= ratio <= MFU_HIGH:
            return None
        # load lowers every ratio by up to the factor low / MFU_LOW: a mistake's ratio is near
        # its own value times some factor in [low / MFU_LOW, 1]
        spread = MFU_LOW / low

        def near(value: float, tol: float) -> bool:
            return ratio - tol <= value <= ratio * spread + tol

        msg = f"returned {result:.4g}, expected about {want:.4g} (ratio {ratio:.3g})"
        if ratio > MFU_HIGH:
            return (
                msg + ": the clock stopped before the work finished (timed without synchronising)"
            )
        if near(1 / 3, 0.06):
            return (
                msg + ": 2ND instead of 6ND (a training step costs 6 FLOPs per parameter per token)"
            )
        if near(1 / iters, 0.3 / iters):
            return msg + ": the time of all iters steps used as the time of one step"
        if ratio < 0.7:
            return msg + (
                ": the warm-up's work ended up in the timing; call sync() after the warm-up steps, "
                "before starting the clock"
            )
        return msg

    return compare


@_named("matmul_flops_timing")
def matmul_flops_timing() -> Hook:
    """``achieved_flops`` on the same simulated asynchronous device as ``mfu`` (``matmul``
    launches, ``sync`` drains; the first sync drains the warm-up's work, three times the timed
    work). The ratio of the answer to 2 m n k / (synchronised seconds per call) names the
    mistake: 1/2 for m n k, 1/3 for a clock started before the warm-up drained, 1/iters for
    seconds per loop, far above 1 without ``sync()``. The window is :func:`mfu_low` and
    :data:`MFU_HIGH`."""

    def compare(case: Case, expected: Outcome, got: Outcome) -> str | None:
        step = case.steps[0]
        sync: Sleeper = step.args[1]
        m, n, k = step.args[2:5]
        warmup, iters = step.kwargs["warmup"], step.kwargs["iters"]
        result = got.outputs[0]
        if isinstance(result, bool) or not isinstance(result, float | int):
            return f"expected a float (FLOP/s), got {type(result).__name__}"
        calls = got.sleeper_calls
        launches = calls[0] if calls else 0
        syncs = calls[1] if len(calls) > 1 else 0
        if launches != warmup + iters:
            return (
                f"matmul() was called {launches} times; expected warmup + iters = "
                f"{warmup + iters} (warmup untimed calls, then iters timed ones)"
            )
        if syncs == 0:
            return (
                "sync() was never called: timed without synchronising. On CUDA matmul() only "
                "launches the product; call sync() after the warm-up (before starting the clock) "
                "and after the timed calls (before stopping it)"
            )
        want = 2 * m * n * k / (sync.warm_s / iters)
        ratio = result / want
        low = mfu_low(sync, got.wall_s)
        if low <= ratio <= MFU_HIGH:
            return None
        spread = MFU_LOW / low  # load lowers every ratio by up to this factor (see mfu_timing)

        def near(value: float, tol: float) -> bool:
            return ratio - tol <= value <= ratio * spread + tol

        msg = f"returned {result:.4g} FLOP/s, expected about {want:.4g} (ratio {ratio:.3g})"
        if ratio > MFU_HIGH:
            return msg + (
                ": the clock stopped before the work finished (timed without synchronising: "
                "call sync() after the timed calls, before reading the clock)"
            )
        for unit, scale in (("GFLOP/s", 1e-9), ("TFLOP/s", 1e-12)):
            if scale / 2 <= ratio <= scale * 2:
                return msg + f": return FLOP/s, not {unit}"
        if syncs >= iters and near(1 / iters, 0.3 / iters):
            return msg + (
                ": sync() inside the timed loop (it waits for each product in turn, so the loop "
                "measures latency); call it once after the warm-up and once after the loop"
            )
        if near(1 / 2, 0.06):
            return msg + (
                ": m n k instead of 2 m n k (a multiply-add counted as one FLOP; each of the "
                "m n k terms is a multiply and an add)"
            )
        if near(1 / 3, 0.06):
            return msg + (
                ": the clock started before the warm-up drained (the warm-up's work ended up in "
                "the timing); call sync() after the warm-up calls, before starting the clock"
            )
        if near(1 / iters, 0.3 / iters):
            return msg + (
                ": seconds per loop instead of per call (the time of all iters calls used as the "
                "time of one; divide the elapsed time by iters)"
            )
        return msg + ": FLOP/s = 2 m n k / (synchronised elapsed seconds / iters)"

    return compare


CHINCHILLA_KEYS = ("E", "A", "B", "alpha", "beta")


def chinchilla_sanity(have: Any) -> str | None:
    """What is wrong with a fit's result before any objective is computed (shape, signs)."""
    if not isinstance(have, dict) or set(have) != set(CHINCHILLA_KEYS):
        return f"expected a dict with keys {list(CHINCHILLA_KEYS)}, got {str(have)[:120]}"
    for k in CHINCHILLA_KEYS:
        if (
            isinstance(have[k], bool)
            or not isinstance(have[k], int | float)
            or not math.isfinite(have[k])
        ):
            return f"{k} must be a finite float, got {have[k]!r}"
    if have["E"] <= 0:
        return (
            f"E = {have['E']:.3g}: the irreducible term E left out? E is the loss of an infinite "
            "model on infinite data (the entropy of text), a positive number; fit e = log E"
        )
    if min(have["A"], have["B"]) <= 0:
        return "A and B must be positive (fit a = log A and b = log B)"
    return None


#: the kit's visible fit check: each parameter within 2% of the snapshot's best fit
CHINCHILLA_RTOL = 2e-2


@_named("chinchilla_params")
def chinchilla_params() -> Hook:
    """The kit's comparison for ``fit_chinchilla``: the grader compares Huber objectives (which
    needs the objective, part of the answer); the kit compares the parameters with the best fit's,
    which the contract's grid and L-BFGS settings reproduce."""

    def compare(case: Case, expected: Outcome, got: Outcome) -> str | None:
        want, have = expected.outputs[0], got.outputs[0]
        msg = chinchilla_sanity(have)
        if msg:
            return msg
        off = [
            k for k in CHINCHILLA_KEYS if abs(have[k] - want[k]) > CHINCHILLA_RTOL * abs(want[k])
        ]
        if not off:
            return None
        shown = ", ".join(f"{k}={have[k]:.4g}" for k in CHINCHILLA_KEYS)
        best = ", ".join(f"{k}={want[k]:.4g}" for k in CHINCHILLA_KEYS)
        return (
            f"your parameters ({shown}) are not the best fit ({best}): {', '.join(off)} differ by "
            "more than 2%. Fit log L with the Huber loss (delta = 1e-3) from the 4 best grid "
            "points with L-BFGS and the contract's tolerances"
        )

    return compare


def probe_objective(features, labels, weight, bias, weight_decay) -> torch.Tensor:
    """The linear probe's objective in float64 on the CPU: mean cross-entropy of
    ``features @ weight.T + bias`` plus ``weight_decay / 2 * ||weight||^2`` (the contract's formula:
    the block's work is reaching its minimum)."""
    x, w, b = (t.detach().cpu().double() for t in (features, weight, bias))
    ce = torch.nn.functional.cross_entropy(x @ w.T + b, labels.detach().cpu())
    return ce + weight_decay / 2 * w.pow(2).sum()


def _probe_sanity(features: torch.Tensor, num_classes: int, have: Any) -> str | None:
    if not isinstance(have, list | tuple) or len(have) != 2:
        return f"expected a tuple (W, b), got {str(have)[:120]}"
    shapes = ((num_classes, features.shape[1]), (num_classes,))
    for name, t, shape in zip(("W", "b"), have, shapes):
        if not isinstance(t, torch.Tensor):
            return f"{name}: expected a tensor of shape {shape}, got {type(t).__name__}"
        if tuple(t.shape) != shape:
            return f"{name}: expected shape {shape}, got {tuple(t.shape)}"
        if t.dtype != features.dtype:
            want = str(features.dtype).removeprefix("torch.")
            return (
                f"{name}: expected dtype {want} (the features' dtype), got "
                f"{str(t.dtype).removeprefix('torch.')}: cast back at the end"
            )
        if not bool(torch.isfinite(t).all()):
            return f"{name}: contains NaN or inf (an overflowing exp, or a diverging step size?)"
    return None


@_named("linear_probe")
def linear_probe(gap: float) -> Hook:
    """``fit_linear_probe``: the student's (W, b) must reach the objective's minimum (the
    reference's value) within ``gap``. Parameters are never compared entrywise: the objective
    ignores a constant added to every bias, so b is not unique; W is, and an objective within
    ``gap`` of the minimum pins it down."""

    def compare(case: Case, expected: Outcome, got: Outcome) -> str | None:
        features, labels, num_classes, weight_decay = case.steps[0].args
        msg = _probe_sanity(features, num_classes, got.outputs[0])
        if msg:
            return msg
        (w_ref, b_ref), (w, b) = expected.outputs[0], got.outputs[0]
        best = float(probe_objective(features, labels, w_ref, b_ref, weight_decay))
        mine = float(probe_objective(features, labels, w, b, weight_decay))
        if mine <= best + gap:
            return None
        x, w, b = (t.detach().cpu().double() for t in (features, w, b))
        # the gradient at the student's (W, b): (P - Y)^T x / N + weight_decay W, mean(P - Y)
        resid = (x @ w.T + b).softmax(dim=1)
        resid[torch.arange(len(x)), labels.cpu()] -= 1
        g_w, g_b = resid.T @ x / len(x) + weight_decay * w, resid.mean(dim=0)
        steep = max(float(g_w.abs().max()), float(g_b.abs().max()))
        return (
            f"your (W, b) give the objective {mine:.7f}; its minimum is {best:.7f} (above it "
            f"by {mine - best:.2g}, tolerance {gap:g}). The objective's gradient at your "
            f"(W, b) has entries up to {steep:.2g} (0 at the minimum): the optimiser stopped short "
            "of the minimum, or minimised another objective. Minimise exactly mean cross-entropy + "
            "(weight_decay / 2) ||W||^2, to convergence (e.g. torch.optim.LBFGS with "
            "line_search_fn='strong_wolfe' and max_iter in the hundreds, not its default of 20)"
        )

    return compare


def tf32_round(x: torch.Tensor) -> torch.Tensor:
    """float32 values rounded to TF32 (10 mantissa bits, to nearest): what ``tl.dot`` feeds the
    tensor cores by default for float32 inputs on an NVIDIA GPU."""
    bits = x.detach().cpu().float().contiguous().view(torch.int32)
    return ((bits + 0x1000) & ~0x1FFF).view(torch.float32)


def attention_tf32_error(q, k, v, causal: bool) -> float:
    """The largest distance, from exact attention, of attention whose two products take
    TF32-rounded inputs (scores q k^T, then p v with the unnormalised p) and sum exactly."""
    q64, k64, v64 = (x.detach().cpu().double() for x in (q, k, v))
    t, s = q.shape[-2], k.shape[-2]
    scale = 1.0 / math.sqrt(q.shape[-1])
    keys, rows = torch.arange(s)[None, :], torch.arange(t)[:, None]
    allowed = keys <= rows + (s - t) if causal else torch.ones(t, s, dtype=torch.bool)

    def attention(scores_of, weigh):
        scores = scores_of().masked_fill(~allowed, float("-inf"))
        p = (scores - scores.amax(-1, keepdim=True)).exp()
        return weigh(p) / p.sum(-1, keepdim=True)

    exact = attention(lambda: q64 @ k64.transpose(-1, -2) * scale, lambda p: p @ v64)
    rounded = attention(
        lambda: tf32_round(q).double() @ tf32_round(k).double().transpose(-1, -2) * scale,
        lambda p: tf32_round(p.float()).double() @ tf32_round(v).double(),
    )
    return float((rounded - exact).abs().max())


def tf32_attention_floor(case: Case) -> float:
    """The absolute tolerance floor of an attention case on CUDA: ``REFERENCE_ERROR_MARGIN``
    times the error of attention with TF32-rounded inputs on the case's own inputs."""
    q, k, v = case.steps[0].args[:3]
    causal = bool(case.steps[0].kwargs.get("causal"))
    return REFERENCE_ERROR_MARGIN * attention_tf32_error(q, k, v, causal)


@_named("tf32_on_cuda")
def tf32_on_cuda() -> Hook:
    """Attention held to float32's tolerance; on CUDA, ``tl.dot`` rounds float32 inputs to TF32
    by default, so there the absolute tolerance is at least ten times the error of attention
    computed that way on the same inputs (``input_precision="ieee"`` passes too)."""

    def compare(case: Case, expected: Outcome, got: Outcome) -> str | None:
        tol = None
        note = ""
        if case.device == "cuda":
            rtol, atol = DEFAULT_TOL[torch.float32]
            tol = {**DEFAULT_TOL, torch.float32: (rtol, max(atol, tf32_attention_floor(case)))}
            note = (
                " (on CUDA the floor is ten times the error of attention whose products take "
                "TF32-rounded inputs, tl.dot's default for float32: "
                "input_precision='ieee' avoids that rounding)"
            )
        msg = compare_outcomes(expected, got, tol, case.grad_wrt)
        return msg + note if msg else None

    return compare
