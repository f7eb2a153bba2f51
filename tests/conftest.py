from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import pytest

if TYPE_CHECKING:
    from autograder.results import StudentResult

ROOT = Path(__file__).resolve().parents[1]
PROLOGUE = "00-prologue"
#: class secrets the check tests run under (other random inputs each time)
SECRETS = ["", "class-secret-1"]

# Without a GPU, Triton kernels run in Triton's interpreter; this must be set before any test
# module imports triton (the kernels' decorator reads it once).
if not os.path.exists("/dev/nvidia0"):
    os.environ.setdefault("TRITON_INTERPRET", "1")

# nbgrader shells out to `alembic`: make the venv's bin visible to subprocesses.
os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")


def solution_cells(assignment: str = PROLOGUE, name: str = "prologue.ipynb") -> dict[str, str]:
    nb = nbformat.read(str(ROOT / "solutions" / assignment / name), as_version=4)
    return {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }


def write_submission(
    root: Path,
    sid: str,
    replace: dict[str, str] | None = None,
    *,
    edit=None,
    as_zip: bool = False,
    raw: bytes | None = None,
    assignment: str = PROLOGUE,
    name: str = "prologue.ipynb",
) -> Path:
    """A student's submission built from the release, with answer cells replaced."""
    nb = nbformat.read(str(ROOT / "exercises" / assignment / name), as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if replace and gid in replace:
            cell.source = replace[gid]
    if edit:
        edit(nb)
    data = raw if raw is not None else nbformat.writes(nb).encode()
    if as_zip:
        path = root / f"{sid}.zip"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr(f"{assignment}/{name}", data)
        return path
    d = root / sid / assignment
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)
    return d / name


#: a number as feedback prints it, not part of a word (float32, log10, llama.rmsnorm); "-" attached
_NUMBER = re.compile(r"(?<![\w.])-?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?(?!\w)")
#: counts of the values over the tolerance: a value at the tolerance's edge falls either side
_COUNT = re.compile(r"(?<![\w.])\d+(?= of \d+ values differ)")
#: tolerances widened by the reference's own rounding error, itself measured on each machine
_ROUNDING = re.compile(r"(?<=atol=)-?[\d.]+(?:[eE][-+]?\d+)?")


def feedback_parts(message: str) -> tuple[str, list[str]]:
    """(``message`` with every number replaced by ``#``, the numbers as printed)."""
    return _NUMBER.sub("#", message), _NUMBER.findall(message)


def feedback_differences(
    got: str, want: str, rel: float = 0.25, rounding_factor: float = 4.0, floor: float = 1e-6
) -> list[str]:
    """How feedback ``got`` differs from ``want`` beyond what the machine may change (empty: the
    same feedback). Computed floats vary with BLAS, FFT and CPU flags, so no test compares them as
    text: the words (named mistake, case label, dtype) must be equal exactly; integers (shapes,
    indices, sizes) exactly, except counts of values over the tolerance (``rel``); other numbers
    within ``rel`` of the larger (or both below ``floor``); an ``atol=`` within ``rounding_factor``,
    since it is ten times the reference's own rounding error there."""
    text_got, text_want = feedback_parts(got)[0], feedback_parts(want)[0]
    if text_got != text_want:
        return [f"the words differ:\n  {text_got}\n  {text_want}"]
    loose = {m.start() for m in _COUNT.finditer(got)}
    rounding = {m.start() for m in _ROUNDING.finditer(got)}
    out = []
    for a, b in zip(_NUMBER.finditer(got), _NUMBER.finditer(want), strict=True):
        x, y = float(a.group()), float(b.group())
        big = max(abs(x), abs(y))
        if a.start() in rounding:
            ok = min(abs(x), abs(y)) * rounding_factor >= big and (x >= 0) == (y >= 0)
        elif a.start() in loose or not (_integer(a.group()) and _integer(b.group())):
            ok = abs(x - y) <= rel * big or big <= floor
        else:
            ok = int(x) == int(y)
        if not ok:
            where = got[max(0, a.start() - 40) : a.end() + 40]
            out.append(f"{a.group()} (got) vs {b.group()} (want) in ...{where}...")
    return out


def _integer(number: str) -> bool:
    return number.lstrip("-").isdigit()


@functools.cache
def sandbox_isolates() -> bool:
    """Does the sandbox hide the disk and the network here (root, or user namespaces)?"""
    from autograder.sandbox.client import Zygote
    from autograder.sandbox.limits import Limits

    zygote = Zygote()
    try:
        session = zygote.spawn(Limits(), 60)
        session.kill()
        return session.isolated
    finally:
        zygote.close()


