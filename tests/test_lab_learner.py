"""The learners' guide followed in JupyterLab in Chromium, as a learner does (issue 29).

A scratch clone of the repository (``git clone`` of its committed HEAD, its ``.venv`` a link to
this environment's) is the learner's copy of the course; a second clone is the course
"upstream" that the learner pulls from. In the learner's clone the commands run as
``book/guides/learners.md`` writes them (``GUIDE_COMMANDS``, each checked to be in the guide);
JupyterLab runs there with the learner's setup (``rnncourse.lab.setup``, in a scratch prefix),
and Chromium drives it: a chapter of ``work/`` run and saved, an assignment validated with its
Validate button and scored from Lab's terminal. One Lab and one Chromium serve the module.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import compute_checksum

from tests.lab_helpers import (
    ROOT,
    Lab,
    chromium_context,
    launch_lab,
    menu_titles,
    noise_in,
    open_in_lab,
)

GUIDE = ROOT / "book" / "guides" / "learners.md"
ASSIGNMENT = "rnn_forward"
EXERCISE = f"exercises/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
WORK_EXERCISE = f"work/{EXERCISE}"
WORK_CHAPTER = "work/book/cells/simple_rnn.md"

# The learner's commands, exactly as the guide writes them (run in the clone's root).
CREATE = ".venv/bin/python -m rnncourse.workspace create"
LAB = ".venv/bin/jupyter lab"
PULL = "git pull"
UPDATE = ".venv/bin/python -m rnncourse.workspace update"
STATUS = ".venv/bin/python -m rnncourse.workspace status"
VALIDATE = f".venv/bin/nbgrader validate {WORK_EXERCISE}"
SCORE = f".venv/bin/python -m autograder score {WORK_EXERCISE}"
GUIDE_COMMANDS = (CREATE, LAB, PULL, UPDATE, STATUS, VALIDATE, SCORE)

# nbgrader's Validate dialog when every visible test passes.
VALIDATE_SUCCESS = "Success! Your notebook passes all the tests."
# The grade_id of the markdown cell the course changes upstream (not an answer cell).
CHANGED_CELL = "part1_selfcheck"
COURSE_CHANGE = "\n\n(A sentence the course added after the learner made work/.)"
# How long a learner's command may take on a loaded 2-core machine (score's first run grades
# the reference solution too, its pre-flight).
COMMAND_TIMEOUT_S = 600


# ---- the learner's clone --------------------------------------------------------------------

@dataclass
class Course:
    """The course's upstream repository and the learner's clone of it."""

    upstream: Path
    learner: Path


def git(repo: Path, *args: str) -> str:
    """``git ARGS`` in ``repo`` (a fixed identity for commits); its output, or a failure."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "Course", "GIT_AUTHOR_EMAIL": "course@example.org",
           "GIT_COMMITTER_NAME": "Course", "GIT_COMMITTER_EMAIL": "course@example.org"}
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          env=env, timeout=COMMAND_TIMEOUT_S)
    assert done.returncode == 0, f"git {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def run_as_the_guide_says(course: Course, command: str) -> str:
    """One of the guide's commands, run in the learner's clone; its output (it must succeed)."""
    assert command in GUIDE_COMMANDS, command
    done = subprocess.run(shlex.split(command), cwd=course.learner, capture_output=True,
                          text=True, timeout=COMMAND_TIMEOUT_S)
    assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def clone_for_a_learner(folder: Path) -> Course:
    """Upstream (a clone of the repository's HEAD) and the learner's clone of it, set up as the
    guide says: ``.venv`` (here a link to this environment, excluded from git in the clone
    only) and ``workspace create``."""
    folder.mkdir(parents=True, exist_ok=True)
    upstream, learner = folder / "upstream", folder / "learner"
    git(folder, "clone", "--quiet", str(ROOT), str(upstream))
    git(folder, "clone", "--quiet", str(upstream), str(learner))
    (learner / ".venv").symlink_to(Path(sys.prefix))
    with (learner / ".git" / "info" / "exclude").open("a") as exclude:
        exclude.write("/.venv\n")  # .gitignore's `.venv/` matches a folder, not a link
    made = Course(upstream, learner)
    run_as_the_guide_says(made, CREATE)
    return made


