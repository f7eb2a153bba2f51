"""The reference's side of a check: each case's random module state and output gradient, the
reference's outcome and its float64 truth, all drawn from one seed (no global RNG)."""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import torch

from autograder.checks.calling import call_target
from autograder.checks.spec import Check
from coursekit.calls import Case, Outcome, Step
from coursekit.calls import _first_tensor as _first_tensor


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


class ReferenceCache:
    """The reference's side of each (check, seed, device), computed once per process and handed
    out as fresh copies: students graded with the same seed (a class without per-student salt)
    share one computation of every case's inputs, state, output gradient and expected outcome.

    Cases are computed lazily, as far as some student got: a check that fails at its first case
    for everyone never computes the rest. Every item handed out is a deep copy, so nothing a check
    does with its case (a mistake variant that writes into its input) reaches the next student.
    At most ``max_entries`` checks are kept (least recently used dropped first)."""

    def __init__(self, max_entries: int = 256):
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple, _Entry] = OrderedDict()

    def cases(
        self, check: Check, seed: int, device: str
    ) -> Iterator[tuple[Case, dict[str, torch.Tensor] | None, Any, Outcome]]:
        """Like :func:`reference_cases`, from the cache where it can."""
        key = (id(check), check.name, seed, device)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.check is not check:
                entry = _Entry(check, reference_cases(check, seed, device))
                self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        i = 0
        while True:
            item = entry.get(i)
            if item is None:
                return
            yield copy.deepcopy(item)
            i += 1


class _Entry:
    """One check's cases so far, and the generator that computes the next ones."""

    def __init__(self, check: Check, cases: Iterator):
        self.check, self._cases = check, cases
        self._items: list[tuple] = []
        self._done = False
        self._error: BaseException | None = None
        self._lock = threading.Lock()

    def get(self, i: int) -> tuple | None:
        """Case ``i``, computed now if no one needed it before; None past the last. A reference
        that raised raises again for everyone who reaches that case (never fewer cases)."""
        with self._lock:
            while len(self._items) <= i and not self._done:
                if self._error is not None:
                    raise self._error
                try:
                    item = next(self._cases, None)
                except BaseException as exc:
                    self._error = exc
                    raise
                if item is None:
                    self._done = True
                else:
                    self._items.append(item)
            return self._items[i] if i < len(self._items) else None
