"""Widgets that respond in the static book, offline, and in Jupyter/Colab alike.

A widget is one self-contained ``text/html`` output: HTML controls, the data the widget needs as
embedded JSON (computed here in Python, by the course's reference code), and a few lines of
JavaScript that recompute the result in the browser whenever a control changes. Nothing is loaded
from anywhere: no kernel, no CDN, no extension. The same output works in the built book (the
reader has no kernel), in JupyterLab/Notebook and in Colab (trusted outputs run their scripts).

The whole API::

    from course.widgets import html_widget, number, select, slider, toggle

    html_widget(
        "kv-cache",                                  # name: data-widget / data-testid prefix
        [select("model", "model", ["A", "B"], "A"),  # controls: (name, label, ...)
         slider("batch", "batch B", 1, 64, 1, 1),
         number("context", "context L", 4096, min=1, max=10_000_000),
         toggle("kind", "attention", ["MHA", "MQA"], "MHA")],
        js_update="return W.num('kv-cache-bytes', 2 * v.batch * v.context * data.per_token);",
        data={"per_token": 4096},
        fallback="Without JavaScript: see the figure above.",
    )

``js_update`` is the *body* of ``function (v, data, out, W)``: ``v`` maps each control's name to
its current value (numbers for sliders and number boxes; for selects and toggles the option's
value, which may be any JSON value), ``data`` is the embedded JSON, ``out`` the output element,
and ``W`` a few helpers (``W.num``, ``W.fmt``, ``W.plot``, ``W.esc``, see ``_RUNTIME``). If it
returns a string, that string becomes the output's HTML. Keep the computation there a mirror of
the Python reference and let the browser test (tests/test_book.py) compare the two.

Stable hooks for tests and CSS: the root is ``<div data-widget="NAME" id="widget-NAME">``; each
control has ``data-testid="NAME-CONTROL"`` (a toggle's buttons also carry ``data-option``), the
output ``data-testid="NAME-output"``; ``W.num(testid, value)`` renders a number with a
``data-testid`` and its exact value in ``data-value``. After each recomputation the root's
``data-updates`` counter grows, and ``data-ready="1"`` is set once the script has run.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

Option = tuple[str, Any]  # (label shown, value passed to the JavaScript)


@dataclass(frozen=True)
class Control:
    """One input of a widget. Build it with :func:`slider`, :func:`number`, :func:`select` or
    :func:`toggle`."""

    kind: str  # "slider" | "number" | "select" | "toggle"
    name: str  # key in the JavaScript ``v`` object; must be a JS identifier
    label: str
    value: Any
    options: tuple[Option, ...] = ()
    attrs: dict[str, float] = field(default_factory=dict)


def _options(options: Sequence[Any]) -> tuple[Option, ...]:
    return tuple(o if isinstance(o, tuple) else (str(o), o) for o in options)


def slider(name: str, label: str, min: float, max: float, step: float, value: float) -> Control:
    """A range slider (``<input type=range>``) with its current value shown beside it."""
    return Control("slider", name, label, value, attrs={"min": min, "max": max, "step": step})


def number(
    name: str,
    label: str,
    value: float,
    min: float | None = None,
    max: float | None = None,
    step: float | None = 1,
) -> Control:
    """A number box (``<input type=number>``). Out-of-range or empty input pauses the update and
    marks the box invalid."""
    attrs = {k: v for k, v in (("min", min), ("max", max), ("step", step)) if v is not None}
    return Control("number", name, label, value, attrs=attrs)


def select(name: str, label: str, options: Sequence[Any], value: Any) -> Control:
    """A drop-down. ``options`` are values or ``(label, value)`` pairs; ``value`` is one value."""
    return Control("select", name, label, value, options=_options(options))


def toggle(name: str, label: str, options: Sequence[Any], value: Any) -> Control:
    """A row of buttons, one pressed (like ipywidgets' ToggleButtons)."""
    return Control("toggle", name, label, value, options=_options(options))


def _json(value: Any) -> str:
    """JSON safe to embed in HTML attributes and in a <script> element."""
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/")


def _control_html(widget: str, c: Control) -> str:
    tid = f"{widget}-{c.name}"
    label = html.escape(c.label)
    common = f'data-control="{c.name}" data-kind="{c.kind}" data-testid="{tid}" id="{tid}"'
    if c.kind in ("slider", "number"):
        kind = "range" if c.kind == "slider" else "number"
        attrs = " ".join(f'{k}="{v}"' for k, v in c.attrs.items())
        shown = f'<output data-testid="{tid}-value">{c.value}</output>' if kind == "range" else ""
        return (
            f'<label class="cw-control" for="{tid}"><span>{label}</span>'
            f'<input type="{kind}" {common} {attrs} value="{c.value}">{shown}</label>'
        )
    if c.kind == "select":
        opts = "".join(
            f'<option value="{html.escape(_json(v))}"{" selected" if v == c.value else ""}>'
            f"{html.escape(text)}</option>"
            for text, v in c.options
        )
        return (
            f'<label class="cw-control" for="{tid}"><span>{label}</span>'
            f"<select {common}>{opts}</select></label>"
        )
    if c.kind == "toggle":
        buttons = "".join(
            f'<button type="button" data-option="{html.escape(_json(v))}" '
            f'data-testid="{tid}-{i}" aria-pressed="{"true" if v == c.value else "false"}">'
            f"{html.escape(text)}</button>"
            for i, (text, v) in enumerate(c.options)
        )
        return (
            f'<div class="cw-control" role="group" aria-label="{label}"><span>{label}</span>'
            f'<span class="cw-toggle" {common}>{buttons}</span></div>'
        )
    raise ValueError(f"unknown control kind {c.kind!r}")


_STYLE = """
.course-widget{border:1px solid #8884;border-radius:6px;padding:.6em .8em;margin:.5em 0;
  font-size:.92em;max-width:100%;overflow-x:auto}
.course-widget .cw-controls{display:flex;flex-wrap:wrap;gap:.4em 1.2em;align-items:center}
.course-widget .cw-control{display:inline-flex;gap:.4em;align-items:center;margin:0}
.course-widget .cw-control>span:first-child{font-weight:600}
.course-widget input[type=number]{width:9em}
.course-widget input[aria-invalid=true]{outline:2px solid #d33}
.course-widget .cw-toggle button{border:1px solid #8888;background:transparent;color:inherit;
  padding:.15em .6em;margin:0 -1px 0 0;cursor:pointer}
.course-widget .cw-toggle button[aria-pressed=true]{background:#3b7dd8;color:#fff}
.course-widget .cw-output{margin-top:.6em}
.course-widget .cw-output table{margin:0}
.course-widget svg{max-width:100%;height:auto}
"""

# The runtime shared by every widget (about 100 lines, inlined in each output so that the output
# is self-contained in any front end). ROOT_ID and UPDATE are substituted per widget.
_RUNTIME = r"""
(function () {
  var root = (document.currentScript && document.currentScript.closest('[data-widget]'))
    || document.getElementById(ROOT_ID);
  if (!root || root.dataset.ready) { return; }
  var data = JSON.parse(root.querySelector('script[data-role="data"]').textContent);
  var out = root.querySelector('[data-role="output"]');
  var W = {
    esc: function (s) { return String(s).replace(/[&<>"]/g, function (c) {
      return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}[c]; }); },
    // fmt(x, digits): thousands separators and a fixed number of decimals, like Python's f"{x:,.2f}".
    fmt: function (x, digits) {
      if (!isFinite(x)) { return String(x); }
      return Number(x).toLocaleString('en-US', {minimumFractionDigits: digits || 0,
        maximumFractionDigits: digits || 0});
    },
    // num(testid, value, text): a number a test can read exactly (data-value) and a reader can read.
    num: function (testid, value, text) {
      var shown = text === undefined ? W.fmt(value, 0) : text;
      return '<span data-testid="' + testid + '" data-value="' + String(value) + '">' +
        shown + '</span>';
    },
    // plot({width, height, xlim, ylim, lines: [{x, y, color}], points: [{x, y, color}],
    //       arrows: [{x, y, color, opacity}] (from the origin), xlabel, ylabel, title}) -> <svg>.
    plot: function (o) {
      var w = o.width || 320, h = o.height || 240, m = {l: 46, r: 10, t: 22, b: 34};
      var X = function (x) { return m.l + (x - o.xlim[0]) / (o.xlim[1] - o.xlim[0]) * (w - m.l - m.r); };
      var Y = function (y) { return h - m.b - (y - o.ylim[0]) / (o.ylim[1] - o.ylim[0]) * (h - m.t - m.b); };
      var s = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ' + w + ' ' + h + '" width="' + w +
        '" height="' + h + '" font-size="10" fill="currentColor" stroke-linecap="round">';
      s += '<rect x="' + m.l + '" y="' + m.t + '" width="' + (w - m.l - m.r) + '" height="' +
        (h - m.t - m.b) + '" fill="none" stroke="currentColor" stroke-opacity=".5"/>';
      if (o.ylim[0] < 0 && o.ylim[1] > 0) { s += '<line x1="' + m.l + '" x2="' + (w - m.r) + '" y1="' +
        Y(0) + '" y2="' + Y(0) + '" stroke="currentColor" stroke-opacity=".25"/>'; }
      if (o.xlim[0] < 0 && o.xlim[1] > 0) { s += '<line y1="' + m.t + '" y2="' + (h - m.b) + '" x1="' +
        X(0) + '" x2="' + X(0) + '" stroke="currentColor" stroke-opacity=".25"/>'; }
      var tick = function (v) { return Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-2) ?
        v.toExponential(1) : String(+v.toFixed(2)); };
      [0, 1].forEach(function (i) {
        s += '<text x="' + X(o.xlim[i]) + '" y="' + (h - m.b + 12) + '" text-anchor="middle">' + tick(o.xlim[i]) + '</text>';
        s += '<text x="' + (m.l - 4) + '" y="' + (Y(o.ylim[i]) + 3) + '" text-anchor="end">' + tick(o.ylim[i]) + '</text>';
      });
      if (o.xlabel) { s += '<text x="' + ((w + m.l - m.r) / 2) + '" y="' + (h - 6) + '" text-anchor="middle">' + W.esc(o.xlabel) + '</text>'; }
      if (o.ylabel) { s += '<text transform="translate(11,' + ((h + m.t - m.b) / 2) + ') rotate(-90)" text-anchor="middle">' + W.esc(o.ylabel) + '</text>'; }
      if (o.title) { s += '<text x="' + ((w + m.l - m.r) / 2) + '" y="14" text-anchor="middle">' + W.esc(o.title) + '</text>'; }
      (o.lines || []).forEach(function (l) {
        var pts = l.x.map(function (x, i) { return X(x).toFixed(1) + ',' + Y(l.y[i]).toFixed(1); });
        s += '<polyline fill="none" stroke="' + (l.color || '#3b7dd8') + '" stroke-width="' +
          (l.width || 1.5) + '" points="' + pts.join(' ') + '"/>';
      });
      (o.arrows || []).forEach(function (a) {
        s += '<line x1="' + X(0) + '" y1="' + Y(0) + '" x2="' + X(a.x) + '" y2="' + Y(a.y) + '" stroke="' +
          (a.color || '#3b7dd8') + '" stroke-opacity="' + (a.opacity === undefined ? 1 : a.opacity) +
          '" stroke-width="2"/><circle cx="' + X(a.x) + '" cy="' + Y(a.y) + '" r="2.5" fill="' +
          (a.color || '#3b7dd8') + '" fill-opacity="' + (a.opacity === undefined ? 1 : a.opacity) + '"/>';
      });
      (o.points || []).forEach(function (p) {
        s += '<circle cx="' + X(p.x) + '" cy="' + Y(p.y) + '" r="4" fill="' + (p.color || '#d33') + '"/>';
      });
      return s + '</svg>';
    }
  };
  var update = function (v, data, out, W) {
UPDATE
  };
  var controls = Array.prototype.slice.call(root.querySelectorAll('[data-control]'));
  // W.changed: the name of the control the reader just changed (null on the first draw).
  // W.set(name, value): move a slider or pick an option from the update (no event fires), so
  // that linked controls agree (picking a model's budget moves the budget slider).
  W.changed = null;
  W.set = function (name, value) {
    controls.forEach(function (el) {
      if (el.dataset.control !== name) { return; }
      if (el.dataset.kind === 'select') { el.value = JSON.stringify(value); return; }
      if (el.dataset.kind === 'toggle') {
        el.querySelectorAll('button').forEach(function (x) {
          x.setAttribute('aria-pressed', x.dataset.option === JSON.stringify(value) ? 'true' : 'false');
        });
        return;
      }
      el.value = String(value);
      var shown = root.querySelector('[data-testid="' + el.dataset.testid + '-value"]');
      if (shown) { shown.textContent = el.value; }
    });
  };
  function read() {
    var v = {}, ok = true;
    controls.forEach(function (el) {
      var kind = el.dataset.kind, name = el.dataset.control;
      if (kind === 'slider' || kind === 'number') {
        var x = el.value === '' ? NaN : Number(el.value);
        var bad = !isFinite(x) || (el.min !== '' && x < Number(el.min)) ||
          (el.max !== '' && x > Number(el.max));
        el.setAttribute('aria-invalid', bad ? 'true' : 'false');
        if (bad) { ok = false; }
        v[name] = x;
        var shown = root.querySelector('[data-testid="' + el.dataset.testid + '-value"]');
        if (shown) { shown.textContent = el.value; }
      } else if (kind === 'select') {
        v[name] = JSON.parse(el.value);
      } else {
        var on = el.querySelector('button[aria-pressed="true"]');
        v[name] = JSON.parse(on.dataset.option);
      }
    });
    return ok ? v : null;
  }
  function run(ev) {
    var source = ev && ev.currentTarget && ev.currentTarget.dataset;
    W.changed = source ? source.control : null;
    var v = read();
    if (!v) { return; }
    try {
      var r = update(v, data, out, W);
      if (typeof r === 'string') { out.innerHTML = r; }
    } catch (e) {
      out.textContent = 'widget error: ' + e;
      throw e;
    }
    root.dataset.updates = String(Number(root.dataset.updates || 0) + 1);
  }
  controls.forEach(function (el) {
    if (el.dataset.kind === 'toggle') {
      el.addEventListener('click', function (ev) {
        var b = ev.target.closest('button');
        if (!b) { return; }
        el.querySelectorAll('button').forEach(function (x) {
          x.setAttribute('aria-pressed', x === b ? 'true' : 'false'); });
        run(ev);
      });
    } else {
      el.addEventListener('input', run);
      el.addEventListener('change', run);
    }
  });
  run();
  root.dataset.ready = '1';
})();
"""


class HTMLWidget:
    """A displayable widget: Jupyter and myst-nb render it through ``_repr_mimebundle_``."""

    def __init__(
        self,
        name: str,
        controls: Sequence[Control],
        js_update: str,
        data: Any = None,
        fallback: str = "",
    ):
        self.name, self.controls, self.js_update = name, list(controls), js_update
        self.data, self.fallback = data, fallback

    def to_html(self) -> str:
        """The self-contained HTML (controls, data, style, script)."""
        root_id = f"widget-{self.name}"
        controls = "".join(_control_html(self.name, c) for c in self.controls)
        script = _RUNTIME.replace("ROOT_ID", json.dumps(root_id)).replace(
            "UPDATE", self.js_update.strip("\n")
        )
        fallback = (
            f'<noscript><p class="cw-noscript">{self.fallback}</p></noscript>'
            if self.fallback
            else ""
        )
        return (
            f'<div class="course-widget" data-widget="{self.name}" id="{root_id}">'
            f"<style>{_STYLE}</style>"
            f'<div class="cw-controls">{controls}</div>'
            f'<div class="cw-output" data-role="output" data-testid="{self.name}-output" '
            f'aria-live="polite"></div>{fallback}'
            f'<script type="application/json" data-role="data">{_json(self.data)}</script>'
            f"<script>{script}</script></div>"
        )

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        names = ", ".join(c.name for c in self.controls)
        return {
            "text/html": self.to_html(),
            "text/plain": f"<course widget {self.name!r} ({names}): needs an HTML front end>",
        }


def html_widget(
    name: str,
    controls: Sequence[Control],
    js_update: str,
    data: Any = None,
    fallback: str = "",
) -> HTMLWidget:
    """A widget whose logic runs in the browser (see the module docstring).

    Args:
        name: unique on its page; lowercase words joined by '-' (used in ids and data-testid).
        controls: made with :func:`slider`, :func:`number`, :func:`select`, :func:`toggle`.
        js_update: body of ``function (v, data, out, W)``; return an HTML string for the output.
        data: anything JSON-serialisable, computed in Python (configs, vectors, tables).
        fallback: HTML shown only when JavaScript is off (point to the page's static figure).
    """
    if "</script" in js_update.lower():
        raise ValueError("js_update may not contain '</script' (it would end the script element)")
    for c in controls:
        if not c.name.isidentifier():
            raise ValueError(f"control name {c.name!r} must be a JavaScript identifier")
    return HTMLWidget(name, controls, js_update, data, fallback)
