"""The sandboxed side: runs the student's answer cells, then answers calls with data only.

Everything here runs *after* :func:`autograder.sandbox.limits.enter`, in a process the parent
treats as hostile. It can lie; the parent checks every reply's size, shape and values.
"""

from __future__ import annotations

import os
import socket
import traceback
from typing import Any

import torch

from autograder.checks.inject import InjectionError
from autograder.checks.spec import Case, Outcome, Step, StudentError, call_target
from autograder.sandbox import limits as limits_mod
from autograder.sandbox import protocol
from coursekit.values import EncodeError, decode, encode

MAX_REQUEST = 2**31
MAX_REPLY = 256 * 2**20  # the parent refuses larger replies anyway (client.Session.max_reply)


def _refusals(
    namespace: dict[str, Any], hung: dict[str, str], target: str
) -> tuple[dict[type, str], dict[str, Any]]:
    """The student's names that already ran out of time (name -> reason), made to fail at once.

    Classes become a ``refuse`` map for :func:`call_target` (their submodule instances raise);
    functions are swapped in ``namespace`` for this call only (the originals are returned, to be
    put back). The target itself is left alone: the grader does not run a check on it again.
    """
    classes: dict[type, str] = {}
    saved: dict[str, Any] = {}
    for name, reason in hung.items():
        obj = namespace.get(str(name))
        if name == target or obj is None:
            continue
        if isinstance(obj, type):
            classes[obj] = str(reason)
        elif callable(obj):

            def refused(*args: Any, _reason: str = str(reason), **kwargs: Any) -> Any:
                raise StudentError(f"not run: {_reason}")

            saved[str(name)] = obj
            namespace[str(name)] = refused
    return classes, saved


def _short_tb(exc: BaseException, limit: int = 1500) -> str:
    lines = traceback.format_exception_only(type(exc), exc)
    tb = traceback.extract_tb(exc.__traceback__)
    student = [f for f in tb if f.filename.startswith("<answer")]
    where = f" (in {student[-1].filename[1:-1]}, line {student[-1].lineno})" if student else ""
    return ("".join(lines).strip() + where)[:limit]


def decode_case(header: dict[str, Any], tensors: dict[str, torch.Tensor]) -> tuple[Case, Any, Any]:
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
        {k[2:]: v for k, v in tensors.items() if k.startswith("s:")}
        if header["has_state"]
        else None
    )
    cot = tensors.get("cotangent")
    return case, state, cot


def encode_case(case: Case, state, cotangent) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    tensors: dict[str, torch.Tensor] = {}
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
        tensors["s:" + k] = v
    if cotangent is not None:
        tensors["cotangent"] = cotangent
    return header, tensors


def encode_outcome(out: Outcome) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    tensors: dict[str, torch.Tensor] = {}
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


class _SocketChannel:
    """Sub-block calls to the trusted parent during a ``run`` (see checks.inject)."""

    def __init__(self, sock: socket.socket, me: int):
        self.sock, self.me = sock, me

    def request(self, header, tensors):
        if os.getpid() != self.me:  # a fork made by student code must not talk to the parent
            os._exit(0)
        protocol.send(self.sock, header, tensors)
        reply, blobs = protocol.recv(self.sock, MAX_REQUEST)
        if "error" in reply:
            raise InjectionError(str(reply["error"]))
        return reply, blobs


def end_strays() -> None:
    """Kill every other process the student's code started (a fork bomb's survivors would go on
    eating the CPU that this student's later checks are timed on), and reap ours.

    Only called when the sandbox is isolated: kill(-1) then reaches this sandbox's processes
    alone (its own fresh uid as root; its own PID namespace without root), never the grader's.
    """
    import signal

    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:  # nothing else is running
        pass
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return
        except InterruptedError:
            continue


def serve(sock: socket.socket, limits: limits_mod.Limits, workdir: str) -> None:
    """Confine this process, then loop: ``exec`` answer cells, ``run`` cases, ``bye``."""
    confined = limits_mod.enter(limits, workdir)
    me = os.getpid()
    torch.set_num_threads(1)

    def answer(header: dict[str, Any], blobs=None) -> None:
        if os.getpid() != me:  # a fork made by student code must not answer the parent
            os._exit(0)
        protocol.send(sock, header, blobs)

    namespace: dict[str, Any] = {"__name__": "__main__"}
    protocol.send(
        sock, {"ok": True, "sandbox_missing": confined.missing, "isolated": confined.isolated}
    )
    while True:
        try:
            header, tensors = protocol.recv(sock, MAX_REQUEST)
        except protocol.ProtocolError:
            return
        op = header.get("op")
        if op == "exec":
            errors = []
            for cell in header["cells"]:
                try:
                    exec(compile(cell["source"], f"<answer {cell['name']}>", "exec"), namespace)
                except BaseException as exc:  # SystemExit and KeyboardInterrupt included
                    errors.append({"cell": cell["name"], "error": _short_tb(exc)})
            if os.getpid() == me and confined.isolated:
                end_strays()  # processes started at a cell's top level do not outlive it
            answer({"ok": True, "errors": errors})
        elif op == "run":
            try:
                obj = namespace.get(header["target"])
                if obj is None:
                    raise StudentError(f"`{header['target']}` is not defined by your answer cells")
                case, state, cot = decode_case(header["case"], tensors)
                patterns = [str(p) for p in header.get("inject") or []]
                injection = (patterns, _SocketChannel(sock, me)) if patterns else None
                refuse, saved = _refusals(namespace, header.get("refuse") or {}, header["target"])
                try:
                    out = call_target(obj, case, state, cot, injection=injection, refuse=refuse)
                finally:
                    namespace.update(saved)
                reply, blobs = encode_outcome(out)
                answer({"ok": True, **reply}, blobs)
            except StudentError as exc:
                answer({"ok": False, "error": str(exc)})
            except EncodeError as exc:
                answer({"ok": False, "error": f"returned a value that cannot be graded: {exc}"})
            except NotImplementedError:
                answer({"ok": False, "error": "not implemented (raises NotImplementedError)"})
            except BaseException as exc:
                answer({"ok": False, "error": "raised " + _short_tb(exc)})
        else:
            return
