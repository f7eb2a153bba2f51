"""Grading on a Ray cluster started elsewhere (`ray start --head` in a shell of its own, whose
processes do not inherit the driver's environment): the class secret reaches its workers in the
grading settings. In a module of its own, so that no other test's cluster is running beside it.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import PROLOGUE, solution_cells, write_submission

from autograder.layout import Course
from autograder.pool_ray import _reachable

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow
COURSE = Course(Path(__file__).resolve().parents[1])


def _grade(subs: Path, out: Path, address: str, secret: str, auth: dict[str, str]):
    """The instructor's command, in a fresh driver process (no Ray state left by other tests),
    the secret in the driver's environment only, with the cluster's Ray authentication ``auth``
    (never a token that an earlier local cluster left in this user's ``~/.ray``)."""
    cmd = [sys.executable, "-m", "autograder", "grade", "--assignment", PROLOGUE, "--quiet"]
    cmd += ["--submissions", str(subs), "--out", str(out), "--ray-address", address]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    env.update(auth, AUTOGRADER_SECRET=secret)
    return subprocess.run(
        cmd, cwd=COURSE.root, env=env, capture_output=True, text=True, timeout=600
    )


#: a student whose softmax answers every hidden case with a digest of its input: the grader's
#: message then shows which inputs the check drew
DIGEST = """import hashlib
def softmax(x, dim=-1):
    data = x.detach().cpu().contiguous().numpy().tobytes()
    raise RuntimeError("input digest " + hashlib.sha256(data).hexdigest()[:16])
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _digests(out: Path) -> dict[str, list[str]]:
    import json

    found = {}
    for path in (out / "results").glob("*.json"):
        result = json.loads(path.read_text())
        messages = [
            c["message"] for nb in result["notebooks"] for p in nb["parts"] for c in p["checks"]
        ]
        found[result["student_id"]] = re.findall(r"input digest ([0-9a-f]{16})", " ".join(messages))
    return found


def _digests_here(student: str, secret: str) -> list[str]:
    """The digests the probe student's check shows when run in this process with ``secret``
    (the same seed rule as the grader's settings)."""
    from autograder.checks.runner import InKernelExecutor, run_check
    from autograder.checks.spec import get_check
    from autograder.grading import GradeSettings

    namespace: dict = {}
    exec(DIGEST, namespace)
    name = "prologue.softmax"
    seed = GradeSettings(hidden=[], secret=secret).seed(name, student)
    result = run_check(get_check(name), InKernelExecutor(namespace["softmax"]), seed)
    return re.findall(r"input digest ([0-9a-f]{16})", result.message)


def test_a_cluster_started_elsewhere_draws_the_drivers_secret_inputs(tmp_path):
    """`ray start --head` in a shell of its own (a clean environment: no AUTOGRADER_SECRET): the
    class secret reaches its workers in the grading settings, so the hidden inputs (shown by a
    probe student's digests) are the local pool's with the same secret, and not the public ones."""
    subs = tmp_path / "subs"
    for sid in ("ann", "bob"):
        write_submission(subs, sid, {**solution_cells(), "softmax": DIGEST})
    # every port a fresh one: agents of another test's cluster may still hold Ray's defaults
    names = ["port", "ray-client-server-port", "node-manager-port", "object-manager-port"]
    names += ["runtime-env-agent-port", "dashboard-agent-grpc-port", "dashboard-agent-listen-port"]
    names += ["metrics-export-port"]
    ports = {name: _free_port() for name in names}
    port = ports["port"]
    temp = tempfile.mkdtemp(prefix="ag-ray-ext-", dir="/tmp")  # short: Ray's socket paths
    # token authentication, Ray's default from 2.61 on: the head's shell and the driver's share
    # one token file, as the instructors' guide says to set it up
    token = tmp_path / "auth_token"
    token.write_text(secrets.token_hex(32))
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}
    head = subprocess.Popen(
        [str(Path(sys.executable).parent / "ray"), "start", "--head", "--block"]
        + [f"--{name}={value}" for name, value in ports.items()]
        + ["--num-cpus=2"]
        + ["--include-dashboard=false", f"--temp-dir={temp}", "--disable-usage-stats"],
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8", **auth},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not _reachable(f"127.0.0.1:{port}", 1.0):
            assert head.poll() is None, head.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the Ray head did not start within 120 s"
            time.sleep(0.5)
        # the raylet registers after the GCS answers: ready when `ray status` sees a node
        status = [str(Path(sys.executable).parent / "ray"), "status", f"--address=127.0.0.1:{port}"]
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **auth}
        while subprocess.run(status, env=env, capture_output=True, timeout=120).returncode:
            assert head.poll() is None, head.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the Ray head had no node within 120 s"
            time.sleep(1)
        address = f"127.0.0.1:{port}"
        assert "AUTOGRADER_SECRET" not in os.environ
        run = _grade(subs, tmp_path / "cluster", address, "class-secret", auth)
        assert run.returncode == 0, run.stderr[-3000:]
        # a driver without the cluster's token is refused in one sentence, and grades nothing
        wrong = {"RAY_AUTH_MODE": "disabled"}
        refused = _grade(subs, tmp_path / "refused", address, "class-secret", wrong)
        assert refused.returncode != 0, refused.stderr
        assert (
            refused.stderr.count("\n") == 1 and "refused this command's Ray token" in refused.stderr
        ), refused.stderr[-3000:]
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        shutil.rmtree(temp, ignore_errors=True)
    cluster = _digests(tmp_path / "cluster")
    local = {s: _digests_here(s, "class-secret") for s in ("ann", "bob")}  # this process's draw
    public = {s: _digests_here(s, "") for s in ("ann", "bob")}
    assert cluster["ann"] and cluster == local, (cluster, local)
    assert cluster["ann"] != cluster["bob"], "with a secret, each student draws other inputs"
    assert public["ann"] == public["bob"] and not set(public["ann"]) & set(cluster["ann"])
