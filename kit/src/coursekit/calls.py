"""Calling a student's function or class on one case, and comparing outcomes.

Shared by the student kit (``coursekit.check``, which replays snapshots) and the hardened grader
(``autograder.checks.calling``, with which the sandboxed child calls the student's code).
Nothing here knows a reference implementation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from coursekit.compare import diagnose
from coursekit.kernels import count_triton_launches


@dataclass
class Step:
    """One call: ``obj.method(*args, **kwargs)`` (``method=None`` calls the object itself)."""

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    method: str | None = None


@dataclass
class Case:
    """One set of inputs. ``init`` builds a module (class targets) with a state dict from the reference.

    ``grad_wrt`` lists the positional args of the *last* step whose gradients are compared;
    ``param_grads`` compares gradients of all parameters (module targets).
    """

    label: str
    steps: list[Step]
    init: dict | None = None
    grad_wrt: tuple[int, ...] = ()
    param_grads: bool = False
    device: str = "cpu"
    dtype: str | None = None  # module cases: cast parameters to this dtype (e.g. "bfloat16")
    cotangent_mask: torch.Tensor | None = (
        None  # zero the output gradient where values are unspecified
    )
    #: run the check's ``submodules`` as the reference (see checks.inject); False runs the student's
    inject: bool = True


@dataclass
class Outcome:
    outputs: list[Any]
    input_grads: list[Any] = field(default_factory=list)
    param_grads: dict[str, Any] = field(default_factory=dict)
    param_shapes: dict[str, list[int]] = field(default_factory=dict)
    sleeper_calls: list[int] = field(default_factory=list)
    triton_launches: int = 0  # Triton kernels launched by the calls (see coursekit.kernels)
    #: the reference in float64 on the same inputs (trusted side only), for tolerances
    truth: Outcome | None = None
    #: wall-clock seconds the whole case took, measured by whoever is trusted (the grader times
    #: the sandbox's reply itself): timing checks widen their bounds by what load added
    wall_s: float | None = None


class StudentError(Exception):
    """The student's code raised, timed out or returned something unusable. Message is for them."""


def _to_device(value: Any, device: str) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, list | tuple):
        return type(value)(_to_device(v, device) for v in value)
    if isinstance(value, dict):
        return {k: _to_device(v, device) for k, v in value.items()}
    return value


def _detach(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, list | tuple):
        return [_detach(v) for v in value]
    if isinstance(value, dict):
        return {k: _detach(v) for k, v in value.items()}
    return value


def _first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, list | tuple) and value and isinstance(value[0], torch.Tensor):
        return value[0]
    return None


