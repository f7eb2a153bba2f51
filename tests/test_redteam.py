"""Red team: hostile and broken submissions graded by the hardened path in one class run.

Each case states the honest score and a phrase the reason must contain. The run must finish,
other students must be unaffected, and no grade may be faked.
"""

from __future__ import annotations

import json
import socket
import threading
import zipfile
from pathlib import Path

import nbformat
import pytest
from conftest import (
    NO_ISOLATION,
    PROLOGUE,
    ROOT,
    sandbox_isolates,
    solution_cells,
    write_submission,
)

SOL = solution_cells()
WRONG_SOFTMAX = "def softmax(x, dim=-1):\n    return x\n"


def _listener() -> tuple[socket.socket, int]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    threading.Thread(target=lambda: [srv.accept() for _ in range(8)], daemon=True).start()
    return srv, srv.getsockname()[1]


SERVER, PORT = _listener()


def _edit_tests(nb):
    for c in nb.cells:
        meta = c.metadata.get("nbgrader", {})
        if meta.get("grade"):
            meta["points"] = 100
            c.source = "pass"


def _delete_tests(nb):
    nb.cells = [c for c in nb.cells if not c.metadata.get("nbgrader", {}).get("grade")]


def _rename_softmax(nb):
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("grade_id") == "softmax":
            c.metadata["nbgrader"]["grade_id"] = "softmax_v2"
            c.source = SOL["softmax"]


def _solution_everywhere(nb):
    """Mark the answer cells as worth 1000 points and as 'already graded'."""
    for c in nb.cells:
        meta = c.metadata.get("nbgrader", {})
        if meta.get("solution"):
            meta.update({"grade": True, "points": 1000})
    nb.metadata["autograder"] = {"timeout_s": 100000}


#: a student who walks the whole disk for the course's solution, reference and check files (and
#: other students' notebooks): its part fails, naming what it found, if anything is visible
#: (the system's and the packages' own trees are skipped: a walk through torch takes seconds)
WALK_DISK = """import os
found = []
for top, dirs, files in os.walk("/"):
    if top in ("/proc", "/sys", "/dev", "/usr") or top.endswith("site-packages"):
        dirs[:] = []
        continue
    found += [os.path.join(top, f) for f in files
              if f.startswith("prologue.") and f.endswith((".py", ".ipynb"))]
if found:
    raise RuntimeError("found on disk: " + ", ".join(found[:10]))
"""

