"""Machinery of the checks: random state from explicit generators only, tied weights perturbed once,
identical results under concurrency, and unspecified (fully masked) rows excluded from comparison."""

from __future__ import annotations

import concurrent.futures as cf

import torch
from torch import nn

import autograder.chapters.llama as L
from autograder.checks.reference import reference_state
from autograder.checks.runner import InKernelExecutor, run_check, seed_for
from autograder.checks.spec import REGISTRY, get_check
from course import llama as ref


def _run(name, obj, seed=None):
    return run_check(get_check(name), InKernelExecutor(obj), seed or seed_for(name))


def test_reference_state_uses_no_global_random_state():
    before = torch.random.get_rng_state()
    init = {"hidden_size": 8, "num_heads": 4, "num_kv_heads": 2}
    a = reference_state(L.Attention, init, torch.Generator().manual_seed(3))
    torch.manual_seed(12345)  # another thread reseeding the global generator changes nothing
    b = reference_state(L.Attention, init, torch.Generator().manual_seed(3))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    torch.random.set_rng_state(before)


def test_tied_weights_get_one_value():
    init = dict(
        vocab_size=11,
        hidden_size=8,
        intermediate_size=16,
        num_layers=1,
        num_heads=2,
        num_kv_heads=1,
        tie_word_embeddings=True,
    )
    state = reference_state(L.LlamaForCausalLM, init, torch.Generator().manual_seed(0))
    assert state["lm_head.weight"] is state["model.embed_tokens.weight"]


class HeadFirstModel(L.LlamaForCausalLM):
    """A correct model that creates lm_head *before* the embedding and ties the other way round."""

    def __init__(self, vocab_size, hidden_size, *args, tie_word_embeddings=False, **kw):
        nn.Module.__init__(self)
        self.lm_head = nn.Linear(hidden_size, vocab_size, bias=False)
        inner = L.LlamaForCausalLM(vocab_size, hidden_size, *args, tie_word_embeddings=False, **kw)
        self.config, self.model = inner.config, inner.model
        if tie_word_embeddings:
            self.model.embed_tokens.weight = self.lm_head.weight


def test_student_who_creates_lm_head_first_passes_the_model_check():
    result = _run("llama.model", HeadFirstModel)
    assert result.passed, result.message


def test_fused_attention_respects_padding_with_batch_one():
    """Batch 1, T == S, a padding mask: the fused path must not fall back to plain causal."""
    cfg = ref.LlamaConfig(hidden_size=16, num_attention_heads=4, num_key_value_heads=2)
    g = torch.Generator().manual_seed(0)
    attn = ref.LlamaAttention(cfg)
    with torch.no_grad():
        for p in attn.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    x = torch.randn(1, 5, 16, generator=g)
    cos, sin = ref.rope_cos_sin(4, torch.arange(5)[None])
    pad = torch.tensor([[0, 0, 1, 1, 1]])
    mask = ref.causal_mask(5, 5, pad)
    explicit = type("Explicit", (ref.LlamaAttention,), {"fused": False})(cfg)
    explicit.load_state_dict(attn.state_dict())
    got, want = attn(x, cos, sin, mask), explicit(x, cos, sin, mask)
    torch.testing.assert_close(got[:, 2:], want[:, 2:])  # real rows agree
    # and padding changes the result (the plain causal path would ignore it)
    assert not torch.allclose(got[:, 2:], attn(x, cos, sin, ref.causal_mask(5, 5))[:, 2:])


class NegInfAttention(L.Attention):
    """Correct attention that masks with -inf: fully masked (padded) rows come out NaN."""

    def forward(self, x, cos, sin, attention_mask=None):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.h, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.g, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.g, self.head_dim).transpose(1, 2)
        q, k = ref.apply_rope(q, cos, sin), ref.apply_rope(k, cos, sin)
        k, v = self.expand_kv(k), self.expand_kv(v)
        scores = q @ k.transpose(-1, -2) / self.head_dim**0.5
        mask = ref.causal_mask(t, t, attention_mask, x.device)
        probs = scores.masked_fill(~mask, float("-inf")).softmax(-1)
        return self.o_proj((probs @ v).transpose(1, 2).reshape(b, t, -1))


