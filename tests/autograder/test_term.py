"""A lecturer's term, end to end, as the instructors' guide tells it: release, roster, collect
(twice), grade, a manual score and a comment set in formgrader in Chromium, grade --force,
feedback, the exports for Canvas and Moodle (tables and feedback zips), and the class report.

The class hands in ``add`` (tests/builders.py) through a Canvas export and a Moodle export:
accented names, a learner in both LMSs (one student, by the rosters), a resubmission, a late
file, a blank notebook, an answer that never returns, a learner who hands in nothing. At each
step the test asserts what must hold and that nothing the lecturer did before was lost or
changed.
"""

from __future__ import annotations

import csv
import os
import shutil
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.commands.collect import collect
from autograder.commands.due import due
from autograder.commands.export import export, export_feedback, export_lms
from autograder.commands.feedback import feedback
from autograder.commands.grade import grade
from autograder.commands.release import generate
from autograder.commands.report import report
from autograder.commands.roster import import_roster
from autograder.settings import Limits, db_url
from tests.builders import add_assignment, filled, make_course
from tests.builders import zip_export as export_zip
from tests.formgrader import formgrader_server

pytestmark = pytest.mark.slow  # grades a class in sandboxed kernels, starts formgrader

ROOT = Path(__file__).resolve().parents[2]
LIMITS = Limits(cell_timeout=5, notebook_timeout=60)
CORRECT = "def add(a, b):\n    return a + b"
PARTIAL = "def add(a, b):\n    return a + b if a != 2 else 0"  # fails the hidden test only
WRONG = "def add(a, b):\n    return a - b"
HANG = "while True:\n    pass"
COMMENT = "Right, but say in a comment why the hidden case matters."
DUE, ZOE_SUBMITTED = "2026-12-10 10:00", "20261211T120000Z"  # Zoë: 2 days (or part) late
PER_DAY = 10  # percent of the score taken per day late (the course's plugin)


def notebook(course: Path, answer: str | None) -> bytes:
    """The release of ``add`` with ``answer`` in its answer cell (None: handed in blank)."""
    release = nbformat.read(course / "exercises" / "add" / "add.ipynb", 4)
    return nbformat.writes(release if answer is None else filled(release, answer)).encode()


def class_exports(course: Path, folder: Path) -> tuple[Path, Path]:
    """The class's Canvas and Moodle exports, named as each LMS names its files."""
    nb = lambda answer: notebook(course, answer)  # noqa: E731
    canvas = export_zip(folder / "canvas.zip", {
        "núñezjosé_12345_900001_add.ipynb": nb(CORRECT),
        "leeann_222_900002_add.ipynb": nb(PARTIAL),
        "blankbob_333_900003_add.ipynb": nb(None),
        "loopcarl_444_900004_add.ipynb": nb(HANG),
        "twicedee_555_900005_add.ipynb": nb(WRONG),
        "twicedee_555_900006_add-1.ipynb": nb(CORRECT),  # uploaded again: the one graded
        "lateeve_LATE_666_900007_add.ipynb": nb(CORRECT),
    })
    moodle = export_zip(folder / "moodle.zip", {
        "José Núñez_424242_assignsubmission_file_/add.ipynb": nb(CORRECT),  # as in Canvas
        # handed in 26 hours after the due date (Moodle's time in the folder name)
        f"Zoë Martin_31_{ZOE_SUBMITTED}_assignsubmission_file_/add.ipynb": nb(PARTIAL),
    })
    return canvas, moodle


CANVAS_ROSTER = """Student,ID,SIS User ID,SIS Login ID,Section
    Points Possible,,,,
"Núñez, José",12345,S001,jose@uni.example,A
"Lee, Ann",222,S002,ann@uni.example,A
"Blank, Bob",333,S003,bob@uni.example,A
"Loop, Carl",444,S004,carl@uni.example,A
"Twice, Dee",555,S005,dee@uni.example,A
"Late, Eve",666,S006,eve@uni.example,A
"Never, Nia",777,S007,nia@uni.example,A
"""
MOODLE_ROSTER = """First name,Last name,ID number,Email address
José,Núñez,S001,jose@uni.example
Zoë,Martin,S008,zoe@uni.example
"""
MOODLE_WORKSHEET = """Identifier,Full name,Email address,Status,Grade
Participant 424242,José Núñez,jose@uni.example,Submitted for grading,
Participant 31,Zoë Martin,zoe@uni.example,Submitted for grading,
"""


