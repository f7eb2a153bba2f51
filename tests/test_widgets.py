"""course.widgets emits one self-contained HTML output: controls with stable test ids, the data as
JSON that cannot close its <script>, and no external resource. (The browser test in
tests/test_book.py drives the widgets of the built book.)"""

from __future__ import annotations

import json
import re

import pytest

from course.widgets import html_widget, number, select, slider, toggle


def _widget():
    return html_widget(
        "demo-widget",
        [
            slider("n", "n", 0, 10, 1, 3),
            number("x", "x", 4096, min=1, max=10_000),
            select("model", "model", ["a", ("B label", "b")], "b"),
            toggle("kind", "kind", [("one", 1), ("two", 2)], 2),
        ],
        "return W.num('demo-widget-sum', v.n + v.x);",
        data={"text": "</script><script>alert(1)</script>", "values": [1, 2]},
        fallback="needs JavaScript",
    )


def test_html_has_stable_hooks_and_embedded_data():
    bundle = _widget()._repr_mimebundle_()
    html = bundle["text/html"]
    assert "demo-widget" in bundle["text/plain"]
    assert '<div class="course-widget" data-widget="demo-widget" id="widget-demo-widget">' in html
    for control in ("n", "x", "model", "kind"):
        assert f'data-testid="demo-widget-{control}"' in html
    assert 'data-testid="demo-widget-output"' in html
    assert '<option value="&quot;b&quot;" selected>B label</option>' in html
    assert 'data-option="2" data-testid="demo-widget-kind-1" aria-pressed="true"' in html
    assert "<noscript>" in html and "return W.num('demo-widget-sum', v.n + v.x);" in html
    # exactly two </script>: the data element's and the code's; the payload cannot close them
    assert html.count("</script>") == 2
    payload = re.search(r'<script type="application/json" data-role="data">(.*?)</script>', html)
    assert json.loads(payload.group(1))["text"] == "</script><script>alert(1)</script>"
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "nothing loaded from a host"


def test_control_names_must_be_identifiers():
    with pytest.raises(ValueError, match="JavaScript identifier"):
        html_widget("w", [slider("batch-size", "B", 1, 2, 1, 1)], "return '';")
