"""The built book: every page present and executed, offline (no external script/style hosts), and
really rendered in headless Chromium (math typeset), with screenshots; and every widget responds in
the static page: each control, changed as a reader would, changes the output, and the displayed
values equal what the Python reference computes for that input.

Widgets are discovered generically (every element with ``data-widget`` in every built page, see
``course/widgets.py``), so a new chapter's widget is driven without editing this file; its values
are checked against Python by the function registered for its name in ``REFERENCE_CHECKS``.
"""

from __future__ import annotations

import functools
import http.server
import json
import math
import os
import re
import shutil
import threading
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import ROOT
from conftest import set_control as _set
from test_bert_gpt_widget import check_attention_mask
from test_foundation_widget import check_clip_similarity, check_log_mel
from test_modern_llms_widget import check_arch_explorer
from test_scaling_widget import check_scaling_budget
from test_ssl_learning_widget import check_ntxent_explorer
from test_tokenization_viewer import check_tokenizer_viewer

# BOOK_HTML tests another copy of the site (e.g. the Pages artifact, or a deliberately broken one).
HTML = Path(os.environ.get("BOOK_HTML", ROOT / "_build" / "html"))
SHOTS = ROOT / "_build" / "screenshots"
PAGES = [
    "book/intro",
    "book/students-guide",
    "book/instructors-guide",
    "book/00-prologue/index",
    "book/00-prologue/tensors-dtypes",
    "book/00-prologue/measuring-devices",
    "book/03-llama/index",
    "book/03-llama/positions",
    "book/03-llama/kv-cache",
    "book/bibliography",
]
# Widgets the landed chapters must contain (more are discovered and driven automatically).
EXPECTED_WIDGETS = {
    "book/00-prologue/tensors-dtypes": ["dtype-round"],
    "book/03-llama/positions": ["rope-explorer"],
    "book/03-llama/kv-cache": ["kv-cache"],
}

# ipywidgets models that only display: allowed in pages. Progress bars (FloatProgress, a library's
# tqdm) are not: a frozen "Loading weights: 0%" bar is noise, and its font is not served.
IPYWIDGETS_DISPLAY_ONLY = {
    "HTML", "HTMLStyle", "Label", "LabelStyle", "HBox", "VBox",
    "Box", "Layout", "ProgressStyle", "DescriptionStyle",
}  # fmt: skip


@pytest.fixture(scope="module")
def built():
    if not (HTML / "index.html").exists():
        pytest.fail("the book is not built: run `make book` (make test does it first)")
    return HTML


def _pages_with_widgets(built) -> dict[str, list[str]]:
    """page (relative, without .html) -> names of its widgets, from the built HTML."""
    found = {}
    for page in sorted(built.rglob("*.html")):
        if "_sources" in page.parts or "_static" in page.parts:
            continue
        names = re.findall(
            r'<div class="course-widget" data-widget="([a-z0-9-]+)"', page.read_text()
        )
        if names:
            found[str(page.relative_to(built).with_suffix(""))] = names
    return found


class _Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.urls.append((tag, a["src"]))
        if (
            tag == "link"
            and a.get("href")
            and any(
                r in (a.get("rel") or "")
                for r in ("stylesheet", "preload", "modulepreload", "icon")
            )
        ):
            self.urls.append((tag, a["href"]))
        if tag in ("img", "iframe") and a.get("src"):
            self.urls.append((tag, a["src"]))


def test_every_page_is_built_and_executed(built):
    for page in PAGES:
        html = (built / f"{page}.html").read_text()
        assert "Traceback (most recent call last)" not in html, page
    figures = list((built / "_images").glob("*.png"))
    assert len(figures) >= 3, "the prologue computes at least three figures"
    dtypes = (built / "book/00-prologue/tensors-dtypes.html").read_text()
    assert "bfloat16" in dtypes and "65500" in dtypes.replace(",", "").replace("6.55e+04", "65500")
    assert "Williams" in (built / "book/00-prologue/measuring-devices.html").read_text()
    real = (built / "book/03-llama/real-weights.html").read_text()
    assert "identical to Hugging Face: True" in real


