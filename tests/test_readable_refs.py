"""Cross-page references that read in JupyterLab and render as before in the book (issue 29).

``scripts/readable_refs.py`` gives each bare cross-page ``{ref}`` the title of its section,
and each bare ``{doc}`` the title of its page, as explicit text: jupyterlab-myst, which
resolves no reference to another page, then shows the title instead of the label, and Sphinx
renders the same HTML as for the bare role. These tests run it on small sample books.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.readable_refs import (
    ROOT,
    book_pages,
    collect_targets,
    main,
    markdown_lines,
    masked,
    readable_text,
)

TARGET_PAGE = """\
(cells_gru)=
# The gated recurrent unit (GRU)

(cells_gru-math)=
## The *update* gate

Text.
"""


def sample_book(root: Path, page: str) -> Path:
    """A book under ``root`` with the target page ``book/cells/gru.md`` and ``page`` as
    ``book/training/page.md``; returns the latter's path."""
    (root / "book/cells").mkdir(parents=True)
    (root / "book/training").mkdir(parents=True)
    (root / "book/cells/gru.md").write_text(TARGET_PAGE, encoding="utf-8")
    path = root / "book/training/page.md"
    path.write_text(page, encoding="utf-8")
    return path


def rewritten(root: Path, page: str):
    """The text and report of ``page`` (in a sample book under ``root``) after the rewrite."""
    path = sample_book(root, page)
    targets = collect_targets(root, book_pages(root))
    return readable_text(page, path.relative_to(root).as_posix(), root, targets)


