"""Finding the first wrong layer: every submodule's inputs and outputs, in call order, compared.

When a composite part (a layer, a model, generation) fails a case, the grader runs that one case
again on the student's module and on the reference, each loaded with the same state dict and given
the same inputs, with a forward hook on every named submodule (:class:`Recorder`). The calls are
matched by the contract's submodule names (HF-style, fixed by the parameter names) and by how many
times that submodule had been called, and walked in the reference's call order (a hook fires when
its submodule returns, so a submodule comes after its own children: the innermost divergence is
found first). :func:`first_divergence` names the first whose output differs beyond the check's
tolerance and whether its inputs already differed; :func:`explain` turns that into feedback that
names submodules and error sizes only, never an input's values.

The student's side is recorded where the student's code runs (the sandbox child, which imports
this module: it knows no check and no reference); the calls travel back as tensors over the
ordinary wire protocol (:func:`encode_calls`, :func:`decode_calls`, which trusts nothing it reads)
and are compared in the trusted parent. The cost is bounded: one extra run of one case, on failure
only, at most :data:`MAX_CALLS` calls and :data:`MAX_BYTES` of tensors recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from coursekit.values import EncodeError, decode, encode

#: recorded calls per run (a generation loop calls every submodule once per new token)
MAX_CALLS = 2048
#: tensor bytes recorded per run (the rest of the calls are not recorded)
MAX_BYTES = 64 * 2**20
#: tensors kept per call's inputs or outputs
MAX_TENSORS = 16


@dataclass
class Call:
    """One call of a submodule: its dotted name, which call of it this was, its tensors."""

    name: str
    index: int
    inputs: list[torch.Tensor] = field(default_factory=list)
    outputs: list[torch.Tensor] = field(default_factory=list)
    #: the call's arguments with each tensor as "T": its flags (``causal=True``) and what was None
    signature: Any = None


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value[:64]
    if isinstance(value, torch.Tensor):
        return "T"
    return "?"


def signature(args: tuple, kwargs: dict) -> dict[str, Any]:
    """A call's arguments as plain data, each tensor written "T" (keywords that are None left
    out: passing ``mask=None`` and passing no mask are the same call)."""
    return {
        "args": [_plain(a) for a in args[:MAX_TENSORS]],
        "kwargs": {
            str(k): _plain(v) for k, v in list(kwargs.items())[:MAX_TENSORS] if v is not None
        },
    }


def _tensors(value: Any, out: list[torch.Tensor], depth: int = 0) -> list[torch.Tensor]:
    if depth > 4 or len(out) >= MAX_TENSORS:
        return out
    if isinstance(value, torch.Tensor):
        out.append(value.detach().to("cpu", copy=True))
    elif isinstance(value, list | tuple):
        for v in value:
            _tensors(v, out, depth + 1)
    elif isinstance(value, dict):
        for v in value.values():
            _tensors(v, out, depth + 1)
    return out


class Recorder:
    """Forward hooks on every named submodule of a module, recording its calls in order."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.modules: list[str] = []
        self._counts: dict[str, int] = {}
        self._bytes = 0

    def attach(self, module: torch.nn.Module) -> None:
        for name, sub in module.named_modules():
            if not name:  # the whole module: its output is the case's output, compared already
                continue
            self.modules.append(name)
            sub.register_forward_hook(self._hook(name), with_kwargs=True)

    def _hook(self, name: str):
        def hook(module, args, kwargs, output):
            index = self._counts.get(name, 0)
            self._counts[name] = index + 1
            if len(self.calls) >= MAX_CALLS or self._bytes > MAX_BYTES:
                return None
            ins, outs = _tensors([args, kwargs], []), _tensors(output, [])
            call = Call(name, index, ins, outs, signature(args, kwargs))
            self._bytes += sum(t.numel() * t.element_size() for t in call.inputs + call.outputs)
            self.calls.append(call)
            return None

        return hook


