"""Collecting a class's submissions: nbgrader's folder layout, one zip per student, or one notebook
per student (Canvas's download)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder.errors import CourseError
from autograder.notebooks import MAX_NOTEBOOK_BYTES, STUDENT_ID

_UNSAFE = re.compile(r"[^A-Za-z0-9_.@-]+")


def file_safe(student_id: str) -> str:
    """A file name for ``student_id``: the id itself when it is plain ASCII (letters, digits,
    ``_ . @ -``), else a readable ASCII slug plus a short hash of the exact id (stable across
    runs, so resuming finds the same file, and distinct for ids that slug alike)."""
    if STUDENT_ID.match(student_id):
        return student_id
    ascii_ = unicodedata.normalize("NFKD", student_id).encode("ascii", "ignore").decode()
    slug = _UNSAFE.sub("_", ascii_).strip("._-")[:60] or "student"
    digest = hashlib.sha256(student_id.encode("utf-8", "surrogateescape")).hexdigest()[:10]
    return f"{slug}-{digest}"


@dataclass
class Submission:
    """One student's notebooks. ``student_id`` is the folder or zip name exactly as exported by
    the LMS (accents, spaces and all); :attr:`file_id` is what goes into file names."""

    student_id: str
    notebooks: dict[str, bytes] = field(default_factory=dict)  # file name -> bytes
    notes: list[str] = field(default_factory=list)  # problems that cost this student points

    @property
    def file_id(self) -> str:
        return file_safe(self.student_id)


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
        elif entry.suffix in (".zip", ".ipynb"):  # .ipynb: Canvas's download, one file each
            sid = entry.stem
        else:
            continue
        if sid in found:  # graded from the folder (sorted first); the instructor keeps one
            found[sid].notes.append(
                f"both a folder and a zip were submitted ({entry.name} ignored; keep one)"
            )
            continue
        sub = Submission(sid)
        read = (
            _read_folder if entry.is_dir() else _read_zip if entry.suffix == ".zip" else _read_one
        )
        read(entry, assignment, expected, sub)
        found[sid] = sub
    if not found:
        raise CourseError(
            f"no submissions in {root}: expected <student_id>/{assignment}/*.ipynb "
            "folders, <student_id>.zip files or <student_id>.ipynb notebooks."
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


def _read_one(path: Path, assignment: str, expected: list[str], sub: Submission) -> None:
    """A notebook alone in the class folder (Canvas's "Download Submissions" names each file
    ``lastfirst_userid_attachmentid_<name>.ipynb``): graded as the assignment's one notebook."""
    if path.is_symlink() or not path.is_file():
        sub.notes.append(f"{path.name} is not a regular file")
        return
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        sub.notes.append(f"{path.name} is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB")
        return
    _match({path.name: path.read_bytes()}, expected, sub)


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