def import_rosters(course: Path, folder: Path) -> dict[str, str]:
    """The class's Canvas roster, Moodle's participants and the assignment's Moodle grading
    worksheet imported; returns each learner's first name -> student id."""
    for name, text, assignment in (("canvas.csv", CANVAS_ROSTER, None),
                                   ("moodle.csv", MOODLE_ROSTER, None),
                                   ("worksheet.csv", MOODLE_WORKSHEET, "add")):
        (folder / name).write_text(text, encoding="utf-8")
        report = import_roster(course, folder / name, assignment=assignment)
        assert report.exit_status == 0, report.lines()
    with Gradebook(db_url(course)) as gb:
        return {s.first_name: s.id for s in gb.students}


def grading_files(course: Path) -> dict[str, bytes]:
    """Every file under grading/ but the gradebook and the logs: path -> bytes."""
    base = course / "grading"
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in sorted(base.rglob("*"))
            if p.is_file() and p.name != "gradebook.db" and "logs" not in p.parts}


def scores(course: Path) -> dict[str, float]:
    with Gradebook(db_url(course)) as gb:
        return {s.student.id: s.score for s in gb.assignment_submissions("add")}


def manual_work(course: Path, student: str) -> tuple:
    """``student``'s manual score on test_add, their answer's comment, the ids formgrader's
    links use."""
    with Gradebook(db_url(course)) as gb:
        sub = gb.find_submission("add", student)
        nb = sub.notebooks[0]
        grade_ = gb.find_grade("test_add", "add", "add", student)
        comment = gb.find_comment("add", "add", "add", student).manual_comment
        return grade_.manual_score, comment, (sub.id, nb.id, grade_.id)


# -- formgrader in Chromium ---------------------------------------------------------------------

