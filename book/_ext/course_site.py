"""Small fixes to the built site that Jupyter Book 1.x has no setting for.

* sphinx-thebe adds its inline configuration script once per read of the environment, so a page
  built from a cached environment declares ``const THEBE_JS_URL`` twice and the browser logs a
  SyntaxError: each page keeps one copy of every script.
"""

from __future__ import annotations

from typing import Any


def _one_of_each_script(app: Any, pagename: str, templatename: str, context: dict, doctree: Any):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for script in scripts:
        # an inline script is added once with filename None and once with "" (two hooks)
        attributes = getattr(script, "attributes", {})
        key = (str(getattr(script, "filename", script) or ""), tuple(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app: Any) -> dict:
    app.connect("html-page-context", _one_of_each_script, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
