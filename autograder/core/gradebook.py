"""The course's gradebook (nbgrader's): what ``grade`` writes to it.

The gradebook is an address (``course.gradebook_url``): SQLite ``grading/gradebook.db`` by
default, or a PostgreSQL server that formgrader, teaching assistants and several runs share.
Grades are computed in scratch courses (here or on a Dask cluster's workers) and then stored
by the one process that runs ``grade``, one submission at a time:

1. the submission's *result file* ``grading/results/<assignment>/<student>.json`` (the proof
   that it is graded, and the content hash of the notebook version it graded) is read, then
   removed;
2. its gradebook entry is updated in place, or created, in **one transaction** with every
   grade and comment (``store``: keyed by student and assignment; another writer racing to
   create the same entry makes it retry);
3. the autograded notebook is swapped into ``grading/autograded/<student>/<assignment>``;
4. the result file is written (atomically, by rename).

Step 2 stores the submission time (nbgrader's ``SubmittedAssignment.timestamp``; none when the
export gave none), and when the entry is late for the assignment's due date (or was penalised
before) nbgrader's own late penalty then runs on it, as the course configures it
(``core.late.apply``; before step 3, so a run killed meanwhile grades it again).

A run killed anywhere leaves the submission either graded (result file present, gradebook
entry complete) or not graded (no result file, and the entry as it was before, untouched,
or whole and new): the next run grades it again and updates the entry, so nothing is lost
and nothing is counted twice.

**A re-grade keeps what graders did** (``grade --force``, a new attempt collected): the
entry keeps its ids (formgrader's links to it), every manual score, extra credit and manual
comment, a grader's flag and an extension; the autograded scores and the autograder's note
(the ``auto_comment`` of the first solution cell: formgrader shows it in the comment box,
feedback shows it unless a grader wrote a comment there) are the new run's. Grades and
comments of cells the assignment no longer has are removed (``ensure_assignment`` removes
such cells, with their grades, when the source changes), those of new cells added.

When the notebook graded now is not the one the manual work was done on (its hash differs
from the previous result file's, or that file is gone: a run killed between steps 1 and 4),
the result is flagged with ``REVIEW`` and each manually scored grade is marked as needing
manual grading, as nbgrader itself does when it autogrades again: formgrader lists those
grades until a grader saves them again, and until then every re-grade flags the result.
A manual comment alone cannot be marked so: it flags the re-grade of a new version only.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import warnings
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from nbgrader.api import (
    Comment,
    Grade,
    Gradebook,
    InvalidEntry,
    MissingEntry,
    SubmittedAssignment,
    SubmittedNotebook,
    TaskCell,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from autograder.core import late
from autograder.core.course import ensure_bin_on_path
from autograder.core.types import Result, TestResult
from autograder.errors import AutograderError
from autograder.files import atomic_write
from autograder.settings import (
    COURSE_ID,
    autograded_dir,
    db_url,
    gradebook_file,
    grading_dir,
    results_dir,
)

ensure_bin_on_path()


class GradebookUnavailable(AutograderError):
    """The gradebook's database cannot be opened (a server down, a wrong address)."""


def result_file(root: Path, assignment: str, student: str) -> Path:
    return results_dir(root) / assignment / f"{student}.json"


def read_result(root: Path, assignment: str, student: str) -> Result | None:
    path = result_file(root, assignment, student)
    try:
        return Result.from_dict(json.loads(path.read_text()))
    except (FileNotFoundError, ValueError, TypeError):
        return None


def _cells(nb) -> list:
    """The grade, solution and task cells of the gradebook's notebook ``nb``."""
    return nb.grade_cells + nb.solution_cells + nb.task_cells


def _structure(db: str, assignment: str) -> set:
    """``assignment``'s cells in the gradebook ``db``: notebook, kind, name and points."""
    with Gradebook(db) as gb:
        try:
            a = gb.find_assignment(assignment)
        except MissingEntry:
            return set()
        return {(nb.name, type(c).__name__, c.name, float(getattr(c, "max_score", 0) or 0))
                for nb in a.notebooks for c in _cells(nb)}


