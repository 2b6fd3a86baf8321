"""Opening, running and saving a plain Markdown page in JupyterLab leaves it unchanged (issue 29).

``python -m rnncourse.lab setup`` makes Lab open every Markdown file as a notebook, through
jupytext's contents manager. Besides the chapters (MyST notebooks with a jupytext front matter,
``tests/test_chapters_roundtrip.py``) the repository holds plain pages: ``README.md``,
``CONTRIBUTING.md``, ``book/intro.md``, the guides, and any other ``*.md`` without that front
matter. jupytext reads such a page with the notebook metadata filter ``"-all"`` (its
``update_metadata_filters``), so that saving it writes no front matter; but a
``notebook_metadata_filter`` in ``jupytext.toml`` overrides the file's own filter on every save
(``TextNotebookConverter.update_fmt_with_notebook_options``), and Lab then adds a jupytext
front matter (with the kernelspec of the kernel it started) to every plain page a learner opens.

So ``jupytext.toml`` sets no notebook metadata filter, and each chapter carries its own in its
front matter (``scripts/normalise_chapters.py``). These tests check:

- every plain page of the repository (``git ls-files '*.md'`` minus the chapters), opened in
  Lab, its kernel started and its cells run, then saved, comes back byte for byte;
- a learner's edit to a plain page is saved as the edit alone, without a front matter;
- every chapter, in the form the normaliser writes (with its own notebook metadata filter),
  comes back byte for byte;
- and, against the failures they prevent: a global notebook metadata filter makes Lab write a
  front matter into a plain page; a chapter without its own filter is rewritten by a learner
  whose jupytext version differs from the course's pin.
"""

from __future__ import annotations

import subprocess

import jupytext
import jupytext.header
import pytest
from jupytext.config import load_jupytext_config

from scripts.normalise_chapters import (
    CHAPTER_METADATA_FILTER,
    FORMAT,
    config_for,
    is_notebook_source,
    normalised_text,
)
from tests.lab_contents import (
    ROOT,
    course_config,
    lab_copy,
    run_as_lab_does,
    saved_by_lab,
)

# The notebook metadata filter jupytext.toml held before this fix: it made Lab add a front
# matter to every plain page.
GLOBAL_FILTER = 'notebook_metadata_filter = "-jupytext.text_representation.jupytext_version"\n'


def tracked_markdown() -> list[str]:
    """The repository's Markdown files, as git tracks them (what a clone holds)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", "*.md"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        raise RuntimeError(f"git ls-files failed in {ROOT} ({listed.stderr.strip()}): run the "
                           f"tests in a git clone of the course, with git installed.")
    return sorted(name for name in listed.stdout.split("\0") if name)


def is_plain_page(name: str) -> bool:
    """Whether the tracked file ``name`` is a plain Markdown page (not a chapter)."""
    return not is_notebook_source((ROOT / name).read_text(encoding="utf-8"))


PLAIN_PAGES = [name for name in tracked_markdown() if is_plain_page(name)]
CHAPTERS = [name for name in tracked_markdown() if name.startswith("book/")
            and not is_plain_page(name)]


def without_own_filter(chapter_text: str) -> str:
    """A chapter's text without the notebook metadata filter of its front matter."""
    return chapter_text.replace(f"  notebook_metadata_filter: {CHAPTER_METADATA_FILTER}\n", "")


# ---- every plain page ----------------------------------------------------------------------

def test_the_repository_has_plain_pages_to_check():
    """Does the test find the plain pages a learner's Lab shows (so the checks are not vacuous)?"""
    assert {"README.md", "CONTRIBUTING.md", "book/intro.md", "book/notation.md",
            "book/references.md", "book/guides/learners.md"} <= set(PLAIN_PAGES), PLAIN_PAGES


@pytest.mark.parametrize("page", PLAIN_PAGES)
def test_running_and_saving_a_plain_page_in_lab_leaves_it_unchanged(page, tmp_path):
    """Does a plain page come back byte for byte after Lab opens, runs and saves it?"""
    text = (ROOT / page).read_text(encoding="utf-8")
    assert saved_by_lab(tmp_path, page, text, course_config()) == text, (
        f"Lab rewrote {page}: does jupytext.toml set a notebook_metadata_filter? Keep that "
        f"filter in the chapters' front matter (scripts/normalise_chapters.py).")


