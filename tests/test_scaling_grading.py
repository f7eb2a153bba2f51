"""The scaling assignment through the hardened grader: a full solution scores 16/16, the
unanswered release 0; known mistakes lose points only in their own block, with the mistake named
(conftest.grade_mistakes)."""

from __future__ import annotations

from conftest import Mistake, grade_mistakes


def test_scaling_class(tmp_path):
    grade_mistakes(
        tmp_path,
        "02-scaling-laws",
        "scaling.ipynb",
        16,
        [
            Mistake(  # block 1: the tied output layer counted twice
                "tied_twice",
                "count_params",
                [('(0 if cfg["tie_word_embeddings"] else v * d)', "v * d")],
                "test_count_params",
                "tied output layer counted a second time",
            ),
            Mistake(  # block 2: 2ND instead of 6ND
                "two_nd",
                "flops",
                [
                    ('"train": 3 * forward * n_tokens', '"train": forward * n_tokens'),
                    ('"six_nd": 6 * n * n_tokens', '"six_nd": 2 * n * n_tokens'),
                ],
                "test_flops",
                "2ND instead of 6ND",
            ),
        ],
    )
