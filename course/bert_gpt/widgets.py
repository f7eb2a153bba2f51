"""The widgets of chapter 01-bert-gpt's book pages (no kernel needed: see :mod:`course.widgets`)."""

from __future__ import annotations

# The attention-mask explorer (book/01-bert-gpt/attention.md); its JavaScript mirrors
# visible_keys, and tests/test_bert_gpt_widget.py compares the two in a browser.
MASK_JS = """
var T = Math.round(v.length), P = Math.min(Math.round(v.pad), T), causal = v.kind === 'causal';
var real = [], j, i;
for (j = 0; j < T; j++) real.push(v.side === 'right' ? j < T - P : j >= P);
var cell = 'width:1.6em;height:1.6em;text-align:center;border:1px solid #bbb;font-size:0.75em;';
var html = '<table style="border-collapse:collapse"><tr><td></td>';
for (j = 0; j < T; j++) html += '<td style="' + cell + 'border:none">' + (real[j] ? 'k' + j : 'pad') + '</td>';
html += '</tr>';
var visible = 0, empty = 0, bits = [];
for (i = 0; i < T; i++) {
  var row = '', any = false;
  html += '<tr><td style="' + cell + 'border:none">' + (real[i] ? 'q' + i : 'pad') + '</td>';
  for (j = 0; j < T; j++) {
    var ok = real[j] && (!causal || j <= i);
    row += ok ? '1' : '0';
    if (ok) { visible++; any = true; }
    html += '<td style="' + cell + 'background:' + (ok ? '#334' : (real[i] ? '#fff' : '#f3e3e3')) + '"></td>';
  }
  if (!any) empty++;
  bits.push(row);
  html += '</tr>';
}
html += '</table>';
return html + '<p>' + W.num('attention-mask-visible', visible) + ' of ' + (T * T) +
  ' (query, key) pairs visible; ' + W.num('attention-mask-empty', empty) +
  ' query row(s) see no key (attention returns 0 there). Rows: <code>' +
  W.num('attention-mask-bits', bits.join('/'), bits.join(' / ')) + '</code></p>';
"""


def mask_explorer(kind: str = "causal", length: int = 6, pad: int = 2, side: str = "left"):
    """A widget: which key (column) each query (row) may attend to, for a chosen mask."""
    from course.widgets import html_widget, slider, toggle

    return html_widget(
        "attention-mask",
        [
            toggle(
                "kind",
                "attention",
                [("bidirectional (BERT)", "bidirectional"), ("causal (GPT)", "causal")],
                kind,
            ),
            slider("length", "length T", 1, 10, 1, length),
            slider("pad", "padding tokens", 0, 10, 1, pad),
            toggle("side", "padding side", [("right", "right"), ("left", "left")], side),
        ],
        MASK_JS,
        fallback="This explorer needs JavaScript; the four matrices on the chapter's first page "
        "show the same masks.",
    )
