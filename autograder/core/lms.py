"""The grade tables Canvas and Moodle import: one row per learner, one column per assignment.

**Canvas** (gradebook "Import", read by canvas-lms's ``GradebookImporter``): the header is
``Student, ID, SIS User ID, SIS Login ID, Section`` and then one column per assignment; the
second row has ``Points Possible`` in the Student column and each assignment's maximum under
it. Canvas finds a learner by ``ID`` (its user id), else ``SIS User ID``, else ``SIS Login ID``,
else by name (``Student``: "Last, First", as Canvas sorts names); it matches an assignment
column to an existing assignment titled the same ("Name" or "Name (canvas id)"), else creates
one. A blank cell is "no score" (the importer's ``no_score?``: blank or ``-``), which is how a
learner who never submitted is written; a submission graded 0 is ``0``. The file starts with
a UTF-8 byte-order mark, for Excel, which without it reads accents in the system's legacy
code page when a lecturer opens the file to check it; Canvas's importer is not disturbed by
it, since it only checks that the first header *contains* ``Student``
(``row_has_student_headers?``).

**Moodle** (Grades > Import > CSV file, ``gradeimport_csv``): a header row and one row per
learner; the import form maps one column to the user ("Map from" ``ID number`` or ``Email
address``, "Map to" useridnumber or useremail) and each assignment column to a grade item or
to a new one. A learner who never submitted is ``-``: Moodle reads ``-`` as "no grade" both for
an existing item (``''`` or ``-``) and for a new one (only ``-``; an empty cell there would be
written as a grade). Plain UTF-8, Moodle's default encoding on its import form, with no
byte-order mark.

**Where the LMS ids come from** (the contract read, each field optional):

* the gradebook's students table (nbgrader's ``Student``): ``first_name``, ``last_name``,
  ``email``, ``lms_user_id`` (the Canvas user id, as a roster import writes it);
* ``grading/submitted/.learners.json`` (``core.learners.Registry``), ``learners`` ->
  student id -> ``{"identity": "<source>:<key>", "name": ...}``: an identity ``canvas:<key>``
  is the learner's Canvas user id, as is ``lms.canvas_id`` (what ``collect`` records). Any
  of the string fields ``canvas_id``, ``sis_user_id``, ``sis_login_id``, ``id_number``,
  ``email``, ``section`` on the entry, or in its ``lms`` object, is read too (a roster's
  ids); the gradebook's value wins where both exist. Moodle's participant id
  (``lms.moodle_participant_id``) is the assignment's number for the learner, not one
  Moodle's grade import can match, so it is not used.

A record that is missing is no identifier; a damaged one is reported and ignored, and the
export goes on with the gradebook's fields.

**The review file** (``<fmt>-review.csv``, ``review_rows``): the reasons a submission is
flagged or not graded cannot be a column of either table. Canvas's importer takes every
header after ``Section`` that is not one of its own (``GRADEBOOK_IMPORTER_RESERVED_NAMES``,
``NON_ASSIGNMENT_COLUMN_HEADERS``) nor the exact title of a custom column of the course for an
assignment (``parse_assignments``: ``Assignment.new(title: ...)``), so a "reasons" column
would create an assignment and import each reason as its grade. Moodle's mapping form offers
each column for mapping, "Ignore" first (``grade_import_mapping_form``); it would be safe
there, but one wrong choice (mapping it to a grade item) fails the import on text
(``gradeimport_csv_load_data::update_grade_item``: ``badgrade``). So each table stays exactly
what the LMS reads (canvas-lms ``app/models/gradebook_importer.rb``; Moodle
``grade/import/csv/classes/load_data.php``, ``grade/import/grade_import_form.php``), and the
review file beside it repeats the table's identifying columns (the learner is found as the
import finds them) and adds the assignment, status (flagged, not graded, not submitted),
score and reasons.

Every text cell goes through ``cell`` (``commands.export``): a name a spreadsheet would run
as a formula is written as text.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from autograder.settings import submitted_dir

FORMATS = ("canvas", "moodle")
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS_ROW = "Points Possible"
MOODLE_COLUMNS = ["First name", "Last name", "ID number", "Email address"]
NOT_SUBMITTED = {"canvas": "", "moodle": "-"}
ENCODING = {"canvas": "utf-8-sig", "moodle": "utf-8"}  # utf-8-sig: with the byte-order mark
RECORD_FIELDS = ("canvas_id", "sis_user_id", "sis_login_id", "id_number", "email", "section")


@dataclass(frozen=True)
class Learner:
    """A learner as the LMS tables need them; "" where nothing is known."""

    student_id: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    canvas_id: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    id_number: str = ""
    section: str = ""

    @property
    def institution_id(self) -> str:
        """Moodle's ID number: the learner's own, else Canvas's SIS User ID (the same id of the
        institution, as a roster import matches them)."""
        return self.id_number or self.sis_user_id

    @property
    def sortable_name(self) -> str:
        """"Last, First" as Canvas lists names; the student id when no name is known."""
        parts = [p for p in (self.last_name, self.first_name) if p]
        return ", ".join(parts) or self.student_id


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def read_records(root: Path, problems: list[str]) -> dict[str, dict[str, str]]:
    """Student id -> the LMS fields ``.learners.json`` holds (see the module docstring)."""
    path = submitted_dir(root) / ".learners.json"
    if not path.is_file():
        return {}
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["learners"]
        if not isinstance(entries, dict):
            raise TypeError("'learners' is not an object")
    except (ValueError, KeyError, TypeError) as err:
        problems.append(f"{path} is damaged ({type(err).__name__}: {err}); its LMS ids were "
                        "not used: restore it from a backup")
        return {}
    records = {}
    for sid, entry in entries.items():
        if not isinstance(entry, dict):
            continue
        fields = {**entry, **(entry.get("lms") if isinstance(entry.get("lms"), dict) else {})}
        record = {k: _text(fields.get(k)) for k in RECORD_FIELDS}
        source, _, key = _text(entry.get("identity")).partition(":")
        if source == "canvas" and key and not record["canvas_id"]:
            record["canvas_id"] = key
        records[str(sid)] = record
    return records


def learner(student, record: Mapping[str, str]) -> Learner:
    """The learner of a gradebook ``student``, completed from their ``.learners.json`` record."""
    from_record = Learner(str(student.id), **{k: record.get(k, "") for k in RECORD_FIELDS})
    return replace(from_record, first_name=_text(student.first_name),
                   last_name=_text(student.last_name),
                   email=_text(student.email) or from_record.email,
                   canvas_id=_text(getattr(student, "lms_user_id", None))
                   or from_record.canvas_id)


Cell = Callable[[object], object]
Score = float | None  # None: never submitted


def canvas_rows(assignments: list[tuple[str, float]], learners: Iterable[Learner],
                score: Callable[[Learner, str], Score], cell: Cell) -> Iterable[list]:
    """Canvas's gradebook import: the header, the Points Possible row, one row per learner."""
    yield CANVAS_COLUMNS + [cell(name) for name, _ in assignments]
    yield [CANVAS_POINTS_ROW, "", "", "", ""] + [points for _, points in assignments]
    for who in learners:
        scores = [score(who, name) for name, _ in assignments]
        yield [cell(v) for v in (who.sortable_name, who.canvas_id, who.sis_user_id,
                                 who.sis_login_id, who.section)] + [
            NOT_SUBMITTED["canvas"] if s is None else cell(s) for s in scores]


