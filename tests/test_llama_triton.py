"""The Triton pin, and the course's fused RMSNorm kernel against the reference: on the CPU through
Triton's interpreter, on a GPU compiled."""

import os
import subprocess
import sys
import textwrap

import pytest
import torch
import triton
from conftest import ROOT


def test_triton_is_the_pinned_version():
    assert triton.__version__ == "3.8.0", (
        "pyproject pins triton==3.8.0 (the one torch 2.14.1 ships with)"
    )


def test_fused_rmsnorm_matches_reference_in_the_interpreter():
    code = textwrap.dedent("""
        import torch
        from course.llama import RMSNorm
        from course.llama.triton_rmsnorm import rmsnorm
        for rows, d, eps in ((4, 64, 1e-6), (3, 33, 0.1), (2, 1000, 1e-5)):
            x = torch.randn(rows, d)
            ref = RMSNorm(d, eps)
            with torch.no_grad():
                ref.weight.normal_()
                torch.testing.assert_close(rmsnorm(x, ref.weight, eps), ref(x), rtol=1e-5, atol=1e-5)
        print("ok")
    """)
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fused_rmsnorm_on_gpu_bf16():
    from course.llama import RMSNorm
    from course.llama.triton_rmsnorm import rmsnorm

    x = torch.randn(64, 4096, device="cuda", dtype=torch.bfloat16)
    ref = RMSNorm(4096, 1e-5).cuda()
    torch.testing.assert_close(rmsnorm(x, ref.weight, 1e-5), ref(x), rtol=2e-2, atol=2e-2)
