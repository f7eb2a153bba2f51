"""Grades into the LMS: the file Canvas, Moodle or Gradescope imports, from the gradebook.

The grader knows a student by the folder or zip name the LMS download gave them
(:mod:`autograder.submissions`). :func:`parse_download_name` reads what those names hold:

* Moodle's "Download all submissions": ``Jane Doe_12345_assignsubmission_file_`` (full name and
  the *participant* number of the assignment, as in its grading worksheet's ``Identifier``
  column, ``Participant 12345``);
* Canvas's "Download Submissions": ``doejane_12345_67890_prologue.zip`` or
  ``doejane_LATE_12345_67890_...`` (last and first name run together, the Canvas user ID, the
  attachment's ID);
* anything else is the LMS's own login: an email address when it holds an ``@``, else a username.

A roster (``--roster``: the LMS's own CSV export, see :func:`read_roster`) maps these to what the
import matches on (Canvas: ID / SIS User ID; Moodle: email address or username; Gradescope:
email or SID), by the number in the name, the login, or the name itself; every graded student
must be found (one sentence lists those who are not).

Formats (their documentation is cited in the instructors' guide):

* ``canvas``: the gradebook CSV: ``Student, ID, SIS User ID, SIS Login ID, Section``, one column
  per assignment (the roster's own ``Name (id)`` header when it has the assignment, so Canvas
  updates it instead of creating a new one), and the ``Points Possible`` row under the header;
* ``moodle``: the grade import CSV: an identifier column (``Email address`` or ``Username``, the
  import's "Map from" field) and one grade column per assignment;
* ``gradescope``: ``Name, SID, Email, Total Score, Max Points`` for one assignment.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

from autograder.errors import CourseError

FORMATS = ("csv", "canvas", "moodle", "gradescope")

_MOODLE = re.compile(
    r"^(?P<name>.+?)_(?P<id>\d+)_assign(?:submission|feedback)_(?:file|onlinetext)_?$"
)
_CANVAS = re.compile(r"^(?P<name>[a-z0-9-]+?)(?:_late)?_(?P<id>\d+)_(?P<att>\d+)(?:_.*)?$", re.I)
#: Canvas's header for an existing assignment: "Name (1234)"
_CANVAS_COLUMN = re.compile(r"^(?P<name>.*\S)\s+\((?P<id>\d+)\)$")
CANVAS_HEAD = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS = "    Points Possible"  # as Canvas's own export writes it
MOODLE_IDS = {"email": "Email address", "username": "Username"}
GRADESCOPE_HEAD = ["Name", "SID", "Email", "Total Score", "Max Points"]


@dataclass(frozen=True)
class Person:
    """What is known of one student: from the download's name and, when given, the roster."""

    name: str = ""
    #: Canvas user ID or Moodle participant number (from the download's name or the roster)
    lms_id: str = ""
    email: str = ""
    username: str = ""
    sis_id: str = ""
    section: str = ""
    #: "moodle", "canvas" or "" (a plain login): what the download's name looked like
    source: str = ""


def parse_download_name(student_id: str) -> Person:
    """What an LMS download's folder or zip name says about its student (see the module)."""
    m = _MOODLE.match(student_id)
    if m:
        return Person(name=m["name"].strip(), lms_id=m["id"], source="moodle")
    m = _CANVAS.match(student_id)
    if m:
        return Person(name=m["name"], lms_id=m["id"], source="canvas")
    if "@" in student_id:
        return Person(email=student_id)
    return Person(username=student_id)