@pytest.mark.parametrize("path", book_pages(ROOT), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_cross_page_ref_and_doc_of_the_book_has_its_title(path):
    """Does every page of the book already read in Lab: no bare cross-page ``{ref}`` or
    ``{doc}`` left, nothing the script would leave for its markup?
    (Fix: ``.venv/bin/python scripts/readable_refs.py``.)"""
    text = path.read_text(encoding="utf-8")
    page = path.relative_to(ROOT).as_posix()
    new, report = readable_text(text, page, ROOT, collect_targets(ROOT, book_pages(ROOT)))
    assert (dict(report.rewritten), report.left) == ({}, [])
    assert new == text


def test_labs_checkpoint_copies_and_build_output_are_not_pages(tmp_path):
    """Are the copies Lab keeps in ``.ipynb_checkpoints`` (where it ran inside the course)
    and the build output left out of the book's pages, which every chapter test walks?"""
    page = sample_book(tmp_path, "# Page\n")
    for folder in ("book/training/.ipynb_checkpoints", "book/_build/jupyter_execute"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "page-checkpoint.md").write_text("# Page\n", encoding="utf-8")
    assert book_pages(tmp_path) == [tmp_path / "book/cells/gru.md", page]


def test_a_bare_cross_page_ref_gets_the_title_of_its_section(tmp_path):
    """Is ``{ref}`cells_gru``` written with the heading below ``(cells_gru)=`` as its text?"""
    text, report = rewritten(tmp_path, "# Page\n\nSee {ref}`cells_gru`, then go on.\n")
    assert text == ("# Page\n\nSee {ref}`The gated recurrent unit (GRU) <cells_gru>`, "
                    "then go on.\n")
    assert report.rewritten["ref"] == 1


def test_a_bare_doc_gets_the_title_of_its_page(tmp_path):
    """Is ``{doc}`` given the page's first heading, relative and absolute paths alike?"""
    text, _ = rewritten(tmp_path, "# Page\n\n{doc}`../cells/gru` and {doc}`/book/cells/gru`.\n")
    assert text.count("{doc}`The gated recurrent unit (GRU) <") == 2


def test_a_doc_to_a_notebook_gets_the_notebooks_first_heading(tmp_path):
    """Is a ``{doc}`` to an assignment notebook given the notebook's title?"""
    (tmp_path / "exercises/toy").mkdir(parents=True)
    notebook = {"cells": [{"cell_type": "code", "source": "# not a heading"},
                          {"cell_type": "markdown", "source": ["# Toy assignment\n", "Text"]}]}
    (tmp_path / "exercises/toy/toy.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    text, _ = rewritten(tmp_path, "# Page\n\nDo {doc}`/exercises/toy/toy`.\n")
    assert "{doc}`Toy assignment </exercises/toy/toy>`" in text


def test_a_same_page_ref_and_an_explicit_ref_are_left_as_they_are(tmp_path):
    """Are references Lab already reads (same page, explicit text) unchanged?"""
    page = ("(here)=\n# Page\n\nSee {ref}`here`, {ref}`the GRU <cells_gru>` and "
            "{numref}`fig` and {cite}`cho2014`.\n")
    text, report = rewritten(tmp_path, page)
    assert text == page and sum(report.rewritten.values()) == 0
    assert report.counted == {"ref": 2, "numref": 1, "cite": 1}


def test_a_same_page_ref_to_an_exercise_is_neither_rewritten_nor_reported(tmp_path):
    """Is a reference to a label of a directive on the same page (Lab resolves it) quiet?"""
    page = "# Page\n\nDo {ref}`ex1`.\n\n```{exercise}\n:label: ex1\n\nText.\n```\n"
    text, report = rewritten(tmp_path, page)
    assert text == page and report.left == []


def test_a_numref_outside_parentheses_is_listed_and_one_inside_is_not(tmp_path):
    """Is a ``{numref}`` that Lab would show as a bare label in the sentence ("fig shows")
    listed for rewording, and one in parentheses (also opened on the line before, in the
    same paragraph) left quiet?"""
    page = ("# Page\n\n{numref}`fig-a` shows the curve.\n\n"
            "The curve below ({numref}`fig-b`) and the table (see\n{numref}`fig-c`).\n\n"
            "An aside (closed) before {numref}`fig-d`.\n\n(\n\n{numref}`fig-e` too.\n")
    text, report = rewritten(tmp_path, page)
    assert text == page
    assert [line.split(":")[0] for line in report.left] == ["line 3", "line 8", "line 12"]
    assert all("outside parentheses" in line for line in report.left)
    assert "fig-a" in report.left[0] and "fig-d" in report.left[1]


def test_roles_in_code_are_left_as_they_are(tmp_path):
    """Are roles in code cells, fenced code and inline code untouched, and those inside a
    directive that holds Markdown rewritten?"""
    page = (
        "# Page\n\n"
        "```{code-cell} ipython3\nprint('{ref}`cells_gru`')\n```\n\n"
        "```markdown\n{ref}`cells_gru`\n```\n\n"
        "Write ``{ref}`cells_gru` `` for a reference.\n\n"
        "```{note}\nSee {ref}`cells_gru`.\n```\n\n"
        ":::{dropdown} Solution\nAs in {ref}`cells_gru`.\n:::\n")
    text, report = rewritten(tmp_path, page)
    assert report.rewritten["ref"] == 2
    assert text.count("{ref}`cells_gru`") == 3


def test_a_title_with_markup_is_left_and_reported(tmp_path):
    """Is a section whose title has markup (Sphinx would drop it) left, with the reason?"""
    text, report = rewritten(tmp_path, "# Page\n\nSee {ref}`cells_gru-math`.\n")
    assert "{ref}`cells_gru-math`" in text
    assert report.left == ["line 3: {ref}`cells_gru-math`: its title has markup "
                           "('The *update* gate')"]


def test_a_citation_of_several_keys_becomes_one_role_per_key(tmp_path):
    """Does ``{cite}`a,b``` (which Lab shows as "ab") become ``{cite}`a`, {cite}`b```, for
    each citation role, leaving one-key citations and code alone?"""
    page = ("BPTT {cite}`rumelhart1986,werbos1990` and {cite:t}`a1, b2` but {cite}`c3`.\n\n"
            "`{cite}`x,y`` in code\n")
    text, report = rewritten(tmp_path, page)
    assert text == ("BPTT {cite}`rumelhart1986`, {cite}`werbos1990` and {cite:t}`a1`, "
                    "{cite:t}`b2` but {cite}`c3`.\n\n`{cite}`x,y`` in code\n")
    assert report.rewritten == {"cite": 1, "cite:t": 1}


def test_rewriting_twice_changes_nothing(tmp_path):
    """Is the rewrite a fixed point (the lead can run it again after later edits)?"""
    text, _ = rewritten(tmp_path, "# Page\n\nSee {ref}`cells_gru`.\n")
    targets = collect_targets(tmp_path, book_pages(tmp_path))
    again, report = readable_text(text, "book/training/page.md", tmp_path, targets)
    assert again == text and sum(report.rewritten.values()) == 0


def test_front_matter_and_directive_options_are_not_markdown():
    """Are a front matter and a directive's option lines skipped, the text kept?"""
    text = "---\ntitle: x\n---\n# T\n```{figure} a.png\n:name: fig\nCaption {ref}`a`.\n```\n"
    kept = [line for _, line in markdown_lines(text)]
    assert kept == ["# T", "Caption {ref}`a`.", ""]


def test_inline_code_is_masked_and_roles_are_kept():
    """Does the masking pair backtick runs as CommonMark does, keeping roles whole?"""
    line = "a {ref}`x` b ``{ref}`y` `` c `z` d {cite}`k`"
    visible = masked(line)
    assert len(visible) == len(line)
    assert re.findall(r"\{\w+\}`[^`]*`", visible) == ["{ref}`x`", "{cite}`k`"]


def test_a_dry_run_changes_no_file(tmp_path, capsys):
    """Does ``--dry-run`` print the counts and leave every page as it was?"""
    path = sample_book(tmp_path, "# Page\n\nSee {ref}`cells_gru`.\n")
    before = path.read_text(encoding="utf-8")
    assert main(["--dry-run", "--root", str(tmp_path)]) == 0
    assert path.read_text(encoding="utf-8") == before
    assert "book/training/page.md: 1 {ref} to rewrite" in capsys.readouterr().out


def sphinx_html(source: Path, out: Path) -> str:
    """The HTML body of ``training/page`` built by Sphinx (myst-parser, -W) from ``source``."""
    (source / "conf.py").write_text('extensions = ["myst_parser"]\n'
                                    'myst_enable_extensions = ["colon_fence"]\n')
    (source / "index.md").write_text(
        "# Index\n\n```{toctree}\ncells/gru\ntraining/page\n```\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "sphinx", "-q", "-W", "-b", "html", str(source),
                    str(out)], check=True, capture_output=True)
    html = (out / "training/page.html").read_text(encoding="utf-8")
    return html[html.index('<div class="body"') if '<div class="body"' in html else 0:]


@pytest.mark.slow
def test_sphinx_renders_the_rewritten_page_exactly_as_before(tmp_path):
    """Does the built page have the same HTML with the explicit texts as with bare roles?"""
    page = "# Page\n\nSee {ref}`cells_gru` and {doc}`../cells/gru`.\n"
    path = sample_book(tmp_path / "before", page)
    before = sphinx_html(tmp_path / "before/book", tmp_path / "out-before")
    text, report = rewritten(tmp_path / "after", page)
    assert report.rewritten == {"ref": 1, "doc": 1}
    (tmp_path / "after/book/training/page.md").write_text(text, encoding="utf-8")
    after = sphinx_html(tmp_path / "after/book", tmp_path / "out-after")
    assert "The gated recurrent unit (GRU)</span></a>" in before
    assert after == before, path
