"""formgrader offline: the course's nbgrader configuration gives formgrader an exchange folder
of the course (no "exchange directory does not exist" warning) and its submission page the
course's own MathJax, served by the Jupyter server that runs formgrader (no CDN).

The configuration is read with traitlets' loader, as nbgrader reads it; the submission page
is rendered as formgrader renders it (its exporter settings under the course's); the last
test starts a real Jupyter server with formgrader and asks it for both pages.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import nbformat
import nbgrader
import pytest
from nbformat import v4
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from autograder.commands.feedback import (
    MATHJAX_DIR,
    MATHJAX_SCRIPT,
    TEMPLATES,
    formgrader_head,
    formgrader_mathjax_url,
)
from tests.formgrader import formgrader_server

ROOT = Path(__file__).resolve().parents[3]
NBGRADER_TEMPLATES = Path(nbgrader.__file__).resolve().parent / "server_extensions" / \
    "formgrader" / "templates"
# A submission page, as formgrader's handler addresses it (it redirects to the trailing slash).
SUBMISSION_URL = "http://127.0.0.1:8888/base/formgrader/submissions/0123abcd/"


def course_config(folder: Path = ROOT) -> Config:
    """The nbgrader configuration of the course in ``folder``, loaded as nbgrader loads it."""
    return PyFileConfigLoader("nbgrader_config.py", path=str(folder)).load_config()


def a_course(folder: Path) -> Path:
    """A course folder whose nbgrader_config.py is the course's (as ``score``'s are)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = ROOT / "autograder" / "nbgrader_config.py"
    (folder / "nbgrader_config.py").write_text(
        f"c = get_config()  # noqa: F821\nload_subconfig({str(config)!r})  # noqa: F821\n",
        encoding="utf-8")
    return folder


class _Scripts(HTMLParser):
    """The page's ``<script>`` elements in order: ``("src", URL)`` or ``("inline", text)``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[tuple[str, str]] = []
        self._inline = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "script":
            self._inline = "src" not in found
            self.scripts.append(("src", found["src"]) if "src" in found else ("inline", ""))

    def handle_endtag(self, tag: str) -> None:
        self._inline = False

    def handle_data(self, data: str) -> None:
        if self._inline:
            self.scripts[-1] = ("inline", self.scripts[-1][1] + data)


def scripts_of(page: str) -> list[tuple[str, str]]:
    parser = _Scripts()
    parser.feed(page)
    parser.close()
    return parser.scripts


def submission_page(config: Config) -> str:
    """A graded notebook rendered as formgrader's handler renders it: formgrader's exporter
    settings (FormgradeExtension.build_extra_config) under the course's configuration."""
    from nbconvert import HTMLExporter

    settings = Config()
    settings.HTMLExporter.template_name = "formgrade"
    settings.HTMLExporter.extra_template_basedirs = [str(NBGRADER_TEMPLATES)]
    settings.merge(config)
    resources = {"base_url": "/base", "index": 0, "total": 1, "notebook_id": "add",
                 "assignment_id": "add", "submission_id": "0123abcd", "student": "alice",
                 "first_name": "Alice", "last_name": "A", "notebook_path": "./x.ipynb"}
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("$h_t = \\tanh(x_t W_{xh})$")])
    page, _ = HTMLExporter(config=settings).from_notebook_node(nb, resources=resources)
    return page


# -- the configuration ---------------------------------------------------------------------------

def test_the_exchange_is_a_folder_of_the_course():
    """Does the course name an exchange inside itself (relative to the course root), not
    nbgrader's machine-wide default?"""
    root = course_config().Exchange.root
    assert root == "grading/exchange"
    assert not Path(root).is_absolute()


def test_formgrader_finds_the_courses_exchange(tmp_path, monkeypatch):
    """Does nbgrader's own check behind formgrader's warning (NbGraderAPI.exchange_missing)
    find the exchange of a course started afresh, where nbgrader's default does not?"""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    course = a_course(tmp_path / "course")
    monkeypatch.chdir(course)
    config = course_config(course)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    assert (api.course_id, api.exchange_missing) == ("rnn-course", False)
    assert (course / "grading" / "exchange").is_dir()
    default = Config()
    default.CourseDirectory.course_id = "rnn-course"
    default.Exchange.root = str(tmp_path / "no-exchange")  # nbgrader's default is as absent
    bare = NbGraderAPI(coursedir=CourseDirectory(config=default), config=default)
    assert bare.exchange_missing


def test_the_courses_templates_come_before_nbgraders():
    """Does the course's template folder (with formgrade/mathjax.html.j2) come first, and
    nbgrader's formgrader templates, which this setting replaces, still follow?"""
    basedirs = course_config().HTMLExporter.extra_template_basedirs
    assert [Path(d) for d in basedirs] == [TEMPLATES, NBGRADER_TEMPLATES]
    assert (TEMPLATES / "formgrade" / "mathjax.html.j2").is_file()
    filters = course_config().HTMLExporter.filters
    assert filters["formgrader_head"] == "autograder.commands.feedback.formgrader_head"


# -- the submission page -------------------------------------------------------------------------

def test_the_submission_page_loads_no_script_from_another_host(monkeypatch):
    monkeypatch.chdir(ROOT)
    sources = [src for kind, src in scripts_of(submission_page(course_config())) if kind == "src"]
    assert sources
    assert [s for s in sources if urlsplit(urljoin(SUBMISSION_URL, s)).netloc
            != "127.0.0.1:8888"] == []


