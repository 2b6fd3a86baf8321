"""The course's gradebook (nbgrader's): what ``grade`` writes to it.

The gradebook is an address (``course.gradebook_url``): SQLite ``grading/gradebook.db`` by
default, or a PostgreSQL server that formgrader, teaching assistants and several runs share.
Grades are computed in scratch courses (here or on a Dask cluster's workers) and then stored
by the one process that runs ``grade``, one submission at a time:

1. the submission's *result file* ``grading/results/<assignment>/<student>.json`` (the proof
   that it is graded) is removed;
2. its old gradebook entry is removed, and the new one written in **one transaction** with
   every grade and comment (``store``: keyed by student and assignment, so storing the same
   submission again replaces it; another writer racing on the same entry makes it retry);
3. the autograded notebook is swapped into ``grading/autograded/<student>/<assignment>``;
4. the result file is written (atomically, by rename).

A run killed anywhere leaves the submission either graded (result file present, gradebook
entry complete) or not graded (no result file): the next run grades it again and replaces
whatever half-written entry there was, so nothing is lost and nothing is counted twice.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

from nbgrader.api import (
    Comment,
    Grade,
    Gradebook,
    InvalidEntry,
    MissingEntry,
    SubmittedAssignment,
    SubmittedNotebook,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from autograder.core.course import ensure_bin_on_path
from autograder.core.types import Result, TestResult
from autograder.errors import AutograderError
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


def _structure(db: str, assignment: str) -> set:
    with Gradebook(db) as gb:
        try:
            a = gb.find_assignment(assignment)
        except MissingEntry:
            return set()
        return {(nb.name, c.name, float(c.max_score)) for nb in a.notebooks
                for c in nb.grade_cells}


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
        part = path.with_suffix(".db.part")
        shutil.copyfile(gradebook_file(template), part)
        os.replace(part, path)
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
    order of the steps)."""
    marker = result_file(root, assignment, student)
    marker.unlink(missing_ok=True)
    for attempt in range(attempts):
        try:
            _replace_entry(db, assignment, student, result)
            break
        except (IntegrityError, InvalidEntry):  # another writer stored it meanwhile: again
            if attempt == attempts - 1:
                raise
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


def _replace_entry(db: str, assignment: str, student: str, result: Result) -> None:
    with _writer(db) as gb:
        try:
            gb.update_or_create_student(student)
            try:
                gb.remove_submission(assignment, student)
            except MissingEntry:
                pass
            with gb.db.no_autoflush:  # build the whole submission, then one commit
                sub = _build(gb, assignment, student, result)
            gb.db.add(sub)
            gb.db.commit()
        except (IntegrityError, InvalidEntry):
            gb.db.rollback()
            _forget(db, gb)
            raise
        except BaseException:  # a lost server, an interrupt
            gb.db.rollback()
            _forget(db, gb)
            raise


def _build(gb: Gradebook, assignment: str, student: str,
           result: Result) -> SubmittedAssignment:
    note = "; ".join(result.flags + result.repairs)
    auto = {t.name: t.points for t in result.tests}
    sub = SubmittedAssignment(assignment=gb.find_assignment(assignment),
                              student=gb.find_student(student))
    for notebook in sub.assignment.notebooks:
        nb = SubmittedNotebook(notebook=notebook, assignment=sub,
                               flagged=result.flagged)
        for cell in notebook.grade_cells:
            Grade(cell_id=cell.id, notebook=nb, auto_score=auto.get(cell.name, 0.0),
                  needs_manual_grade=cell.cell_type == "markdown")
        for k, cell in enumerate(notebook.solution_cells):
            Comment(cell_id=cell.id, notebook=nb,
                    manual_comment=f"Autograder: {note}" if note and k == 0 else None)
        for cell in notebook.task_cells:
            Comment(cell_id=cell.id, notebook=nb)
            Grade(cell_id=cell.id, notebook=nb, needs_manual_grade=True)
    return sub


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
    part = marker.with_suffix(".part")
    part.write_text(json.dumps(result.to_dict(), indent=1))
    os.replace(part, marker)
