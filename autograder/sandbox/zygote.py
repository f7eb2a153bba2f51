"""A pre-warmed fork server: imports torch once, then forks one confined child per student.

The parent talks to it over a Unix socket whose fd number is argv[1]. Each request carries a fresh socket
(SCM_RIGHTS) that becomes the child's only channel to the parent. The zygote never runs student
code and never runs torch ops (forking after OpenMP/CUDA start-up is unsafe).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import tempfile

import torch  # noqa: F401  (the point: import once, fork many)

from autograder.sandbox import child, limits


def main() -> None:
    ctrl = socket.socket(fileno=int(sys.argv[1]))
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped automatically
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(ctrl, 65536, 1)
        except OSError:
            return
        if not msg:
            return
        req = json.loads(msg)
        workdir = tempfile.mkdtemp(prefix="ag-student-", dir=req.get("tmp") or None)
        uid = req.get("uid")
        if uid is not None and os.geteuid() == 0:
            os.chown(workdir, uid, uid)
        pid = os.fork()
        if pid == 0:
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
