"""Plain-data encoding of call arguments and results, shared by both sides of the sandbox.

Values are JSON-able trees whose leaves are numbers, strings, booleans, None, tensors (stored by
name in a separate safetensors blob) or a few declared stand-ins (a callable that sleeps). Nothing
here ever unpickles or evaluates bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

MAX_DEPTH = 6
MAX_ITEMS = 256


@dataclass(frozen=True)
class Sleeper:
    """A callable argument: the first ``cold_calls`` calls sleep ``cold_s``, the rest ``warm_s``.

    The sandbox builds a real function from it and reports how often it was called.
    """

    warm_s: float
    cold_s: float = 0.0
    cold_calls: int = 0


@dataclass(frozen=True)
class NewCache:
    """An argument meaning "the KV cache of this case": ``target.new_cache()``, made once per case."""


class EncodeError(ValueError):
    pass


def encode(value: Any, tensors: dict[str, torch.Tensor], depth: int = 0) -> Any:
    """Turn ``value`` into a JSON tree, moving tensors into ``tensors`` (name -> tensor)."""
    if depth > MAX_DEPTH:
        raise EncodeError("the value is nested too deeply")
    if isinstance(value, torch.Tensor):
        name = f"t{len(tensors)}"
        t = value.detach()
        tensors[name] = t.to("cpu").contiguous()
        return {"__tensor__": name, "device": t.device.type}
    if isinstance(value, Sleeper):
        return {"__sleeper__": [value.warm_s, value.cold_s, value.cold_calls]}
    if isinstance(value, NewCache):
        return {"__newcache__": True}
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return value
    if isinstance(value, torch.dtype):
        return {"__dtype__": str(value).removeprefix("torch.")}
    if isinstance(value, list | tuple):
        if len(value) > MAX_ITEMS:
            raise EncodeError(f"a sequence has {len(value)} items (at most {MAX_ITEMS})")
        return {"__seq__": [encode(v, tensors, depth + 1) for v in value]}
    if isinstance(value, dict):
        if len(value) > MAX_ITEMS or not all(isinstance(k, str) for k in value):
            raise EncodeError("a dict must have at most 256 string keys")
        return {"__dict__": {k: encode(v, tensors, depth + 1) for k, v in value.items()}}
    raise EncodeError(f"an object of type {type(value).__name__} cannot be graded")


def decode(tree: Any, tensors: dict[str, torch.Tensor], make_sleeper=None, depth: int = 0) -> Any:
    """Inverse of :func:`encode`; tensors come from ``tensors``; sleepers from ``make_sleeper``."""
    if depth > MAX_DEPTH:
        raise EncodeError("the value is nested too deeply")
    if isinstance(tree, dict):
        if "__tensor__" in tree:
            name = tree["__tensor__"]
            if name not in tensors:
                raise EncodeError(f"tensor {name!r} is missing")
            return tensors[name]
        if "__sleeper__" in tree:
            warm, cold, n = tree["__sleeper__"]
            s = Sleeper(float(warm), float(cold), int(n))
            return make_sleeper(s) if make_sleeper else s
        if "__newcache__" in tree:
            return NewCache()
        if "__dtype__" in tree:
            dt = getattr(torch, str(tree["__dtype__"]), None)
            if not isinstance(dt, torch.dtype):
                raise EncodeError("unknown dtype")
            return dt
        if "__seq__" in tree:
            return [decode(v, tensors, make_sleeper, depth + 1) for v in tree["__seq__"]]
        if "__dict__" in tree:
            return {
                k: decode(v, tensors, make_sleeper, depth + 1) for k, v in tree["__dict__"].items()
            }
        raise EncodeError("unknown value encoding")
    if isinstance(tree, list):
        raise EncodeError("bare lists are not a valid encoding")
    if tree is None or isinstance(tree, bool | int | float | str):
        return tree
    raise EncodeError("unknown value encoding")
