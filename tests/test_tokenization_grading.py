"""The tokenization assignment through the hardened grader: a full solution scores 18/18, the
unanswered release 0; known mistakes lose points only in their own block, with the mistake named
(conftest.grade_mistakes)."""

from __future__ import annotations

from conftest import Mistake, grade_mistakes


def test_tokenization_class(tmp_path):
    grade_mistakes(
        tmp_path,
        "04-tokenization",
        "tokenization.ipynb",
        18,
        [
            Mistake(  # block 1: ties broken by the largest pair
                "largest_tie",
                "train_bpe",
                [
                    (
                        "min(counts, key=lambda p: (-counts[p], p))",
                        "max(counts, key=lambda p: (counts[p], p))",
                    )
                ],
                "test_train_bpe",
                "largest pair",
            ),
            Mistake(  # block 3: decoding token by token
                "per_token_decode",
                "byte_level",
                [
                    (
                        'return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")',
                        'return "".join(vocab[i].decode("utf-8", errors="replace") for i in ids)',
                    )
                ],
                "test_byte_level",
                "each token decoded",
                partial=True,
            ),
            Mistake(  # block 6: continuations without ##
                "no_prefix",
                "wordpiece",
                [('else "##" + word[start:end]', "else word[start:end]")],
                "test_wordpiece",
                "##",
            ),
        ],
    )
