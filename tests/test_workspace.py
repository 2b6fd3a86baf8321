"""``rnncourse.workspace``: the learner's own copies of the assignments and chapters, which a
course update reaches without losing an answer, and which no tool writes through a link.

Each test builds a tiny course (one assignment in ``exercises/``, one chapter in ``book/``)
in a temporary folder, makes the workspace, changes the course and the learner's copy as a
``git pull`` and a learner would, and runs ``update``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import nbformat
import pytest

from rnncourse import workspace as ws
from tests.builders import grade_cell, markdown_cell, notebook, solution_cell

NB = "exercises/add/add.ipynb"
CHAPTER = "book/part/page.md"

CHAPTER_MD = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A page

The first paragraph.

```{code-cell} ipython3
x = 1
```

The second paragraph.

```{code-cell} ipython3
y = x + 1
```
"""


JUPYTEXT_TOML = 'notebook_metadata_filter = "-jupytext.text_representation.jupytext_version"\n'


def assignment(test_source: str = "assert add(1, 2) == 3", intro: str = "# Adding"
               ) -> nbformat.NotebookNode:
    return notebook(markdown_cell(intro, "intro"),
                    solution_cell("def add(a, b):\n    raise NotImplementedError()", "add"),
                    grade_cell(test_source, "test_add", 1))


def write_course(root: Path, nb: nbformat.NotebookNode | None = None,
                 chapter: str = CHAPTER_MD) -> None:
    (root / "exercises/add").mkdir(parents=True, exist_ok=True)
    (root / "book/part").mkdir(parents=True, exist_ok=True)
    nbformat.write(nb or assignment(), root / NB)
    (root / "book/part/page.md").write_text(chapter)
    (root / "jupytext.toml").write_text(JUPYTEXT_TOML)


@pytest.fixture
def course(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    write_course(root)
    ws.create(root)
    return root


def read(root: Path, rel: str) -> dict:
    text = (root / "work" / rel).read_text()
    return ws.chapter_notebook(text) if rel.endswith(".md") else json.loads(text)


def write(root: Path, rel: str, nb: dict) -> None:
    if rel.endswith(".md"):
        (root / "work" / rel).write_bytes(ws.chapter_text(nb))
    else:
        (root / "work" / rel).write_text(json.dumps(nb, indent=1))


def cell(nb: dict, grade_id: str) -> dict:
    return next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id")
                == grade_id)


def answer(root: Path, source: str = "def add(a, b):\n    return a + b") -> None:
    nb = read(root, NB)
    cell(nb, "add")["source"] = source
    write(root, NB, nb)


def sources(nb: dict) -> list[str]:
    return ["".join(c["source"]) for c in nb["cells"]]


# --------------------------------------------------------------------------------------------
# create
# --------------------------------------------------------------------------------------------

def test_create_copies_the_assignments_and_the_chapters_in_the_courses_layout(course):
    """Does `create` give the learner the assignment and each chapter (so that the
    assignment's links ../../book/<part>/<page>.md work), with the base each came from?"""
    for rel in (NB, CHAPTER):
        assert (course / "work" / rel).read_bytes() == (course / rel).read_bytes()
        assert (course / "work/.base" / rel).read_bytes() == (course / rel).read_bytes()


def test_labs_checkpoints_of_the_course_are_not_course_files(course):
    """A chapter's checkpoint that Lab left in the course's own book/ (where someone ran Lab
    in the repository): is it kept out of the learner's files?"""
    checkpoints = course / "book/part/.ipynb_checkpoints"
    checkpoints.mkdir()
    (checkpoints / "page-checkpoint.md").write_text(CHAPTER_MD)
    assert CHAPTER in ws.course_files(course)
    assert not [rel for rel in ws.course_files(course) if ".ipynb_checkpoints" in rel]


def test_create_never_overwrites_a_learner_file(course):
    """Run again after the learner answered: is the answer still there?"""
    answer(course)
    lines = ws.create(course)
    assert "return a + b" in "".join(cell(read(course, NB), "add")["source"])
    assert "already holds every file" in lines[0]


def test_the_workspace_is_ignored_by_git():
    """Does git ignore work/, so that `git pull` never conflicts with it?"""
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(["git", "check-ignore", "-q", "work/exercises/x.ipynb"], cwd=root)
    assert out.returncode == 0


# --------------------------------------------------------------------------------------------
# update: the three-way merge
# --------------------------------------------------------------------------------------------