def test_a_learners_edit_to_a_plain_page_is_saved_without_a_front_matter(tmp_path):
    """Is an edit saved as the edit alone, with no jupytext front matter added?"""
    text = "(notes)=\n# Notes\n\nA first paragraph.\n\n```python\nprint(1)\n```\n"
    manager = lab_copy(tmp_path, "book/notes.md", text, course_config())
    model = manager.get("book/notes.md", content=True, type="notebook")
    run_as_lab_does(model["content"])
    model["content"]["cells"][0]["source"] += "\n\nA learner's note."
    manager.save(model, "book/notes.md")
    saved = (tmp_path / "book/notes.md").read_text(encoding="utf-8")
    edited = text.replace("A first paragraph.\n", "A first paragraph.\n\nA learner's note.\n")
    assert saved == edited


def test_a_plain_page_with_its_own_yaml_front_matter_survives_lab(tmp_path):
    """Is a front matter that is not jupytext's (a title) kept as it is, and nothing added?"""
    text = "---\ntitle: Notes\n---\n\n# Notes\n\nSome text.\n"
    assert saved_by_lab(tmp_path, "book/notes.md", text, course_config()) == text


# ---- every chapter, as the normaliser writes it ---------------------------------------------

@pytest.mark.parametrize("chapter", CHAPTERS)
def test_a_normalised_chapter_survives_lab(chapter, tmp_path):
    """Does each chapter, as the normaliser writes it now, come back byte for byte from Lab?"""
    text = normalised_text((ROOT / chapter).read_text(encoding="utf-8"), chapter,
                           config_for(ROOT / chapter))
    assert saved_by_lab(tmp_path, chapter, text, course_config()) == text


def test_the_normaliser_gives_a_chapter_its_own_metadata_filter():
    """Does the normalised front matter hold the filter that jupytext.toml no longer does?"""
    chapter = CHAPTERS[0]
    text = normalised_text(without_own_filter((ROOT / chapter).read_text(encoding="utf-8")),
                           chapter, config_for(ROOT / chapter))
    front_matter = text.split("\n---\n", 1)[0]
    assert f"  notebook_metadata_filter: {CHAPTER_METADATA_FILTER}\n" in front_matter
    assert "jupytext_version" not in front_matter.replace(CHAPTER_METADATA_FILTER, "")


# ---- the defences, each against the failure it prevents ------------------------------------

def test_the_course_configuration_sets_no_notebook_metadata_filter():
    """Does jupytext.toml leave each file its own notebook metadata filter?"""
    assert load_jupytext_config(str(ROOT)).notebook_metadata_filter == "", (
        "jupytext.toml sets notebook_metadata_filter, which overrides a plain page's '-all' "
        "and makes Lab add a front matter to it: keep the filter in the chapters' front matter.")


@pytest.mark.parametrize("page", ["README.md", "book/intro.md"])
def test_a_global_notebook_metadata_filter_makes_lab_write_a_front_matter(page, tmp_path):
    """Is the check able to fail: does the old jupytext.toml make Lab add a header to a page?"""
    text = (ROOT / page).read_text(encoding="utf-8")
    saved = saved_by_lab(tmp_path, page, text, GLOBAL_FILTER)
    assert saved.startswith("---\njupyter:\n  jupytext:\n") and saved.endswith(text)


def test_a_chapter_without_its_own_filter_is_rewritten_by_another_jupytext(
        tmp_path, monkeypatch):
    """Without the front matter's filter, does a learner's newer jupytext rewrite a chapter?"""
    chapter = CHAPTERS[0]
    text = normalised_text((ROOT / chapter).read_text(encoding="utf-8"), chapter,
                           config_for(ROOT / chapter))
    without = without_own_filter(text)
    assert without != text
    monkeypatch.setattr(jupytext.header, "__version__", "9.9.9")
    assert saved_by_lab(tmp_path / "with", chapter, text, course_config()) == text
    rewritten = saved_by_lab(tmp_path / "without", chapter, without, course_config())
    assert "jupytext_version: 9.9.9" in rewritten


def test_a_normalised_chapter_reads_as_the_same_notebook():
    """Does the added filter leave the chapter's cells as they were?"""
    chapter = CHAPTERS[0]
    old = (ROOT / chapter).read_text(encoding="utf-8")
    new = normalised_text(old, chapter, config_for(ROOT / chapter))
    assert ([(c.cell_type, c.source) for c in jupytext.reads(new, fmt=FORMAT).cells]
            == [(c.cell_type, c.source) for c in jupytext.reads(old, fmt=FORMAT).cells])

