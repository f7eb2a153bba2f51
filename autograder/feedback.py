"""Per-student, per-notebook HTML feedback: what passed, what failed and why (never test source)."""

from __future__ import annotations

import html
from pathlib import Path

from autograder.result_files import write_atomic
from autograder.results import NotebookResult, StudentResult
from autograder.submissions import file_safe

_STYLE = """body{font-family:system-ui,sans-serif;max-width:52em;margin:2em auto;line-height:1.45}
.pass{color:#176f2c}.fail{color:#b3261e}td,th{padding:.3em .6em;border-bottom:1px solid #ddd;
vertical-align:top}code,pre{background:#f5f5f5;padding:.1em .3em;white-space:pre-wrap}"""


def render(result: StudentResult, nb: NotebookResult) -> str:
    """The feedback page of one of ``result``'s notebooks: every check, its verdict and message."""
    e = html.escape
    rows = []
    for part in nb.parts:
        for c in part.checks:
            cls = "pass" if c.passed else "fail"
            rows.append(
                f"<tr><td>{e(part.grade_id)}</td><td>{e(c.name)}</td>"
                f"<td class={cls}>{'passed' if c.passed else 'failed'}</td>"
                f"<td><code>{e(c.message)}</code></td></tr>"
            )
        rows.append(
            f"<tr><th colspan=3>{e(part.grade_id)}: points</th>"
            f"<th>{part.score:g} / {part.points:g}</th></tr>"
        )
    notes = "".join(f"<li>{e(n)}</li>" for n in nb.notes) or "<li>none</li>"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Feedback: {e(nb.notebook)}</title>
<style>{_STYLE}</style></head><body>
<h1>{e(result.assignment)} / {e(nb.notebook)}</h1>
<p>Student <b>{e(result.student_id)}</b>: <b>{nb.score:g} / {nb.max_score:g}</b> points.</p>
<p>Each part was graded by running your answer cells in a separate process and comparing their
results with the reference on inputs you have not seen (random shapes, dtypes, gradients, edge
cases). Passing the visible checks in the notebook does not guarantee these pass.</p>
<table><tr><th>part</th><th>check</th><th>result</th><th>why</th></tr>{"".join(rows)}</table>
<h2>Notes</h2><ul>{notes}</ul></body></html>"""


def write(out: Path, result: StudentResult) -> None:
    """``OUT/feedback/<student>/<notebook stem>.html`` for each of the student's notebooks."""
    for nb in result.notebooks:
        path = out / "feedback" / file_safe(result.student_id) / (Path(nb.notebook).stem + ".html")
        write_atomic(path, render(result, nb))
