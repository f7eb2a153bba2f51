"""The architecture explorer (course.modern_llms.arch_explorer): for every model and several
contexts, the cache and parameter numbers it shows equal course.modern_llms.Arch.cache_bytes (the
one cache formula) and the table's published counts. ``check_arch_explorer`` is the widget's
reference check (for tests/test_book.py::REFERENCE_CHECKS on the built page)."""

from __future__ import annotations

import json

from conftest import node_or_skip, open_widget, set_control

from course import modern_llms as ref

CONTEXTS = [1, 1000, 4096, 131072, 1_048_576, 10_000_000]


def _expected(name: str, context: int) -> dict[str, float | int]:
    a = ref.BY_ARCH[name]
    return {
        "per-token": a.bytes_per_layer_token() * a.layers,
        "bytes": a.cache_bytes(context),
        "total": a.total_b,
        "active": a.active_b,
    }


def _value(root, testid: str) -> str:
    return root.find_element("css selector", f'[data-testid="{testid}"]').get_attribute(
        "data-value"
    )


def check_arch_explorer(drv) -> None:
    root = drv.find_element("css selector", '[data-widget="arch-explorer"]')
    names = list(ref.BY_ARCH)
    for i, name in enumerate(names):
        other = names[(i + 5) % len(names)]
        set_control(drv, "arch-explorer", "model_a", name)
        set_control(drv, "arch-explorer", "model_b", other)
        for context in CONTEXTS if i < 3 else CONTEXTS[2:4]:
            set_control(drv, "arch-explorer", "context", context)
            for key, model in (("a", name), ("b", other)):
                want = _expected(model, context)
                case = (model, context)
                assert int(_value(root, f"arch-explorer-{key}-bytes")) == want["bytes"], case
                assert int(_value(root, f"arch-explorer-{key}-per-token")) == want["per-token"], (
                    case
                )
                assert float(_value(root, f"arch-explorer-{key}-total")) == want["total"], case
                assert float(_value(root, f"arch-explorer-{key}-active")) == want["active"], case


def test_expected_values_follow_the_windows():
    mistral = _expected("Mistral 7B", 131072)
    assert mistral["bytes"] == _expected("Mistral 7B", 4096)["bytes"]  # every layer windowed
    assert _expected("Llama 3.1 8B", 131072)["bytes"] == 16 * 2**30


def test_explorer_javascript_in_node_matches_the_reference():
    """Without a browser: the widget's update function run by node for every model and context."""
    import subprocess

    node = node_or_skip()
    names = list(ref.BY_ARCH)
    settings = [
        {"model_a": a, "model_b": names[(i + 3) % len(names)], "context": c}
        for i, a in enumerate(names)
        for c in CONTEXTS
    ]
    script = (
        "var W = {num: function (id, v, t) { return '<' + id + '=' + v + '>'; },\n"
        "         fmt: function (x, d) { return Number(x).toFixed(d || 0); }};\n"
        f"var update = function (v, data, out, W) {{ {ref.ARCH_JS} }};\n"
        f"var data = {json.dumps({'models': ref.arch_explorer_data()})};\n"
        f"var settings = {json.dumps(settings)};\n"
        "console.log(JSON.stringify(settings.map(function (v) {\n"
        "  var html = update(v, data, null, W), got = {};\n"
        "  html.replace(/<arch-explorer-([ab]-[a-z-]+)=([0-9.e+]+)>/g, function (m, k, x) {\n"
        "    got[k] = x; });\n"
        "  return got; })));\n"
    )
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    for v, got in zip(settings, shown, strict=True):
        for key, model in (("a", v["model_a"]), ("b", v["model_b"])):
            want = _expected(model, v["context"])
            assert int(got[f"{key}-bytes"]) == want["bytes"], (v, key)
            assert int(got[f"{key}-per-token"]) == want["per-token"], (v, key)
            assert float(got[f"{key}-total"]) == want["total"], (v, key)
            assert float(got[f"{key}-active"]) == want["active"], (v, key)


def test_explorer_in_a_browser(driver, tmp_path):

    open_widget(driver, tmp_path, ref.arch_explorer())
    check_arch_explorer(driver)
