"""``export``: the grades as CSV, one row per learner and assignment, plus a per-test breakdown;
or, with ``--format canvas`` or ``moodle``, the table that LMS's gradebook imports.

``grades.csv`` has the columns of ``nbgrader export`` (one row per student and assignment, 0
for a missing submission), then ``status`` and ``reasons``; ``tests.csv`` has one row per
student, assignment and test: the automatic and manual points, the points that count, the
maximum, and whether the submission is flagged.

**Status and reasons** (``review``): ``graded``; ``flagged`` (for review in formgrader), the
reasons being the flags of ``grade``'s result file (``grading/results/<assignment>/
<student>.json``: "cell 12 timed out"), else the autograder's note in the gradebook, else
"flagged by a grader in formgrader"; a graded or flagged submission whose notebook in
``grading/submitted/`` is not the one graded (by the content hash ``grade`` records: the
attempt collected since was not graded) says so in its reasons; ``not graded``: collected
(a notebook in ``grading/submitted/<student>/<assignment>/``) but with no grade, for a
failure of the grading machine (the reason ``grade`` logged, ``grading/logs/grade-
<assignment>.log``) or because ``grade`` has not run since: its scores are left empty, never
a 0 that looks like a grade; ``not submitted``: nothing collected (score 0, as nbgrader
exports it, and the status says why). A learner collected but never graded, so not in the
gradebook, has rows too.

Both are written here with Python's csv module, in UTF-8, one learner at a time: a name with
commas, quotes, newlines or any script is quoted, not split; a text cell that a spreadsheet
would run as a formula (``=``, ``+``, ``-``, ``@``, tab, carriage return first) is prefixed
with ``'``; and a learner whose rows cannot be read or written is one line in ``problems``
while every other learner is exported.

``export_lms`` writes ``canvas.csv`` or ``moodle.csv`` (``core.lms`` says what each LMS reads):
one row per learner of the gradebook, one column per assignment, the score that counts (late
penalty taken off), and a learner who never submitted left without a score (not 0). The
reasons go beside it, in ``canvas-review.csv`` or ``moodle-review.csv``, not in it: Canvas's
importer reads every column after ``Section`` that is neither one of its own nor a custom
column of the course as an assignment, and would create one named "reasons" (``GradebookImporter
#parse_assignments``); Moodle's import form would offer it for mapping (it defaults to "Ignore",
and the existing tests of the table fix its columns). The review file has the table's own
identifying columns (so the learner is found in the LMS as the import finds them), then the
assignment, status, score and reasons of each submission that is not plainly graded:
flagged, not graded, not submitted, graded on an earlier attempt than the one collected, and
each learner collected but not in the gradebook.

``export_feedback`` writes each assignment's feedback pages as the zip the LMS's bulk feedback
upload reads (``core.lms_feedback``).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from autograder.core import lms, lms_feedback
from autograder.core.course import gradebook_url
from autograder.core.gradebook import check, read_result
from autograder.errors import AutograderError
from autograder.settings import export_dir, feedback_dir, logs_dir, submitted_dir

GRADE_COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
                 "email", "raw_score", "late_submission_penalty", "score", "max_score",
                 "status", "reasons"]
SCORE_FIELDS = ("raw_score", "late_submission_penalty", "score")  # empty when not graded
GRADED, FLAGGED, NOT_GRADED, NOT_SUBMITTED = "graded", "flagged", "not graded", "not submitted"
MAX_LOG_BYTES = 8 * 2**20  # of the end of a grade log read for why a learner was not graded
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


@dataclass(frozen=True)
class Person:
    """A learner collected but not in the gradebook (never graded): the fields of nbgrader's
    ``Student`` that the exports read."""

    id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    lms_user_id: str | None = None


@dataclass(frozen=True)
class Review:
    """Where a submission stands (``status``) and why (``reasons``), for the lecturer."""

    status: str
    reasons: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return "; ".join(self.reasons)


def collected(root: Path, student: str, assignment: str) -> bool:
    """Whether ``collect`` put a notebook of ``student`` for ``assignment`` in
    grading/submitted/."""
    folder = submitted_dir(root) / student / assignment
    return folder.is_dir() and any(folder.glob("*.ipynb"))


def collected_learners(root: Path) -> set[str]:
    """The student ids with a folder in grading/submitted/."""
    base = submitted_dir(root)
    return {p.name for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")
            } if base.is_dir() else set()


def not_graded_reason(root: Path, student: str, assignment: str) -> str:
    """Why ``grade`` left ``student``'s collected ``assignment`` without a grade: the last
    "not graded" line of its log for them, else that grade has not run since collect."""
    log = logs_dir(root) / f"grade-{assignment}.log"
    marker = f"not graded {student}: "
    if log.is_file():
        with open(log, "rb") as f:
            f.seek(max(0, log.stat().st_size - MAX_LOG_BYTES))
            lines = f.read().decode("utf-8", "replace").splitlines()
        for line in reversed(lines):
            if line.startswith(marker):
                return f"not graded: {line[len(marker):]}"
    return ("collected, no grade yet: run python -m autograder grade "
            f"{assignment} --student {student}")


def _note(sub) -> str:
    """The autograder's note the gradebook holds for ``sub`` (``core.gradebook._fill``)."""
    for nb in sub.notebooks:
        for c in nb.comments:
            if c.auto_comment and c.auto_comment.startswith("Autograder: "):
                return c.auto_comment.removeprefix("Autograder: ")
    return ""


