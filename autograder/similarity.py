"""Similarity report: which pairs of students wrote the same answer, part by part.

``python -m autograder similarity`` reads the class's notebooks as data (nothing is run): for each
answer cell (an nbgrader solution region, matched by ``grade_id`` as grading does) it

1. tokenises the student's code with :mod:`tokenize` and normalises it (:func:`normalise`):
   comments, docstrings and whitespace are dropped, every name the student chose becomes one
   placeholder (keywords, builtins, attributes, keyword-argument names and the names the
   notebook's given code binds, such as ``torch``, stay), every other string becomes one, so
   renaming variables and reformatting do not hide a copy;
2. removes what the release gave everyone: the stub of that answer cell (its signature,
   docstring and ``raise NotImplementedError()``) token by token, and the fingerprints of the
   notebook's given code (setup and visible test cells) as copydetect's boilerplate;
3. skips answers shorter than :data:`MIN_TOKENS` normalised tokens (a one-line part has one
   obvious answer that many students write alike: the report lists them as not compared);
4. fingerprints the rest with copydetect's winnowing (Schleimer, Wilkerson and Aiken's algorithm,
   as MOSS uses) over token k-grams and compares every pair of students.

The pair's score is the larger of the two shares of each answer that the other covers; the
report ranks (part, pair) rows by it, shows both answers side by side with the matched spans
highlighted (``similarity.html``, self-contained) and lists every pair with any overlap
(``similarity.csv``). It cannot see a copy rewritten by hand or by a model: that changes the
token sequence itself.
"""

from __future__ import annotations

import ast
import builtins
import csv
import difflib
import hashlib
import html
import io
import itertools
import keyword
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import numpy as np
from copydetect.detector import compare_files
from copydetect.utils import get_token_coverage, winnow

from autograder.errors import CourseError
from autograder.layout import Course
from autograder.notebooks import SourceNotebook, answer_cells, load_source
from autograder.result_files import write_atomic
from autograder.submissions import discover

#: answers with fewer normalised tokens than this (after removing the stub) are not compared
MIN_TOKENS = 20
#: k-gram length in tokens (copydetect's noise threshold): shorter common runs are ignored
K_TOKENS = 8
#: winnowing window in k-grams: any common run of K_TOKENS + WINDOW - 1 tokens is guaranteed found
WINDOW = 3
#: a (part, pair) row scoring at least this is flagged for a closer look
FLAG_SCORE = 0.7
#: stub runs at least this many tokens long are removed from an answer
STUB_RUN = 3

_SKIP = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENCODING,
    tokenize.ENDMARKER,
}
_BUILTINS = frozenset(dir(builtins))
PLACEHOLDER = "V"
STRING = "S"


@dataclass
class Tokens:
    """An answer as normalised tokens: ``norm[i]`` is token i's normalised text, ``raw[i]`` its
    exact text, ``spans[i]`` its (start, end) character offsets in the answer's source."""

    source: str
    norm: list[str] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)

    def keep(self, indexes: list[int]) -> Tokens:
        return Tokens(
            self.source,
            [self.norm[i] for i in indexes],
            [self.raw[i] for i in indexes],
            [self.spans[i] for i in indexes],
        )


def _tokens(source: str) -> list[tokenize.TokenInfo]:
    """Python tokens of ``source``; code that does not tokenise keeps the tokens before the error."""
    out: list[tokenize.TokenInfo] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            out.append(tok)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