def test_neg_inf_masking_passes_on_padded_batches():
    for secret in ("", "class-a", "class-b", "class-c"):
        seed = seed_for("llama.attention", secret)
        result = _run("llama.attention", NegInfAttention, seed)
        assert result.passed, (secret, result.message)


def test_concurrent_grading_gives_identical_results():
    """Threads grading the same checks at once (a correct student next to every attention
    mistake) give the results of a sequential run."""
    attention = REGISTRY["llama.attention"]
    jobs = [("llama.attention", L.Attention)] + [
        ("llama.attention", wrong) for wrong in attention.misconceptions.values()
    ]
    jobs += [("llama.rmsnorm", L.RMSNorm), ("llama.model", L.LlamaForCausalLM)]
    sequential = [_run(n, obj).message for n, obj in jobs]
    with cf.ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            concurrent = list(pool.map(lambda job: _run(*job).message, jobs))
            assert concurrent == sequential
    assert sequential[0].endswith("cases passed")
    assert all("cases passed" not in m for m in sequential[1 : 1 + len(attention.misconceptions)])


TRITON_SOURCES = {
    # a real kernel, decorated through `from triton import jit`: graded on what ran -> passes
    "jit_imported_by_name": (
        "import torch, triton\n"
        "import triton.language as tl\n"
        "from triton import jit\n"
        "@jit\n"
        "def k(x_ptr, w_ptr, o_ptr, d, eps, BLOCK: tl.constexpr):\n"
        "    r = tl.program_id(0)\n"
        "    c = tl.arange(0, BLOCK)\n"
        "    m = c < d\n"
        "    x = tl.load(x_ptr + r * d + c, mask=m, other=0.0).to(tl.float32)\n"
        "    w = tl.load(w_ptr + c, mask=m, other=0.0).to(tl.float32)\n"
        "    y = x / tl.sqrt(tl.sum(x * x, axis=0) / d + eps) * w\n"
        "    tl.store(o_ptr + r * d + c, y.to(o_ptr.dtype.element_ty), mask=m)\n"
        "def rmsnorm_triton(x, weight, eps=1e-6):\n"
        "    x2 = x.reshape(-1, x.shape[-1]).contiguous()\n"
        "    out = torch.empty_like(x2)\n"
        "    k[(x2.shape[0],)](x2, weight, out, x2.shape[1], eps,\n"
        "                      BLOCK=triton.next_power_of_2(x2.shape[1]))\n"
        "    return out.reshape(x.shape)\n",
        True,
    ),
    # torch only, with the decorator's name in a comment: no kernel ran -> fails
    "torch_with_comment": (
        "import torch\n"
        "# @triton.jit\n"
        "def rmsnorm_triton(x, weight, eps=1e-6):\n"
        "    xf = x.float()\n"
        "    y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)\n"
        "    return (y * weight.float()).to(x.dtype)\n",
        False,
    ),
}


def test_triton_part_is_graded_on_launched_kernels():
    import os
    import subprocess
    import sys

    from conftest import ROOT

    for label, (source, should_pass) in TRITON_SOURCES.items():
        code = (
            source
            + "from autograder.checks.spec import get_check\n"
            + "from autograder.checks.runner import run_check, InKernelExecutor, seed_for\n"
            "r = run_check(get_check('llama.rmsnorm_triton.visible'), InKernelExecutor("
            "rmsnorm_triton), seed_for('x'))\n"
            "print('PASSED' if r.passed else 'FAILED', r.message)\n"
        )
        path = ROOT / f".tmp_triton_{label}.py"  # triton's jit needs the source in a real file
        path.write_text(code)
        try:
            env = {**os.environ, "TRITON_INTERPRET": "1"}
            out = subprocess.run(
                [sys.executable, str(path)], capture_output=True, text=True, env=env, timeout=600
            )
        finally:
            path.unlink()
        assert out.returncode == 0, out.stderr[-2000:]
        if should_pass:
            assert out.stdout.startswith("PASSED"), (label, out.stdout)
        else:
            assert out.stdout.startswith("FAILED") and "no Triton kernel ran" in out.stdout, (
                label,
                out.stdout,
            )