def review(root: Path, gb: Gradebook, assignment: str, student: str,
           digests: dict[str, dict[str, str]] | None = None) -> Review:
    """Where ``student``'s ``assignment`` stands and why (see the module docstring).
    ``digests``: a cache of ``submitted_digests`` by assignment, kept for one export."""
    try:
        sub = gb.find_submission(assignment, student)
    except MissingEntry:
        if collected(root, student, assignment):
            return Review(NOT_GRADED, (not_graded_reason(root, student, assignment),))
        return Review(NOT_SUBMITTED)
    result = read_result(root, assignment, student)
    cache = digests if digests is not None else {}
    if assignment not in cache:
        cache[assignment] = submitted_digests(root, assignment)
    newer = tuple(why for why in [stale(root, assignment, student, result,
                                        cache[assignment].get(student))] if why)
    if not any(nb.flagged for nb in sub.notebooks):
        return Review(GRADED, newer)
    if result is not None and result.flagged and result.flags:
        return Review(FLAGGED, (*(str(f) for f in result.flags), *newer))
    note = _note(sub) if result is None else ""
    return Review(FLAGGED, (note or "flagged by a grader in formgrader", *newer))


def submitted_digests(root: Path, assignment: str) -> dict[str, str]:
    """Student id -> the content hash ``grade`` records of the notebook it would grade now in
    grading/submitted/ (``core.scheduler.find_submissions``); {} when this course has no
    source of ``assignment``."""
    from autograder.core.scheduler import find_submissions

    try:
        return {p.student: p.digest for p in find_submissions(root, assignment)}
    except (AutograderError, OSError):
        return {}


def stale(root: Path, assignment: str, student: str, result, digest: str | None) -> str:
    """Why the score is an earlier attempt's: the notebook in grading/submitted/ (``digest``)
    is not the one ``result`` graded, as when grading the attempt collected since failed;
    "" otherwise (or when either hash is unknown)."""
    if result is None or not result.digest or not digest or digest == result.digest:
        return ""
    why = not_graded_reason(root, student, assignment)
    return f"this score is an earlier attempt's: the notebook collected since is {why}"


