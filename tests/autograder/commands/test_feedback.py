"""``feedback``'s own parts, without grading: the leak check, the report of a page nbgrader
could not write, the page's template and policy, the page offline (the course's MathJax, no
other host, long messages that wrap) and the sanitiser of learners' output.

The whole command on a graded hostile class is tests/autograder/catalogues/
test_hostile_feedback.py.
"""

from __future__ import annotations

import html
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from nbformat import v4

from autograder.commands import feedback as feedback_module
from autograder.commands.feedback import (
    FEEDBACK_MATHJAX,
    MATHJAX_CONFIG,
    MATHJAX_DIR,
    MATHJAX_SCRIPT,
    TEMPLATES,
    _failure_reason,
    content_security_policy,
    feedback_flags,
    hidden_lines,
    install_mathjax,
    leaked_line,
    page_text,
    script_hash,
)
from autograder.errors import AutograderError
from autograder.runner.sanitise import (
    clean_html,
    clean_markdown,
    clean_output,
    clean_svg,
)
from tests.builders import grade_cell, make_course, notebook

ROOT = Path(__file__).resolve().parents[3]

SECRET = "assert add(2, 2) == 4, 'add(2, 2) should be 4'"


# -- the leak check ----------------------------------------------------------------------------

def test_a_hidden_line_written_with_entities_is_found():
    """Is a hidden test's line found when the page escapes its quotes (as Pygments does) or
    spells its letters as character references?"""
    escaped = "<pre><span>" + html.escape(SECRET, quote=True) + "</span></pre>"
    assert "&#x27;" in escaped or "&#39;" in escaped
    assert leaked_line(escaped, [SECRET]) == SECRET
    spelled = "".join(f"&#{ord(ch)};" for ch in SECRET)
    assert leaked_line(f"<p>{spelled}</p>", [SECRET]) == SECRET


def test_a_hidden_line_split_by_highlighting_tags_is_found():
    split = ("<span class='k'>assert</span> <span>add</span>(2, 2) == 4, "
             "<span class='s1'>&#39;add(2, 2) should be 4&#39;</span>")
    assert leaked_line(split, [SECRET]) == SECRET


def test_the_words_hidden_tests_are_not_a_leak():
    """Is a page withheld because a learner's comment says HIDDEN TESTS?"""
    page = "<pre># HIDDEN TESTS: ### BEGIN HIDDEN TESTS is what my teacher writes</pre>"
    assert leaked_line(page, [SECRET]) is None


def test_page_text_includes_attribute_values():
    assert SECRET in page_text(f'<a title="{html.escape(SECRET)}">x</a>')


# A hidden line with the characters HTML escapes, in a region whose markers are mid-line.
MARKUP_SECRET = "assert 3 < add(2, 2) < 5 and add(2, 2) & 4 == 4, 'add(2, 2) > 3 & < 5'"
MARKED_MID_LINE = ("assert add(1, 2) == 3\n# -- BEGIN HIDDEN TESTS --\n"
                   f"{MARKUP_SECRET}\n# -- END HIDDEN TESTS --")


def test_a_hidden_line_holding_markup_characters_is_found_in_the_page():
    """A hidden line with ``<``, ``>`` and ``&`` shown in a page as nbconvert writes a code cell
    (escaped, split by highlighting): is it found?"""
    page = feedback_page([v4.new_code_cell(MARKUP_SECRET)])
    assert MARKUP_SECRET not in page and "&lt;" in page and "&amp;" in page
    assert leaked_line(page, [MARKUP_SECRET]) == MARKUP_SECRET


def test_the_lines_no_page_may_show_are_those_the_release_removes(tmp_path):
    """With the markers mid-line (``# -- BEGIN HIDDEN TESTS --``), which nbgrader's release
    hides, is the hidden line one the leak check looks for?"""
    course = make_course(tmp_path, {"add": notebook(grade_cell(MARKED_MID_LINE, "t", 1))})
    assert hidden_lines(course, "add") == [MARKUP_SECRET]


