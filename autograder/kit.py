"""``release --kit``: the student kit's snapshots, its manifest, its wheel, and the stale check.

The kit (``kit/``, package ``coursekit``) holds no reference code: its visible checks replay
snapshots written here by running the references (trusted, in this process) on the visible cases
drawn from the public seed (no class secret). ``MANIFEST.json`` records the SHA-256 of every
source the snapshots came from and of the snapshot files: CI compares hashes, never regenerated
float bytes, which differ between machines. The sources (:func:`source_files`) are exactly what
the snapshots depend on: the check modules and every module of the course they import (the graded
blocks; not the book's widgets, catalogues or weight loaders, which no check imports), the data
files the checks read, the released notebooks (which checks they call) and the kit's own format
code. Each snapshot's JSON says it is generated and from what.
"""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import nbformat

from autograder.errors import CourseError
from autograder.layout import Course
from autograder.notebooks import check_calls
from autograder.site import release_url

#: where the released notebooks install the kit from when it is missing: the release inside the
#: published site (``make book`` puts the wheel in ``_build/html/release/``; the address comes from
#: ``_config.yml``, see autograder/site.py). Bump the version with kit/pyproject.toml's.
KIT_VERSION = "0.1.0"
KIT_WHEEL = f"coursekit-{KIT_VERSION}-py3-none-any.whl"
#: the block of every notebook's setup cell (solutions/*/*.py, the new-chapter template) that
#: imports the kit, installing it if missing: the one source of those copies. Each setup cell says
#: ``copied_from`` in its header (cell metadata, which students do not see), and
#: tests/test_kit.py fails when one differs
_KIT_SETUP = """\
try:  # the course's student kit: the visible checks and the weight loaders
    from coursekit import check
except ImportError:  # Colab, a fresh laptop: install it once (see the students' guide)
    import subprocess
    import sys

    KIT = "{url}"
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", KIT])
    from coursekit import check
"""


def __getattr__(name: str) -> str:
    """``KIT_URL`` and ``KIT_SETUP``, read from ``_config.yml`` when first asked for: a grading
    worker imports this module in a staged copy of the course that has no ``_config.yml``."""
    if name == "KIT_URL":
        return release_url(KIT_WHEEL)
    if name == "KIT_SETUP":
        return _KIT_SETUP.format(url=release_url(KIT_WHEEL))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: the kit's own modules that decide what a snapshot means (a change there needs new snapshots)
FORMAT_MODULES = ("calls.py", "compare.py", "hooks.py", "snapshot.py", "values.py")


def kit_root(course: Course) -> Path:
    return course.root / "kit"


def package_dir(course: Course) -> Path:
    return kit_root(course) / "src" / "coursekit"


def snapshot_dir(course: Course) -> Path:
    return package_dir(course) / "snapshots"


def manifest_path(course: Course) -> Path:
    return package_dir(course) / "MANIFEST.json"


