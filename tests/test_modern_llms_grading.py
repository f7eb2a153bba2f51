"""The modern-LLM assignment through the hardened grader: a full solution scores 17/17, the
unanswered release 0; known mistakes lose points only in their own block, with the mistake named
(conftest.grade_mistakes)."""

from __future__ import annotations

from conftest import Mistake, grade_mistakes


def test_modern_llms_class(tmp_path):
    grade_mistakes(
        tmp_path,
        "07-modern-llms",
        "modern_llms.ipynb",
        17,
        [
            Mistake(  # block 4: the window admits w + 1 keys
                "window_plus_one",
                "sliding_window",
                [("(distance < window)", "(distance <= window)")],
                "test_sliding_window",
                "window + 1 keys",
            ),
            Mistake(  # block 2: no expert-count scale
                "no_scale",
                "load_balancing",
                [("return e * torch.dot(f, p)", "return torch.dot(f, p)")],
                "test_load_balancing",
                "number of experts",
            ),
            # block 6: QK-norm after RoPE; block 7 uses that attention but is graded with the
            # reference's (its part keeps its point)
            Mistake(
                "norm_after_rope",
                "qk_norm",
                [
                    (
                        "q = self.q_norm(self.q_proj(x).view(b, t, self.h, self.dh)).transpose(1, 2)",
                        "q = self.q_proj(x).view(b, t, self.h, self.dh).transpose(1, 2)",
                    ),
                    (
                        "k = self.k_norm(self.k_proj(x).view(b, t, self.g, self.dh)).transpose(1, 2)",
                        "k = self.k_proj(x).view(b, t, self.g, self.dh).transpose(1, 2)",
                    ),
                    (
                        "q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)",
                        "q = self.q_norm(apply_rope(q, cos, sin))\n"
                        "        k = self.k_norm(apply_rope(k, cos, sin))",
                    ),
                ],
                "test_qk_norm",
                "after RoPE",
            ),
            Mistake(  # block 9: RoPE in every layer, the flag ignored
                "rope_everywhere",
                "nope_attention",
                [
                    (
                        "if self.use_rope:  # a NoPE layer skips this line and nothing else",
                        "if True:",
                    )
                ],
                "test_nope_attention",
                "whatever use_rope says",
            ),
        ],
    )
