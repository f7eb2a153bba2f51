"""The published site's address: the one value (``_config.yml``'s ``html.baseurl``) that the
released notebooks' kit install line and their links to the book are made from.

An instructor who publishes a fork changes ``html.baseurl`` and runs ``release --all --kit``: the
notebooks then install the kit from ``<baseurl>release/`` and link ``<baseurl>book/...html``.
``make book`` copies the release (notebooks and kit wheel) into ``_build/html/release/``, so
publishing the site publishes the release.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from autograder.errors import CourseError

CONFIG = Path(__file__).resolve().parents[1] / "_config.yml"
#: where the release sits inside the built site (``_build/html/release/``)
RELEASE_DIR = "release"
#: a released notebook's link to a book page's source, ``](../../book/03-llama/rope.md#anchor)``,
#: with the source path that may follow it in backquotes (meaningful only in a clone)
BOOK_SOURCE_LINK = re.compile(
    r"\]\((?:\.\./)+book/([A-Za-z0-9_./-]+?)\.md(#[A-Za-z0-9_-]+)?\)(?: \(`book/[^`]+\.md`\))?"
)


def base_url(config: Path = CONFIG) -> str:
    """``html.baseurl`` of ``_config.yml``, ending in ``/``."""
    data = yaml.safe_load(config.read_text()) or {}
    url = (data.get("html") or {}).get("baseurl")
    if not isinstance(url, str) or not re.match(r"^https?://[^\s/]+(/\S*)?$", url):
        raise CourseError(
            f"{config.name} has no html.baseurl (the published site's address, e.g. "
            "https://OWNER.github.io/REPO/); set it: the released notebooks link to it."
        )
    return url if url.endswith("/") else url + "/"


def release_url(name: str, config: Path = CONFIG) -> str:
    """The address of a file of the release (``name`` relative to ``release/``)."""
    return f"{base_url(config)}{RELEASE_DIR}/{name}"


def published_links(markdown: str, base: str) -> str:
    """``markdown`` with each link to a book page's source replaced by the published page."""
    return BOOK_SOURCE_LINK.sub(lambda m: f"]({base}book/{m[1]}.html{m[2] or ''})", markdown)
