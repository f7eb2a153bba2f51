"""A chapter package's other parts (catalogue, weights, widgets), imported on first use.

A chapter package's ``__init__`` imports its blocks and ends with ``__getattr__, __dir__ =
lazy_parts(__name__, ...)``: a name that is not a block (``ref.load_minilm``, ``ref.mask_explorer``,
``from course.modern_llms import ARCHITECTURES``) is looked up in the named parts, in order, each
imported the first time it is needed. So importing a chapter (as the checks do) runs its blocks
only, and the student kit's manifest, which hashes what the checks import (``autograder/kit.py``),
does not change when a catalogue, a loader or a widget does.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable


def lazy_parts(package: str, *parts: str) -> tuple[Callable[[str], object], Callable[[], list]]:
    """``(__getattr__, __dir__)`` for ``package`` whose names also come from ``parts`` (module
    names under it, e.g. ``"weights", "widgets"``)."""

    def part(name: str):
        return importlib.import_module(f"{package}.{name}")

    def __getattr__(name: str) -> object:
        if name in parts:
            return part(name)
        # ``from package import module`` asks here first: let the import system load the module
        if not name.startswith("_") and importlib.util.find_spec(f"{package}.{name}") is None:
            for p in parts:
                module = part(p)
                if hasattr(module, name):
                    return getattr(module, name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list:
        names = set(vars(importlib.import_module(package))) | set(parts)
        for p in parts:
            names |= {n for n in vars(part(p)) if not n.startswith("_")}
        return sorted(names)

    return __getattr__, __dir__
