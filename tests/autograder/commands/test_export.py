"""``export`` of a class whose learners' data is strange: every learner exported or reported.

The gradebook is written directly through nbgrader's API (no grading): learners with Unicode
names, very long names, names with commas, quotes and newlines, names a spreadsheet would run
as formulas, and one learner whose rows cannot be read.
"""

from __future__ import annotations

import csv
import math
import warnings

import pytest
from nbgrader.api import Gradebook

import autograder.commands.export as export_module
from autograder.commands.export import ExportIncomplete, cell, export
from autograder.core.course import ensure_bin_on_path
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