def visible_checks(course: Course) -> list[str]:
    """Every check a released notebook (exercises/) calls: what students run, all visible."""
    names: set[str] = set()
    for nb_path in sorted(course.exercises.glob("*/*.ipynb")):
        nb = nbformat.read(str(nb_path), as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                try:
                    names.update(check_calls(cell.source))
                except SyntaxError:  # magics in a demo cell: it calls no check
                    continue
    return sorted(names)


#: where the checks live: every module there is a source of the snapshots, and so is every module
#: of these top-level packages that one of them imports, directly or not
CHECKS = "autograder/chapters"
LOCAL_PACKAGES = ("autograder", "course")
#: data files the checks read beside the modules (globs; tests/test_kit.py checks that every
#: ``.json`` a check module names is here); course packages' ``data/`` folders are added by import
DATA_FILES = ("book/_static/scaling_sweep.json",)


def _module_file(root: Path, name: str) -> Path | None:
    """The file of module ``name`` (a package's ``__init__.py``) in the checkout, if it is one."""
    if name.split(".")[0] not in LOCAL_PACKAGES:
        return None
    base = root.joinpath(*name.split("."))
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def _module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(root: Path, path: Path) -> set[str]:
    """Every module an ``import`` in ``path`` can load (at the top or inside a function), with the
    packages above it (importing ``a.b.c`` runs ``a`` and ``a.b`` first); ``from a import b``
    counts ``a.b`` when that is a module."""
    name = _module_name(root, path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    out = set()
    for n in names:
        parts = n.split(".")
        out.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return out


def check_sources(course: Course) -> list[Path]:
    """The check modules and every local module they import, transitively (see :func:`_imported`).

    A chapter package loads its catalogue, weights and widgets by name on first use
    (``course/_parts.py``), not by an ``import`` statement: they are not sources unless a check
    imports one of them itself.
    """
    return import_closure(course.root, sorted((course.root / CHECKS).glob("**/*.py")))


def import_closure(
    root: Path, start: list[Path], follow: Callable[[str, Path], bool] | None = None
) -> list[Path]:
    """The files ``start`` and every local module (of :data:`LOCAL_PACKAGES`) they import,
    transitively (see :func:`_imported`); ``follow(module name, file)`` False leaves a module out
    (and what only it imports). Also what a check's version hashes
    (:mod:`autograder.checks.version`)."""
    todo = list(start)
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen or "__pycache__" in path.parts:
            continue
        seen.add(path)
        for name in _imported(root, path):
            found = _module_file(root, name)
            if found is not None and found not in seen and (follow is None or follow(name, found)):
                todo.append(found)
    return sorted(seen)


def _package_data(root: Path, modules: list[Path]) -> list[Path]:
    """Files in the ``data/`` folder of every course package among ``modules`` (read with
    ``importlib.resources``, e.g. ``course/tokenization/data``)."""
    folders = {p.parent / "data" for p in modules if p.name == "__init__.py"}
    return [f for d in sorted(folders) if d.is_dir() for f in sorted(d.rglob("*")) if f.is_file()]


def source_files(course: Course) -> list[Path]:
    """What the snapshots are computed from: a change in any of them needs a rebuilt kit."""
    root = course.root
    modules = check_sources(course)
    files = [
        *modules,
        *_package_data(root, modules),
        *(f for pattern in DATA_FILES for f in root.glob(pattern)),
        *root.glob("exercises/*/*.ipynb"),
        *(package_dir(course) / m for m in FORMAT_MODULES),
    ]
    return sorted(set(files))


def _sha256(path: Path) -> str:
    """SHA-256 of a file; of a notebook's normalised JSON (as ``release --check`` compares them)."""
    from autograder.release import _normalised

    data = _normalised(path).encode() if path.suffix == ".ipynb" else path.read_bytes()
    return hashlib.sha256(data).hexdigest()


def _manifest(course: Course) -> dict:
    root = course.root
    return {
        "version": KIT_VERSION,
        "sources": {str(p.relative_to(root)): _sha256(p) for p in source_files(course)},
        "snapshots": {
            p.name: _sha256(p) for p in sorted(snapshot_dir(course).glob("*")) if p.is_file()
        },
    }


def _note(check) -> str:
    """The kit's note on a composite: no reference sub-blocks stand in for the student's here."""
    from autograder.checks.runner import sub_block_checks

    subs = sub_block_checks(check)
    return (
        f" (this visible check runs your own {subs} inside: a mistake there shows up here too; "
        "the grader grades this part with the reference sub-blocks)"
        if subs
        else ""
    )


def generated_mark(name: str) -> str:
    """The sentence a snapshot carries: what it is generated from, and not to edit it."""
    chapter = name.split(".")[0]
    checks = f"{CHECKS}/{chapter}/"
    return (
        f"generated by `python -m autograder release --kit` from the check {name} ({checks}) run "
        f"on the references (course/{chapter}/); do not edit: change those and rerun it"
    )


def snapshot_of(name: str):
    """Run the references of visible check ``name`` on its public cases: a Snapshot."""
    from autograder.checks.reference import reference_cases
    from autograder.checks.runner import mistake_outputs, seed_for
    from autograder.checks.spec import get_check
    from coursekit.snapshot import SnapCase, Snapshot

    check = get_check(name)
    if not check.visible:
        raise CourseError(f"{name} is a hidden check: a released notebook must not call it.")
    hook = None
    if check.compare is not None:
        hook = getattr(check.compare, "kit_hook", None)
        if hook is None:
            raise CourseError(
                f"{name} compares with {check.compare.__qualname__}, which the kit cannot "
                "replay: move it to kit/src/coursekit/hooks.py (or give it a kit_hook)."
            )
    cases = [
        SnapCase(case, state, cot, expected, list(mistake_outputs(check, case, state, expected)))
        for case, state, cot, expected in reference_cases(check, seed_for(name), "cpu")
    ]
    return Snapshot(
        name=name,
        generated=generated_mark(name),
        target=check.target,
        cases=cases,
        tol=dict(check.tol),
        hook=hook,
        must_launch_triton=check.must_launch_triton,
        note=_note(check),
    )


def build_snapshots(course: Course) -> list[str]:
    """Rewrite every snapshot and the manifest (public seed: no class secret ever reaches here)."""
    from coursekit import snapshot

    names = visible_checks(course)
    if not names:
        raise CourseError("exercises/ calls no check: run `python -m autograder release --all`.")
    folder = snapshot_dir(course)
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            snapshot.write(snapshot_of(name), Path(tmp))
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        for path in sorted(Path(tmp).iterdir()):  # plain copies: readable modes, not tmp's
            shutil.copyfile(path, folder / path.name)
    manifest_path(course).write_text(json.dumps(_manifest(course), indent=1) + "\n")
    return names


def build_wheel(course: Course, out: Path | None = None) -> Path:
    """``pip wheel`` of kit/ (no dependencies, no build isolation) into ``out`` (dist/).

    Built from a private copy of kit/: setuptools writes build/ and the egg-info next to the
    sources it builds, so two builds at once (two test workers, two instructors' terminals) would
    trip over each other's files in the checkout.
    """
    out = out or course.root / "dist"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="coursekit-build-") as tmp:
        source = Path(tmp) / "kit"
        shutil.copytree(
            kit_root(course),
            source,
            ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
        )
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
            + ["-w", str(out.resolve()), str(source)],
            capture_output=True,
            text=True,
        )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-10:])
        raise CourseError(f"building the kit's wheel failed; pip says:\n{tail}")
    wheel = out / KIT_WHEEL
    if not wheel.is_file():
        raise CourseError(
            f"pip built no {KIT_WHEEL} in {out}: is kit/pyproject.toml's version {KIT_VERSION}?"
        )
    return wheel


