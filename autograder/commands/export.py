"""``export``: the grades as CSV, one row per learner and assignment, plus a per-test breakdown;
or, with ``--format canvas`` or ``moodle``, the table that LMS's gradebook imports.

``grades.csv`` has the columns of ``nbgrader export`` (one row per student and assignment, 0
for a missing submission); ``tests.csv`` has one row per student, assignment and test: the
automatic and manual points, the points that count, the maximum, and whether the submission
is flagged.

Both are written here with Python's csv module, in UTF-8, one learner at a time: a name with
commas, quotes, newlines or any script is quoted, not split; a text cell that a spreadsheet
would run as a formula (``=``, ``+``, ``-``, ``@``, tab, carriage return first) is prefixed
with ``'``; and a learner whose rows cannot be read or written is one line in ``problems``
while every other learner is exported.

``export_lms`` writes ``canvas.csv`` or ``moodle.csv`` (``core.lms`` says what each LMS reads):
one row per learner of the gradebook, one column per assignment, the score that counts (late
penalty taken off), and a learner who never submitted left without a score (not 0).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from autograder.core import lms
from autograder.core.course import gradebook_url
from autograder.core.gradebook import check
from autograder.errors import AutograderError
from autograder.settings import export_dir

GRADE_COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
                 "email", "raw_score", "late_submission_penalty", "score", "max_score"]
TEST_COLUMNS = ["student", "assignment", "notebook", "test", "points", "max_points",
                "auto_score", "manual_score", "flagged"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_CELL = 1000  # characters of one text cell: a name or an id, never a document


class ExportIncomplete(AutograderError):
    """Some learners could not be exported (the others were)."""


def cell(value: object) -> str | int | float:
    """One CSV cell: numbers as numbers (a non-finite one empty), None empty, text as text
    that no spreadsheet runs as a formula, at most MAX_CELL characters."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value if math.isfinite(value) else ""
    text = str(value)[:MAX_CELL]
    return "'" + text if text.startswith(FORMULA_START) else text


def grade_rows(gb: Gradebook, assignment, student) -> list[list]:
    """The grades.csv row of ``student`` for ``assignment`` (nbgrader export's columns)."""
    try:
        sub = gb.find_submission(assignment.name, student.id)
    except MissingEntry:
        timestamp, raw, penalty = None, 0.0, 0.0
    else:
        timestamp, raw = sub.timestamp, sub.score
        penalty = sub.late_submission_penalty or 0.0
    score = max(0.0, raw - penalty) if isinstance(raw, (int, float)) else None
    return [[assignment.name, assignment.duedate, timestamp, student.id, student.last_name,
             student.first_name, student.email, raw, penalty, score, assignment.max_score]]


def per_test_rows(sub) -> list[list]:
    """The tests.csv rows of one submission: one per graded test of each notebook."""
    rows = []
    for nb in sub.notebooks:
        for g in sorted(nb.grades, key=lambda g: g.name):
            rows.append([sub.student.id, sub.assignment.name, nb.name, g.name, g.score,
                         g.max_score, g.auto_score, g.manual_score, bool(nb.flagged)])
    return rows


def _write_each(writer, items: Iterable, rows: Callable[[object], list[list]],
                name: Callable[[object], str], problems: list[str]) -> None:
    """Write the rows of each item; an item whose rows fail is reported, not written."""
    for item in items:
        try:
            lines = [[cell(v) for v in row] for row in rows(item)]
            buffer = io.StringIO()
            csv.writer(buffer).writerows(lines)  # all of a learner's rows, or none
        except Exception as err:  # noqa: BLE001  (one learner's data must not stop the rest)
            problems.append(f"{name(item)}: not exported ({type(err).__name__}: {err})"[:500])
            continue
        writer.writerows(lines)


def _label(student_id: object, assignment: str) -> str:
    return f"{assignment}/{cell(student_id)!s:.80}"