def _name_keys(name: str) -> set[str]:
    """Ways a name is written by the LMSs: "Doe, Jane", "Jane Doe", "doejane" all share a key."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()
    if "," in plain:  # "Last, First"
        last, first = plain.split(",", 1)
        words = re.findall(r"[a-z0-9]+", first) + re.findall(r"[a-z0-9]+", last)
        n_first = len(re.findall(r"[a-z0-9]+", first))
    else:
        words = re.findall(r"[a-z0-9]+", plain)
        n_first = max(len(words) - 1, 1)
    if not words:
        return set()
    first, last = "".join(words[:n_first]), "".join(words[n_first:])
    return {" ".join(sorted(words)), last + first, first + last}


# ------------------------------------------------------------------------------------- roster


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CourseError(
            f"cannot read the roster {path} ({exc.strerror}); check the path."
        ) from None
    except UnicodeDecodeError:
        raise CourseError(f"the roster {path} is not UTF-8 text; export it again as CSV.") from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.DictReader(io.StringIO(text), dialect=dialect))
    if not rows:
        raise CourseError(f"the roster {path} has no rows under its header; export it again.")
    return rows


def read_roster(path: Path) -> list[Person]:
    """The students of an LMS's own export: Canvas's gradebook export (``Student, ID, SIS User
    ID, SIS Login ID, Section``), Moodle's grading worksheet (``Identifier`` "Participant N",
    ``Full name``, ``Email address``) or gradebook export (``First name``, ``Last name``,
    ``Email address``, ``Username``/``ID number``), or Gradescope's roster (``Name`` or
    ``First Name``/``Last Name``, ``SID``, ``Email``)."""
    people = []
    for row in _read_csv(path):
        r = {(k or "").strip().casefold(): (v or "").strip() for k, v in row.items()}
        name = r.get("student") or r.get("full name") or r.get("name") or ""
        if not name and (r.get("first name") or r.get("last name")):
            name = f"{r.get('last name', '')}, {r.get('first name', '')}"
        if name.strip().casefold() in {"points possible", "student, test", "test student"}:
            continue  # Canvas's points row and its test student
        ident = r.get("identifier", "")
        lms_id = r.get("id", "") or (re.sub(r"\D", "", ident) if ident else "")
        people.append(
            Person(
                name=name,
                lms_id=lms_id,
                email=r.get("email address") or r.get("email") or "",
                username=r.get("username") or r.get("sis login id") or "",
                sis_id=r.get("sis user id") or r.get("sid") or r.get("id number") or "",
                section=r.get("section") or r.get("sections") or r.get("group") or "",
            )
        )
    if not any(p.name or p.email or p.lms_id for p in people):
        raise CourseError(
            f"{path} has none of the columns an LMS roster has (Student/ID, Identifier, Email "
            "address, SID): pass the LMS's own export of the class."
        )
    return people


def match(student_ids: list[str], roster: list[Person] | None, path: Path | None) -> dict:
    """student id -> :class:`Person`, through the roster when there is one. Raises CourseError
    naming every graded student the roster does not have (or has twice)."""
    out: dict[str, Person] = {}
    unknown: list[str] = []
    for sid in student_ids:
        seen = parse_download_name(sid)
        if roster is None:
            out[sid] = seen
            continue
        found = _find(sid, seen, roster)
        if found is None:
            unknown.append(sid)
        else:
            out[sid] = replace(found, source=seen.source)
    if unknown:
        names = ", ".join(repr(s) for s in unknown[:10]) + (", ..." if len(unknown) > 10 else "")
        raise CourseError(
            f"{len(unknown)} graded student(s) are not in the roster {path} ({names}): export "
            "the roster again from the LMS (it may predate a late enrolment), or grade those "
            "submissions under the folder name the LMS gave them."
        )
    return out


def _find(sid: str, seen: Person, roster: list[Person]) -> Person | None:
    """The one roster entry for this student: by the number in the download's name, else by
    login, else by name; None when there is none or more than one."""
    tests = []
    if seen.lms_id:
        tests.append(lambda p: p.lms_id == seen.lms_id)
    low = sid.casefold()
    tests.append(
        lambda p: low in {p.email.casefold(), p.username.casefold(), p.sis_id.casefold()} - {""}
    )
    keys = _name_keys(seen.name) if seen.name else set()
    if keys:
        tests.append(lambda p: bool(keys & _name_keys(p.name)))
    for test in tests:
        hits = [p for p in roster if test(p)]
        if len(hits) == 1:
            return hits[0]
    return None


# ------------------------------------------------------------------------------------- writers


@dataclass(frozen=True)
class AssignmentScores:
    """One assignment's grades as the gradebook holds them."""

    name: str
    max_score: float
    scores: dict[str, float]  # student id -> score


def _fmt(x: float) -> str:
    return f"{x:g}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def _students(assignments: list[AssignmentScores]) -> list[str]:
    return sorted({s for a in assignments for s in a.scores})