def normalise(source: str, keep_names: frozenset[str] = frozenset()) -> Tokens:
    """``source`` as normalised tokens (see the module's docstring); ``keep_names`` are names
    the notebook's given code binds (they stay as they are)."""
    lines = source.splitlines(keepends=True)
    starts = list(itertools.accumulate((len(line) for line in lines), initial=0))

    def offset(pos: tuple[int, int]) -> int:
        row, col = pos
        return starts[min(row - 1, len(starts) - 1)] + col

    toks = [t for t in _tokens(source) if t.type not in {tokenize.COMMENT, tokenize.NL}]
    out = Tokens(source)
    depth = 0
    for i, t in enumerate(toks):
        if t.type in _SKIP or t.type == tokenize.ERRORTOKEN and not t.string.strip():
            continue
        prev = toks[i - 1] if i else None
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        text = t.string
        if t.type == tokenize.OP:
            if text in "([{":
                depth += 1
            elif text in ")]}":
                depth = max(depth - 1, 0)
            norm = text
        elif t.type == tokenize.STRING:
            statement = (prev is None or prev.type in _SKIP) and (nxt is None or nxt.type in _SKIP)
            if statement:  # a docstring or a bare string: prose, not code
                continue
            norm = STRING
        elif t.type == tokenize.NAME:
            attribute = prev is not None and prev.string == "."
            kwarg = depth > 0 and nxt is not None and nxt.string == "=" and not attribute
            if (
                keyword.iskeyword(text)
                or keyword.issoftkeyword(text)
                or text in _BUILTINS
                or text in keep_names
                or attribute
                or kwarg
            ):
                norm = text
            else:
                norm = PLACEHOLDER
        else:
            norm = text
        out.norm.append(norm)
        out.raw.append(text)
        out.spans.append((offset(t.start), offset(t.end)))
    return out


def given_names(sources: list[str]) -> frozenset[str]:
    """Names the notebook's given code binds at top level: imports, functions, classes, globals."""
    names: set[str] = set()
    for src in sources:
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
        for node in tree.body:
            if isinstance(node, ast.Assign):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return frozenset(names)


def strip_stub(answer: Tokens, stub: Tokens) -> Tokens:
    """``answer`` without the runs of tokens it shares with the released stub (signature,
    ``raise NotImplementedError()``), compared by exact text."""
    matcher = difflib.SequenceMatcher(None, stub.raw, answer.raw, autojunk=False)
    given: set[int] = set()
    for block in matcher.get_matching_blocks():
        if block.size >= STUB_RUN:
            given.update(range(block.b, block.b + block.size))
    return answer.keep([i for i in range(len(answer.raw)) if i not in given])


class _Alphabet:
    """One character per distinct normalised token, shared by every document of a run, so that
    copydetect's character k-grams are token k-grams."""

    def __init__(self) -> None:
        self.chars: dict[str, str] = {}

    def encode(self, tokens: list[str]) -> str:
        for t in tokens:
            if t not in self.chars:
                self.chars[t] = chr(0x10000 + len(self.chars))
        return "".join(self.chars[t] for t in tokens)


def _kgram_hashes(text: str) -> np.ndarray:
    """A stable 64-bit hash of every K_TOKENS-gram of ``text`` (copydetect hashes with Python's
    ``hash``, which changes from run to run; the report must not)."""
    data = [text[i : i + K_TOKENS].encode("utf-8") for i in range(len(text) - K_TOKENS + 1)]
    return np.array(
        [
            int.from_bytes(hashlib.blake2b(d, digest_size=8).digest(), "little", signed=True)
            for d in data
        ],
        dtype=np.int64,
    )


@dataclass
class Fingerprint:
    """An answer's winnowed fingerprints, with the attributes copydetect's ``compare_files``
    reads (as its ``CodeFingerprint`` has them, built from stable hashes)."""

    filename: str
    filtered_code: str
    hashes: set
    hash_idx: dict
    token_coverage: float
    k: int = K_TOKENS
    offsets: np.ndarray = field(default_factory=lambda: np.array([]))


def _fingerprint(text: str, name: str, boilerplate: np.ndarray) -> Fingerprint:
    """Winnow ``text``'s k-gram hashes (copydetect's ``winnow``), drop the boilerplate's."""
    hashes, idx = winnow(_kgram_hashes(text), WINDOW, remove_duplicates=False)
    keep = ~np.isin(hashes, boilerplate)
    hashes, idx = hashes[keep], idx[keep]
    hash_idx: dict[int, list[int]] = {}
    for h, i in zip(hashes.tolist(), idx.tolist()):
        hash_idx.setdefault(h, []).append(i)
    coverage = get_token_coverage(hash_idx, K_TOKENS, len(text))
    return Fingerprint(name, text, set(hash_idx), hash_idx, coverage)


