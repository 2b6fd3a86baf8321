"""Hostile learners against ``feedback`` and the graded notebook formgrader shows.

One class of the toy assignment ``add``, collected and graded once: a learner whose answer
displays live markup of every kind (a ``<script>``, an ``<img onerror>``, an iframe, a
``javascript:`` link, JavaScript, an SVG with a script, markdown with raw HTML) and writes the
same in markdown and raw cells; a learner whose comment says HIDDEN TESTS; a learner who
quotes a hidden test's line; one whose graded notebook nbgrader cannot read; and correct
controls. For each: the graded notebook and formgrader's view of it hold nothing active, the
feedback page carries a Content Security Policy that allows none of it, and one learner's page
never stops or removes another's. A second class has its hidden test marked mid-line
(``# -- BEGIN HIDDEN TESTS --``) and holding ``<``, ``>`` and ``&``: feedback hides what the
release hid, and withholds the page of a learner who quotes it.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from base64 import b64encode
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from autograder.commands.collect import collect
from autograder.commands.feedback import (
    FEEDBACK_MATHJAX_URL,
    FeedbackIncomplete,
    content_security_policy,
    feedback,
    hidden_lines,
    page_text,
)
from autograder.commands.grade import grade
from autograder.commands.release import generate
from autograder.settings import Limits
from tests.builders import add_assignment, filled, make_course

pytestmark = pytest.mark.slow  # grades a class in sandboxed kernels

LIMITS = Limits(cell_timeout=10, notebook_timeout=60)
CORRECT = "def add(a, b):\n    return a + b"
OWNED = "document.title='owned'"
PAYLOAD = (f"<b>bold</b><script>{OWNED}</script><img src=x onerror=\"{OWNED}\">"
           "<iframe src='https://example.org'></iframe><a href=\"javascript:alert(1)\">click</a>"
           "<object data='x.swf'></object><base href='https://evil.example/'>")
SVG_PAYLOAD = ('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(2)</script>'
               '<circle r="1" onload="alert(3)"/><foreignObject><iframe src="x"></iframe>'
               '</foreignObject></svg>')
MARKUP = f"""\
from IPython.display import HTML, SVG, Javascript, Markdown, display

display(HTML({PAYLOAD!r}))
display(Javascript({OWNED!r}))
display(SVG({SVG_PAYLOAD!r}))
display(Markdown("<img src=x onerror=alert(4)> [x](javascript:alert(5))"))
display({{"application/vnd.jupyter.widget-view+json": {{"model_id": "x"}},
         "text/html": "<details ontoggle=alert(6) open>d</details>",
         "image/png": {b64encode(b"png").decode()!r},
         "text/plain": "shown"}}, raw=True,
        metadata={{"image/png": {{"width": "1 onerror=alert(7)", "height": 2}},
                   "filenames": {{"image/png": "javascript:alert(8)"}}}})


def add(a, b):
    return a + b
