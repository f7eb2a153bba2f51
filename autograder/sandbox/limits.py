"""Confinement applied inside the forked child before any student code runs (Linux).

What it guarantees, in order of application:

* its own session and process group (killed whole afterwards), and stdin/stdout/stderr on /dev/null;
* as root, when the kernel allows it: new mount and network namespaces (no network at all), and a
  filesystem reduced to an allow-list (:func:`allow_only`): the system directories, the Python
  installation and virtual environment, and the student's temporary working directory; everything
  else (this checkout, any other copy of the course, home directories, credentials) is covered by
  empty mounts, and the paths the grader names (``solutions/``, the submissions, the output...) are
  hidden as well in case they sit inside a kept tree; then a fresh unprivileged uid/gid per
  student, so it cannot signal the grader or other students, or write outside its directories;
* rlimits: CPU seconds, address space (CPU-only machines: CUDA needs a huge address space),
  file size, open files, processes (per uid), no core dumps;
* a scrubbed environment and a temporary working directory.

Without root or namespaces (a laptop, a locked-down container) only the process, rlimit, timeout
and environment parts hold; the student code can then read what the grader's user can read.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys
from dataclasses import dataclass, field

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_PRIVATE = 1 << 18


@dataclass
class Limits:
    cpu_s: int = 120
    memory_mb: int = 3072
    file_mb: int = 16
    nproc: int = 64
    nofile: int = 256
    hide: list[str] = field(default_factory=list)
    uid: int | None = None  # unprivileged uid to switch to (root only)


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _mount(libc, src, target, fstype, flags, data=None) -> None:
    def enc(s):
        return s.encode() if isinstance(s, str) else s

    if libc.mount(enc(src), enc(target), enc(fstype), flags, enc(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def pids_of(uid: int) -> list[int]:
    """Process ids owned by ``uid``, read from /proc."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def _processes_of(uid: int) -> int:
    """Number of processes and threads owned by ``uid`` (RLIMIT_NPROC counts threads too)."""
    count = 0
    for pid in pids_of(uid):
        try:
            count += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            pass
    return count


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _blocking_ancestor(path: str) -> str | None:
    """The highest directory above ``path`` that other users cannot enter (no o+x), if any."""
    blocking = None
    parts = path.strip("/").split("/")
    for i in range(1, len(parts)):
        ancestor = "/" + "/".join(parts[:i])
        try:
            if os.stat(ancestor).st_mode & 0o001 == 0:
                blocking = blocking or ancestor
        except OSError:  # does not exist (yet): nothing deeper can block
            break
    return blocking


def needed_paths() -> list[str]:
    """What the student's process must be able to read: the Python installation and the venv."""
    paths = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    return sorted(paths)


def _expose(libc, paths: list[str]) -> None:
    """Keep ``paths`` readable after the uid switch when an ancestor is closed to other users.

    A checkout in a 0700 directory (``mktemp -d``, a home directory) or a Python installation in
    root's home cannot be entered by the sandbox's unprivileged uid. For each such ancestor, in
    this process's private mount namespace: move the needed trees aside (bind mounts), cover the
    ancestor with an empty world-readable tmpfs, and put the trees back at their own paths. Only
    the needed trees reappear: everything else under that ancestor (other clones, credentials,
    the course's solutions) stays invisible.
    """
    groups: dict[str, list[str]] = {}
    for path in paths:
        ancestor = _blocking_ancestor(path)
        if ancestor is not None:
            groups.setdefault(ancestor, []).append(path)
    for ancestor, trees in groups.items():
        _cover(libc, ancestor, trees, "0755")


#: top-level directories the student's process sees as they are (read-only for its uid by their
#: permissions): the system's programs, libraries and configuration, and the kernel's views
SYSTEM_DIRS = (
    "/usr",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/bin",
    "/sbin",
    "/etc",
    "/proc",
    "/sys",
)


def _cover(libc, top: str, trees: list[str], mode: str) -> None:
    """Replace ``top`` by an empty tmpfs in which only ``trees`` (paths below it) reappear."""
    staging = "/dev/shm" if os.path.isdir("/dev/shm") else "/dev"
    stashes = []
    for i, tree in enumerate(trees):
        stash = os.path.join(staging, f".sandbox-keep-{os.getpid()}-{abs(hash(top))}-{i}")
        os.makedirs(stash, exist_ok=True)
        _mount(libc, tree, stash, None, MS_BIND | MS_REC)
        stashes.append((stash, tree))
    _mount(libc, "tmpfs", top, "tmpfs", 0, f"mode={mode},size=256m")
    for stash, tree in stashes:
        os.makedirs(tree, exist_ok=True)
        _mount(libc, stash, tree, None, MS_MOVE)
        try:
            os.rmdir(stash)
        except OSError:
            pass


