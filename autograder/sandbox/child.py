"""The sandboxed side: runs the student's answer cells, then answers calls with data only.

Everything here runs *after* :func:`autograder.sandbox.limits.enter`, in a process the parent
treats as hostile. It can lie; the parent checks every reply's size, shape and values. What the
messages hold (cases, outcomes) is :mod:`autograder.sandbox.wire`; how they are framed,
:mod:`autograder.sandbox.protocol`.
"""

from __future__ import annotations

import os
import socket
import traceback
from typing import Any

import torch

from autograder.checks.calling import call_target
from autograder.checks.inject import InjectionError
from autograder.checks.trace import Recorder, encode_calls
from autograder.sandbox import limits as limits_mod
from autograder.sandbox import protocol
from autograder.sandbox.wire import MAX_REQUEST, encode_outcome, read_run_request
from coursekit.calls import StudentError
from coursekit.values import EncodeError


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
                target = str(header["target"])
                obj = namespace.get(target)
                if obj is None:
                    raise StudentError(f"`{target}` is not defined by your answer cells")
                req = read_run_request(header, tensors)
                injection = (req.inject, _SocketChannel(sock, me)) if req.inject else None
                refuse, saved = _refusals(namespace, req.refuse, target)
                recorder = Recorder() if req.trace else None
                try:
                    out = call_target(
                        obj,
                        req.case,
                        req.state,
                        req.cotangent,
                        injection=injection,
                        refuse=refuse,
                        recorder=recorder,
                    )
                finally:
                    namespace.update(saved)
                reply, blobs = encode_outcome(out)
                if recorder is not None:  # every submodule's calls, for the first wrong layer
                    reply["trace"] = encode_calls(recorder, blobs)
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