# -- a page nbgrader could not write -----------------------------------------------------------

LOG = """\
[GenerateFeedbackApp | INFO] Converting notebook /c/autograded/alice/add/add.ipynb
[GenerateFeedbackApp | ERROR] There was an error processing assignment: /c/autograded/bob/add
[GenerateFeedbackApp | ERROR] Traceback (most recent call last):
      File "/x/base.py", line 390, in convert_notebooks
        self.convert_single_notebook(notebook_filename)
    nbformat.reader.NotJSONError: Notebook does not appear to be JSON: '{ not a notebook'
[GenerateFeedbackApp | INFO] Converting notebook /c/autograded/carol/add/add.ipynb
"""


def test_the_reason_a_page_was_not_written_is_the_learners_own_error():
    assert _failure_reason(LOG, "bob", "add") == (
        "nbformat.reader.NotJSONError: Notebook does not appear to be JSON: "
        "'{ not a notebook'")
    assert _failure_reason(LOG, "carol", "add") == "nbgrader wrote no page (see its log)"


# -- the page's template and policy ------------------------------------------------------------

def test_the_feedback_template_is_nbgraders_with_our_head():
    flags = feedback_flags()
    assert "--HTMLExporter.template_name=rnn_feedback" in flags
    assert (TEMPLATES / "rnn_feedback" / "conf.json").is_file()
    assert (TEMPLATES / "feedback" / "mathjax.html.j2").is_file()  # our head, in nbgrader's page
    assert "--HTMLExporter.sanitize_html=True" in flags


def test_the_policy_allows_no_inline_script_plugin_or_base():
    directives = {d.split()[0]: d.split()[1:] for d in content_security_policy().split("; ")}
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["default-src"] == ["'none'"]
    script_src = directives["script-src"]
    assert not {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "data:"} & set(script_src)
    assert sum(s.startswith("'sha256-") for s in script_src) == 1


# -- the page offline: the course's MathJax, no other host, messages that wrap ------------------

LONG_MESSAGE = "AssertionError: expected " + "x" * 400 + " (one unbroken word)"


