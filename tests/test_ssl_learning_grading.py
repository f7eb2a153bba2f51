"""The chapter 05-ssl assignment through the hardened grader: a full solution scores 24/24, the
unanswered release 0; known mistakes lose points only in their own block, with the mistake named
(including a missing stop-gradient, seen from the gradients alone; conftest.grade_mistakes)."""

from __future__ import annotations

from conftest import Mistake, grade_mistakes


def test_ssl_learning_class(tmp_path):
    grade_mistakes(
        tmp_path,
        "05-ssl",
        "ssl_learning.ipynb",
        24,
        [
            Mistake(  # block 2: one noise row for the whole batch
                "same_mask",
                "random_masking",
                [
                    (
                        "ids_shuffle = torch.argsort(noise, dim=1)",
                        "ids_shuffle = torch.argsort(noise[:1].expand_as(noise), dim=1)",
                    )
                ],
                "test_random_masking",
                "same positions masked for every sample",
            ),
            Mistake(  # block 6: no stop-gradient on the targets
                "no_stopgrad",
                "simsiam_loss",
                [("z.detach()", "z")],
                "test_simsiam_loss",
                "missing stop-gradient",
            ),
            Mistake(  # block 5: momentum the wrong way round
                "momentum_swapped",
                "moco",
                [("t.mul_(m).add_(o, alpha=1 - m)", "t.mul_(1 - m).add_(o, alpha=m)")],
                "test_moco",
                "wrong way round",
                partial=True,
            ),
            Mistake(  # block 10: the bias penalised with the weights
                "bias_penalised",
                "linear_probe",
                [("w.pow(2).sum()", "(w.pow(2).sum() + b.pow(2).sum())")],
                "test_linear_probe",
                "the bias penalised too",
            ),
        ],
    )
