"""The chapter's interactive CLIP similarity-matrix viewer (works without a kernel).

``clip_similarity_widget(cos, scale)`` shows softmax(s * cos) over rows (image -> text) or columns
(text -> image) of an N x N cosine matrix, and the two cross-entropies and their mean, recomputed
in the browser when the scale or the direction changes. The JavaScript mirrors
:func:`course.foundation.clip.clip_loss` on the logits s * cos (tests/test_foundation_widget.py).
"""

from __future__ import annotations

from course.widgets import html_widget, slider, toggle

SIM_JS = """
var n = data.cos.length, s = v.scale, rows = v.direction === 'image';
function prob(i, j) {  // softmax over row i (image -> text) or over column j (text -> image)
  var m = -Infinity, z = 0, k;
  for (k = 0; k < n; k++) { var x = s * (rows ? data.cos[i][k] : data.cos[k][j]); if (x > m) m = x; }
  for (k = 0; k < n; k++) { z += Math.exp(s * (rows ? data.cos[i][k] : data.cos[k][j]) - m); }
  return Math.exp(s * data.cos[i][j] - m) / z;
}
function loss(byRow) {
  var total = 0;
  for (var i = 0; i < n; i++) {
    var m = -Infinity, z = 0, k;
    for (k = 0; k < n; k++) { var x = s * (byRow ? data.cos[i][k] : data.cos[k][i]); if (x > m) m = x; }
    for (k = 0; k < n; k++) { z += Math.exp(s * (byRow ? data.cos[i][k] : data.cos[k][i]) - m); }
    total += m + Math.log(z) - s * data.cos[i][i];
  }
  return total / n;
}
var html = '<table style="border-collapse:collapse;font-size:11px"><tr><td></td>';
for (var j = 0; j < n; j++) html += '<th>' + j + '</th>';
html += '</tr>';
for (var i = 0; i < n; i++) {
  html += '<tr><th>' + i + '</th>';
  for (var j = 0; j < n; j++) {
    var p = prob(i, j), g = Math.round(255 * (1 - p));
    html += '<td style="width:30px;text-align:center;background:rgb(' + g + ',' + g + ',255);' +
      (i === j ? 'outline:1px solid #000;' : '') + '">' + p.toFixed(2) + '</td>';
  }
  html += '</tr>';
}
var li = loss(true), lt = loss(false);
return html + '</table>image → text loss ' + W.num('clip-similarity-i2t', li, W.fmt(li, 3)) +
  ', text → image loss ' + W.num('clip-similarity-t2i', lt, W.fmt(lt, 3)) +
  ', symmetric loss <b>' + W.num('clip-similarity-loss', (li + lt) / 2, W.fmt((li + lt) / 2, 3)) +
  '</b>; p(diagonal) of image 0: ' + W.num('clip-similarity-p00', prob(0, 0), W.fmt(prob(0, 0), 3));
"""


def clip_similarity_widget(cos, scale: int = 14):
    """cos: N x N nested list or array of cosines (row i: image i; column j: caption j)."""
    return html_widget(
        "clip-similarity",
        [
            slider("scale", "logit scale s", 1, 100, 1, int(scale)),
            toggle(
                "direction",
                "softmax over",
                [("each row (image → text)", "image"), ("each column (text → image)", "text")],
                "image",
            ),
        ],
        SIM_JS,
        data={"cos": [[round(float(x), 6) for x in row] for row in cos]},
        fallback="This viewer needs JavaScript; the figure above shows the matrix at the learned "
        "scale.",
    )
