"""Declarative hidden checks.

A :class:`Check` names the student's symbol (``target``), a trusted ``reference`` with the same
contract, a generator of :class:`Case` inputs (random shapes, dtypes, devices, seeds), tolerances,
and optional *misconceptions*: known-wrong variants whose outputs, when the student's output
matches them, turn a bare mismatch into a diagnosis ("this looks like eps outside the root").

The same spec runs in two places:

* in the student's kernel (``check(...)`` in a notebook test cell): convenient, not authoritative;
* out of the kernel (``python -m autograder grade``): the student's code answers calls from inside a
  sandbox, and this trusted process computes the reference and compares.
"""

from __future__ import annotations

import hashlib
import importlib
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from autograder.checks.inject import Channel, LocalChannel, Submodule, SubmoduleServer, inject
from coursekit.calls import (
    Case,
    Outcome,
    Step,
    StudentError,
    compare_case,
    compare_outcomes,
    matching_mistake,
    run_student,
)
from coursekit.calls import _first_tensor as _first_tensor
from coursekit.calls import call_target as _call_target
from coursekit.compare import DEFAULT_TOL, diagnose

__all__ = ["Case", "Outcome", "Step", "StudentError", "call_case", "compare_outcomes"]


def call_case(
    label: str,
    *args: Any,
    device: str,
    grads: Iterable[int] = (),
    init: dict | None = None,
    param_grads: bool | None = None,
    **kw: Any,
) -> Case:
    """A case of one call ``obj(*args)``: the common shape of most cases.

    ``grads`` names the positional arguments whose gradients are compared; a module case
    (``init`` given) also compares its parameters' gradients whenever ``grads`` is non-empty,
    unless ``param_grads`` says otherwise. Other keywords go to :class:`Case`.
    """
    grads = tuple(grads)
    if param_grads is None:
        param_grads = bool(grads) and init is not None
    return Case(
        label, [Step(args)], init=init, grad_wrt=grads, param_grads=param_grads, device=device, **kw
    )


class Executor(Protocol):
    """Runs one case against the student's object; may raise :class:`StudentError`."""

    def run(
        self,
        target: str,
        case: Case,
        state: dict[str, torch.Tensor] | None,
        cotangent: Any,
        server: SubmoduleServer | None = None,
    ) -> Outcome: ...


@dataclass
class Check:
    name: str
    target: str
    reference: Callable[..., Any]
    cases: Callable[[torch.Generator, str], Iterable[Case]]
    description: str = ""
    tol: dict[torch.dtype, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_TOL))
    misconceptions: dict[str, Callable[..., Any]] = field(default_factory=dict)
    compare: Callable[[Case, Outcome, Outcome], str | None] | None = None
    visible: bool = False
    #: the reference computed exactly (float64 throughout), where upcasting its inputs is not enough
    #: (e.g. integer positions in, float32 math inside); tolerances cover the reference's distance
    #: from it
    exact: Callable[..., Any] | None = None
    #: the target must launch a Triton kernel (counted while it runs, not read from its source)
    must_launch_triton: bool = False
    #: graded sub-blocks of a composite block: attribute-path pattern -> Submodule. While the check
    #: runs, they answer with the reference (one mistake, one deduction; see checks.inject)
    submodules: dict[str, Submodule] = field(default_factory=dict)
    #: the contract allows float32 inside for float64 inputs (float64 cases then hold answers to
    #: float32's tolerance); ``validate``'s sweep runs such a variant of the solution
    float32_inside: bool = False

    def __post_init__(self) -> None:
        if self.float32_inside:  # float64 cases held to float32's tolerance, no tighter
            self.tol = {**self.tol, torch.float64: self.tol[torch.float32]}


REGISTRY: dict[str, Check] = {}

#: where the visible check's cases come from (see :func:`register_pair`)
VisibleCases = int | Callable[[torch.Generator, str], Iterable[Case]] | None


