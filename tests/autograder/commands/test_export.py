"""``export`` of a class whose learners' data is strange: every learner exported or reported.

The gradebook is written directly through nbgrader's API (no grading): learners with Unicode
names, very long names, names with commas, quotes and newlines, names a spreadsheet would run
as formulas, and one learner whose rows cannot be read.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import warnings
import zipfile

import pytest
from nbgrader.api import Gradebook

import autograder.commands.export as export_module
from autograder.commands.export import (
    ExportIncomplete,
    cell,
    export,
    export_feedback,
    export_lms,
)
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


# -- where each submission stands, and why (issue 28) -------------------------------------------

TIMEOUT = "cell 12 timed out after 60 s"
HOSTILE_REASON = '=HYPERLINK("http://evil.example","fix")'
KERNEL = "Kernel died before replying to kernel_info"
TERM = {  # id -> (first, last, email, how the add submission stands)
    "ana_101": ("Ana", "Pérez", "ana@example.edu", "flagged"),  # grade's flags
    "bo_202": ("Bo", "Ng", "bo@example.edu", "grader"),  # flagged in formgrader
    "eve_303": (HOSTILE, "../../etc/passwd\x00x", "eve@example.edu", "hostile"),
    "long_404": ("L" * 300, "Long", "long@example.edu", "graded"),
    "digits_505": ("42", "", "d@example.edu", "graded"),
    "zed_606": ("Zed", "Zero", "zed@example.edu", "graded"),  # no feedback page
    "kid_707": ("Kid", "Folder", "kid@example.edu", "graded"),  # collected from a folder
    "late_808": ("Lia", "Late", "lia@example.edu", "collected"),  # collected, not graded
    "absent_909": ("Abe", "Absent", "abe@example.edu", None),  # nothing collected
}
ATTEMPTS = {  # id -> the paths of their files in the LMS's download, in collect's order
    "ana_101": ["perezana_101_5001_add.ipynb", "perezana_LATE_101_5009_add-1.ipynb"],
    "bo_202": ["Bo Ng_4711_assignsubmission_file_/add.ipynb"],
    "eve_303": ["eve_303_6001_add.ipynb"],
    "long_404": [f"{'L' * 60} Long_4712_assignsubmission_file_/add.ipynb"],
    "digits_505": ["learner_505_7001_add.ipynb"],
    "zed_606": ["zedzero_606_7002_add.ipynb"],
    "kid_707": ["kid_707/add/add.ipynb"],
    "late_808": ["lialate_808_7003_add.ipynb"],
    "ghost_999": ["ghost_999_7004_add.ipynb"],  # collected, grading failed: not in gradebook
}


def _collect(root, student, members):
    """Record ``members`` as collect does (grading/attempts and grading/submitted)."""
    from autograder.core.attempts import History

    history = History(root, student, "add")
    for k, member in enumerate(members):
        attempt = history.add(f'{{"attempt": {k}}}'.encode(), file="add.ipynb", member=member,
                              source="export.zip", submitted=None, late=None,
                              collected="2026-12-01T10:00:00")
        history.place(attempt, "add.ipynb", "the latest")
    history.save()


def _digest(root, student):
    """The content hash ``grade`` records of the notebook it grades (``core.scheduler``)."""
    from autograder.core.scheduler import find_submissions

    return next(p.digest for p in find_submissions(root, "add") if p.student == student)


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    """A graded class of one assignment, ``add``: learners as TERM says, their attempts as
    ATTEMPTS, a grade log, results with flags, and a feedback page for each graded learner
    but zed_606."""
    from autograder.core.types import Result
    from autograder.settings import feedback_dir, logs_dir, results_dir

    ensure_bin_on_path()
    root = make_course(tmp_path_factory.mktemp("term") / "course", {"add": add_assignment()})
    for sid, members in ATTEMPTS.items():
        _collect(root, sid, members)
    record = {"version": 1, "learners": {"ghost_999": {  # as collect records a learner
        "identity": "canvas:999", "name": "Gus Ghost", "lms": {"canvas_id": "999"}}}}
    (root / "grading" / "submitted" / ".learners.json").write_text(json.dumps(record))
    with warnings.catch_warnings(), Gradebook(db_url(root)) as gb:
        warnings.simplefilter("ignore")
        gb.add_assignment("add")
        gb.add_notebook("add", "add")
        gb.add_grade_cell("test_add", "add", "add", max_score=2, cell_type="code")
        for sid, (first, last, email, state) in TERM.items():
            gb.add_student(sid, first_name=first, last_name=last, email=email)
            if state in (None, "collected"):
                continue
            gb.add_submission("add", sid)
            nb = gb.find_submission_notebook("add", "add", sid)
            nb.grades[0].auto_score = 1.0
            nb.flagged = state in ("flagged", "grader", "hostile")
            flags = {"flagged": [TIMEOUT, "printed too much output (truncated)"],
                     "hostile": [HOSTILE_REASON]}.get(state, [])
            result = Result("add", 1.0, 2.0, [], flagged=bool(flags), flags=flags, student=sid,
                            digest=_digest(root, sid) if sid == "long_404" else
                            "0" * 64 if sid == "zed_606" else "")
            (results_dir(root) / "add").mkdir(parents=True, exist_ok=True)
            (results_dir(root) / "add" / f"{sid}.json").write_text(json.dumps(result.to_dict()))
            if sid != "zed_606":
                page = feedback_dir(root) / sid / "add" / "add.html"
                page.parent.mkdir(parents=True, exist_ok=True)
                page.write_text(f"<p>feedback of {sid}</p>", encoding="utf-8")
        gb.db.commit()
    logs_dir(root).mkdir(parents=True, exist_ok=True)
    (logs_dir(root) / "grade-add.log").write_text(
        f"not graded ghost_999: {KERNEL}\ngraded ana_101: grading process peak 80 MB\n")
    return root


def test_grades_csv_says_where_each_submission_stands_and_why(term, tmp_path):
    """Does grades.csv give each flag's reasons, and tell not graded and not submitted
    apart from a 0?"""
    grades, _ = export(term, tmp_path)
    by_id = {r["student_id"]: r for r in rows(grades)}
    assert by_id["ana_101"]["status"] == "flagged"
    assert by_id["ana_101"]["reasons"] == f"{TIMEOUT}; printed too much output (truncated)"
    assert (by_id["bo_202"]["status"], by_id["bo_202"]["reasons"]) == (
        "flagged", "flagged by a grader in formgrader")
    assert (by_id["long_404"]["status"], by_id["long_404"]["reasons"]) == ("graded", "")
    assert by_id["absent_909"]["status"] == "not submitted"
    assert by_id["absent_909"]["status"] == "not submitted"
    assert by_id["absent_909"]["score"] == "0.0"  # as nbgrader exports a missing one


def test_a_submission_not_graded_has_no_score_and_the_reason_grade_logged(term, tmp_path):
    """Is a learner whose grading failed (even one never in the gradebook) exported with why,
    and never with a 0 that looks like a grade?"""
    grades, _ = export(term, tmp_path)
    by_id = {r["student_id"]: r for r in rows(grades)}
    ghost, late = by_id["ghost_999"], by_id["late_808"]
    assert (ghost["status"], ghost["reasons"]) == ("not graded", f"not graded: {KERNEL}")
    assert late["status"] == "not graded"
    assert "grade add --student late_808" in late["reasons"]
    for row in (ghost, late):
        assert row["raw_score"] == row["score"] == row["late_submission_penalty"] == ""


def test_a_score_of_an_earlier_attempt_than_the_one_collected_says_so(term, tmp_path):
    """When the notebook collected since is not the one graded (its grading failed), does
    the export say the score is an earlier attempt's, and why the newer one is not graded?"""
    grades, _ = export(term, tmp_path)
    zed = {r["student_id"]: r for r in rows(grades)}["zed_606"]
    assert zed["status"] == "graded" and zed["score"] == "1.0"
    assert zed["reasons"].startswith("this score is an earlier attempt's: the notebook "
                                     "collected since is collected, no grade yet: run ")