"""
COMMENT = "# HIDDEN TESTS are not my business: I test my own code.\n" + CORRECT
PNG = b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 8).decode()


def hostile_cells() -> list[nbformat.NotebookNode]:
    """Cells a learner adds: markdown and raw HTML with live markup, and a learner's own
    markdown that is harmless (it must render as written)."""
    cells = [
        v4.new_markdown_cell(f"My notes <img src=x onerror=\"{OWNED}\"> and "
                             "[a link](javascript:alert(9)) and $a < b$."),
        v4.new_raw_cell(f"<script>{OWNED}</script><p>raw</p>",
                        metadata={"raw_mimetype": "text/html"}),
        v4.new_markdown_cell("Harmless: $a < b$, `x<y`, **bold** and\n\n> a quote"),
        v4.new_markdown_cell("![pic](attachment:pic.png) ![js](attachment:page.html)",
                             attachments={"pic.png": {"image/png": PNG},
                                          "page.html": {"text/html": f"<script>{OWNED}"
                                                                     "</script>"}}),
    ]
    return cells


def submit(inbox: Path, release: nbformat.NotebookNode, student: str, source: str,
           extra: list[nbformat.NotebookNode] = ()) -> None:
    nb = filled(release, source)
    nb.cells += list(extra)
    path = inbox / student / "add" / "add.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The class, collected and graded once: (course, hidden-test line quoted by 'quoter')."""
    base = tmp_path_factory.mktemp("hostile-feedback")
    course = make_course(base / "course", {"add": add_assignment()})
    release = nbformat.read(generate(course, "add", course / "exercises") / "add.ipynb", 4)
    secret = hidden_lines(course, "add")[0]
    inbox = base / "inbox"
    submit(inbox, release, "alice", CORRECT)
    submit(inbox, release, "mallory", MARKUP, hostile_cells())
    submit(inbox, release, "hidden_comment", COMMENT)
    submit(inbox, release, "quoter", f"{CORRECT}\n\n# {secret}")
    submit(inbox, release, "unreadable", CORRECT)
    submit(inbox, release, "zed", CORRECT)
    collect(course, inbox, progress=False)
    rows = grade(course, jobs=2, limits=LIMITS, progress=False)
    assert {r.student for r in rows} == {"alice", "mallory", "hidden_comment", "quoter",
                                         "unreadable", "zed"}
    # as if the graded notebook were damaged on disk: nbgrader cannot make this page
    graded_nb = course / "grading" / "autograded" / "unreadable" / "add" / "add.ipynb"
    graded_nb.write_text("{ not a notebook")
    return course, secret


@pytest.fixture(scope="module")
def pages(graded):
    """``feedback`` run once on the class: (pages by learner, problems reported)."""
    course, _ = graded
    problems: list[str] = []
    files = feedback(course, ["add"], problems=problems)
    return {p.parent.parent.name: p.read_text(encoding="utf-8") for p in files}, problems


def autograded(course: Path, student: str) -> nbformat.NotebookNode:
    return nbformat.read(course / "grading" / "autograded" / student / "add" / "add.ipynb", 4)


class Markup(HTMLParser):
    """Every element and attribute of a page, and the text of its inline scripts."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data

    def active(self) -> list[str]:
        """What in this markup could run or load something: script, frame, plugin and base
        elements, event-handler attributes, javascript: URLs."""
        found = []
        for tag, attrs in self.tags:
            if tag in {"script", "iframe", "object", "embed", "base", "frame"}:
                found.append(f"<{tag}>")
            found += [f"<{tag} {k}>" for k in attrs if k.startswith("on")]
            found += [f"<{tag} {k}={v}>" for k, v in attrs.items()
                      if v.strip().lower().startswith(("javascript:", "data:text"))]
        return found


def output_markup(nb: nbformat.NotebookNode) -> str:
    """The HTML, SVG and markdown a notebook's outputs and text cells would put in a page."""
    from nbconvert.filters import markdown2html

    parts = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            parts.append(markdown2html(cell.source))
        if cell.cell_type == "raw":
            parts.append(cell.source)
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            parts += [data[m] for m in ("text/html", "image/svg+xml") if m in data]
            if "text/markdown" in data:
                parts.append(markdown2html(data["text/markdown"]))
    return "\n".join(parts)


# -- the graded notebook, as formgrader shows it ------------------------------------------------

def test_the_graded_notebook_holds_no_live_markup(graded):
    """Does a learner's script, event handler, frame or javascript: link reach the graded
    notebook that formgrader shows?"""
    course, _ = graded
    nb = autograded(course, "mallory")
    assert Markup(output_markup(nb)).active() == []
    mimes = {m for c in nb.cells for o in c.get("outputs", []) for m in o.get("data", {})}
    assert "application/javascript" not in mimes
    assert not any(m.startswith("application/vnd.jupyter.widget") for m in mimes)


