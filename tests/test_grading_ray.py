"""Grading on Ray: a two-node cluster on this machine (two raylets of 1 CPU each) grades the
red-team class and a small LLaMA class exactly as the local pool does, loses no grade when a
worker node dies mid-class, resumes after the driver is killed (regrading only the unfinished
students), and sets aside a task that kills every worker it touches instead of retrying forever.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import PROLOGUE, ROOT, sandbox_isolates, solution_cells, write_submission
from test_redteam import write_redteam_class

from autograder.layout import Course
from autograder.pool import Lost
from autograder.service import grade_class, ray_pool

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

pytestmark = pytest.mark.slow
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # test helpers reach the actors
NODE = {"num_cpus": 1, "object_store_memory": 80 * 2**20}
COURSE = Course(ROOT)
RAY_TMP = "/tmp/ray"  # where the test cluster's nodes keep their sessions and shipped files


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
    c.add_node(**NODE)
    c.wait_for_nodes()
    assert os.path.isdir(RAY_TMP)
    yield c
    c.shutdown()


def _grade(subs: Path, out: Path, assignment: str = PROLOGUE, address=None, **kw) -> str:
    if address:
        kw["make_pool"] = lambda: ray_pool(COURSE, 2, address)
    grade_class(COURSE, assignment, subs, out, 2, None, **kw)
    return (out / "grades.csv").read_text()


def _rows(csv: str) -> dict[str, str]:
    return {line.split(",", 1)[0]: line for line in csv.splitlines()[1:]}


def test_redteam_class_on_two_nodes_with_one_killed_mid_class(cluster, redteam_class, tmp_path):
    subs, local_out = redteam_class  # graded by the local pool (conftest)
    local = (local_out / "grades.csv").read_text()
    worker_node = cluster.list_all_nodes()[1]
    pools, done = [], []

    def make_pool():
        pools.append(ray_pool(COURSE, 2, cluster.address))
        return pools[0]

    killed = threading.Event()

    def kill_node():
        cluster.remove_node(worker_node, allow_graceful=False)
        killed.set()

    def kill_node_soon(result, cached):
        done.append(result.student_id)
        if len(done) == 8:  # a second later both actors are busy: one dies with its node
            threading.Timer(1.0, kill_node).start()
        if killed.is_set() and len(cluster.list_all_nodes()) < 2:
            cluster.add_node(**NODE)  # where the dead actor's replacement starts

    on_ray = _grade(subs, tmp_path / "ray", make_pool=make_pool, on_result=kill_node_soon)
    assert pools[0].deaths >= 1, "the node died while its actor was grading a student"
    assert len(pools[0].placements) >= 3, "a replacement actor graded on the new node"
    assert on_ray == local
    assert len(done) == len(_rows(local))


def test_llama_class_on_ray_matches_the_local_pool(cluster, tmp_path):
    sol = solution_cells("03-llama", "llama.ipynb")
    subs = tmp_path / "subs"
    kw = {"assignment": "03-llama", "name": "llama.ipynb"}
    write_submission(subs, "full", sol, **kw)
    write_submission(subs, "partial", {k: sol[k] for k in ("rmsnorm", "rope", "swiglu")}, **kw)
    local = _grade(subs, tmp_path / "local", "03-llama")
    assert _rows(local)["full"].startswith("full,03-llama,20,20")
    assert _grade(subs, tmp_path / "ray", "03-llama", address=cluster.address) == local


#: a student who scores only if the sandbox, inside a Ray actor, hides Ray's session files (with
#: the course copy Ray shipped) and this checkout, and shows the Python environment
SNOOP = f"""
import os, sys
SEEN = [p for p in ({RAY_TMP!r}, {str(ROOT / "autograder")!r}) if os.path.exists(p)]
SEEN += [] if os.path.isdir(sys.prefix) else ["no Python environment"]
def matmul_flops(m, n, k):
    return 2 * m * n * k if not SEEN else -1