@dataclass
class Answer:
    """One student's answer to one part: the full source and its compared tokens."""

    student: str
    source: str
    tokens: Tokens


@dataclass
class Match:
    """One (part, pair) comparison: shares of each answer covered, and the matched spans."""

    part: str
    notebook: str
    a: Answer
    b: Answer
    share_a: float
    share_b: float
    matched_tokens: int
    spans_a: list[tuple[int, int]]
    spans_b: list[tuple[int, int]]

    @property
    def score(self) -> float:
        return round(max(self.share_a, self.share_b), 4)

    @property
    def flagged(self) -> bool:
        return self.score >= FLAG_SCORE


@dataclass
class Report:
    """Everything the report shows: ranked matches, and what was not compared and why."""

    assignment: str
    students: list[str]
    matches: list[Match]
    #: part -> students whose answer is shorter than MIN_TOKENS (not compared)
    short: dict[str, list[str]]
    #: part -> students without an answer (missing notebook or cell, unchanged stub)
    missing: dict[str, list[str]]
    #: student -> why none of their notebook could be read
    unreadable: dict[str, str]
    parts: list[str]
    min_tokens: int = MIN_TOKENS


def _release_notebook(course: Course, assignment: str, name: str) -> nbformat.NotebookNode:
    path = course.exercises / assignment / name
    try:
        return nbformat.read(str(path), as_version=4)
    except OSError:
        raise CourseError(
            f"the released notebook {path} is missing; run `python -m autograder release "
            f"{assignment}` first."
        ) from None


def _part_name(source: SourceNotebook, n_notebooks: int, grade_id: str) -> str:
    return grade_id if n_notebooks == 1 else f"{Path(source.name).stem}:{grade_id}"


def _spans(tokens: Tokens, slices) -> list[tuple[int, int]]:
    """Character spans of the answer's source covered by token slices [start, end)."""
    out = []
    for start, end in zip(slices[0], slices[1]):
        start, end = int(start), min(int(end), len(tokens.spans))
        if start < end:
            out.append((tokens.spans[start][0], tokens.spans[end - 1][1]))
    return out


def compare_class(
    course: Course, assignment: str, submissions: Path, min_tokens: int = MIN_TOKENS
) -> Report:
    """Compare every pair of students' answers, part by part (see the module's docstring)."""
    course.check_assignment(assignment)
    sources = [load_source(p) for p in course.source_notebooks(assignment)]
    subs = discover(submissions, assignment, [s.name for s in sources])
    if len(subs) < 2:
        raise CourseError(
            f"{submissions} holds {len(subs)} submission; comparing needs at least two students."
        )
    alphabet = _Alphabet()
    matches: list[Match] = []
    short: dict[str, list[str]] = {}
    missing: dict[str, list[str]] = {}
    unreadable: dict[str, str] = {}
    parts: list[str] = []
    for source in sources:
        release = _release_notebook(course, assignment, source.name)
        stubs: dict[str, str] = {}
        given: list[str] = []
        for cell in release.cells:
            if cell.cell_type != "code":
                continue
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution"):
                stubs[meta.get("grade_id", "")] = cell.source
            else:
                given.append(cell.source)
        keep = given_names(given)
        boiler_text = alphabet.encode(
            [t for src in [*given, *stubs.values()] for t in normalise(src, keep).norm + [";"]]
        )
        boilerplate = _kgram_hashes(boiler_text) if len(boiler_text) >= K_TOKENS else np.array([])
        answers: dict[str, dict[str, str]] = {}
        for sub in subs:
            data = sub.notebooks.get(source.name)
            if data is None:
                continue
            try:
                answers[sub.student_id], _ = answer_cells(data, source)
            except CourseError as exc:
                unreadable[sub.student_id] = str(exc)
        for gid in source.answer_ids:
            part = _part_name(source, len(sources), gid)
            parts.append(part)
            stub = normalise(stubs.get(gid, ""), keep)
            compared: list[tuple[Answer, Fingerprint]] = []
            for sub in subs:
                code = answers.get(sub.student_id, {}).get(gid)
                if code is None:
                    missing.setdefault(part, []).append(sub.student_id)
                    continue
                tokens = strip_stub(normalise(code, keep), stub)
                if not tokens.norm:
                    missing.setdefault(part, []).append(sub.student_id)
                    continue
                if len(tokens.norm) < max(min_tokens, K_TOKENS):
                    short.setdefault(part, []).append(sub.student_id)
                    continue
                answer = Answer(sub.student_id, code, tokens)
                fp = _fingerprint(alphabet.encode(tokens.norm), sub.student_id, boilerplate)
                compared.append((answer, fp))
            for (a, fa), (b, fb) in itertools.combinations(compared, 2):
                if fa.token_coverage == 0 or fb.token_coverage == 0:
                    continue
                overlap, (share_a, share_b), (slices_a, slices_b) = compare_files(fa, fb)
                if not overlap:
                    continue
                matches.append(
                    Match(
                        part,
                        source.name,
                        a,
                        b,
                        float(min(share_a, 1.0)),
                        float(min(share_b, 1.0)),
                        int(overlap),
                        _spans(a.tokens, slices_a),
                        _spans(b.tokens, slices_b),
                    )
                )
    matches.sort(key=lambda m: (-m.score, -m.matched_tokens, m.part, m.a.student, m.b.student))
    return Report(
        assignment,
        sorted(s.student_id for s in subs),
        matches,
        short,
        missing,
        unreadable,
        parts,
        min_tokens,
    )