def test_the_graded_notebook_keeps_what_is_harmless(graded):
    """Are the learner's harmless outputs and markdown still there, as written?"""
    course, _ = graded
    nb = autograded(course, "mallory")
    html = " ".join(o.data.get("text/html", "") for c in nb.cells
                    for o in c.get("outputs", []) if "data" in o)
    assert "<b>bold</b>" in html
    assert "&lt;script&gt;" in html  # the script is shown as text, not run
    texts = [o.data.get("text/plain") for c in nb.cells for o in c.get("outputs", [])
             if "data" in o]
    assert "shown" in texts
    harmless = "Harmless: $a < b$, `x<y`, **bold** and\n\n> a quote"
    assert harmless in [c.source for c in nb.cells if c.cell_type == "markdown"]


def test_output_metadata_cannot_inject_attributes(graded):
    """Can an output's metadata (image width, file names) write attributes into the page?"""
    course, _ = graded
    nb = autograded(course, "mallory")
    metadata = [o.metadata for c in nb.cells for o in c.get("outputs", [])
                if o.get("output_type") == "display_data"]
    assert all(set(m) <= {"image/png", "image/jpeg", "image/gif"} for m in metadata)
    assert {"image/png": {"height": 2}} in metadata


def formgrader_view(course: Path, student: str) -> str:
    """The graded notebook of ``student`` rendered as formgrader renders it (nbgrader's
    formgrade template and the resources its handler gives)."""
    import nbgrader
    from nbconvert import HTMLExporter

    templates = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates"
    exporter = HTMLExporter(template_name="formgrade", extra_template_basedirs=[str(templates)])
    resources = {"base_url": "", "index": 0, "total": 1, "notebook_id": "add",
                 "assignment_id": "add", "submission_id": student, "student": student,
                 "first_name": "", "last_name": "", "notebook_path": "add.ipynb"}
    html, _ = exporter.from_notebook_node(autograded(course, student), resources=resources)
    return html


def test_formgraders_view_of_the_graded_notebook_runs_nothing_of_the_learners(graded):
    """Rendered as formgrader renders it, does the hostile learner's notebook hold anything
    active that a plain correct notebook's page (formgrader's own scripts) does not?"""
    course, _ = graded
    hostile, control = Markup(formgrader_view(course, "mallory")), Markup(
        formgrader_view(course, "alice"))
    assert sorted(hostile.active()) == sorted(control.active())
    assert not any("owned" in s or "alert(" in s for s in hostile.scripts)


# -- feedback: every learner on their own --------------------------------------------------------

def test_feedback_is_written_for_every_learner_it_can_write(pages):
    """Does one learner's page (a leak, a broken notebook) stop or remove another's?"""
    written, _ = pages
    assert sorted(written) == ["alice", "hidden_comment", "mallory", "zed"]


def test_a_comment_saying_hidden_tests_is_not_a_leak(pages):
    """Is a learner's own comment with the words HIDDEN TESTS withheld as a leak?"""
    written, _ = pages
    assert "HIDDEN TESTS are not my business" in written["hidden_comment"]


def test_a_page_that_shows_a_hidden_line_is_withheld_for_that_learner_only(graded, pages):
    course, secret = graded
    written, problems = pages
    assert [p for p in problems if p.startswith("add/quoter:")] == [
        "add/quoter: feedback withheld: add.html showed a line of a hidden test; check "
        "GenerateFeedback.preprocessors in autograder/nbgrader_config.py"]
    assert not (course / "grading" / "feedback" / "quoter" / "add" / "add.html").exists()


def test_a_page_nbgrader_cannot_write_is_reported_for_that_learner(pages):
    _, problems = pages
    unreadable = [p for p in problems if p.startswith("add/unreadable:")]
    assert len(unreadable) == 1 and "no feedback written" in unreadable[0]
    assert len(problems) == 2