def safe_url(db: str) -> str:
    """``db`` without its password, to be printed."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(db).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001  (not an address at all: say so as it is)
        return db


def check(db: str) -> None:
    """Open the gradebook at ``db`` once (creating nbgrader's tables in an empty database);
    GradebookUnavailable, saying what to do, when that fails."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Gradebook(db, COURSE_ID).close()
    except (SQLAlchemyError, ImportError, ValueError) as err:
        reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0][:200]
        raise GradebookUnavailable(
            f"cannot open the gradebook at {safe_url(db)} ({reason}): start the database "
            "server or fix the address (--db, or CourseDirectory.db_url in the course's "
            "nbgrader_config.py), e.g. postgresql://USER@HOST/DATABASE") from None


def ensure_assignment(root: Path, db: str, assignment: str, template: Path) -> None:
    """Make the course's gradebook ``db`` know ``assignment``'s notebooks and cells as the
    template's gradebook (written by ``nbgrader generate_assignment``) records them.

    A course with no SQLite gradebook yet starts from a copy of the template's: creating one
    from scratch runs alembic in a process of its own, seconds of work at the start of a run.
    """
    grading_dir(root).mkdir(parents=True, exist_ok=True)
    path = gradebook_file(root)
    if db == db_url(root) and not path.exists():
        atomic_write(path, gradebook_file(template).read_bytes())
        return
    check(db)
    if _structure(db, assignment) == _structure(db_url(template), assignment):
        return
    with Gradebook(db_url(template)) as src, Gradebook(db, COURSE_ID) as dst:
        dst.update_or_create_assignment(assignment)
        for nb in src.find_assignment(assignment).notebooks:
            dst.update_or_create_notebook(nb.name, assignment)
            for c in nb.grade_cells:
                dst.update_or_create_grade_cell(c.name, nb.name, assignment,
                                                max_score=c.max_score, cell_type=c.cell_type)
            for c in nb.solution_cells:
                dst.update_or_create_solution_cell(c.name, nb.name, assignment)
            for c in nb.task_cells:
                dst.update_or_create_task_cell(c.name, nb.name, assignment,
                                               max_score=c.max_score, cell_type=c.cell_type)
            for c in nb.source_cells:
                dst.update_or_create_source_cell(c.name, nb.name, assignment,
                                                 cell_type=c.cell_type, locked=c.locked,
                                                 source=c.source, checksum=c.checksum)
        _drop_gone_cells(dst, src, assignment)


def _drop_gone_cells(dst: Gradebook, src: Gradebook, assignment: str) -> None:
    """Remove from ``dst`` the cells of ``assignment`` that ``src`` (the template's gradebook)
    no longer has, with every learner's grade and comment on them, in one commit: a test taken
    out of the source no longer counts, for anyone."""
    def key(nb, cell) -> tuple[str, str, str]:
        return nb.name, type(cell).__name__, cell.name

    kept = {key(nb, c) for nb in src.find_assignment(assignment).notebooks
            for c in _cells(nb) + nb.source_cells}
    try:
        for nb in dst.find_assignment(assignment).notebooks:
            for cell in _cells(nb) + nb.source_cells:
                if key(nb, cell) not in kept:
                    for row in getattr(cell, "grades", []) + getattr(cell, "comments", []):
                        dst.db.delete(row)
                    dst.db.delete(cell)
        dst.db.commit()
    except BaseException:
        dst.db.rollback()
        raise


def zero_result(db: str, assignment: str, result: Result) -> Result:
    """``result`` with a zero for every test of ``assignment`` (a submission not graded)."""
    with Gradebook(db) as gb:
        cells = [(c.name, float(c.max_score)) for nb in gb.find_assignment(assignment).notebooks
                 for c in nb.grade_cells]
    why = "; ".join(result.flags) or "could not be graded"
    result.tests = [TestResult(name, 0.0, points, False, why) for name, points in cells]
    result.max_score = float(sum(points for _, points in cells))
    result.score, result.flagged = 0.0, True
    return result