def call_target(
    obj: Any,
    case: Case,
    state: dict[str, torch.Tensor] | None,
    cotangent: Any,
    make_sleeper: Callable | None = None,
    on_module: Callable[[torch.nn.Module], None] | None = None,
) -> Outcome:
    """Run ``case`` against ``obj`` (a function or a class): in the kit, in the grader's sandbox
    and for the trusted reference.

    ``on_module(module)`` runs once the module is built and loaded (the grader uses it to let
    graded sub-blocks answer with the reference: see ``autograder.checks.inject``).
    """
    import time

    started = time.monotonic()
    device = case.device
    calls: list[int] = []

    ctx: dict[str, Any] = {}

    def prepare(value: Any) -> Any:
        from coursekit.values import NewCache, Sleeper

        if isinstance(value, NewCache):
            if "cache" not in ctx:
                ctx["cache"] = ctx["target"].new_cache()
            return ctx["cache"]
        if isinstance(value, Sleeper):
            counter = [0]
            calls.append(0)
            slot = len(calls) - 1

            def fn() -> None:
                import time

                counter[0] += 1
                calls[slot] = counter[0]
                time.sleep(value.cold_s if counter[0] <= value.cold_calls else value.warm_s)

            return fn
        if isinstance(value, list | tuple):
            return type(value)(prepare(v) for v in value)
        if isinstance(value, dict):
            return {k: prepare(v) for k, v in value.items()}
        return _to_device(value, device)

    outcome = Outcome(outputs=[])
    if case.init is not None and state is None:  # a plain class (e.g. a cache), no parameters
        target = obj(**case.init)
    elif case.init is not None:
        module = obj(**case.init)
        if not isinstance(module, torch.nn.Module):
            raise StudentError(
                f"{getattr(obj, '__name__', 'the class')} must build a torch.nn.Module"
            )
        outcome.param_shapes = {k: list(v.shape) for k, v in module.state_dict().items()}
        if state is not None:
            missing = set(state) - set(outcome.param_shapes)
            extra = set(outcome.param_shapes) - set(state)
            if missing or extra:
                return outcome  # the parent reports the naming problem from param_shapes
            try:
                module.load_state_dict(state, strict=True)
            except RuntimeError as exc:
                raise StudentError(f"load_state_dict failed: {str(exc)[:300]}") from None
        module = module.to(device)
        if case.dtype:
            module = module.to(getattr(torch, case.dtype))
        if case.param_grads:
            module.zero_grad(set_to_none=True)
        if on_module is not None:
            on_module(module)
        target = module
    else:
        target = obj
    ctx["target"] = target
    last_args: list[Any] = []
    for i, step in enumerate(case.steps):
        args = [prepare(a) for a in step.args]
        kwargs = {k: prepare(v) for k, v in step.kwargs.items()}
        last = i == len(case.steps) - 1
        if last and case.grad_wrt:
            for j in case.grad_wrt:
                args[j] = args[j].detach().requires_grad_(True)
        fn = getattr(target, step.method) if step.method else target
        with (
            torch.set_grad_enabled(last and (bool(case.grad_wrt) or case.param_grads)),
            count_triton_launches() as launches,
        ):
            out = fn(*args, **kwargs)
        outcome.triton_launches += launches[0]
        outcome.outputs.append(out)
        last_args = args
    if (case.grad_wrt or case.param_grads) and cotangent is not None:
        out = _first_tensor(outcome.outputs[-1])
        if out is None or not out.requires_grad:
            raise StudentError(
                "the output does not depend differentiably on the inputs "
                "(is a .detach(), .item() or torch.no_grad() in the way?)"
            )
        if tuple(out.shape) != tuple(cotangent.shape):
            raise StudentError(
                f"output shape {tuple(out.shape)} differs from the expected "
                f"{tuple(cotangent.shape)}"
            )
        out.backward(cotangent.to(device=out.device, dtype=out.dtype))
        outcome.input_grads = [last_args[j].grad for j in case.grad_wrt]
        if case.param_grads and case.init is not None:
            outcome.param_grads = {  # every name of a shared (tied) parameter
                n: p.grad for n, p in target.named_parameters(remove_duplicate=False)
            }
    outcome.outputs = _detach(outcome.outputs)
    outcome.input_grads = _detach(outcome.input_grads)
    outcome.param_grads = _detach(outcome.param_grads)
    outcome.sleeper_calls = list(calls)
    outcome.wall_s = time.monotonic() - started
    return outcome


def compare_outcomes(
    expected: Outcome, got: Outcome, tol, grad_wrt: tuple[int, ...] = ()
) -> str | None:
    """Outputs, then input gradients, then parameter gradients; tolerances widened by the
    reference's own float64 error where ``expected.truth`` is known."""
    truth = expected.truth or Outcome(outputs=[])

    def at(seq, i):
        return seq[i] if i < len(seq) else None

    for i, (e, g) in enumerate(zip(expected.outputs, got.outputs)):
        where = "output" if len(expected.outputs) == 1 else f"output of step {i}"
        msg = diagnose(e, g, tol, where, at(truth.outputs, i))
        if msg:
            return msg
    for k, (j, (e, g)) in enumerate(zip(grad_wrt, zip(expected.input_grads, got.input_grads))):
        msg = diagnose(e, g, tol, f"gradient of argument {j}", at(truth.input_grads, k))
        if msg:
            return msg
    for name, e in expected.param_grads.items():
        msg = diagnose(
            e,
            got.param_grads.get(name),
            tol,
            f"gradient of parameter {name!r}",
            truth.param_grads.get(name),
        )
        if msg:
            return msg
    return None


