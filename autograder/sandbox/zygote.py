"""A pre-warmed fork server: imports torch once, then forks one confined child per student.

The parent talks to it over a Unix socket whose fd number is argv[1]; the rest of argv names
modules to import once before forking (:func:`preload`). Each request carries a fresh socket
(SCM_RIGHTS) that becomes the child's only channel to the parent. The zygote never runs student
code and never runs torch ops (forking after OpenMP/CUDA start-up is unsafe).
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import sys
import tempfile
import time

import torch  # noqa: F401  (the point: import once, fork many)

# the student kit, whole: the notebooks' setup cell imports it, and its source (kit/src, outside the
# venv) is not visible from inside the sandbox
import coursekit  # noqa: F401
import coursekit.weights  # noqa: F401
from autograder.sandbox import child, limits

#: wait statuses of reaped children (pid -> status), for the parent's death reasons
_statuses: dict[int, int] = {}


def _reap(*_: object) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _statuses[pid] = status
        while len(_statuses) > 4096:
            _statuses.pop(next(iter(_statuses)))


def _status_of(pid: int, wait_s: float = 2.0) -> int | None:
    """The wait status of child ``pid``; waits up to ``wait_s`` for it to end; None if alive."""
    deadline = time.monotonic() + wait_s
    while True:
        _reap()
        if pid in _statuses:
            return _statuses.pop(pid)
        if time.monotonic() > deadline:
            return None
        time.sleep(0.01)


def preload(modules: list[str]) -> None:
    """Import what the notebook's setup cells import (trusted course code, never the student's),
    so that each child starts with it; a module that fails here fails in the child, where the
    grader reports it."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001  (the child's own import says what went wrong)
            pass


def main() -> None:
    preload(sys.argv[2:])
    ctrl = socket.socket(fileno=int(sys.argv[1]))
    signal.signal(signal.SIGCHLD, _reap)  # reap children as they end, keeping their status
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(ctrl, 65536, 1)
        except OSError:
            return
        if not msg:
            return
        req = json.loads(msg)
        if req.get("op") == "status":  # how did a child end? (signal, exit code)
            for fd in fds:
                os.close(fd)
            status = _status_of(int(req["pid"]))
            ctrl.sendall(json.dumps({"status": status}).encode() + b"\n")
            continue
        workdir = tempfile.mkdtemp(prefix="ag-student-", dir=req.get("tmp") or None)
        uid = req.get("uid")
        if uid is not None and os.geteuid() == 0:
            os.chown(workdir, uid, uid)
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            ctrl.close()
            sock = socket.socket(fileno=fds[0])
            try:
                child.serve(sock, limits.Limits(**req["limits"], uid=uid), workdir)
            finally:
                os._exit(0)
        os.close(fds[0])
        ctrl.sendall(json.dumps({"pid": pid, "workdir": workdir}).encode() + b"\n")


if __name__ == "__main__":
    sys.exit(main())
