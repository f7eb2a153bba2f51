"""Running a check: every case of the reference against an executor (the student's object here,
or the sandbox), the comparison within tolerance, the named mistake the student's output matches,
and the per-check seed; ``check`` is the in-kernel entry point of notebook test cells."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import torch

from autograder.checks.calling import call_target
from autograder.checks.inject import LocalChannel, SubmoduleServer, inject, matches
from autograder.checks.reference import ReferenceCache, reference_cases
from autograder.checks.spec import Check, Executor, default_device, get_check
from autograder.checks.trace import Call, Recorder, explain, first_divergence, tokens_part
from autograder.timing import phase
from coursekit.calls import Case, Outcome, StudentError, compare_case, matching_mistake, run_student
from coursekit.compare import diagnose


def seed_for(check_name: str, salt: str = "", secret: str = "") -> int:
    """Per-check seed, a function of its arguments only. With a class ``secret`` (the instructor's,
    read once by the CLI and carried in the grading settings, never in ``os.environ``) the hidden
    inputs cannot be predicted from the public repository; ``salt`` (the student id) varies them
    per student. Without a secret this is the public seed the kit's snapshots use."""
    digest = hashlib.sha256(f"{secret}|{salt}|{check_name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**62 - 1)


@dataclass
class CheckResult:
    name: str
    passed: bool
    message: str
    cases_run: int


def run_check(
    check: Check,
    executor: Executor,
    seed: int,
    device: str | None = None,
    cache: ReferenceCache | None = None,
) -> CheckResult:
    """Run every case of ``check``; stop at the first failure and explain it. With ``cache``, the
    reference's side of a (check, seed, device) already computed in this process is reused (the
    grader's: students who share a seed share the reference's work)."""
    device = device or default_device()
    n = 0
    cases = cache.cases(check, seed, device) if cache else reference_cases(check, seed, device)
    while True:
        with phase("reference"):
            item = next(cases, None)
        if item is None:
            break
        case, state, cot, expected = item
        n += 1
        server = None
        if check.submodules and case.inject and case.init is not None:
            server = SubmoduleServer(check.submodules, case.init)
        try:
            with phase("student"):
                if server is None:
                    got = executor.run(check.target, case, state, cot)
                else:
                    got = executor.run(check.target, case, state, cot, server=server)
        except StudentError as exc:
            return CheckResult(check.name, False, f"[{case.label}] {exc}{_injected(check)}", n)
        with phase("compare"):
            msg = _compare(check, case, expected, got)
            if msg:
                hint = _misconception(check, case, state, got, expected)
                layer = first_wrong_layer(check, case, state, expected, got, executor)
                hint += ("" if hint or not layer else ".") + layer
                return CheckResult(
                    check.name, False, f"[{case.label}] {msg}{hint}{_injected(check)}", n
                )
    return CheckResult(check.name, True, f"{n} cases passed{_injected(check)}", n)


def sub_block_checks(check: Check) -> str:
    """The checks of a composite's graded sub-blocks, comma-separated ("" for a plain block)."""
    return ", ".join(sorted({s.check.removesuffix(".visible") for s in check.submodules.values()}))


def _injected(check: Check) -> str:
    """The feedback's note on a composite graded with reference sub-blocks."""
    subs = sub_block_checks(check)
    return (
        f" (graded with the reference {subs} in place of your sub-blocks: their mistakes count in "
        "their own parts only)"
        if subs
        else ""
    )


def _compare(check: Check, case: Case, expected: Outcome, got: Outcome) -> str | None:
    return compare_case(case, expected, got, check.tol, check.compare, check.must_launch_triton)


def mistake_outputs(
    check: Check, case: Case, state, expected: Outcome
) -> Iterator[tuple[str, list[Any]]]:
    """(label, outputs) of each named mistake on ``case`` whose outputs differ from the
    reference's (a mistake indistinguishable from the right answer on this case says nothing)."""
    for label, variant in check.misconceptions.items():
        try:
            wrong = call_target(
                variant,
                Case(case.label, case.steps, case.init, (), False, "cpu", case.dtype),
                state,
                None,
            )
        except Exception:  # a variant that cannot run on this case says nothing
            continue
        if all(diagnose(w, e, check.tol) is None for w, e in zip(wrong.outputs, expected.outputs)):
            continue  # indistinguishable from the right answer on this case
        yield label, wrong.outputs


def _misconception(check: Check, case: Case, state, got: Outcome, expected: Outcome) -> str:
    """The named mistake whose output the student's matches, if any (see ``mistake_outputs``)."""
    return matching_mistake(mistake_outputs(check, case, state, expected), got, check.tol)


def _generation(case: Case) -> list[int] | None:
    """The prompt length of a one-step generation case (``obj.generate(prompt, ...)``), else None."""
    if len(case.steps) != 1 or case.steps[0].method != "generate":
        return None
    prompt = case.steps[0].args[0] if case.steps[0].args else None
    return [prompt.shape[-1]] if isinstance(prompt, torch.Tensor) else None


def first_wrong_layer(
    check: Check, case: Case, state, expected: Outcome, got: Outcome, executor: Executor
) -> str:
    """The feedback's note on where a composite's wrong output starts (see ``checks.trace``):
    the first submodule whose output differs, and for generation the first token that differs.

    Composite checks only (those with graded sub-blocks), on the failing case only: the case runs
    once more on the student's module (where the student's code runs) and on the reference, with
    the same weights and inputs, without a backward pass. "" when nothing can be said.
    """
    if not check.submodules or case.init is None or state is None:
        return ""
    trace = getattr(executor, "trace", None)
    if trace is None:
        return ""
    prompts = _generation(case)
    parted = tokens_part(expected.outputs, got.outputs, prompts) if prompts else None
    if any(s.method == "generate" for s in case.steps) and parted is None:
        # a generation case that failed for another reason (a shape, a dtype), or whose tokens
        # need not be the reference's (two runs with one seed, compared with each other)
        return ""
    plain = replace(case, grad_wrt=(), param_grads=False)
    server = SubmoduleServer(check.submodules, case.init) if case.inject else None
    try:
        traced = trace(check.target, plain, state, server)
        reference = Recorder()
        call_target(check.reference, plain, state, None, recorder=reference)
    except Exception:  # the student's code or the reference cannot be traced: say nothing more
        return ""
    if traced is None:
        return ""
    modules, calls = traced
    injected = [p for p in modules if server is not None and matches(p, server.patterns)]
    if parted is None:
        return explain(
            first_divergence(reference.calls, calls, modules, check.tol, injected), check.target
        )
    _, new_token, position, row = parted
    text = (
        f" The generated tokens first part at new token {new_token} (sequence position "
        f"{position}, batch row {row})."
    )
    # the forward passes that chose the tokens before it, and it, saw the same tokens
    div = first_divergence(reference.calls, calls, modules, check.tol, injected, new_token)
    if div is not None and div.name:
        return text + explain(div, check.target)
    return text + (
        " Up to that token every submodule's output that can be compared matches the "
        "reference's, layer by layer: the difference is in how the next token is chosen from the "
        "logits."
    )


class InKernelExecutor:
    """Calls the student's object directly, in the caller's process (not authoritative)."""

    def __init__(self, obj: Any):
        self.obj = obj

    def run(self, target, case, state, cotangent, server=None) -> Outcome:
        on_module = None
        if server is not None:
            channel = LocalChannel(server)

            def on_module(module: torch.nn.Module) -> None:
                inject(module, server.patterns, channel)

        return run_student(self.obj, case, state, cotangent, on_module=on_module)

    def trace(self, target, case, state, server=None) -> tuple[list[str], list[Call]]:
        """Run ``case`` (no backward) recording every submodule's calls (see ``checks.trace``)."""
        recorder = Recorder()
        injection = (server.patterns, LocalChannel(server)) if server is not None else None
        call_target(self.obj, case, state, None, injection=injection, recorder=recorder)
        return recorder.modules, recorder.calls


def check(name: str, obj: Any) -> None:
    """Run check ``name`` against ``obj`` here, raising AssertionError with a diagnosis on failure."""
    spec = get_check(name)
    result = run_check(spec, InKernelExecutor(obj), seed_for(name))
    if not result.passed:
        raise AssertionError(f"{name}: {result.message}")
    extra = (
        " These are the visible checks; the grader runs more cases (other shapes, dtypes, "
        "gradients, edge cases) with inputs you cannot see."
        if spec.visible
        else ""
    )
    print(f"{name}: {result.message}.{extra}")
