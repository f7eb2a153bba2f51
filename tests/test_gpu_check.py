"""``tools/gpu_check.py`` (``make gpu-check``) on the CPU, in its dry-run mode, so that the GPU check
cannot rot between the rare runs on a GPU: every section runs its code paths with tiny settings and
reports ok or, with a reason, not run; the stand-ins for packages a GPU machine may lack read what
the packages read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import ROOT

SCRIPT = ROOT / "tools" / "gpu_check.py"
SECTIONS = ["environment", "validate", "sweep", "triton", "kit", "benchmarks"]
STATUSES = {"ok", "failed", "not run"}
#: what a GPU machine's own Python may lack (the issue: no nbgrader, perhaps no nbformat, ...)
ABSENT = ["nbformat", "safetensors", "regex", "scipy", "typer", "jupytext", "nbgrader", "whisper"]

sys.path.insert(0, str(ROOT / "tools"))
import gpu_check  # noqa: E402


def _dry_run(
    out: Path, absent: list[str] = (), sections: list[str] = ()
) -> tuple[subprocess.CompletedProcess, dict]:
    code = (
        "import runpy, sys\n"
        f"for m in {list(absent)!r}: sys.modules[m] = None  # import of m raises ImportError\n"
        f"sys.argv = ['tools/gpu_check.py', '--dry-run', '--out', {str(out)!r}]\n"
        + (f"sys.argv += ['--sections', *{list(sections)!r}]\n" if sections else "")
        + "runpy.run_path('tools/gpu_check.py', run_name='__main__')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=240
    )
    report = out / "gpu_check.json"
    assert report.is_file(), proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc, json.loads(report.read_text())


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    return _dry_run(tmp_path_factory.mktemp("gpu-check"))


def _items(report: dict) -> list[tuple[str, dict]]:
    return [(name, i) for name, s in report["sections"].items() for i in s.get("items", [])]


def test_dry_run_reports_every_section_ok_or_not_run_with_a_reason(dry_run):
    proc, report = dry_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert list(report["sections"]) == SECTIONS
    assert report["status"] == "ok"
    for name, section in report["sections"].items():
        assert section["status"] in STATUSES - {"failed"}, (name, section)
        assert section["summary"], name
    for name, it in _items(report):
        assert it["status"] in STATUSES - {"failed"}, (name, it)
        assert it["name"] and it["detail"], (name, it)  # a not-run item says why
    env = report["sections"]["environment"]["details"]
    assert env["torch"] == torch.__version__ and env["dry_run"] is True
    assert {"python", "triton", "device", "dependencies", "pins"} <= set(env)


def test_dry_run_exercises_every_kind_of_item(dry_run):
    _, report = dry_run
    s = report["sections"]
    names = [i["name"] for i in s["validate"]["items"]]
    assert any(": solution " in n for n in names) and any(": stub " in n for n in names)
    assert any(n.startswith("mistake ") for n in names)
    assert s["validate"]["status"] == s["sweep"]["status"] == s["kit"]["status"] == "ok"
    for score in s["validate"]["scores"]:  # full marks for the parts run, the stub zero
        assert score["solution"] == score["max_of_parts_run"] > 0 and score["stub"] == 0, score
    kernels = s["triton"]["items"]
    assert {i["name"].split(" ")[0] for i in kernels} >= {
        "course.llama.triton_rmsnorm.rmsnorm",
        "course.bert_gpt.flash_attention",
        "solution",
    }
    for i in kernels:  # the interpreter (a child process) ran and matched the reference
        assert i["diffs"]["interpreter_vs_reference"] <= 1.0, i
        if not torch.cuda.is_available():  # this process's kernels stood in for compiled ones
            assert i["status"] == "not run" and "no CUDA" in i["detail"], i
            assert i["diffs"]["this_process_vs_interpreter"] <= 1.0, i


def test_dry_run_writes_benchmark_json_in_the_books_format(dry_run, tmp_path):
    _, report = dry_run
    ran = [i for i in report["sections"]["benchmarks"]["items"] if i["status"] == "ok"]
    assert ran, report["sections"]["benchmarks"]
    out = Path(report["out"])
    for i in ran:
        data = json.loads((out / i["file"]).read_text())
        assert {"device", "torch", "columns", "rows"} <= set(data), i
        assert data["rows"] and all(len(r) == len(data["columns"]) for r in data["rows"])


def test_a_machine_without_the_projects_packages_gets_stand_ins_and_reasons(tmp_path):
    proc, report = _dry_run(tmp_path, ABSENT, ["validate", "triton", "kit"])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    env = report["sections"]["environment"]["details"]
    assert set(env["standins"]) == {"nbformat", "safetensors"}
    assert env["dependencies"]["regex"].startswith("missing")
    assert report["sections"]["kit"]["status"] == "ok"  # snapshots read by the stand-in
    not_run = [i for _, i in _items(report) if i["status"] == "not run"]
    assert any("regex" in i["detail"] for i in not_run), not_run  # the tokenization checks


def test_the_stand_ins_read_what_the_packages_read(tmp_path):
    import nbformat
    from safetensors.torch import load_file, save_file

    tensors = {
        "a": torch.randn(3, 4),
        "b": torch.randn(2, dtype=torch.float64).to(torch.bfloat16),
        "c": torch.arange(5),
        "d": torch.tensor([True, False]),
        "e": torch.empty(0, 3),
    }
    save_file(tensors, str(tmp_path / "t.safetensors"))
    _, standin = gpu_check._safetensors_standin()
    got, want = (
        standin.load_file(str(tmp_path / "t.safetensors")),
        load_file(str(tmp_path / "t.safetensors")),
    )
    assert got.keys() == want.keys()
    for k in want:
        assert got[k].dtype == want[k].dtype and torch.equal(got[k], want[k]), k
    path = ROOT / "solutions" / "03-llama" / "llama.ipynb"
    ours, theirs = gpu_check._nbformat_standin().read(path, as_version=4), nbformat.read(path, 4)
    assert ours.metadata == theirs.metadata
    assert [(c.cell_type, c.source, c.metadata) for c in ours.cells] == [
        (c.cell_type, c.source, c.metadata) for c in theirs.cells
    ]


def test_it_refuses_cpu_figures_in_the_books_gpu_folder():
    assert gpu_check.main(["--dry-run", "--out", str(gpu_check.BOOK_GPU)]) == 2
    if not torch.cuda.is_available():
        assert gpu_check.main(["--out", "/nonexistent/gpu-check"]) == 2


def test_wheels_brought_along_are_unpacked_at_the_end_of_sys_path(tmp_path, monkeypatch):
    import zipfile

    monkeypatch.setattr(sys, "path", list(sys.path))
    here = f"cp{sys.version_info.major}{sys.version_info.minor}"
    with zipfile.ZipFile(tmp_path / "zz_gpu_probe-0.1-py3-none-any.whl", "w") as z:
        z.writestr("zz_gpu_probe.py", "VALUE = 42\n")
    (tmp_path / "other-1.0-cp30-cp30-manylinux2014_x86_64.whl").write_bytes(b"")
    added = gpu_check.add_wheels(tmp_path)
    assert added[0].endswith("(skipped: built for another Python)")
    assert added[1] == "zz_gpu_probe-0.1-py3-none-any.whl"
    assert gpu_check.wheel_fits(f"x-1-{here}-{here}-linux_x86_64.whl")
    assert gpu_check.wheel_fits("safetensors-0.8.0-cp310-abi3-manylinux_2_17_x86_64.whl")
    import zz_gpu_probe

    assert zz_gpu_probe.VALUE == 42 and sys.path[-1] != str(tmp_path)
    sys.modules.pop("zz_gpu_probe")
