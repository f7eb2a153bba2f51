"""The widgets of chapter 07-modern-llms' book pages (no kernel needed: see :mod:`course.widgets`)."""

from __future__ import annotations

from course.modern_llms.catalogue import ARCHITECTURES

#: the architecture explorer's update function (runs in the browser; see course.widgets)
ARCH_JS = """
var names = [v.model_a, v.model_b], L = Math.round(v.context), rows = [];
var head = '<table><tr><th>model</th><th>attention</th><th>cache per token</th>' +
  '<th>cache at ' + W.fmt(L) + ' tokens</th><th>params total / active</th></tr>';
names.forEach(function (name, i) {
  var a = data.models[name], key = i === 0 ? 'a' : 'b';
  var local = a.window ? Math.min(L, a.window) : L;
  var tokens = BigInt(a.local_layers) * BigInt(local) + BigInt(a.layers - a.local_layers) * BigInt(L);
  var bytes = tokens * BigInt(a.per_layer), perTok = a.per_layer * a.layers;
  var gib = Number(bytes) / Math.pow(2, 30);
  rows.push('<tr><td>' + name + '</td><td>' + a.attention + '</td><td>' +
    W.num('arch-explorer-' + key + '-per-token', perTok, W.fmt(perTok / 1024, 1) + ' KiB') +
    '</td><td>' + W.num('arch-explorer-' + key + '-bytes', bytes.toString(), W.fmt(gib, 2) + ' GiB') +
    (L > a.context ? ' (beyond its ' + W.fmt(a.context) + ' context)' : '') + '</td><td>' +
    W.num('arch-explorer-' + key + '-total', a.total_b, W.fmt(a.total_b, 1)) + 'B / ' +
    W.num('arch-explorer-' + key + '-active', a.active_b, W.fmt(a.active_b, 1)) + 'B (' +
    W.fmt(100 * a.active_b / a.total_b, 1) + '% active)</td></tr>');
});
return head + rows.join('') + '</table>';
"""


def arch_explorer_data() -> dict:
    """What the explorer needs per model, computed in Python from :data:`ARCHITECTURES`."""
    return {
        a.name: {
            "layers": a.layers,
            "local_layers": a.local_layers,
            "window": a.window,
            "per_layer": a.bytes_per_layer_token(),  # bf16 bytes per token and layer
            "total_b": a.total_b,
            "active_b": a.active_b,
            "attention": a.attention,
            "context": a.context,
        }
        for a in ARCHITECTURES
    }


def arch_explorer(model_a: str = "DeepSeek-V3", model_b: str = "Llama 4 Maverick"):
    """The book's architecture explorer: two models and a context -> cache and parameters."""
    from course.widgets import html_widget, number, select

    names = [a.name for a in ARCHITECTURES]
    return html_widget(
        "arch-explorer",
        [
            select("model_a", "model A", names, model_a),
            select("model_b", "model B", names, model_b),
            number("context", "context (tokens)", 131072, min=1, max=10_000_000),
        ],
        ARCH_JS,
        data={"models": arch_explorer_data()},
        fallback="This explorer needs JavaScript; the table and the figure above give every "
        "model's cache per token and at 128K tokens.",
    )
