"""Run a command as an unprivileged uid, the way an instructor without root runs the grader.

``python tests/as_unprivileged.py UID PATH [PATH...] -- COMMAND...`` (as root): in a private mount
namespace, every directory above a PATH that other users cannot enter (a checkout in a 0700
``mktemp -d``, Python in /root/.pyenv) is covered by an empty world-enterable tmpfs in which only
the PATHs reappear; then the process drops to UID (no supplementary groups) and execs COMMAND.
Nothing else changes: the command sees the machine as that user would if the files were laid out
for it, and has no privilege left (it cannot undo the mounts).
"""

from __future__ import annotations

import ctypes
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from autograder.sandbox import limits  # noqa: E402


def main() -> None:
    sep = sys.argv.index("--")
    uid, paths, command = int(sys.argv[1]), sys.argv[2:sep], sys.argv[sep + 1 :]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(limits.CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    limits._mount(libc, None, "/", None, limits.MS_REC | limits.MS_PRIVATE)
    limits._expose(libc, sorted({os.path.realpath(p) for p in paths}))
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
