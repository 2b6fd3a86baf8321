"""Grade learner notebooks against their assignment, hidden tests included.

For each assignment we keep a *template course*: a folder holding only that assignment's
source, generated once by nbgrader (which records every test cell, hidden tests included, in
a fresh gradebook). It lives in ``grading/cache/`` and is rebuilt when the source changes.
To grade, we copy the template to a temporary folder, submit each notebook as its own
student, run ``nbgrader autograde`` once (it restores every test and locked cell from the
source before executing), and read the grades back from the gradebook.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from autograder.course import find_root, run_nbgrader, source_notebook
from autograder.errors import NbgraderFailed
from autograder.notebooks import match_assignment, read_notebook

STUDENT = "learner"


def failure_message(cell: nbformat.NotebookNode | None) -> str:
    """One line saying why a test cell failed: the error's type and message."""
    if cell is None:
        return "the test cell is missing from the graded notebook"
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            value = str(out.get("evalue", "")).strip()
            return f"{out.get('ename', 'Error')}: {value}" if value else out.get("ename", "Error")
    return "the test cell failed"


def _source_hash(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(path.relative_to(folder).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def template_course(root: Path, assignment: str) -> Path:
    """The generated template course of ``assignment``, built once per version of its source."""
    src = source_notebook(root, assignment).parent
    cache = root / "grading" / "cache" / f"{assignment}-{_source_hash(src)}"
    if (cache / "grading" / "gradebook.db").exists():
        return cache
    cache.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=f".{assignment}-", dir=cache.parent))
    shutil.copytree(src, build / "solutions" / assignment)
    run_nbgrader(build, "generate_assignment", assignment, "--force")
    (build / "nbgrader_config.py").unlink()  # written again for wherever the copy lands
    try:
        os.rename(build, cache)
    except OSError:  # another process built it first
        shutil.rmtree(build, ignore_errors=True)
    return cache


def _cells_by_grade_id(nb: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
            if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")}


def _result(gb: Gradebook, course: Path, assignment: str, notebook_id: str,
            student: str) -> dict:
    graded_path = course / "grading" / "autograded" / student / assignment / f"{notebook_id}.ipynb"
    try:
        sub = gb.find_submission_notebook(notebook_id, assignment, student)
        graded = nbformat.read(graded_path, as_version=4)
    except (MissingEntry, FileNotFoundError) as err:
        raise NbgraderFailed(f"nbgrader did not grade the notebook of {student}") from err
    cells = _cells_by_grade_id(graded)
    order = {name: i for i, name in enumerate(cells)}  # the notebook's order
    tests = []
    for grade in sorted(sub.grades, key=lambda g: order.get(g.name, len(order))):
        passed = grade.score >= grade.max_score
        tests.append({
            "name": grade.name,
            "points": float(grade.score),
            "max_points": float(grade.max_score),
            "passed": bool(passed),
            "message": "" if passed else failure_message(cells.get(grade.name)),
        })
    return {"assignment": assignment, "score": float(sub.score),
            "max_score": float(sub.max_score), "tests": tests}


def score_many(paths: list[Path | str], assignment: str, root: Path | None = None) -> list[dict]:
    """Grade several notebooks of one assignment in one nbgrader run; results in order.

    Each result is {assignment, score, max_score, tests: [{name, points, max_points,
    passed, message}]}; ``message`` is empty for a passed test and says what went wrong
    otherwise.
    """
    root = root or find_root()
    notebook_id = source_notebook(root, assignment).stem
    notebooks = [read_notebook(Path(p)) for p in paths]
    students = [STUDENT if len(paths) == 1 else f"{STUDENT}{i:04d}" for i in range(len(paths))]
    with tempfile.TemporaryDirectory(prefix="rnncourse-score-") as tmp:
        course = Path(tmp) / "course"
        shutil.copytree(template_course(root, assignment), course)
        for student, nb in zip(students, notebooks, strict=True):
            folder = course / "grading" / "submitted" / student / assignment
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / f"{notebook_id}.ipynb")
        run_nbgrader(course, "autograde", assignment, "--force", check=False)
        db_url = f"sqlite:///{course / 'grading' / 'gradebook.db'}"
        with Gradebook(db_url) as gb:
            return [_result(gb, course, assignment, notebook_id, s) for s in students]


def score_notebook(path: Path | str, assignment: str | None = None,
                   root: Path | None = None) -> dict:
    """Grade one notebook; find its assignment from its name or cell ids unless given."""
    path = Path(path)
    root = root or find_root()
    assignment = assignment or match_assignment(root, path, read_notebook(path))
    return score_many([path], assignment, root)[0]


def format_report(result: dict) -> str:
    """A plain-text report of a result, one line per test."""
    lines = [f"{result['assignment']}: {result['score']:g} / {result['max_score']:g} points"]
    for t in result["tests"]:
        mark = "pass" if t["passed"] else "FAIL"
        line = f"  {mark}  {t['name']}  {t['points']:g}/{t['max_points']:g}"
        lines.append(line + (f"  {t['message']}" if t["message"] else ""))
    return "\n".join(lines)
