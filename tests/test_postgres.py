"""Grades recorded in a real PostgreSQL server (Debian's postgresql, started in a temp dir)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time

import pytest
from conftest import PROLOGUE, ROOT, solution_cells, write_submission


def _pg_bin() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip(
            "PostgreSQL IS NOT INSTALLED: run `make system-deps` as root (Debian postgresql) "
            "to run the gradebook-server test"
        )
    import tempfile
    from pathlib import Path

    base = Path(tempfile.mkdtemp(prefix="ag-pg-"))  # pytest's tmp root is private to root
    os.chmod(base, 0o755)
    data = base / "data"
    data.mkdir()
    user = None
    if os.geteuid() == 0:  # initdb refuses to run as root
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
        shutil.chown(data, user.pw_uid, user.pw_gid)

    def run(*cmd):
        if user is not None:
            cmd = ("runuser", "-u", "postgres", "--", *cmd)
        return subprocess.run(cmd, capture_output=True, text=True, check=True)

    with socket.socket() as probe:  # a free port, so a server already on 5432/54329 is no problem
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run(f"{bindir}/initdb", "-D", str(data), "-A", "trust", "-U", "grader")
    run(
        f"{bindir}/pg_ctl",
        "-D",
        str(data),
        "-o",
        f"-p {port} -k {data} -c listen_addresses=127.0.0.1",
        "-l",
        str(data / "log"),
        "-w",
        "start",
    )
    try:
        for _ in range(50):
            if (
                subprocess.run(
                    [f"{bindir}/pg_isready", "-h", "127.0.0.1", "-p", str(port)]
                ).returncode
                == 0
            ):
                break
            time.sleep(0.2)
        run(f"{bindir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "grader", "gradebook")
        yield f"postgresql://grader@127.0.0.1:{port}/gradebook"
    finally:
        run(f"{bindir}/pg_ctl", "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(base, ignore_errors=True)


def test_grade_into_postgres_and_export(postgres, tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    sol = solution_cells()
    write_submission(subs, "alice", sol)
    write_submission(subs, "bob", {"matmul_flops": sol["matmul_flops"]})
    write_submission(subs, "carol", sol, as_zip=True)
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "grade",
            "--assignment",
            PROLOGUE,
            "--submissions",
            str(subs),
            "--out",
            str(out),
            "--db",
            postgres,
            "--quiet",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    csv_path = tmp_path / "export.csv"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder",
            "export",
            "--assignment",
            PROLOGUE,
            "--out",
            str(csv_path),
            "--db",
            postgres,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    rows = csv_path.read_text().splitlines()
    assert rows[1].startswith("alice,00-prologue,6,6")
    assert rows[2].startswith("bob,00-prologue,1,6")
    assert rows[3].startswith("carol,00-prologue,6,6")
