"""The foundation-model assignment through the hardened grader: a full solution scores 20/20, the
unanswered release 0; known mistakes lose points only in their own block, with the mistake named."""

from __future__ import annotations

from conftest import ROOT, solution_cells, write_submission

from autograder.layout import Course
from autograder.service import grade_class

CH = "06-clip-sam-whisper"
SOL = solution_cells(CH, "foundation.ipynb")


def replaced(gid: str, old: str, new: str) -> dict[str, str]:
    assert old in SOL[gid], (gid, old)
    return {**SOL, gid: SOL[gid].replace(old, new)}


def test_foundation_class(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    kw = {"assignment": CH, "name": "foundation.ipynb"}
    write_submission(subs, "full", SOL, **kw)
    write_submission(subs, "stub", None, **kw)  # the release, unanswered
    write_submission(  # block 6: natural log
        subs, "ln", replaced("log_mel", "min=1e-10).log10()", "min=1e-10).log()"), **kw
    )
    write_submission(  # block 7: both convolutions strided
        subs,
        "both_strided",
        replaced(
            "conv_stem",
            "kernel_size=3, padding=1)",
            "kernel_size=3, stride=2, padding=1)",
        ),
        **kw,
    )
    write_submission(  # block 4: SamAttention without 1 / sqrt(head_dim); the block itself is right
        subs,
        "unscaled",
        replaced("two_way_block", " / math.sqrt(q.shape[-1])", ""),
        **kw,
    )
    results, _ = grade_class(Course(ROOT), CH, subs, out, workers=2, db_url=None)
    by = {r["student_id"]: r for r in results}

    def part(sid, gid):
        return next(p for p in by[sid]["notebooks"][0]["parts"] if p["grade_id"] == gid)

    def messages(sid, gid):
        return " ".join(c["message"] for c in part(sid, gid)["checks"])

    assert by["full"]["score"] == 20, by["full"]
    assert by["stub"]["score"] == 0, by["stub"]
    assert part("ln", "test_log_mel")["score"] == 0
    assert "natural log" in messages("ln", "test_log_mel")
    assert part("both_strided", "test_conv_stem")["score"] == 0
    assert "stride 2 on both" in messages("both_strided", "test_conv_stem")
    # one mistake, one deduction: the two-way block is graded with the reference attention
    assert part("unscaled", "test_sam_attention")["score"] == 0
    assert "not divided by sqrt(head dim)" in messages("unscaled", "test_sam_attention")
    assert part("unscaled", "test_two_way_block")["score"] == 3
    assert by["unscaled"]["score"] == 19
    for sid in ("ln", "both_strided", "unscaled"):
        others = [p for p in by[sid]["notebooks"][0]["parts"] if p["score"] < p["points"]]
        assert len(others) == 1, (sid, others)
