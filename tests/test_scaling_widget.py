"""The chapter's compute-budget explorer (course.scaling.budget_explorer) in headless Chromium and
in node: for every budget and model it shows the N, D and losses of course.scaling's
chinchilla_optimal and kaplan_optimal. ``check_scaling_budget`` is the widget's reference check
(for tests/test_book.py::REFERENCE_CHECKS on the built page)."""

from __future__ import annotations

import json
import math

import pytest
from conftest import node_or_skip, open_widget, set_control

from course import scaling as ref

MODELS = {
    "GPT-3 175B": {"n": 175e9, "d": 300e9},
    "Chinchilla 70B": {"n": 70e9, "d": 1.4e12},
    "SmolLM2-135M": {"n": 135e6, "d": 2e12},
}


def _value(root, testid: str) -> float:
    return float(
        root.find_element("css selector", f'[data-testid="{testid}"]').get_attribute("data-value")
    )


def _expected(compute: float) -> dict[str, float]:
    c = ref.chinchilla_optimal(compute)
    k = ref.kaplan_optimal(compute)
    return {
        "scaling-budget-c": compute,
        "scaling-budget-chinchilla-n": c["n_opt"],
        "scaling-budget-chinchilla-d": c["d_opt"],
        "scaling-budget-chinchilla-loss": c["loss_opt"],
        "scaling-budget-rule20-n": c["n_20"],
        "scaling-budget-rule20-d": c["d_20"],
        "scaling-budget-rule20-loss": c["loss_20"],
        "scaling-budget-kaplan-n": k["n_opt"],
        "scaling-budget-kaplan-d": k["d_opt"],
        "scaling-budget-kaplan-loss": ref.chinchilla_loss(k["n_opt"], k["d_opt"]),
    }


def check_scaling_budget(drv) -> None:
    root = drv.find_element("css selector", '[data-widget="scaling-budget"]')
    data = json.loads(
        drv.execute_script(
            "return arguments[0].querySelector('script[data-role=data]').textContent", root
        )
    )
    set_control(drv, "scaling-budget", "model", "none")
    for log10c in (18, 21.5, 23.8, 26):
        set_control(drv, "scaling-budget", "log10c", log10c)
        for testid, want in _expected(10.0**log10c).items():
            assert _value(root, testid) == pytest.approx(want, rel=1e-9), (log10c, testid)
    for name, m in data["models"].items():
        set_control(drv, "scaling-budget", "model", name)
        for testid, want in _expected(6 * m["n"] * m["d"]).items():
            assert _value(root, testid) == pytest.approx(want, rel=1e-9), (name, testid)
        loss = ref.chinchilla_loss(m["n"], m["d"])
        assert _value(root, "scaling-budget-model-loss") == pytest.approx(loss, rel=1e-9), name
        slider = root.find_element("css selector", '[data-control="log10c"]')
        budget = math.log10(6 * m["n"] * m["d"])
        assert abs(float(slider.get_attribute("value")) - budget) <= 0.051, (name, "slider")
    # moving the slider again hands the budget back to it
    set_control(drv, "scaling-budget", "log10c", 21.5)
    select = root.find_element("css selector", '[data-control="model"]')
    assert json.loads(select.get_attribute("value")) == "none"
    assert _value(root, "scaling-budget-c") == pytest.approx(10.0**21.5, rel=1e-9)
    set_control(drv, "scaling-budget", "model", "none")


def test_explorer_shows_the_reference_allocations(driver, tmp_path):

    open_widget(driver, tmp_path, ref.budget_explorer(MODELS))
    check_scaling_budget(driver)


def test_explorer_javascript_in_node_matches_the_reference():
    """Without a browser: the widget's update function run by node for many budgets."""
    import subprocess

    node = node_or_skip()
    budgets = [18 + 0.37 * i for i in range(22)]
    data = {"law": ref.CHINCHILLA, "pf_day": ref.PF_DAY, "models": MODELS}
    script = (
        "var W = {num: function (id, v) { return '<' + id + '=' + v + '>'; },"
        " fmt: function (x) { return String(x); }, esc: function (s) { return s; },"
        " plot: function () { return ''; }};\n"
        f"var update = function (v, data, out, W) {{ {ref.BUDGET_JS} }};\n"
        f"var data = {json.dumps(data)};\n"
        f"var budgets = {json.dumps(budgets)};\n"
        "console.log(JSON.stringify(budgets.map(function (x) {\n"
        "  var html = update({log10c: x, model: 'none'}, data, null, W), out = {};\n"
        "  html.replace(/<([a-z0-9-]+)=([^>]*)>/g, function (m, id, v) { out[id] = +v; });\n"
        "  return out; })));\n"
    )
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    for x, shown in zip(budgets, json.loads(out.stdout), strict=True):
        for testid, want in _expected(10.0**x).items():
            assert shown[testid] == pytest.approx(want, rel=1e-9), (x, testid)
