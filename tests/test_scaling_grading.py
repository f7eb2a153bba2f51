"""The scaling assignment through the hardened grader: a full solution scores 14/14, the
unanswered release 0; known mistakes lose points only in their own block, with the mistake named."""

from __future__ import annotations

from conftest import ROOT, solution_cells, write_submission

from autograder.layout import Course
from autograder.service import grade_class

CH = "02-scaling-laws"
SOL = solution_cells(CH, "scaling.ipynb")


def replaced(gid: str, old: str, new: str) -> dict[str, str]:
    assert old in SOL[gid], (gid, old)
    return {**SOL, gid: SOL[gid].replace(old, new)}


def test_scaling_class(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    kw = {"assignment": CH, "name": "scaling.ipynb"}
    write_submission(subs, "full", SOL, **kw)
    write_submission(subs, "stub", None, **kw)  # the release, unanswered
    # block 1: the tied output layer counted twice
    write_submission(
        subs,
        "tied_twice",
        replaced(
            "count_params",
            '(0 if cfg["tie_word_embeddings"] else v * d)',
            "v * d",
        ),
        **kw,
    )
    # block 2: 2ND instead of 6ND
    sol = replaced("flops", '"train": 3 * forward * n_tokens', '"train": forward * n_tokens')
    sol["flops"] = sol["flops"].replace('"six_nd": 6 * n * n_tokens', '"six_nd": 2 * n * n_tokens')
    write_submission(subs, "two_nd", sol, **kw)
    results, _ = grade_class(Course(ROOT), CH, subs, out, workers=2, db_url=None)
    by = {r["student_id"]: r for r in results}

    def part(sid, gid):
        return next(p for p in by[sid]["notebooks"][0]["parts"] if p["grade_id"] == gid)

    def messages(sid, gid):
        return " ".join(c["message"] for c in part(sid, gid)["checks"])

    assert by["full"]["score"] == 14, by["full"]
    assert by["stub"]["score"] == 0, by["stub"]
    assert part("tied_twice", "test_count_params")["score"] == 0
    assert "tied output layer counted a second time" in messages("tied_twice", "test_count_params")
    assert by["tied_twice"]["score"] == 12
    assert part("two_nd", "test_flops")["score"] == 0
    assert "2ND instead of 6ND" in messages("two_nd", "test_flops")
    assert by["two_nd"]["score"] == 11
    for sid in ("tied_twice", "two_nd"):
        others = [p for p in by[sid]["notebooks"][0]["parts"] if p["score"] < p["points"]]
        assert len(others) == 1, (sid, others)