def test_the_submission_page_loads_the_courses_mathjax_through_the_server(monkeypatch):
    """Served from the repository (``make formgrader``), does the page's MathJax address
    lead, through Jupyter's files/ route and any base URL, to the book's MathJax?"""
    monkeypatch.chdir(ROOT)
    sources = [src for kind, src in scripts_of(submission_page(course_config())) if kind == "src"]
    [mathjax] = [s for s in sources if s.endswith(MATHJAX_SCRIPT)]
    path = urlsplit(urljoin(SUBMISSION_URL, mathjax)).path
    assert path.startswith("/base/files/")
    assert (ROOT / path.removeprefix("/base/files/")).resolve() == MATHJAX_DIR / MATHJAX_SCRIPT


def test_the_submission_page_gives_formgrader_the_signal_it_waits_for(monkeypatch):
    """formgrade.js calls MathJax 2's ``MathJax.Hub.Startup.signal.Interest``: is it defined
    after MathJax 3 loads (MathJax 3 replaces window.MathJax when it starts)?"""
    monkeypatch.chdir(ROOT)
    scripts = scripts_of(submission_page(course_config()))
    mathjax = scripts.index(next(s for s in scripts if s[1].endswith(MATHJAX_SCRIPT)))
    signal = [i for i, (kind, text) in enumerate(scripts)
              if kind == "inline" and "Startup: {signal: {Interest" in text]
    assert signal and signal[0] > mathjax


def test_mathjax_outside_the_servers_folder_is_left_out_and_formgrader_still_starts(tmp_path):
    """Is a MathJax the server cannot serve left out (no address leading nowhere), with the
    signal still given so that formgrader's script does not stop?"""
    assert formgrader_mathjax_url(tmp_path) is None
    assert "signal" in formgrader_head()


# -- a real formgrader ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def formgrader():
    """A Jupyter server with formgrader, serving the repository as ``make formgrader`` does,
    for a course in a folder of grading/ with one graded submission; yields its address, its
    token and the submission's id, and stops it."""
    from nbgrader.api import Gradebook

    (ROOT / "grading").mkdir(exist_ok=True)
    course = a_course(Path(tempfile.mkdtemp(prefix="formgrader-test-", dir=ROOT / "grading")))
    graded = course / "grading" / "autograded" / "alice" / "add" / "add.ipynb"
    graded.parent.mkdir(parents=True)
    nbformat.write(v4.new_notebook(cells=[v4.new_markdown_cell("$h_t$")]), graded)
    with Gradebook(f"sqlite:///{course / 'grading' / 'gradebook.db'}",
                   course_id="rnn-course") as gb:
        gb.add_assignment("add")
        gb.add_notebook("add", "add")
        gb.add_student("alice", first_name="Alice", last_name="A")
        gb.add_submission("add", "alice")
        submission = gb.find_submission_notebook("add", "add", "alice").id
    try:
        with formgrader_server(course, ROOT) as (base, token):
            yield base, token, submission
    finally:
        shutil.rmtree(course, ignore_errors=True)


def get(formgrader, path: str):
    import requests

    base, token, _ = formgrader
    response = requests.get(urljoin(base + "/", path), timeout=60,
                            headers={"Authorization": f"token {token}"})
    response.raise_for_status()
    return response


@pytest.mark.slow
def test_formgraders_assignments_page_shows_no_exchange_warning(formgrader):
    page = get(formgrader, "formgrader/manage_assignments").text
    assert "Manage Assignments" in page
    assert "warning-exchange" not in page and "warning-course-id" not in page


@pytest.mark.slow
def test_formgraders_submission_page_serves_the_courses_mathjax(formgrader):
    """Does the live submission page name no remote script, and does its MathJax address
    answer with the course's MathJax?"""
    _, _, submission = formgrader
    response = get(formgrader, f"formgrader/submissions/{submission}/")
    sources = [src for kind, src in scripts_of(response.text) if kind == "src"]
    page_host = urlsplit(response.url).netloc
    assert [s for s in sources if urlsplit(urljoin(response.url, s)).netloc != page_host] == []
    [mathjax] = [s for s in sources if s.endswith(MATHJAX_SCRIPT)]
    served = get(formgrader, urljoin(response.url, mathjax))
    assert served.content == (MATHJAX_DIR / MATHJAX_SCRIPT).read_bytes()


@pytest.mark.slow
def test_in_chromium_the_submission_page_typesets_offline_and_formgrader_starts(formgrader):
    """Opened in Chromium with every request to another host refused, is the learner's math
    typeset by the course's MathJax, and does formgrader's own script start without an error
    (it waits for MathJax 2's startup signal)?"""
    from playwright.sync_api import sync_playwright

    base, token, submission = formgrader
    chromium = os.environ.get("RNN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    elsewhere: list[str] = []
    errors: list[str] = []

    def only_the_server(route):
        if urlsplit(route.request.url).netloc == urlsplit(base).netloc:
            return route.continue_()
        elsewhere.append(route.request.url)
        return route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(extra_http_headers={"Authorization": f"token {token}"})
        page.route("**/*", only_the_server)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/formgrader/submissions/{submission}/")
        page.wait_for_function("() => window.MathJax && window.MathJax.startup"
                               " && window.MathJax.startup.promise", timeout=60_000)
        page.evaluate("() => window.MathJax.startup.promise")
        page.wait_for_function("() => window.MathJax.loaded === true", timeout=30_000)
        typeset = page.evaluate("() => document.querySelectorAll('mjx-container').length")
        browser.close()
    assert elsewhere == [] and errors == []
    assert typeset >= 1
