"""The built book's launch and download buttons land on notebooks (issue 29).

On every chapter page (a MyST notebook of book/):

- Colab opens a notebook of that chapter: the publish workflow writes each chapter as a
  .ipynb to the branch ``notebooks``, and book/_static/rnncourse-launch.js points the theme's
  Colab link (to the .md) there. The script's functions are run with node (a prerequisite,
  scripts/prereqs.sh) on the links of the built pages; the workflow's step that writes the
  notebooks is run too, and every link must name a notebook it wrote.
- Binder and JupyterHub open the chapter's source in JupyterLab, where a .md opens as a
  notebook (rnncourse/lab.py sets the default viewer; Binder runs it in binder/postBuild).
- The download menu's items carry ``download`` (set by the same script), so the browser saves
  the file instead of showing its JSON.

The built book is ``_build/html``, or the folder in ``RNN_BOOK_HTML`` (as tests/test_browser.py).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import threading
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import nbformat
import pytest
import yaml

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parents[1]
HTML = Path(os.environ.get("RNN_BOOK_HTML", ROOT / "_build" / "html")).resolve()
SCRIPT = ROOT / "book" / "_static" / "rnncourse-launch.js"
WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
NOTEBOOK_STEP = "Write each chapter as a notebook"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
REPOSITORY = CONFIG["repository"]["url"].rstrip("/")
BRANCH = CONFIG["repository"]["branch"]
ORG, REPO = urlsplit(REPOSITORY).path.strip("/").split("/")
LAUNCH = CONFIG["launch_buttons"]
COLAB = LAUNCH["colab_url"].rstrip("/")


def toc_files() -> list[str]:
    """Every file the table of contents lists, without extension."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    return [toc["root"]] + [ch["file"] for part in toc["parts"] for ch in part["chapters"]]


def is_chapter(name: str) -> bool:
    """A MyST notebook: a .md whose front matter names a kernel."""
    source = ROOT / f"{name}.md"
    return source.is_file() and "\nkernelspec:" in source.read_text(encoding="utf-8").split(
        "\n---", 2)[0]


CHAPTERS = [name for name in toc_files() if is_chapter(name)]
ASSIGNMENTS = [name for name in toc_files() if (ROOT / f"{name}.ipynb").is_file()]


class _Anchors(HTMLParser):
    """The attributes of every <a> and the src of every <script> of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[dict[str, str]] = []
        self.scripts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag == "a" and "href" in values:
            self.anchors.append(values)
        elif tag == "script" and "src" in values:
            self.scripts.append(values["src"].split("?")[0])


@functools.cache
def parsed(name: str) -> _Anchors:
    """The links and scripts of a built page (read once)."""
    path = HTML / f"{name}.html"
    if not HTML.is_dir():
        pytest.fail(f"the book is not built in {HTML}: run `make build` first")
    assert path.is_file(), f"{name} is in _toc.yml but {path} was not built"
    parser = _Anchors()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def links_to(name: str, prefix: str) -> list[str]:
    """The hrefs of a page's links that start with ``prefix``."""
    return [a["href"] for a in parsed(name).anchors if a["href"].startswith(prefix)]


def download_links(name: str) -> list[str]:
    """The hrefs of a page's download-menu items for files (.ipynb, source)."""
    return [a["href"] for a in parsed(name).anchors
            if {"btn-download-notebook-button", "btn-download-source-button"}
            & set(a.get("class", "").split())]


def run_script(function: str, arguments: list[str]) -> list[str]:
    """``function`` of book/_static/rnncourse-launch.js applied to each argument, with node."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: run `bash scripts/prereqs.sh` (npm brings it)")
    program = ("const m = require(process.argv[1]);"
               "const args = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
               f"process.stdout.write(JSON.stringify(args.map(m.{function})));")
    done = subprocess.run([node, "-e", program, str(SCRIPT)], input=json.dumps(arguments),
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def script_constant(name: str) -> str:
    node = shutil.which("node") or pytest.fail("node is missing: run `bash scripts/prereqs.sh`")
    done = subprocess.run([node, "-e", f"process.stdout.write(require(process.argv[1]).{name})",
                           str(SCRIPT)], capture_output=True, text=True, check=True)
    return done.stdout


# ---- what each link must be (the checks) ------------------------------------------------------

def colab_notebook(name: str) -> str:
    """Where a chapter's Colab link must lead: its notebook on the branch of notebooks."""
    return (f"{COLAB}/github/{ORG}/{REPO}/blob/"
            f"{notebooks_branch()}/{name}.ipynb")


def notebooks_branch() -> str:
    """The branch the publish workflow pushes the chapters' notebooks to."""
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return workflow["jobs"]["notebooks"]["env"]["NOTEBOOKS_BRANCH"]


