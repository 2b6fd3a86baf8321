"""Opening, running and saving a chapter in JupyterLab leaves its file unchanged (issue 29).

A chapter (``book/**/*.md`` with a jupytext front matter) opens in Lab as a notebook through
jupytext's contents manager; Lab's save goes back through ``jupytext.writes``. The sources are
kept in the exact form that save writes (``scripts/normalise_chapters.py``), so that a learner
who opens, runs and saves a chapter sees no change in ``git status`` and ``git pull`` never
conflicts. These tests check, for every chapter:

- that jupytext's read -> write, with the configuration the contents manager finds
  (``jupytext.toml`` at the repository root), gives the file's bytes back;
- that a save through the contents manager itself, of the notebook as Lab holds it after
  running every cell (kernelspec set from the running kernel, ``language_info``, outputs,
  execution counts, timing and trust metadata), gives the file's bytes back.

They also check the normaliser's own guards: it refuses to fold a caption whose line breaks
are Markdown structure, and its output is a fixed point where the sources' old form is not.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import jupytext
import jupytext.header
import pytest
from jupytext.config import find_jupytext_configuration_file

from scripts.normalise_chapters import (
    CHAPTER_METADATA_FILTER,
    FORMAT,
    NormaliseError,
    config_for,
    fold_line_breaks,
    is_notebook_source,
    normalised_text,
)
from scripts.readable_refs import book_pages
from tests.lab_contents import ContentsManager, course_config, saved_by_lab

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "jupytext.toml"
CHAPTERS = sorted(
    path.relative_to(ROOT).as_posix()
    for path in book_pages(ROOT)
    if is_notebook_source(path.read_text(encoding="utf-8"))
)
FIX = "run: .venv/bin/python scripts/normalise_chapters.py {chapter}"

# A chapter in the form the sources had before issue 29: kernelspec keys sorted, no
# format_version, a caption as a YAML block scalar, options given with ':' lines.
OLD_FORM = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

(toy)=
# A toy chapter

```{code-cell} ipython3
:tags: [remove-cell]
from myst_nb import glue
glue("toy_n", 3, display=False)
```

```{code-cell} ipython3
:mystnb:
:  image:
:    alt: >-
:      A straight line rising from the lower left to the upper right of the axes.
:  figure:
:    name: toy-line
:    caption: |
:      A line through {glue:text}`toy_n` points, drawn
:      with *Matplotlib*.
:tags: [hide-input]

print("a figure")
```
"""

# ---- every chapter -----------------------------------------------------------------------

def test_the_book_has_chapters_to_check():
    """Does the test find the chapters (so that the checks below are not vacuous)?"""
    assert len(CHAPTERS) >= 20, CHAPTERS


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_is_what_jupytext_writes(chapter):
    """Does jupytext's read -> write, with the course's configuration, give the file back?"""
    path = ROOT / chapter
    text = path.read_text(encoding="utf-8")
    config = config_for(path)
    notebook = jupytext.reads(text, fmt=FORMAT, config=config)
    assert jupytext.writes(notebook, fmt=FORMAT, config=config) == text, FIX.format(chapter=chapter)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_running_and_saving_a_chapter_in_lab_leaves_it_unchanged(chapter, tmp_path):
    """Does a save through jupytext's contents manager, after a run in Lab, write the same bytes?"""
    text = (ROOT / chapter).read_text(encoding="utf-8")
    saved = saved_by_lab(tmp_path, chapter, text, course_config())
    assert saved == text, FIX.format(chapter=chapter)


def test_labs_contents_manager_finds_the_course_configuration():
    """Does the contents manager of a Lab started at the repository root use jupytext.toml?"""
    manager = ContentsManager(root_dir=str(ROOT))
    assert manager.get_config_file("book/cells").strip("/") == CONFIG.name
    assert find_jupytext_configuration_file(str(ROOT / "book" / "cells")) == str(CONFIG)


# ---- the defences, each against the failure it prevents ------------------------------------

def test_a_chapter_in_the_old_form_is_rewritten_by_lab(tmp_path):
    """Is the check able to fail: does Lab rewrite a chapter not in jupytext's form?"""
    assert saved_by_lab(tmp_path, "book/part/toy.md", OLD_FORM, course_config()) != OLD_FORM


def test_a_normalised_chapter_survives_lab(tmp_path):
    """Does the normaliser turn the old form into one that Lab's save leaves unchanged?"""
    text = normalised_text(OLD_FORM, "toy", config_for(CONFIG))
    assert saved_by_lab(tmp_path, "book/part/toy.md", text, course_config()) == text


def test_normalising_keeps_what_the_chapter_says():
    """Are the cells' sources kept, and the caption only refolded (soft breaks to spaces)?"""
    old = jupytext.reads(OLD_FORM, fmt=FORMAT)
    new = jupytext.reads(normalised_text(OLD_FORM, "toy", config_for(CONFIG)), fmt=FORMAT)
    assert [c.source for c in new.cells] == [c.source for c in old.cells]
    assert new.cells[-1].metadata["mystnb"]["figure"]["caption"] == (
        "A line through {glue:text}`toy_n` points, drawn with *Matplotlib*.")


