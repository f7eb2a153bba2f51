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

Without root (a laptop, a JupyterHub single-user server, a CI runner) the same allow-list, a
private network and a private /tmp come from an unprivileged user namespace
(:func:`_enter_user_namespace`, as bubblewrap does): new user, mount, network, IPC and PID
namespaces, kept trees remounted read-only, a fresh /proc that shows only the sandbox's own
processes (so the grader cannot be signalled, traced or read through /proc), and every
capability dropped before student code runs. Only the fresh uid is missing there: the student
runs as the grader's user, inside namespaces that hide everything that user could reach.

Where the kernel forbids user namespaces too, only the process, rlimit, timeout and environment
parts hold; the hello message says so (``isolated`` false) and ``grade`` refuses to run unless the
instructor asks for it explicitly (``--no-isolation``).
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
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWIPC = 0x08000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_RELATIME = 1 << 21
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
#: set to "0" to behave as if the kernel forbade unprivileged user namespaces (tests, or an
#: instructor who wants to see the refusal)
USERNS_ENV = "AUTOGRADER_USERNS"
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
    # the directories made on the way to the kept trees take no new files: as root they are
    # root's, and in a user namespace (where they are the grader's user's) they are made
    # read-only, so a write next to the checkout fails the same way (a writable /tmp included)
    for parent in sorted({p for t in trees for p in _ancestors_below(t, top)}, reverse=True):
        try:
            os.chmod(parent, 0o555)
        except OSError:
            pass


def _ancestors_below(path: str, top: str) -> list[str]:
    """The directories strictly between ``top`` and ``path``."""
    out = []
    parent = os.path.dirname(path)
    while parent.startswith(top + "/"):
        out.append(parent)
        parent = os.path.dirname(parent)
    return out


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
            if top != "/tmp":  # nothing to write there (the grader's uid owns it in a userns)
                _remount_read_only(libc, top)
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


@dataclass
class Confinement:
    """What :func:`enter` achieved: ``isolated`` when the filesystem allow-list and the private
    network hold (as root, or in an unprivileged user namespace); ``missing`` lists, for the
    report, each part that could not be applied."""

    isolated: bool
    missing: list[str]


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _read_only(libc, tree: str) -> None:
    """Make ``tree`` a read-only bind mount of itself."""
    _mount(libc, tree, tree, None, MS_BIND | MS_REC)
    _remount_read_only(libc, tree)


def _remount_read_only(libc, tree: str) -> None:
    """Remount the mount at ``tree`` read-only, keeping the flags a user namespace may not clear
    (nosuid, nodev, noexec, atime: the kernel refuses a remount that drops a locked one)."""
    flags = os.statvfs(tree).f_flag
    keep = 0
    for st, ms in (
        (os.ST_NOSUID, MS_NOSUID),
        (os.ST_NODEV, MS_NODEV),
        (os.ST_NOEXEC, MS_NOEXEC),
        (os.ST_NOATIME, MS_NOATIME),
        (os.ST_NODIRATIME, MS_NODIRATIME),
        (os.ST_RELATIME, MS_RELATIME),
    ):
        if flags & st:
            keep |= ms
    _mount(libc, None, tree, None, MS_BIND | MS_REMOUNT | MS_RDONLY | keep)


