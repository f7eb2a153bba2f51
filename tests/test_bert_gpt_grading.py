"""The BERT/GPT assignment through the hardened grader: a full solution scores 23/23, the
unanswered release 0; known mistakes lose points in their own block, with the mistake named."""

from __future__ import annotations

from conftest import ROOT, solution_cells, write_submission

from autograder.layout import Course
from autograder.service import grade_class

CH = "01-bert-gpt"
SOL = solution_cells(CH, "bert_gpt.ipynb")


def replaced(gid: str, old: str, new: str) -> dict[str, str]:
    assert old in SOL[gid], (gid, old)
    return {**SOL, gid: SOL[gid].replace(old, new)}


def test_bert_gpt_class(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    kw = {"assignment": CH, "name": "bert_gpt.ipynb"}
    write_submission(subs, "full", SOL, **kw)
    write_submission(subs, "stub", None, **kw)  # the release, unanswered
    # part 4: labels kept everywhere
    write_submission(
        subs,
        "labels_everywhere",
        replaced(
            "mlm",
            "labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))",
            "labels = input_ids.clone()",
        ),
        **kw,
    )
    # part 7: no shift
    write_submission(
        subs,
        "no_shift",
        replaced(
            "lm_loss",
            "logits[:, :-1].reshape(-1, v).float(), labels[:, 1:].reshape(-1)",
            "logits.reshape(-1, v).float(), labels.reshape(-1)",
        ),
        **kw,
    )
    # part 8: top-k keeps k + 1
    write_submission(
        subs,
        "k_plus_one",
        replaced(
            "generate",
            "logits.topk(top_k, dim=-1).values[:, -1:]",
            "logits.topk(min(top_k + 1, logits.shape[-1]), dim=-1).values[:, -1:]",
        ),
        **kw,
    )
    # part 1: scores divided by Dh (the parts built on it use the reference attention meanwhile)
    write_submission(
        subs,
        "scaled_by_d",
        replaced("sdpa", "/ math.sqrt(q.shape[-1])", "/ q.shape[-1]"),
        **kw,
    )
    results, _ = grade_class(Course(ROOT), CH, subs, out, workers=2, db_url=None)
    by = {r["student_id"]: r for r in results}

    def part(sid, gid):
        return next(p for p in by[sid]["notebooks"][0]["parts"] if p["grade_id"] == gid)

    def messages(sid, gid):
        return " ".join(c["message"] for c in part(sid, gid)["checks"])

    assert by["full"]["score"] == 23, by["full"]
    assert by["stub"]["score"] == 0, by["stub"]
    for sid, gid, words in (
        ("labels_everywhere", "test_mlm", "-100"),
        ("no_shift", "test_lm_loss", "no shift"),
        ("k_plus_one", "test_generate", "k + 1"),
        ("scaled_by_d", "test_sdpa", "sqrt(Dh)"),  # one mistake, one deduction
    ):
        assert part(sid, gid)["score"] == 0, (sid, part(sid, gid))
        assert words in messages(sid, gid), messages(sid, gid)
        others = [p for p in by[sid]["notebooks"][0]["parts"] if p["score"] < p["points"]]
        assert len(others) == 1, (sid, others)
    assert by["scaled_by_d"]["score"] == 20, by["scaled_by_d"]  # 23 - part 1's 3 points
