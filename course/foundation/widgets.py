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


LOG_MEL_JS = r"""
var sr = 16000, x = data.audio, T = x.length;
var N = 2 * Math.round(v.window * sr / 2000), H = Math.round(v.hop * sr / 1000), M = v.mels;
var pad = N / 2, K = N / 2 + 1, frames = Math.floor(T / H);  // centred frames, last one dropped
function at(i) { return i < 0 ? x[-i] : (i >= T ? x[2 * (T - 1) - i] : x[i]); }  // reflect pad
var win = [], cs = [], sn = [], n, k, m, t;
for (n = 0; n < N; n++) {
  win.push(0.5 - 0.5 * Math.cos(2 * Math.PI * n / N));  // periodic Hann
  cs.push(Math.cos(2 * Math.PI * n / N)); sn.push(Math.sin(2 * Math.PI * n / N));
}
function hz2mel(f) { return f >= 1000 ? 15 + Math.log(f / 1000) / (Math.log(6.4) / 27) : f / (200 / 3); }
function mel2hz(q) { return q >= 15 ? 1000 * Math.exp((q - 15) * Math.log(6.4) / 27) : q * 200 / 3; }
var lo = hz2mel(0), hi = hz2mel(sr / 2), mf = [];
for (m = 0; m < M + 2; m++) mf.push(mel2hz(lo + (hi - lo) * m / (M + 1)));
var fb = [];  // Slaney filters: triangles on the mel scale, area-normalised
for (m = 0; m < M; m++) {
  var row = [], enorm = 2 / (mf[m + 2] - mf[m]);
  for (k = 0; k < K; k++) {
    var f = (sr / 2) * k / (K - 1);
    var lower = (f - mf[m]) / (mf[m + 1] - mf[m]), upper = (mf[m + 2] - f) / (mf[m + 2] - mf[m + 1]);
    row.push(Math.max(0, Math.min(lower, upper)) * enorm);
  }
  fb.push(row);
}
var spec = [], top = -Infinity;
for (t = 0; t < frames; t++) {
  var frame = [], power = [];
  for (n = 0; n < N; n++) frame.push(at(t * H - pad + n) * win[n]);
  for (k = 0; k < K; k++) {
    var re = 0, im = 0;
    for (n = 0; n < N; n++) { var j = (k * n) % N; re += frame[n] * cs[j]; im -= frame[n] * sn[j]; }
    power.push(re * re + im * im);
  }
  var col = [];
  for (m = 0; m < M; m++) {
    var s = 0;
    for (k = 0; k < K; k++) s += fb[m][k] * power[k];
    var l = Math.log10(Math.max(s, 1e-10));
    col.push(l); if (l > top) top = l;
  }
  spec.push(col);
}
var total = 0;
for (t = 0; t < frames; t++) for (m = 0; m < M; m++) {
  spec[t][m] = (Math.max(spec[t][m], top - 8) + 4) / 4; total += spec[t][m];
}
var mean = total / (frames * M), mid = spec[Math.floor(frames / 2)][Math.floor(M / 2)];
var img = '';
if (typeof document !== 'undefined') {
  var cv = document.createElement('canvas'); cv.width = frames; cv.height = M;
  var ctx = cv.getContext('2d'), px = ctx.createImageData(frames, M), vmax = (top + 4) / 4, vmin = vmax - 2;
  for (t = 0; t < frames; t++) for (m = 0; m < M; m++) {
    var a = Math.min(1, Math.max(0, (spec[t][m] - vmin) / 2)), p = 4 * ((M - 1 - m) * frames + t);
    px.data[p] = Math.round(255 * Math.min(1, 1.6 * a)); px.data[p + 1] = Math.round(255 * a * a);
    px.data[p + 2] = Math.round(255 * (0.35 + 0.4 * a * (1 - a))); px.data[p + 3] = 255;
  }
  ctx.putImageData(px, 0, 0);
  img = '<img alt="log-mel spectrogram" style="width:100%;max-width:640px;height:200px;' +
    'image-rendering:pixelated" src="' + cv.toDataURL() + '"><br>';
}
return img + 'window ' + W.num('log-mel-nfft', N) + ' samples, hop ' + W.num('log-mel-hop', H) +
  ' samples: ' + W.num('log-mel-mels', M) + ' mels x ' + W.num('log-mel-frames', frames) +
  ' frames; mean ' + W.num('log-mel-mean', mean, W.fmt(mean, 4)) + ', max ' +
  W.num('log-mel-max', (top + 4) / 4, W.fmt((top + 4) / 4, 4)) + ', value at the centre ' +
  W.num('log-mel-mid', mid, W.fmt(mid, 4));
"""


def log_mel_explorer(audio):
    """A waveform's log-mel spectrogram, recomputed in the browser (DFT, Slaney mel filters, log10,
    max - 8 floor, (x + 4) / 4) for any window, hop and mel count; equal to
    :func:`course.foundation.whisper.log_mel_general` on the embedded samples."""
    return html_widget(
        "log-mel",
        [
            slider("window", "window (ms)", 10, 50, 5, 25),
            slider("hop", "hop (ms)", 5, 20, 1, 10),
            slider("mels", "mel channels", 16, 128, 8, 80),
        ],
        LOG_MEL_JS,
        data={"audio": [round(float(a), 4) for a in audio]},
        fallback="This explorer needs JavaScript; the figures above show Whisper's setting.",
    )
