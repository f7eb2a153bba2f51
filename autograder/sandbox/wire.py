"""What travels over the parent <-> sandbox socket: cases and outcomes as JSON headers and tensors.

Every message is a pair ``(header, tensors)``: a JSON object and a ``{name: tensor}`` map, framed
by :mod:`autograder.sandbox.protocol`. A header refers to its tensors by name (see
:mod:`coursekit.values`), so neither side ever unpickles. This module is the one place that says
how a :class:`~coursekit.calls.Case` (the inputs of one check call) and an
:class:`~coursekit.calls.Outcome` (what the student's code returned) look on the wire; the
trusted client encodes cases and decodes outcomes, the sandboxed child the other way round.

The child can lie: :func:`decode_outcome` checks the reply's shape and refuses anything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from coursekit.calls import Case, Outcome, Step
from coursekit.values import EncodeError, decode, encode

#: the largest message the child reads from the parent (a case's tensors)
MAX_REQUEST = 2**31
#: the largest reply the parent reads from the child (the child refuses to send more, too)
MAX_REPLY = 256 * 2**20

Header = dict[str, Any]
Tensors = dict[str, torch.Tensor]
#: a case's saved module state (``{parameter name: tensor}``) or None
State = dict[str, torch.Tensor] | None

_STATE_PREFIX = "s:"
_COTANGENT = "cotangent"


def encode_case(case: Case, state: State, cotangent: torch.Tensor | None) -> tuple[Header, Tensors]:
    """One case (with the module state and backward cotangent it runs with) as a header whose
    tensors are named ``t0, t1...`` (arguments), ``s:<name>`` (state) and ``cotangent``."""
    tensors: Tensors = {}
    header = {
        "label": case.label,
        "steps": [
            {
                "args": encode(list(s.args), tensors),
                "kwargs": encode(s.kwargs, tensors),
                "method": s.method,
            }
            for s in case.steps
        ],
        "init": encode(case.init, tensors),
        "grad_wrt": list(case.grad_wrt),
        "param_grads": case.param_grads,
        "device": case.device,
        "dtype": case.dtype,
        "has_state": state is not None,
    }
    for k, v in (state or {}).items():
        tensors[_STATE_PREFIX + k] = v
    if cotangent is not None:
        tensors[_COTANGENT] = cotangent
    return header, tensors


def decode_case(header: Header, tensors: Tensors) -> tuple[Case, State, torch.Tensor | None]:
    """The inverse of :func:`encode_case`: ``(case, state, cotangent)``."""
    steps = [
        Step(tuple(decode(s["args"], tensors)), decode(s["kwargs"], tensors), s.get("method"))
        for s in header["steps"]
    ]
    case = Case(
        label=str(header["label"]),
        steps=steps,
        init=decode(header["init"], tensors),
        grad_wrt=tuple(int(i) for i in header["grad_wrt"]),
        param_grads=bool(header["param_grads"]),
        device=str(header["device"]),
        dtype=str(header["dtype"]) if header.get("dtype") else None,
    )
    state = (
        {
            k.removeprefix(_STATE_PREFIX): v
            for k, v in tensors.items()
            if k.startswith(_STATE_PREFIX)
        }
        if header["has_state"]
        else None
    )
    return case, state, tensors.get(_COTANGENT)


def run_request(
    target: str,
    case: Case,
    state: State,
    cotangent: torch.Tensor | None,
    inject: list[str] | None = None,
    refuse: dict[str, str] | None = None,
    trace: bool = False,
) -> tuple[Header, Tensors]:
    """The ``run`` request: call the student's ``target`` on ``case``; ``inject`` names the
    sub-blocks the parent answers (callbacks), ``refuse`` the student's names that ran out of
    time earlier (name -> why), which must fail at once; ``trace`` asks for every submodule's
    calls as well (the reply's ``trace``, see :mod:`autograder.checks.trace`)."""
    head, tensors = encode_case(case, state, cotangent)
    request: Header = {"op": "run", "target": target, "case": head}
    if inject is not None:
        request["inject"] = list(inject)
    if refuse:
        request["refuse"] = dict(refuse)
    if trace:
        request["trace"] = True
    return request, tensors


@dataclass
class RunRequest:
    """A ``run`` request as the child reads it (see :func:`run_request`)."""

    target: str
    case: Case
    state: State
    cotangent: torch.Tensor | None
    inject: list[str] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    trace: bool = False


def read_run_request(header: Header, tensors: Tensors) -> RunRequest:
    """The inverse of :func:`run_request` (the parent is trusted: its requests are well formed)."""
    case, state, cotangent = decode_case(header["case"], tensors)
    return RunRequest(
        target=str(header["target"]),
        case=case,
        state=state,
        cotangent=cotangent,
        inject=[str(p) for p in header.get("inject") or []],
        refuse={str(k): str(v) for k, v in (header.get("refuse") or {}).items()},
        trace=header.get("trace") is True,
    )


def encode_outcome(out: Outcome) -> tuple[Header, Tensors]:
    """The child's reply to ``run`` (without ``ok``); raises EncodeError over :data:`MAX_REPLY`."""
    tensors: Tensors = {}
    header = {
        "outputs": encode(out.outputs, tensors),
        "input_grads": encode(out.input_grads, tensors),
        "param_grads": encode(out.param_grads, tensors),
        "param_shapes": out.param_shapes,
        "sleeper_calls": out.sleeper_calls,
        "triton_launches": out.triton_launches,
    }
    size = sum(t.numel() * t.element_size() for t in tensors.values())
    if size > MAX_REPLY:
        raise EncodeError(
            f"the result is {size / 2**20:.0f} MB, over the {MAX_REPLY // 2**20} MB limit"
        )
    return header, tensors


def decode_outcome(header: Header, tensors: Tensors, wall_s: float) -> Outcome | None:
    """The Outcome in an untrusted ``run`` reply, timed by the parent's own clock (``wall_s``);
    None when the reply is malformed (the conversation can then no longer be trusted)."""
    try:
        out = Outcome(
            outputs=decode(header["outputs"], tensors),
            input_grads=decode(header["input_grads"], tensors),
            param_grads=decode(header["param_grads"], tensors),
            param_shapes={
                str(k): [int(x) for x in v] for k, v in dict(header["param_shapes"]).items()
            },
            sleeper_calls=[int(c) for c in header["sleeper_calls"]],
            triton_launches=int(header.get("triton_launches", 0)),
            wall_s=wall_s,
        )
    except (EncodeError, KeyError, TypeError, ValueError):
        return None
    if not isinstance(out.outputs, list) or not isinstance(out.param_grads, dict):
        return None
    return out
