"""The claims audit (issue 25) stays complete and well formed.

Every chapter page of the table of contents has its audit file ``book/_audit/<chapter>/<page>.csv``
(one row per checked claim: ``page,claim,source,verdict,note``), and every row names its page, says
where the claim was checked and gives one of three verdicts. A page added without an audit, or a
row that says nothing, fails here.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
AUDIT = ROOT / "book" / "_audit"
HEADER = ["page", "claim", "source", "verdict", "note"]
VERDICTS = {"correct", "fixed", "stands"}
#: the bibliography's own audit (labels, author lists, titles)
BIBLIOGRAPHY_AUDIT = AUDIT / "bibliography.csv"


def chapter_pages() -> list[str]:
    """The chapter pages of ``_toc.yml`` (``book/NN-slug/page``), in order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    part = next(p for p in toc["parts"] if p.get("caption") == "Chapters")
    pages = []
    for chapter in part["chapters"]:
        pages.append(chapter["file"])
        pages.extend(section["file"] for section in chapter.get("sections", []))
    return pages


def audit_file(page: str) -> Path:
    chapter, name = Path(page).parts[-2:]
    return AUDIT / chapter / f"{name}.csv"


def assert_well_formed(path: Path, page: str) -> None:
    """``path`` holds checked claims of ``page``: the header, then complete rows."""
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows and rows[0] == HEADER, f"{path.name}: the header must be {','.join(HEADER)}"
    assert len(rows) > 1, f"{path.name}: an audit with no checked claim"
    for number, row in enumerate(rows[1:], start=2):
        where = f"{path.relative_to(ROOT)}:{number}"
        assert len(row) == len(HEADER), f"{where}: {len(row)} fields, not {len(HEADER)}"
        record = dict(zip(HEADER, row))
        assert record["page"] == page, f"{where}: the row names {record['page']!r}, not {page!r}"
        assert record["claim"].strip() and record["source"].strip(), f"{where}: claim and source"
        assert record["verdict"] in VERDICTS, f"{where}: verdict {record['verdict']!r}"
        if record["verdict"] == "stands":
            assert record["note"].strip(), f"{where}: a claim that stands says why in its note"


@pytest.mark.parametrize("page", chapter_pages())
def test_every_chapter_page_has_its_audit(page):
    path = audit_file(page)
    assert path.is_file(), f"{page}.md has no audit: add {path.relative_to(ROOT)} (see issue 25)"
    assert_well_formed(path, f"{page}.md")


def test_the_bibliography_audit_is_well_formed():
    assert_well_formed(BIBLIOGRAPHY_AUDIT, "book/bibliography.md")


def test_no_audit_file_names_a_page_that_is_gone():
    pages = {audit_file(p) for p in chapter_pages()}
    orphans = sorted(
        str(p.relative_to(ROOT))
        for p in AUDIT.rglob("*.csv")
        if p not in pages | {BIBLIOGRAPHY_AUDIT}
    )
    assert not orphans, f"audit files of no page in _toc.yml: {orphans}"


def test_every_bibliography_entry_parses_on_its_own():
    """An entry left unclosed (easy in a merge of two appended blocks) swallows the next one."""
    from pybtex.database import parse_file

    text = (ROOT / "references.bib").read_text()
    opened = [line for line in text.splitlines() if line.startswith("@")]
    assert len(parse_file(str(ROOT / "references.bib")).entries) == len(opened)


def test_every_bibliography_entry_has_a_title_an_author_and_a_year():
    """The plain style warns (and the book fails) on an entry without a year; say which."""
    from pybtex.database import parse_file

    entries = parse_file(str(ROOT / "references.bib")).entries
    incomplete = {
        key: [f for f in ("title", "year") if f not in entry.fields]
        + ([] if entry.persons.get("author") or "author" in entry.fields else ["author"])
        for key, entry in entries.items()
    }
    incomplete = {k: v for k, v in incomplete.items() if v}
    assert not incomplete, f"bibliography entries missing fields: {incomplete}"