def test_without_a_problem_list_feedback_raises_after_writing_the_others(graded):
    """Called as the command calls it, does ``feedback`` say that something was withheld
    (an error: exit status 2) only after every other page is written?"""
    course, _ = graded
    with pytest.raises(FeedbackIncomplete, match="not for 2") as err:
        feedback(course, ["add"])
    assert "add/quoter" in str(err.value) and "add/unreadable" in str(err.value)
    assert (course / "grading" / "feedback" / "zed" / "add" / "add.html").exists()


def test_the_feedback_command_exits_non_zero_when_a_page_is_withheld(graded):
    course, _ = graded
    proc = subprocess.run([sys.executable, "-m", "autograder", "feedback", "add"], cwd=course,
                          capture_output=True, text=True,
                          env={"RNNCOURSE_ROOT": str(course), "PATH": "/usr/bin:/bin"})
    assert proc.returncode != 0
    assert "add/quoter" in proc.stderr
    assert (course / "grading" / "feedback" / "alice" / "add" / "add.html").exists()


# -- feedback: hidden tests marked mid-line, holding markup characters ---------------------------

# The markers are not at the start of their line (nbgrader's release hides the region all the
# same) and the hidden line holds the characters a page escapes (<, > and &).
MARKUP_SECRET = "assert 3 < add(2, 2) < 5 and add(2, 2) & 4 == 4, 'add(2, 2) > 3 & < 5'"


def marked_mid_line() -> nbformat.NotebookNode:
    """``add_assignment`` with its hidden test between ``# -- BEGIN/END HIDDEN TESTS --``."""
    nb = add_assignment()
    test = next(c for c in nb.cells if c.metadata["nbgrader"]["grade_id"] == "test_add")
    test.source = ("assert add(1, 2) == 3\n# -- BEGIN HIDDEN TESTS --\n"
                   f"{MARKUP_SECRET}\n# -- END HIDDEN TESTS --")
    return nb


@pytest.fixture(scope="module")
def mid_line(tmp_path_factory):
    """A class of ``add`` marked mid-line, released, graded, then given feedback once:
    (course, released notebook, pages by learner, problems reported)."""
    base = tmp_path_factory.mktemp("hidden-mid-line")
    course = make_course(base / "course", {"add": marked_mid_line()})
    release = nbformat.read(generate(course, "add", course / "exercises") / "add.ipynb", 4)
    inbox = base / "inbox"
    submit(inbox, release, "alice", CORRECT)
    submit(inbox, release, "quoter", f"{CORRECT}\n\n# {MARKUP_SECRET}")
    collect(course, inbox, progress=False)
    grade(course, jobs=2, limits=LIMITS, progress=False)
    problems: list[str] = []
    files = feedback(course, ["add"], problems=problems)
    pages = {p.parent.parent.name: p.read_text(encoding="utf-8") for p in files}
    return course, release, pages, problems


def test_a_hidden_test_marked_mid_line_is_hidden_by_the_release_and_by_feedback(mid_line):
    """Does feedback hide the hidden test the release hid (nbgrader's rule), and write the
    page rather than withhold it?"""
    _, release, pages, _ = mid_line
    assert MARKUP_SECRET not in nbformat.writes(release) and "add(1, 2) == 3" in nbformat.writes(
        release)
    assert "alice" in pages
    assert MARKUP_SECRET not in page_text(pages["alice"])
    assert "add(1, 2) == 3" in page_text(pages["alice"])


def test_a_page_quoting_a_hidden_line_with_markup_characters_is_withheld(mid_line):
    """Is a learner who quotes that hidden line (``<``, ``>`` and ``&`` escaped in the page)
    withheld, and only that learner?"""
    course, _, pages, problems = mid_line
    assert sorted(pages) == ["alice"]
    assert [p.split(": ", 1)[0] for p in problems] == ["add/quoter"]
    assert "feedback withheld" in problems[0]
    assert not (course / "grading" / "feedback" / "quoter" / "add" / "add.html").exists()