def register_pair(
    *,
    name: str,
    target: str,
    reference: Callable[..., Any],
    cases: Callable[..., Iterable[Case]],
    visible_cases: VisibleCases = None,
    **fields: Any,
) -> tuple[Check, Check]:
    """Register a block's visible check ``<name>.visible`` and its hidden check ``<name>``: the
    one way every chapter declares its checks (a test refuses any other).

    ``name``: the full hidden check name, ``<chapter>.<block>`` (the chapter is the notebook's
    stem, e.g. ``llama.attention``). ``target``: the student's symbol; ``reference``: the trusted
    object with the same contract. ``cases(gen, device)`` yields the hidden cases, drawing every
    random number from ``gen``. The visible check's cases (shown to the student, at least one edge
    case) are, by ``visible_cases``:

    * ``None``: ``cases(gen, device, visible=True)`` (one case function, a flag for the few);
    * an integer ``n``: the first ``n`` hidden cases;
    * a function ``(gen, device)``: its cases.

    ``fields`` are the other :class:`Check` fields (``misconceptions``, ``tol``, ``compare``...),
    the same for both checks.
    """
    if visible_cases is None:

        def shown(gen: torch.Generator, device: str) -> Iterable[Case]:
            return cases(gen, device, visible=True)

    elif isinstance(visible_cases, int):
        count = visible_cases

        def shown(gen: torch.Generator, device: str) -> Iterable[Case]:
            return itertools.islice(cases(gen, device), count)

    else:
        shown = visible_cases
    common = dict(target=target, reference=reference, **fields)
    visible = _register(Check(name=f"{name}.visible", cases=shown, visible=True, **common))
    hidden = _register(Check(name=name, cases=cases, **common))
    return visible, hidden


def _register(check: Check) -> Check:
    if check.name in REGISTRY:
        raise ValueError(f"two checks are called {check.name!r}")
    REGISTRY[check.name] = check
    return check


def case_table(
    visible: bool,
    visible_rows: Iterable[tuple],
    hidden_rows: Iterable[tuple],
    draw: Callable[[], tuple] | None = None,
    n_drawn: int = 3,
) -> list[tuple]:
    """The rows of a case table: the visible rows, or the hidden rows then ``n_drawn`` random
    rows from ``draw()`` (which takes its randomness from the case's generator)."""
    if visible:
        return list(visible_rows)
    return list(hidden_rows) + ([draw() for _ in range(n_drawn)] if draw else [])


def rand_int(gen: torch.Generator, lo: int, hi: int) -> int:
    """A random integer in [lo, hi] (both included), drawn from ``gen`` only."""
    return int(torch.randint(lo, hi + 1, (1,), generator=gen))


