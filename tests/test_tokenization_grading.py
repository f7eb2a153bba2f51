"""The tokenization assignment through the hardened grader: a full solution scores 18/18, the
unanswered release 0; known mistakes lose points only in their own block, with the mistake named."""

from __future__ import annotations

from conftest import ROOT, solution_cells, write_submission

from autograder.layout import Course
from autograder.service import grade_class

TOK = "04-tokenization"
SOL = solution_cells(TOK, "tokenization.ipynb")


def replaced(gid: str, old: str, new: str) -> dict[str, str]:
    assert old in SOL[gid], (gid, old)
    return {**SOL, gid: SOL[gid].replace(old, new)}


def test_tokenization_class(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    kw = {"assignment": TOK, "name": "tokenization.ipynb"}
    write_submission(subs, "full", SOL, **kw)
    write_submission(subs, "stub", None, **kw)  # the release, unanswered
    # block 1: ties broken by the largest pair
    write_submission(
        subs,
        "largest_tie",
        replaced(
            "train_bpe",
            "min(counts, key=lambda p: (-counts[p], p))",
            "max(counts, key=lambda p: (counts[p], p))",
        ),
        **kw,
    )
    # block 3: decoding token by token
    write_submission(
        subs,
        "per_token_decode",
        replaced(
            "byte_level",
            'return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")',
            'return "".join(vocab[i].decode("utf-8", errors="replace") for i in ids)',
        ),
        **kw,
    )
    # block 6: continuations without ##
    write_submission(
        subs,
        "no_prefix",
        replaced("wordpiece", 'else "##" + word[start:end]', "else word[start:end]"),
        **kw,
    )
    results, _ = grade_class(Course(ROOT), TOK, subs, out, workers=2, db_url=None)
    by = {r["student_id"]: r for r in results}

    def part(sid, gid):
        return next(p for p in by[sid]["notebooks"][0]["parts"] if p["grade_id"] == gid)

    def messages(sid, gid):
        return " ".join(c["message"] for c in part(sid, gid)["checks"])

    assert by["full"]["score"] == 18, by["full"]
    assert by["stub"]["score"] == 0, by["stub"]
    assert part("largest_tie", "test_train_bpe")["score"] == 0
    assert "largest pair" in messages("largest_tie", "test_train_bpe")
    assert by["largest_tie"]["score"] == 15
    assert part("per_token_decode", "test_byte_level")["score"] < 3
    assert "each token decoded" in messages("per_token_decode", "test_byte_level")
    assert part("no_prefix", "test_wordpiece")["score"] == 0
    assert "##" in messages("no_prefix", "test_wordpiece")
    for sid in ("largest_tie", "per_token_decode", "no_prefix"):
        others = [p for p in by[sid]["notebooks"][0]["parts"] if p["score"] < p["points"]]
        assert len(others) == 1, (sid, others)