def test_a_flag_reason_a_spreadsheet_would_run_is_text(term, tmp_path):
    grades, _ = export(term, tmp_path)
    assert {r["student_id"]: r for r in rows(grades)}["eve_303"]["reasons"] == \
        "'" + HOSTILE_REASON


@pytest.mark.parametrize("fmt, ids", [("canvas", 5), ("moodle", 4)])
def test_the_lms_review_file_lists_each_submission_not_plainly_graded(term, tmp_path, fmt,
                                                                      ids):
    """Beside the import (which keeps its columns), is every flagged, not graded or not
    submitted learner listed with the ids the LMS knows them by and the reasons?"""
    table_path = export_lms(term, fmt, tmp_path, problems=[])
    encoding = "utf-8-sig" if fmt == "canvas" else "utf-8"
    assert table(table_path, encoding)[0][-1] == "add"  # the import: no reasons column
    review = table(tmp_path / f"{fmt}-review.csv", encoding)
    assert review[0][ids:] == ["Assignment", "Status", "Score", "Reasons"]
    status = {r[ids + 3].split(";")[0] if r[ids + 1] == "flagged" else r[ids + 1]
              for r in review[1:]}
    assert status == {TIMEOUT, "flagged by a grader in formgrader", "'" + HOSTILE_REASON,
                      "not graded", "not submitted", "graded"}
    assert len(review) == 1 + 7  # ana, bo, eve, zed (earlier attempt), late, ghost, absent
    assert not [c for r in review[1:] for c in r if c.startswith(("=", "+", "@"))]


def test_a_learner_collected_but_never_graded_is_reviewed_not_imported(term, tmp_path):
    canvas = table(export_lms(term, "canvas", tmp_path, problems=[]), "utf-8-sig")
    review = table(tmp_path / "canvas-review.csv", "utf-8-sig")
    assert "ghost_999" not in [r[0] for r in canvas]
    ghost = next(r for r in review if r[0] == "ghost_999")
    assert ghost[1] == "999" and ghost[6:] == ["not graded", "", f"not graded: {KERNEL}"]