# -- feedback: the page ------------------------------------------------------------------------

def policy_of(html: str) -> dict[str, list[str]]:
    """The directives of the page's Content Security Policy (its <meta http-equiv>)."""
    metas = [a["content"] for t, a in Markup(html).tags
             if t == "meta" and a.get("http-equiv", "").lower() == "content-security-policy"]
    assert len(metas) == 1, metas
    return {d.split()[0]: d.split()[1:] for d in metas[0].split(";") if d.strip()}


def test_the_feedback_page_has_no_live_learner_markup(pages):
    written, _ = pages
    page = Markup(written["mallory"])
    assert [a for a in page.active() if a != "<script>"] == []
    assert OWNED not in "".join(page.scripts)
    assert "&lt;script&gt;" in written["mallory"]  # the learner's script, shown as text


def test_the_feedback_page_carries_a_content_security_policy(pages):
    written, _ = pages
    for html in written.values():
        policy = policy_of(html)
        assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
        assert policy["default-src"] == ["'none'"]
        assert not {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "'strict-dynamic'",
                    "data:", "*", "https:"} & set(policy["script-src"])
        head = html[:html.index("</head>")]
        assert head.index("Content-Security-Policy") < head.index("<script")


def test_the_policy_allows_the_pages_own_scripts_and_no_learners(pages):
    """Does every script of the page run under its policy (MathJax and its configuration),
    and would a learner's inline script, had it got past the sanitiser, be refused?"""
    written, _ = pages
    html = written["mallory"]
    allowed = policy_of(html)["script-src"]
    page = Markup(html)
    for tag, attrs in page.tags:
        if tag == "script" and "src" in attrs:
            assert attrs["src"] == FEEDBACK_MATHJAX_URL  # the course's copy, beside the page
            assert "'self'" in allowed
    inline = [s for (t, a), s in zip([x for x in page.tags if x[0] == "script"],
                                     page.scripts, strict=True) if "src" not in a]
    assert inline and all(sha256_source(s) in allowed for s in inline)
    assert sha256_source(OWNED) not in allowed
    assert policy_of(html) == policy_of(f'<meta http-equiv="Content-Security-Policy" '
                                        f'content="{content_security_policy()}">')


def sha256_source(script: str) -> str:
    return "'sha256-" + b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


def test_the_pages_math_is_left_for_mathjax(pages):
    """Does the learner's harmless markdown reach the page with its math for MathJax?"""
    written, _ = pages
    assert "$a &lt; b$" in written["mallory"] or "$a < b$" in written["mallory"]


# -- feedback in a browser ---------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_in_a_browser_the_policy_runs_the_pages_config_and_blocks_injected_scripts(pages,
                                                                                  tmp_path):
    """Opened in Chromium with a learner's script and event handler put back into the page
    (as if the sanitiser had missed them), does the policy block both, while the page's own
    MathJax configuration runs?"""
    from playwright.sync_api import sync_playwright

    written, _ = pages
    before, end, after = written["mallory"].rpartition("</body>")
    injected = f"{before}<script>{OWNED}</script><img src=x onerror=\"{OWNED}\">{end}{after}"
    page_file = tmp_path / "page.html"
    page_file.write_text(injected, encoding="utf-8")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.route("http*://**", lambda route: route.abort())  # no network: MathJax stays out
        violations: list[str] = []
        page.on("console", lambda m: violations.append(m.text)
                if "Content Security Policy" in m.text else None)
        page.goto(page_file.as_uri())
        title = page.title()
        tex2jax = page.evaluate("() => window.MathJax && window.MathJax.tex.inlineMath")
        browser.close()
    assert title != "owned"
    assert tex2jax == [["$", "$"], ["\\(", "\\)"]]
    refused = sorted(v.split(" violates")[0] for v in violations if v.startswith("Executing"))
    assert refused == ["Executing inline event handler", "Executing inline script"], violations