def reviewed_rows(root: Path, gb: Gradebook, assignment, student,
                  digests: dict[str, dict[str, str]] | None = None) -> list[list]:
    """The grades.csv rows of ``student`` for ``assignment`` with their status and reasons;
    the scores of a submission not graded are left empty."""
    said = review(root, gb, assignment.name, str(student.id), digests)
    rows = []
    for row in grade_rows(gb, assignment, student):
        if said.status == NOT_GRADED:
            row = [None if GRADE_COLUMNS[k] in SCORE_FIELDS else v for k, v in enumerate(row)]
        rows.append([*row, said.status, said.text])
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
        students = sorted(everyone(root, gb), key=lambda s: str(s.id))
        digests: dict[str, dict[str, str]] = {}
        with open(grades, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(GRADE_COLUMNS)
            for assignment in assignments:
                _write_each(writer, students,
                            lambda s, a=assignment: reviewed_rows(root, gb, a, s, digests),
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


def everyone(root: Path, gb: Gradebook) -> list:
    """The gradebook's students, and a Person for each learner collected but not in it."""
    students = list(gb.students)
    known = {str(s.id) for s in students}
    return students + [Person(sid) for sid in sorted(collected_learners(root) - known)]


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
    (default grading/export): the table that LMS imports, one row per learner; and beside it
    ``<fmt>-review.csv`` (``review_path``), each submission not plainly graded with why.

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
        learners, scores, reviews, digests = [], {}, [], {}
        for student in sorted(everyone(root, gb), key=lambda s: str(s.id)):
            try:
                who = lms.learner(student, records.get(str(student.id), {}))
                scores[who.student_id] = {name: submission_score(gb, name, who.student_id)
                                          for name, _ in assignments}
                said = {name: review(root, gb, name, who.student_id, digests)
                        for name, _ in assignments}
            except Exception as err:  # noqa: BLE001  (one learner's data must not stop the rest)
                found.append(f"{cell(student.id)!s:.80}: not exported "
                             f"({type(err).__name__}: {err})"[:500])
                continue
            reviews += [lms.Reviewed(who, name, said[name].status, said[name].text,
                                     scores[who.student_id][name])
                        for name, _ in assignments
                        if said[name].status != GRADED or said[name].reasons]
            if isinstance(student, Person):  # collected, never graded: in the review only
                continue
            learners.append(who)
            found += [why for why in [lms.unmatched(fmt, who)] if why]
        path = lms.write_table(dest / f"{fmt}.csv", fmt, lms.ROWS[fmt](
            assignments, learners, lambda who, name: scores[who.student_id][name], cell))
        lms.write_table(review_path(dest, fmt), fmt, lms.review_rows(fmt, reviews, cell))
    if problems is not None:
        problems += found
    elif found:
        raise ExportIncomplete(f"wrote {path}, with {len(found)} problem(s):\n" + "\n".join(found))
    return path


def review_path(dest: Path, fmt: str) -> Path:
    """The review file ``export_lms`` writes beside ``<fmt>.csv``."""
    return Path(dest) / f"{fmt}-review.csv"


def export_feedback(root: Path, fmt: str, dest: Path | None = None,
                    names: list[str] | None = None, db: str | None = None,
                    problems: list[str] | None = None) -> list[Path]:
    """Write, for each assignment of ``names`` (default: every assignment of the gradebook
    ``db``), ``<fmt>-feedback-<assignment>.zip`` into ``dest`` (default grading/export): the
    feedback pages of ``grading/feedback/`` named for ``fmt``'s bulk feedback upload
    (``core.lms_feedback``). Each learner of the gradebook with a submission, or with a
    feedback page, is packed or listed in ``problems`` as skipped with why (without
    ``problems``, skipped learners raise ExportIncomplete once every zip is written)."""
    if fmt not in lms_feedback.FORMATS:
        raise AutograderError(f"unknown LMS format {fmt!r}: use one of {', '.join(lms.FORMATS)}")
    db = gradebook_url(root, db)
    check(db)
    dest = Path(dest or export_dir(root))
    found: list[str] = []
    paths: list[Path] = []
    with Gradebook(db) as gb:
        known = sorted(a.name for a in gb.assignments)
        for name in names or known:
            if name not in known:
                raise AutograderError(f"no assignment named {name!r} in the gradebook "
                                      f"(known: {', '.join(known) or 'none'})")
            learners = {str(sub.student.id): (sub.student.first_name or "",
                                              sub.student.last_name or "")
                        for sub in gb.find_assignment(name).submissions}
            learners |= {sid: (sid, "") for sid in _with_pages(root, name)
                         if sid not in learners}
            packed = lms_feedback.pack(root, fmt, name, learners, dest)
            found += packed.skipped
            paths += [packed.path] if packed.path is not None else []
    if problems is not None:
        problems += found
    elif found:
        raise ExportIncomplete(f"wrote {len(paths)} zip(s), skipping {len(found)} "
                               "learner(s):\n" + "\n".join(found))
    return paths


def _with_pages(root: Path, assignment: str) -> set[str]:
    """Learners with a feedback folder for ``assignment``."""
    base = feedback_dir(root)
    return {p.parent.name for p in base.glob(f"*/{assignment}")
            if not p.parent.name.startswith(("_", ".")) and p.is_dir()} if base.is_dir() else set()


def export_for_lms(root: Path, fmt: str, dest: Path | None = None, db: str | None = None,
                   problems: list[str] | None = None, feedback: bool = False) -> list[Path]:
    """``export --format canvas|moodle [--feedback]``: the LMS's table and its review file
    (``export_lms``), then, with ``feedback``, each assignment's feedback zip
    (``export_feedback``); the paths written, in that order."""
    table = export_lms(root, fmt, dest, db=db, problems=problems)
    paths = [table, review_path(table.parent, fmt)]
    if feedback:
        paths += export_feedback(root, fmt, dest, db=db, problems=problems)
    return paths
