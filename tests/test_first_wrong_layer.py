"""Feedback that finds the first wrong layer (issue 27, part 4; ``autograder.checks.trace``).

For a composite part (a layer, a model, generation) that fails, the feedback names the first
submodule, in the reference's call order, whose output differs from the reference's on the same
inputs and weights, or, for generation, the first new token where the tokens part. The known
mistakes of chapters 1, 3, 6 and 7 (each composite check's named mistakes, and solutions with one
block broken) must each be traced to the block that holds the mistake; a correct answer's feedback
is unchanged; the note shows names and error sizes, never a hidden input.
"""

from __future__ import annotations

import re

import pytest
import torch
from conftest import ROOT, sandbox_isolates

from autograder.chapters.llama import _common as llama
from autograder.checks import runner
from autograder.checks.runner import InKernelExecutor, run_check, seed_for
from autograder.checks.spec import get_check
from autograder.checks.trace import Call, Recorder, decode_calls, encode_calls, first_divergence
from course import bert_gpt as bert_ref
from course import llama as llama_ref

NOTE = ("Layer by layer", "The generated tokens first part")


def _note(message: str) -> str:
    """The part of the feedback this feature adds (from its first sentence on)."""
    starts = [message.index(n) for n in NOTE if n in message]
    assert starts, message
    return message[min(starts) :].split(" (graded with the reference")[0]


def _first(message: str) -> str:
    found = re.search(r"first submodule whose output differs is `([\w.]+)`", message)
    return found.group(1) if found else ""


# --- solutions with one block broken ------------------------------------------------------------
class _WrongLayerNorm(torch.nn.LayerNorm):
    """A final LayerNorm that forgets to centre (a broken block that is not a graded part)."""

    def forward(self, x):
        return x / x.pow(2).mean(-1, keepdim=True).add(self.eps).sqrt() * self.weight + self.bias


class _GPT2BrokenFinalNorm(bert_ref.GPT2):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ln_f = _WrongLayerNorm(self.ln_f.normalized_shape, eps=self.ln_f.eps)


class _LlamaNoFinalNorm(llama.LlamaForCausalLM):
    def forward(self, input_ids, cache=None):
        m = self.model
        b, t = input_ids.shape
        past = cache.length() if cache is not None else 0
        x = m.embed_tokens(input_ids)
        pos = torch.arange(past, past + t).expand(b, t)
        cos, sin = llama_ref.rope_cos_sin(m.config.head_dim, pos, m.config.rope_theta, x.dtype)
        mask = llama_ref.causal_mask(t, past + t, None, x.device)
        for layer in m.layers:
            x = layer(x, cos, sin, mask=mask, cache=cache)
        return self.lm_head(x)


class _LlamaPositionsFromZero(llama.LlamaForCausalLM):
    """The cache's length forgotten: every decode step's token is rotated as position 0."""

    def forward(self, input_ids, cache=None):
        m = self.model
        b, t = input_ids.shape
        past = cache.length() if cache is not None else 0
        x = m.embed_tokens(input_ids)
        pos = torch.arange(t).expand(b, t)
        cos, sin = llama_ref.rope_cos_sin(m.config.head_dim, pos, m.config.rope_theta, x.dtype)
        mask = llama_ref.causal_mask(t, past + t, None, x.device)
        for layer in m.layers:
            x = layer(x, cos, sin, mask=mask, cache=cache)
        return self.lm_head(m.norm(x))


class _LlamaFirstPositionLogits(llama.LlamaForCausalLM):
    """Greedy decoding from the first position's logits, without a cache."""

    @torch.no_grad()
    def generate(
        self, input_ids, max_new_tokens, temperature=0.0, top_k=None, top_p=None, seed=None
    ):
        ids = input_ids
        for _ in range(max_new_tokens):
            ids = torch.cat([ids, self(ids)[:, 0].argmax(-1, keepdim=True)], dim=1)
        return ids