class _Head(HTMLParser):
    """A page's script addresses, its policy and its style sheets."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sources: list[str] = []
        self.policies: list[str] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "script" and "src" in found:
            self.sources.append(found["src"])
        if tag == "meta" and found.get("http-equiv", "").lower() == "content-security-policy":
            self.policies.append(found["content"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def head_of(page: str) -> _Head:
    parser = _Head()
    parser.feed(page)
    parser.close()
    return parser


def policy_directives(policy: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}


def feedback_page(cells: list) -> str:
    """A feedback page rendered as ``autograder feedback`` renders it: the course's nbgrader
    configuration, with the command's own settings (``feedback_flags``) and nbgrader's
    (GenerateFeedback: bootstrap's style sheet to inline)."""
    import nbgrader
    from nbconvert import HTMLExporter
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    flags = Config()
    flags.HTMLExporter.extra_template_paths = [str(
        Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "static"
        / "node_modules" / "bootstrap" / "dist" / "css")]
    for flag in feedback_flags():
        name, _, value = flag.removeprefix("--HTMLExporter.").partition("=")
        if name == "template_name":
            flags.HTMLExporter.template_name = value
        elif name == "sanitize_html":
            flags.HTMLExporter.sanitize_html = value == "True"
    config.merge(flags)
    exporter = HTMLExporter(config=config)
    resources = {"nbgrader": {"notebook": "add", "score": 1.0, "max_score": 2.0,
                              "late_penalty": 0.0}}
    page, _ = exporter.from_notebook_node(v4.new_notebook(cells=cells), resources=resources)
    return page


@pytest.fixture(scope="module")
def page() -> str:
    """A page with math in markdown and a test that failed with a long unbroken message."""
    error = v4.new_output("error", ename="AssertionError", evalue=LONG_MESSAGE,
                          traceback=[LONG_MESSAGE])
    stream = v4.new_output("stream", name="stdout", text=LONG_MESSAGE)
    return feedback_page([
        v4.new_markdown_cell("The cell: $h_t = \\tanh(x_t W_{xh} + h_{t-1} W_{hh} + b_h)$"),
        v4.new_code_cell("check()", outputs=[stream, error]),
    ])


def test_the_feedback_page_loads_no_script_from_another_host(page):
    """Is every script of the page addressed relative to it (no scheme, no host)?"""
    sources = head_of(page).sources
    assert sources
    for src in sources:
        parts = urlsplit(src)
        assert (parts.scheme, parts.netloc) == ("", ""), src
        assert not src.startswith("/"), src


def test_the_feedback_policy_names_no_other_host(page):
    """Does the page's policy allow only its own origin, inline data and hashed scripts,
    whatever the directive?"""
    policies = head_of(page).policies
    assert policies == [content_security_policy()]
    own = {"'self'", "'none'", "'unsafe-inline'", "data:"}
    for directive, sources in policy_directives(policies[0]).items():
        assert all(s in own or s.startswith("'sha256-") for s in sources), directive


def test_the_feedback_page_loads_the_courses_mathjax_copied_beside_it(page, tmp_path):
    """Placed where nbgrader writes it, does the page's MathJax address lead to the course's
    own MathJax, with its fonts, once ``install_mathjax`` has run?"""
    course = tmp_path / "course"
    page_file = course / "grading" / "feedback" / "alice" / "add" / "add.html"
    page_file.parent.mkdir(parents=True)
    page_file.write_text(page, encoding="utf-8")
    install_mathjax(course)
    [src] = head_of(page).sources
    script = (page_file.parent / src).resolve()
    assert script == (course / "grading" / "feedback" / FEEDBACK_MATHJAX / MATHJAX_SCRIPT)
    assert script.read_bytes() == (MATHJAX_DIR / MATHJAX_SCRIPT).read_bytes()
    assert list((script.parent / "output" / "chtml" / "fonts").rglob("*.woff"))


def test_the_course_mathjax_is_copied_again_when_its_version_changes(tmp_path):
    target = install_mathjax(tmp_path)
    (target / "VERSION").write_text("0.0.0\n", encoding="utf-8")
    (target / MATHJAX_SCRIPT).write_text("stale", encoding="utf-8")
    install_mathjax(tmp_path)
    assert (target / MATHJAX_SCRIPT).read_bytes() == (MATHJAX_DIR / MATHJAX_SCRIPT).read_bytes()


def test_a_folder_there_that_is_not_mathjax_is_refused_not_replaced(tmp_path):
    """Is a folder at grading/feedback/_mathjax that is no MathJax copy (no VERSION) kept as it
    is, with an error saying what to do, rather than deleted to make room?"""
    theirs = tmp_path / "grading" / "feedback" / FEEDBACK_MATHJAX / "add" / "add.html"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("a page", encoding="utf-8")
    with pytest.raises(AutograderError, match="not a copy of MathJax"):
        install_mathjax(tmp_path)
    assert theirs.read_text(encoding="utf-8") == "a page"


def test_a_missing_course_mathjax_is_an_error_that_says_how_to_restore_it(tmp_path,
                                                                           monkeypatch):
    monkeypatch.setattr(feedback_module, "MATHJAX_DIR", tmp_path / "nowhere")
    with pytest.raises(AutograderError, match="fetch_mathjax.sh"):
        install_mathjax(tmp_path / "course")


def test_the_pages_math_is_left_for_mathjax_with_its_configuration_allowed(page):
    """Is the learner's math in the page as TeX, and MathJax's configuration the one inline
    script the policy allows (by its hash)?"""
    assert "$h_t = \\tanh(x_t W_{xh} + h_{t-1} W_{hh} + b_h)$" in page
    assert f"<script>{MATHJAX_CONFIG}</script>" in page
    script_src = policy_directives(content_security_policy())["script-src"]
    assert [s for s in script_src if s.startswith("'sha256-")] == [script_hash(MATHJAX_CONFIG)]


def css_rules(styles: list[str]) -> list[tuple[set[str], dict[str, str]]]:
    """Each rule of the style sheets: its selectors and its declarations."""
    rules = []
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", "\n".join(styles)):
        declarations = dict(
            (k.strip(), v.strip()) for k, _, v in
            (d.partition(":") for d in body.split(";") if ":" in d))
        rules.append(({" ".join(s.split()) for s in selectors.split(",")}, declarations))
    return rules


@pytest.mark.parametrize("block", ["div.output_subarea pre", "div.output_error pre",
                                   "div.output_text pre"])
def test_long_unbroken_messages_wrap_inside_the_page(page, block):
    """Does a rule of the page let an output's text break anywhere and wrap, so that a long
    test message stays inside the page?"""
    assert LONG_MESSAGE in html.unescape(page)
    wrapping = [d for selectors, d in css_rules(head_of(page).styles) if block in selectors]
    assert any(d.get("overflow-wrap") == "anywhere" and d.get("white-space") == "pre-wrap"
               for d in wrapping), wrapping


CHROMIUM = os.environ.get("RNN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
HOSTILE_MATH = ("$\\href{javascript:alert(1)}{x}$ $\\style{position:fixed;top:0}{y}$ "
                "$\\cssId{owned}{z}$ $\\class{btn}{w}$")


@pytest.mark.slow
def test_in_chromium_offline_math_is_typeset_and_messages_stay_inside_the_page(tmp_path):
    """Opened from disk in Chromium with every request off the disk refused, is the math
    typeset by the course's MathJax, under the page's policy, does a learner's \\href,
    \\style, \\cssId or \\class make no link, style, id or class, and does a long message
    wrap instead of widening the page?"""
    from playwright.sync_api import sync_playwright

    error = v4.new_output("error", ename="AssertionError", evalue=LONG_MESSAGE,
                          traceback=[LONG_MESSAGE])
    stream = v4.new_output("stream", name="stdout", text=LONG_MESSAGE)
    result = v4.new_output("execute_result", data={"text/plain": repr(LONG_MESSAGE)})
    markup = feedback_page([
        v4.new_markdown_cell("The cell: $h_t = \\tanh(x_t W_{xh} + h_{t-1} W_{hh} + b_h)$"),
        v4.new_markdown_cell(HOSTILE_MATH),
        v4.new_code_cell("check()", outputs=[stream, error, result]),
    ])
    course = tmp_path / "course"
    page_file = course / "grading" / "feedback" / "alice" / "add" / "add.html"
    page_file.parent.mkdir(parents=True)
    page_file.write_text(markup, encoding="utf-8")
    install_mathjax(course)
    off_disk: list[str] = []
    console: list[str] = []

    def only_the_disk(route):
        if route.request.url.startswith("file:"):
            return route.continue_()
        off_disk.append(route.request.url)
        return route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 800, "height": 600})
        page.route("**/*", only_the_disk)
        page.on("console", lambda m: console.append(m.text))
        page.goto(page_file.as_uri())
        page.wait_for_function("() => window.MathJax && window.MathJax.startup"
                               " && window.MathJax.startup.promise", timeout=30_000)
        page.evaluate("() => window.MathJax.startup.promise")
        found = page.evaluate("""() => ({
            typeset: document.querySelectorAll('mjx-container').length,
            tex_left: document.body.innerText.includes('\\\\tanh'),
            links: document.querySelectorAll('mjx-container a, a[href^="javascript"]').length,
            styled: [...document.querySelectorAll('mjx-container [style*="fixed"]')].length,
            owned: document.querySelectorAll('#owned, mjx-container .btn').length,
            page_width: document.documentElement.scrollWidth,
            window_width: document.documentElement.clientWidth,
            cut: [...document.querySelectorAll('div.output_subarea pre')]
                .filter(pre => pre.scrollWidth > pre.clientWidth).length,
            outputs: document.querySelectorAll('div.output_subarea pre').length,
        })""")
        browser.close()
    assert off_disk == []
    assert [m for m in console if "Content Security Policy" in m] == []
    assert found["typeset"] >= 5 and not found["tex_left"], found
    assert (found["links"], found["styled"], found["owned"]) == (0, 0, 0), found
    assert found["page_width"] <= found["window_width"], found
    assert (found["outputs"], found["cut"]) == (3, 0), found  # each message wraps in its box


