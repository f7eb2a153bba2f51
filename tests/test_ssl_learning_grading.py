"""The chapter 05-ssl assignment through the hardened grader: a full solution scores 22/22, the
unanswered release 0; known mistakes lose points only in their own block, with the mistake named
(including a missing stop-gradient, seen from the gradients alone)."""

from __future__ import annotations

from conftest import ROOT, solution_cells, write_submission

from autograder.layout import Course
from autograder.service import grade_class

SSL = "05-ssl"
SOL = solution_cells(SSL, "ssl_learning.ipynb")


def replaced(gid: str, old: str, new: str) -> dict[str, str]:
    assert old in SOL[gid], (gid, old)
    return {**SOL, gid: SOL[gid].replace(old, new)}


def test_ssl_learning_class(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    kw = {"assignment": SSL, "name": "ssl_learning.ipynb"}
    write_submission(subs, "full", SOL, **kw)
    write_submission(subs, "stub", None, **kw)
    # block 2: one noise row for the whole batch
    write_submission(
        subs,
        "same_mask",
        replaced(
            "random_masking",
            "ids_shuffle = torch.argsort(noise, dim=1)",
            "ids_shuffle = torch.argsort(noise[:1].expand_as(noise), dim=1)",
        ),
        **kw,
    )
    # block 6: no stop-gradient on the targets
    write_submission(
        subs,
        "no_stopgrad",
        replaced("simsiam_loss", "z.detach()", "z"),
        **kw,
    )
    # block 5: momentum the wrong way round
    write_submission(
        subs,
        "momentum_swapped",
        replaced("moco", "t.mul_(m).add_(o, alpha=1 - m)", "t.mul_(1 - m).add_(o, alpha=m)"),
        **kw,
    )
    results, _ = grade_class(Course(ROOT), SSL, subs, out, workers=2, db_url=None)
    by = {r["student_id"]: r for r in results}

    def part(sid, gid):
        return next(p for p in by[sid]["notebooks"][0]["parts"] if p["grade_id"] == gid)

    def messages(sid, gid):
        return " ".join(c["message"] for c in part(sid, gid)["checks"])

    assert by["full"]["score"] == 22, by["full"]
    assert by["stub"]["score"] == 0, by["stub"]
    assert part("same_mask", "test_random_masking")["score"] == 0
    assert "same positions masked for every sample" in messages("same_mask", "test_random_masking")
    assert part("no_stopgrad", "test_simsiam_loss")["score"] == 0
    assert "missing stop-gradient" in messages("no_stopgrad", "test_simsiam_loss")
    assert part("momentum_swapped", "test_moco")["score"] < 3
    assert "wrong way round" in messages("momentum_swapped", "test_moco")
    for sid in ("same_mask", "no_stopgrad", "momentum_swapped"):
        others = [p for p in by[sid]["notebooks"][0]["parts"] if p["score"] < p["points"]]
        assert len(others) == 1, (sid, others)
