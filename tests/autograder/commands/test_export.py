"""``export`` of a class whose learners' data is strange: every learner exported or reported.

The gradebook is written directly through nbgrader's API (no grading): learners with Unicode
names, very long names, names with commas, quotes and newlines, names a spreadsheet would run
as formulas, and one learner whose rows cannot be read.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import warnings

import pytest
from nbgrader.api import Gradebook

import autograder.commands.export as export_module
from autograder.commands.export import ExportIncomplete, cell, export, export_lms
from autograder.core.course import ensure_bin_on_path
from autograder.errors import AutograderError
from autograder.settings import db_url
from tests.builders import add_assignment, make_course

LEARNERS = {  # id -> (first name, last name)
    "alice": ("Alice", "Liddell"),
    "zoë_ñandú": ("Zoë", "Ñandú 山田"),
    "long": ("L" * 10_000, "Long"),
    "comma": ("Doe, John", 'The "Quoted"\nNewline'),
    "formula": ("=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1"),
    "broken": ("Broken", "Record"),
}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course whose gradebook holds the learners of LEARNERS, each with a graded ``add``."""
    ensure_bin_on_path()
    root = make_course(tmp_path_factory.mktemp("export") / "course", {"add": add_assignment()})
    (root / "grading").mkdir()
    with warnings.catch_warnings(), Gradebook(db_url(root)) as gb:
        warnings.simplefilter("ignore")  # SQLAlchemy's notes on nbgrader's models
        gb.add_assignment("add")
        gb.add_notebook("add", "add")
        gb.add_grade_cell("test_add", "add", "add", max_score=2, cell_type="code")
        gb.add_grade_cell("test_add_negative", "add", "add", max_score=1, cell_type="code")
        for sid, (first, last) in LEARNERS.items():
            gb.add_student(sid, first_name=first, last_name=last)
            gb.add_submission("add", sid)
            for g in gb.find_submission_notebook("add", "add", sid).grades:
                g.auto_score = g.max_score
        gb.db.commit()
    return root


def rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_every_learner_is_one_row_with_their_name_as_stored(course, tmp_path):
    """Do commas, quotes, newlines, Unicode and 10 000-character names keep one row per
    learner, each field intact?"""
    grades, _ = export(course, tmp_path)
    by_id = {r["student_id"]: r for r in rows(grades)}
    assert set(by_id) == set(LEARNERS)
    for sid in ("alice", "zoë_ñandú", "comma"):
        assert (by_id[sid]["first_name"], by_id[sid]["last_name"]) == LEARNERS[sid]
    assert by_id["long"]["first_name"] == "L" * export_module.MAX_CELL
    assert float(by_id["alice"]["score"]) == 3.0


def test_per_test_rows_keep_every_learner(course, tmp_path):
    _, tests = export(course, tmp_path)
    per_test = rows(tests)
    assert len(per_test) == 2 * len(LEARNERS)
    assert {r["student"] for r in per_test} == set(LEARNERS)


def test_a_name_a_spreadsheet_would_run_is_exported_as_text(course, tmp_path):
    """Does a learner's name that starts like a formula reach the instructor's spreadsheet as
    a formula?"""
    grades, _ = export(course, tmp_path)
    formula = next(r for r in rows(grades) if r["student_id"] == "formula")
    assert formula["first_name"] == "'" + LEARNERS["formula"][0]
    assert formula["last_name"] == "'+1+1"


