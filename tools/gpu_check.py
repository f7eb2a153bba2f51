"""One prepared GPU check of the whole course (issue 22): about 2 minutes on one H200 (125 s on 2026-12-04).

Run, on a machine with CUDA, from the repository root, with whatever Python has torch and Triton
(no virtual environment or network is needed)::

    make gpu-check            # python3 tools/gpu_check.py --out book/_static/benchmarks/gpu
    make gpu-check GPU_PYTHON=/opt/py/bin/python3.12 GPU_OUT=/tmp/out GPU_ARGS="--budget 400"
    python3 tools/gpu_check.py --out DIR [--budget 480] [--wheels .gpu-wheels] [--sections ...]

(then copy DIR's JSON files into ``book/_static/benchmarks/gpu/`` if they were written elsewhere),
and, on any machine, the same code paths on the CPU with tiny settings (what
``tests/test_gpu_check.py`` runs, so that this script cannot rot)::

    .venv/bin/python tools/gpu_check.py --dry-run --out /tmp/gpu-check

Sections, each with its share of ``--budget`` (seconds; items left when a section's time is up are
reported as not run):

1. ``environment``: Python, torch, Triton, the CUDA device, the pins they differ from, and which of
   the project's dependencies import here (with what stood in for a missing one).
2. ``validate``: ``validate --all`` in this process, on CUDA: every source notebook's solution
   passes every check its test cells call (full marks), the released stub fails them (zero), and
   every named mistake of every hidden check fails and is named (the machinery of
   ``tests/test_checks_registry.py``: ``autograder.checks.runner`` and ``autograder.validate``).
3. ``sweep``: ``autograder.validate.sweep`` over 2 class secrets x student ids.
4. ``triton``: every Triton kernel (``course/`` and the solutions' graded kernels), compiled for
   the GPU here and run through Triton's interpreter on the same inputs in a child process (Triton
   chooses between the two when ``triton.language`` is imported), compared with each other and
   with a plain-torch reference.
5. ``kit``: the student kit's visible checks (``coursekit.replay``, from its snapshots) on CUDA,
   against the solutions.
6. ``benchmarks``: the benchmarks with a GPU path (``benchmarks/llama_rmsnorm.py``,
   ``llama_kv_memory.py``, ``scaling_mfu.py``, ``llama_decode.py``) with short settings, each
   writing its JSON (the CPU benchmarks' format) next to the report.

The report is ``<out>/gpu_check.json``, rewritten after every section (a run cut short still
leaves one); the book's page *LLaMA on real weights* shows it beside the CPU figures. Exit status:
0 when nothing failed (sections that could not run are reported, with why, and do not fail), 1
when something failed, 2 for bad usage (a full run without CUDA, or a dry run into the book).

The GPU machine has its own Python and packages (another Python, an older torch and Triton than the
pins, perhaps no nbformat, safetensors or regex): everything runs in this process (the Triton
section's interpreter side in a child of the same Python), importing only what a section needs; a
missing module makes that section (or item) "not run" with the module's name. Two small readers
stand in when their package is missing (a notebook is JSON, a safetensors file is a JSON header and
raw bytes; both are reported), and ``--wheels DIR`` (default ``.gpu-wheels`` when it exists; ``make
gpu-wheels`` downloads safetensors and regex there for Python 3.12, ``GPU_PY_VERSION=...`` for
another) adds the wheels that fit this Python, unpacked to a temporary folder at the end of
``sys.path``. That folder is git-ignored: carry it along with the working tree.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import io
import json
import linecache
import math
import os
import platform
import re
import sys
import tempfile
import time
import traceback
import types
import zipfile
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BOOK_GPU = ROOT / "book" / "_static" / "benchmarks" / "gpu"
REPORT = "gpu_check.json"
FORMAT = 1
OK, FAILED, NOT_RUN = "ok", "failed", "not run"
#: each section's share of the time budget (of the time left when it starts; the environment
#: report takes none). Measured on 2 CPU cores, full settings: validate 48 s, sweep 133 s,
#: triton 14 s, kit 3 s; the benchmarks' GPU settings are short.
SHARES = {
    "environment": 0.0,
    "validate": 0.30,
    "sweep": 0.25,
    "triton": 0.10,
    "kit": 0.05,
    "benchmarks": 0.30,
}
#: the project's dependencies whose presence the environment report records
DEPENDENCIES = [
    "numpy",
    "scipy",
    "safetensors",
    "nbformat",
    "regex",
    "transformers",
    "gguf",
    "sklearn",
    "tiktoken",
    "whisper",
    "jupytext",
    "nbgrader",
    "typer",
    "rich",
]
SWEEP_SECRETS = 2


# --------------------------------------------------------------------------------------------
# Set-up: paths, wheels brought along, stand-ins for missing readers.


def setup_paths() -> None:
    for p in (ROOT / "benchmarks", ROOT / "kit" / "src", ROOT):
        if str(p) not in sys.path:
            sys.path.insert(0, str(p))


def wheel_fits(filename: str) -> bool:
    """Whether a wheel's tags (``name-version-python-abi-platform.whl``) suit this Python."""
    parts = filename[: -len(".whl")].split("-")
    if len(parts) < 5:
        return False
    python, abi = parts[-3].split("."), parts[-2].split(".")
    here = f"cp{sys.version_info.major}{sys.version_info.minor}"
    if "none" in abi:
        return any(p.startswith("py3") or p == here for p in python)
    if "abi3" in abi:
        return any(
            p.startswith("cp3") and int(p[3:] or 0) <= sys.version_info.minor for p in python
        )
    return here in python