def _drop_capabilities(libc) -> None:
    """Give up every capability (the user namespace granted them all): the student's code can
    then neither unmount the covers nor mount anything over the kept trees."""

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [(n, ctypes.c_uint32) for n in ("effective", "permitted", "inheritable")]

    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header, data = Header(_LINUX_CAPABILITY_VERSION_3, 0), (Data * 2)()
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def _relay(pid: int, status_fd: int | None = None, status_from: int | None = None) -> None:
    """Wait for ``pid`` and end this process the way it ended (its exit code, or its signal), so
    that the zygote's wait status (the student's death reason) is the sandboxed worker's.

    PID 1 of a PID namespace cannot die of its own signals, so it passes the worker's wait status
    up through ``status_fd`` and exits; the relay outside the namespace (``status_from``) reads
    it and re-raises the signal on itself. Never returns."""
    keep = status_fd if status_fd is not None else status_from
    os.closerange(3, keep if keep is not None else 65536)  # the student's channel among them
    if keep is not None:
        os.closerange(keep + 1, 65536)
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # PID 1 then ignores it from inside
    status = 0
    while True:  # PID 1 also reaps orphans of the namespace until the worker ends
        try:
            done, status = os.waitpid(-1 if status_fd is not None else pid, 0)
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if done == pid:
            break
    if status_fd is not None:
        os.write(status_fd, status.to_bytes(4, "little", signed=True))
        os._exit(0)
    if status_from is not None:
        data = os.read(status_from, 4)
        if len(data) == 4:
            status = int.from_bytes(data, "little", signed=True)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)  # a signal that does not end a process by default
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def _enter_user_namespace(libc, limits: Limits, workdir: str, missing: list[str]) -> None:
    """The unprivileged sandbox. Returns in the worker only, after its capabilities are gone:

    this process -> relay (outside, mirrors the end) -> PID 1 of a new PID namespace (mounts a
    fresh /proc, reaps) -> the worker (PID 2, runs the student's code). All three share one
    process group, which the client kills; the other two die with PID 1 (PDEATHSIG, and the
    kernel ends a PID namespace whose PID 1 ends)."""
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWPID) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWUSER)")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1")
    _write("/proc/self/gid_map", f"{gid} {gid} 1")
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
    _hide(libc, limits.hide)
    kept = [sys.prefix, sys.base_prefix, *needed_paths()]
    missing += allow_only(libc, [*kept, workdir])
    for tree in sorted({os.path.realpath(p) for p in kept}):
        try:
            _read_only(libc, tree)
        except OSError as exc:
            missing.append(f"read-only {tree} ({exc})")
    read_end, write_end = os.pipe()
    first = os.fork()
    if first:
        os.close(write_end)
        _relay(first, status_from=read_end)
    os.close(read_end)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    proc_ok = True
    try:
        _mount(libc, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError as exc:
        proc_ok = False
        missing.append(f"private /proc ({exc}): the grader's processes stay listed")
    worker = os.fork()
    if worker:
        _relay(worker, status_fd=write_end)
    os.close(write_end)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if proc_ok and os.getppid() != 1:  # PID 1 died between the forks
        os._exit(1)
    _drop_capabilities(libc)


def _hide(libc, paths: list[str]) -> None:
    for path in paths:
        if os.path.isdir(path):
            _mount(libc, "tmpfs", path, "tmpfs", MS_RDONLY, "size=4k")
        elif os.path.exists(path):
            _mount(libc, os.devnull, path, None, MS_BIND)


def userns_allowed() -> bool:
    return os.environ.get(USERNS_ENV, "1") != "0"


def enter(limits: Limits, workdir: str) -> Confinement:
    """Confine the current (child) process. Returns what was achieved, for the report."""
    missing: list[str] = []
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    libc = _libc()
    isolated = uid_switched = False
    if os.geteuid() == 0:
        try:
            if libc.unshare(CLONE_NEWNS | CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "unshare")
            _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
            _hide(libc, limits.hide)
            if limits.uid is not None:
                missing += allow_only(libc, [sys.prefix, sys.base_prefix, *needed_paths(), workdir])
                _expose(libc, needed_paths())
                isolated = uid_switched = True
        except OSError as exc:
            missing.append(f"namespaces ({exc})")
    elif not userns_allowed():
        missing.append(f"user namespaces (turned off: {USERNS_ENV}=0)")
    else:
        try:
            _enter_user_namespace(libc, limits, workdir, missing)
            isolated = True
        except OSError as exc:
            missing.append(f"user namespaces ({exc})")
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
    if uid_switched:
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.nproc, limits.nproc))
        os.setgroups([])
        os.setgid(limits.uid)
        os.setuid(limits.uid)
    else:
        # Same uid as the grader: cap processes at what that uid already runs here plus the
        # budget (in a user namespace the count is the namespace's own)
        if not isolated:
            missing.append("uid switch (the code can read and signal what the grader's user can)")
        mine = _processes_of(os.getuid())
        resource.setrlimit(resource.RLIMIT_NPROC, (mine + limits.nproc, mine + limits.nproc))
    return Confinement(isolated, missing)
