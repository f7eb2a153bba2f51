"""The chapter's widgets (course/foundation/widgets.py): the CLIP similarity-matrix viewer (its
losses and probabilities equal PyTorch's cross-entropy on the embedded cosine matrix) and the
log-mel explorer (its numbers equal course.foundation.whisper.log_mel_general, torch.stft based, on
the embedded samples). ``check_clip_similarity`` and ``check_log_mel`` are the reference checks for
tests/test_book.py::REFERENCE_CHECKS on the built page; the widgets' JavaScript also runs under
node here, and in headless Chromium when it is installed."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import node_or_skip, open_widget, set_control
from torch.nn import functional as F

from course.foundation.widgets import clip_similarity_widget


def _shown(drv, testid: str) -> float:
    el = drv.find_element("css selector", f'[data-testid="{testid}"]')
    return float(el.get_attribute("data-value"))


def check_clip_similarity(drv) -> None:
    root = drv.find_element("css selector", '[data-widget="clip-similarity"]')
    cos = torch.tensor(
        json.loads(
            drv.execute_script(
                "return arguments[0].querySelector('script[data-role=data]').textContent", root
            )
        )["cos"],
        dtype=torch.float64,
    )
    target = torch.arange(len(cos))
    for direction in ("image", "text"):
        set_control(drv, "clip-similarity", "direction", direction)
        for scale in (1, 14, 57, 100, 30):
            set_control(drv, "clip-similarity", "scale", scale)
            logits = scale * cos
            i2t = F.cross_entropy(logits, target).item()
            t2i = F.cross_entropy(logits.T, target).item()
            case = (direction, scale)
            assert _shown(drv, "clip-similarity-i2t") == pytest.approx(i2t, rel=1e-9), case
            assert _shown(drv, "clip-similarity-t2i") == pytest.approx(t2i, rel=1e-9), case
            assert _shown(drv, "clip-similarity-loss") == pytest.approx((i2t + t2i) / 2), case
            p = torch.softmax(logits[0] if direction == "image" else logits[:, 0], 0)[0].item()
            assert _shown(drv, "clip-similarity-p00") == pytest.approx(p, rel=1e-9), case


def check_log_mel(drv) -> None:
    from course.foundation.whisper import log_mel_general

    root = drv.find_element("css selector", '[data-widget="log-mel"]')
    audio = torch.tensor(
        json.loads(
            drv.execute_script(
                "return arguments[0].querySelector('script[data-role=data]').textContent", root
            )
        )["audio"],
        dtype=torch.float64,
    )
    for window, hop, mels in ((25, 10, 80), (50, 5, 40), (10, 20, 128), (35, 12, 64)):
        for control, value in (("window", window), ("hop", hop), ("mels", mels)):
            set_control(drv, "log-mel", control, value)
        n_fft, h = 2 * round(window * 16000 / 2000), round(hop * 16)
        ref = log_mel_general(audio, n_fft, h, mels)
        case = (window, hop, mels)
        assert _shown(drv, "log-mel-frames") == ref.shape[1], case
        assert _shown(drv, "log-mel-mean") == pytest.approx(ref.mean().item(), abs=1e-9), case
        assert _shown(drv, "log-mel-max") == pytest.approx(ref.max().item(), abs=1e-9), case
        mid = ref[mels // 2, ref.shape[1] // 2].item()
        assert _shown(drv, "log-mel-mid") == pytest.approx(mid, abs=1e-9), case


def test_viewer_losses_equal_torch_cross_entropy(driver, tmp_path):
    g = torch.Generator().manual_seed(0)
    emb = F.normalize(torch.randn(6, 8, generator=g, dtype=torch.float64), dim=-1)
    cos = (emb @ (emb + 0.5 * torch.randn(6, 8, generator=g, dtype=torch.float64)).T).clamp(-1, 1)
    widget = clip_similarity_widget(cos.tolist(), 14)
    open_widget(driver, tmp_path, widget)
    check_clip_similarity(driver)


def test_log_mel_explorer_in_the_browser(driver, tmp_path):

    from course.foundation import whisper as wref
    from course.foundation.widgets import log_mel_explorer

    widget = log_mel_explorer(wref.synthetic_voice(0.5))
    open_widget(driver, tmp_path, widget)
    check_log_mel(driver)


def test_viewer_javascript_under_node_equals_torch():
    """The widget's update function run by node (no browser needed) against PyTorch."""
    import subprocess

    from course.foundation.widgets import SIM_JS

    node_or_skip()
    g = torch.Generator().manual_seed(1)
    cos = torch.rand(7, 7, generator=g, dtype=torch.float64) * 2 - 1
    prog = (
        "var R = {}, W = {fmt: function (x, d) { return x.toFixed(d); },"
        " num: function (id, v) { R[id] = v; return ''; }};\n"
        f"function update(v, data, out, W) {{ {SIM_JS} }}\n"
        "var res = [];\n"
        "[1, 14, 100].forEach(function (s) { ['image', 'text'].forEach(function (d) {"
        f" R = {{}}; update({{scale: s, direction: d}}, {{cos: {json.dumps(cos.tolist())}}}, null, W);"
        " res.push([s, d, R]); }); });\n"
        "console.log(JSON.stringify(res));"
    )
    out = subprocess.run(["node", "-e", prog], capture_output=True, text=True, check=True).stdout
    target = torch.arange(7)
    for scale, direction, shown in json.loads(out):
        logits = scale * cos
        i2t = F.cross_entropy(logits, target).item()
        t2i = F.cross_entropy(logits.T, target).item()
        p = torch.softmax(logits[0] if direction == "image" else logits[:, 0], 0)[0].item()
        assert shown["clip-similarity-i2t"] == pytest.approx(i2t, rel=1e-12)
        assert shown["clip-similarity-t2i"] == pytest.approx(t2i, rel=1e-12)
        assert shown["clip-similarity-loss"] == pytest.approx((i2t + t2i) / 2, rel=1e-12)
        assert shown["clip-similarity-p00"] == pytest.approx(p, rel=1e-12)