def store(root: Path, db: str, assignment: str, student: str, graded_dir: Path | None,
          result: Result, attempts: int = 3) -> None:
    """Store one graded submission in the gradebook ``db`` (see the module docstring for the
    order of the steps and what a re-grade keeps). ``result`` gains the flag ``REVIEW`` when
    the entry's manual grades were given on another version of the notebook."""
    marker = result_file(root, assignment, student)
    previous = read_result(root, assignment, student)  # the version the entry was graded on
    marker.unlink(missing_ok=True)
    for attempt in range(attempts):
        try:
            late_notebooks = _update_entry(db, assignment, student, result, previous)
            break
        except (IntegrityError, InvalidEntry):  # another writer stored it meanwhile: again
            if attempt == attempts - 1:
                raise
    result.late_penalty = (late.apply(root, db, assignment, student, late_notebooks)
                           if late_notebooks else 0.0)
    _finish(root, assignment, student, graded_dir, result, marker)


_OPEN: dict[tuple[str, int], Gradebook] | None = None  # within ``writers()``: kept open
_OPEN_LOCK = threading.Lock()


@contextlib.contextmanager
def writers() -> Iterator[None]:
    """Within it, ``store`` keeps one open gradebook per address and thread (opening one,
    nbgrader checks every table and the course: more work than storing a submission); all
    are closed at the end. ``grade`` stores a whole run this way."""
    global _OPEN
    with _OPEN_LOCK:
        outer, _OPEN = _OPEN, _OPEN if _OPEN is not None else {}
    try:
        yield
    finally:
        if outer is None:
            with _OPEN_LOCK:
                for gb in _OPEN.values():
                    gb.close()
                _OPEN = None


@contextlib.contextmanager
def _writer(db: str) -> Iterator[Gradebook]:
    key = (db, threading.get_ident())
    with _OPEN_LOCK:
        cached = _OPEN.get(key) if _OPEN is not None else None
    if cached is not None:
        yield cached
        return
    gb = Gradebook(db, COURSE_ID)
    try:
        yield gb
    except BaseException:
        gb.close()
        raise
    with _OPEN_LOCK:
        if _OPEN is not None:
            _OPEN[key] = gb
            return
    gb.close()


def _forget(db: str, gb: Gradebook) -> None:
    """After a failed store: the next one opens the gradebook afresh."""
    with _OPEN_LOCK:
        if _OPEN is not None and _OPEN.get((db, threading.get_ident())) is gb:
            del _OPEN[(db, threading.get_ident())]
            gb.close()


REVIEW = "manually graded on an earlier version of this notebook: review the manual grades"


def _update_entry(db: str, assignment: str, student: str, result: Result,
                  previous: Result | None) -> list[str]:
    """Write ``result`` into ``student``'s entry of ``assignment`` (updated in place, or
    created), with its submission time, and commit once; on any failure roll back, so the
    entry stays as it was. The entry's notebooks when nbgrader's late penalty must run on it
    (``late.needs_penalty``), else ``[]``."""
    with _writer(db) as gb:
        try:
            gb.update_or_create_student(student)
            with gb.db.no_autoflush:  # read the old entry, change it, then one commit
                sub = _submission(gb, assignment, student)
                if _needs_review(sub, result, previous) and REVIEW not in result.flags:
                    result.flags.append(REVIEW)
                    result.flagged = True
                _fill(gb, sub, result, previous)
                sub.timestamp = (datetime.fromisoformat(result.submitted)
                                 if result.submitted else None)
                late_notebooks = ([nb.name for nb in sub.assignment.notebooks]
                                  if late.needs_penalty(sub) else [])
            gb.db.commit()
            return late_notebooks
        except BaseException:  # a racing writer, a lost server, an interrupt
            gb.db.rollback()
            _forget(db, gb)
            raise


def _submission(gb: Gradebook, assignment: str, student: str) -> SubmittedAssignment:
    """The entry of ``student``'s ``assignment``: the existing one, else a new one (added to
    the session, not committed)."""
    try:
        return gb.find_submission(assignment, student)
    except MissingEntry:
        sub = SubmittedAssignment(assignment=gb.find_assignment(assignment),
                                  student=gb.find_student(student))
        gb.db.add(sub)
        return sub


def _note(result: Result) -> str:
    """The autograder's note on a submission: its flags and repairs, or ``""``."""
    return "; ".join(result.flags + result.repairs)


def _flagged_by_grader(nb: SubmittedNotebook, previous: Result | None) -> bool:
    """Whether a grader flagged ``nb`` in formgrader (flagged, but not by the last run; when
    that run's result is gone, a flag is kept: it may be a grader's)."""
    return bool(nb.flagged) and (previous is None or not previous.flagged)