def test_widgets_are_browser_widgets_not_frozen_ipywidgets(built):
    """ipywidgets need a kernel: in the static book they only draw their saved state. Every
    interactive control must be a course.widgets widget (its logic runs in the page); display-only
    ipywidgets (a library's progress bar) are tolerated."""
    found = _pages_with_widgets(built)
    for page, names in EXPECTED_WIDGETS.items():
        assert set(names) <= set(found.get(page, [])), f"{page}: expected widgets {names}"
    frozen = []
    for p in built.rglob("*.html"):
        models = set(re.findall(r'"model_name": "(\w+)Model"', p.read_text(errors="replace")))
        if models - IPYWIDGETS_DISPLAY_ONLY:
            frozen.append(f"{p.relative_to(built)}: {sorted(models - IPYWIDGETS_DISPLAY_ONLY)}")
    assert not frozen, f"ipywidgets controls (frozen in the book, use course.widgets): {frozen}"
    missing = sorted({n for names in found.values() for n in names} - set(REFERENCE_CHECKS))
    assert not missing, (
        f"widgets without a reference check in tests/test_book.py::REFERENCE_CHECKS: {missing}"
    )


def test_no_stray_warning_in_an_executed_page(built):
    """A library's warning printed into a page (FutureWarning, UserWarning, a deprecation) is
    noise to a reader: every executed page's printed output is free of them."""
    executed = built.parent / "jupyter_execute"
    noisy = []
    for nb in sorted(executed.rglob("*.ipynb")):
        for i, cell in enumerate(json.loads(nb.read_text())["cells"]):
            for out in cell.get("outputs", []):
                text = "".join(out.get("text", ""))
                if re.search(r"\w+Warning:|warnings\.warn\(", text):
                    noisy.append(f"{nb.relative_to(executed)} cell {i}: {text.strip()[:120]}")
    assert not noisy, "\n".join(noisy)


def test_no_page_loads_from_an_external_host(built):
    offenders = []
    for page in built.rglob("*.html"):
        parser = _Assets()
        parser.feed(page.read_text(errors="replace"))
        for tag, url in parser.urls:
            if re.match(r"^(https?:)?//", url):
                offenders.append(f"{page.relative_to(built)}: <{tag}> {url}")
    assert not offenders, "\n".join(offenders[:20])
    assert (built / "_static/vendor/mathjax/tex-chtml.js").exists()


def test_exercise_notebooks_ship_with_the_book(built):
    """The site holds the student release (``release/``: the notebooks and the kit's wheel), each
    chapter index links its notebook there, and each link a released notebook makes to the book
    lands on a page of this site."""
    from autograder.kit import KIT_WHEEL
    from autograder.site import base_url

    release = built / "release"
    assert (release / KIT_WHEEL).is_file() and (release / "index.html").is_file()
    base = base_url()
    for chapter in sorted((ROOT / "exercises").iterdir()):
        index = built / f"book/{chapter.name}/index.html"
        if not index.exists():
            continue
        html = index.read_text()
        for nb in sorted(chapter.glob("*.ipynb")):
            links = re.findall(rf'href="([^"]*release/{chapter.name}/{re.escape(nb.name)})"', html)
            assert links, f"{index.relative_to(built)} does not offer {nb.name} for download"
            assert (index.parent / links[0]).resolve().read_bytes() == nb.read_bytes()
            for url in re.findall(rf"{re.escape(base)}([^)\s\"#]+)", nb.read_text()):
                if not url.startswith("release/"):
                    assert (built / url).is_file(), f"{nb.name} links {base}{url}, not in the site"


# ----------------------------------------------------------------------------- the browser


@pytest.fixture(scope="module")
def browser(built):
    # Debian chromium here; GitHub's Ubuntu runners ship Google Chrome and its chromedriver.
    chromium = shutil.which("chromium") or shutil.which("google-chrome")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.skip(
            "HEADLESS CHROMIUM IS NOT INSTALLED: run `make system-deps` as root (Debian "
            "chromium + chromium-driver) to run the real-browser test"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1600",
    ):
        opts.add_argument(flag)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(built))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    drv = webdriver.Chrome(service=Service(driver_path), options=opts)
    drv.set_page_load_timeout(60)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield drv, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        drv.quit()
        server.shutdown()


def _wait(drv, script, *args, timeout=30):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(drv, timeout).until(lambda d: d.execute_script(script, *args))


def _external_resources(drv, base):
    urls = drv.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    return [u for u in urls if not u.startswith(base) and not u.startswith("data:")]


# Console errors that are not the book's: the pydata theme logs its first visit's empty stored
# theme mode. (sphinx-thebe's doubled config script is deduplicated by book/_ext/course_site.py,
# and the site has a favicon.)
KNOWN_CONSOLE_ERRORS = ("Got invalid theme mode",)


def _js_errors(drv) -> list[str]:
    return [
        e["message"]
        for e in drv.get_log("browser")
        if e["level"] == "SEVERE" and not any(k in e["message"] for k in KNOWN_CONSOLE_ERRORS)
    ]


