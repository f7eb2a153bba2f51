"""The widgets of chapter 05-ssl's book pages: the NT-Xent temperature explorer (no kernel needed:
see :mod:`course.widgets`)."""

from __future__ import annotations

import torch
from torch.nn import functional as F

NTXENT_JS = r"""
var b = data.batches[v.batch], z = b.z, m = z.length, n = m / 2, t = v.temperature;
var keep = v.self === 'kept';
var dot = function (a, c) { var s = 0; for (var k = 0; k < a.length; k++) { s += a[k] * c[k]; } return s; };
var S = z.map(function (a) { return z.map(function (c) { return dot(a, c); }); });
var lossAt = function (tau) {
  var total = 0, rows = [];
  for (var i = 0; i < m; i++) {
    var j = (i + n) % m, mx = -Infinity, den = 0, p = [];
    for (var k = 0; k < m; k++) { if (keep || k !== i) { mx = Math.max(mx, S[i][k] / tau); } }
    for (var k2 = 0; k2 < m; k2++) { if (keep || k2 !== i) { den += Math.exp(S[i][k2] / tau - mx); } }
    var lse = mx + Math.log(den);
    for (var k3 = 0; k3 < m; k3++) { p.push(keep || k3 !== i ? Math.exp(S[i][k3] / tau - lse) : 0); }
    total += lse - S[i][j] / tau;
    rows.push(p);
  }
  return {loss: total / m, rows: rows};
};
var r = lossAt(t), ppos = 0;
for (var i = 0; i < m; i++) { ppos += r.rows[i][(i + n) % m] / m; }
var grid = [], ys = [];
for (var g = 0; g <= 60; g++) { var tau = Math.pow(10, -1.7 + 2.0 * g / 60); grid.push(Math.log10(tau)); ys.push(lossAt(tau).loss); }
var ymax = Math.max.apply(null, ys.concat([r.loss])) * 1.05;
var cell = function (p, pos, self) {
  var a = Math.min(1, p);
  return '<td title="' + p.toFixed(3) + '" style="width:26px;height:22px;text-align:center;font-size:9px;' +
    'background:rgba(59,125,216,' + a.toFixed(3) + ');' + (pos ? 'outline:2px solid #d33;' : '') +
    (self && !keep ? 'background:#ccc;' : '') + '">' + (p >= 0.005 ? p.toFixed(2) : '') + '</td>';
};
var table = '<table style="border-collapse:collapse"><tr><td></td>' + b.labels.map(function (l) {
  return '<td style="font-size:9px;text-align:center">' + W.esc(l) + '</td>'; }).join('') + '</tr>';
for (var i2 = 0; i2 < m; i2++) {
  table += '<tr><td style="font-size:9px;padding-right:4px">' + W.esc(b.labels[i2]) + '</td>' +
    r.rows[i2].map(function (p, k) { return cell(p, k === (i2 + n) % m, k === i2); }).join('') + '</tr>';
}
table += '</table>';
return '<div style="display:flex;gap:16px;flex-wrap:wrap;align-items:flex-start"><div>' +
  '<b>NT-Xent loss ' + W.num('ntxent-explorer-loss', r.loss, W.fmt(r.loss, 4)) + '</b> at &tau; = ' + t +
  '<br>mean probability of the positive ' + W.num('ntxent-explorer-ppos', ppos, W.fmt(ppos, 4)) +
  ' (chance: 1/' + (keep ? m : m - 1) + ')<br><small>row: anchor; column: candidate; ' +
  'red outline: the positive; grey: the anchor itself (excluded)</small>' + table + '</div>' +
  W.plot({width: 330, height: 240, xlim: [-1.7, 0.3], ylim: [0, ymax], xlabel: 'log10 temperature',
    ylabel: 'loss', title: 'loss against temperature',
    lines: [{x: grid, y: ys}], points: [{x: Math.log10(t), y: r.loss}]}) + '</div>';
"""


def ntxent_explorer(batches: dict[str, dict], value: str | None = None):
    """The temperature explorer: for each batch, ``{"z": (2N, d) list of unit vectors (views
    1..N of N images, then their second views, NT-Xent's order), "labels": 2N strings}``."""
    from course.widgets import html_widget, select, slider, toggle

    names = list(batches)
    # unit vectors to float64 precision: the page's JavaScript takes dot products as cosines
    batches = {
        k: {**b, "z": F.normalize(torch.tensor(b["z"], dtype=torch.float64), dim=1).tolist()}
        for k, b in batches.items()
    }
    return html_widget(
        "ntxent-explorer",
        [
            slider("temperature", "temperature τ", 0.02, 2.0, 0.01, 0.5),
            select("batch", "batch", names, value or names[0]),
            toggle(
                "self",
                "self-similarity",
                [("excluded (NT-Xent)", "excluded"), ("kept (a mistake)", "kept")],
                "excluded",
            ),
        ],
        NTXENT_JS,
        data={"batches": batches},
        fallback="This explorer needs JavaScript; the figure above shows the loss against the "
        "temperature for the same batch.",
    )