def colab_problems(name: str, hrefs: list[str]) -> list[str]:
    """What is wrong with a chapter page's Colab links, as the reader's browser has them."""
    if not hrefs:
        return [f"{name} has no Colab link"]
    return [f"{name}'s Colab link is {href}, not {colab_notebook(name)}"
            for href in hrefs if href != colab_notebook(name)]


def script_is_loaded(name: str) -> bool:
    """Does the page load book/_static/rnncourse-launch.js?"""
    return any(src.endswith("_static/rnncourse-launch.js") for src in parsed(name).scripts)


def in_the_browser(name: str, hrefs: list[str]) -> list[str]:
    """A page's Colab links as a reader's browser has them: rewritten when the page loads the
    script, as the theme wrote them when it does not."""
    return run_script("colabNotebookUrl", hrefs) if script_is_loaded(name) else hrefs


# ---- the book as built ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def written_notebooks(tmp_path_factory) -> Path:
    """The notebooks the publish workflow writes, from its own step, in a scratch folder."""
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    step = next(s for s in workflow["jobs"]["notebooks"]["steps"] if s.get("name") == NOTEBOOK_STEP)
    out = tmp_path_factory.mktemp("notebooks")
    subprocess.run(["bash", "-euo", "pipefail", "-c", step["run"]], cwd=ROOT, check=True,
                   env={**os.environ, "NOTEBOOKS_DIR": str(out)}, capture_output=True)
    return out


def test_the_chapters_are_found():
    """Does the check see the book's chapters (every .md page with code)?"""
    with_code = [n for n in toc_files() if (ROOT / f"{n}.md").is_file()
                 and "```{code-cell}" in (ROOT / f"{n}.md").read_text(encoding="utf-8")]
    assert with_code and set(with_code) <= set(CHAPTERS)


@pytest.mark.parametrize("name", CHAPTERS + ASSIGNMENTS)
def test_every_notebook_page_loads_the_launch_script(name):
    """Does each page with launch buttons load the script that fixes its links?"""
    assert script_is_loaded(name), f"{name} does not load _static/rnncourse-launch.js"


def test_every_chapters_colab_link_opens_its_notebook():
    """Once the script has run, does each chapter's Colab link name that chapter's .ipynb on
    the branch of notebooks?"""
    problems = [p for name in CHAPTERS
                for p in colab_problems(name, in_the_browser(name, links_to(name, COLAB)))]
    assert not problems, "\n".join(problems)


def test_the_script_and_the_workflow_agree_on_the_branch():
    """Does the script send Colab to the branch the workflow pushes the notebooks to?"""
    assert script_constant("NOTEBOOKS_BRANCH") == notebooks_branch()


def test_the_workflow_writes_every_notebook_a_colab_link_names(written_notebooks):
    """Does the publish workflow write, for each chapter, the notebook its Colab link opens:
    the chapter's cells after one set-up cell, without outputs?"""
    for name in CHAPTERS:
        path = written_notebooks / f"{name}.ipynb"
        assert path.is_file(), f"the workflow writes no {name}.ipynb"
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        setup, *cells = notebook.cells
        assert f"git+{REPOSITORY}@{BRANCH}" in setup.source
        assert "google.colab" in setup.source  # installs nothing anywhere else
        markdown = (ROOT / f"{name}.md").read_text(encoding="utf-8")
        assert cells and all(c.source.splitlines()[0] in markdown for c in cells if c.source)
        assert not any(c.get("outputs") for c in cells)


def test_an_assignments_colab_link_opens_its_notebook_in_the_repository():
    """Is an assignment (a .ipynb in the repository) opened from the book's branch, unchanged
    by the script?"""
    for name in ASSIGNMENTS:
        expected = (f"{COLAB}/github/{ORG}/{REPO}/blob/{BRANCH}/"
                    f"{name}.ipynb")
        hrefs = links_to(name, COLAB)
        assert hrefs and in_the_browser(name, hrefs) == [expected] * len(hrefs)


@pytest.mark.parametrize("name", CHAPTERS)
def test_binder_opens_the_chapter_in_lab(name):
    """Does the Binder link build the repository (binder/) and open the chapter's source in
    JupyterLab, where it opens as a notebook?"""
    expected = (f"{LAUNCH['binderhub_url'].rstrip('/')}/v2/gh/{ORG}/{REPO}/{BRANCH}"
                f"?urlpath=lab/tree/{name}.md")
    assert links_to(name, LAUNCH["binderhub_url"]) == [expected]
    assert (ROOT / "binder" / "postBuild").is_file()


