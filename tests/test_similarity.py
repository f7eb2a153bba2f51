"""The similarity report (``python -m autograder similarity``) on a synthetic class built from the
released prologue notebook: an honest majority with different correct answers, an exact copy, a
copy with renamed variables and reformatted code, and two students who both wrote the one obvious
line for ``matmul_flops``. The copies rank on top, nothing honest is flagged, and the short
obvious answers are not compared (the report says so). It reads notebooks only: no grading."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys

import pytest
from conftest import PROLOGUE, ROOT, write_submission

from autograder.layout import Course
from autograder.similarity import FLAG_SCORE, MIN_TOKENS, normalise, similarity

SIG_MM = 'def matmul_flops(m: int, n: int, k: int) -> int:\n    """Floating-point operations."""\n'
SIG_SM = "def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:\n"
SIG_TF = "def time_fn(fn, warmup: int = 2, iters: int = 5) -> float:\n"

HONEST = {
    "ana": {
        "matmul_flops": SIG_MM + "    return m * n * (2 * k)\n",
        "softmax": SIG_SM
        + """    # subtract the max for stability
    shifted = x - x.amax(dim=dim, keepdim=True)
    e = torch.exp(shifted)
    total = e.sum(dim=dim, keepdim=True)
    return e / total
""",
        "time_fn": SIG_TF
        + """    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
""",
    },
    "ben": {
        "matmul_flops": SIG_MM + "    flops = 2 * k * m * n\n    return flops\n",
        "softmax": SIG_SM
        + """    if x.dtype in (torch.float16, torch.bfloat16):
        return softmax(x.float(), dim).to(x.dtype)
    m = x.max(dim, keepdim=True).values
    m = torch.where(torch.isinf(m), torch.zeros_like(m), m)
    num = (x - m).exp()
    return num / num.sum(dim, keepdim=True)
""",
        "time_fn": SIG_TF
        + """    def run_once():
        t0 = time.time()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return time.time() - t0

    [fn() for _ in range(warmup)]
    samples = sorted(run_once() for _ in range(iters))
    mid = len(samples) // 2
    return samples[mid] if len(samples) % 2 else (samples[mid - 1] + samples[mid]) / 2
""",
    },
    "chen": {
        "matmul_flops": SIG_MM + "    return m*n*k + m*n*k\n",
        "softmax": SIG_SM
        + """    logsum = torch.logsumexp(x, dim=dim, keepdim=True)
    out = torch.exp(x - logsum)
    out = torch.nan_to_num(out, nan=0.0)
    assert out.shape == x.shape
    return out
""",
        "time_fn": SIG_TF
        + """    import timeit
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    i = 0
    while i < warmup:
        fn()
        i += 1
    sync()
    results = timeit.repeat(lambda: (fn(), sync()), number=1, repeat=iters)
    return float(statistics.median(results))
""",
    },
    "dana": {
        "matmul_flops": SIG_MM
        + "    multiplies = m * n * k\n    adds = multiplies\n    return multiplies + adds\n",
        "softmax": SIG_SM
        + """    work = x.to(torch.float32)
    peak = torch.max(work, dim=dim, keepdim=True)[0].clamp(min=-1e30)
    w = torch.exp(work - peak)
    result = w / torch.sum(w, dim=dim, keepdim=True)
    return result.type_as(x)
""",
        "time_fn": SIG_TF
        + """    clock = time.perf_counter_ns
    for n in range(warmup + iters):
        if n == warmup:
            durations = []
        begin = clock()
        fn()
        torch.cuda.synchronize() if torch.cuda.is_available() else None
        if n >= warmup:
            durations.append((clock() - begin) / 1e9)
    return statistics.median(durations)
""",
    },
    "eli": {
        "matmul_flops": SIG_MM + "    return 2 * m * n * k\n",
        "softmax": SIG_SM
        + """    moved = x.transpose(dim, -1)
    biggest, _ = moved.max(-1, keepdim=True)
    exps = (moved - biggest.nan_to_num(neginf=0.0)).exp()
    probs = exps / exps.sum(-1, keepdim=True)
    return probs.transpose(dim, -1)
""",
        "time_fn": SIG_TF
        + """    gpu = torch.cuda.is_available()
    for _ in range(warmup):
        fn()
    elapsed = []
    for _ in range(iters):
        if gpu:
            torch.cuda.synchronize()
        t = time.monotonic()
        fn()
        if gpu:
            torch.cuda.synchronize()
        elapsed.append(time.monotonic() - t)
    elapsed.sort()
    return statistics.median(elapsed)
""",
    },
}

# a copy with renamed variables and reformatted code (of ben's answers)
RENAMED = {
    "matmul_flops": SIG_MM + "    result=2*k*m*n\n    return result\n",
    "softmax": SIG_SM
    + """    if x.dtype in (torch.float16,
                   torch.bfloat16):
        return softmax(x.float(), dim).to(x.dtype)   # keep half inputs exact
    biggest = x.max(dim, keepdim = True).values
    biggest = torch.where(torch.isinf(biggest),
                          torch.zeros_like(biggest), biggest)

    numerator = (x - biggest).exp()
    return numerator / numerator.sum(dim, keepdim = True)
""",
    "time_fn": SIG_TF
    + """    def measure():
        begin = time.time()
        fn()
        if torch.cuda.is_available(): torch.cuda.synchronize()
        return time.time() - begin
    [fn() for _i in range(warmup)]
    ts = sorted(measure() for _i in range(iters))
    half = len(ts) // 2
    return ts[half] if len(ts) % 2 else (ts[half - 1] + ts[half]) / 2