def randn(
    gen: torch.Generator, *shape: int, scale: float = 1.0, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """``scale * N(0, 1)`` of ``shape`` drawn from ``gen`` only, then cast to ``dtype``."""
    return (torch.randn(shape, generator=gen) * scale).to(dtype)


def get_check(name: str) -> Check:
    """The check called ``name``; a chapter's package (``autograder.chapters.<chapter>``, the
    chapter being the name's first part) loads on demand."""
    if name not in REGISTRY:
        chapter = name.split(".")[0]
        if chapter.isidentifier():
            module = f"autograder.chapters.{chapter}"
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as exc:
                if exc.name != module:  # the chapter's package exists but an import inside it fails
                    raise
    if name not in REGISTRY:
        raise KeyError(f"no check is called {name!r}")
    return REGISTRY[name]


def chapter_modules() -> list[str]:
    """Every chapter of the course layout: the stems of the source notebooks
    (``solutions/NN-slug/<chapter>.py``), each graded by the package ``autograder.chapters.<chapter>``."""
    from autograder.layout import Course

    return Course(Path(__file__).resolve().parents[2]).chapters()


def load_all_checks() -> dict[str, Check]:
    """Import every chapter's checks (so that REGISTRY is complete) and return the registry."""
    for chapter in chapter_modules():
        importlib.import_module(f"autograder.chapters.{chapter}")
    return REGISTRY


def seed_for(check_name: str, salt: str = "", secret: str = "") -> int:
    """Per-check seed, a function of its arguments only. With a class ``secret`` (the instructor's,
    read once by the CLI and carried in the grading settings, never in ``os.environ``) the hidden
    inputs cannot be predicted from the public repository; ``salt`` (the student id) varies them
    per student. Without a secret this is the public seed the kit's snapshots use."""
    digest = hashlib.sha256(f"{secret}|{salt}|{check_name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**62 - 1)


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


# ---------------------------------------------------------------------------------------------
# Calling a target: shared by the in-kernel executor and the sandboxed child.


def refuse_hung(module: torch.nn.Module, refuse: dict[type, str]) -> None:
    """Make every submodule of ``module`` whose class is in ``refuse`` raise instead of running.

    A class of the student's that did not return within the time limit once is not waited for
    again: each later call would cost another full timeout (a hanging attention would stall the
    layer, model and generation parts in turn). The patch is on this case's fresh instances only.
    """
    for path, sub in module.named_modules():
        reason = refuse.get(type(sub))
        if reason is not None and path:

            def refused(*args: Any, _reason: str = reason, **kwargs: Any) -> Any:
                raise StudentError(f"not run: {_reason}")

            sub.forward = refused


def call_target(
    obj: Any,
    case: Case,
    state: dict[str, torch.Tensor] | None,
    cotangent: Any,
    make_sleeper: Callable | None = None,
    injection: tuple[list[str], Channel] | None = None,
    refuse: dict[type, str] | None = None,
) -> Outcome:
    """Run ``case`` against ``obj`` (``coursekit.calls.call_target``).

    ``injection`` (patterns, channel): the module's matching submodules answer with the reference.
    ``refuse`` (class -> reason): submodules of these classes raise :class:`StudentError` with the
    reason instead of running (the student's class already ran out of time in an earlier part).
    """

    def on_module(module: torch.nn.Module) -> None:
        refuse_hung(module, refuse or {})
        if injection is not None:
            inject(module, *injection)

    return _call_target(obj, case, state, cotangent, make_sleeper, on_module=on_module)


# ---------------------------------------------------------------------------------------------
# Running a whole check: reference in this (trusted) process, student through an executor.


@dataclass
class CheckResult:
    name: str
    passed: bool
    message: str
    cases_run: int


def _random_like(name: str, t: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A random value for a parameter of this shape, drawn from ``gen`` only.

    Scales follow common initialisations, with noise so that e.g. an RMSNorm weight of all ones
    cannot hide a bug: 1-D ``*norm*`` weights 1 + 0.2 N(0, 1); other 1-D tensors (biases)
    0.2 N(0, 1); matrices and embeddings N(0, 1 / fan_in) (fan_in = last dimension).
    """
    if not t.is_floating_point():
        return torch.zeros(t.shape, dtype=t.dtype)
    noise = torch.randn(t.shape, generator=gen, dtype=torch.float32)
    if t.dim() <= 1:
        value = (1.0 if "norm" in name else 0.0) + 0.2 * noise
    else:
        value = noise / max(t.shape[-1], 1) ** 0.5
    return value.to(t.dtype)


def reference_state(
    reference: Callable[..., Any], init: dict, gen: torch.Generator
) -> dict[str, torch.Tensor] | None:
    """Random parameters for ``reference(**init)``, drawn from ``gen`` alone (no global RNG).

    The module is built on the ``meta`` device (shapes and tying only, no random numbers drawn),
    and each distinct tensor gets one value: keys that share a parameter (tied embeddings, e.g.
    ``lm_head.weight`` and ``model.embed_tokens.weight``) get the *same* tensor, so the order in
    which a student creates submodules cannot matter. Non-module references (a cache) give None.
    """
    with torch.device("meta"):
        module = reference(**init)
    if not isinstance(module, torch.nn.Module):
        return None
    state: dict[str, torch.Tensor] = {}
    shared: dict[int, torch.Tensor] = {}
    params = dict(module.named_parameters(remove_duplicate=False))
    for name, t in module.state_dict(keep_vars=True).items():
        key = id(params.get(name, t))
        if key not in shared:
            shared[key] = _random_like(name, t, gen)
        state[name] = shared[key]
    return state


def _cotangent(outputs: list[Any], gen: torch.Generator) -> torch.Tensor | None:
    out = _first_tensor(outputs[-1])
    if out is None:
        return None
    return torch.randn(out.shape, generator=gen, dtype=torch.float32).to(out.dtype)


def reference_cases(
    check: Check, seed: int, device: str
) -> Iterator[tuple[Case, dict[str, torch.Tensor] | None, Any, Outcome]]:
    """Every case of ``check`` with its module state, output gradient and the reference's
    outcome (``truth`` included), drawn from ``seed``: what the grader compares a student
    against, and what the student kit's snapshots record for the visible checks."""
    gen = torch.Generator().manual_seed(seed)
    for case in check.cases(gen, device):
        state = None
        if case.init is not None:
            state = reference_state(check.reference, case.init, gen)
        cot = None
        if case.grad_wrt or case.param_grads:  # a random output gradient of the reference's shape
            probe = call_target(
                check.reference,
                Case(case.label, case.steps, case.init, (), False, "cpu", case.dtype),
                state,
                None,
            )
            cot = _cotangent(probe.outputs, gen)
            if cot is not None and case.cotangent_mask is not None:
                cot = cot * case.cotangent_mask.to(cot.dtype)
        expected = call_target(check.reference, case, state, cot)
        expected.truth = _float64_truth(check, case, state, cot)
        yield case, state, cot, expected


def run_check(
    check: Check, executor: Executor, seed: int, device: str | None = None
) -> CheckResult:
    """Run every case of ``check``; stop at the first failure and explain it."""
    device = device or default_device()
    n = 0
    for case, state, cot, expected in reference_cases(check, seed, device):
        n += 1
        server = None
        if check.submodules and case.inject and case.init is not None:
            server = SubmoduleServer(check.submodules, case.init)
        try:
            if server is None:
                got = executor.run(check.target, case, state, cot)
            else:
                got = executor.run(check.target, case, state, cot, server=server)
        except StudentError as exc:
            return CheckResult(check.name, False, f"[{case.label}] {exc}{_injected(check)}", n)
        msg = _compare(check, case, expected, got)
        if msg:
            hint = _misconception(check, case, state, got, expected)
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


def _upcast(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.double() if value.is_floating_point() else value
    if isinstance(value, list | tuple):
        return type(value)(_upcast(v) for v in value)
    if isinstance(value, dict):
        return {k: _upcast(v) for k, v in value.items()}
    return value


def _float64_truth(check: Check, case: Case, state, cot) -> Outcome | None:
    """The reference on the same inputs upcast to float64 (exact), or None where it cannot run.

    Tolerances then cover the reference's own rounding: see ``compare.widened_atol``.
    """
    floats = [
        t
        for step in case.steps
        for t in (*step.args, *step.kwargs.values())
        if isinstance(t, torch.Tensor) and t.is_floating_point()
    ]
    if not floats and not state and check.exact is None:
        return None
    case64 = Case(
        case.label,
        [Step(_upcast(s.args), _upcast(s.kwargs), s.method) for s in case.steps],
        case.init,
        case.grad_wrt,
        case.param_grads,
        "cpu",
        "float64" if case.init is not None else None,
        case.cotangent_mask,
    )
    try:
        return call_target(check.exact or check.reference, case64, _upcast(state), _upcast(cot))
    except Exception:  # a reference that has no float64 path: the static tolerance applies
        return None


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


# ---------------------------------------------------------------------------------------------
# In-kernel use from notebooks.


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
