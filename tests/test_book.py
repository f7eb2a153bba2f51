"""The built book: every page present and executed, offline (no external script/style hosts),
and really rendered in headless Chromium (math typeset, widget drawn), with screenshots."""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
from html.parser import HTMLParser

import pytest
from conftest import ROOT

HTML = ROOT / "_build" / "html"
PAGES = [
    "book/intro",
    "book/students-guide",
    "book/instructors-guide",
    "book/00-prologue/index",
    "book/00-prologue/tensors-dtypes",
    "book/00-prologue/measuring-devices",
    "book/bibliography",
]


@pytest.fixture(scope="module")
def built():
    if not (HTML / "index.html").exists():
        pytest.fail("the book is not built: run `make book` (make test does it first)")
    return HTML


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
    assert "application/vnd.jupyter.widget-state+json" in dtypes, "widget state is embedded"
    assert "bfloat16" in dtypes and "65500" in dtypes.replace(",", "").replace("6.55e+04", "65500")
    assert "Williams" in (built / "book/00-prologue/measuring-devices.html").read_text()
    for page in ("positions", "kv-cache"):  # the chapter's two widgets
        html = (built / f"book/03-llama/{page}.html").read_text()
        assert "application/vnd.jupyter.widget-state+json" in html, page
    real = (built / "book/03-llama/real-weights.html").read_text()
    assert "identical to Hugging Face: True" in real


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
    assert (built / "_static/vendor/html-manager/embed-amd.js").exists()


@pytest.fixture(scope="module")
def browser(built):
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.skip(
            "HEADLESS CHROMIUM IS NOT INSTALLED: run `make system-deps` as root (Debian "
            "chromium + chromium-driver) to run the real-browser test"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
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
    try:
        yield drv, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        drv.quit()
        server.shutdown()


def _wait(drv, script, timeout=30):
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(drv, timeout).until(lambda d: d.execute_script(script))


def _external_resources(drv, base):
    urls = drv.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    return [u for u in urls if not u.startswith(base) and not u.startswith("data:")]


def test_pages_render_math_and_widgets_in_a_browser(browser):
    drv, base = browser
    shots = ROOT / "_build" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    drv.get(f"{base}/index.html")
    _wait(drv, "return document.readyState === 'complete'")
    assert "Transformer Workloads" in drv.title
    drv.save_screenshot(str(shots / "index.png"))

    drv.get(f"{base}/book/00-prologue/tensors-dtypes.html")
    _wait(drv, "return document.querySelectorAll('mjx-container').length > 0")
    _wait(
        drv,
        "return document.querySelectorAll('.widget-slider, .jupyter-widgets .widget-hslider').length > 0",
    )
    assert (
        drv.execute_script("return document.querySelectorAll('img[src*=\"_images\"]').length") >= 2
    )
    drv.save_screenshot(str(shots / "tensors-dtypes.png"))
    widget = drv.find_element("css selector", ".widget-vbox, .jupyter-widgets")
    widget.screenshot(str(shots / "dtype-widget.png"))
    assert _external_resources(drv, base) == []

    for page in ("positions", "kv-cache"):
        drv.get(f"{base}/book/03-llama/{page}.html")
        _wait(drv, "return document.querySelectorAll('mjx-container').length > 0")
        _wait(
            drv, "return document.querySelectorAll('.widget-dropdown, .widget-slider').length > 0"
        )
        drv.save_screenshot(str(shots / f"llama-{page}.png"))
        box = drv.find_elements("css selector", ".widget-vbox")[-1]
        drv.execute_script("arguments[0].scrollIntoView()", box)
        box.screenshot(str(shots / f"llama-{page}-widget.png"))
        assert _external_resources(drv, base) == []

    drv.get(f"{base}/book/00-prologue/measuring-devices.html")
    _wait(drv, "return document.querySelectorAll('mjx-container').length > 0")
    drv.save_screenshot(str(shots / "measuring-devices.png"))
    assert _external_resources(drv, base) == []