def _mistakes():
    """(check, label, student, what the note must name): the named mistakes of every composite
    check of chapters 1, 3, 6 and 7, then solutions with one block broken."""
    expected = {
        "bert_gpt.mha": ["sdpa", "never:out_proj"],
        "bert_gpt.encoder_layer": ["self_attn", "linear2"],
        "bert_gpt.bert_model": ["layers.0"],
        "bert_gpt.decoder_block": ["norm1", "self_attn"],
        "bert_gpt.gpt2": ["never:ln_f", "never:wpe"],
        "bert_gpt.generate": ["tokens", "tokens", "tokens"],
        "llama.decoder_layer": ["input_layernorm"],
        "foundation.two_way_block": ["around", "self_attn", "self_attn", "self_attn"],
        "modern_llms.post_norm": ["post_attention_layernorm", "self_attn"],
    }
    rows = []
    for name, names in expected.items():
        mistakes = get_check(name).misconceptions
        assert len(mistakes) == len(names), name  # a new named mistake needs its row here
        rows += [(name, label, variant, n) for (label, variant), n in zip(mistakes.items(), names)]
    return rows + [
        ("bert_gpt.gpt2", "ln_f does not centre", _GPT2BrokenFinalNorm, "inside:ln_f"),
        ("llama.model", "no final norm", _LlamaNoFinalNorm, "never:model.norm"),
        ("llama.model", "positions from 0 with a cache", _LlamaPositionsFromZero, "model.layers.0"),
        ("llama.generate", "logits of position 0", _LlamaFirstPositionLogits, "tokens"),
    ]


MISTAKES = _mistakes()
COMPOSITES = sorted({row[0] for row in MISTAKES})


class _Keeping(InKernelExecutor):
    """Runs the student's object in this process and keeps the last case's input tensors."""

    inputs: list[torch.Tensor] = []

    def run(self, target, case, state, cotangent, server=None):
        self.inputs = [
            t for s in case.steps for t in (*s.args, *s.kwargs.values()) if torch.is_tensor(t)
        ]
        return super().run(target, case, state, cotangent, server)


@pytest.mark.parametrize(
    "name,label,variant,named", MISTAKES, ids=[f"{m[0]}-{m[1][:30]}" for m in MISTAKES]
)
def test_each_known_mistake_is_traced_to_its_block(name, label, variant, named):
    check = get_check(name)
    executor = _Keeping(variant)
    result = run_check(check, executor, seed_for(name, "first-layer"), "cpu")
    assert not result.passed, (name, label)
    note = _note(result.message)
    kind, _, block = named.rpartition(":")
    if named == "tokens":
        assert "The generated tokens first part at new token" in note, note
        assert "how the next token is chosen" in note, note
    elif named == "around":  # every submodule right: the block's own code between them
        assert "every submodule's output matches" in note and "code around them" in note, note
    elif kind == "never":
        assert f"`{block}`, which yours never calls" in note, note
    else:
        assert _first(note) == block, note
        assert re.search(r"max abs error \d\.\de[+-]\d\d against a tolerance of", note), note
        if kind == "inside":
            assert f"the mistake is inside `{block}`" in note, note
    # names and sizes only: every number is an error size, a call, a token, a position or a row
    for number in re.findall(r"(?<![\w.])\d+(?:\.\d+)?(?:e[+-]\d+)?", note):
        assert re.fullmatch(r"\d\.\de[+-]\d\d|\d{1,2}", number), (number, note)
    floats = [t for t in executor.inputs if t.is_floating_point()]
    assert floats or name.endswith(("gpt2", "model", "generate")), name
    shown = {f"{v:.6g}" for t in floats for v in t.flatten().tolist()}
    assert not {w for w in re.findall(r"-?\d+\.\d+", note)} & shown, note


@pytest.mark.parametrize("name", COMPOSITES)
def test_a_correct_answer_is_not_traced_and_its_feedback_is_unchanged(name, monkeypatch):
    check = get_check(name)
    traced: list[str] = []

    class Counting(InKernelExecutor):
        def trace(self, *args, **kwargs):
            traced.append(name)
            return super().trace(*args, **kwargs)

    result = run_check(check, Counting(check.reference), seed_for(name), "cpu")
    monkeypatch.setattr(runner, "first_wrong_layer", lambda *a, **k: "")
    plain = run_check(check, Counting(check.reference), seed_for(name), "cpu")
    assert result.passed and result.message == plain.message, result.message
    assert not traced and not any(n in result.message for n in NOTE)


def test_only_the_first_failing_case_is_traced():
    check = get_check("bert_gpt.decoder_block")
    traced = []

    class Counting(InKernelExecutor):
        def trace(self, *args, **kwargs):
            traced.append(args[1].label)
            return super().trace(*args, **kwargs)

    variant = check.misconceptions[next(iter(check.misconceptions))]
    result = run_check(check, Counting(variant), seed_for(check.name), "cpu")
    assert not result.passed and len(traced) == 1 and result.message.startswith(f"[{traced[0]}]")