# -- the sanitiser -----------------------------------------------------------------------------

@pytest.mark.parametrize("markup", [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<iframe src='https://example.org'></iframe>",
    "<a href='javascript:alert(1)'>x</a>",
    "<a href='JaVaScRiPt:alert(1)'>x</a>",
    "<a href='data:text/html;base64,PHNjcmlwdD4='>x</a>",
    "<svg><script>alert(1)</script></svg>",
    "<object data='x.swf'></object><embed src='x'>",
    "<base href='https://evil.example/'>",
    "<form action='https://evil.example'><input name=x></form>",
    "<details open ontoggle=alert(1)>x</details>",
    "<style>body{display:none}</style>",
    "<div id='MathJax' name='x' style='position:fixed'>clobber</div>",
])
def test_html_output_keeps_no_active_markup(markup):
    from tests.autograder.catalogues.test_hostile_feedback import Markup

    assert Markup(clean_html(markup)).active() == []
    assert "<style" not in clean_html(markup) and "id=" not in clean_html(markup)


def test_html_output_keeps_formatting_tables_and_inline_images():
    table = ("<table><tbody><tr><th>a</th></tr><tr><td><b>1</b></td></tr></tbody></table>"
             '<img src="data:image/png;base64,AAAA" width="3">')
    assert clean_html(table) == table


