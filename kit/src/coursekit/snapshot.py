"""The snapshot format: a visible check's cases, written at release time, replayed by the kit.

One check, two files in ``coursekit/snapshots/``: ``<name>.json`` (labels, call structure,
tolerances, the comparison's name) and ``<name>.safetensors`` (every tensor: inputs, module
states, output gradients, expected outcomes, their float64 truth, the known mistakes' outputs).
Values are encoded with :mod:`coursekit.values` (JSON trees whose tensors live in the safetensors
file); nothing is ever unpickled or evaluated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from coursekit.calls import Case, Outcome, Step
from coursekit.values import decode, encode

FORMAT = 1
FOLDER = Path(__file__).parent / "snapshots"


@dataclass
class SnapCase:
    """One recorded case: what to call, and what the reference and the known mistakes gave."""

    case: Case
    state: dict[str, torch.Tensor] | None
    cotangent: torch.Tensor | None
    expected: Outcome
    mistakes: list[tuple[str, list[Any]]] = field(default_factory=list)


@dataclass
class Snapshot:
    """A visible check as the kit replays it."""

    name: str
    target: str
    cases: list[SnapCase]
    tol: dict[torch.dtype, tuple[float, float]]
    hook: tuple[str, dict] | None = None
    must_launch_triton: bool = False
    note: str = ""
    #: what the files were generated from (a sentence, in both files; the kit does not read it)
    generated: str = ""


def _enc_outcome(o: Outcome, tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    return {
        "outputs": encode(list(o.outputs), tensors),
        "input_grads": encode(list(o.input_grads), tensors),
        "param_grads": encode(dict(o.param_grads), tensors),
        "param_shapes": o.param_shapes,
        "sleeper_calls": list(o.sleeper_calls),
        "triton_launches": o.triton_launches,
        "truth": None if o.truth is None else _enc_outcome(o.truth, tensors),
    }


def _dec_outcome(tree: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Outcome:
    return Outcome(
        outputs=decode(tree["outputs"], tensors),
        input_grads=decode(tree["input_grads"], tensors),
        param_grads=decode(tree["param_grads"], tensors),
        param_shapes={k: list(v) for k, v in tree["param_shapes"].items()},
        sleeper_calls=list(tree["sleeper_calls"]),
        triton_launches=int(tree["triton_launches"]),
        truth=None if tree["truth"] is None else _dec_outcome(tree["truth"], tensors),
    )


def encode_snapshot(snap: Snapshot) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(JSON header, tensors) for ``snap``; tensors are fresh contiguous CPU copies."""
    tensors: dict[str, torch.Tensor] = {}
    cases = []
    for sc in snap.cases:
        c = sc.case
        cases.append(
            {
                "label": c.label,
                "steps": [
                    {
                        "args": encode(list(s.args), tensors),
                        "kwargs": encode(dict(s.kwargs), tensors),
                        "method": s.method,
                    }
                    for s in c.steps
                ],
                "init": encode(c.init, tensors),
                "grad_wrt": list(c.grad_wrt),
                "param_grads": c.param_grads,
                "dtype": c.dtype,
                "state": None if sc.state is None else encode(dict(sc.state), tensors),
                "cotangent": None if sc.cotangent is None else encode(sc.cotangent, tensors),
                "expected": _enc_outcome(sc.expected, tensors),
                "mistakes": [
                    {"label": label, "outputs": encode(list(outs), tensors)}
                    for label, outs in sc.mistakes
                ],
            }
        )
    header = {
        "generated": snap.generated,
        "format": FORMAT,
        "name": snap.name,
        "target": snap.target,
        "tol": {str(k).removeprefix("torch."): list(v) for k, v in snap.tol.items()},
        "hook": list(snap.hook) if snap.hook else None,
        "must_launch_triton": snap.must_launch_triton,
        "note": snap.note,
        "cases": cases,
    }
    return header, {k: v.clone().contiguous() for k, v in tensors.items()}


def decode_snapshot(header: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Snapshot:
    """Inverse of :func:`encode_snapshot`; cases run on ``"cpu"`` (the caller may move them)."""
    cases = []
    for c in header["cases"]:
        case = Case(
            label=c["label"],
            steps=[
                Step(tuple(decode(s["args"], tensors)), decode(s["kwargs"], tensors), s["method"])
                for s in c["steps"]
            ],
            init=decode(c["init"], tensors),
            grad_wrt=tuple(c["grad_wrt"]),
            param_grads=bool(c["param_grads"]),
            dtype=c["dtype"],
        )
        cases.append(
            SnapCase(
                case=case,
                state=None if c["state"] is None else decode(c["state"], tensors),
                cotangent=None if c["cotangent"] is None else decode(c["cotangent"], tensors),
                expected=_dec_outcome(c["expected"], tensors),
                mistakes=[(m["label"], decode(m["outputs"], tensors)) for m in c["mistakes"]],
            )
        )
    tol = {getattr(torch, k): (float(v[0]), float(v[1])) for k, v in header["tol"].items()}
    hook = header.get("hook")
    return Snapshot(
        name=header["name"],
        target=header["target"],
        cases=cases,
        tol=tol,
        hook=(hook[0], hook[1]) if hook else None,
        must_launch_triton=bool(header.get("must_launch_triton")),
        note=str(header.get("note", "")),
        generated=str(header.get("generated", "")),
    )


def write(snap: Snapshot, folder: Path = FOLDER) -> list[Path]:
    """Write ``snap`` as ``<name>.json`` and ``<name>.safetensors`` in ``folder``."""
    from safetensors.torch import save_file

    header, tensors = encode_snapshot(snap)
    folder.mkdir(parents=True, exist_ok=True)
    js, st = folder / f"{snap.name}.json", folder / f"{snap.name}.safetensors"
    js.write_text(json.dumps(header, indent=1) + "\n")  # key order is meaningful
    save_file(tensors, str(st), metadata={"generated": snap.generated} if snap.generated else None)
    return [js, st]


def available(folder: Path = FOLDER) -> list[str]:
    """Names of the checks this kit holds snapshots of."""
    return sorted(p.stem for p in folder.glob("*.json"))


def read(name: str, folder: Path = FOLDER) -> Snapshot:
    """The snapshot of check ``name``; KeyError with a plain sentence if the kit has none."""
    from safetensors.torch import load_file

    js, st = folder / f"{name}.json", folder / f"{name}.safetensors"
    if not js.is_file() or not st.is_file():
        raise KeyError(
            f"this kit has no visible check called {name!r} (hidden checks run only in the "
            "course's grader; if the notebook is newer than your kit, upgrade the kit with the "
            "pip line of the students' guide)"
        )
    return decode_snapshot(json.loads(js.read_text()), load_file(str(st)))
