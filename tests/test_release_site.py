"""The student release inside the site: one address (``_config.yml``'s ``html.baseurl``) feeds the
kit's install line and every link of the released notebooks; ``publish`` puts the notebooks and the
kit's wheel into the built site, and a fresh environment installs the kit from it over HTTP.
"""

from __future__ import annotations

import functools
import http.server
import json
import subprocess
import threading
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT, fresh_venv, pip_install_into

from autograder import kit
from autograder.errors import CourseError
from autograder.layout import Course
from autograder.publish import publish
from autograder.site import base_url, published_links

COURSE = Course(ROOT)
RELEASED = sorted((ROOT / "exercises").glob("*/*.ipynb"))


def _markdown(nb: Path) -> str:
    cells = json.loads(nb.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def test_the_kit_installs_from_the_sites_release_folder():
    assert kit.KIT_URL == f"{base_url()}release/{kit.KIT_WHEEL}"
    guide = (ROOT / "book/students-guide.md").read_text()
    assert f"pip install {kit.KIT_URL}" in guide, "the students' guide installs another kit"


@pytest.mark.parametrize("nb", RELEASED, ids=lambda p: p.parent.name)
def test_released_notebooks_link_published_pages(nb):
    text = _markdown(nb)
    assert "../book/" not in text, f"{nb.name} still links the book's sources"
    base = base_url()
    pages = [u.split("#")[0] for u in __import__("re").findall(rf"{base}book/([^)\s]+)", text)]
    assert pages, f"{nb.name} links no page of the book"
    gone = [p for p in pages if not (ROOT / "book" / p).with_suffix(".md").is_file()]
    assert not gone, f"{nb.name} links pages the book does not have: {gone}"


def test_published_links_keep_anchors_and_leave_other_links():
    base = "https://example.org/c/"
    text = "[a](../../book/03-llama/rope.md#rope) [b](https://x.org/y.md) [c](../../book/intro.md)"
    assert published_links(text, base) == (
        f"[a]({base}book/03-llama/rope.html#rope) [b](https://x.org/y.md) "
        f"[c]({base}book/intro.html)"
    )


def test_a_config_without_baseurl_is_one_sentence(tmp_path):
    config = tmp_path / "_config.yml"
    config.write_text("title: x\n")
    with pytest.raises(CourseError, match="html.baseurl"):
        base_url(config)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("site")
    (site / "index.html").write_text("<html></html>")
    publish(COURSE, site)
    return site


def test_publish_puts_the_release_and_nothing_of_the_course_into_the_site(site):
    release = site / "release"
    for nb in RELEASED:
        assert (release / nb.parent.name / nb.name).read_bytes() == nb.read_bytes()
    names = zipfile.ZipFile(release / kit.KIT_WHEEL).namelist()
    assert names and all(n.startswith("coursekit") for n in names), names[:5]
    shipped = {p.relative_to(release).parts[0] for p in release.rglob("*")}
    assert not shipped & {"course", "solutions", "autograder", "tests"}
    index = (release / "index.html").read_text()
    assert all(f"{nb.parent.name}/{nb.name}" in index for nb in RELEASED)


def test_publish_into_a_folder_that_is_no_site_is_one_sentence(tmp_path):
    with pytest.raises(CourseError, match="not a built site"):
        publish(COURSE, tmp_path)


#: run in the kit's fresh environment: fetch the prologue's notebook from the site, run its setup
#: cell (which finds the kit installed) and one visible check with a correct softmax
STUDENT = """
import json, sys, urllib.request
import torch
base = sys.argv[1]
nb = json.load(urllib.request.urlopen(base + "/release/00-prologue/prologue.ipynb"))
(setup,) = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "setup"]
exec("".join(setup["source"]))
import coursekit
print("kit from", coursekit.__file__)
check("prologue.softmax.visible", lambda x, dim=-1: torch.softmax(x, dim=dim))
"""


def test_a_student_installs_the_kit_from_the_site_and_runs_a_visible_check(site, tmp_path):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    try:
        py, target = fresh_venv(tmp_path)
        pip_install_into(target, "--no-index", f"{base}/release/{kit.KIT_WHEEL}", check=True)
        out = subprocess.run(
            [str(py), "-c", STUDENT, base], capture_output=True, text=True, cwd=tmp_path,
            env=env, timeout=300,
        )  # fmt: skip
    finally:
        server.shutdown()
    assert out.returncode == 0, out.stderr[-1500:]
    assert f"kit from {target}" in out.stdout, out.stdout
    assert "prologue.softmax.visible: 2 cases passed" in out.stdout, out.stdout
    gone = subprocess.run(
        [str(py), "-c", "import course"], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert gone.returncode != 0, "the kit's environment can import the course's references"
