"""The chapter's attention-mask explorer (course.bert_gpt.mask_explorer) in headless Chromium: for
every setting of its controls, the grid it shows equals course.bert_gpt.visible_keys.
``check_attention_mask`` is the widget's reference check (for tests/test_book.py::REFERENCE_CHECKS
on the built page)."""

from __future__ import annotations

import json

import torch
from conftest import node_or_skip, open_widget, set_control

from course import bert_gpt as ref


def _expected(kind: str, length: int, pad: int, side: str) -> str:
    pad = min(pad, length)
    mask = torch.ones(1, length, dtype=torch.long)
    if pad:
        if side == "right":
            mask[0, length - pad :] = 0
        else:
            mask[0, :pad] = 0
    allowed = ref.visible_keys(length, length, mask, kind == "causal")[0, 0]
    return "/".join("".join("1" if ok else "0" for ok in row) for row in allowed.tolist())


def _value(root, testid: str) -> str:
    return root.find_element("css selector", f'[data-testid="{testid}"]').get_attribute(
        "data-value"
    )


def check_attention_mask(drv) -> None:
    root = drv.find_element("css selector", '[data-widget="attention-mask"]')
    for kind in ("causal", "bidirectional"):
        set_control(drv, "attention-mask", "kind", kind)
        for side in ("left", "right"):
            set_control(drv, "attention-mask", "side", side)
            for length, pad in ((6, 2), (1, 0), (1, 1), (4, 0), (7, 3), (10, 10), (3, 9)):
                set_control(drv, "attention-mask", "length", length)
                set_control(drv, "attention-mask", "pad", pad)
                want = _expected(kind, length, pad, side)
                case = (kind, side, length, pad)
                assert _value(root, "attention-mask-bits") == want, case
                rows = want.split("/")
                assert int(_value(root, "attention-mask-visible")) == want.count("1"), case
                empty = sum("1" not in r for r in rows)
                assert int(_value(root, "attention-mask-empty")) == empty, case


def test_expected_grid_matches_the_reference_rule():
    assert _expected("causal", 4, 1, "left") == "0000/0100/0110/0111"
    assert _expected("bidirectional", 3, 1, "right") == "110/110/110"


def test_explorer_shows_the_reference_masks(driver, tmp_path):

    open_widget(driver, tmp_path, ref.mask_explorer())
    check_attention_mask(driver)


def test_explorer_javascript_in_node_matches_the_reference():
    """Without a browser: the widget's update function run by node for every setting."""
    import subprocess

    node = node_or_skip()
    settings = [
        {"kind": k, "side": s, "length": n, "pad": p}
        for k in ("causal", "bidirectional")
        for s in ("left", "right")
        for n in range(1, 11)
        for p in range(0, 11)
    ]
    script = (
        "var W = {num: function (id, v) { return '<' + id + '=' + v + '>'; }};\n"
        f"var update = function (v, data, out, W) {{ {ref.MASK_JS} }};\n"
        f"var settings = {json.dumps(settings)};\n"
        "console.log(JSON.stringify(settings.map(function (v) {\n"
        "  var html = update(v, {}, null, W);\n"
        "  return html.match(/<attention-mask-bits=([01/]*)>/)[1]; })));\n"
    )
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    for v, bits in zip(settings, shown, strict=True):
        assert bits == _expected(v["kind"], v["length"], v["pad"], v["side"]), v