def export(root: Path, dest: Path | None = None, db: str | None = None,
           problems: list[str] | None = None) -> tuple[Path, Path]:
    """Write ``grades.csv`` and ``tests.csv`` of the gradebook ``db`` (default: the course's,
    SQLite or PostgreSQL) into ``dest`` (default grading/export).

    A learner whose rows cannot be read or written is one line in ``problems`` and every other
    learner is exported; without ``problems``, they raise ExportIncomplete once both files are
    written.
    """
    db = gradebook_url(root, db)
    check(db)
    dest = Path(dest or export_dir(root))
    dest.mkdir(parents=True, exist_ok=True)
    grades, tests = dest / "grades.csv", dest / "tests.csv"
    found: list[str] = []
    with Gradebook(db) as gb:
        assignments = sorted(gb.assignments, key=lambda a: a.name)
        students = sorted(gb.students, key=lambda s: str(s.id))
        with open(grades, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(GRADE_COLUMNS)
            for assignment in assignments:
                _write_each(writer, students,
                            lambda s, a=assignment: grade_rows(gb, a, s),
                            lambda s, a=assignment: _label(s.id, a.name), found)
        with open(tests, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(TEST_COLUMNS)
            for assignment in assignments:
                subs = sorted(assignment.submissions, key=lambda s: str(s.student.id))
                _write_each(writer, subs, per_test_rows,
                            lambda s, a=assignment: _label(s.student.id, a.name), found)
    if problems is not None:
        problems += found
    elif found:
        raise ExportIncomplete(f"wrote {grades} and {tests}, without {len(found)} learner "
                               "row(s):\n" + "\n".join(found))
    return grades, tests


def submission_score(gb: Gradebook, assignment: str, student: str) -> float | None:
    """The score that counts of ``student``'s ``assignment`` (late penalty taken off), None
    when they never submitted it."""
    try:
        sub = gb.find_submission(assignment, student)
    except MissingEntry:
        return None
    return max(0.0, float(sub.score) - float(sub.late_submission_penalty or 0.0))


def export_lms(root: Path, fmt: str, dest: Path | None = None, db: str | None = None,
               problems: list[str] | None = None) -> Path:
    """Write ``<fmt>.csv`` (``canvas`` or ``moodle``) of the gradebook ``db`` into ``dest``
    (default grading/export): the table that LMS imports, one row per learner.

    A learner whose scores cannot be read is left out, a learner the LMS cannot match (no id,
    no email) is written; each is one line in ``problems`` (without ``problems``, they raise
    ExportIncomplete once the file is written).
    """
    if fmt not in lms.FORMATS:
        raise AutograderError(f"unknown LMS format {fmt!r}: use one of {', '.join(lms.FORMATS)}")
    db = gradebook_url(root, db)
    check(db)
    dest = Path(dest or export_dir(root))
    dest.mkdir(parents=True, exist_ok=True)
    found: list[str] = []
    records = lms.read_records(root, found)
    with Gradebook(db) as gb:
        assignments = [(a.name, float(a.max_score))
                       for a in sorted(gb.assignments, key=lambda a: a.name)]
        learners, scores = [], {}
        for student in sorted(gb.students, key=lambda s: str(s.id)):
            try:
                who = lms.learner(student, records.get(str(student.id), {}))
                scores[who.student_id] = {name: submission_score(gb, name, who.student_id)
                                          for name, _ in assignments}
            except Exception as err:  # noqa: BLE001  (one learner's data must not stop the rest)
                found.append(f"{cell(student.id)!s:.80}: not exported "
                             f"({type(err).__name__}: {err})"[:500])
                continue
            learners.append(who)
            found += [why for why in [lms.unmatched(fmt, who)] if why]
        path = lms.write_table(dest / f"{fmt}.csv", fmt, lms.ROWS[fmt](
            assignments, learners, lambda who, name: scores[who.student_id][name], cell))
    if problems is not None:
        problems += found
    elif found:
        raise ExportIncomplete(f"wrote {path}, with {len(found)} problem(s):\n" + "\n".join(found))
    return path
