"""Worker pools: where 'grade one student' runs. Pluggable so grading can fan out past one machine.

A task is independent and idempotent (its result is written atomically and skipped on rerun), so
any pool that calls ``fn(task, worker_state)`` somewhere and hands back the result works: a Ray
pool would wrap ``fn`` in ``ray.remote`` with one zygote per actor; a Kubernetes pool would run
``python -m autograder grade`` on shards of the class and merge the results folders.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Pool(Protocol):
    def imap_unordered(self, fn: Callable[[T, Any], R], tasks: Iterable[T]) -> Iterator[R]: ...
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
