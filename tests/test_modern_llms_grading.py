"""The modern-LLM assignment through the hardened grader: a full solution scores 14/14, the
unanswered release 0; known mistakes lose points only in their own block, with the mistake named."""

from __future__ import annotations

from conftest import ROOT, solution_cells, write_submission

from autograder.layout import Course
from autograder.service import grade_class

CH = "07-modern-llms"
SOL = solution_cells(CH, "modern_llms.ipynb")


def replaced(gid: str, old: str, new: str) -> dict[str, str]:
    assert old in SOL[gid], (gid, old)
    return {**SOL, gid: SOL[gid].replace(old, new)}


def test_modern_llms_class(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    kw = {"assignment": CH, "name": "modern_llms.ipynb"}
    write_submission(subs, "full", SOL, **kw)
    write_submission(subs, "stub", None, **kw)
    # block 4: the window admits w + 1 keys
    write_submission(
        subs,
        "window_plus_one",
        replaced("sliding_window", "(distance < window)", "(distance <= window)"),
        **kw,
    )
    # block 2: no expert-count scale
    write_submission(
        subs,
        "no_scale",
        replaced("load_balancing", "return e * torch.dot(f, p)", "return torch.dot(f, p)"),
        **kw,
    )
    # block 6: QK-norm after RoPE; block 7 uses that attention but is graded with the reference's
    cells = replaced(
        "qk_norm",
        "q = self.q_norm(self.q_proj(x).view(b, t, self.h, self.dh)).transpose(1, 2)",
        "q = self.q_proj(x).view(b, t, self.h, self.dh).transpose(1, 2)",
    )
    cells["qk_norm"] = (
        cells["qk_norm"]
        .replace(
            "k = self.k_norm(self.k_proj(x).view(b, t, self.g, self.dh)).transpose(1, 2)",
            "k = self.k_proj(x).view(b, t, self.g, self.dh).transpose(1, 2)",
        )
        .replace(
            "q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)",
            "q = self.q_norm(apply_rope(q, cos, sin))\n        k = self.k_norm(apply_rope(k, cos, sin))",
        )
    )
    write_submission(subs, "norm_after_rope", cells, **kw)
    results, _ = grade_class(Course(ROOT), CH, subs, out, workers=2, db_url=None)
    by = {r["student_id"]: r for r in results}

    def part(sid, gid):
        return next(p for p in by[sid]["notebooks"][0]["parts"] if p["grade_id"] == gid)

    def messages(sid, gid):
        return " ".join(c["message"] for c in part(sid, gid)["checks"])

    assert by["full"]["score"] == 14, by["full"]
    assert by["stub"]["score"] == 0, by["stub"]
    assert part("window_plus_one", "test_sliding_window")["score"] == 0
    assert "window + 1 keys" in messages("window_plus_one", "test_sliding_window")
    assert part("no_scale", "test_load_balancing")["score"] == 0
    assert "number of experts" in messages("no_scale", "test_load_balancing")
    assert part("norm_after_rope", "test_qk_norm")["score"] == 0
    assert "after RoPE" in messages("norm_after_rope", "test_qk_norm")
    assert part("norm_after_rope", "test_post_norm")["score"] == 1  # one mistake, one deduction
    for sid in ("window_plus_one", "no_scale", "norm_after_rope"):
        others = [p for p in by[sid]["notebooks"][0]["parts"] if p["score"] < p["points"]]
        assert len(others) == 1, (sid, others)