def terminal_settings(tmp: Path) -> None:
    """Lab's terminal in screen-reader mode, in the user settings ``launch_lab(tmp, ...)``
    reads: xterm.js then keeps its rows as text, which the test reads."""
    settings = tmp / "user-settings" / "@jupyterlab" / "terminal-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "plugin.jupyterlab-settings").write_text(json.dumps({"screenReaderMode": True}))


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Course:
    return clone_for_a_learner(tmp_path_factory.mktemp("course"))


@pytest.fixture(scope="module")
def learner_lab(tmp_path_factory, course) -> Iterator[Lab]:
    """``jupyter lab`` in the learner's clone, with the learner's setup."""
    tmp = tmp_path_factory.mktemp("lab")
    terminal_settings(tmp)
    yield from launch_lab(tmp, "learner", course.learner)


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    yield from chromium_context(tmp_path_factory.mktemp("chromium-profile"))


# ---- the learner's answers --------------------------------------------------------------------

def solution_answers(solution: Path) -> dict[str, str]:
    """Each answer cell's code as a learner writes it: the solution's lines between nbgrader's
    markers (``### BEGIN SOLUTION`` ... ``### END SOLUTION``), by the cell's grade_id."""
    answers = {}
    for cell in json.loads(solution.read_text(encoding="utf-8"))["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution"):
            found = re.search(r"\n *### BEGIN SOLUTION\n(.*?)\n *### END SOLUTION",
                              "".join(cell["source"]), re.S)
            assert found, f"no solution markers in {meta['grade_id']}"
            answers[meta["grade_id"]] = found.group(1)
    return answers


def cells_by_id(notebook: dict) -> dict[str, str]:
    """Each nbgrader cell's source by its grade_id."""
    return {c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"])
            for c in notebook["cells"] if "grade_id" in c["metadata"].get("nbgrader", {})}


def work_notebook(course: Course) -> dict:
    return json.loads((course.learner / WORK_EXERCISE).read_text(encoding="utf-8"))