def _open(drv, base, page: str):
    drv.get(f"{base}/{page}.html")
    _wait(drv, "return document.readyState === 'complete'")
    _wait(
        drv,
        "return [...document.querySelectorAll('[data-widget]')].every(w => w.dataset.ready === '1')",
    )


def test_every_page_fits_a_phone_and_loads_cleanly(built, browser):
    """At 390 px (a phone) no page scrolls sideways; on every page no request fails and the console
    has no error; there is one search box."""
    drv, base = browser
    pages = sorted(
        str(p.relative_to(built))[: -len(".html")]
        for p in (built / "book").rglob("*.html")
        if "_sources" not in p.parts
    )
    assert len(pages) >= 40, pages
    problems = []
    try:
        drv.set_window_size(390, 900)
        for page in pages + ["release/index"]:
            drv.get(f"{base}/{page}.html")
            _wait(drv, "return document.readyState === 'complete'")
            wide, width = drv.execute_script(
                "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            if wide > width + 1:
                problems.append(f"{page}: {wide - width} px wider than a 390 px phone")
            failed = drv.execute_script(
                "return performance.getEntriesByType('resource')"
                ".filter(e => e.responseStatus >= 400).map(e => e.name)"
            )
            problems += [f"{page}: request failed: {u}" for u in failed]
            problems += [f"{page}: console: {m}" for m in _js_errors(drv)]
        drv.set_window_size(1280, 1600)
        drv.get(f"{base}/book/intro.html")
        _wait(drv, "return document.readyState === 'complete'")
        boxes = drv.execute_script(
            "return [...document.querySelectorAll('.search-button-field')]"
            ".filter(e => e.getBoundingClientRect().width > 0).length"
        )
        if boxes != 1:
            problems.append(f"{boxes} search boxes on a desktop page, not one")
    finally:
        drv.set_window_size(1280, 1600)
    assert not problems, "\n".join(problems[:30])


def test_pages_render_math_in_a_browser(browser):
    drv, base = browser
    drv.get(f"{base}/index.html")
    _wait(drv, "return document.readyState === 'complete'")
    assert "Transformer Workloads" in drv.title
    drv.save_screenshot(str(SHOTS / "index.png"))
    for page, shot in (
        ("book/00-prologue/tensors-dtypes", "tensors-dtypes"),
        ("book/00-prologue/measuring-devices", "measuring-devices"),
        ("book/03-llama/positions", "llama-positions"),
        ("book/03-llama/kv-cache", "llama-kv-cache"),
    ):
        _open(drv, base, page)
        _wait(drv, "return document.querySelectorAll('mjx-container').length > 0")
        assert drv.execute_script(
            "return document.querySelectorAll('img[src*=\"_images\"]').length"
        )
        drv.save_screenshot(str(SHOTS / f"{shot}.png"))
        assert _external_resources(drv, base) == [], page
        assert _js_errors(drv) == [], page
    _open(drv, base, "book/03-llama/index")
    section = drv.find_element("css selector", "section#exercises")
    drv.execute_script("arguments[0].scrollIntoView()", section)
    section.screenshot(str(SHOTS / "llama-exercises.png"))
    _open(drv, base, "book/03-llama/kv-cache")  # the widget in the theme's dark mode
    drv.execute_script("document.documentElement.dataset.theme = 'dark'")
    root = _root(drv, "kv-cache")
    drv.execute_script("arguments[0].scrollIntoView({block: 'center'})", root)
    root.screenshot(str(SHOTS / "widget-kv-cache-dark.png"))


# ------------------------------------------------------------- every widget responds (generic)


def _output(drv, root) -> str:
    return drv.execute_script(
        "return arguments[0].querySelector('[data-role=output]').innerHTML", root
    )


def _alternatives(drv, root, control):
    """Ways a reader changes this control: yields (description, action) pairs."""
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    kind = control.get_attribute("data-kind")
    if kind == "slider":
        at_max = control.get_attribute("value") == control.get_attribute("max")
        key = Keys.ARROW_LEFT if at_max else Keys.ARROW_RIGHT
        yield "arrow key", lambda: control.send_keys(key)
    elif kind == "number":
        old = float(control.get_attribute("value"))
        hi = control.get_attribute("max")
        new = old * 2 if not hi or old * 2 <= float(hi) else old / 2
        text = str(int(new)) if new == int(new) else str(new)

        def type_number():
            control.clear()
            control.send_keys(text)

        yield f"typed {text}", type_number
    elif kind == "select":
        sel = Select(control)
        for opt in sel.options:
            if not opt.is_selected():
                yield f"option {opt.text}", functools.partial(sel.select_by_visible_text, opt.text)
    elif kind == "toggle":
        for button in control.find_elements("css selector", "button"):
            if button.get_attribute("aria-pressed") != "true":
                yield f"button {button.text}", button.click
    else:
        pytest.fail(f"unknown control kind {kind!r}")


def test_every_widget_responds_to_every_control(built, browser):
    drv, base = browser
    found = _pages_with_widgets(built)
    assert sum(map(len, found.values())) >= 3, found
    for page, names in found.items():
        _open(drv, base, page)
        roots = drv.find_elements("css selector", "[data-widget]")
        assert [r.get_attribute("data-widget") for r in roots] == names, page
        for root in roots:
            name = root.get_attribute("data-widget")
            drv.execute_script("arguments[0].scrollIntoView({block: 'center'})", root)
            controls = root.find_elements("css selector", "[data-control]")
            assert controls, f"{page}: widget {name} has no controls"
            for control in controls:
                label = f"{page}: {name}.{control.get_attribute('data-control')}"
                changed, tried = False, []
                for how, act in _alternatives(drv, root, control):
                    tried.append(how)
                    before, updates = _output(drv, root), root.get_attribute("data-updates")
                    act()
                    _wait(
                        drv, "return arguments[0].dataset.updates !== arguments[1]", root, updates
                    )
                    if _output(drv, root) != before:
                        changed = True
                        break
                assert changed, f"{label}: the output did not change ({tried})"
            root.screenshot(str(SHOTS / f"widget-{name}.png"))
        assert _js_errors(drv) == [], page
        assert _external_resources(drv, base) == [], page


# ------------------------------------------------- displayed values equal the Python reference


def _root(drv, name):
    return drv.find_element("css selector", f'[data-widget="{name}"]')


def _value(drv, testid: str) -> str:
    return drv.find_element("css selector", f'[data-testid="{testid}"]').get_attribute("data-value")


def _data(drv, name: str):
    return json.loads(
        drv.execute_script(
            "return arguments[0].querySelector('script[data-role=data]').textContent",
            _root(drv, name),
        )
    )


def check_dtype_round(drv) -> None:
    """Rounding of v = 10**x to float32/bfloat16/float16 equals torch's, bit for bit."""
    import torch

    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    for x in ("0.5", "-1", "0", "2.5", "-5", "-6", "4.8", "4.82", "6", "-0.33"):
        _set(drv, "dtype-round", "log10v", x)
        v = float(_value(drv, "dtype-round-value"))
        assert v == pytest.approx(10 ** float(x), rel=1e-14), x
        for dname, dt in dtypes.items():
            ref = torch.tensor(v, dtype=torch.float64).to(dt).double().item()
            assert float(_value(drv, f"dtype-round-{dname}")) == ref, (x, dname)
            err = float(_value(drv, f"dtype-round-{dname}-error"))
            assert err == pytest.approx(abs(ref - v) / v, rel=1e-12) or math.isinf(ref), (x, dname)


def check_rope_explorer(drv) -> None:
    """Frequency, angle and the score <R_m q, R_n k> equal course.llama's apply_rope (float32)."""
    import torch

    from course.llama import apply_rope, rope_cos_sin

    data = _data(drv, "rope-explorer")
    d = data["head_dim"]
    q = torch.tensor(data["q"]).view(1, 1, 1, d)
    k = torch.tensor(data["k"]).view(1, 1, 1, d)

    def score(m: int, n: int, theta: float) -> float:
        cm, sm = rope_cos_sin(d, torch.tensor([[m]]), theta)
        cn, sn = rope_cos_sin(d, torch.tensor([[n]]), theta)
        return (apply_rope(q, cm, sm) * apply_rope(k, cn, sn)).sum().item()

    for theta in (500000, 10000):
        _set(drv, "rope-explorer", "theta", theta)
        for position, pair in ((12, 4), (0, 0), (64, 31), (37, 1), (5, 16)):
            _set(drv, "rope-explorer", "position", position)
            _set(drv, "rope-explorer", "pair", pair)
            inv_freq = 1.0 / theta ** (torch.arange(0, d, 2, dtype=torch.float32) / d)
            got = {
                key: float(_value(drv, f"rope-explorer-{key}"))
                for key in ("freq", "angle", "score", "score-shifted")
            }
            case = (theta, position, pair)
            assert got["freq"] == pytest.approx(inv_freq[pair].item(), rel=1e-6), case
            assert got["angle"] == pytest.approx(position * inv_freq[pair].item(), abs=1e-4), case
            assert got["score"] == pytest.approx(score(position, 0, theta), abs=1e-3), case
            shifted = score(position + 1000, 1000, theta)  # float32 angles: looser
            assert got["score-shifted"] == pytest.approx(shifted, abs=2e-2), case


def check_kv_cache(drv) -> None:
    """Bytes equal course.llama.catalogue.kv_cache_bytes for every model and every control."""
    from course.llama.catalogue import BY_NAME, kv_cache_bytes

    def heads(spec, attention):
        return {"released": spec.kv_heads, "mha": spec.heads, "gqa8": min(8, spec.heads), "mqa": 1}[
            attention
        ]

    def check(model, batch, context, precision, attention):
        s = BY_NAME[model]
        ref = kv_cache_bytes(
            batch, context, heads(s, attention), s.head_dim, precision, s.num_hidden_layers
        )
        case = (model, batch, context, precision, attention)
        assert int(_value(drv, "kv-cache-bytes")) == ref, case
        assert float(_value(drv, "kv-cache-gib")) == pytest.approx(ref / 2**30, rel=1e-12), case
        weights = s.parameter_count() * precision
        assert float(_value(drv, "kv-cache-weights-gib")) == pytest.approx(weights / 2**30), case
        assert float(_value(drv, "kv-cache-ratio")) == pytest.approx(ref / weights), case

    # The example first: Llama-2-70B at 100,000 tokens, bf16, batch 1, as released.
    _set(drv, "kv-cache", "model", "Llama-2-70B")
    _set(drv, "kv-cache", "context", 100_000)
    check("Llama-2-70B", 1, 100_000, 2, "released")
    assert int(_value(drv, "kv-cache-bytes")) == BY_NAME["Llama-2-70B"].kv_bytes(100_000)
    for attention in ("mha", "gqa8", "mqa", "released"):
        _set(drv, "kv-cache", "attention", attention)
        check("Llama-2-70B", 1, 100_000, 2, attention)
    for precision in (4, 1, 2):
        _set(drv, "kv-cache", "precision", precision)
        check("Llama-2-70B", 1, 100_000, precision, "released")
    for batch in (7, 64, 1):
        _set(drv, "kv-cache", "batch", batch)
        check("Llama-2-70B", batch, 100_000, 2, "released")
    for context in (1, 131_072, 10_000_000):
        _set(drv, "kv-cache", "context", context)
        check("Llama-2-70B", 1, context, 2, "released")
    _set(drv, "kv-cache", "batch", 64)  # 2 * 64 * 1e7 * 8 * 128 * 2 * 80 > 2**53: exact still
    check("Llama-2-70B", 64, 10_000_000, 2, "released")
    _set(drv, "kv-cache", "batch", 1)
    _set(drv, "kv-cache", "context", 4096)
    for model in BY_NAME:
        _set(drv, "kv-cache", "model", model)
        check(model, 1, 4096, 2, "released")


REFERENCE_CHECKS = {
    "dtype-round": check_dtype_round,
    "rope-explorer": check_rope_explorer,
    "kv-cache": check_kv_cache,
    "tokenizer-viewer": check_tokenizer_viewer,  # tests/test_tokenization_viewer.py
    "attention-mask": check_attention_mask,  # tests/test_bert_gpt_widget.py
    "arch-explorer": check_arch_explorer,  # tests/test_modern_llms_widget.py
    "ntxent-explorer": check_ntxent_explorer,  # tests/test_ssl_learning_widget.py
    "clip-similarity": check_clip_similarity,  # tests/test_foundation_widget.py
    "log-mel": check_log_mel,  # tests/test_foundation_widget.py
    "scaling-budget": check_scaling_budget,  # tests/test_scaling_widget.py
}


@pytest.mark.parametrize("name", sorted(REFERENCE_CHECKS))
def test_widget_values_equal_the_python_reference(built, browser, name):
    drv, base = browser
    pages = [p for p, names in _pages_with_widgets(built).items() if name in names]
    assert pages, f"no built page contains the widget {name!r}"
    for page in pages:
        _open(drv, base, page)
        root = _root(drv, name)
        drv.execute_script("arguments[0].scrollIntoView({block: 'center'})", root)
        REFERENCE_CHECKS[name](drv)
        root.screenshot(str(SHOTS / f"widget-{name}-checked.png"))
        assert _js_errors(drv) == [], page