def _same_version(result: Result, previous: Result | None) -> bool:
    """Whether ``result`` graded the notebook ``previous`` graded (same content hash)."""
    return previous is not None and bool(result.digest) and previous.digest == result.digest


def _legacy_note(previous: Result | None) -> str | None:
    """The note as versions before this one wrote it, as a manual comment (not a grader's)."""
    return f"Autograder: {_note(previous)}" if previous is not None else None


def _needs_review(sub: SubmittedAssignment, result: Result, previous: Result | None) -> bool:
    """Whether the entry ``sub`` holds a grader's work done on another version of the notebook
    than ``result``'s, or manual grades marked for review and not yet saved again."""
    grades = [g for nb in sub.notebooks for g in nb.grades
              if g.manual_score is not None or g.extra_credit is not None]
    comments = [c for nb in sub.notebooks for c in nb.comments
                if c.manual_comment and c.manual_comment != _legacy_note(previous)]
    pending = any(g.needs_manual_grade for g in grades)
    return pending or (bool(grades or comments) and not _same_version(result, previous))


def _fill(gb: Gradebook, sub: SubmittedAssignment, result: Result,
          previous: Result | None) -> None:
    """Give ``sub`` one grade and comment per cell of its assignment, with ``result``'s
    autograded scores, note and flag; a grader's manual scores, extra credit, comments and
    flag are kept (see the module docstring)."""
    same = _same_version(result, previous)
    note = _note(result)
    auto = {t.name: t.points for t in result.tests}
    old = {nb.notebook_id: nb for nb in sub.notebooks}
    for notebook in sub.assignment.notebooks:
        nb = old.get(notebook.id)
        if nb is None:
            nb = _add(gb, SubmittedNotebook(notebook=notebook, assignment=sub))
        nb.flagged = result.flagged or _flagged_by_grader(nb, previous)
        grades = _by_cell(nb.grades)
        comments = _by_cell(nb.comments)
        for cell in notebook.grade_cells + notebook.task_cells:
            grade = grades.get(cell.id) or _add(gb, Grade(cell_id=cell.id, notebook=nb))
            task = isinstance(cell, TaskCell)
            grade.auto_score = None if task else auto.get(cell.name, 0.0)
            if grade.manual_score is None and grade.extra_credit is None:
                grade.needs_manual_grade = task or cell.cell_type == "markdown"
            elif not same:
                grade.needs_manual_grade = True  # review: graded by hand on another version
        for k, cell in enumerate(notebook.solution_cells + notebook.task_cells):
            comment = comments.get(cell.id) or _add(gb, Comment(cell_id=cell.id, notebook=nb))
            comment.auto_comment = f"Autograder: {note}" if note and k == 0 else None
            if comment.manual_comment is not None \
                    and comment.manual_comment == _legacy_note(previous):
                comment.manual_comment = None  # the note, where older versions wrote it


def _by_cell(rows: list) -> dict:
    """``rows`` (a submitted notebook's grades or comments) by cell id."""
    return {row.cell_id: row for row in rows}


def _add(gb: Gradebook, row):
    """``row``, added to the session."""
    gb.db.add(row)
    return row


def copy_plain_files(src: Path, dest: Path) -> None:
    """Copy the regular files of ``src`` (recursively) to ``dest``; links are never followed
    nor copied, so nothing a learner linked to can end up in the course's folders."""
    dest.mkdir(parents=True, exist_ok=True)
    for entry in os.scandir(src):
        if entry.is_symlink():
            continue
        if entry.is_dir(follow_symlinks=False):
            copy_plain_files(Path(entry.path), dest / entry.name)
        elif entry.is_file(follow_symlinks=False):
            shutil.copyfile(entry.path, dest / entry.name, follow_symlinks=False)


def _finish(root: Path, assignment: str, student: str, graded_dir: Path | None,
            result: Result, marker: Path) -> None:
    if graded_dir is not None and graded_dir.is_dir() and not graded_dir.is_symlink():
        dest = autograded_dir(root) / student / assignment
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{assignment}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        copy_plain_files(graded_dir, tmp)
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)
    marker.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(marker, json.dumps(result.to_dict(), indent=1))
