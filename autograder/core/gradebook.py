"""The course's gradebook (``grading/gradebook.db``, nbgrader's): what ``grade`` writes to it.

Grades are computed in scratch courses and then stored here, one submission at a time:

1. the submission's *result file* ``grading/results/<assignment>/<student>.json`` (the proof
   that it is graded) is removed;
2. its old gradebook entry is removed, and the new one written in **one transaction** with
   every grade and comment;
3. the autograded notebook is swapped into ``grading/autograded/<student>/<assignment>``;
4. the result file is written (atomically, by rename).

A run killed anywhere leaves the submission either graded (result file present, gradebook
entry complete) or not graded (no result file): the next run grades it again and replaces
whatever half-written entry there was, so nothing is lost and nothing is counted twice.

The result files and autograded folders are all a gradebook entry is built from, so results
graded on other machines (each with its own copy of the course and a share of the
submissions) are brought into this gradebook with ``merge``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from nbgrader.api import (
    Comment,
    Grade,
    Gradebook,
    MissingEntry,
    SubmittedAssignment,
    SubmittedNotebook,
)

from autograder.core.course import ensure_bin_on_path
from autograder.core.types import Result
from autograder.settings import (
    COURSE_ID,
    autograded_dir,
    db_url,
    gradebook_file,
    grading_dir,
    results_dir,
)

ensure_bin_on_path()


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


def ensure_assignment(root: Path, assignment: str, template: Path) -> None:
    """Make the course's gradebook know ``assignment``'s notebooks and cells as the template's
    gradebook (written by ``nbgrader generate_assignment``) records them.

    A course with no gradebook yet starts from a copy of the template's: creating one from
    scratch runs alembic in a process of its own, seconds of work at the start of a run.
    """
    grading_dir(root).mkdir(parents=True, exist_ok=True)
    path = gradebook_file(root)
    if not path.exists():
        part = path.with_suffix(".db.part")
        shutil.copyfile(gradebook_file(template), part)
        os.replace(part, path)
        return
    if _structure(db_url(root), assignment) == _structure(db_url(template), assignment):
        return
    with Gradebook(db_url(template)) as src, Gradebook(db_url(root), COURSE_ID) as dst:
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


def zero_result(root: Path, assignment: str, result: Result) -> Result:
    """``result`` with a zero for every test of ``assignment`` (a submission not graded)."""
    from autograder.core.types import TestResult

    with Gradebook(db_url(root)) as gb:
        cells = [(c.name, float(c.max_score)) for nb in gb.find_assignment(assignment).notebooks
                 for c in nb.grade_cells]
    why = "; ".join(result.flags) or "could not be graded"
    result.tests = [TestResult(name, 0.0, points, False, why) for name, points in cells]
    result.max_score = float(sum(points for _, points in cells))
    result.score, result.flagged = 0.0, True
    return result


def store(root: Path, assignment: str, student: str, graded_dir: Path | None,
          result: Result) -> None:
    """Store one graded submission (see the module docstring for the order of the steps)."""
    marker = result_file(root, assignment, student)
    marker.unlink(missing_ok=True)
    with Gradebook(db_url(root), COURSE_ID) as gb:
        gb.update_or_create_student(student)
        try:
            gb.remove_submission(assignment, student)
        except MissingEntry:
            pass
        with gb.db.no_autoflush:  # build the whole submission, then one commit
            sub = _build(gb, assignment, student, result)
        gb.db.add(sub)
        gb.db.commit()
    _finish(root, assignment, student, graded_dir, result, marker)


def merge(root: Path, other: Path) -> list[str]:
    """Store into ``root``'s gradebook every result graded in the course copy ``other`` (e.g.
    on another machine): its grading/results/ and grading/autograded/ folders. Returns the
    ``assignment/student`` names merged."""
    from autograder.core.template import template_course

    merged, known = [], set()
    for path in sorted(results_dir(other).glob("*/*.json")):
        assignment, student = path.parent.name, path.stem
        if assignment not in known:
            ensure_assignment(root, assignment, template_course(root, assignment))
            known.add(assignment)
        result = Result.from_dict(json.loads(path.read_text()))
        graded = autograded_dir(other) / student / assignment
        store(root, assignment, student, graded if graded.is_dir() else None, result)
        merged.append(f"{assignment}/{student}")
    return merged


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
