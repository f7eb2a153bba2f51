"""The sandbox wire format (autograder.sandbox.wire): a case survives the trip to the child as it
was sent, and an outcome the child sends back is read as sent or refused whole when malformed."""

from __future__ import annotations

import pytest
import torch

from autograder.sandbox.wire import (
    MAX_REPLY,
    decode_case,
    decode_outcome,
    encode_case,
    encode_outcome,
    read_run_request,
    run_request,
)
from coursekit.calls import Case, Outcome, Step
from coursekit.values import EncodeError


def _case() -> Case:
    return Case(
        label="b=2 bf16",
        steps=[Step((torch.arange(6.0).view(2, 3), 3), {"dim": -1}), Step((), {}, "reset")],
        init={"d": 4},
        grad_wrt=(0,),
        param_grads=True,
        device="cpu",
        dtype="bfloat16",
    )


def test_a_case_with_state_and_cotangent_round_trips():
    state = {"w": torch.ones(2, 2)}
    cot = torch.full((2, 3), 0.5)
    header, tensors = encode_case(_case(), state, cot)
    case, got_state, got_cot = decode_case(header, tensors)
    want = _case()
    assert (case.label, case.init, case.grad_wrt, case.param_grads, case.dtype) == (
        want.label,
        want.init,
        want.grad_wrt,
        want.param_grads,
        want.dtype,
    )
    assert torch.equal(case.steps[0].args[0], want.steps[0].args[0])
    assert case.steps[0].args[1] == 3 and case.steps[0].kwargs == {"dim": -1}
    assert case.steps[1].method == "reset"
    assert got_state is not None and torch.equal(got_state["w"], state["w"])
    assert torch.equal(got_cot, cot)


def test_a_case_without_state_has_none():
    header, tensors = encode_case(_case(), None, None)
    _, state, cot = decode_case(header, tensors)
    assert state is None and cot is None


def test_the_run_request_carries_injection_and_refusals():
    header, tensors = run_request(
        "Attention", _case(), None, None, inject=["llama.rope"], refuse={"MLP": "too slow"}
    )
    assert header["op"] == "run"
    req = read_run_request(header, tensors)
    assert (req.target, req.inject, req.refuse) == (
        "Attention",
        ["llama.rope"],
        {"MLP": "too slow"},
    )
    plain, _ = run_request("f", _case(), None, None)
    assert "inject" not in plain and "refuse" not in plain  # as before the move: absent, not empty
    assert read_run_request(plain, tensors).inject == []


def test_an_outcome_round_trips():
    out = Outcome(
        outputs=[torch.ones(3), 2.5],
        input_grads=[torch.zeros(3)],
        param_grads={"w": torch.ones(2)},
        param_shapes={"w": [2]},
        sleeper_calls=[1],
        triton_launches=2,
    )
    header, tensors = encode_outcome(out)
    got = decode_outcome(header, tensors, wall_s=0.25)
    assert got is not None and got.wall_s == 0.25
    assert torch.equal(got.outputs[0], out.outputs[0]) and got.outputs[1] == 2.5
    assert torch.equal(got.param_grads["w"], out.param_grads["w"])
    assert (got.param_shapes, got.sleeper_calls, got.triton_launches) == ({"w": [2]}, [1], 2)


@pytest.mark.parametrize(
    "damage",
    [
        lambda h: h.pop("outputs"),
        lambda h: h.update(outputs={"not": "a list"}),
        lambda h: h.update(param_grads=[]),
        lambda h: h.update(sleeper_calls=["x"]),
        lambda h: h.update(param_shapes=3),
    ],
)
def test_a_malformed_outcome_is_refused(damage):
    header, tensors = encode_outcome(Outcome(outputs=[torch.ones(2)]))
    damage(header)
    assert decode_outcome(header, tensors, wall_s=0.0) is None


def test_an_oversized_outcome_is_not_sent():
    big = torch.empty(MAX_REPLY // 4 + 1, dtype=torch.float32)
    with pytest.raises(EncodeError, match="MB limit"):
        encode_outcome(Outcome(outputs=[big]))