def moodle_rows(assignments: list[tuple[str, float]], learners: Iterable[Learner],
                score: Callable[[Learner, str], Score], cell: Cell) -> Iterable[list]:
    """Moodle's grade import: the header, one row per learner."""
    yield MOODLE_COLUMNS + [cell(name) for name, _ in assignments]
    for who in learners:
        scores = [score(who, name) for name, _ in assignments]
        yield [cell(v) for v in (who.first_name, who.last_name, who.institution_id, who.email)] + [
            NOT_SUBMITTED["moodle"] if s is None else cell(s) for s in scores]


ROWS = {"canvas": canvas_rows, "moodle": moodle_rows}


REVIEW_COLUMNS = ["Assignment", "Status", "Score", "Reasons"]


@dataclass(frozen=True)
class Reviewed:
    """A submission that is not plainly graded: its status, why, and the score imported."""

    who: Learner
    assignment: str
    status: str
    reasons: str
    score: Score


def review_rows(fmt: str, reviews: Iterable[Reviewed], cell: Cell) -> Iterable[list]:
    """The review file beside ``<fmt>.csv``: the table's identifying columns (Canvas's
    Student to Section, Moodle's names, ID number and email), then assignment, status,
    score and reasons."""
    ids = CANVAS_COLUMNS if fmt == "canvas" else MOODLE_COLUMNS
    yield ids + REVIEW_COLUMNS
    for r in reviews:
        who = r.who
        known = ((who.sortable_name, who.canvas_id, who.sis_user_id, who.sis_login_id,
                  who.section) if fmt == "canvas"
                 else (who.first_name, who.last_name, who.institution_id, who.email))
        yield [cell(v) for v in (*known, r.assignment, r.status, r.score, r.reasons)]


def unmatched(fmt: str, who: Learner) -> str | None:
    """Why the LMS could not find ``who`` in the table, or None."""
    if fmt == "moodle" and not (who.institution_id or who.email):
        return (f"{who.student_id}: no ID number or email, so Moodle cannot match this row: "
                "import the Moodle roster (python -m autograder roster import FILE)")
    if fmt == "canvas" and not (who.canvas_id or who.sis_user_id or who.sis_login_id
                                or who.first_name or who.last_name):
        return (f"{who.student_id}: no Canvas id and no name, so Canvas cannot match this "
                "row: import the Canvas roster (python -m autograder roster import FILE)")
    return None


def write_table(path: Path, fmt: str, rows: Iterable[list]) -> Path:
    """Write ``rows`` as the CSV file of ``fmt`` (encoding as the module docstring says)."""
    with open(path, "w", newline="", encoding=ENCODING[fmt]) as f:
        csv.writer(f).writerows(rows)
    return path