def test_update_takes_a_cell_only_the_course_changed_and_keeps_the_answer(course):
    """The course fixes a test, the learner answered: does each keep its change?"""
    answer(course)
    write_course(course, assignment(test_source="assert add(2, 2) == 4"))
    lines = ws.update(course)
    nb = read(course, NB)
    assert "".join(cell(nb, "test_add")["source"]) == "assert add(2, 2) == 4"
    assert "return a + b" in "".join(cell(nb, "add")["source"])
    assert lines == [f"{NB}: merged the course's update."]
    nbformat.validate(nbformat.from_dict(nb))


def test_update_of_an_untouched_file_takes_the_course_version(course):
    """A file the learner never changed: is it replaced by the course's new one?"""
    write_course(course, assignment(intro="# Adding numbers"))
    ws.update(course)
    assert (course / "work" / NB).read_bytes() == (course / NB).read_bytes()


def test_a_cell_both_changed_keeps_the_learners_and_saves_the_courses_beside(course):
    """Both changed the answer cell: is the learner's kept, the course's saved beside, and
    one line said naming the cell?"""
    answer(course)
    changed = assignment()
    changed.cells[1].source = "def add(a, b):\n    # a hint\n    raise NotImplementedError()"
    write_course(course, changed)
    lines = ws.update(course)
    assert "return a + b" in "".join(cell(read(course, NB), "add")["source"])
    beside = course / "work/exercises/add/add.course-new.ipynb"
    assert beside.read_bytes() == (course / NB).read_bytes()
    named = [line for line in lines if "'add'" in line]
    assert len(named) == 1 and "both changed" in named[0]


def test_a_cell_the_course_removed_goes_when_the_learner_left_it(course):
    """The course removes a cell the learner did not change: does it go?"""
    nb = assignment()
    del nb.cells[0]
    write_course(course, nb)
    answer(course)
    ws.update(course)
    merged = read(course, NB)
    assert "# Adding" not in sources(merged)
    assert "return a + b" in "".join(cell(merged, "add")["source"])


def test_a_cell_the_course_removed_stays_when_the_learner_changed_it(course):
    """The course removes a cell the learner changed: is it kept, with a line saying so?"""
    page = read(course, CHAPTER)
    page["cells"][1]["source"] = "x = 1  # my note"
    write(course, CHAPTER, page)
    write_course(course, chapter=CHAPTER_MD.replace("```{code-cell} ipython3\nx = 1\n```\n",
                                                    ""))
    lines = ws.update(course)
    assert "x = 1  # my note" in sources(read(course, CHAPTER))
    assert any("the course removed it" in line for line in lines)


def test_a_cell_the_course_inserted_arrives_without_moving_the_learners_edits(course):
    """The course inserts a cell in a chapter (the later positions shift): are the
    learner's edits still on their cells, and the new cell in its place?"""
    page = read(course, CHAPTER)
    page["cells"][3]["source"] = "y = x + 2  # tried"
    write(course, CHAPTER, page)
    first = "```{code-cell} ipython3\nx = 1"
    write_course(course, chapter=CHAPTER_MD.replace(
        first, "```{code-cell} ipython3\nz = 0\n```\n\n" + first))
    lines = ws.update(course)
    got = sources(read(course, CHAPTER))
    assert got.index("z = 0") < got.index("x = 1") < got.index("y = x + 2  # tried")
    assert not any("both changed" in line for line in lines)


def test_a_merged_chapter_is_the_courses_text_with_the_learners_cell(course):
    """The learner changed one cell of a chapter, the course another: is the merged file the
    course's new text, byte for byte, but for the learner's cell (as Lab would save it)?"""
    page = read(course, CHAPTER)
    page["cells"][1]["source"] = "x = 10"
    write(course, CHAPTER, page)
    new_text = CHAPTER_MD.replace("The second paragraph.", "A second paragraph.")
    write_course(course, chapter=new_text)
    assert ws.update(course) == [f"{CHAPTER}: merged the course's update."]
    merged = (course / "work" / CHAPTER).read_text()
    assert merged == new_text.replace("x = 1\n", "x = 10\n")


def test_a_cell_the_learner_added_stays_after_the_cell_it_followed(course):
    """The learner adds a scratch cell after the answer; the course changes the test: does
    the scratch cell stay where it was?"""
    nb = read(course, NB)
    nb["cells"].insert(2, nbformat.v4.new_code_cell("add(40, 2)", id="scratch"))
    write(course, NB, nb)
    write_course(course, assignment(test_source="assert add(2, 2) == 4"))
    ws.update(course)
    got = sources(read(course, NB))
    assert got.index("add(40, 2)") == got.index("assert add(2, 2) == 4") - 1