def add_wheels(folder: Path | None) -> list[str]:
    """Unpack each ``*.whl`` of ``folder`` into a temporary folder appended to ``sys.path``
    (this machine's own packages come first); the wheels' names."""
    if folder is None or not folder.is_dir():
        return []
    names = []
    for wheel in sorted(folder.glob("*.whl")):
        if not wheel_fits(wheel.name):
            names.append(f"{wheel.name} (skipped: built for another Python)")
            continue
        dest = Path(tempfile.mkdtemp(prefix="gpu-check-wheel-"))
        with zipfile.ZipFile(wheel) as z:
            z.extractall(dest)
        sys.path.append(str(dest))
        names.append(wheel.name)
    return names


class _Node(dict):
    """A notebook node read as plain JSON (what nbformat.NotebookNode offers the autograder)."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


def _node(value: Any) -> Any:
    if isinstance(value, dict):
        node = _Node((k, _node(v)) for k, v in value.items())
        if isinstance(node.get("source"), list):
            node["source"] = "".join(node["source"])
        return node
    if isinstance(value, list):
        return [_node(v) for v in value]
    return value


def _nbformat_standin() -> types.ModuleType:
    mod = types.ModuleType("nbformat")
    mod.__doc__ = "gpu_check's stand-in: nbformat v4 notebooks read as JSON (no validation)"

    def reads(text: str, as_version: int = 4) -> _Node:
        nb = _node(json.loads(text))
        if nb.get("nbformat") != 4:
            raise ValueError(f"nbformat {nb.get('nbformat')} notebooks are not supported")
        return nb

    def read(path: Any, as_version: int = 4) -> _Node:
        return reads(Path(path).read_text(encoding="utf-8"), as_version)

    mod.read, mod.reads, mod.NotebookNode = read, reads, _Node
    return mod


_ST_DTYPES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U8": "uint8",
    "BOOL": "bool",
}


def _safetensors_standin() -> tuple[types.ModuleType, types.ModuleType]:
    """``safetensors.torch.load_file`` only: an 8-byte header length, a JSON header, raw bytes."""
    import torch

    def load_file(filename: str, device: str = "cpu") -> dict[str, torch.Tensor]:
        data = Path(filename).read_bytes()
        n = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + n])
        base = 8 + n
        out = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            dtype = getattr(torch, _ST_DTYPES[info["dtype"]])
            start, end = info["data_offsets"]
            buf = bytearray(data[base + start : base + end])
            flat = torch.frombuffer(buf, dtype=dtype) if buf else torch.empty(0, dtype=dtype)
            out[name] = flat.reshape(info["shape"]).clone().to(device)
        return out

    top = types.ModuleType("safetensors")
    top.__doc__ = "gpu_check's stand-in: safetensors.torch.load_file in pure Python"
    sub = types.ModuleType("safetensors.torch")
    sub.load_file = load_file
    top.torch = sub
    return top, sub


def install_standins() -> dict[str, str]:
    """Stand-ins for nbformat and safetensors where they do not import; what was used."""
    used = {}
    try:
        import nbformat  # noqa: F401
    except ImportError as exc:
        sys.modules["nbformat"] = _nbformat_standin()
        used["nbformat"] = f"stand-in (JSON reader): {exc}"
    try:
        import safetensors.torch  # noqa: F401
    except ImportError as exc:
        top, sub = _safetensors_standin()
        sys.modules["safetensors"], sys.modules["safetensors.torch"] = top, sub
        used["safetensors"] = f"stand-in (pure-Python load_file): {exc}"
    return used


# --------------------------------------------------------------------------------------------
# Items, sections and their time budgets.


class Budget:
    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds
        self.seconds = seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def spent(self) -> bool:
        return self.left() <= 0


def item(name: str, status: str, detail: str = "", **extra: Any) -> dict[str, Any]:
    return {"name": name, "status": status, "detail": detail, **extra}


def not_run_reason(exc: BaseException) -> str:
    if isinstance(exc, ImportError):
        return f"missing module {getattr(exc, 'name', None) or exc}: {exc}"
    return f"{type(exc).__name__}: {exc}"


def guarded(name: str, fn: Callable[[], dict[str, Any]], budget: Budget | None = None) -> dict:
    """``fn()``'s item, or a not-run item (a missing module) or a failed one (an error)."""
    if budget is not None and budget.spent():
        return item(name, NOT_RUN, "time budget spent")
    t0 = time.monotonic()
    try:
        out = fn()
    except ImportError as exc:
        out = item(name, NOT_RUN, not_run_reason(exc))
    except Exception as exc:  # the check's own failure, reported, not raised
        tail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:])
        out = item(name, FAILED, f"{type(exc).__name__}: {exc}", traceback=tail[-1500:])
    out.setdefault("seconds", round(time.monotonic() - t0, 2))
    return out