NO_ISOLATION = (
    "NO ISOLATION: neither root nor unprivileged user namespaces are available, so the sandbox "
    "cannot hide the disk or the network here (the grader refuses to grade without "
    "--no-isolation); run the tests as root or enable user namespaces"
)


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def redteam_class(tmp_path_factory) -> tuple[Path, Path]:
    """The red-team class (tests/test_redteam.py) graded once by the local pool: its submissions
    and output folders, shared by the red-team tests and the Ray tests that compare with it."""
    from test_redteam import write_redteam_class

    from autograder.layout import Course
    from autograder.service import grade_class

    subs = tmp_path_factory.mktemp("redteam-class")
    out = tmp_path_factory.mktemp("redteam-out")
    write_redteam_class(subs)
    grade_class(Course(ROOT), PROLOGUE, subs, out, workers=2, db_url=None)
    return subs, out


@pytest.fixture(scope="module")
def driver():
    """Headless Chromium for the widget tests (skips loudly when it is not installed)."""
    chromium = shutil.which("chromium") or shutil.which("google-chrome")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.skip("HEADLESS CHROMIUM IS NOT INSTALLED: run `make system-deps` as root")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(flag)
    drv = webdriver.Chrome(service=Service(driver_path), options=opts)
    try:
        yield drv
    finally:
        drv.quit()


#: the class secret of the running test (the ``secret`` fixture's value): :func:`outcome` draws
#: its inputs with it, as the grader does with the secret its settings carry
CLASS_SECRET = ""


@pytest.fixture(params=SECRETS, ids=["no-secret", "secret-1"])
def secret(request, monkeypatch):
    """Run a test without a class secret and with one (checks then draw other inputs)."""
    monkeypatch.setattr(sys.modules[__name__], "CLASS_SECRET", request.param)
    return request.param


def outcome(name: str, obj):
    """Run check ``name`` against ``obj`` in this process, at the check's seed under the test's
    class secret (see the ``secret`` fixture)."""
    from autograder.checks.runner import InKernelExecutor, run_check, seed_for
    from autograder.checks.spec import get_check

    return run_check(get_check(name), InKernelExecutor(obj), seed_for(name, "", CLASS_SECRET))


def _socket_round_trip(header: dict, tensors: dict):
    """Send one message through a socket pair with the sandbox's own framing (JSON header plus
    safetensors blob) and return what the other end reads."""
    import socket
    import threading

    from autograder.sandbox import protocol

    failed: list[BaseException] = []

    def send() -> None:
        try:
            protocol.send(a, header, tensors)
        except BaseException as exc:  # the reader then sees the socket close
            failed.append(exc)
            a.close()

    a, b = socket.socketpair()
    with a, b:
        b.settimeout(60)
        sender = threading.Thread(target=send)
        sender.start()
        try:
            got = protocol.recv(b, 2**31)
        finally:
            sender.join()
        if failed:
            raise failed[0]
    return got


def _identical(a, b) -> bool:
    """Equal to the bit, tensors by dtype, shape and values; a tuple may come back as a list."""
    import torch

    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(map(_identical, a, b))
    if isinstance(a, dict):
        return (
            isinstance(b, dict) and a.keys() == b.keys() and all(_identical(a[k], b[k]) for k in a)
        )
    return type(a) is type(b) and a == b


def assert_crosses_the_sandbox(name: str, secret: str = "", answers: bool = True) -> None:
    """Every case of check ``name`` (on the CPU, at its seed under the class ``secret``), sent to the sandbox and decoded
    there, is the case that was sent, so the student answers the case the reference answered;
    with ``answers``, the reference's answer to each case without ``init`` comes back unchanged."""
    import torch

    from autograder.checks.calling import call_target
    from autograder.checks.runner import seed_for
    from autograder.checks.spec import get_check
    from autograder.sandbox.wire import decode_case, encode_case, encode_outcome
    from coursekit.values import decode

    check = get_check(name)
    cases = list(check.cases(torch.Generator().manual_seed(seed_for(name, "", secret)), "cpu"))
    assert cases, name
    for case in cases:
        there, _, _ = decode_case(*_socket_round_trip(*encode_case(case, None, None)))
        sent = (case.label, case.grad_wrt, case.param_grads, case.device, case.dtype)
        assert (there.label, there.grad_wrt, there.param_grads, there.device, there.dtype) == sent
        assert _identical(there.init, case.init), case.label
        assert len(there.steps) == len(case.steps), case.label
        for step, got in zip(case.steps, there.steps):
            assert got.method == step.method, case.label
            assert _identical(got.args, step.args), case.label
            assert _identical(got.kwargs, step.kwargs), case.label
        if answers and case.init is None:
            out = call_target(check.reference, case, None, None)
            header, blobs = _socket_round_trip(*encode_outcome(out))
            for part in ("outputs", "input_grads", "param_grads"):
                assert _identical(decode(header[part], blobs), getattr(out, part)), case.label


