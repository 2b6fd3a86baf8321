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
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from nbgrader.api import (
    Comment,
    Grade,
    Gradebook,
    MissingEntry,
    SubmittedAssignment,
    SubmittedNotebook,
)

from autograder.course import ensure_bin_on_path, run_nbgrader

ensure_bin_on_path()


def db_url(root: Path) -> str:
    return f"sqlite:///{root / 'grading' / 'gradebook.db'}"


def result_file(root: Path, assignment: str, student: str) -> Path:
    return root / "grading" / "results" / assignment / f"{student}.json"


def read_result(root: Path, assignment: str, student: str) -> dict | None:
    path = result_file(root, assignment, student)
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
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
    """Make the course's gradebook know ``assignment``'s notebooks and tests (as the template's).

    Runs ``nbgrader generate_assignment`` on a copy of the source whose gradebook is the
    course's, so nbgrader itself records the cells (the release it writes is thrown away).
    """
    (root / "grading").mkdir(parents=True, exist_ok=True)
    if _structure(db_url(root), assignment) == _structure(db_url(template), assignment):
        return
    with tempfile.TemporaryDirectory(prefix="rnncourse-db-") as tmp:
        course = Path(tmp)
        shutil.copytree(template / "solutions" / assignment, course / "solutions" / assignment)
        (course / "grading").symlink_to(root / "grading")
        run_nbgrader(course, "generate_assignment", assignment, "--force")


def store(root: Path, assignment: str, student: str, scratch_db: str, graded_dir: Path | None,
          result: dict) -> None:
    """Store one graded submission (see the module docstring for the order of the steps)."""
    marker = result_file(root, assignment, student)
    marker.unlink(missing_ok=True)
    with Gradebook(db_url(root)) as gb:
        gb.update_or_create_student(student)
        try:
            gb.remove_submission(assignment, student)
        except MissingEntry:
            pass
        scores = _scratch_scores(scratch_db, assignment, student)
        tampered = any(t["message"].startswith("withheld") for t in result["tests"])
        note = "; ".join(result.get("flags", []) + result.get("repairs", []))
        with gb.db.no_autoflush:  # build the whole submission, then one commit
            sub = _build(gb, assignment, student, scores, tampered, note, result)
        gb.db.add(sub)
        gb.db.commit()
    _finish(root, assignment, student, graded_dir, result, marker)


def _build(gb: Gradebook, assignment: str, student: str, scores: dict, tampered: bool,
           note: str, result: dict) -> SubmittedAssignment:
    sub = SubmittedAssignment(assignment=gb.find_assignment(assignment),
                              student=gb.find_student(student))
    for notebook in sub.assignment.notebooks:
        nb = SubmittedNotebook(notebook=notebook, assignment=sub,
                               flagged=bool(result.get("flagged")))
        for cell in notebook.grade_cells:
            auto, needs_manual = scores.get((notebook.name, cell.name), (0.0, False))
            Grade(cell_id=cell.id, notebook=nb, auto_score=auto,
                  manual_score=0.0 if tampered else None,
                  needs_manual_grade=needs_manual or tampered)
        for k, cell in enumerate(notebook.solution_cells):
            Comment(cell_id=cell.id, notebook=nb,
                    manual_comment=f"Autograder: {note}" if note and k == 0 else None)
        for cell in notebook.task_cells:
            Comment(cell_id=cell.id, notebook=nb)
            Grade(cell_id=cell.id, notebook=nb, needs_manual_grade=True)
    return sub


def _finish(root: Path, assignment: str, student: str, graded_dir: Path | None, result: dict,
            marker: Path) -> None:
    if graded_dir is not None and graded_dir.is_dir():
        dest = root / "grading" / "autograded" / student / assignment
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{assignment}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(graded_dir, tmp)
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)
    marker.parent.mkdir(parents=True, exist_ok=True)
    part = marker.with_suffix(".part")
    part.write_text(json.dumps(result, indent=1))
    os.replace(part, marker)


def _scratch_scores(scratch_db: str, assignment: str, student: str) -> dict:
    """(notebook, cell) -> (auto_score, needs_manual_grade) from the scratch gradebook."""
    out = {}
    with Gradebook(scratch_db) as gb:
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            return out
        for nb in sub.notebooks:
            for g in nb.grades:
                out[(nb.name, g.name)] = (g.auto_score, bool(g.needs_manual_grade))
    return out