# -- feedback zips for each LMS's bulk upload -----------------------------------------------------

def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def test_moodle_zip_has_a_folder_per_participant_as_moodle_names_it(term, tmp_path):
    """Is each page under ``<Full Name>_<participant id>_assignsubmission_file_/``, the id
    that assignment's Moodle download gave the learner?"""
    [path] = export_feedback(term, "moodle", tmp_path, problems=[])
    members = _members(path)
    assert path.name == "moodle-feedback-add.zip"
    assert members["Bo Ng_4711_assignsubmission_file_/feedback-add.html"] == \
        b"<p>feedback of bo_202</p>"
    assert f"{'L' * 40}_4712_assignsubmission_file_/feedback-add.html" in members
    assert len(members) == 2


def test_canvas_zip_names_files_with_the_user_and_latest_attachment_ids(term, tmp_path):
    """Does each file carry the Canvas user id and the attachment id of the learner's latest
    upload, with a name part Canvas cannot mistake for an id?"""
    [path] = export_feedback(term, "canvas", tmp_path, problems=[])
    members = _members(path)
    assert members["perezana_101_5009_feedback-add.html"] == b"<p>feedback of ana_101</p>"
    assert "learner_505_7001_feedback-add.html" in members  # first name "42"
    assert "etcpasswdxcmdccalca_303_6001_feedback-add.html" in members  # hostile name
    assert len(members) == 3


@pytest.mark.parametrize("fmt", ["canvas", "moodle"])
def test_a_learner_the_lms_cannot_be_sent_feedback_is_listed_as_skipped(term, tmp_path, fmt):
    """Is a learner without the LMS's ids (collected from the other LMS or from a folder)
    or without a feedback page said, with why, never dropped silently?"""
    problems: list[str] = []
    export_feedback(term, fmt, tmp_path, problems=problems)
    skipped = {line.split(":")[0]: line for line in problems}
    assert "no feedback page" in skipped["add/zed_606"]
    assert f"no {fmt.capitalize()} id on record for add" in skipped["add/kid_707"]
    other = {"canvas": ["add/bo_202", "add/long_404"],
             "moodle": ["add/ana_101", "add/eve_303", "add/digits_505"]}[fmt]
    assert set(skipped) == {"add/zed_606", "add/kid_707", *other}
    assert "(collected from a folder)" in skipped["add/kid_707"]
    assert f"(collected from {'Moodle' if fmt == 'canvas' else 'Canvas'})" in skipped[other[0]]
    with pytest.raises(ExportIncomplete, match="skipping 4|skipping 5"):
        export_feedback(term, fmt, tmp_path)


def test_a_moodle_participant_id_from_a_roster_is_used_when_no_attempt_gives_one(term,
                                                                               tmp_path):
    course = tmp_path / "course"
    shutil.copytree(term, course)
    record = {"version": 1, "learners": {"kid_707": {
        "identity": "folder:kid_707", "name": "Kid Folder",
        "lms": {"moodle_participants": {"add": "4713", "mul": "9"}}}}}
    (course / "grading" / "submitted" / ".learners.json").write_text(json.dumps(record))
    [path] = export_feedback(course, "moodle", tmp_path / "out", problems=[])
    assert "Kid Folder_4713_assignsubmission_file_/feedback-add.html" in _members(path)


def test_a_feedback_page_that_is_a_link_is_skipped_not_followed(term, tmp_path):
    """Can a page swapped for a symbolic link put another file in the zip?"""
    from autograder.settings import feedback_dir

    course = tmp_path / "course"
    shutil.copytree(term, course, symlinks=True)
    page = feedback_dir(course) / "bo_202" / "add" / "add.html"
    page.unlink()
    (tmp_path / "secret.txt").write_text("a secret")
    os.symlink(tmp_path / "secret.txt", page)
    problems: list[str] = []
    [path] = export_feedback(course, "moodle", tmp_path / "out", problems=problems)
    assert not [m for m in _members(path) if "4711" in m]
    assert any(line.startswith("add/bo_202: skipped, no feedback page") for line in problems)


def test_an_unknown_assignment_for_feedback_says_which_there_are(term, tmp_path):
    with pytest.raises(AutograderError, match="known: add"):
        export_feedback(term, "canvas", tmp_path, names=["nope"])


def test_export_for_an_lms_writes_the_table_its_review_and_the_feedback_zips(term, tmp_path):
    """What ``export --format moodle --feedback`` writes, in order, and what it skips."""
    from autograder.commands.export import export_for_lms

    problems: list[str] = []
    paths = export_for_lms(term, "moodle", tmp_path, problems=problems, feedback=True)
    assert [p.name for p in paths] == ["moodle.csv", "moodle-review.csv",
                                       "moodle-feedback-add.zip"]
    assert all(p.is_file() for p in paths)
    assert len([line for line in problems if ": skipped, " in line]) == 5