"""


def test_driver_killed_mid_class_resumes_with_only_the_unfinished_regraded(
    cluster, redteam_class, tmp_path
):
    subs, out = tmp_path / "subs", tmp_path / "ray"
    subs.mkdir()
    students = {
        "good",
        "partial",
        "stub",
        "patch_allclose",
        "eq_always_true",
        "os_exit",
        "segfault",
    }
    write_redteam_class(subs, only=students)
    write_submission(subs, "snoop", {**solution_cells(), "matmul_flops": SNOOP})
    local = _rows((redteam_class[1] / "grades.csv").read_text())  # the local pool's rows
    cmd = [sys.executable, "-m", "autograder", "grade", "--assignment", PROLOGUE]
    cmd += ["--submissions", str(subs), "--out", str(out), "--workers", "2", "--quiet"]
    cmd += ["--ray-address", cluster.address]
    driver = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    results = out / "results"
    deadline = time.monotonic() + 180
    while len(list(results.glob("*.json"))) < 2:
        assert driver.poll() is None, driver.stderr.read().decode()
        assert time.monotonic() < deadline, "no result within 180 s"
        time.sleep(0.2)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    kept = {p.name: p.stat().st_mtime_ns for p in results.glob("*.json")}
    assert 2 <= len(kept) < len(students), "the driver was killed mid-class"
    rerun = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    after = {p.name: p.stat().st_mtime_ns for p in results.glob("*.json")}
    assert len(after) == len(students) + 1
    assert {k: after[k] for k in kept} == kept, "finished students were not graded again"
    rows = _rows((out / "grades.csv").read_text())
    snoop = rows.pop("snoop")
    if sandbox_isolates():  # the allow-list holds (root, or user namespaces)
        assert snoop.startswith("snoop,00-prologue,6,6,"), f"the sandbox saw Ray's files: {snoop}"
    assert rows == {s: local[s] for s in students}


def test_a_task_that_kills_every_worker_is_set_aside():
    """On a private local Ray instance (no address: what `--ray` alone starts)."""
    from autograder.pool_ray import RayPool

    def work(task, state):
        if task == "poison":
            os._exit(1)  # what an actor or its node dying looks like to the driver
        return task, state

    pool = RayPool(2, lambda slot: f"slot {slot}", lambda s: None)
    try:
        got = list(pool.imap_unordered(work, ["a", "poison", "b", "c"]))
    finally:
        pool.close()
    lost = [g for g in got if isinstance(g, Lost)]
    assert sorted(t for t, _ in (g for g in got if not isinstance(g, Lost))) == ["a", "b", "c"]
    assert len(lost) == 1 and lost[0].task == "poison"
    assert "failed on 3 Ray workers in a row" in lost[0].reason
    assert pool.deaths == 3 and len(pool.placements) >= 3, "fresh actors replaced the dead ones"
    assert not Path(pool._temp).exists(), "the private instance's files are removed"


def test_a_lost_student_is_reported_and_regraded_on_rerun(tmp_path):
    """The driver's side of Lost: zero with the reason in grades.csv, no key, graded next run."""
    from autograder.pool import LocalPool
    from autograder.service import close_worker, local_worker

    class LosesBob(LocalPool):
        def imap_unordered(self, fn, tasks):
            tasks = list(tasks)
            yield from (Lost(t, "its worker died") for t in tasks if t.student_id == "bob")
            yield from super().imap_unordered(fn, [t for t in tasks if t.student_id != "bob"])

    subs = tmp_path / "subs"
    subs.mkdir()
    for sid in ("ann", "bob"):
        write_submission(subs, sid, solution_cells())
    out = tmp_path / "out"
    rows = _rows(_grade(subs, out, make_pool=lambda: LosesBob(2, local_worker, close_worker)))
    assert rows["ann"].startswith("ann,00-prologue,6,6")
    assert rows["bob"].startswith("bob,00-prologue,0,6")
    assert "not graded: its worker died; rerun the command" in rows["bob"]
    assert _rows(_grade(subs, out))["bob"].startswith("bob,00-prologue,6,6")


def test_wrong_ray_addresses_and_a_missing_ray_are_one_sentence(monkeypatch):
    from autograder.errors import CourseError
    from autograder.pool_ray import connect

    with pytest.raises(CourseError, match="is not a Ray address"):
        connect("http://nowhere", 1, None)
    with pytest.raises(CourseError, match="unreachable"):
        connect("127.0.0.1:1", 1, None)
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` does when it is missing
    with pytest.raises(CourseError, match="needs the `ray` package"):
        connect(None, 1, None)


def test_workers_dying_at_start_under_token_auth_name_the_token(monkeypatch):
    """The usual cause of actors dying before they start on a cluster started by hand: this
    driver uses a token (say one an earlier local `ray.init` left in ~/.ray) and the cluster does
    not, so the cluster's calls back are refused; the sentence names the token and both fixes."""
    from autograder.pool_ray import _start_death_hint

    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    assert "RAY_AUTH_MODE=disabled" in _start_death_hint()
    assert "same token" in _start_death_hint()
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    assert "token" not in _start_death_hint() and "ray logs" in _start_death_hint()


def test_a_failed_join_drops_rays_own_retry_lines_and_a_good_one_keeps_them(capfd):
    """Ray's C++ client writes each refused retry to descriptor 2, below Python's logging: a
    failed join shows only the grader's sentence; a good one passes the lines on as they came."""
    from autograder.pool_ray import _stderr_kept_unless_failed

    with pytest.raises(ConnectionError), _stderr_kept_unless_failed():
        os.write(2, b"gcs_client.cc:210: Failed to get cluster ID\n")
        raise ConnectionError("refused")
    assert capfd.readouterr().err == ""
    with _stderr_kept_unless_failed():
        os.write(2, b"a line from a good join\n")
    assert capfd.readouterr().err == "a line from a good join\n"


def test_joining_waits_for_a_just_started_heads_node_to_register(monkeypatch):
    """Ray 2.60's ``ray.init`` fails at once when the local raylet has not registered with the
    GCS yet (a head started a moment before, a loaded machine): the join retries that, and only
    that, until NODE_REGISTRATION_WAIT_S."""
    from autograder import pool_ray

    class FakeRay:
        def __init__(self, failures: int, why: str):
            self.failures, self.why, self.calls, self.shutdowns = failures, why, 0, 0

        def init(self, address, **kw):
            self.calls += 1
            if self.calls <= self.failures:
                cause = RuntimeError(self.why)
                raise ConnectionError("could not connect") from cause

        def shutdown(self):
            self.shutdowns += 1

    monkeypatch.setattr(pool_ray.time, "sleep", lambda s: None)
    late = FakeRay(3, "No node info found matching attributes: '' when trying to resolve node")
    pool_ray._join(late, "127.0.0.1:6379", {})
    assert (late.calls, late.shutdowns) == (4, 3)
    refused = FakeRay(1, "InvalidAuthToken")
    with pytest.raises(ConnectionError):
        pool_ray._join(refused, "127.0.0.1:6379", {})
    assert refused.calls == 1
    monkeypatch.setattr(pool_ray, "NODE_REGISTRATION_WAIT_S", -1.0)
    never = FakeRay(99, "No node info found matching attributes: ''")
    with pytest.raises(ConnectionError):
        pool_ray._join(never, "127.0.0.1:6379", {})
    assert never.calls == 1