""",
}

#: student -> answer cells; the copiers are the only pairs that should be flagged
CLASS = {
    **HONEST,
    "fay_copy": HONEST["ana"],  # an exact copy of ana's notebook
    "gus_renamed": RENAMED,  # ben's answers, renamed and reformatted
    "hal": {"matmul_flops": SIG_MM + "    return 2 * m * n * k\n"},  # the obvious line, as eli
}
COPIES = {("ana", "fay_copy"), ("ben", "gus_renamed")}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    subs = tmp_path_factory.mktemp("similar-class")
    for i, (sid, answers) in enumerate(CLASS.items()):
        write_submission(subs, sid, answers, as_zip=i % 2 == 1)
    out = tmp_path_factory.mktemp("similar-out")
    return similarity(Course(ROOT), PROLOGUE, subs, out), subs, out


def test_copies_rank_on_top_and_only_they_are_flagged(report):
    rep, _, _ = report
    top = rep.matches[:4]
    assert {(m.a.student, m.b.student) for m in top} == COPIES, top
    assert {m.part for m in top} == {"softmax", "time_fn"}
    flagged = {(m.part, m.a.student, m.b.student) for m in rep.matches if m.flagged}
    want = {(p, a, b) for a, b in COPIES for p in ("softmax", "time_fn")}
    assert flagged == want
    assert all(m.score > 0.9 for m in top)
    honest = [m for m in rep.matches if (m.a.student, m.b.student) not in COPIES]
    assert max(m.score for m in honest) < FLAG_SCORE


def test_short_obvious_answers_are_not_compared(report):
    rep, _, _ = report
    assert not [m for m in rep.matches if m.part == "matmul_flops"]
    assert set(rep.short["matmul_flops"]) == set(CLASS)
    # hal answered only matmul_flops: the untouched stubs of the other parts are no answer
    assert "hal" in rep.missing["softmax"] and "hal" in rep.missing["time_fn"]


def test_renaming_and_reformatting_normalise_alike():
    a = normalise("def f(x, dim):\n    total = x.sum(dim, keepdim=True)  # sum\n    return total\n")
    b = normalise(
        'def g(t,d):\n    """Doc."""\n    s=t.sum(d,\n          keepdim=True)\n    return s\n'
    )
    assert a.norm == b.norm
    assert "sum" in a.norm and "keepdim" in a.norm and "return" in a.norm
    # keeps the exact source offsets of every token (the report highlights through them)
    src = "y = len(xs)  # n\n"
    t = normalise(src)
    assert [src[s:e] for s, e in t.spans] == t.raw == ["y", "=", "len", "(", "xs", ")"]
    assert normalise("def f(:\n  'unterminated").raw[:2] == ["def", "f"]


def test_csv_and_html(report):
    rep, _, out = report
    with open(out / "similarity.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(rep.matches)
    assert list(rows[0]) == [
        "rank", "part", "student_a", "student_b", "score", "share_a", "share_b",
        "matched_tokens", "tokens_a", "tokens_b", "flagged",
    ]  # fmt: skip
    assert {(r["student_a"], r["student_b"]) for r in rows[:4]} == COPIES
    assert [r["flagged"] for r in rows[:4]] == ["yes"] * 4 and rows[4]["flagged"] == "no"
    page = (out / "similarity.html").read_text(encoding="utf-8")
    assert not re.search(r"<script|<link|src=|https?://", page), "the report is self-contained"
    assert page.count('class="pair"') == len(rep.matches)
    assert "<mark>" in page and f"under {MIN_TOKENS} tokens not compared" in page
    assert "rewritten by hand or by a language model" in page
    # the renamed copy's highlighted text is the student's own (renamed) code
    first = page.split('class="pair"')[1]
    assert "numerator" in first or "measure" in first or "total" in first


def _cli(*args, hash_seed="1"):
    return subprocess.run(
        [sys.executable, "-m", "autograder", "similarity", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONHASHSEED": hash_seed},
    )  # fmt: skip


def test_cli_writes_the_report(report, tmp_path):
    _, subs, out = report
    proc = _cli("--assignment", PROLOGUE, "--submissions", str(subs), "--out", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    assert "4 (part, pair) row(s)" in proc.stdout
    assert (tmp_path / "r" / "similarity.html").is_file()
    # the same report in another process (another string-hash seed): stable fingerprints
    again = (tmp_path / "r" / "similarity.csv").read_text(encoding="utf-8")
    assert again == (out / "similarity.csv").read_text(encoding="utf-8")


def test_wrong_inputs_get_one_sentence(report, tmp_path):
    _, subs, _ = report
    one = tmp_path / "one"
    one.mkdir()
    write_submission(one, "solo", HONEST["ana"])
    afile = tmp_path / "a-file"
    afile.write_text("x")
    cases = [
        (["--assignment", "99-nope", "--submissions", str(subs)], "unknown assignment '99-nope'"),
        (["--assignment", PROLOGUE, "--submissions", str(tmp_path / "none")], "does not exist"),
        (["--assignment", PROLOGUE, "--submissions", str(one)], "at least two students"),
        (["--assignment", PROLOGUE, "--submissions", str(subs), "--out", str(afile)], "is a file"),
    ]
    for args, phrase in cases:
        if "--out" not in args:
            args = [*args, "--out", str(tmp_path / "o")]
        proc = _cli(*args)
        assert proc.returncode == 2, (args, proc.stdout)
        assert phrase in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
