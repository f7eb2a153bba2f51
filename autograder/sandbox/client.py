"""The trusted side of the sandbox: start a zygote, spawn one confined child per student, talk data."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from autograder.checks.trace import decode_calls
from autograder.sandbox import protocol
from autograder.sandbox.limits import USERNS_ENV, Limits, pids_of
from autograder.sandbox.wire import MAX_REPLY, State, decode_outcome, run_request
from coursekit.calls import Case, Outcome, StudentError

_uids = itertools.count(
    int(os.environ.get("AUTOGRADER_UID_BASE", "200000")) + os.getpid() % 1000 * 100
)
_uid_lock = threading.Lock()
#: a dotted module name (what a zygote may be asked to preload)
_MODULE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def use_uid_window(slot: int) -> None:
    """Give this process's sandboxes uids from a window of a million of its own, picked by
    ``slot``: grading processes sharing a machine (Ray actors) with distinct slots never hand out
    the same uid, so one never kills or limits the other's sandboxed processes."""
    global _uids
    with _uid_lock:
        _uids = itertools.count(300_000_000 + slot % 3000 * 1_000_000)


def _next_uid() -> int:
    with _uid_lock:
        return next(_uids)


def kill_uid(uid: int) -> None:
    """SIGKILL every process owned by ``uid`` (catches children that escaped the process group)."""
    for _ in range(3):
        pids = pids_of(uid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def death_reason(status: int | None, limits: Limits | None = None) -> str:
    """One sentence for the student from a wait status (None: unknown)."""
    who = "the process running your code"
    if status is not None and os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        cpu = f" ({limits.cpu_s} s)" if limits else ""
        memory = f" ({limits.memory_mb} MB)" if limits else ""
        why = {
            "SIGXCPU": f"used up its CPU-time limit{cpu} (SIGXCPU): look for a loop that never ends "
            "or work that grows too fast",
            "SIGSEGV": "crashed with a segmentation fault (SIGSEGV): memory was read or written "
            "where it must not be (ctypes, a C extension, or a tensor's raw pointer)",
            "SIGBUS": "crashed with a bus error (SIGBUS): bad memory access",
            "SIGABRT": "aborted (SIGABRT), e.g. a failed check inside a C library",
            "SIGFPE": "crashed with an arithmetic error (SIGFPE)",
            "SIGKILL": f"was killed (SIGKILL), usually for going over the memory limit{memory} "
            "or by the system's out-of-memory killer",
        }.get(name, f"was killed by {name}")
        return f"{who} {why}"
    if status is not None and os.WIFEXITED(status):
        code = os.WEXITSTATUS(status)
        return (
            f"{who} exited with code {code} before answering (sys.exit, os._exit or exit() in "
            "your code?)"
        )
    return (
        f"{who} stopped answering (it closed its channel, or it crashed and the cause could not "
        "be read)"
    )


class Zygote:
    """One pre-warmed fork server (torch imported once). Restarted if it dies.

    ``preload``: modules the course's setup cells import (:func:`autograder.notebooks.setup_imports`),
    imported once in the zygote too, so that no child pays for them (scipy, regex, whisper...).
    """

    def __init__(self, preload: Sequence[str] = ()) -> None:
        self.preload = [m for m in preload if _MODULE.fullmatch(m)]
        self.proc: subprocess.Popen | None = None
        self.ctrl: socket.socket | None = None
        self._lock = threading.Lock()  # one request at a time on the control socket
        self._start()

    def _start(self) -> None:
        parent, child = socket.socketpair()
        env = {
            k: v
            for k, v in os.environ.items()
            if k in ("PATH", "HOME", "LANG", "PYTHONPATH", USERNS_ENV)
        }
        env.update({"OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "autograder.sandbox.zygote", str(child.fileno()), *self.preload],
            pass_fds=[child.fileno()],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        child.close()
        self.ctrl = parent

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _read_line(self) -> dict[str, Any]:
        line = b""
        while not line.endswith(b"\n"):
            chunk = self.ctrl.recv(4096)
            if not chunk:
                raise OSError("zygote closed")
            line += chunk
        return json.loads(line)

    def status(self, pid: int) -> int | None:
        """How child ``pid`` ended (a wait status), asked of the zygote that reaped it; None if it
        is still running or the zygote cannot tell."""
        with self._lock:
            if not self.alive():
                return None
            try:
                self.ctrl.settimeout(10)
                self.ctrl.sendall(json.dumps({"op": "status", "pid": pid}).encode())
                status = self._read_line().get("status")
            except (OSError, ValueError):
                return None
        return int(status) if isinstance(status, int) else None

    def spawn(self, limits: Limits, timeout: float) -> Session:
        with self._lock:
            return self._spawn(limits, timeout)

    def _spawn(self, limits: Limits, timeout: float) -> Session:
        for attempt in range(2):
            if not self.alive():
                self._start()
            ours, theirs = socket.socketpair()
            uid = _next_uid() if os.geteuid() == 0 else None
            req = {"limits": {k: v for k, v in asdict(limits).items() if k != "uid"}, "uid": uid}
            try:
                self.ctrl.settimeout(120)
                socket.send_fds(self.ctrl, [json.dumps(req).encode()], [theirs.fileno()])
                info = self._read_line()
            except (OSError, ValueError):
                theirs.close()
                ours.close()
                self.close()
                if attempt:
                    raise
                continue
            theirs.close()
            session = Session(ours, info["pid"], info["workdir"], uid, timeout, self.status, limits)
            session.hello()
            return session
        raise RuntimeError("unreachable")

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait()
        if self.ctrl is not None:
            self.ctrl.close()
        self.proc, self.ctrl = None, None


class Session:
    """One confined child holding one student's namespace. Implements the checks' Executor."""

    max_reply = MAX_REPLY

    def __init__(
        self,
        sock: socket.socket,
        pid: int,
        workdir: str,
        uid: int | None,
        timeout: float,
        status_of: Callable[[int], int | None] | None = None,
        limits: Limits | None = None,
    ):
        self.sock, self.pid, self.workdir, self.uid, self.timeout = sock, pid, workdir, uid, timeout
        #: the student's names (classes, functions) that ran out of time earlier -> the reason;
        #: calls into them fail at once instead of waiting out another timeout
        self.refuse: dict[str, str] = {}
        self.timed_out = False
        self.status_of, self.limits = status_of, limits
        self.dead = False
        self.sandbox_missing: list[str] = []
        #: the filesystem allow-list and private network hold (root, or a user namespace)
        self.isolated = False

    def _call(self, header: dict[str, Any], tensors=None, timeout: float | None = None):
        if self.dead:
            raise StudentError("the sandboxed process is no longer running")
        self.sock.settimeout(timeout or self.timeout)
        try:
            protocol.send(self.sock, header, tensors)
            return protocol.recv(self.sock, self.max_reply)
        except TimeoutError:
            self.timed_out = True
            self.kill()
            raise StudentError(
                f"did not finish within {timeout or self.timeout:g} s (time limit); "
                "look for an infinite loop or work that grows too fast"
            ) from None
        except (OSError, protocol.Closed):
            reason = self._death_reason()
            self.kill()
            raise StudentError(reason) from None
        except protocol.ProtocolError as exc:  # malformed or oversized: the reply is refused
            self.kill()
            raise StudentError(
                f"the process running your code sent back a bad reply: {exc}"
            ) from None

    def _death_reason(self) -> str:
        """Why the child's channel closed, from its wait status (reaped by the zygote)."""
        status = self.status_of(self.pid) if self.status_of else None
        return death_reason(status, self.limits)

    def hello(self) -> None:
        self.sock.settimeout(60)
        try:
            header, _ = protocol.recv(self.sock, 2**20)
        except (OSError, protocol.ProtocolError) as exc:
            self.kill()
            raise RuntimeError(f"the sandbox did not start: {exc}") from None
        self.sandbox_missing = [str(m) for m in header.get("sandbox_missing", [])][:10]
        self.isolated = header.get("isolated") is True

    def exec_cell(self, name: str, source: str, timeout: float) -> str | None:
        header, _ = self._call(
            {"op": "exec", "cells": [{"name": name, "source": source}]}, timeout=timeout
        )
        errors = header.get("errors") or []
        if errors:
            return str(errors[0].get("error", "error"))[:2000]
        return None

    def run(self, target: str, case: Case, state: State, cotangent, server=None) -> Outcome:
        return self._run(target, case, state, cotangent, server)[0]

    def trace(self, target: str, case: Case, state: State, server=None):
        """Run ``case`` (no backward) recording every submodule's calls in the student's module:
        ``(submodule names, calls)`` (see :mod:`autograder.checks.trace`), or None when the reply
        holds none that can be read. Running out of time here (the case already ran in time
        once) does not mark the student's code as hung: the next check starts a fresh child."""
        timed_out = self.timed_out
        try:
            _, reply, blobs = self._run(target, case, state, None, server, trace=True)
        finally:
            self.timed_out = timed_out
        if "trace" not in reply:
            return None
        return decode_calls(reply["trace"], blobs)

    def _run(self, target, case, state, cotangent, server=None, trace=False):
        started = time.monotonic()  # the grader's own clock: the sandbox could lie about its own
        request, tensors = run_request(
            target,
            case,
            state,
            cotangent,
            inject=server.patterns if server is not None else None,
            refuse=self.refuse,
            trace=trace,
        )
        reply, blobs = self._call(request, tensors)
        while "callback" in reply:  # the student's composite calls a reference sub-block
            if server is None:
                self.kill()
                raise StudentError("the sandboxed process sent an unexpected request")
            try:
                answer, answer_blobs = server.handle(reply, blobs)
            except Exception as exc:  # the reference refused the student's arguments
                answer, answer_blobs = {"error": f"{type(exc).__name__}: {str(exc)[:500]}"}, {}
            reply, blobs = self._call(answer, answer_blobs)
        if not reply.get("ok"):
            raise StudentError(str(reply.get("error", "failed"))[:2000])
        out = decode_outcome(reply, blobs, wall_s=time.monotonic() - started)
        if out is None:
            self.kill()  # the conversation can no longer be trusted to be in step
            raise StudentError("the sandboxed process sent back malformed data")
        return out, reply, blobs

    def kill(self) -> None:
        self.dead = True
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except OSError:
            pass
        if self.uid is not None:
            kill_uid(self.uid)
        try:
            self.sock.close()
        except OSError:
            pass
        shutil.rmtree(self.workdir, ignore_errors=True)