def test_log_mel_explorer_javascript_under_node_equals_torch_stft():
    import subprocess

    from course.foundation import whisper as wref
    from course.foundation.widgets import LOG_MEL_JS

    node_or_skip()
    audio = [round(float(a), 4) for a in wref.synthetic_voice(0.5)]
    prog = (
        "var R = {}, W = {fmt: function (x, d) { return x.toFixed(d); },"
        " num: function (id, v) { R[id] = v; return ''; }};\n"
        f"function update(v, data, out, W) {{ {LOG_MEL_JS} }}\n"
        "var res = [];\n"
        "[[25, 10, 80], [50, 5, 40], [10, 20, 128], [35, 12, 64]].forEach(function (c) {"
        f" R = {{}}; update({{window: c[0], hop: c[1], mels: c[2]}}, {{audio: {json.dumps(audio)}}},"
        " null, W); res.push([c, R]); });\n"
        "console.log(JSON.stringify(res));"
    )
    out = subprocess.run(["node", "-e", prog], capture_output=True, text=True, check=True).stdout
    x = torch.tensor(audio, dtype=torch.float64)
    for (window, hop, mels), shown in json.loads(out):
        ref = wref.log_mel_general(x, 2 * round(window * 16000 / 2000), round(hop * 16), mels)
        assert shown["log-mel-frames"] == ref.shape[1] and shown["log-mel-mels"] == mels
        assert shown["log-mel-mean"] == pytest.approx(ref.mean().item(), abs=1e-9)
        assert shown["log-mel-max"] == pytest.approx(ref.max().item(), abs=1e-9)
        mid = ref[mels // 2, ref.shape[1] // 2].item()
        assert shown["log-mel-mid"] == pytest.approx(mid, abs=1e-9)


def test_log_mel_general_matches_openai_whisper_at_whisper_settings():
    import whisper

    from course.foundation import whisper as wref

    x = wref.synthetic_voice(1.0)
    torch.testing.assert_close(
        wref.log_mel_general(x, 400, 160, 80).float(),
        whisper.log_mel_spectrogram(x),
        rtol=0,
        atol=1e-4,
    )
