"""Calling one object (the student's or the reference) on one case, in this process.

Shared by the in-kernel executor, the reference's side of a check and the sandboxed child (which
imports this module and nothing that declares or runs checks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from autograder.checks.inject import Channel, inject
from autograder.checks.trace import Recorder
from coursekit.calls import Case, Outcome, StudentError
from coursekit.calls import call_target as _call_target


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
    recorder: Recorder | None = None,
) -> Outcome:
    """Run ``case`` against ``obj`` (``coursekit.calls.call_target``).

    ``injection`` (patterns, channel): the module's matching submodules answer with the reference.
    ``refuse`` (class -> reason): submodules of these classes raise :class:`StudentError` with the
    reason instead of running (the student's class already ran out of time in an earlier part).
    ``recorder``: records every submodule's calls (see :mod:`autograder.checks.trace`).
    """

    def on_module(module: torch.nn.Module) -> None:
        refuse_hung(module, refuse or {})
        if injection is not None:
            inject(module, *injection)
        if recorder is not None:
            recorder.attach(module)

    return _call_target(obj, case, state, cotangent, make_sleeper, on_module=on_module)
