"""The LLaMA assignment through the hardened grader: a full solution scores 20/20; a Triton part
written in plain torch scores zero for that part; a leaky causal mask is diagnosed by name; a wrong
RMSNorm costs the RMSNorm part only (one mistake, one deduction: the layer, model and generation
parts run with the reference RMSNorm in place of the student's, through the sandbox)."""

from __future__ import annotations

from conftest import ROOT, solution_cells, write_submission

from autograder.layout import Course
from autograder.service import grade_class

LLAMA = "03-llama"
SOL = solution_cells(LLAMA, "llama.ipynb")

TORCH_RMSNORM = """
def rmsnorm_triton(x, weight, eps=1e-6):
    x32 = x.float()
    return (weight * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps))).to(x.dtype)
"""


def test_llama_class(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    kw = {"assignment": LLAMA, "name": "llama.ipynb"}
    write_submission(subs, "full", SOL, **kw)
    write_submission(subs, "no_triton", {**SOL, "triton": TORCH_RMSNORM}, **kw)
    leaky = SOL["attention"].replace(".tril(s - t)", ".tril(s - t + 1)")
    assert leaky != SOL["attention"]
    write_submission(subs, "leaky_mask", {**SOL, "attention": leaky}, **kw)
    eps_outside = SOL["rmsnorm"].replace(
        "torch.rsqrt(x32.pow(2).mean(dim=-1, keepdim=True) + self.eps)",
        "1 / (x32.pow(2).mean(dim=-1, keepdim=True).sqrt() + self.eps)",
    )
    assert eps_outside != SOL["rmsnorm"]
    write_submission(subs, "eps_outside", {**SOL, "rmsnorm": eps_outside}, **kw)
    results, _ = grade_class(Course(ROOT), LLAMA, subs, out, workers=2, db_url=None)
    by = {r.student_id: r for r in results}

    def part(sid, gid):
        return next(p for p in by[sid].notebooks[0].parts if p.grade_id == gid)

    assert by["full"].score == 20, by["full"]
    assert part("no_triton", "test_triton").score == 0
    assert "@triton.jit" in part("no_triton", "test_triton").checks[0].message
    assert by["no_triton"].score == 18
    assert part("eps_outside", "test_rmsnorm").score == 0
    assert by["eps_outside"].score == 18, by["eps_outside"]
    model = part("eps_outside", "test_model")
    assert "llama.rmsnorm" in model.checks[0].message, model
    attention = part("leaky_mask", "test_attention")
    assert attention.score < 3
    assert any("one future token" in c.message for c in attention.checks), attention
