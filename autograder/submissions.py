"""Collecting a class's submissions: nbgrader's folder layout or one zip per student."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder.errors import CourseError
from autograder.notebooks import MAX_NOTEBOOK_BYTES, STUDENT_ID


@dataclass
class Submission:
    student_id: str
    notebooks: dict[str, bytes] = field(default_factory=dict)  # file name -> bytes
    notes: list[str] = field(default_factory=list)  # problems that cost this student points


def discover(root: Path, assignment: str, expected: list[str]) -> list[Submission]:
    """Every student's submission under ``root``; raises CourseError for a wrong class folder."""
    if not root.exists():
        raise CourseError(
            f"the submissions folder {root} does not exist; pass the folder that holds "
            "one folder or zip per student."
        )
    if not root.is_dir():
        raise CourseError(
            f"{root} is a file, not a folder; pass the folder that holds the submissions."
        )
    found: dict[str, Submission] = {}
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            sid = entry.name
        elif entry.suffix == ".zip":
            sid = entry.stem
        else:
            continue
        if not STUDENT_ID.match(sid):
            raise CourseError(
                f"{entry.name!r} is not a valid student id (letters, digits, '_', '.', "
                "'-', '@'); rename it."
            )
        if sid in found:
            raise CourseError(f"student {sid!r} has both a folder and a zip in {root}; keep one.")
        sub = Submission(sid)
        (_read_folder if entry.is_dir() else _read_zip)(entry, assignment, expected, sub)
        found[sid] = sub
    if not found:
        raise CourseError(
            f"no submissions in {root}: expected <student_id>/{assignment}/*.ipynb "
            "folders or <student_id>.zip files."
        )
    return list(found.values())


def _match(names: dict[str, bytes], expected: list[str], sub: Submission) -> None:
    if len(expected) == 1 and expected[0] not in names and len(names) == 1:
        ((name, data),) = names.items()
        sub.notes.append(f"graded {name} as {expected[0]}")
        names = {expected[0]: data}
    for nb in expected:
        if nb in names:
            sub.notebooks[nb] = names[nb]
        else:
            sub.notes.append(f"{nb} was not submitted")


def _read_folder(folder: Path, assignment: str, expected: list[str], sub: Submission) -> None:
    adir = folder / assignment
    if not adir.is_dir():
        sub.notes.append(f"no {assignment}/ folder in the submission")
        return
    names = {}
    for p in sorted(adir.glob("*.ipynb")):
        if p.is_symlink() or not p.is_file():
            sub.notes.append(f"{p.name} is not a regular file")
            continue
        if p.stat().st_size > MAX_NOTEBOOK_BYTES:
            sub.notes.append(f"{p.name} is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB")
            continue
        names[p.name] = p.read_bytes()
    if not names:
        sub.notes.append("no notebooks in the submission")
    _match(names, expected, sub)


def _read_zip(path: Path, assignment: str, expected: list[str], sub: Submission) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            names = {}
            for info in zf.infolist():
                base = info.filename.rsplit("/", 1)[-1]
                if info.is_dir() or not base.endswith(".ipynb") or base.startswith("."):
                    continue
                if "__MACOSX" in info.filename:
                    continue
                if info.file_size > MAX_NOTEBOOK_BYTES:
                    sub.notes.append(
                        f"{base} in the zip is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB"
                    )
                    continue
                with zf.open(info) as f:
                    data = f.read(MAX_NOTEBOOK_BYTES + 1)
                if len(data) > MAX_NOTEBOOK_BYTES:
                    sub.notes.append(f"{base} in the zip is larger than allowed")
                    continue
                names.setdefault(base, data)
    except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError) as exc:
        sub.notes.append(f"{path.name} is not a readable zip file ({exc})")
        return
    if not names:
        sub.notes.append("the zip holds no .ipynb notebook")
    _match(names, expected, sub)