def fill_with_the_solution(course: Course, learner_lab: Lab) -> dict[str, str]:
    """The learner's answer cells, written into their copy of the assignment through Lab's
    contents API (as Lab saves a notebook edited in the browser); the answers' sources."""
    answers = solution_answers(course.learner / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    model = learner_lab.get(f"/api/contents/{WORK_EXERCISE}?content=1").json()
    filled_sources = {}
    for cell in model["content"]["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            released = cell["source"]
            assert "raise NotImplementedError()" in released, grade_id
            cell["source"] = re.sub(r" *# YOUR CODE HERE\n *raise NotImplementedError\(\)",
                                    lambda _, answer=answers[grade_id]: answer, released)
            filled_sources[grade_id] = cell["source"]
    assert set(filled_sources) == set(answers)
    saved = learner_lab.put(f"/api/contents/{WORK_EXERCISE}",
                            json={"type": "notebook", "format": "json",
                                  "content": model["content"]})
    assert saved.status_code == 200, saved.text
    return filled_sources


@pytest.fixture(scope="module")
def filled(course, learner_lab) -> dict[str, str]:
    return fill_with_the_solution(course, learner_lab)


def assert_answers_kept(course: Course, answers: dict[str, str]) -> None:
    kept = cells_by_id(work_notebook(course))
    assert {g: kept[g] for g in answers} == answers


# ---- in Chromium --------------------------------------------------------------------------------

def wait_for_the_kernel(page) -> None:
    """Waits until the status bar says the notebook's kernel is idle (a cell run while the
    kernel still starts can be dropped, its prompt left empty)."""
    page.wait_for_function(
        """() => { const bar = document.querySelector('#jp-main-statusbar');
                   return bar !== null && /\\| Idle/.test(bar.textContent); }""")


def run_all(page) -> None:
    """*Run → Run All Cells*, once the kernel is ready; then waits until every code cell has
    run."""
    wait_for_the_kernel(page)
    page.locator("#jp-menu-panel .lm-MenuBar-item", has_text="Run").click()
    page.locator(".lm-Menu-item", has_text="Run All Cells").first.click()
    page.wait_for_function(
        """() => { const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
                   return p.length > 0 && p.every(e => /\\[\\d+\\]/.test(e.textContent)); }""",
        timeout=COMMAND_TIMEOUT_S * 1000)


def save(page) -> None:
    """Ctrl+S, then waits until the tab is no longer marked modified."""
    page.locator(".jp-Notebook").first.click()
    page.keyboard.press("Escape")  # command mode: Ctrl+S is Lab's save
    page.keyboard.press("Control+s")
    page.wait_for_function(
        "() => !document.querySelector('.lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-dirty')")


def validate(page) -> str:
    """Clicks the notebook's Validate button; the text of the dialog it opens (closed after)."""
    page.locator(".jp-NotebookPanel-toolbar").get_by_text("Validate").click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=COMMAND_TIMEOUT_S * 1000)
    text = dialog.locator(".jp-Dialog-body").inner_text()
    dialog.locator(".jp-Dialog-button").last.click()
    return text


def open_terminal(context, running: Lab):
    """A Lab page with a new terminal (*File → New → Terminal*), ready for typing."""
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(f"{running.base}/lab?reset&token={running.token}")
    assert "File" in menu_titles(page)
    page.locator("#jp-menu-panel .lm-MenuBar-item", has_text="File").click()
    page.locator(".lm-Menu-item", has_text="New").first.hover()
    page.locator(".lm-Menu-item", has_text="Terminal").first.click()
    page.wait_for_selector(".jp-Terminal .xterm-accessibility-tree")
    page.locator(".jp-Terminal").click()
    return page


def terminal_rows(page) -> list[str]:
    return page.locator(".jp-Terminal .xterm-accessibility-tree > div").all_inner_texts()


def type_in_terminal(page, command: str) -> tuple[str, int]:
    """Types ``command`` and Enter in the terminal; its screen's text and exit status."""
    marker = f"exit-status-{time.monotonic_ns()}"
    page.keyboard.type(f"clear; {command}; echo {marker}=$?\n")
    pattern = re.compile(rf"^{marker}=(\d+)")
    page.wait_for_function(  # the marker with a number: not the typed line, wrapped or not
        f"""() => [...document.querySelectorAll('.jp-Terminal .xterm-accessibility-tree > div')]
                  .some(d => /^{marker}=\\d+/.test(d.textContent.trim()))""",
        timeout=COMMAND_TIMEOUT_S * 1000)
    rows = terminal_rows(page)
    status = next(int(m.group(1)) for row in rows if (m := pattern.match(row.strip())))
    return "\n".join(rows), status


# ---- the tests ----------------------------------------------------------------------------------

def test_the_guide_gives_every_command_this_test_runs():
    """Are the commands the browser test runs the guide's, word for word?"""
    guide = GUIDE.read_text(encoding="utf-8")
    assert [c for c in GUIDE_COMMANDS if c not in guide] == []


@pytest.mark.slow
def test_a_learners_lab_has_no_nbgrader_menu_and_a_quiet_log(learner_lab, chromium):
    """In the learner's clone, started as the guide says: no Nbgrader menu (no Formgrader), no
    formgrader on the server, nothing in the log a learner should not see?"""
    page = open_in_lab(chromium, learner_lab, WORK_EXERCISE)
    try:
        page.locator(".jp-NotebookPanel-toolbar").get_by_text("Validate").wait_for()
        assert "Nbgrader" not in menu_titles(page)
        assert learner_lab.get("/formgrader", allow_redirects=False).status_code == 404
        # The kernel's start and connection belong to the log checked; and a tab closed while
        # its websocket connects logs jupyter_server's own traceback
        # (jupyter-server/jupyter_server#1265), a race of the test, not of the course.
        wait_for_the_kernel(page)
    finally:
        page.close()
    assert noise_in(learner_lab) == []


@pytest.mark.slow
def test_a_chapter_run_and_saved_in_lab_is_unchanged(course, learner_lab, chromium):
    """A chapter of work/ opened as a notebook, *Run All*, saved: is its file byte for byte
    the same, did every cell run without an error, and is the clone's git status empty?"""
    chapter = course.learner / WORK_CHAPTER
    before, written = chapter.read_bytes(), chapter.stat().st_mtime_ns
    page = open_in_lab(chromium, learner_lab, WORK_CHAPTER)
    try:
        assert page.locator(".jp-MainAreaWidget .jp-Notebook").count() == 1
        run_all(page)
        assert page.locator("[data-mime-type='application/vnd.jupyter.error']").count() == 0
        save(page)
    finally:
        page.close()
    assert chapter.stat().st_mtime_ns != written, "Lab did not save the chapter"
    assert chapter.read_bytes() == before
    assert git(course.learner, "status", "--porcelain") == ""


@pytest.mark.slow
def test_a_filled_assignment_validates_in_lab_and_scores_full_marks_in_its_terminal(
        course, learner_lab, chromium, filled):
    """The learner's filled rnn_forward: does Validate (clicked) report success, does `score`
    typed in Lab's terminal give full marks, and are the answers still there after both?"""
    page = open_in_lab(chromium, learner_lab, WORK_EXERCISE)
    try:
        assert VALIDATE_SUCCESS in validate(page)
    finally:
        page.close()
    terminal = open_terminal(chromium, learner_lab)
    try:
        screen, status = type_in_terminal(terminal, SCORE)
    finally:
        terminal.close()
    assert status == 0, screen
    total = re.search(rf"{ASSIGNMENT}: (\d+) / (\d+) points", screen)
    assert total and total.group(1) == total.group(2) and int(total.group(2)) > 0, screen
    assert_answers_kept(course, filled)


@pytest.mark.slow
def test_a_filled_notebook_survives_the_guides_commands_and_a_pull_of_a_changed_assignment(
        course, filled):
    """After the guide's commands (create again, status, nbgrader validate) and a course update
    that changes another cell of the assignment (git pull, then workspace update): are the
    answers kept, did the course's change arrive, did git pull merge without conflict, and
    does the merged notebook still validate?"""
    assert "Success" in run_as_the_guide_says(course, VALIDATE)
    run_as_the_guide_says(course, CREATE)
    assert "edited by you" in run_as_the_guide_says(course, STATUS)
    assert_answers_kept(course, filled)

    # The course changes a locked markdown cell of the exercise upstream, its checksum
    # recomputed as nbgrader's release does.
    released = course.upstream / EXERCISE
    notebook = nbformat.read(released, as_version=4)
    cell = next(c for c in notebook.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == CHANGED_CELL)
    cell.source += COURSE_CHANGE
    cell.metadata.nbgrader.checksum = compute_checksum(cell)
    nbformat.write(notebook, released)
    git(course.upstream, "commit", "--quiet", "-am", "A clearer self-check")

    pulled = run_as_the_guide_says(course, PULL)
    assert "CONFLICT" not in pulled
    run_as_the_guide_says(course, UPDATE)
    assert_answers_kept(course, filled)
    assert cells_by_id(work_notebook(course))[CHANGED_CELL].endswith(COURSE_CHANGE)
    assert not list((course.learner / "work").rglob("*.course-new.*"))
    assert "Success" in run_as_the_guide_says(course, VALIDATE)  # its checksums still agree
    assert git(course.learner, "status", "--porcelain") == ""
