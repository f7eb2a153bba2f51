"""One mistake, one deduction: grade a composite block with the reference in place of its sub-blocks.

A check whose block is built from other graded blocks (a decoder layer from RMSNorm, attention and
an MLP) declares ``Check.submodules``: an attribute-path pattern in the student's module (``"mlp"``,
``"model.layers.*.input_layernorm"``) mapped to a :class:`Submodule` (the sub-block's check, for the
feedback, and how to build its reference from the composite's ``init``). While such a check runs,
every matching submodule of the student's module answers with the *reference* sub-block, applied to
the student's own parameters, so the composite is graded on its own code alone: a wrong RMSNorm
costs points in the RMSNorm part only.

The reference never enters the sandbox. The student's submodule keeps its parameters and names; only
its ``forward`` is replaced (on that one instance) by a call over a :class:`Channel` to the trusted
side, which runs the reference with ``torch.func.functional_call`` on the tensors it is sent and keeps
the autograd graph for the matching backward request. In the student's own kernel the channel is a
direct call (:class:`LocalChannel`); in the grader it is the sandbox socket (see ``sandbox.child``).

Calls whose arguments are not plain data (a KV-cache object) run the student's own submodule: the
contract cannot be enforced through them, and the feedback names the sub-blocks that were replaced.
"""

from __future__ import annotations

import fnmatch
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from coursekit.values import EncodeError, decode, encode

MAX_CALLS = 4096  # per case: a composite that calls a sub-block in a loop is stopped, not served


@dataclass(frozen=True)
class Submodule:
    """A graded sub-block inside a composite: its check (named in feedback) and its reference.

    ``build(init)`` returns the reference sub-block for the composite's constructor arguments
    ``init``, with the sub-block's own contract (call signature, parameter names).
    """

    check: str
    build: Callable[[dict], torch.nn.Module]


class Channel(Protocol):
    """Carries a sub-block call to the trusted side: ``request(header, tensors) -> (header, tensors)``."""

    def request(
        self, header: dict[str, Any], tensors: dict[str, torch.Tensor]
    ) -> tuple[dict[str, Any], dict[str, torch.Tensor]]: ...


class InjectionError(Exception):
    """The trusted side refused a sub-block call; the message is for the student."""


# ---------------------------------------------------------------------------------------------
# Student side (in the sandbox, or the student's kernel): patch forward on matching submodules.


def matching_paths(module: torch.nn.Module, patterns: list[str]) -> list[str]:
    """Dotted names of ``module``'s submodules that match any pattern (``*`` matches one name)."""
    paths = []
    for name, _ in module.named_modules():
        if name and any(_match(name, p) for p in patterns):
            paths.append(name)
    return paths


def matches(name: str, patterns: list[str]) -> bool:
    """Whether the dotted ``name`` matches any of ``patterns`` (``*`` matches one name)."""
    return bool(name) and any(_match(name, p) for p in patterns)


def _match(name: str, pattern: str) -> bool:
    parts, pats = name.split("."), pattern.split(".")
    return len(parts) == len(pats) and all(fnmatch.fnmatchcase(a, b) for a, b in zip(parts, pats))


def _plain(value: Any, depth: int = 0) -> bool:
    if depth > 4:
        return False
    if value is None or isinstance(value, bool | int | float | str | torch.Tensor):
        return True
    if isinstance(value, list | tuple):
        return all(_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    return False


class _RemoteCall(torch.autograd.Function):
    @staticmethod
    def forward(ctx, channel, path, skeleton, grads, names, *tensors):
        n_args = len(tensors) - len(names)
        blobs = {f"a{i}": t.detach() for i, t in enumerate(tensors[:n_args])}
        blobs.update({f"p:{n}": t.detach() for n, t in zip(names, tensors[n_args:])})
        device = tensors[0].device if tensors else torch.device("cpu")
        header, out = channel.request(
            {
                "callback": "call",
                "path": path,
                "skeleton": skeleton,
                "grads": grads,
                "names": list(names),
                "device": device.type,
            },
            blobs,
        )
        ctx.channel, ctx.call_id = channel, header.get("id")
        ctx.devices = [t.device for t in tensors]
        result = out.get("out")
        if not isinstance(result, torch.Tensor):
            raise InjectionError(f"the reference {path} returned no tensor")
        return result.to(device)

    @staticmethod
    def backward(ctx, grad_out):
        header, blobs = ctx.channel.request(
            {"callback": "backward", "id": ctx.call_id}, {"grad": grad_out.detach()}
        )
        grads = [
            None if blobs.get(f"g{i}") is None else blobs[f"g{i}"].to(d)
            for i, d in enumerate(ctx.devices)
        ]
        return (None, None, None, None, None, *grads)


def _remote_forward(channel: Channel, path: str, module: torch.nn.Module) -> Callable:
    own_forward = module.forward  # the student's own (or a refusal, see calling.refuse_hung)
    names = [n for n, _ in module.named_parameters()] + [n for n, _ in module.named_buffers()]

    def forward(*args, **kwargs):
        if not _plain(args) or not _plain(kwargs):  # e.g. a cache object: the student's own code
            return own_forward(*args, **kwargs)
        tensors: dict[str, torch.Tensor] = {}
        skeleton = encode({"args": list(args), "kwargs": kwargs}, tensors)
        live = _tensors_in_order(args, kwargs)
        if len(live) != len(tensors):
            return own_forward(*args, **kwargs)
        state = dict(module.named_parameters())
        state.update(dict(module.named_buffers()))
        leaves = [*live, *(state[n] for n in names)]
        grads = [torch.is_grad_enabled() and t.requires_grad for t in leaves]
        return _RemoteCall.apply(channel, path, skeleton, grads, names, *leaves)

    return forward


def _tensors_in_order(*values: Any) -> list[torch.Tensor]:
    out: list[torch.Tensor] = []

    def walk(v):
        if isinstance(v, torch.Tensor):
            out.append(v)
        elif isinstance(v, list | tuple):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)

    for v in values:
        walk(v)
    return out