def section_status(items: list[dict]) -> tuple[str, str]:
    counts = {s: sum(i["status"] == s for i in items) for s in (OK, FAILED, NOT_RUN)}
    summary = f"{counts[OK]} ok, {counts[FAILED]} failed, {counts[NOT_RUN]} not run"
    if counts[FAILED]:
        return FAILED, summary
    if counts[OK]:
        return OK, summary
    reasons = sorted({i["detail"] for i in items if i["status"] == NOT_RUN})
    return NOT_RUN, "; ".join(reasons[:3]) or "nothing to run"


@contextlib.contextmanager
def quiet() -> Iterator[io.StringIO]:
    """Notebook cells and benchmarks print; keep the report's log readable."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        yield buf


class Context:
    """What the sections share: the device, the dry-run switch, notebooks executed once."""

    def __init__(self, dry_run: bool, out: Path):
        import torch

        self.torch = torch
        self.dry_run = dry_run
        self.out = out
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self._namespaces: dict[Path, dict] = {}

    @property
    def triton_version(self) -> str:
        try:
            import triton
        except ImportError:
            return "(missing)"
        return triton.__version__

    @property
    def course(self):
        from autograder.layout import Course

        return Course(ROOT)

    def notebooks(self) -> list[tuple[str, Path]]:
        course = self.course
        pairs = [(a, p) for a in course.assignments() for p in course.source_notebooks(a)]
        if self.dry_run:  # the prologue (plain torch) and the LLaMA notebook (a Triton kernel)
            pairs = [(a, p) for a, p in pairs if a in ("00-prologue", "03-llama")]
        return pairs

    def namespace(self, path: Path) -> dict:
        """The solution's setup and answer cells executed (``autograder.validate``), once, with
        Triton kernels compiled on a GPU and interpreted on the CPU (``TRITON_INTERPRET``, set
        once for this process in :func:`main`)."""
        if path not in self._namespaces:
            from autograder.validate import solution_namespace

            with quiet():
                self._namespaces[path] = solution_namespace(path)
        return self._namespaces[path]


# --------------------------------------------------------------------------------------------
# 1. Environment


def _pins() -> dict[str, str]:
    text = (ROOT / "pyproject.toml").read_text()
    pins = dict(re.findall(r'"(torch|triton|numpy|safetensors|transformers)==([^"]+)"', text))
    python = re.search(r'requires-python = "([^"]+)"', text)
    if python:
        pins["python"] = python.group(1)
    return pins


def environment(ctx: Context, standins: dict[str, str], wheels: list[str]) -> dict[str, Any]:
    torch = ctx.torch
    env: dict[str, Any] = {
        "python": platform.python_version(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "torch": torch.__version__,
        "cuda_available": torch.cuda.is_available(),
        "torch_cuda": torch.version.cuda,
        "pins": _pins(),
        "wheels_added": wheels,
        "standins": standins,
        "dry_run": ctx.dry_run,
    }
    if torch.cuda.is_available():
        env["device"] = torch.cuda.get_device_name()
        env["capability"] = ".".join(map(str, torch.cuda.get_device_capability()))
        env["gpu_memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
    else:
        env["device"] = f"cpu: {platform.machine()}, {torch.get_num_threads()} threads"
    try:
        import triton

        env["triton"] = triton.__version__
    except ImportError as exc:
        env["triton"] = f"missing: {exc}"
    deps = {}
    for name in DEPENDENCIES:
        if name in standins:
            deps[name] = standins[name]
            continue
        try:
            with quiet():
                mod = importlib.import_module(name)
            deps[name] = str(getattr(mod, "__version__", "imported"))
        except Exception as exc:  # any failure to import is what this report is for
            deps[name] = f"missing: {not_run_reason(exc)}"
    env["dependencies"] = deps
    differs = {
        k: v
        for k, v in env["pins"].items()
        if k in ("torch", "triton") and str(env.get(k)).split("+")[0] != v
    }
    env["differs_from_pins"] = {k: {"pinned": v, "here": env.get(k)} for k, v in differs.items()}
    return {"status": OK, "summary": f"{env['device']}; torch {env['torch']}", "details": env}


# --------------------------------------------------------------------------------------------
# 2. validate: solutions full marks, stubs zero, every named mistake fails and is named


def stub_namespace(path: Path) -> dict:
    """The released stub's setup and answer cells, cell by cell: a stub's cell may raise
    (NotImplementedError at the top level), as it would in a student's kernel."""
    from autograder.notebooks import load_source

    ns: dict[str, Any] = {"__name__": "__main__"}
    sys.path.insert(0, str(path.parent))
    try:
        for i, cell in enumerate(load_source(path).cells):
            kind, source = cell.kind, cell.source
            if kind in ("setup", "answer"):
                filename = f"<stub {path.name} cell {i}>"  # Triton's jit reads kernel sources
                linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
                try:
                    with quiet():
                        exec(compile(source, filename, "exec"), ns)
                except Exception:  # noqa: S110 - the stub's unanswered cell
                    pass
    finally:
        sys.path.remove(str(path.parent))
    return ns


