"""The BERT/GPT assignment through the hardened grader: a full solution scores 23/23, the
unanswered release 0; known mistakes lose points in their own block only, with the mistake named
(conftest.grade_mistakes)."""

from __future__ import annotations

from conftest import Mistake, grade_mistakes


def test_bert_gpt_class(tmp_path):
    grade_mistakes(
        tmp_path,
        "01-bert-gpt",
        "bert_gpt.ipynb",
        23,
        [
            Mistake(  # part 4: labels kept everywhere
                "labels_everywhere",
                "mlm",
                [
                    (
                        "labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))",
                        "labels = input_ids.clone()",
                    )
                ],
                "test_mlm",
                "-100",
            ),
            Mistake(  # part 7: no shift
                "no_shift",
                "lm_loss",
                [
                    (
                        "logits[:, :-1].reshape(-1, v).float(), labels[:, 1:].reshape(-1)",
                        "logits.reshape(-1, v).float(), labels.reshape(-1)",
                    )
                ],
                "test_lm_loss",
                "no shift",
            ),
            Mistake(  # part 8: top-k keeps k + 1
                "k_plus_one",
                "generate",
                [
                    (
                        "logits.topk(top_k, dim=-1).values[:, -1:]",
                        "logits.topk(min(top_k + 1, logits.shape[-1]), dim=-1).values[:, -1:]",
                    )
                ],
                "test_generate",
                "k + 1",
            ),
            # part 1: scores divided by Dh; the parts built on it use the reference attention
            Mistake(
                "scaled_by_d",
                "sdpa",
                [("/ math.sqrt(q.shape[-1])", "/ q.shape[-1]")],
                "test_sdpa",
                "sqrt(Dh)",
            ),
        ],
    )