def stale_kit(course: Course) -> list[str]:
    """Why the kit is out of date with its sources (empty: up to date), in plain words."""
    path = manifest_path(course)
    if not path.is_file():
        return ["kit/src/coursekit/MANIFEST.json is missing"]
    recorded = json.loads(path.read_text())
    current = _manifest(course)
    problems = []
    if recorded.get("version") != current["version"]:
        problems.append(
            f"the kit was built as version {recorded.get('version')}, not {KIT_VERSION}"
        )
    old, new = recorded.get("sources", {}), current["sources"]
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if changed:
        shown = ", ".join(changed[:8]) + (
            f" and {len(changed) - 8} more" if len(changed) > 8 else ""
        )
        problems.append(f"changed since the kit was built: {shown}")
    if recorded.get("snapshots") != current["snapshots"]:
        problems.append("the snapshot files differ from the ones the manifest records")
    wanted = {f"{n}.json" for n in visible_checks(course)}
    have = {n for n in current["snapshots"] if n.endswith(".json")}
    if wanted != have:
        problems.append(
            "snapshots missing for " + ", ".join(sorted(n[:-5] for n in wanted - have))
            if wanted - have
            else "snapshots of checks no notebook calls: "
            + ", ".join(sorted(n[:-5] for n in have - wanted))
        )
    return problems


def stale_message(problems: list[str]) -> str:
    """One plain paragraph: why the kit is stale and the command that fixes it."""
    return (
        "the student kit is out of date: "
        + "; ".join(problems)
        + ". Run `python -m autograder release --kit` (or `make release`) and commit "
        "kit/src/coursekit."
    )