def load_checks() -> tuple[dict, list[dict]]:
    """Every chapter's checks that import here (``load_all_checks``, chapter by chapter), and a
    not-run item for each chapter whose module needs a missing package."""
    from autograder.checks.spec import REGISTRY, chapter_modules

    missing = []
    for chapter in chapter_modules():
        try:
            importlib.import_module(f"autograder.chapters.{chapter}")
        except ImportError as exc:
            missing.append(item(f"checks of {chapter}", NOT_RUN, not_run_reason(exc)))
    return REGISTRY, missing


def _run(name: str, obj: Any, salt: str, check=None) -> tuple[bool, str]:
    from autograder.checks.runner import InKernelExecutor, run_check, seed_for
    from autograder.checks.spec import get_check

    check = check or get_check(name)
    result = run_check(check, InKernelExecutor(obj), seed_for(name, salt))
    return result.passed, result.message


def _solution(label: str, name: str, ns: dict, passed: dict[str, bool]) -> dict:
    from autograder.checks.spec import get_check

    ok, msg = _run(name, ns.get(get_check(name).target), "gpu-check")
    passed[name] = ok
    return item(f"{label}: solution {name}", OK if ok else FAILED, msg)


def _stub_fails(
    label: str, name: str, stub: dict | None, stub_path: Path, stub_passed: dict[str, bool]
) -> dict:
    from autograder.checks.spec import get_check

    if stub is None:
        return item(f"{label}: stub {name}", FAILED, f"{stub_path} is missing")
    ok, msg = _run(name, stub.get(get_check(name).target), "gpu-check")
    stub_passed[name] = ok
    return item(
        f"{label}: stub {name}",
        FAILED if ok else OK,
        "the stub passed" if ok else f"fails as it should: {msg[:160]}",
    )


def validate(ctx: Context, budget: Budget) -> dict[str, Any]:
    from autograder.notebooks import load_source
    from autograder.validate import used_checks

    items = []
    scores = []
    for assignment, path in ctx.notebooks():
        label = f"{assignment}/{path.name}"
        try:
            ns = ctx.namespace(path)
        except Exception as exc:
            reason = not_run_reason(exc)
            status = NOT_RUN if isinstance(exc, ImportError) else FAILED
            items.append(item(f"{label}: solution", status, reason))
            continue
        names = list(dict.fromkeys(used_checks(path)))
        if ctx.dry_run:
            names = names[:2]
        passed: dict[str, bool] = {}
        for name in names:
            items.append(
                guarded(
                    f"{label}: solution {name}", partial(_solution, label, name, ns, passed), budget
                )
            )
        stub_path = ctx.course.exercises / assignment / path.name
        stub = stub_namespace(stub_path) if stub_path.is_file() else None
        stub_passed: dict[str, bool] = {}
        for name in names:
            items.append(
                guarded(
                    f"{label}: stub {name}",
                    partial(_stub_fails, label, name, stub, stub_path, stub_passed),
                    budget,
                )
            )
        parts = load_source(path).parts
        ran = [p for p in parts if all(c in passed for c in p.checks)]
        scores.append(
            {
                "notebook": label,
                "max": sum(p.points for p in parts),
                "parts_run": f"{len(ran)} of {len(parts)}",
                "solution": sum(p.points for p in ran if all(passed[c] for c in p.checks)),
                "stub": sum(
                    p.points for p in ran if all(stub_passed.get(c, False) for c in p.checks)
                ),
                "max_of_parts_run": sum(p.points for p in ran),
            }
        )
    registry, missing = load_checks()
    items += missing
    used = {n for _, p in ctx.notebooks() for n in used_checks(p)}
    mistakes = [
        (name, label)
        for name, c in sorted(registry.items())
        if not c.visible and name in used
        for label in c.misconceptions
    ]
    if ctx.dry_run:
        mistakes = mistakes[:2]
    for name, label in mistakes:

        def mistake(name=name, label=label) -> dict:
            check = registry[name]
            if check.must_launch_triton:  # the mistakes are plain torch: judge values only
                check = dataclasses.replace(check, must_launch_triton=False)
            ok, msg = _run(name, check.misconceptions[label], "", check)
            named = label in msg
            status = OK if (not ok and named) else FAILED
            detail = "fails and is named" if status == OK else ("passed" if ok else msg[:300])
            return item(f"mistake {name}: {label}", status, detail)

        items.append(guarded(f"mistake {name}: {label}", mistake, budget))
    status, summary = section_status(items)
    return {"status": status, "summary": summary, "scores": scores, "items": items}


# --------------------------------------------------------------------------------------------
# 3. sweep: the solution over class secrets x student ids


