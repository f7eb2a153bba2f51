"""Which GPU kernels a call launched: the Triton part is graded on what ran, not on source text.

``count_triton_launches()`` counts launches of Triton kernels (compiled ``JITFunction`` on a GPU,
``InterpretedFunction`` under ``TRITON_INTERPRET=1``) made inside the ``with`` block, in this
thread only (a context variable), so concurrent checks do not see each other's launches. The
counting wrapper is installed once per process on Triton's two launcher classes, and only when the
student's code has already imported Triton; it does nothing outside a counting block.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_box: ContextVar[list[int] | None] = ContextVar("triton_launches", default=None)


def _launcher_classes() -> list[type]:
    if "triton" not in sys.modules:
        return []
    classes = []
    try:
        from triton.runtime.jit import JITFunction

        classes.append(JITFunction)
    except ImportError:
        pass
    try:
        from triton.runtime.interpreter import InterpretedFunction

        classes.append(InterpretedFunction)
    except ImportError:
        pass
    return classes


def _install() -> None:
    for cls in _launcher_classes():
        run = cls.__dict__.get("run")
        if run is None or getattr(run, "_counts_launches", False):
            continue

        @functools.wraps(run)
        def counted(self, *args, _run=run, **kwargs):
            box = _box.get()
            if box is not None and not kwargs.get("warmup"):
                box[0] += 1
            return _run(self, *args, **kwargs)

        counted._counts_launches = True
        cls.run = counted


@contextmanager
def count_triton_launches() -> Iterator[list[int]]:
    """``with count_triton_launches() as n: ...`` then ``n[0]`` is the number of launches."""
    _install()
    box = [0]
    token = _box.set(box)
    try:
        yield box
    finally:
        _box.reset(token)