# ---------------------------------------------------------------------------------------- output

CSV_FIELDS = [
    "rank",
    "part",
    "student_a",
    "student_b",
    "score",
    "share_a",
    "share_b",
    "matched_tokens",
    "tokens_a",
    "tokens_b",
    "flagged",
]


def write_csv(report: Report, path: Path) -> None:
    """Every (part, pair) with any overlap, ranked, one row each (columns :data:`CSV_FIELDS`)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for rank, m in enumerate(report.matches, 1):
        w.writerow(
            {
                "rank": rank,
                "part": m.part,
                "student_a": m.a.student,
                "student_b": m.b.student,
                "score": f"{m.score:.3f}",
                "share_a": f"{m.share_a:.3f}",
                "share_b": f"{m.share_b:.3f}",
                "matched_tokens": m.matched_tokens,
                "tokens_a": len(m.a.tokens.norm),
                "tokens_b": len(m.b.tokens.norm),
                "flagged": "yes" if m.flagged else "no",
            }
        )
    write_atomic(path, buf.getvalue())


def _highlight(answer: Answer, spans: list[tuple[int, int]]) -> str:
    """The answer's source as HTML: matched spans in <mark>, what was not compared (the stub,
    comments, docstrings) dimmed."""
    source = answer.source
    kind = ["g"] * len(source)
    for marks, k in ((answer.tokens.spans, ""), (spans, "m")):
        for start, end in marks:
            kind[start:end] = [k] * (min(end, len(source)) - start)
    out, i = [], 0
    while i < len(source):
        j = i
        while j < len(source) and kind[j] == kind[i]:
            j += 1
        text = html.escape(source[i:j])
        wrap = {"m": "<mark>{}</mark>", "g": '<span class="given">{}</span>'}.get(kind[i], "{}")
        out.append(wrap.format(text))
        i = j
    return "".join(out)


_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:1400px}
h1{font-size:1.5rem} h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0} td,th{border:1px solid #ccc;padding:.25rem .5rem;
text-align:left} th{background:#f3f3f3}
.flag{color:#a00;font-weight:600} .pair{border:1px solid #ccc;margin:1rem 0;padding:.5rem 1rem}
.side{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
pre{background:#fafafa;border:1px solid #e3e3e3;padding:.5rem;overflow-x:auto;font-size:.85rem;
white-space:pre-wrap} mark{background:#ffd54f} .given{color:#999}
.note{color:#555;font-size:.9rem}
"""


