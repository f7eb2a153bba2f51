"""Grading on a Ray cluster: one long-lived actor per worker slot, the driver keeps the books.

Each actor (1 CPU) builds its worker state once, on its own node: for grading, a pre-warmed sandbox
zygote and the course files Ray shipped to it (``runtime_env`` ``working_dir``). Tasks go to idle
actors one at a time. Retries are our own bookkeeping, not Ray's: when an actor or its node dies,
the student it was grading goes back to the front of the queue and a fresh actor takes the dead
one's place; a task that has ended ``attempts`` actors is handed back as :class:`Lost` with the
reason, so one pathological submission cannot keep a class from finishing.

Ray is imported lazily: ``import autograder`` never needs it.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import random
import re
import shutil
import socket
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from autograder.errors import CourseError
from autograder.pool import Lost

#: a local instance's shared-memory object store: results are small JSON documents
OBJECT_STORE_BYTES = 100 * 2**20
_HOST_PORT = re.compile(r"^\[?[\w.:-]+\]?:\d+$")


def import_ray():
    """The ``ray`` module, or one sentence saying how to get it."""
    try:
        import ray
    except ImportError:
        raise CourseError(
            "--ray needs the `ray` package, which is pinned in requirements.lock: run `make setup` "
            "(or `pip install -r requirements.lock`), then rerun."
        ) from None
    return ray


def _reachable(address: str, timeout_s: float = 5.0) -> bool:
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


def _send_token_through_ray_client() -> None:
    """Ray Client (``ray://``) does not pick up the cluster's token by itself (ray 2.60), unlike a
    direct connection: when a token is configured here, turn token authentication on for it."""
    if "RAY_AUTH_MODE" in os.environ:
        return
    path = os.environ.get("RAY_AUTH_TOKEN_PATH") or str(Path.home() / ".ray" / "auth_token")
    if os.environ.get("RAY_AUTH_TOKEN") or os.path.isfile(path):
        os.environ["RAY_AUTH_MODE"] = "token"


def connect(address: str | None, workers: int, working_dir: Path | None) -> str | None:
    """Start a private local Ray instance (``address`` None) or join a cluster (``auto``,
    ``HOST:PORT`` of its head, or ``ray://HOST:PORT`` through Ray Client), shipping
    ``working_dir`` to every worker. Returns the temporary directory a local instance logs to."""
    if address and address.startswith("ray://"):
        _send_token_through_ray_client()  # read once, when ray loads: before the import
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no network calls of its own
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")  # its C++ retries' warnings: noise
    ray = import_ray()
    common: dict[str, Any] = {
        "runtime_env": {"working_dir": str(working_dir)} if working_dir else None,
        "logging_level": logging.ERROR,
        "log_to_driver": False,
        "namespace": "autograder",
    }
    if ray.is_initialized():
        raise CourseError("Ray is already initialised in this process; grade from a fresh one.")
    if address is None:
        # short path: Ray's Unix sockets live under it (108-byte limit)
        temp = tempfile.mkdtemp(prefix="ag-ray-", dir="/tmp" if os.path.isdir("/tmp") else None)
        ray.init(
            address="local",  # never RAY_ADDRESS from the environment: that is what `auto` is for
            num_cpus=workers,
            object_store_memory=OBJECT_STORE_BYTES,
            include_dashboard=False,
            _temp_dir=temp,
            **common,
        )
        return temp
    if address != "auto" and not _HOST_PORT.match(address.removeprefix("ray://")):
        raise CourseError(
            f"--ray-address {address!r} is not a Ray address: pass auto (the cluster this machine "
            "belongs to), HOST:PORT of the head node (port 6379), or ray://HOST:10001 (Ray Client)."
        )
    if address != "auto" and not _reachable(address):
        raise CourseError(
            f"the Ray cluster at {address} is unreachable (nothing answers on that port); start it "
            "with `ray up cluster.yaml` or `ray start --head`, or check the address and firewall."
        )
    try:
        _join(ray, address, common)
    except ConnectionError as exc:
        why = _join_failure(exc)
        raise CourseError(
            f"cannot join a Ray cluster at {address} ({why}); start "
            "one with `ray start --head` or `ray up cluster.yaml`, or pass its address (a "
            "cluster with token authentication also needs its token here: ~/.ray/auth_token or "
            "RAY_AUTH_TOKEN)."
        ) from None
    except (ValueError, RuntimeError) as exc:
        raise CourseError(
            f"cannot join the Ray cluster at {address}: {str(exc).splitlines()[0][:300]}"
        ) from None
    return None


#: how long to wait for a just-started head's raylet to register: Ray 2.60's ``ray.init`` asks
#: the GCS once for the local node and fails if it is not there yet (ray-project/ray#61029 adds
#: the retry upstream), which a head started a moment before, or a loaded machine, can hit
NODE_REGISTRATION_WAIT_S = 30.0
_NOT_REGISTERED = "No node info found"


def _join(ray, address: str, common: dict) -> None:
    """``ray.init(address)``, retried while the local raylet has not registered with the GCS."""
    deadline = time.monotonic() + NODE_REGISTRATION_WAIT_S
    while True:
        try:
            with _stderr_kept_unless_failed():
                ray.init(address=address, **common)
            return
        except ConnectionError as exc:
            if _NOT_REGISTERED not in _chain_text(exc) or time.monotonic() > deadline:
                raise
            with contextlib.suppress(Exception):
                ray.shutdown()
            time.sleep(1.0)


def _cause_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and its causes, at most five: Ray's ConnectionError hides its reason in them."""
    chain = [exc]
    while chain[-1].__cause__ is not None and len(chain) < 5:
        chain.append(chain[-1].__cause__)
    return chain


def _chain_text(exc: BaseException) -> str:
    return " ".join(str(e) for e in _cause_chain(exc))


@contextlib.contextmanager
def _stderr_kept_unless_failed():
    """Hold what is written to file descriptor 2 while joining a cluster: Ray's C++ client logs
    each refused retry there (20 lines for a wrong token), below the reach of Python's logging.
    When the join fails, the caller's one sentence replaces them; when it succeeds, they are
    written out as they came. Only for joining: a local start's processes inherit the descriptor."""
    sys.stderr.flush()
    with tempfile.TemporaryFile() as held:
        saved = os.dup(2)
        os.dup2(held.fileno(), 2)
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if not failed:
                held.seek(0)
                sys.stderr.write(held.read().decode(errors="replace"))


def _start_death_hint() -> str:
    """What to look at when actors die before they start. The usual cause on a cluster started
    by hand: this driver uses Ray token authentication (a token in ``~/.ray/auth_token`` left by
    an earlier local ``ray.init``, or ``RAY_AUTH_*``) and the cluster does not, or the other way
    round; the cluster's calls back into the driver are then refused, and nothing says why."""
    if os.environ.get("RAY_AUTH_MODE", "").lower() == "token":
        return (
            "this command uses Ray token authentication (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or "
            "~/.ray/auth_token): start the cluster with the same token (RAY_AUTH_MODE=token and "
            "that token on every node), or run the command with RAY_AUTH_MODE=disabled if the "
            "cluster has none, then rerun; otherwise look at the nodes' logs (`ray logs`)."
        )
    return "look at the nodes' logs (`ray logs`), then rerun."


class _Slot:
    """One worker slot on the cluster: builds its worker state once and keeps it for its life."""

    def __init__(self, make_state: Callable[[int], Any], close_state: Callable[[Any], None]):
        self._make, self._close = make_state, close_state
        self.state: Any = None

    def start(self, serial: int) -> str:
        """Build the worker state (slow: a zygote imports torch); say where this slot runs."""
        self.state = self._make(serial)
        return f"{socket.gethostname()} pid {os.getpid()}"

    def run(self, fn: Callable[[Any, Any], Any], task: Any) -> Any:
        return fn(task, self.state)

    def stop(self) -> None:
        if self.state is not None:
            self._close(self.state)
            self.state = None


def _join_failure(exc: BaseException) -> str:
    """Why ``ray.init`` could not join, in a few words: Ray's own ConnectionError hides its cause
    (a refused token shows only in the chained exception's traceback text)."""
    chain = _cause_chain(exc)
    text = " ".join(str(e) for e in chain)
    if "InvalidAuthToken" in text or "Unauthenticated" in text:
        return "it refused this command's Ray token, or its absence"
    return _first_line(chain[-1])[:200]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


class RayPool:
    """``workers`` actors of 1 CPU each on a Ray cluster (or a private local instance).

    ``make_state(serial)`` runs in each actor, on its node, with a serial number unique within
    this pool (a replacement actor gets a new one); ``close_state`` when the pool closes. Both,
    and the ``fn`` given to :meth:`imap_unordered`, are pickled to the actors, so they must be
    importable there (the course's own code reaches the nodes through ``working_dir``).
    """

    def __init__(
        self,
        workers: int,
        make_state: Callable[[int], Any],
        close_state: Callable[[Any], None],
        *,
        address: str | None = None,
        working_dir: Path | None = None,
        attempts: int = 3,
        start_timeout_s: float = 600.0,
    ):
        self.workers = max(1, workers)
        self.attempts = max(1, attempts)
        self.start_timeout_s = start_timeout_s
        self._make, self._close = make_state, close_state
        self._temp = connect(address, self.workers, working_dir)
        self.ray = import_ray()
        self._actor_class = self.ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(_Slot)
        # serial numbers start at random, so that two runs on one cluster rarely share a number
        self._serials = itertools.count(random.randrange(1_000_000))
        self._live: list[Any] = []  # every actor started and not known dead
        self._idle: list[Any] = []
        self._starting: dict[Any, Any] = {}  # start() ref -> actor
        self._start_failures = 0
        #: where each slot ran (``host pid``), and how many actors died under a task: for tests
        self.placements: list[str] = []
        self.deaths = 0

    # -- actors ---------------------------------------------------------------------------------
    def _spawn(self) -> None:
        actor = self._actor_class.remote(self._make, self._close)
        self._live.append(actor)
        self._starting[actor.start.remote(next(self._serials))] = actor

    def _discard(self, actor: Any) -> None:
        if actor in self._live:
            self._live.remove(actor)
        try:
            self.ray.kill(actor, no_restart=True)
        except Exception:  # already gone with its node
            pass

    def _started(self, ref: Any) -> None:
        """A start() finished: the actor is ready, or it could not be built."""
        ray = self.ray
        actor = self._starting.pop(ref)
        try:
            self.placements.append(ray.get(ref))
        except ray.exceptions.RayTaskError as exc:  # make_state raised: the environment is wrong
            self._discard(actor)
            cause = exc.cause if isinstance(exc.cause, Exception) else exc
            if isinstance(cause, CourseError):
                raise CourseError(f"on a Ray worker: {cause}") from None
            raise CourseError(
                f"a Ray worker could not start grading ({type(cause).__name__}: "
                f"{_first_line(cause)}); check that every node has the pinned environment "
                "(`make setup`), then rerun."
            ) from None
        except ray.exceptions.RayError as exc:  # the actor or its node died while starting
            self._discard(actor)
            self._start_failures += 1
            if self._start_failures > 3 * self.workers:
                raise CourseError(
                    f"Ray workers keep dying while they start ({_first_line(exc)}); "
                    + _start_death_hint()
                ) from None
            self._spawn()
        else:
            self._idle.append(actor)

    # -- the pool -------------------------------------------------------------------------------
    def imap_unordered(self, fn: Callable[[Any, Any], Any], tasks: Iterable[Any]) -> Iterator[Any]:
        ray = self.ray
        queue = deque(enumerate(tasks))
        if not queue:
            return
        fn_ref = ray.put(fn)
        while len(self._live) < self.workers:
            self._spawn()
        deaths: dict[int, list[str]] = {}
        running: dict[Any, tuple[Any, int, Any]] = {}  # run() ref -> (actor, index, task)
        waited_since = time.monotonic()
        while queue or running:
            while self._idle and queue:
                actor, (i, task) = self._idle.pop(), queue.popleft()
                running[actor.run.remote(fn_ref, task)] = (actor, i, task)
            if not running and not self._starting:
                self._spawn()  # every slot died: start again
            done, _ = ray.wait([*running, *self._starting], num_returns=1, timeout=5.0)
            if not done:
                if not running and time.monotonic() - waited_since > self.start_timeout_s:
                    raise CourseError(
                        f"no Ray worker became ready in {self.start_timeout_s:g} s: the cluster "
                        "has no free CPU for a grading actor (each takes 1 CPU); add nodes or "
                        "lower --workers, then rerun (finished students are kept)."
                    )
                continue
            waited_since = time.monotonic()
            ref = done[0]
            if ref in self._starting:
                self._started(ref)
                continue
            actor, i, task = running.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayTaskError as exc:  # fn raised: the actor itself is fine
                self._idle.append(actor)
                why = f"{type(exc.cause).__name__}: {_first_line(exc.cause or exc)}"
            except ray.exceptions.RayError as exc:  # the actor or its node died under this task
                self.deaths += 1
                self._discard(actor)
                self._spawn()
                why = _first_line(exc)
            else:
                self._idle.append(actor)
                yield result
                continue
            deaths.setdefault(i, []).append(why)
            if len(deaths[i]) >= self.attempts:
                yield Lost(
                    task,
                    f"grading it failed on {len(deaths[i])} Ray workers in a row (last: "
                    f"{why[:200]}); it was set aside rather than retried forever",
                )
            else:
                queue.appendleft((i, task))

    def close(self) -> None:
        ray = self.ray
        if not ray.is_initialized():
            return
        try:
            stops = [a.stop.remote() for a in self._live if a not in self._starting.values()]
            ray.wait(stops, num_returns=len(stops), timeout=30)
        finally:
            for actor in list(self._live):
                self._discard(actor)
            self._idle.clear()
            self._starting.clear()
            ray.shutdown()
            if self._temp:
                shutil.rmtree(self._temp, ignore_errors=True)