@pytest.mark.parametrize("value, written", [
    (math.nan, ""), (math.inf, ""), (None, ""), (True, 1), (2.5, 2.5), (-1.0, -1.0),
    ("-1+1", "'-1+1"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"), ("Zoë", "Zoë"),
])
def test_a_cell_is_a_number_or_text_no_spreadsheet_runs(value, written):
    """Is a non-finite score written as a number, or a formula-like text as a formula?"""
    assert cell(value) == written


def test_a_learner_whose_rows_fail_is_reported_and_the_others_exported(course, tmp_path,
                                                                       monkeypatch):
    """Does one learner's unreadable record stop the export of the class?"""
    read = export_module.grade_rows

    def failing_for_broken(gb, assignment, student):
        if student.id == "broken":
            raise ValueError("a value nbgrader cannot read")
        return read(gb, assignment, student)

    monkeypatch.setattr(export_module, "grade_rows", failing_for_broken)
    problems: list[str] = []
    grades, _ = export(course, tmp_path, problems=problems)
    assert problems == ["add/broken: not exported (ValueError: a value nbgrader cannot read)"]
    assert {r["student_id"] for r in rows(grades)} == set(LEARNERS) - {"broken"}


def test_without_a_problem_list_export_raises_after_writing_the_others(course, tmp_path,
                                                                      monkeypatch):
    def failing(gb, assignment, student):
        raise ValueError("unreadable")

    monkeypatch.setattr(export_module, "grade_rows", failing)
    with pytest.raises(ExportIncomplete, match=f"without {len(LEARNERS)} learner"):
        export(course, tmp_path)
    assert (tmp_path / "tests.csv").exists()
    assert len(rows(tmp_path / "tests.csv")) == 2 * len(LEARNERS)


# -- the tables Canvas and Moodle import ------------------------------------------------------

HOSTILE = "=cmd|' /C calc'!A0"
LMS_CLASS = {  # id -> (first, last, email, Canvas user id in the gradebook, scores of add, mul)
    "zoë_ñandú_424242": ("Zoë", "Ñandú 山田", "zoe@example.edu", "424242", (3, 1)),
    "blank_7": ("Bea", "Blank", "bea@example.edu", "7", (0, 0)),
    "absent_8": ("Abe", "Absent", "abe@example.edu", "8", (None, None)),
    "hostile_9": ("Eve", HOSTILE, "h@example.edu", "9", (1, None)),
    "carla_1234": ("Carla", "Núñez", None, None, (2, 1)),  # ids only in .learners.json
    "nobody_5": ("No", "Body", None, None, (1, 1)),  # no id, no email anywhere
}
RECORD = {"version": 1, "learners": {
    "carla_1234": {"identity": "canvas:1234", "name": "Carla Núñez", "id_number": "S-0042",
                   "lms": {"canvas_id": "1234"}},  # as collect records it
    "zoë_ñandú_424242": {"identity": "canvas:424242", "name": "Zoë Ñandú 山田",
                         "lms": {"sis_user_id": "SIS-1", "section": "Lab A"}},
}}


@pytest.fixture(scope="module")
def lms_course(tmp_path_factory):
    """Two assignments (add: 3 points, mul: 1) and LMS_CLASS in the gradebook: a full
    submission, a blank one graded 0, a learner who never submitted, a hostile name, and a
    learner whose LMS ids are only in the collect record."""
    ensure_bin_on_path()
    root = make_course(tmp_path_factory.mktemp("lms") / "course", {"add": add_assignment()})
    (root / "grading" / "submitted").mkdir(parents=True)
    (root / "grading" / "submitted" / ".learners.json").write_text(
        json.dumps(RECORD), encoding="utf-8")
    with warnings.catch_warnings(), Gradebook(db_url(root)) as gb:
        warnings.simplefilter("ignore")
        for name, cells in {"add": {"test_add": 2, "test_add_negative": 1},
                            "mul": {"test_mul": 1}}.items():
            gb.add_assignment(name)
            gb.add_notebook(name, name)
            for cell_name, points in cells.items():
                gb.add_grade_cell(cell_name, name, name, max_score=points, cell_type="code")
        for sid, (first, last, email, lms_id, scores) in LMS_CLASS.items():
            gb.add_student(sid, first_name=first, last_name=last, email=email,
                           lms_user_id=lms_id)
            for name, score in zip(("add", "mul"), scores or (), strict=True):
                if score is None:
                    continue
                gb.add_submission(name, sid)
                grades = sorted(gb.find_submission_notebook(name, name, sid).grades,
                                key=lambda g: -g.max_score)
                for g in grades:  # the score, filled from the largest cell
                    g.auto_score = min(g.max_score, score)
                    score -= g.auto_score
        gb.db.commit()
    return root


def table(path, encoding="utf-8"):
    with open(path, newline="", encoding=encoding) as f:
        return list(csv.reader(f))


def by_first_cell(rows):
    return {r[0]: r for r in rows}


def test_canvas_table_has_the_columns_and_points_row_canvas_reads(lms_course, tmp_path):
    """Are the header and the Points Possible row the ones Canvas's gradebook importer reads?"""
    rows = table(export_lms(lms_course, "canvas", tmp_path, problems=[]), "utf-8-sig")
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "add", "mul"]
    assert rows[1] == ["Points Possible", "", "", "", "", "3.0", "1.0"]
    assert len(rows) == 2 + len(LMS_CLASS)


def test_moodle_table_has_an_identifier_column_and_one_column_per_assignment(lms_course,
                                                                           tmp_path):
    rows = table(export_lms(lms_course, "moodle", tmp_path, problems=[]))
    assert rows[0] == ["First name", "Last name", "ID number", "Email address", "add", "mul"]
    assert len(rows) == 1 + len(LMS_CLASS)