# (student id, answer-cell replacements, notebook edit, expected score, phrase in notes/messages)
CASES = [
    ("good", SOL, None, 6, ""),
    (
        "partial",
        {
            **SOL,
            "softmax": "def softmax(x, dim=-1):\n    e = x.exp()\n    return e / e.sum(dim, keepdim=True)\n",
        },
        None,
        3,
        "subtracting the max",
    ),
    ("stub", {}, None, 0, "not implemented"),
    (
        "patch_allclose",
        {
            **SOL,
            "softmax": "import torch\ntorch.allclose = lambda *a, **k: True\ntorch.testing.assert_close = lambda *a, **k: None\ntorch.isclose = lambda a, b, **k: torch.ones_like(a, dtype=torch.bool)\n"
            + WRONG_SOFTMAX,
        },
        None,
        3,
        "values differ",
    ),
    (
        "patch_builtins",
        {
            **SOL,
            "softmax": "import builtins\nbuiltins.AssertionError = type('Nope', (Exception,), {})\nbuiltins.isinstance = lambda *a: True\n"
            + WRONG_SOFTMAX,
        },
        None,
        3,
        "softmax",
    ),
    (
        "eq_always_true",
        {
            **SOL,
            "matmul_flops": "class Yes(int):\n    def __eq__(self, o): return True\n    def __ne__(self, o): return False\ndef matmul_flops(m, n, k):\n    return Yes(0)\n",
        },
        None,
        5,
        "expected 2, got 0",
    ),
    (
        "prints_passed",
        {"matmul_flops": "print('All tests passed! Score: 6/6')\nprint('\\x1b[32mPASSED\\x1b[0m')"},
        None,
        0,
        "not defined",
    ),
    (
        "sys_exit",
        {**SOL, "matmul_flops": "import sys\nsys.exit(0)\n" + SOL["matmul_flops"]},
        None,
        5,
        "SystemExit",
    ),
    ("os_exit", {**SOL, "softmax": "import os\nos._exit(0)\n"}, None, 3, "exited with code 0"),
    (
        "loop_in_call",
        {**SOL, "softmax": "def softmax(x, dim=-1):\n    while True:\n        pass\n"},
        None,
        3,
        "time limit",
    ),
    ("loop_at_top", {**SOL, "matmul_flops": "while True:\n    pass\n"}, None, 5, "time limit"),
    (
        "memory_bomb",
        {
            **SOL,
            "softmax": "def softmax(x, dim=-1):\n    hog = bytearray(64 * 2**30)\n    return x\n",
        },
        None,
        3,
        "MemoryError",
    ),
    (
        "fork_bomb",
        {
            **SOL,
            "matmul_flops": "import os\nfor _ in range(200):\n    try:\n        os.fork()\n    except OSError:\n        break\n",
        },
        None,
        5,
        "matmul_flops",
    ),
    (
        "segfault",
        {
            **SOL,
            "softmax": "def softmax(x, dim=-1):\n    import ctypes\n    return ctypes.string_at(0)\n",
        },
        None,
        3,
        "segmentation fault (SIGSEGV)",
    ),
    ("huge_output", {**SOL, "softmax": "print('x' * 50_000_000)\n" + SOL["softmax"]}, None, 6, ""),
    (
        "huge_return",
        {
            **SOL,
            "softmax": "import torch\ndef softmax(x, dim=-1):\n    if x.requires_grad:\n        return x.softmax(dim)\n    return torch.zeros(2**26 + 1)\n",
        },
        None,
        3,
        "MB limit",
    ),
    (
        "read_solutions",
        {
            **SOL,
            "matmul_flops": f"src = open({str(ROOT / 'solutions' / PROLOGUE / 'prologue.ipynb')!r}).read()\n"
            + SOL["matmul_flops"],
        },
        None,
        5,
        "No such file",
    ),
    (
        "import_reference",
        {**SOL, "softmax": "from course.prologue import softmax\n"},
        None,
        3,
        "No module named",
    ),
    (
        "import_checks",
        {**SOL, "softmax": "from autograder.chapters.prologue import ref\nsoftmax = ref.softmax\n"},
        None,
        3,
        "No module named",
    ),
    (
        "fake_autograder",
        {
            "matmul_flops": "import sys, types\nm = types.ModuleType('autograder.checks')\nm.check = lambda *a, **k: print('passed')\nsys.modules['autograder.checks'] = m\nsys.modules['autograder'] = m\n"
        },
        None,
        0,
        "not defined",
    ),
    (
        "kill_parent",
        {
            **SOL,
            "matmul_flops": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos.killpg(os.getpgid(os.getppid()), signal.SIGKILL)\n"
            + SOL["matmul_flops"],
        },
        None,
        5,
        "matmul_flops",
    ),
    (
        "network",
        {
            **SOL,
            "matmul_flops": f"import socket\nsocket.create_connection(('127.0.0.1', {PORT}), timeout=2)\n"
            + SOL["matmul_flops"],
        },
        None,
        5,
        "matmul_flops",
    ),
    ("walk_disk", {**SOL, "matmul_flops": WALK_DISK + SOL["matmul_flops"]}, None, 6, ""),
    (
        "edit_tests",
        {"matmul_flops": SOL["matmul_flops"], "time_fn": SOL["time_fn"]},
        _edit_tests,
        3,
        "not implemented",
    ),
    ("delete_tests", {**SOL, "softmax": WRONG_SOFTMAX}, _delete_tests, 3, "values differ"),
    (
        "renamed_cell",
        {"matmul_flops": SOL["matmul_flops"], "time_fn": SOL["time_fn"]},
        _rename_softmax,
        3,
        "missing from the submission",
    ),
    (
        "metadata_points",
        {"matmul_flops": SOL["matmul_flops"]},
        _solution_everywhere,
        1,
        "not implemented",
    ),
    (
        "write_outside",
        {
            **SOL,
            "matmul_flops": f"open({str(ROOT / 'pwned.txt')!r}, 'w').write('x')\n"
            + SOL["matmul_flops"],
        },
        None,
        5,
        "matmul_flops",
    ),
]
_FORGE = """
import json, os, socket, struct


def _forge(payload: bytes) -> None:
    for fd in range(3, 64):
        try:
            s = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        if s.family == socket.AF_UNIX:
            s.sendall(payload)


def softmax(x, dim=-1):
    _forge(PAYLOAD)
    import time
    time.sleep(30)
"""
HUGE = "PAYLOAD = struct.pack('>QQ', 2, 2**40) + b'{}'\n"
FAKE = (
    "head = json.dumps({'ok': True, 'outputs': {'__seq__': [{'__tensor__': 'nope'}]}, 'input_grads': "
    "{'__seq__': []}, 'param_grads': {'__dict__': {}}, 'param_shapes': {}, 'sleeper_calls': []}).encode()\n"
    "PAYLOAD = struct.pack('>QQ', len(head), 0) + head\n"
)
CASES += [
    ("forged_huge_reply", {**SOL, "softmax": _FORGE + HUGE}, None, 3, "exceeds the limit"),
    ("forged_reply", {**SOL, "softmax": _FORGE + FAKE}, None, 3, "malformed data"),
]
BROKEN_FILES = [  # (student id, how, expected note)
    ("malformed_json", "raw", "not valid JSON"),
    ("not_a_zip", "badzip", "not a readable zip"),
    ("empty_zip", "emptyzip", "holds no .ipynb"),
    ("zipped_good", "zip", ""),
]


