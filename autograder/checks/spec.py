"""Declaring hidden checks (what runs them: :mod:`autograder.checks.runner`).

A :class:`Check` names the student's symbol (``target``), a trusted ``reference`` with the same
contract, a generator of :class:`Case` inputs (random shapes, dtypes, devices, seeds), tolerances,
and optional *misconceptions*: known-wrong variants whose outputs, when the student's output
matches them, turn a bare mismatch into a diagnosis ("this looks like eps outside the root").

Running a check (the reference's cases, comparing, naming the mistake, seeding) is
:mod:`autograder.checks.runner`; calling one object on one case is :mod:`autograder.checks.calling`;
the reference's side of a case is :mod:`autograder.checks.reference`.
"""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from autograder.checks.inject import Submodule, SubmoduleServer
from coursekit.calls import Case, Outcome, Step, StudentError
from coursekit.compare import DEFAULT_TOL

__all__ = ["Case", "Outcome", "Step", "StudentError", "call_case"]


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
    """Runs one case against the student's object; may raise :class:`StudentError`.

    An executor may also offer ``trace(target, case, state, server) -> (submodule names, calls)``:
    the case run again, without a backward pass, recording every submodule's calls in the
    student's module (``checks.trace``), for the feedback on a failing composite part.
    """

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


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"
