"""What chapter 02-scaling-laws' book pages display: Markdown tables and the compute-budget explorer
(no kernel needed: see :mod:`course.widgets`)."""

from __future__ import annotations

from course.scaling.blocks import CHINCHILLA, PF_DAY


def markdown_table(rows: list[dict]) -> str:
    """A Markdown table of ``rows`` (dicts with the same keys, in order), for IPython's Markdown."""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


#: the compute-budget explorer's update (JavaScript mirror of chinchilla_optimal / kaplan_optimal)
BUDGET_JS = """
if (W.changed === 'log10c' && v.model !== 'none' && W.set) {  // the slider takes over again
  W.set('model', 'none');
  v.model = 'none';
}
var C = v.model === 'none' ? Math.pow(10, v.log10c) : 6 * data.models[v.model].n * data.models[v.model].d;
if (v.model !== 'none' && W.set) { W.set('log10c', Math.log10(C).toFixed(1)); }
var L = data.law, a = L.alpha, b = L.beta;
var loss = function (n, d) { return L.E + L.A / Math.pow(n, a) + L.B / Math.pow(d, b); };
var G = Math.pow(a * L.A / (b * L.B), 1 / (a + b));
var nOpt = G * Math.pow(C / 6, b / (a + b)), dOpt = Math.pow(C / 6, a / (a + b)) / G;
var n20 = Math.sqrt(C / 120), d20 = 20 * n20;
var nK = 1.3e9 * Math.pow(C / data.pf_day, 0.73), dK = C / (6 * nK);
var e = function (x) { return x.toExponential(3); };
var row = function (name, id, n, d) {
  var td = '<td style="padding: 0.15em 0.7em; text-align: right">';
  return '<tr><td style="padding: 0.15em 0.7em 0.15em 0">' + name + '</td>' + td +
    W.num(id + '-n', n, e(n)) + '</td>' + td + W.num(id + '-d', d, e(d)) + '</td>' + td +
    W.fmt(d / n, 1) + '</td>' + td + W.num(id + '-loss', loss(n, d), W.fmt(loss(n, d), 4)) +
    '</td></tr>';
};
var html = '<p>C = ' + W.num('scaling-budget-c', C, e(C)) + ' FLOPs (' + W.fmt(C / data.pf_day, 1) +
  ' PF-days)</p><table style="border-collapse: collapse"><tr><th>allocation</th>' +
  '<th style="padding: 0 0.7em">N</th><th style="padding: 0 0.7em">D (tokens)</th>' +
  '<th style="padding: 0 0.7em">D/N</th><th style="padding: 0 0.7em">Chinchilla loss</th></tr>' +
  row('Chinchilla law (closed form)', 'scaling-budget-chinchilla', nOpt, dOpt) +
  row('20 tokens per parameter', 'scaling-budget-rule20', n20, d20) +
  row('Kaplan: 1.3e9 C^0.73', 'scaling-budget-kaplan', nK, dK);
if (v.model !== 'none') {
  var m = data.models[v.model];
  html += row(W.esc(v.model) + ' (as trained)', 'scaling-budget-model', m.n, m.d);
}
html += '</table>';
var lc = [], ln = [], l20 = [], lk = [];
for (var x = 18; x <= 26.001; x += 0.25) {
  var c = Math.pow(10, x);
  lc.push(x); ln.push(Math.log10(G * Math.pow(c / 6, b / (a + b))));
  l20.push(Math.log10(Math.sqrt(c / 120)));
  lk.push(Math.log10(1.3e9 * Math.pow(c / data.pf_day, 0.73)));
}
var pts = Object.keys(data.models).map(function (k) {
  var m = data.models[k];
  return {x: Math.log10(6 * m.n * m.d), y: Math.log10(m.n), color: k === v.model ? '#d62728' : '#7f7f7f'};
});
pts.push({x: Math.log10(C), y: Math.log10(nOpt), color: '#1f77b4'});
html += W.plot({width: 420, height: 260, xlim: [18, 26], ylim: [6, 13],
  xlabel: 'log10 C (FLOPs)', ylabel: 'log10 N',
  lines: [{x: lc, y: ln, color: '#1f77b4'}, {x: lc, y: l20, color: '#2ca02c'}, {x: lc, y: lk, color: '#ff7f0e'}],
  points: pts});
html += '<p style="font-size:smaller">blue: Chinchilla law, green: 20 tokens/parameter, orange: Kaplan; ' +
  'grey dots: the models of the table (red: the one chosen).</p>';
return html;
"""


def budget_explorer(models: dict[str, dict[str, float]]):
    """The compute-budget explorer: ``models`` maps a name to ``{"n": parameters, "d": tokens}``."""
    from course.widgets import html_widget, select, slider

    return html_widget(
        "scaling-budget",
        [
            slider("log10c", "log10 of the budget C (FLOPs)", 18, 26, 0.1, 23.8),
            select(
                "model",
                "or a model's budget",
                [("(use the slider)", "none")] + [(k, k) for k in models],
                "none",
            ),
        ],
        BUDGET_JS,
        data={"law": CHINCHILLA, "pf_day": PF_DAY, "models": models},
        fallback="This explorer needs JavaScript; the figure and tables above give the same numbers.",
    )