@pytest.mark.parametrize("name", CHAPTERS)
def test_the_hub_pulls_the_repository_and_opens_the_chapter_in_lab(name):
    """Does the JupyterHub link pull the repository and open the chapter's source in Lab?"""
    [href] = links_to(name, LAUNCH["jupyterhub_url"])
    query = parse_qs(urlsplit(href).query)
    assert query["repo"] == [REPOSITORY] and query["branch"] == [BRANCH]
    assert query["urlpath"] == [f"lab/tree/{REPO}/{name}.md"]


@pytest.mark.parametrize("name", CHAPTERS + ASSIGNMENTS)
def test_the_download_items_download_their_file(name):
    """Does each download item of a chapter (.ipynb, .md) or assignment page (.ipynb) get
    ``download`` with its file's name, and is that file in the build?"""
    hrefs = download_links(name)
    kinds = {".ipynb", ".md"} if name in CHAPTERS else {".ipynb"}
    assert {Path(urlsplit(h).path).suffix for h in hrefs} == kinds
    assert script_is_loaded(name)
    page = (HTML / f"{name}.html").as_uri()
    for href, filename in zip(hrefs, run_script("downloadName", hrefs), strict=True):
        target = Path(urlsplit(urljoin(page, href)).path)
        assert filename == target.name and target.is_file(), (href, filename)


# ---- the checks themselves (hostile cases) ----------------------------------------------------

def test_a_colab_link_to_the_markdown_source_is_caught():
    """Would a Colab link left as the theme writes it (to the .md) fail the check?"""
    name = CHAPTERS[0]
    theme_href = f"https://colab.research.google.com/github/{ORG}/{REPO}/blob/{BRANCH}/{name}.md"
    assert colab_problems(name, [theme_href])
    assert not colab_problems(name, run_script("colabNotebookUrl", [theme_href]))


def test_a_colab_link_to_another_chapters_notebook_is_caught():
    """Would a Colab link to the wrong chapter's notebook fail the check?"""
    first, second = CHAPTERS[:2]
    assert colab_problems(first, [colab_notebook(second)])
    assert colab_problems(first, [])


def test_the_script_leaves_other_links_alone():
    """Does the script change only Colab links to a .md on GitHub?"""
    others = [f"https://colab.research.google.com/github/{ORG}/{REPO}/blob/main/a.ipynb",
              "https://mybinder.org/v2/gh/o/r/main?urlpath=lab/tree/book/a.md",
              "https://colab.research.google.com/drive/abc.md"]
    assert run_script("colabNotebookUrl", others) == others


# ---- in a real browser ------------------------------------------------------------------------

CHROMIUM = os.environ.get("RNN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# The first chapter in the build (all of them in a full build).
BROWSER_PAGE = next((n for n in CHAPTERS if (HTML / f"{n}.html").is_file()), CHAPTERS[0])


class _JsonHandler(SimpleHTTPRequestHandler):
    """Serves notebooks as application/json, which a browser shows in a tab unless the link
    says ``download``: the worst case among web servers."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map,
                      ".ipynb": "application/json", ".md": "text/plain"}

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="module")
def served_book():
    """The built book on http://127.0.0.1:<free port>/."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0),
                                functools.partial(_JsonHandler, directory=str(HTML)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def chromium_page(served_book, tmp_path_factory):
    """A chapter page in headless Chromium (Debian's), that can reach only the local server."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed ({CHROMIUM} missing): run `bash "
                    "scripts/prereqs.sh`, or name one in RNN_CHROMIUM.", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM,
            headless=True, accept_downloads=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
        context.route("**/*", lambda route: route.continue_()
                      if route.request.url.startswith(served_book) else route.abort())
        page = context.new_page()
        page.goto(f"{served_book}{BROWSER_PAGE}.html", wait_until="load")
        yield page
        context.close()


@pytest.mark.slow
def test_in_chromium_the_colab_button_opens_the_chapters_notebook(chromium_page):
    """In a browser, once the page has loaded, does Colab's button name the notebook?"""
    hrefs = chromium_page.eval_on_selector_all(
        f'a[href^="{COLAB}/"]', "links => links.map(a => a.getAttribute('href'))")
    assert hrefs == [colab_notebook(BROWSER_PAGE)]


@pytest.mark.slow
def test_in_chromium_the_ipynb_item_downloads_the_notebook(chromium_page):
    """Does choosing .ipynb in the download menu save the chapter's notebook, even from a
    server that labels it as JSON (which a tab would show)?"""
    chromium_page.click(".dropdown-download-buttons > button")
    with chromium_page.expect_download(timeout=10_000) as download:
        chromium_page.click("a.btn-download-notebook-button")
    assert download.value.suggested_filename == f"{Path(BROWSER_PAGE).name}.ipynb"
    notebook = nbformat.reads(Path(download.value.path()).read_text(encoding="utf-8"), 4)
    assert notebook.cells
