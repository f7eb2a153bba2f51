"""A check's version: what a stored grade must match to be kept after an instructor fixes a check.

:func:`check_version` is a short SHA-256 of

* the check's spec as loaded: name, target, description, tolerances, flags, and the names
  (``module.qualname``) of its reference, cases, comparison, exact reference and known mistakes;
  a composite's graded sub-blocks add their check's own version;
* the files it is made of (:func:`check_files`): the module that registers it
  (:func:`registered_in`), those of its reference and known mistakes, and, through the
  student kit's import walker (:func:`autograder.kit.import_closure`), every module of the
  course's references (``course/``) and of the chapters' checks (``autograder/chapters/``) that it
  imports, transitively, the data files beside them and those the checks name. A chapter
  package's ``__init__.py`` is left out: it registers every block of the chapter, so following it
  would make each check's version change with every other's.

Paths are hashed relative to the course root: the same checkout anywhere has the same versions.
The engine that runs every check (``autograder.checks``, the kit's comparison code) is not in a
check's version: it is versioned by ``autograder.__version__``, which every submission's resume
key includes (:func:`autograder.grading.submission_key`), so bumping it regrades everything.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from autograder.checks.spec import Check, get_check
from autograder.kit import CHECKS, DATA_FILES, _module_file, _package_data, import_closure

#: what :func:`check_versions` gives a check that is not registered (its grading then fails alike)
UNKNOWN = "unknown"
#: hex digits kept of the SHA-256
LENGTH = 16


def _follow(name: str, path: Path) -> bool:
    """The modules a check's version covers: the references and the chapters' check modules."""
    if name == "course" or name.startswith("course."):
        return True
    return name.startswith("autograder.chapters.") and path.name != "__init__.py"


def _module_files(root: Path, names: Iterable[str]) -> list[Path]:
    return [
        f
        for n in sorted(set(names))
        if n and (f := _module_file(root, n)) is not None and _follow(n, f)
    ]


def _callables(check: Check) -> dict[str, Any]:
    """Every object of the spec that is code: role -> object."""
    out: dict[str, Any] = {"reference": check.reference, "cases": check.cases}
    if check.compare is not None:
        out["compare"] = check.compare
    if check.exact is not None:
        out["exact"] = check.exact
    out.update({f"mistake: {label}": fn for label, fn in check.misconceptions.items()})
    out.update({f"sub-block: {p}": s.build for p, s in check.submodules.items()})
    return out


def _code_module(obj: Any) -> str:
    if isinstance(obj, functools.partial):
        return _code_module(obj.func)
    return getattr(obj, "__module__", "") or ""


def registered_in(root: Path, check: Check) -> list[Path]:
    """The module(s) of ``check``'s chapter (``autograder/chapters/<chapter>/``, under ``root``)
    whose ``register_pair(name="<chapter>.<block>", ...)`` registers it (a visible check: the
    call that registers it with its hidden twin)."""
    base = check.name.removesuffix(".visible")
    chapter = root / CHECKS / base.split(".")[0]
    call = re.compile(r"\bname\s*=\s*[\"']" + re.escape(base) + r"[\"']")
    return [
        p
        for p in sorted(chapter.glob("*.py"))
        if p.name != "__init__.py" and call.search(p.read_text(encoding="utf-8"))
    ]


def check_files(root: Path, check: Check) -> list[Path]:
    """The files ``check`` is made of (see the module's docstring), under ``root``."""
    modules = [_code_module(obj) for obj in _callables(check).values()]
    start = [*registered_in(root, check), *_module_files(root, modules)]
    files = import_closure(root, start, _follow)
    texts = "\n".join(p.read_text(encoding="utf-8") for p in files)
    data = [
        f
        for pattern in DATA_FILES
        for f in root.glob(pattern)
        if Path(pattern).name in texts  # a data file the checks name
    ]
    return sorted({*files, *_package_data(root, files), *data})


def _stable(value: Any) -> Any:
    """``value`` as JSON that is the same in every process (no addresses, no reprs of objects)."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_stable(v) for v in value]
    if isinstance(value, dict):
        return [[str(k), _stable(v)] for k, v in value.items()]
    if isinstance(value, functools.partial):
        return ["partial", _stable(value.func), _stable(value.args), _stable(value.keywords)]
    module, name = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if module and name:
        return f"{module}.{name}"
    return f"<{type(value).__module__}.{type(value).__qualname__}>"


def spec_digest(root: Path, check: Check, _seen: frozenset[str] = frozenset()) -> list[Any]:
    """The spec's part of the version, as stable JSON (see the module's docstring); a graded
    sub-block's check adds its own version (files under ``root``)."""
    tol = sorted(
        [str(dtype), float(atol), float(rtol)] for dtype, (atol, rtol) in check.tol.items()
    )
    subs = []
    for pattern, sub in sorted(check.submodules.items()):
        try:
            inner = get_check(sub.check)
        except KeyError:
            version = UNKNOWN
        else:
            seen = _seen | {check.name}
            version = UNKNOWN if inner.name in seen else check_version(root, inner, seen)
        subs.append([pattern, sub.check, version])
    return [
        check.name,
        check.target,
        check.description,
        check.visible,
        check.must_launch_triton,
        check.float32_inside,
        tol,
        [[role, _stable(obj)] for role, obj in _callables(check).items()],
        subs,
    ]


def check_version(root: Path, check: Check, _seen: frozenset[str] = frozenset()) -> str:
    """The version of ``check``: a hash of its spec, its cases and the reference code it calls
    (the files under ``root``, the course checkout, that it is made of)."""
    h = hashlib.sha256(json.dumps(spec_digest(root, check, _seen)).encode())
    for path in check_files(root, check):
        h.update(str(path.relative_to(root)).encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()[:LENGTH]


def check_versions(root: Path, names: Iterable[str]) -> dict[str, str]:
    """``{name: version}`` for checks ``names`` (:data:`UNKNOWN` for one not registered)."""
    out = {}
    for name in sorted(set(names)):
        try:
            check = get_check(name)
        except KeyError:
            out[name] = UNKNOWN
            continue
        out[name] = check_version(root, check)
    return out