def inject(module: torch.nn.Module, patterns: list[str], channel: Channel) -> list[str]:
    """Replace ``forward`` of every submodule matching ``patterns`` by a call to the trusted side.

    Returns the paths replaced. Parameters, buffers and names are untouched (gradients still reach
    the student's parameters, through the reference's backward).
    """
    paths = matching_paths(module, patterns)
    for path in paths:
        sub = module.get_submodule(path)
        sub.forward = _remote_forward(channel, path, sub)
    return paths


# ---------------------------------------------------------------------------------------------
# Trusted side: run the reference sub-block on what the student side sends.


class SubmoduleServer:
    """Answers sub-block calls for one case of one check (trusted process only)."""

    def __init__(self, submodules: dict[str, Submodule], init: dict):
        self.submodules, self.init = submodules, init
        self.patterns = list(submodules)
        self._modules: dict[str, torch.nn.Module] = {}
        self._graphs: dict[int, tuple[torch.Tensor, list[torch.Tensor]]] = {}
        self._ids = itertools.count()
        self.calls = 0

    def _reference(self, path: str) -> torch.nn.Module:
        pattern = next((p for p in self.patterns if _match(path, p)), None)
        if pattern is None:
            raise InjectionError(f"no sub-block is graded at {path!r}")
        if pattern not in self._modules:
            with torch.device("meta"):  # shapes only: every tensor comes from the student side
                self._modules[pattern] = self.submodules[pattern].build(self.init)
        return self._modules[pattern]

    def handle(
        self, header: dict[str, Any], blobs: dict[str, torch.Tensor]
    ) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """One request from :class:`_RemoteCall`; raises :class:`InjectionError` on a bad one."""
        self.calls += 1
        if self.calls > MAX_CALLS:
            raise InjectionError(f"more than {MAX_CALLS} sub-block calls in one case")
        if header.get("callback") == "call":
            return self._call(header, blobs)
        if header.get("callback") == "backward":
            return self._backward(header, blobs)
        raise InjectionError("unknown sub-block request")

    def _call(self, header, blobs):
        path = str(header.get("path"))
        module = self._reference(path)
        grads = [bool(g) for g in header.get("grads", [])]
        names = [str(n) for n in header.get("names", [])]
        n_args = sum(1 for k in blobs if k.startswith("a"))
        try:  # in the order the student side sent them (the tensor blob itself is unordered)
            leaves = [blobs[f"a{i}"] for i in range(n_args)] + [blobs[f"p:{n}"] for n in names]
        except KeyError:
            raise InjectionError("malformed sub-block call") from None
        if len(grads) != len(leaves) or len(set(names)) != len(names):
            raise InjectionError("malformed sub-block call")
        device = "cuda" if header.get("device") == "cuda" and torch.cuda.is_available() else "cpu"
        leaves = [
            t.to(device).requires_grad_(g and t.is_floating_point()) for t, g in zip(leaves, grads)
        ]
        args_in = {f"t{i}": leaves[i] for i in range(n_args)}
        try:
            tree = decode(header.get("skeleton"), args_in)
        except (EncodeError, KeyError, TypeError) as exc:
            raise InjectionError(f"malformed sub-block call: {exc}") from None
        named = dict(zip(names, leaves[n_args:]))
        expected = {n for n, _ in module.named_parameters()} | {
            n for n, _ in module.named_buffers()
        }
        if set(named) != expected:
            raise InjectionError(
                f"{path}: parameter names {sorted(named)} differ from the contract's "
                f"{sorted(expected)}"
            )
        with torch.enable_grad():
            out = torch.func.functional_call(module, named, tuple(tree["args"]), tree["kwargs"])
        if not isinstance(out, torch.Tensor):
            raise InjectionError(f"the reference {path} returned no tensor")
        call_id = next(self._ids)
        if out.requires_grad:
            self._graphs[call_id] = (out, leaves)
        return {"id": call_id}, {"out": out.detach()}

    def _backward(self, header, blobs):
        graph = self._graphs.pop(int(header.get("id", -1)), None)
        grad = blobs.get("grad")
        if graph is None or grad is None:
            raise InjectionError("a backward request for an unknown sub-block call")
        out, leaves = graph
        if tuple(grad.shape) != tuple(out.shape):
            raise InjectionError("a sub-block gradient of the wrong shape")
        wanted = [t for t in leaves if t.requires_grad]
        got = torch.autograd.grad(out, wanted, grad.to(out.dtype), allow_unused=True)
        it = iter(got)
        result = {}
        for i, t in enumerate(leaves):
            g = next(it) if t.requires_grad else None
            if g is not None:
                result[f"g{i}"] = g.detach()
        return {}, result


class LocalChannel:
    """A channel that calls the server directly (the student's kernel, and tests)."""

    def __init__(self, server: SubmoduleServer):
        self.server = server

    def request(self, header, tensors):
        header = json.loads(json.dumps(header))  # the same plain-data boundary as the socket
        reply, blobs = self.server.handle(header, {k: v.clone() for k, v in tensors.items()})
        return reply, {k: v.clone() for k, v in blobs.items()}