def encode_calls(recorder: Recorder, tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    """The recorded calls as a JSON tree, their tensors moved into ``tensors``."""
    return {
        "modules": recorder.modules[:MAX_CALLS],
        "calls": [
            {
                "name": c.name,
                "index": c.index,
                "inputs": encode(c.inputs, tensors),
                "outputs": encode(c.outputs, tensors),
                "signature": c.signature,
            }
            for c in recorder.calls
        ],
    }


def decode_calls(
    tree: Any, tensors: dict[str, torch.Tensor]
) -> tuple[list[str], list[Call]] | None:
    """The inverse of :func:`encode_calls` for an untrusted reply: None when malformed."""
    try:
        modules = [str(m) for m in tree["modules"]][:MAX_CALLS]
        calls = []
        for c in list(tree["calls"])[:MAX_CALLS]:
            ins, outs = decode(c["inputs"], tensors), decode(c["outputs"], tensors)
            if not all(isinstance(t, torch.Tensor) for t in [*ins, *outs]):
                return None
            sig = c.get("signature")
            if not isinstance(sig, dict) or len(str(sig)) > 4096:
                return None
            calls.append(Call(str(c["name"]), int(c["index"]), list(ins), list(outs), sig))
    except (EncodeError, KeyError, TypeError, ValueError):
        return None
    return modules, calls


# ---------------------------------------------------------------------------------------------
# Trusted side: compare the reference's calls with the student's.


@dataclass
class Divergence:
    """The first submodule whose output differs: how far off, and whether its inputs matched
    (``name`` "" when none differs but the student's module never calls one of ``skipped``)."""

    name: str
    index: int
    error: str  # "max abs error 3.1e-01 against a tolerance of 2.0e-05", or what else differs
    inputs_match: bool
    matched: int  # submodule calls before it whose outputs matched
    #: submodules the reference called before it and the student's module never called
    skipped: list[str] = field(default_factory=list)
    #: the nearest enclosing submodule that the reference calls ("" for the checked block itself)
    parent: str = ""


def _differ(expected: list[torch.Tensor], got: list[torch.Tensor], tol) -> str | None:
    """None when the tensors match within ``tol`` ({dtype: (rtol, atol)}); else how they differ."""
    if len(expected) != len(got):
        return f"{len(got)} tensors where the reference has {len(expected)}"
    for e, g in zip(expected, got):
        if tuple(e.shape) != tuple(g.shape):
            return f"shape {tuple(g.shape)} where the reference's is {tuple(e.shape)}"
        if not e.is_floating_point() or not g.is_floating_point():
            if e.dtype != g.dtype or not torch.equal(e, g):
                bad = int((e.to(torch.int64) != g.to(torch.int64)).sum()) if e.numel() else 0
                return f"{bad} of {e.numel()} values differ"
            continue
        rtol, atol = tol.get(e.dtype, tol.get(torch.float32, (1e-4, 1e-5)))
        ed, gd = e.double(), g.double()
        if torch.isclose(gd, ed, rtol=rtol, atol=atol, equal_nan=True).all():
            continue
        err = (gd - ed).abs()
        err = torch.where(ed.isnan() & gd.isnan(), torch.zeros_like(err), err)
        allowed = atol + rtol * ed.abs().nan_to_num(0.0)
        worst = int((err.nan_to_num(float("inf")) - allowed).argmax())
        size = err.flatten()[worst].item()
        return (
            f"max abs error {err.nan_to_num(float('inf')).max().item():.1e} against a tolerance "
            f"of {allowed.flatten()[worst].item():.1e}"
            if size == size  # not NaN
            else "NaN where the reference is finite"
        )
    return None


def _ancestors(name: str) -> list[str]:
    """``a.b.c`` -> ``["a.b", "a"]``: the nearest first."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]


def _under(name: str, roots: list[str]) -> bool:
    return any(name.startswith(r + ".") for r in roots)


def _shapes(call: Call) -> list[tuple[int, ...]]:
    return [tuple(t.shape) for t in call.inputs + call.outputs]


def first_divergence(
    reference: list[Call],
    student: list[Call],
    student_modules: list[str],
    tol,
    injected: list[str] = (),
    before_call: int | None = None,
) -> Divergence | None:
    """The first call, in the reference's order, whose output differs from the student's (None
    when every call matches).

    ``injected``: the student's submodules that answered with the reference (checks.inject): their
    insides did not run in the student's module, so they are not compared, and their own code
    cannot be the mistake. Submodules the student's module does not have (a parameter-free helper
    the contract leaves free) are not compared; one it has but never calls is noted and passed
    over. ``before_call`` (generation): only each submodule's first calls, and only those whose
    shapes agree (a decoding loop may feed the whole sequence, or one new token with a cache).
    """
    got = {(c.name, c.index): c for c in student}
    called = {c.name for c in reference}
    student_called = {c.name for c in student}
    have = set(student_modules)
    skipped: list[str] = []
    matched = 0
    for r in reference:
        if _under(r.name, list(injected)) or r.name not in have:
            continue
        if before_call is not None and r.index >= before_call:
            continue
        g = got.get((r.name, r.index))
        if g is None:  # never called; a container whose insides were called is not missed
            inside = any(_under(n, [r.name]) for n in student_called)
            if r.index == 0 and not inside and r.name not in skipped:
                if not _under(r.name, skipped):
                    skipped.append(r.name)
            continue
        if before_call is not None and _shapes(r) != _shapes(g):
            continue
        error = _differ(r.outputs, g.outputs, tol)
        if error is None:
            matched += 1
            continue
        inputs_match = (
            r.name not in injected
            and r.signature == g.signature
            and _differ(r.inputs, g.inputs, tol) is None
        )
        parent = next((p for p in _ancestors(r.name) if p in called), "")
        return Divergence(r.name, r.index, error, inputs_match, matched, skipped, parent)
    if skipped:  # nothing differs, but the student's module leaves out a submodule
        return Divergence("", 0, "", True, matched, skipped)
    return None


def _never(names: list[str]) -> str:
    shown = [f"`{n}`" for n in names[:3]]
    listed = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]
    return (
        f"{listed}, which yours never calls"
        if len(shown) == 1
        else (f"{listed}; yours never calls them")
    )


def explain(div: Divergence | None, target: str = "") -> str:
    """The feedback sentence for :func:`first_divergence`'s answer (names and sizes only);
    ``target``: the student's class, whose forward calls the top-level submodules."""
    if div is None or not div.name:
        text = (
            " Layer by layer, on the same inputs and weights, every submodule's output matches the "
            "reference's"
        )
        if div is not None:  # but one the reference calls is never called
            return f"{text}, but the reference also calls {_never(div.skipped)}."
        return f"{text}: the difference is in the code around them (or in the backward pass)."
    which = f"at its call {div.index + 1}: " if div.index else ""
    text = (
        f" Layer by layer, on the same inputs and weights: the first submodule whose output "
        f"differs is `{div.name}` ({which}{div.error})"
    )
    text += "; everything before it matches" if div.matched else "; it is the first one called"
    if div.skipped:
        text += f". Before it the reference calls {_never(div.skipped)}"
    if div.inputs_match:
        text += f". Its inputs match the reference's, so the mistake is inside `{div.name}`."
    else:
        own = f"your `{target}.forward`" if target else "your block's own forward"
        where = f"`{div.parent}`'s forward" if div.parent else own
        text += (
            f". Its inputs already differ from the reference's, so look at what {where} passes "
            f"to `{div.name}`."
        )
    return text


def tokens_part(
    expected: list[Any], got: list[Any], prompts: list[int | None]
) -> tuple[int, int, int, int] | None:
    """Where generated token ids first part: (step of the case, new token number from 1,
    sequence position, batch row), or None when they do not (or are not comparable)."""
    for step, (e, g, p) in enumerate(zip(expected, got, prompts)):
        if not (isinstance(e, torch.Tensor) and isinstance(g, torch.Tensor)) or e.dim() != 2:
            continue
        if e.is_floating_point() or tuple(e.shape) != tuple(g.shape):
            continue
        bad = (e.cpu() != g.cpu()).any(dim=0).nonzero()
        if bad.numel():
            pos = int(bad[0])
            row = int((e[:, pos].cpu() != g[:, pos].cpu()).nonzero()[0])
            return step, pos - (p or 0) + 1, pos, row
    return None