def compare_case(
    case: Case,
    expected: Outcome,
    got: Outcome,
    tol,
    hook: Callable[[Case, Outcome, Outcome], str | None] | None = None,
    must_launch_triton: bool = False,
) -> str | None:
    """None if ``got`` matches ``expected`` on ``case``; else one plain explanation.

    Parameter names and shapes first, then whether a Triton kernel ran (when one must), then the
    check's own ``hook`` if it has one, else outputs and gradients (:func:`compare_outcomes`).
    """
    if case.init is not None and got.param_shapes != expected.param_shapes:
        want = {k: tuple(v) for k, v in expected.param_shapes.items()}
        have = {k: tuple(v) for k, v in got.param_shapes.items()}
        missing = sorted(set(want) - set(have))
        extra = sorted(set(have) - set(want))
        if missing or extra:
            return f"parameter names differ: missing {missing}, unexpected {extra}"
        diff = [f"{k}: expected {want[k]}, got {have[k]}" for k in want if want[k] != have[k]]
        return "parameter shapes differ: " + "; ".join(diff)
    if must_launch_triton and got.triton_launches == 0:
        return (
            "no Triton kernel ran: this part is about writing the kernel, so launch a "
            "@triton.jit function (kernel[grid](...)) instead of computing with torch operations"
        )
    if hook is not None:
        return hook(case, expected, got)
    if len(got.outputs) != len(expected.outputs):
        return f"expected {len(expected.outputs)} results, got {len(got.outputs)}"
    return compare_outcomes(expected, got, tol, case.grad_wrt)


def run_student(
    obj: Any,
    case: Case,
    state: dict[str, torch.Tensor] | None,
    cotangent: Any,
    on_module: Callable[[torch.nn.Module], None] | None = None,
) -> Outcome:
    """:func:`call_target` on the student's object, every exception turned into a
    :class:`StudentError` whose message is the diagnosis."""
    try:
        return call_target(obj, case, state, cotangent, on_module=on_module)
    except StudentError:
        raise
    except NotImplementedError:
        raise StudentError(
            "not implemented yet (the cell still raises NotImplementedError)"
        ) from None
    except Exception as exc:  # the student's exception is the diagnosis
        raise StudentError(f"raised {type(exc).__name__}: {str(exc)[:500]}") from None


def matching_mistake(mistakes: Iterable[tuple[str, list[Any]]], got: Outcome, tol) -> str:
    """The feedback's note naming the mistake (label, its outputs) that ``got`` matches; when
    several match within the tolerance (a loose one, for answers allowed to compute in lower
    precision), the nearest."""
    matches = [
        (_distance(outputs, got.outputs), label)
        for label, outputs in mistakes
        if len(outputs) == len(got.outputs)
        and all(diagnose(w, g, tol) is None for w, g in zip(outputs, got.outputs))
    ]
    if not matches:
        return ""
    return f". Your output matches a common mistake: {min(matches, key=lambda m: m[0])[1]}."


def _distance(a: Any, b: Any) -> float:
    """The largest absolute difference between two matching structures' numbers."""
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        if a.numel() == 0 or not a.is_floating_point():
            return 0.0
        return float((a.detach().cpu().double() - b.detach().cpu().double()).abs().max())
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return max((_distance(x, y) for x, y in zip(a, b)), default=0.0)
    if isinstance(a, dict) and isinstance(b, dict):
        return max((_distance(a[k], b[k]) for k in a if k in b), default=0.0)
    if isinstance(a, float) and isinstance(b, int | float):
        return abs(a - b)
    return 0.0