@dataclass
class Mistake:
    """A student with one known mistake: in answer cell ``cell`` each ``old`` is replaced by its
    ``new``. Part ``part`` must lose its points (some of them, if ``partial``), its feedback must
    contain ``named``, and no other part may lose any (one mistake, one deduction)."""

    student: str
    cell: str
    edits: list[tuple[str, str]]
    part: str
    named: str
    partial: bool = False


def grade_mistakes(
    tmp_path: Path, assignment: str, notebook: str, full_score: float, mistakes: list[Mistake]
) -> dict[str, StudentResult]:
    """Grade, through the hardened grader, the full solution, the unanswered release and one
    student per mistake; check full marks, zero, and each mistake's contract. Returns the results
    by student id, for a test's own further checks."""
    from autograder.layout import Course
    from autograder.service import grade_class

    sol = solution_cells(assignment, notebook)
    subs = tmp_path / "subs"
    subs.mkdir()
    kw = {"assignment": assignment, "name": notebook}
    write_submission(subs, "full", sol, **kw)
    write_submission(subs, "stub", None, **kw)  # the release, unanswered
    for m in mistakes:
        cell = sol[m.cell]
        for old, new in m.edits:
            assert old in cell, (m.student, old)
            cell = cell.replace(old, new)
        write_submission(subs, m.student, {**sol, m.cell: cell}, **kw)
    results, _ = grade_class(Course(ROOT), assignment, subs, tmp_path / "out", 2, None)
    by = {r.student_id: r for r in results}
    assert by["full"].score == full_score, by["full"]
    assert by["stub"].score == 0, by["stub"]
    for m in mistakes:
        parts = {p.grade_id: p for p in by[m.student].notebooks[0].parts}
        lost = [gid for gid, p in parts.items() if p.score < p.points]
        assert lost == [m.part], (m.student, lost)
        assert m.partial or parts[m.part].score == 0, (m.student, parts[m.part])
        messages = " ".join(c.message for c in parts[m.part].checks)
        assert m.named in messages, (m.student, messages)
    return by


def open_widget(driver, tmp_path: Path, widget) -> None:
    """Load ``widget`` (a course.widgets HTML widget) alone in a page of the headless browser and
    wait until its script says it is ready."""
    from selenium.webdriver.support.ui import WebDriverWait

    page = tmp_path / "widget.html"
    page.write_text(f"<!doctype html><meta charset=utf-8><body>{widget.to_html()}</body>")
    driver.get(page.as_uri())
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return document.querySelector('[data-widget]').dataset.ready")
    )


def node_or_skip() -> str:
    """The Node.js executable that runs widgets' update functions without a browser."""
    node = shutil.which("node") or shutil.which("nodejs")
    if not node:
        pytest.skip("Node.js is not installed")
    return node


def set_control(drv, name: str, control: str, value) -> None:
    """Set control ``control`` of widget ``name`` to ``value`` as a reader would (a slider dragged,
    a number typed, an option chosen, a toggle pressed) and wait for the widget to recompute."""
    from selenium.webdriver.support.ui import Select, WebDriverWait

    root = drv.find_element("css selector", f'[data-widget="{name}"]')
    el = root.find_element("css selector", f'[data-testid="{name}-{control}"]')
    updates = root.get_attribute("data-updates")
    kind = el.get_attribute("data-kind")
    if kind == "slider":  # exact values: set as the browser does after a drag, then 'input'
        if el.get_attribute("value") == str(value):
            return
        drv.execute_script(
            "arguments[0].value = arguments[1];"
            "arguments[0].dispatchEvent(new Event('input', {bubbles: true}))",
            el,
            str(value),
        )
    elif kind == "number":
        if el.get_attribute("value") == str(value):
            return
        el.clear()
        el.send_keys(str(value))
    elif kind == "select":
        option = json.dumps(value, separators=(",", ":"))
        if el.get_attribute("value") == option:
            return
        Select(el).select_by_value(option)
    else:
        button = el.find_element(
            "css selector", f"button[data-option='{json.dumps(value, separators=(',', ':'))}']"
        )
        if button.get_attribute("aria-pressed") == "true":
            return
        button.click()
    WebDriverWait(drv, 30).until(lambda d: root.get_attribute("data-updates") != updates)


def fresh_venv(folder: Path) -> tuple[Path, Path]:
    """(python, site-packages) of a new venv without pip in ``folder/venv``, which sees the
    development venv's third-party packages after its own (one ``.pth`` line: the editable
    installs of the course and of kit/ are not processed when added this way)."""
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = subprocess.check_output(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
    ).strip()
    (Path(site) / "third_party.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return py, Path(site)


def pip_install_into(site: Path, *args: str, **run) -> subprocess.CompletedProcess:
    """``pip install --no-deps --target site ARGS`` with this interpreter's pip."""
    command = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile"]
    return subprocess.run([*command, "--target", str(site), *args], **run)
