"""One mistake, one deduction (checks.inject): a composite block is graded with the reference in
place of its graded sub-blocks, and the trusted side serves only what the check declares."""

from __future__ import annotations

import pytest
import torch

import autograder.chapters.llama  # noqa: F401  (registers the checks)
from autograder.chapters.llama import _common as c
from autograder.checks.inject import (
    MAX_CALLS,
    InjectionError,
    LocalChannel,
    SubmoduleServer,
    inject,
    matching_paths,
)
from autograder.checks.runner import InKernelExecutor, run_check, seed_for
from autograder.checks.spec import get_check


class EpsOutsideNorm(torch.nn.Module):
    """A wrong RMSNorm: eps added outside the square root, and a stray scale."""

    def __init__(self, hidden_size, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = torch.nn.Parameter(torch.ones(hidden_size))

    def forward(self, x):
        return 1.1 * self.weight * x / (x.pow(2).mean(-1, keepdim=True).sqrt() + self.eps)


class LayerWithBadNorm(c.DecoderLayer):
    """A correct layer written on top of a wrong norm and the student-contract attention."""

    def __init__(self, hidden_size, intermediate_size, num_heads, num_kv_heads, eps=1e-5):
        super().__init__(hidden_size, intermediate_size, num_heads, num_kv_heads, eps)
        self.input_layernorm = EpsOutsideNorm(hidden_size, eps)
        self.post_attention_layernorm = EpsOutsideNorm(hidden_size, eps)
        self.self_attn = c.Attention(hidden_size, num_heads, num_kv_heads)

    def forward(self, x, cos, sin, cache=None, layer_idx=0):
        h = x + self.self_attn(self.input_layernorm(x), cos, sin, cache=cache, layer_idx=layer_idx)
        return h + self.mlp(self.post_attention_layernorm(h))


class PostNormLayer(LayerWithBadNorm):
    """Its own mistake (post-norm), which the injected references must not hide."""

    def forward(self, x, cos, sin, cache=None, layer_idx=0):
        h = self.input_layernorm(x + self.self_attn(x, cos, sin))
        return self.post_attention_layernorm(h + self.mlp(h))


def _run(name, obj):
    return run_check(get_check(name), InKernelExecutor(obj), seed_for(name, "one-mistake"))


def test_a_wrong_norm_costs_the_norm_part_only():
    assert not _run("llama.rmsnorm", EpsOutsideNorm).passed
    result = _run("llama.decoder_layer", LayerWithBadNorm)  # values and parameter gradients
    assert result.passed, result.message
    assert "reference llama.attention, llama.rmsnorm, llama.swiglu" in result.message


def test_the_composite_own_mistake_still_fails_and_is_named():
    result = _run("llama.decoder_layer", PostNormLayer)
    assert not result.passed
    assert "post-norm" in result.message, result.message


def _server(init):
    return SubmoduleServer(get_check("llama.decoder_layer").submodules, init)


INIT = {"hidden_size": 8, "intermediate_size": 12, "num_heads": 2, "num_kv_heads": 1, "eps": 1e-5}


def test_injected_forward_matches_the_reference_with_the_students_parameters():
    gen = torch.Generator().manual_seed(0)
    layer = LayerWithBadNorm(**INIT)
    for p in layer.parameters():
        p.data = torch.randn(p.shape, generator=gen)
    server = _server(INIT)
    paths = inject(layer, server.patterns, LocalChannel(server))
    assert sorted(paths) == ["input_layernorm", "mlp", "post_attention_layernorm", "self_attn"]
    x = torch.randn(2, 5, 8, generator=gen, requires_grad=True)
    ref = c.RMSNorm(8, 1e-5)
    ref.weight.data = layer.input_layernorm.weight.data.clone()
    ref.weight.requires_grad_(True)
    got = layer.input_layernorm(x)
    want = ref(x)
    torch.testing.assert_close(got, want)
    g = torch.randn(got.shape, generator=gen)
    got.backward(g)
    want.backward(g)
    assert layer.input_layernorm.weight.grad is not None
    torch.testing.assert_close(layer.input_layernorm.weight.grad, ref.weight.grad)


def test_the_server_refuses_what_the_check_does_not_declare():
    server = _server(INIT)
    with pytest.raises(InjectionError, match="no sub-block"):
        server.handle({"callback": "call", "path": "lm_head", "names": [], "grads": []}, {})
    with pytest.raises(InjectionError, match="unknown sub-block call"):
        server.handle({"callback": "backward", "id": 99}, {"grad": torch.zeros(1)})
    with pytest.raises(InjectionError, match="unknown sub-block request"):
        server.handle({"callback": "exec"}, {})
    server.calls = MAX_CALLS
    with pytest.raises(InjectionError, match="more than"):
        server.handle({"callback": "call", "path": "mlp"}, {})


def test_patterns_match_one_name_per_star():
    model = c.LlamaForCausalLM(61, 8, 12, 2, 2, 1)
    paths = matching_paths(model, ["model.layers.*", "model.norm"])
    assert paths == ["model.layers.0", "model.layers.1", "model.norm"]


def test_a_call_with_a_cache_object_runs_the_students_own_code():
    server = _server(INIT)
    layer = LayerWithBadNorm(**INIT)
    inject(layer, server.patterns, LocalChannel(server))

    class Boom:
        pass

    with pytest.raises(Exception) as info:  # reaches the student's attention, not the server
        layer.self_attn(
            torch.zeros(1, 2, 8), torch.ones(1, 2, 4), torch.zeros(1, 2, 4), None, Boom()
        )
    assert not isinstance(info.value, InjectionError)
    assert server.calls == 0
