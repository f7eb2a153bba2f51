"""`python -m autograder validate --all`: every source notebook scores full marks through the
hardened grader, every released stub scores zero without crashing."""

import subprocess
import sys

from conftest import ROOT


def test_validate_all_assignments():
    proc = subprocess.run(
        [sys.executable, "-m", "autograder", "validate", "--all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "00-prologue" in proc.stdout and "03-llama" in proc.stdout
    assert "NO" not in proc.stdout
