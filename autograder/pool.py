"""Worker pools: where 'grade one student' runs. Pluggable so grading can fan out past one machine.

A task is independent and idempotent (the driver writes its result atomically and skips it on
rerun), so any pool that calls ``fn(task, worker_state)`` somewhere and hands back the result
works: :class:`LocalPool` runs threads on this machine; :class:`autograder.pool_ray.RayPool` runs
one long-lived actor per worker slot on a Ray cluster. A pool that cannot run a task (its workers
keep dying on it) hands back :class:`Lost` for it instead of retrying forever.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Lost(Generic[T]):
    """A task the pool gave up on, and why (one sentence): the driver reports it, never the pool."""

    task: T
    reason: str


class Pool(Protocol):
    def imap_unordered(
        self, fn: Callable[[T, Any], R], tasks: Iterable[T]
    ) -> Iterator[R | Lost[T]]: ...
    def close(self) -> None: ...


class LocalPool:
    """N threads on this machine, each owning one long-lived worker state (a sandbox zygote)."""

    def __init__(
        self, workers: int, make_state: Callable[[], Any], close_state: Callable[[Any], None]
    ):
        self.workers = max(1, workers)
        self._make, self._close = make_state, close_state
        self._local = threading.local()
        self._states: list[Any] = []
        self._lock = threading.Lock()

    def _state(self) -> Any:
        if not hasattr(self._local, "state"):
            self._local.state = self._make()
            with self._lock:
                self._states.append(self._local.state)
        return self._local.state

    def imap_unordered(self, fn, tasks):
        with ThreadPoolExecutor(self.workers, thread_name_prefix="grader") as ex:
            futures = [ex.submit(lambda t: fn(t, self._state()), t) for t in tasks]
            for fut in as_completed(futures):
                yield fut.result()

    def close(self) -> None:
        for state in self._states:
            self._close(state)
        self._states.clear()