def test_a_newer_jupytext_does_not_rewrite_a_chapter(tmp_path, monkeypatch):
    """Does a learner with another jupytext version save the same bytes (the chapter's filter)?"""
    chapter = CHAPTERS[0]
    text = (ROOT / chapter).read_text(encoding="utf-8")
    monkeypatch.setattr(jupytext.header, "__version__", "9.9.9")
    assert saved_by_lab(tmp_path / "with", chapter, text, course_config()) == text
    without = text.replace(f"  notebook_metadata_filter: {CHAPTER_METADATA_FILTER}\n", "")
    assert "9.9.9" in saved_by_lab(tmp_path / "without", chapter, without, course_config())


@pytest.mark.parametrize("key", ["jupyter", "user_expressions"])
def test_without_the_course_configuration_lab_writes_its_cell_state(tmp_path, key):
    """Is it jupytext.toml that keeps folded cells and {eval} results out of the chapter?"""
    chapter = CHAPTERS[0]
    text = (ROOT / chapter).read_text(encoding="utf-8")
    assert key not in saved_by_lab(tmp_path / "with", chapter, text, course_config())
    assert key in saved_by_lab(tmp_path / "without", chapter, text, None)


@pytest.mark.parametrize("caption", [
    "First paragraph.\n\nSecond paragraph.",
    "Two items:\n- one\n- two",
    "A hard  \nbreak.",
    "A caption\n# that starts a heading",
])
def test_folding_refuses_line_breaks_that_are_markdown_structure(caption):
    """Does the normaliser refuse a caption whose line breaks change the rendered page?"""
    with pytest.raises(NormaliseError, match="by hand"):
        fold_line_breaks(caption, "toy")


def test_folding_turns_soft_line_breaks_into_spaces():
    """Is a caption that is one paragraph written on one line, indentation dropped?"""
    assert fold_line_breaks("A caption\n  on two lines.\n", "toy") == "A caption on two lines."


# ---- glued values, which no renderer in Lab fills ------------------------------------------
# jupyterlab-myst shows a ``{glue:text}`key`` role as its key. On the chapters below the key
# is the page's own code for the value (a name of its parameters cell, or an expression over
# such names) with no format spec, formatting done in the ``glue`` call, so the sentence reads
# in Lab ("measured over T_JAC steps") and the learner can print the value in the kernel; the
# built book shows the number as before. Glue keys are local to a page in MyST-NB 1.x.
LAB_READABLE_GLUE = tuple(
    c for c in CHAPTERS if "{glue:" in (ROOT / c).read_text(encoding="utf-8"))
GLUE_TEXT = re.compile(r"\{glue:text\}`([^`]*)`")


def names_defined(code_cells: list[str]) -> set[str]:
    """The names the page's code cells assign, import or define."""
    names: set[str] = set()
    for source in code_cells:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def unreadable_glue_roles(text: str) -> list[str]:
    """The ``{glue:text}`` roles of a chapter whose key does not read as the page's code."""
    notebook = jupytext.reads(text, fmt=FORMAT)
    code = [c.source for c in notebook.cells if c.cell_type == "code"]
    defined = names_defined(code)
    problems = []
    for key in GLUE_TEXT.findall(text):
        try:
            used = {n.id for n in ast.walk(ast.parse(key, mode="eval")) if isinstance(n, ast.Name)}
        except SyntaxError:
            problems.append(f"{key!r} is not a Python expression (a format spec? format in glue)")
            continue
        if not used or not used <= defined:
            problems.append(f"{key!r} uses names the page's code does not define")
        elif not any(f'glue("{key}"' in source for source in code):
            problems.append(f"{key!r} is not glued under that name")
    return problems


@pytest.mark.parametrize("chapter", LAB_READABLE_GLUE)
def test_glued_values_read_as_the_pages_code_in_lab(chapter):
    """Does every glued value of the chapter show, unrendered in Lab, as a name from its code?"""
    assert unreadable_glue_roles((ROOT / chapter).read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("role", ["{glue:text}`T_JAC:d`", "{glue:text}`gru_T_jac`"])
def test_a_glue_key_that_is_not_the_pages_code_is_reported(role):
    """Is a key with a format spec, or a label that no code defines, reported?"""
    page = OLD_FORM.replace("A line through {glue:text}`toy_n` points", f"Over {role} steps")
    page = page.replace('glue("toy_n", 3', 'T_JAC = 3\nglue("T_JAC", T_JAC').replace(
        'glue("toy_n"', 'glue("gru_T_jac"')
    assert len(unreadable_glue_roles(page)) == 1


def test_only_pages_with_a_jupytext_front_matter_are_chapters():
    """Is a plain page with a YAML block that mentions jupytext after its front matter skipped?"""
    plain = "---\ntitle: Notes\n---\n\n# Notes\n\n```yaml\n---\njupytext:\n```\n"
    assert not is_notebook_source(plain)
    assert is_notebook_source(OLD_FORM)
