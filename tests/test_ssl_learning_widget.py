"""The NT-Xent temperature explorer (course.ssl_learning.ntxent_explorer): the loss and the
positive's probability it shows equal the course's nt_xent (float64) for every batch, temperature
and self-similarity choice. ``check_ntxent_explorer`` is the widget's reference check for
tests/test_book.py::REFERENCE_CHECKS (built page, headless Chromium); the same JavaScript is also
run under Node here, where Chromium is missing."""

from __future__ import annotations

import json
import math
import subprocess

import pytest
import torch
import torch.nn.functional as F
from conftest import node_or_skip, open_widget

from course import ssl_learning as ssl

TEMPERATURES = [0.02, 0.07, 0.1, 0.5, 1.0, 2.0]


def expected(z: list[list[float]], tau: float, self_kept: bool) -> tuple[float, float]:
    """(loss, mean probability of the positive), from the course's reference in float64."""
    zz = torch.tensor(z, dtype=torch.float64)
    n = zz.shape[0] // 2
    if not self_kept:
        loss = float(ssl.nt_xent(zz[:n], zz[n:], tau))
    else:  # the mistake the toggle shows: the diagonal left in the softmax
        logits = F.normalize(zz, dim=1) @ F.normalize(zz, dim=1).T / tau
        labels = torch.arange(2 * n).roll(n)
        loss = float(F.cross_entropy(logits, labels))
    logits = zz @ zz.T / tau
    if not self_kept:
        logits.fill_diagonal_(float("-inf"))
    p = logits.softmax(1)[torch.arange(2 * n), torch.arange(2 * n).roll(n)]
    return loss, float(p.mean())


def example_batches(seed: int = 0) -> dict[str, dict]:
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, n in (("four images", 4), ("two images", 2)):
        base = torch.randn(n, 6, generator=gen, dtype=torch.float64)
        views = torch.cat(
            [base + 0.6 * torch.randn(n, 6, generator=gen, dtype=torch.float64) for _ in range(2)]
        )
        z = F.normalize(views, dim=1)
        labels = [f"{k}{v}" for v in "ab" for k in range(n)]
        out[name] = {"z": z.tolist(), "labels": labels}
    return out


def check_ntxent_explorer(drv) -> None:
    from selenium.webdriver.support.ui import Select, WebDriverWait

    root = drv.find_element("css selector", '[data-widget="ntxent-explorer"]')
    data = json.loads(
        drv.execute_script(
            "return arguments[0].querySelector('script[data-role=data]').textContent", root
        )
    )

    def wait_change(before):
        WebDriverWait(drv, 30).until(lambda d: root.get_attribute("data-updates") != before)

    def value(testid):
        return float(
            drv.find_element("css selector", f'[data-testid="{testid}"]').get_attribute(
                "data-value"
            )
        )

    for batch, b in data["batches"].items():
        el = root.find_element("css selector", '[data-testid="ntxent-explorer-batch"]')
        option = json.dumps(batch, separators=(",", ":"))
        if el.get_attribute("value") != option:
            before = root.get_attribute("data-updates")
            Select(el).select_by_value(option)
            wait_change(before)
        for self_opt in ("excluded", "kept"):
            tog = root.find_element("css selector", '[data-testid="ntxent-explorer-self"]')
            button = tog.find_element(
                "css selector", f"button[data-option='{json.dumps(self_opt)}']"
            )
            if button.get_attribute("aria-pressed") != "true":
                before = root.get_attribute("data-updates")
                button.click()
                wait_change(before)
            for tau in TEMPERATURES:
                slider = root.find_element(
                    "css selector", '[data-testid="ntxent-explorer-temperature"]'
                )
                if slider.get_attribute("value") != str(tau):
                    before = root.get_attribute("data-updates")
                    drv.execute_script(
                        "arguments[0].value = arguments[1];"
                        "arguments[0].dispatchEvent(new Event('input', {bubbles: true}))",
                        slider,
                        str(tau),
                    )
                    wait_change(before)
                loss, ppos = expected(b["z"], tau, self_opt == "kept")
                case = (batch, self_opt, tau)
                assert value("ntxent-explorer-loss") == pytest.approx(loss, rel=1e-9), case
                assert value("ntxent-explorer-ppos") == pytest.approx(ppos, rel=1e-9), case


def test_explorer_javascript_equals_the_reference_under_node():
    """The widget's update function, run by Node on the embedded data, against nt_xent."""
    node = node_or_skip()
    batches = example_batches()
    results = {}
    script = (
        "var W = {esc: String, fmt: function (x) { return String(x); }, plot: function () { return ''; },"
        " num: function (id, v) { return '<' + id + '=' + v + '>'; }};\n"
        f"var data = {json.dumps({'batches': batches})};\n"
        "function update(v, data, out, W) {\n" + ssl.NTXENT_JS + "\n}\n"
        "var res = {};\n"
        f"[{', '.join(json.dumps(b) for b in batches)}].forEach(function (b) {{\n"
        "  ['excluded', 'kept'].forEach(function (s) {\n"
        f"    {json.dumps(TEMPERATURES)}.forEach(function (t) {{\n"
        "      var html = update({temperature: t, batch: b, self: s}, data, null, W);\n"
        "      var l = /<ntxent-explorer-loss=([^>]*)>/.exec(html)[1];\n"
        "      var p = /<ntxent-explorer-ppos=([^>]*)>/.exec(html)[1];\n"
        "      res[b + '|' + s + '|' + t] = [Number(l), Number(p)];\n"
        "    });\n  });\n});\nconsole.log(JSON.stringify(res));\n"
    )
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, check=True)
    results = json.loads(out.stdout)
    assert len(results) == len(batches) * 2 * len(TEMPERATURES)
    for key, (loss, ppos) in results.items():
        batch, self_opt, tau = key.split("|")
        want_loss, want_p = expected(batches[batch]["z"], float(tau), self_opt == "kept")
        assert loss == pytest.approx(want_loss, rel=1e-9), key
        assert ppos == pytest.approx(want_p, rel=1e-9), key


def test_explorer_in_chromium(driver, tmp_path):
    widget = ssl.ntxent_explorer(example_batches())
    open_widget(driver, tmp_path, widget)
    check_ntxent_explorer(driver)


def test_loss_is_log_of_2n_minus_1_at_high_temperature():
    """A sanity anchor for the page: tau -> infinity makes every candidate equally likely."""
    batches = example_batches()
    z = batches["four images"]["z"]
    loss, ppos = expected(z, 1e6, False)
    assert loss == pytest.approx(math.log(7), rel=1e-5)
    assert ppos == pytest.approx(1 / 7, rel=1e-5)