def test_a_second_update_with_no_course_change_changes_nothing(course):
    """After a merge, is a second update a no-op (the base is the course's version)?"""
    answer(course)
    write_course(course, assignment(test_source="assert add(2, 2) == 4"))
    ws.update(course)
    before = (course / "work" / NB).read_bytes()
    assert ws.update(course) == []
    assert (course / "work" / NB).read_bytes() == before


# --------------------------------------------------------------------------------------------
# update: hostile workspaces
# --------------------------------------------------------------------------------------------

def test_a_symlink_in_the_workspace_is_neither_followed_nor_overwritten(course, tmp_path):
    """The learner's notebook is a link to a file outside work/: does update leave both
    alone and say so?"""
    outside = tmp_path / "outside.ipynb"
    outside.write_text("precious")
    target = course / "work" / NB
    target.unlink()
    target.symlink_to(outside)
    write_course(course, assignment(test_source="assert add(2, 2) == 4"))
    lines = ws.update(course)
    assert outside.read_text() == "precious" and target.is_symlink()
    assert any("symbolic link" in line for line in lines)


def test_a_symlinked_folder_in_the_workspace_is_not_written_through(course, tmp_path):
    """work/exercises/add is a link to a folder outside work/: does nothing get written
    there?"""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    folder = course / "work/exercises/add"
    for f in folder.iterdir():
        f.unlink()
    folder.rmdir()
    folder.symlink_to(outside, target_is_directory=True)
    write_course(course, assignment(test_source="assert add(2, 2) == 4"))
    lines = ws.update(course)
    assert list(outside.iterdir()) == []
    assert any("symbolic link" in line for line in lines)


def test_a_malformed_learner_notebook_is_left_as_it_is_with_a_clear_message(course):
    """The learner's notebook is broken JSON: is it left byte for byte, with a message saying
    what to do, and the other files still updated?"""
    broken = b'{"cells": [ oops'
    (course / "work" / NB).write_bytes(broken)
    write_course(course, assignment(test_source="assert add(2, 2) == 4"),
                 chapter=CHAPTER_MD.replace("The first paragraph.", "A better paragraph."))
    lines = ws.update(course)
    assert (course / "work" / NB).read_bytes() == broken
    message = next(line for line in lines if NB in line)
    assert "not a valid notebook" in message and "left as it is" in message
    assert any("A better paragraph." in s for s in sources(read(course, CHAPTER)))


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(course, monkeypatch):
    """The rename fails mid-update: is the learner's file as it was, with nothing left
    beside it?"""
    answer(course)
    before = (course / "work" / NB).read_bytes()
    write_course(course, assignment(test_source="assert add(2, 2) == 4"))

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(ws.os, "replace", fail)
    with pytest.raises(OSError):
        ws.update(course)
    assert (course / "work" / NB).read_bytes() == before
    assert sorted(p.name for p in (course / "work/exercises/add").iterdir()) == ["add.ipynb"]


def test_the_command_says_what_to_do_outside_the_course(tmp_path, capsys):
    """Run where there is no course: exit 1 and a message saying where to run it?"""
    assert ws.main(["create", "--course", str(tmp_path)]) == 1
    assert "run this command at the root of the course" in capsys.readouterr().err


def test_status_names_the_learners_edits_and_the_courses_updates(course):
    """Does `status` list an edited file and an update waiting?"""
    answer(course)
    write_course(course, assignment(test_source="assert add(2, 2) == 4"))
    (line,) = ws.status(course)
    assert line.startswith(NB) and "edited by you" in line and "run `update`" in line


def test_a_learner_file_that_is_json_but_no_notebook_is_left_as_it_is(course):
    """The learner's notebook is valid JSON but no notebook (a list): left as it is, with the
    message, rather than a crash?"""
    (course / "work" / NB).write_text("[1, 2]")
    write_course(course, assignment(test_source="assert add(2, 2) == 4"))
    lines = ws.update(course)
    assert (course / "work" / NB).read_text() == "[1, 2]"
    assert any("not a valid notebook" in line for line in lines)


def test_a_data_file_both_changed_keeps_the_learners_and_saves_the_courses_beside(course):
    """A file that is no notebook (no cells to merge), changed by both: is the learner's kept
    byte for byte and the course's saved beside it?"""
    (course / "exercises/add/data.txt").write_text("1\n")
    ws.update(course)
    (course / "work/exercises/add/data.txt").write_text("mine\n")
    (course / "exercises/add/data.txt").write_text("2\n")
    lines = ws.update(course)
    assert (course / "work/exercises/add/data.txt").read_text() == "mine\n"
    assert (course / "work/exercises/add/data.course-new.txt").read_text() == "2\n"
    assert lines == ["exercises/add/data.txt: you and the course both changed it; yours is "
                     "kept, the course's is exercises/add/data.course-new.txt."]