def test_not_submitted_is_no_score_and_a_blank_submission_is_zero(lms_course, tmp_path):
    """Can the LMS tell a learner who never submitted from one whose submission scored 0?"""
    canvas = by_first_cell(table(export_lms(lms_course, "canvas", tmp_path, problems=[]),
                                 "utf-8-sig"))
    moodle = {r[3]: r for r in table(export_lms(lms_course, "moodle", tmp_path, problems=[]))}
    assert canvas["Absent, Abe"][5:] == ["", ""]
    assert canvas["Blank, Bea"][5:] == ["0.0", "0.0"]
    assert canvas["'" + HOSTILE + ", Eve"][5:] == ["1.0", ""]
    assert moodle["abe@example.edu"][4:] == ["-", "-"]
    assert moodle["bea@example.edu"][4:] == ["0.0", "0.0"]
    assert moodle["h@example.edu"][4:] == ["1.0", "-"]


def test_accented_names_are_kept_in_utf8_with_the_bom_excel_needs_for_canvas(lms_course,
                                                                            tmp_path):
    canvas = export_lms(lms_course, "canvas", tmp_path, problems=[])
    moodle = export_lms(lms_course, "moodle", tmp_path, problems=[])
    assert canvas.read_bytes().startswith(b"\xef\xbb\xbfStudent,")
    assert moodle.read_bytes().startswith(b"First name,")
    assert "Ñandú 山田, Zoë" in by_first_cell(table(canvas, "utf-8-sig"))
    assert ["Zoë", "Ñandú 山田"] in [r[:2] for r in table(moodle)]


def test_lms_ids_come_from_the_gradebook_and_the_collect_record(lms_course, tmp_path):
    """Does each learner carry the ids the roster (gradebook) and collect's record hold?"""
    canvas = by_first_cell(table(export_lms(lms_course, "canvas", tmp_path, problems=[]),
                                 "utf-8-sig"))
    moodle = by_first_cell(table(export_lms(lms_course, "moodle", tmp_path, problems=[])))
    assert canvas["Ñandú 山田, Zoë"][:5] == ["Ñandú 山田, Zoë", "424242", "SIS-1", "", "Lab A"]
    assert canvas["Núñez, Carla"][1] == "1234"  # from the record's lms.canvas_id
    assert moodle["Carla"][2:4] == ["S-0042", ""]


def test_a_name_a_spreadsheet_would_run_is_text_in_both_lms_tables(lms_course, tmp_path):
    """Does a learner named like a formula reach the LMS or a spreadsheet as a formula?"""
    canvas = table(export_lms(lms_course, "canvas", tmp_path, problems=[]), "utf-8-sig")
    moodle = table(export_lms(lms_course, "moodle", tmp_path, problems=[]))
    assert "'" + HOSTILE + ", Eve" in [r[0] for r in canvas]
    assert "'" + HOSTILE in [r[1] for r in moodle]
    assert not [c for r in canvas[2:] + moodle[1:] for c in r if c.startswith(("=", "+", "@"))]


def test_a_learner_moodle_cannot_match_is_reported(lms_course, tmp_path):
    """Is a row without ID number or email (no way for Moodle to find the learner) said,
    while Canvas, which falls back to the name, exports it silently?"""
    problems: list[str] = []
    export_lms(lms_course, "moodle", tmp_path, problems=problems)
    assert problems == ["nobody_5: no ID number or email, so Moodle cannot match this row: "
                        "import the Moodle roster (python -m autograder roster import FILE)"]
    problems.clear()
    export_lms(lms_course, "canvas", tmp_path, problems=problems)
    assert problems == []


def test_a_damaged_collect_record_is_reported_and_the_gradebook_ids_used(lms_course, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(lms_course, course)
    (course / "grading" / "submitted" / ".learners.json").write_text("{not json")
    problems: list[str] = []
    canvas = by_first_cell(table(export_lms(course, "canvas", tmp_path, problems=problems),
                                 "utf-8-sig"))
    assert canvas["Ñandú 山田, Zoë"][1] == "424242"
    assert canvas["Núñez, Carla"][1] == ""
    assert len(problems) == 1 and ".learners.json is damaged" in problems[0]


def test_an_unknown_lms_format_says_which_there_are(lms_course, tmp_path):
    with pytest.raises(AutograderError, match="use one of canvas, moodle"):
        export_lms(lms_course, "blackboard", tmp_path)
