"""The foundation-model assignment through the hardened grader: a full solution scores 20/20, the
unanswered release 0; known mistakes lose points only in their own block, with the mistake named
(conftest.grade_mistakes)."""

from __future__ import annotations

from conftest import Mistake, grade_mistakes


def test_foundation_class(tmp_path):
    grade_mistakes(
        tmp_path,
        "06-clip-sam-whisper",
        "foundation.ipynb",
        20,
        [
            Mistake(  # block 6: natural log
                "ln",
                "log_mel",
                [("min=1e-10).log10()", "min=1e-10).log()")],
                "test_log_mel",
                "natural log",
            ),
            Mistake(  # block 7: both convolutions strided
                "both_strided",
                "conv_stem",
                [("kernel_size=3, padding=1)", "kernel_size=3, stride=2, padding=1)")],
                "test_conv_stem",
                "stride 2 on both",
            ),
            # block 4: SamAttention (in the two-way block's cell) without 1 / sqrt(head_dim): the
            # two-way block is graded with the reference attention and keeps its points
            Mistake(
                "unscaled",
                "two_way_block",
                [(" / math.sqrt(q.shape[-1])", "")],
                "test_sam_attention",
                "not divided by sqrt(head dim)",
            ),
        ],
    )