def write_redteam_class(subs: Path, only: set[str] | None = None) -> None:
    """The red-team class: every hostile case and broken file above (``only``: these students)."""
    for sid, replace, edit, _, _ in CASES:
        if only is None or sid in only:
            write_submission(subs, sid, replace, edit=edit)
    if only is not None:
        return
    write_submission(subs, "malformed_json", raw=b"{this is not json")
    (subs / "not_a_zip.zip").write_bytes(b"PK\x03\x04 but not really a zip")
    with zipfile.ZipFile(subs / "empty_zip.zip", "w") as zf:
        zf.writestr("README.txt", "nothing here")
    write_submission(subs, "zipped_good", SOL, as_zip=True)


@pytest.fixture(scope="module")
def graded(redteam_class):
    """The class graded by the local pool (conftest's session fixture, shared with test_grading_ray)."""
    _, out = redteam_class
    results = [json.loads(p.read_text()) for p in (out / "results").glob("*.json")]
    return {r["student_id"]: r for r in results}, out


def _reasons(result) -> str:
    msgs = [c["message"] for nb in result["notebooks"] for p in nb["parts"] for c in p["checks"]]
    return " | ".join(result["notes"] + msgs)


# These rely on the isolation layer of the sandbox (mount/network namespaces: as root, or in an
# unprivileged user namespace).
NEEDS_ISOLATION = {
    "read_solutions",
    "import_reference",
    "import_checks",
    "kill_parent",
    "network",
    "write_outside",
    "walk_disk",
}


@pytest.mark.parametrize("sid,expected,phrase", [(c[0], c[3], c[4]) for c in CASES])
def test_hostile_submission_gets_the_honest_score(graded, sid, expected, phrase):
    if sid in NEEDS_ISOLATION and not sandbox_isolates():
        pytest.skip(NO_ISOLATION)
    results, _ = graded
    r = results[sid]
    assert r["max_score"] == 6, "points come from the source notebook, not the submission"
    assert r["score"] == expected, _reasons(r)
    assert phrase in _reasons(r)


@pytest.mark.parametrize("sid,how,phrase", BROKEN_FILES)
def test_broken_files_cost_only_that_student(graded, sid, how, phrase):
    results, _ = graded
    r = results[sid]
    assert r["score"] == (6 if sid == "zipped_good" else 0), _reasons(r)
    assert phrase in _reasons(r)


def test_nothing_escaped_the_sandbox(graded):
    if sandbox_isolates():  # the checkout is covered read-only: a write cannot reach it
        assert not (ROOT / "pwned.txt").exists()
    results, _ = graded
    assert len(results) == len(CASES) + len(BROKEN_FILES)


def test_feedback_explains_without_hidden_test_source(graded):
    results, out = graded
    html = (out / "feedback" / "partial" / "prologue.html").read_text()
    assert "subtracting the max" in html and "3 / 6" in html
    assert "BEGIN HIDDEN" not in html and 'check("prologue.softmax", softmax)' not in html
    assert "visible checks" in html  # tells the student hidden checks test more


def test_grades_csv_has_parts_and_notes(graded):
    _, out = graded
    lines = (out / "grades.csv").read_text().splitlines()
    assert lines[0].split(",")[:4] == ["student_id", "assignment", "score", "max_score"]
    assert "prologue:test_softmax" in lines[0] and lines[0].endswith("notes")
    assert any(line.startswith("not_a_zip,") and "zip" in line for line in lines)


def test_released_stub_is_not_runnable_for_points():
    nb = nbformat.read(str(ROOT / "exercises" / PROLOGUE / "prologue.ipynb"), as_version=4)
    assert all(
        "NotImplementedError" in c.source
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    )