def test_svg_keeps_its_drawing_and_loses_its_scripts():
    svg = ('<svg viewBox="0 0 2 2"><script>alert(1)</script><circle r="1" onload="alert(2)"/>'
           '<use href="#c"/><use href="https://evil.example/x.svg#a"/></svg>')
    cleaned = clean_svg(svg)
    assert "<script" not in cleaned and "onload" not in cleaned and "evil" not in cleaned
    assert '<circle r="1">' in cleaned and 'href="#c"' in cleaned


def test_markdown_without_html_is_kept_as_written():
    """Is the course's own markdown (math with < and &, code, quotes) left untouched?"""
    source = "$$\\begin{aligned} a &= b < c \\end{aligned}$$ and `x -> y`\n\n> quote & more"
    assert clean_markdown(source) == source


@pytest.mark.parametrize("source", [
    "notes <img src=x onerror=alert(1)>",
    "[x](javascript:alert(1))",
    "<script>alert(1)</script>\n\n<b>after a blank line</b> [y](javascript:alert(2))",
])
def test_markdown_with_active_markup_renders_inert(source):
    from nbconvert.filters import markdown2html

    from tests.autograder.catalogues.test_hostile_feedback import Markup

    assert Markup(markdown2html(clean_markdown(source))).active() == []


def test_outputs_keep_only_the_allowed_types():
    output = v4.new_output("display_data", data={
        "application/javascript": "alert(1)", "text/plain": "x", "image/png": "AAAA",
        "application/vnd.jupyter.widget-view+json": {"model_id": "m"}, "text/latex": "$x$",
    }, metadata={"image/png": {"width": "1 onerror=alert(1)", "height": 2}, "isolated": True})
    cleaned, removed = clean_output(output)
    assert set(cleaned.data) == {"text/plain", "image/png"}
    assert cleaned.metadata == {"image/png": {"height": 2}}
    assert "application/javascript" in removed


def test_errors_and_streams_are_kept_for_grading():
    error = v4.new_output("error", ename="AssertionError", evalue="<b>x</b>", traceback=["t"])
    stream = v4.new_output("stream", name="stdout", text="<script>")
    assert clean_output(error) == (error, []) and clean_output(stream) == (stream, [])