def sweep(ctx: Context, budget: Budget) -> dict[str, Any]:
    from autograder.validate import sweep as sweep_seeds

    n = 1 if ctx.dry_run else SWEEP_SECRETS
    assignments = list(dict.fromkeys(a for a, _ in ctx.notebooks()))
    if ctx.dry_run:
        assignments = assignments[:1]
    items = []
    for assignment in assignments:

        def one(assignment=assignment) -> dict:
            with quiet():
                failures = sweep_seeds(ctx.course, assignment, n)
            if failures:
                return item(
                    assignment, FAILED, f"{len(failures)} failures; first: {failures[0]}"[:600]
                )
            return item(assignment, OK, f"all checks pass for {n} secret x student pairs")

        items.append(guarded(assignment, one, budget))
    status, summary = section_status(items)
    return {"status": status, "summary": summary, "secrets": n, "items": items}


# --------------------------------------------------------------------------------------------
# 4. Triton: compiled vs interpreted vs plain torch


def _rmsnorm_ref(x, w, eps):
    import torch

    x32 = x.float()
    return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps) * w.float()).to(x.dtype)


def triton_jobs(ctx: Context) -> list[dict]:
    """Every kernel call to make, with CPU inputs, a plain-torch reference output and (rtol, atol):
    the course's two kernels on a few shapes, and the solutions' graded kernels (checks that must
    launch Triton) on their hidden checks' cases. ``group`` names the item a call reports to."""
    torch = ctx.torch
    gen = torch.Generator().manual_seed(0)

    def randn(*shape, dtype=torch.float32):
        return torch.randn(shape, generator=gen).to(dtype)

    jobs = []
    shapes = [(4, 64, torch.float32, 1e-6), (3, 33, torch.float32, 0.1)]
    if not ctx.dry_run:
        shapes += [(64, 4096, torch.bfloat16, 1e-5), (2, 1000, torch.float32, 1e-5)]
    for rows, d, dtype, eps in shapes:
        x, w = randn(rows, d, dtype=dtype), 1 + 0.2 * randn(d)
        jobs.append(
            {
                "group": f"course.llama.triton_rmsnorm.rmsnorm {rows}x{d} {str(dtype)[6:]}",
                "kind": "course_rmsnorm",
                "args": [x, w, eps],
                "kwargs": {},
                "reference": _rmsnorm_ref(x, w, eps),
                "tol": (2e-2, 1e-2) if dtype == torch.bfloat16 else (1e-5, 1e-5),
            }
        )
    from course.bert_gpt import online_softmax_attention  # plain torch: the same algorithm

    cases = [(1, 2, 20, 16, False), (1, 2, 20, 16, True)]
    if not ctx.dry_run:
        cases += [(2, 4, 100, 64, True), (1, 8, 257, 64, False)]
    for b, h, t, dh, causal in cases:
        q, k, v = (randn(b, h, t, dh) for _ in range(3))
        jobs.append(
            {
                "group": f"course.bert_gpt.flash_attention B{b} H{h} T{t} Dh{dh}"
                + (" causal" if causal else ""),
                "kind": "course_flash",
                "args": [q, k, v],
                "kwargs": {"causal": causal},
                "reference": online_softmax_attention(q, k, v, causal=causal),
                # tl.dot on a GPU takes float32 inputs as TF32 by default
                "tol": (1e-2, 1e-2) if ctx.device == "cuda" else (1e-5, 2e-5),
            }
        )
    from autograder.checks.reference import reference_cases
    from autograder.checks.runner import seed_for
    from autograder.validate import used_checks
    from coursekit.calls import _first_tensor
    from coursekit.compare import DEFAULT_TOL
    from coursekit.hooks import tf32_attention_floor

    registry, _ = load_checks()
    notebook = {n: p for _, p in ctx.notebooks() for n in used_checks(p)}
    for check in registry.values():
        if not check.must_launch_triton or check.visible or check.name not in notebook:
            continue
        seed = seed_for(check.name, "gpu-check")
        tf32_hook = getattr(check.compare, "kit_hook", (None,))[0] == "tf32_on_cuda"
        for n, (case, state, _, expected) in enumerate(reference_cases(check, seed, ctx.device)):
            if ctx.dry_run and n >= 2:
                break
            ref = _first_tensor(expected.outputs)
            tol = check.tol.get(ref.dtype, DEFAULT_TOL.get(ref.dtype, (1e-5, 1e-5)))
            if tf32_hook and ctx.device == "cuda":  # the check's own TF32 allowance there
                tol = (tol[0], max(tol[1], tf32_attention_floor(case)))
            jobs.append(
                {
                    "group": f"solution {check.name} ({check.target})",
                    "kind": "target",
                    "notebook": str(notebook[check.name]),
                    "target": check.target,
                    "case": dataclasses.replace(case, grad_wrt=(), param_grads=False),
                    "state": state,
                    "reference": ref,
                    "tol": tol,
                }
            )
    return jobs


def call_job(job: dict, device: str, namespace: Callable[[Path], dict]) -> Any:
    """One kernel call of ``job`` on ``device``; its (first) output."""
    import torch

    def to(v):
        return v.to(device) if isinstance(v, torch.Tensor) else v

    if job["kind"] == "course_rmsnorm":
        from course.llama.triton_rmsnorm import rmsnorm

        return rmsnorm(*map(to, job["args"]), **job["kwargs"])
    if job["kind"] == "course_flash":
        from course.bert_gpt import flash_attention

        return flash_attention(*map(to, job["args"]), **job["kwargs"])
    from coursekit.calls import _first_tensor, call_target

    obj = namespace(Path(job["notebook"]))[job["target"]]
    case = dataclasses.replace(job["case"], device=device)
    return _first_tensor(call_target(obj, case, job["state"], None).outputs)


