"""One class of the red-team set through what an instructor runs after grading: the similarity
report on its submissions, then the grades exported in every LMS format, each read back the way
that LMS reads it and equal to ``grades.csv``. The class is graded once per session (conftest's
``redteam_class``, shared with tests/test_redteam.py)."""

from __future__ import annotations

import csv
import io

from conftest import PROLOGUE, ROOT

from autograder import gradebook, lms
from autograder.layout import Course
from autograder.similarity import similarity


def test_redteam_class_through_similarity_and_every_export(redteam_class, tmp_path):
    subs, out = redteam_class
    with open(out / "grades.csv", encoding="utf-8") as f:
        graded = {r["student_id"]: float(r["score"]) for r in csv.DictReader(f)}

    report = similarity(Course(ROOT), PROLOGUE, subs, tmp_path / "similarity")
    assert (tmp_path / "similarity" / "similarity.html").is_file()
    # "good" and "zipped_good" both hand in the reference solution: flagged; hostile entries
    # that are no notebook are listed as not compared, never a crash
    flagged = {(m.part, m.a.student, m.b.student) for m in report.matches if m.flagged}
    assert ("softmax", "good", "zipped_good") in flagged
    assert "malformed_json" in report.unreadable

    url = gradebook.default_url(out)
    scores = gradebook.scores(url, [PROLOGUE])
    assert scores[0].scores == {s: graded[s] for s in scores[0].scores}
    ids = sorted(scores[0].scores)

    lms.write("moodle", scores, tmp_path / "moodle.csv")  # plain ids: Moodle usernames
    rows = list(csv.reader(io.StringIO((tmp_path / "moodle.csv").read_text(encoding="utf-8"))))
    assert rows[0] == ["Username", PROLOGUE]
    assert {u: float(g) for u, g in rows[1:]} == {s: graded[s] for s in ids}

    canvas_roster = tmp_path / "canvas-export.csv"
    canvas_roster.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section\n    Points Possible,,,,\n"
        + "".join(f"{s},{1000 + i},S{i},{s},A\n" for i, s in enumerate(ids)),
        encoding="utf-8",
    )
    lms.write("canvas", scores, tmp_path / "canvas.csv", canvas_roster)
    with open(tmp_path / "canvas.csv", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["ID"]]
    assert {int(r["ID"]) - 1000: float(r[PROLOGUE]) for r in rows} == {
        i: graded[s] for i, s in enumerate(ids)
    }

    gs_roster = tmp_path / "gradescope-roster.csv"
    gs_roster.write_text(
        "Name,Email,SID\n" + "".join(f"{s},{s}@example.edu,{s}\n" for s in ids), encoding="utf-8"
    )
    lms.write("gradescope", scores, tmp_path / "gradescope.csv", gs_roster)
    with open(tmp_path / "gradescope.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {r["Email"]: float(r["Total Score"]) for r in rows} == {
        f"{s}@example.edu": graded[s] for s in ids
    }