def write_html(report: Report, path: Path, top: int = 50) -> None:
    """The ranked report (see the module's docstring): self-contained, no scripts or assets."""
    e = html.escape
    flagged = [m for m in report.matches if m.flagged]
    shown = report.matches[: max(top, len(flagged))]
    rows = "".join(
        f'<tr><td>{i}</td><td>{e(m.part)}</td><td><a href="#m{i}">{e(m.a.student)}</a></td>'
        f"<td>{e(m.b.student)}</td><td{' class=flag' if m.flagged else ''}>{m.score:.2f}</td>"
        f"<td>{m.matched_tokens}</td></tr>"
        for i, m in enumerate(shown, 1)
    )
    pairs = []
    for i, m in enumerate(shown, 1):
        sides = "".join(
            f"<div><b>{e(ans.student)}</b> ({share:.0%} of {len(ans.tokens.norm)} tokens matched)"
            f"<pre>{_highlight(ans, spans)}</pre></div>"
            for ans, share, spans in ((m.a, m.share_a, m.spans_a), (m.b, m.share_b, m.spans_b))
        )
        pairs.append(
            f'<div class="pair" id="m{i}"><h3>#{i} {e(m.part)}: {e(m.a.student)} and '
            f"{e(m.b.student)}: score {m.score:.2f}"
            f"{' <span class=flag>(flagged)</span>' if m.flagged else ''}</h3>"
            f'<div class="side">{sides}</div></div>'
        )
    short = "".join(
        f"<li>{e(part)}: {len(names)} answer(s) under {report.min_tokens} tokens not compared "
        f"({e(', '.join(names[:20]))}{', ...' if len(names) > 20 else ''})</li>"
        for part, names in report.short.items()
    )
    missing = "".join(
        f"<li>{e(part)}: no answer from {e(', '.join(names[:20]))}"
        f"{', ...' if len(names) > 20 else ''}</li>"
        for part, names in report.missing.items()
    )
    unreadable = "".join(f"<li>{e(s)}: {e(why)}</li>" for s, why in report.unreadable.items())
    body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Similarity: {e(report.assignment)}</title><style>{_CSS}</style></head><body>
<h1>Similarity report: {e(report.assignment)}</h1>
<p>{len(report.students)} students, parts {e(", ".join(report.parts))}. {len(flagged)} (part, pair)
row(s) flagged (score at least {FLAG_SCORE:.2f}); {len(report.matches)} with any overlap (all in
similarity.csv).</p>
<p class="note">Each answer cell is compared with the same cell of every other student after
dropping comments, docstrings and whitespace, replacing the names a student chose by one
placeholder, and removing the released stub and the notebook's given code (shown in grey). The
score is the larger share of one answer's tokens found, in runs of at least {K_TOKENS} tokens, in
the other's (winnowed fingerprints, copydetect). Answers shorter than {report.min_tokens} tokens are not
compared: a one-line part has one obvious answer. A high score is a reason to look, not proof; a
copy rewritten by hand or by a language model is not found.</p>
<h2>Ranked pairs</h2>
<table><tr><th>#</th><th>part</th><th>student A</th><th>student B</th><th>score</th>
<th>matched tokens</th></tr>{rows}</table>
<h2>Not compared</h2><ul>{short or "<li>none</li>"}{missing}{unreadable}</ul>
<h2>Side by side</h2>
{"".join(pairs) or "<p>No pair shares a run of tokens.</p>"}
</body></html>
"""
    write_atomic(path, body)


def similarity(
    course: Course,
    assignment: str,
    submissions: Path,
    out: Path,
    min_tokens: int = MIN_TOKENS,
    top: int = 50,
) -> Report:
    """Compare the class and write ``out/similarity.html`` and ``out/similarity.csv``."""
    if out.exists() and not out.is_dir():
        raise CourseError(f"{out} is a file; pass a folder for the report (it is created).")
    report = compare_class(course, assignment, submissions, min_tokens)
    write_csv(report, out / "similarity.csv")
    write_html(report, out / "similarity.html", top)
    return report
