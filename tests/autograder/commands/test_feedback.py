"""``feedback``'s own parts, without grading: the leak check, the report of a page nbgrader
could not write, the page's template and policy, and the sanitiser of learners' output.

The whole command on a graded hostile class is tests/autograder/catalogues/
test_hostile_feedback.py.
"""

from __future__ import annotations

import html

import pytest
from nbformat import v4

from autograder.commands.feedback import (
    TEMPLATES,
    _failure_reason,
    feedback_flags,
    leaked_line,
    page_text,
)
from autograder.runner.sanitise import (
    clean_html,
    clean_markdown,
    clean_output,
    clean_svg,
    content_security_policy,
)

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
    assert (TEMPLATES / "rnn_feedback" / "mathjax.html.j2").is_file()
    assert "--HTMLExporter.sanitize_html=True" in flags


def test_the_policy_allows_no_inline_script_plugin_or_base():
    directives = {d.split()[0]: d.split()[1:] for d in content_security_policy().split("; ")}
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["default-src"] == ["'none'"]
    script_src = directives["script-src"]
    assert not {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "data:"} & set(script_src)
    assert sum(s.startswith("'sha256-") for s in script_src) == 1


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