def test_the_recorded_calls_cross_the_wire_and_a_lie_is_refused():
    """What the sandbox child sends back decodes to the calls it recorded; a malformed reply
    decodes to nothing (the note is then left out), never to an error in the grader."""
    module = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    recorder = Recorder()
    recorder.attach(module)
    module(torch.randn(2, 3))
    tensors: dict[str, torch.Tensor] = {}
    tree = encode_calls(recorder, tensors)
    modules, calls = decode_calls(tree, tensors)
    assert modules == ["0", "1", "2"] and [c.name for c in calls] == ["0", "1", "2"]
    assert all(torch.equal(a.outputs[0], b.outputs[0]) for a, b in zip(calls, recorder.calls))
    assert decode_calls({"modules": [], "calls": [{"name": "0"}]}, tensors) is None
    assert decode_calls({"modules": [], "calls": [{**tree["calls"][0], "outputs": 3}]}, {}) is None


def test_an_injected_sub_block_is_never_blamed_inside():
    """A sub-block that answered with the reference cannot hold the mistake: when its output
    differs, what it was given differs, whatever the recorded inputs say."""
    ref = [Call("self_attn", 0, [torch.ones(2)], [torch.ones(2)], {"args": ["T"], "kwargs": {}})]
    got = [Call("self_attn", 0, [torch.ones(2)], [torch.zeros(2)], {"args": ["T"], "kwargs": {}})]
    div = first_divergence(ref, got, ["self_attn"], {}, injected=["self_attn"])
    assert div.name == "self_attn" and not div.inputs_match
    assert first_divergence(ref, got, ["self_attn"], {}).inputs_match


@pytest.mark.skipif(
    not (ROOT / "solutions/01-bert-gpt/bert_gpt.ipynb").exists(), reason="no solution"
)
def test_in_the_sandbox_the_note_comes_from_the_students_own_process():
    """Graded through the hardened sandbox: the child records the student's submodules (it imports
    no check or reference), the parent compares; a broken final LayerNorm is found inside it, by
    the model's part and by the decoding part that runs the model."""
    from autograder.notebooks import load_source
    from autograder.sandbox.client import Zygote
    from autograder.sandbox.limits import Limits

    if not sandbox_isolates():
        pytest.skip("the sandbox cannot isolate here")
    source = load_source(ROOT / "solutions/01-bert-gpt/bert_gpt.ipynb")
    broken = (
        "self.ln_f = nn.LayerNorm(hidden_size, eps=eps)",
        "self.ln_f = nn.LayerNorm(hidden_size, eps=eps)\n"
        "        self.ln_f.forward = lambda x: torch.nn.functional.layer_norm("
        "x, self.ln_f.normalized_shape, self.ln_f.weight, None, self.ln_f.eps)",
    )
    zygote = Zygote()
    try:
        session = zygote.spawn(Limits(), 120)
        for i, cell in enumerate(source.cells):
            if cell.kind in ("setup", "answer"):
                src = cell.source
                if cell.grade_id == "gpt2":
                    assert broken[0] in src
                    src = src.replace(*broken)
                assert session.exec_cell(cell.grade_id or f"setup-{i}", src, 120) is None
        results = {
            name: run_check(get_check(name), session, seed_for(name, "first-layer"), "cpu")
            for name in ("bert_gpt.gpt2", "bert_gpt.generate")
        }
        session.kill()
    finally:
        zygote.close()
    for name, result in results.items():
        assert not result.passed, name
        note = _note(result.message)
        assert _first(note) == "ln_f" and "the mistake is inside `ln_f`" in note, note
    # decoding through the broken model: the tokens part, and the forward passes before say why
    assert "The generated tokens first part at new token" in results["bert_gpt.generate"].message


class _LlamaSeedIgnored(llama.LlamaForCausalLM):
    """Sampling that ignores the seed: two runs with one seed differ."""

    @torch.no_grad()
    def generate(
        self, input_ids, max_new_tokens, temperature=0.0, top_k=None, top_p=None, seed=None
    ):
        return super().generate(input_ids, max_new_tokens, temperature, top_k, top_p, None)


def test_a_generation_case_compared_with_itself_is_not_traced():
    """Two runs with one seed must agree with each other, not with the reference's tokens: when
    they do not, there is no reference token to part from, and no layer is blamed."""
    name = "llama.generate"
    result = run_check(get_check(name), InKernelExecutor(_LlamaSeedIgnored), seed_for(name), "cpu")
    assert not result.passed and "two runs with the same seed" in result.message, result.message
    assert not any(n in result.message for n in NOTE), result.message