def canvas_csv(
    assignments: list[AssignmentScores], people: dict[str, Person], roster_path: Path | None
) -> str:
    """Canvas's gradebook CSV (see the module's docstring)."""
    columns = [a.name for a in assignments]
    if roster_path is not None:  # reuse Canvas's own "Name (id)" header for a known assignment
        header = next(csv.reader(io.StringIO(roster_path.read_text(encoding="utf-8-sig"))), [])
        for i, a in enumerate(assignments):
            for h in header:
                m = _CANVAS_COLUMN.match(h.strip())
                if m and m["name"] == a.name:
                    columns[i] = h.strip()
    rows = [[CANVAS_POINTS, "", "", "", "", *(_fmt(a.max_score) for a in assignments)]]
    missing = []
    for sid in _students(assignments):
        p = people[sid]
        if not (p.lms_id or p.sis_id):
            missing.append(sid)
            continue
        rows.append(
            [
                p.name or sid,
                p.lms_id,
                p.sis_id,
                p.username,
                p.section,
                *(_fmt(a.scores[sid]) if sid in a.scores else "" for a in assignments),
            ]
        )
    if missing:
        raise CourseError(
            f"Canvas matches students by ID or SIS User ID, which {len(missing)} student "
            f"name(s) do not hold (such as {missing[0]!r}): pass --roster with the course's "
            "gradebook export (Grades > Export)."
        )
    return _table(CANVAS_HEAD + columns, rows)


def moodle_csv(assignments: list[AssignmentScores], people: dict[str, Person]) -> str:
    """Moodle's grade import CSV: ``Email address`` (or ``Username`` when not every student has
    an email) and one grade column per assignment."""
    students = _students(assignments)
    if all(people[s].email for s in students):
        key, field = "email", MOODLE_IDS["email"]
    elif all(people[s].username for s in students):
        key, field = "username", MOODLE_IDS["username"]
    else:
        bad = next(s for s in students if not (people[s].email or people[s].username))
        raise CourseError(
            f"Moodle's grade import matches students by email address or username, which "
            f"{bad!r} does not give: pass --roster with the assignment's grading worksheet "
            "(or the gradebook's export) from Moodle."
        )
    rows = [
        [
            getattr(people[s], key),
            *(_fmt(a.scores[s]) if s in a.scores else "" for a in assignments),
        ]
        for s in students
    ]
    return _table([field, *(a.name for a in assignments)], rows)


def gradescope_csv(assignments: list[AssignmentScores], people: dict[str, Person]) -> str:
    """Gradescope's score upload: ``Name, SID, Email, Total Score, Max Points``, one assignment."""
    if len(assignments) != 1:
        raise CourseError(
            "Gradescope takes one assignment's scores per upload: pass one --assignment."
        )
    (a,) = assignments
    rows, missing = [], []
    for sid in _students(assignments):
        p = people[sid]
        if not (p.email or p.sis_id):
            missing.append(sid)
            continue
        rows.append([p.name or sid, p.sis_id, p.email, _fmt(a.scores[sid]), _fmt(a.max_score)])
    if missing:
        raise CourseError(
            f"Gradescope matches students by email or SID, which {len(missing)} student "
            f"name(s) do not hold (such as {missing[0]!r}): pass --roster with the course's "
            "roster export from Gradescope."
        )
    return _table(GRADESCOPE_HEAD, rows)


def write(
    fmt: str,
    assignments: list[AssignmentScores],
    out: Path,
    roster: Path | None = None,
) -> int:
    """Write ``out`` in format ``fmt`` (not ``csv``: that is :func:`autograder.gradebook.export`);
    returns the number of students written."""
    from autograder.result_files import write_atomic

    people = match(_students(assignments), read_roster(roster) if roster else None, roster)
    if fmt == "canvas":
        text = canvas_csv(assignments, people, roster)
    elif fmt == "moodle":
        text = moodle_csv(assignments, people)
    elif fmt == "gradescope":
        text = gradescope_csv(assignments, people)
    else:
        raise CourseError(f"unknown format {fmt!r}: pass one of {', '.join(FORMATS)}.")
    write_atomic(out, text)
    return len(people)