def allow_only(libc, keep: list[str]) -> list[str]:
    """Make the filesystem, for this mount namespace, the system directories plus ``keep``.

    Every other top-level directory (``/home``, ``/root``, ``/work``, ``/srv``, ``/opt``, ``/var``,
    ``/run``, ``/mnt``, ``/tmp``...) is covered by an empty tmpfs in which only the kept trees
    below it reappear, so no other copy of the course, no home directory and no credentials are
    visible, wherever they are. ``/tmp`` becomes a fresh, private, world-writable tmpfs. ``/dev``
    stays (devices; its shared memory is replaced by a private tmpfs). Returns what it could not
    cover, for the report.
    """
    links = {p: os.path.realpath(p) for p in keep if os.path.islink(p)}  # e.g. a symlinked venv
    keep = sorted({os.path.realpath(p) for p in keep})
    failed = []
    for entry in sorted(os.listdir("/")):
        top = "/" + entry
        if top in SYSTEM_DIRS or top == "/dev" or os.path.islink(top) or not os.path.isdir(top):
            continue
        trees = [p for p in keep if p.startswith(top + "/")]
        if top in keep:
            continue
        try:
            _cover(libc, top, trees, "1777" if top == "/tmp" else "0755")
        except OSError as exc:
            failed.append(f"allow-list: {top} stays visible ({exc})")
    for link, target in links.items():
        if not os.path.lexists(link):
            try:
                os.makedirs(os.path.dirname(link), exist_ok=True)
                os.symlink(target, link)
            except OSError as exc:
                failed.append(f"allow-list: cannot recreate {link} ({exc})")
    if os.path.isdir("/dev/shm"):
        try:
            _mount(libc, "tmpfs", "/dev/shm", "tmpfs", 0, "mode=1777,size=64m")
        except OSError:
            pass
    return failed


def enter(limits: Limits, workdir: str) -> list[str]:
    """Confine the current (child) process. Returns what could not be applied, for the report."""
    missing: list[str] = []
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    is_root = os.geteuid() == 0
    ns_ok = False
    if is_root:
        libc = _libc()
        try:
            if libc.unshare(CLONE_NEWNS | CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "unshare")
            _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
            for path in limits.hide:
                if os.path.isdir(path):
                    _mount(libc, "tmpfs", path, "tmpfs", MS_RDONLY, "size=4k")
                elif os.path.exists(path):
                    _mount(libc, os.devnull, path, None, MS_BIND)
            if limits.uid is not None:
                missing += allow_only(libc, [sys.prefix, sys.base_prefix, *needed_paths(), workdir])
                _expose(libc, needed_paths())
            ns_ok = True
        except OSError as exc:
            missing.append(f"namespaces ({exc})")
    else:
        missing.append("namespaces and uid switch (grader not running as root)")
    os.chdir(workdir)
    os.environ.clear()
    os.environ.update(
        {
            "PATH": "/usr/bin:/bin",
            "HOME": workdir,
            "TMPDIR": workdir,
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "LANG": "C.UTF-8",
        }
    )
    if not os.path.exists("/dev/nvidia0"):
        os.environ["TRITON_INTERPRET"] = (
            "1"  # Triton kernels run on CPU tensors via the interpreter
        )
    mb = 2**20
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * mb, limits.file_mb * mb))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.nofile, limits.nofile))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if not os.path.exists("/dev/nvidia0"):
        vm = _vm_size() + limits.memory_mb * mb
        resource.setrlimit(resource.RLIMIT_AS, (vm, vm))
    else:
        missing.append("address-space limit (CUDA present)")
    if ns_ok and limits.uid is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.nproc, limits.nproc))
        os.setgroups([])
        os.setgid(limits.uid)
        os.setuid(limits.uid)
    else:
        # Same uid as the grader: cap processes at what that uid already runs plus the budget
        # (not enforced for root, which is why the root path switches uid first).
        missing.append("uid switch (the code can read and signal what the grader's user can)")
        mine = _processes_of(os.getuid())
        resource.setrlimit(resource.RLIMIT_NPROC, (mine + limits.nproc, mine + limits.nproc))
    return missing