def grade_by_hand(course: Path, student: str, score: str, comment: str) -> None:
    """In Chromium, on formgrader's page of ``student``'s notebook: type ``score`` as the
    manual score of test_add and ``comment`` as the answer's comment, as a grader does (each
    field is saved when it loses focus)."""
    from playwright.sync_api import sync_playwright

    with Gradebook(db_url(course)) as gb:
        notebook_id = gb.find_submission_notebook("add", "add", student).id
    chromium = os.environ.get("RNN_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    errors: list[str] = []
    with formgrader_server(course, course) as (base, token), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(extra_http_headers={"Authorization": f"token {token}"})
        page.route("**/*", lambda route: route.continue_()
                   if urlsplit(route.request.url).netloc == urlsplit(base).netloc
                   else route.abort())
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/formgrader/submissions/{notebook_id}/")
        for field, value, api in (
                (".nbgrader_cell:has(#test_add) input.score", score, "/api/grade/"),
                (".nbgrader_cell:has(#add-comment) textarea.comment", comment,
                 "/api/comment/")):
            page.wait_for_selector(field, timeout=60_000)
            with page.expect_response(lambda r, api=api: api in r.url
                                      and r.request.method == "PUT") as saved:
                page.fill(field, value)
                page.locator(field).dispatch_event("change")
            assert saved.value.ok, saved.value.status
        browser.close()
    assert errors == []


# -- the term ----------------------------------------------------------------------------------

@pytest.fixture
def course(tmp_path) -> Path:
    """A course with the assignment ``add`` released, and the course's nbgrader
    configuration, as in the repository (formgrader reads it)."""
    course = make_course(tmp_path / "course", {"add": add_assignment()})
    (course / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({str(ROOT / 'autograder' / 'nbgrader_config.py')!r})  # noqa: F821\n"
        'c.AssignLatePenalties.plugin_class = "autograder.core.late.PerDayPenalty"\n'
        f"c.PerDayPenalty.percent_per_day = {PER_DAY}\n",
        encoding="utf-8")
    generate(course, "add", course / "exercises")
    return course


def test_a_term_from_the_lms_exports_to_the_lms_gradebooks(course, tmp_path):
    """Does a class go from the LMS exports to both LMS gradebooks with every learner graded
    once, right, and nothing the lecturer did by hand lost on the way?"""
    canvas, moodle = class_exports(course, tmp_path)
    ids = import_rosters(course, tmp_path)
    assert len(ids) == 8  # José is one learner in Canvas's and Moodle's rosters
    due(course, "add", DUE)

    # collect, twice: the second time changes nothing
    for source in (canvas, moodle):
        collect(course, source, progress=False)
    collected = grading_files(course)
    for source in (canvas, moodle):
        again = collect(course, source, progress=False)
        assert "unchanged" in "\n".join(again.lines())
    assert grading_files(course) == collected
    folders = {p.name for p in (course / "grading" / "submitted").iterdir() if p.is_dir()}
    assert folders == set(ids.values()) - {ids["Nia"]}  # José's two files: one folder

    # grade: every learner scored by their latest attempt; the hang flagged, not lost
    failures: list[str] = []
    results = {r.student: r for r in grade(course, jobs=2, limits=LIMITS, progress=False,
                                            failures=failures)}
    assert failures == []
    by_name = {first: results[sid] for first, sid in ids.items() if sid in results}
    assert {k: r.score for k, r in by_name.items()} == {
        "José": 3.0, "Ann": 1.0, "Bob": 0.0, "Carl": 0.0, "Dee": 3.0, "Eve": 3.0, "Zoë": 1.0}
    assert by_name["Carl"].flagged and not by_name["Dee"].flagged
    late = {k: r.late_penalty for k, r in by_name.items() if r.late_penalty}
    assert late == {"Zoë": pytest.approx(1.0 * 2 * PER_DAY / 100)}  # Eve's LATE: no time
    jose = ids["José"]

    # a grader's manual score and comment, typed in formgrader
    grade_by_hand(course, jose, "1", COMMENT)
    manual = manual_work(course, jose)
    assert manual[:2] == (1.0, COMMENT)

    # grade --force keeps them, and formgrader's links
    again = {r.student: r.score for r in grade(course, force=True, jobs=2, limits=LIMITS,
                                               progress=False)}
    assert again.keys() == results.keys()
    assert manual_work(course, jose) == manual
    assert scores(course)[jose] == 2.0  # test_add: 1 by hand (of 2), test_add_negative: 1

    # feedback shows the comment and no hidden test
    pages = {p.parts[-3]: p for p in feedback(course, ["add"])}
    assert COMMENT in pages[jose].read_text(encoding="utf-8")
    assert "add(2, 2)" not in pages[jose].read_text(encoding="utf-8")

    # exports: every learner once, with their status; the LMS tables by the rosters' ids
    grades_csv, _ = export(course)
    with grades_csv.open(encoding="utf-8") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    assert rows.keys() == set(ids.values())
    assert (float(rows[jose]["score"]), rows[jose]["status"]) == (2.0, "graded")
    carl = rows[ids["Carl"]]
    assert carl["status"] == "flagged" and "timed out" in carl["reasons"]
    assert rows[ids["Nia"]]["status"] == "not submitted"
    zoe = rows[ids["Zoë"]]
    assert (float(zoe["raw_score"]), float(zoe["score"])) == pytest.approx((1.0, 0.8))
    for fmt in ("canvas", "moodle"):
        assert export_lms(course, fmt, problems=[]).is_file()
    with (course / "grading" / "export" / "canvas.csv").open(encoding="utf-8-sig") as f:
        canvas_rows = {r["ID"]: r for r in csv.DictReader(f)}
    assert float(canvas_rows["12345"]["add"]) == 2.0 and canvas_rows["777"]["add"] == ""
    with (course / "grading" / "export" / "moodle.csv").open(encoding="utf-8") as f:
        moodle_rows = {r["ID number"]: r for r in csv.DictReader(f)}
    assert float(moodle_rows["S001"]["add"]) == 2.0 and moodle_rows["S007"]["add"] == "-"

    # feedback zips named for each LMS's bulk upload
    skipped: list[str] = []
    zips = {fmt: export_feedback(course, fmt, problems=skipped) for fmt in ("canvas", "moodle")}
    with zipfile.ZipFile(zips["moodle"][0]) as zf:
        assert any(n.startswith("José Núñez_424242_assignsubmission_file_/")
                   for n in zf.namelist())
    with zipfile.ZipFile(zips["canvas"][0]) as zf:
        assert any("_12345_" in n for n in zf.namelist())

    # the class report: the flagged learner with the reason, the scores of all
    page = report(course, "add").read_text(encoding="utf-8")
    assert "timed out" in page and ids["Carl"] in page