def _torch_load(path: Path) -> Any:
    """This script's own files (trusted pickles), every tensor on the CPU."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except TypeError:  # a torch older than weights_only
        return torch.load(path, map_location="cpu")


def interpreter_child(jobs_path: Path, out_path: Path) -> int:
    """The interpreter's side, in a process of its own: Triton decides between compiling and
    interpreting when ``triton.language`` is first imported (its own ``@jit`` functions, such as
    ``tl.sum``), so one process cannot do both."""
    import torch

    from autograder.validate import solution_namespace

    spaces: dict[Path, dict] = {}

    def namespace(path: Path) -> dict:
        if path not in spaces:
            with quiet():
                spaces[path] = solution_namespace(path)
        return spaces[path]

    results = []
    for job in _torch_load(jobs_path):
        try:
            with quiet():
                results.append({"out": call_job(job, "cpu", namespace)})
        except Exception as exc:  # reported per call
            results.append({"error": f"{type(exc).__name__}: {exc}"[:500]})
    torch.save(results, out_path)
    return 0


def run_interpreter(jobs: list[dict], timeout: float) -> list[dict]:
    """Every job through Triton's interpreter, on the CPU, in a child process."""
    import subprocess

    import torch

    with tempfile.TemporaryDirectory(prefix="gpu-check-interp-") as tmp:
        jobs_path, out_path = Path(tmp) / "jobs.pt", Path(tmp) / "out.pt"
        torch.save([{k: v for k, v in j.items() if k != "reference"} for j in jobs], jobs_path)
        env = {**os.environ, "TRITON_INTERPRET": "1", "CUDA_VISIBLE_DEVICES": ""}
        cmd = [sys.executable, str(Path(__file__).resolve()), "--interpreter-child"]
        proc = subprocess.run(
            [*cmd, str(jobs_path), str(out_path)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0 or not out_path.is_file():
            raise RuntimeError(f"the interpreter's process failed: {proc.stderr[-1500:]}")
        return _torch_load(out_path)


def _ratio(a, b, bound: float) -> float:
    return _max_diff(a, b) / bound


def _max_diff(a, b) -> float:
    if a is None or b is None:
        return math.inf
    a, b = a.detach().cpu().double(), b.detach().cpu().double()
    if a.shape != b.shape:
        return math.inf
    return float((a - b).abs().max()) if a.numel() else 0.0


NO_GPU = "no CUDA device: the compiled kernel was not run (the interpreter's run was)"
#: Triton's interpreter up to 3.6 calls int() on a 1-element array for a loop bound passed as an
#: argument, which numpy 2.4 and later refuse (triton-lang/triton#9171; the pins' Triton 3.8 works)
KNOWN_INTERPRETER_BUG = "only 0-dimensional arrays can be converted to Python scalars"
INTERPRETER_BUG_NOTE = (
    "the interpreter's side not run: Triton {triton}'s interpreter fails on a loop bound passed as "
    "an argument under numpy 2.4 or later (triton-lang/triton#9171, fixed in later Triton)"
)


def triton_kernels(ctx: Context, budget: Budget) -> dict[str, Any]:
    on_gpu = ctx.device == "cuda"
    # the compiled side; a dry run without a GPU runs this process's (interpreted) kernels in its
    # place, so that the comparison's code runs too
    side, device = ("native", "cuda") if on_gpu else ("this_process", "cpu")
    jobs = triton_jobs(ctx)
    try:
        interp = run_interpreter(jobs, max(budget.left(), 60.0))
    except Exception as exc:  # the whole interpreter side: one reason for every item
        interp = [{"error": f"{type(exc).__name__}: {exc}"[:1500]}] * len(jobs)
    groups: dict[str, dict] = {}
    for job, res in zip(jobs, interp):
        g = groups.setdefault(job["group"], {"calls": 0, "worst": {}, "errors": []})
        g["calls"] += 1
        ref = job["reference"]
        rtol, atol = job["tol"]
        bound = atol + rtol * float(ref.detach().abs().max()) if ref.numel() else atol
        ratios = {}
        if "error" in res and KNOWN_INTERPRETER_BUG in res["error"]:
            g["skipped"] = INTERPRETER_BUG_NOTE.format(triton=ctx.triton_version)
        elif "error" in res:
            g["errors"].append(f"interpreter: {res['error']}")
        else:
            ratios["interpreter_vs_reference"] = _ratio(res["out"], ref, bound)
        if (on_gpu or ctx.dry_run) and not budget.spent():
            try:
                with quiet():
                    native = call_job(job, device, ctx.namespace)
                ratios[f"{side}_vs_reference"] = _ratio(native, ref, bound)
                if "out" in res:
                    ratios[f"{side}_vs_interpreter"] = _ratio(native, res["out"], bound)
            except Exception as exc:
                g["errors"].append(f"{side}: {type(exc).__name__}: {exc}"[:500])
        elif on_gpu:
            g["errors"].append("time budget spent before the compiled run")
        for k, v in ratios.items():
            g["worst"][k] = max(g["worst"].get(k, 0.0), v)
    items = []
    for name, g in groups.items():
        measured = ", ".join(f"{k} {v:.2g}" for k, v in g["worst"].items())
        extra = {
            "calls": g["calls"],
            "diffs": g["worst"],
            "measured": f"worst difference / (atol + rtol max|reference|): {measured}",
        }
        if g["errors"] or any(not v <= 1.0 for v in g["worst"].values()):
            detail = "; ".join(g["errors"][:2]) or extra["measured"]
            items.append(item(name, FAILED, detail, **extra))
        elif not on_gpu:
            items.append(item(name, NOT_RUN, NO_GPU, **extra))
        else:
            note = f"; {g['skipped']}" if g.get("skipped") else ""
            items.append(item(name, OK, extra["measured"] + note, **extra))
    status, summary = section_status(items)
    return {"status": status, "summary": summary, "items": items}


# --------------------------------------------------------------------------------------------
# 5. The student kit's visible checks


def kit(ctx: Context, budget: Budget) -> dict[str, Any]:
    from autograder.checks.spec import get_check
    from autograder.validate import used_checks
    from coursekit import replay, snapshot

    available = set(snapshot.available())
    items = []
    for assignment, path in ctx.notebooks():
        names = [n for n in dict.fromkeys(used_checks(path)) if n in available]
        if ctx.dry_run:
            names = names[:2]
        for name in names:

            def visible(name=name, path=path, assignment=assignment) -> dict:
                obj = ctx.namespace(path).get(get_check(name).target)
                ok, msg, n = replay.run(name, obj)
                return item(f"{assignment}: {name}", OK if ok else FAILED, msg, cases=n)

            items.append(guarded(f"{assignment}: {name}", visible, budget))
    status, summary = section_status(items)
    return {"status": status, "summary": summary, "snapshots": len(available), "items": items}


# --------------------------------------------------------------------------------------------
# 6. Benchmarks with a GPU path, short settings


RMSNORM_COLUMNS = [
    "shape",
    "implementation",
    "time (us)",
    "GB/s",
    "speed vs torch.nn.RMSNorm",
    "page faults / call",
]


def _bench_rmsnorm(ctx: Context) -> dict:
    import _common
    import llama_rmsnorm

    torch = ctx.torch
    gpu = ctx.device == "cuda"
    shapes = [(4096, 4096), (16384, 4096)] if gpu else [(64, 64)]
    dtype = torch.bfloat16 if gpu else torch.float32
    rounds = 3 if gpu else 1
    os.environ["SKIP_COMPILE"] = "1"  # torch.compile's first compile alone outlasts the budget
    try:
        with quiet():
            rows = [
                r
                for t, d in shapes
                for r in llama_rmsnorm.bench_shape(t, d, ctx.device, dtype, rounds)
            ]
            path = _common.write(
                f"llama_rmsnorm{'_cuda' if gpu else ''}.json",
                RMSNORM_COLUMNS,
                rows,
                method=f"gpu_check: median of {rounds} interleaved rounds of median-of-20 calls "
                "after warm-up; torch.compile skipped",
            )
    finally:
        os.environ.pop("SKIP_COMPILE", None)
    return item("llama_rmsnorm", OK, f"{len(rows)} rows", file=path.name)


def _bench_main(module: str, argv: list[str], output: str) -> Callable[[Context], dict]:
    def run(ctx: Context) -> dict:
        mod = importlib.import_module(module)
        old = sys.argv
        sys.argv = [f"{module}.py", *argv]
        try:
            with quiet():
                mod.main()
        finally:
            sys.argv = old
        name = output.format(cuda="_cuda" if ctx.device == "cuda" else "")
        if not (ctx.out / name).is_file():
            return item(module, FAILED, f"{name} was not written")
        return item(module, OK, f"wrote {name}", file=name)

    return run


def _bench_mfu(ctx: Context) -> dict:
    import scaling_mfu

    if ctx.dry_run:  # one tiny model and a small peak matmul
        scaling_mfu.SIZES = [(32, 1, 2)]
        a = ctx.torch.randn(256, 256)
        scaling_mfu.peak_flops = lambda device: (
            2 * 256**3 / scaling_mfu.median_seconds(lambda: a @ a, device)
        )
    out = _bench_main("scaling_mfu", [], "scaling_mfu.json")(ctx)
    if out["status"] == OK and ctx.device == "cuda":  # the CPU figures keep the plain name
        (ctx.out / "scaling_mfu.json").rename(ctx.out / "scaling_mfu_cuda.json")
        out.update(detail="wrote scaling_mfu_cuda.json", file="scaling_mfu_cuda.json")
    return out


BENCHMARKS: dict[str, Callable[[Context], dict]] = {
    "llama_rmsnorm": _bench_rmsnorm,
    "llama_kv_memory": _bench_main("llama_kv_memory", [], "llama_kv_memory{cuda}.json"),
    "scaling_mfu": _bench_mfu,
    "llama_decode": _bench_main("llama_decode", ["--tokens", "64"], "llama_decode{cuda}.json"),
}
DRY_RUN_BENCHMARKS = ("llama_rmsnorm", "scaling_mfu")


def benchmarks(ctx: Context, budget: Budget) -> dict[str, Any]:
    import _common

    _common.RESULTS = ctx.out  # the benchmarks write next to the report, not over the CPU figures
    items = []
    for name, fn in BENCHMARKS.items():
        if ctx.dry_run and name not in DRY_RUN_BENCHMARKS:
            items.append(item(name, NOT_RUN, "dry run: only " + ", ".join(DRY_RUN_BENCHMARKS)))
            continue
        items.append(guarded(name, lambda fn=fn: fn(ctx), budget))
    status, summary = section_status(items)
    return {"status": status, "summary": summary, "items": items}


# --------------------------------------------------------------------------------------------


SECTIONS: dict[str, Callable[[Context, Budget], dict]] = {
    "validate": validate,
    "sweep": sweep,
    "triton": triton_kernels,
    "kit": kit,
    "benchmarks": benchmarks,
}


def run_section(name: str, fn: Callable[[], dict]) -> dict:
    t0 = time.monotonic()
    try:
        result = fn()
    except ImportError as exc:
        result = {"status": NOT_RUN, "summary": not_run_reason(exc), "items": []}
    except Exception as exc:
        tail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-4:])
        result = {"status": FAILED, "summary": f"{type(exc).__name__}: {exc}", "traceback": tail}
        result["items"] = []
    result["seconds"] = round(time.monotonic() - t0, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=None, help=f"default {BOOK_GPU.relative_to(ROOT)}")
    ap.add_argument("--dry-run", action="store_true", help="CPU, tiny settings (the test suite's)")
    ap.add_argument("--budget", type=float, default=480.0, help="seconds for all sections")
    ap.add_argument("--wheels", type=Path, default=ROOT / ".gpu-wheels")
    ap.add_argument("--sections", nargs="+", choices=list(SECTIONS), default=list(SECTIONS))
    ap.add_argument("--interpreter-child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.interpreter_child:  # the triton section's interpreter process (TRITON_INTERPRET=1)
        setup_paths()
        add_wheels(args.wheels)
        install_standins()
        return interpreter_child(*args.interpreter_child)
    out = args.out or (Path(tempfile.mkdtemp(prefix="gpu-check-")) if args.dry_run else BOOK_GPU)
    out = out.resolve()
    if args.dry_run and out == BOOK_GPU.resolve():
        print("a dry run writes CPU figures: give it another --out than the book's GPU folder")
        return 2

    setup_paths()
    wheels = add_wheels(args.wheels)
    standins = install_standins()
    import torch

    if not args.dry_run and not torch.cuda.is_available():
        print("no CUDA device here: run with --dry-run (CPU, tiny settings) instead")
        return 2
    # before anything imports autograder.validate (which defaults it to 1 without CUDA)
    os.environ["TRITON_INTERPRET"] = "0" if torch.cuda.is_available() else "1"
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(args.dry_run, out)
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    report: dict[str, Any] = {
        "format": FORMAT,
        "started": started,
        "command": " ".join(
            [Path(sys.executable).name, "tools/gpu_check.py", *(argv or sys.argv[1:])]
        ),
        "budget_s": args.budget,
        "out": str(out),
        "sections": {},
    }
    t0 = time.monotonic()

    def save() -> None:
        report["seconds"] = round(time.monotonic() - t0, 1)
        (out / REPORT).write_text(json.dumps(report, indent=1) + "\n")

    sections = report["sections"]
    sections["environment"] = run_section("environment", lambda: environment(ctx, standins, wheels))
    save()
    print(f"environment: {sections['environment']['summary']}", flush=True)
    for name, fn in SECTIONS.items():
        if name not in args.sections:
            sections[name] = {
                "status": NOT_RUN,
                "summary": "not selected (--sections)",
                "items": [],
            }
            continue
        # this section's share of the time left (what earlier sections did not use carries over)
        chosen = [n for n in SECTIONS if n in args.sections]
        later = sum(SHARES[n] for n in chosen[chosen.index(name) :]) or 1.0
        left = args.budget - (time.monotonic() - t0)
        budget = Budget(max(left, 0.0) * SHARES[name] / later)
        sections[name] = run_section(name, lambda fn=fn, budget=budget: fn(ctx, budget))
        sections[name]["budget_s"] = round(budget.seconds, 1)
        save()
        s = sections[name]
        print(f"{name}: {s['status']} ({s['summary']}) in {s['seconds']} s", flush=True)
        for it in s.get("items", []):
            if it["status"] == FAILED:
                print(f"  FAILED {it['name']}: {it['detail'][:300]}", flush=True)
    failed = [n for n, s in sections.items() if s["status"] == FAILED]
    report["status"] = FAILED if failed else OK
    save()
    print(
        f"report: {out / REPORT} ({report['seconds']} s)"
        + (f"; failed: {failed}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
