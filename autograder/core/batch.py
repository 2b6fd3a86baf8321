"""Grade a batch of submissions of one assignment in a scratch course: the engine shared by
``score`` and ``grade``.

The pipeline, in order (each step needs the previous one):

1. copy the assignment's template course (``core.template``: the source and a gradebook that
   knows every test, hidden ones included) to a scratch folder;
2. ``repair`` each submission against the release (missing, duplicated, reordered, retyped
   cells, stripped metadata, wrong file name), within a time limit;
3. run nbgrader's autograde once on the scratch course (in this process): nbgrader restores
   test and locked cells from the source, and ``runner.execute.SplitExecute`` runs the
   learner's cells in a sandboxed kernel and the tests here, in the grader;
4. read the grades from the scratch gradebook and the execution records into typed results.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import threading
import time
import warnings
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from autograder.core.course import ensure_bin_on_path, run_nbgrader, source_notebook
from autograder.core.learners_notebook import published_sources
from autograder.core.repair import RepairTimeout, repair
from autograder.core.template import template_course
from autograder.core.types import Result, Submission, TestResult
from autograder.runner.execute import record_path
from autograder.settings import Limits, autograded_dir, db_url, submitted_dir

ensure_bin_on_path()

_NBGRADER_LOCK = threading.Lock()  # see autograde_in_process


def failure_message(cell) -> str:
    """One line saying why a test cell failed: the error's type and message."""
    if cell is None:
        return "the test cell is missing from the graded notebook"
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            value = str(out.get("evalue", "")).strip()
            return f"{out.get('ename', 'Error')}: {value}" if value else out.get("ename", "Error")
    return "the test cell failed"


def _cells_by_grade_id(nb) -> dict:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
            if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")}


def prepare(sub: Submission, release, source, notebook_id: str,
            limits: Limits, published: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """The notebook nbgrader will grade; records the repairs on ``sub``. ``published``: the
    release's cells as the learners' tree holds them (``core.learners_notebook``)."""
    if sub.notebook is None:
        sub.repairs.append(f"{sub.problem}; graded as the blank release")
        return copy.deepcopy(release)
    try:
        nb, repairs = repair(sub.notebook, release, source,
                             deadline=time.monotonic() + limits.repair_seconds,
                             published=published)
    except RepairTimeout:
        sub.problem = (f"the notebook could not be put back in shape within "
                       f"{limits.repair_seconds} s")
        sub.notebook = None
        sub.repairs.append(f"{sub.problem}; graded as the blank release")
        return copy.deepcopy(release)
    if sub.filename and Path(sub.filename).name != f"{notebook_id}.ipynb":
        repairs.insert(0, f"graded {Path(sub.filename).name!r} as '{notebook_id}.ipynb'")
    sub.repairs.extend(repairs)
    return nb


def course_dir(workdir: Path) -> Path:
    return workdir / "course"


def graded_dir(workdir: Path, student: str, assignment: str) -> Path:
    """Where nbgrader leaves the graded notebook of ``student`` in a scratch course."""
    return autograded_dir(course_dir(workdir)) / student / assignment


def autograde_in_process(course: Path, assignment: str) -> str:
    """Run ``nbgrader autograde --force`` on the scratch ``course`` in this process (nbgrader's
    own ``Autograde`` converter, as its ``NbGraderAPI`` does); return nbgrader's log.

    Starting an ``nbgrader`` process costs about two seconds of imports; ``score`` and each of
    ``grade``'s workers pay them once. Learners' code still runs elsewhere: in each
    notebook's sandboxed kernel. nbgrader is not thread-safe (shared loggers, configuration,
    warning filters), so runs from several threads of one process take turns; to grade in
    parallel, use processes (``grade`` does).
    """
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.utils import capture_log
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    config.CourseDirectory.root = str(course)
    config.CourseDirectory.db_url = db_url(course)
    coursedir = CourseDirectory(config=config)
    coursedir.assignment_id = assignment
    app = Autograde(coursedir=coursedir, config=config)
    app.force = True
    app.create_student = True
    with _NBGRADER_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy's autoflush notes on nbgrader's models
        outcome = capture_log(app)
    return outcome.get("log", "") + outcome.get("error", "")


def autograde_batch(root: Path, assignment: str, subs: list[Submission], workdir: Path,
                    limits: Limits | None = None, *, in_process: bool = True,
                    template: Path | None = None,
                    timeout: float | None = None) -> dict[str, Result]:
    """Grade ``subs`` in a scratch course under ``workdir``; results by student.

    The scratch course is a copy of ``template`` (default: ``root``'s template course of
    ``assignment``, built if needed); a Dask worker passes the template it was sent, whose
    ``solutions/`` is then the source, and ``root`` is that template.

    nbgrader runs in this process unless ``in_process`` is false (then in a child process of
    its own, ``grade``'s fallback when a worker died, under the time budget ``timeout``,
    default ``Limits.submission_timeout`` per submission, and the grader's memory cap). The scratch
    course stays in ``workdir`` (the caller removes it) so that ``grade`` can copy the graded
    notebooks into the course's gradebook.
    """
    limits = limits or Limits()
    source_path = source_notebook(root, assignment)
    notebook_id = source_path.stem
    course = course_dir(workdir)
    shutil.copytree(template or template_course(root, assignment), course)
    (course / "nbgrader_config.py").write_text(limits.nbgrader_config(course / "solutions"))
    release = nbformat.read(course / "exercises" / assignment / f"{notebook_id}.ipynb", 4)
    source = nbformat.read(source_path, 4)
    published = published_sources(release, assignment)
    for sub in subs:
        nb = prepare(sub, release, source, notebook_id, limits, published)
        folder = submitted_dir(course) / sub.student / assignment
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{notebook_id}.ipynb")
    if in_process:
        log = autograde_in_process(course, assignment)
    else:
        budget = limits.submission_timeout * len(subs) if timeout is None else timeout
        try:
            log = run_nbgrader(course, "autograde", assignment, "--force",
                               timeout=max(1.0, budget), check=False,
                               memory_mb=limits.grader_memory_mb)
        except subprocess.TimeoutExpired:
            log = f"NbgraderTimeout: nbgrader autograde ran out of its {budget:.0f} s budget"
    with Gradebook(db_url(course)) as gb:
        return {sub.student: _result(gb, course, assignment, notebook_id, sub, log)
                for sub in subs}


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Timeout)\w*\b")


def log_reason(log: str, student: str) -> str:
    """The line of nbgrader's log that says why ``student``'s notebook could not be graded:
    the last exception raised before nbgrader reported the student's failure (not its
    closing "see the traceback above"), else the log's last line."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    end = next((i for i, line in enumerate(lines)
                if "error processing" in line and f"student '{student}'" in line), len(lines))
    for line in reversed(lines[:end]):
        if _EXCEPTION_LINE.match(line) and "NbGraderException" not in line:
            return line[:200]
    return lines[-1][:200] if lines else "no log"


def _grade_cells(gb: Gradebook, assignment: str, notebook_id: str) -> list:
    return list(gb.find_notebook(notebook_id, assignment).grade_cells)


def execution_flags(record_file: Path) -> list[str]:
    """What the execution record says a person should look at."""
    try:
        record = json_load(record_file)
    except (OSError, ValueError):
        return ["the execution record is missing: the notebook may not have run"]
    flags = [str(e)[:300] for e in record.get("events", [])]
    if record.get("output_truncated"):
        flags.append("printed too much output (truncated)")
    return flags


def json_load(path: Path) -> dict:
    data = json.loads(path.read_text())
    if type(data) is not dict:
        raise ValueError("not a record")
    return data


def _result(gb: Gradebook, course: Path, assignment: str, notebook_id: str, sub: Submission,
            log: str) -> Result:
    folder = autograded_dir(course) / sub.student / assignment
    graded_path = folder / f"{notebook_id}.ipynb"
    try:
        nbsub = gb.find_submission_notebook(notebook_id, assignment, sub.student)
        graded = nbformat.read(graded_path, as_version=4)
        grades = [(g.name, float(g.score), float(g.max_score)) for g in nbsub.grades]
        problem = ""
    except (MissingEntry, FileNotFoundError):
        graded = None
        grades = [(c.name, 0.0, float(c.max_score))
                  for c in _grade_cells(gb, assignment, notebook_id)]
        problem = f"nbgrader could not grade this notebook ({log_reason(log, sub.student)})"
    cells = _cells_by_grade_id(graded) if graded is not None else {}
    order = {name: i for i, name in enumerate(cells)}
    flags = execution_flags(record_path(folder, notebook_id)) if graded is not None else []
    if sub.notebook is None:
        flags.append(sub.problem or "the submitted file could not be read")
    if problem:
        flags.append(problem)
    tests = []
    for name, points, max_points in sorted(grades, key=lambda g: order.get(g[0], len(order))):
        passed = points >= max_points and not problem
        message = problem or ("" if passed else failure_message(cells.get(name)))
        tests.append(TestResult(name, 0.0 if problem else points, max_points, bool(passed),
                                message))
    return Result(assignment=assignment, score=float(sum(t.points for t in tests)),
                  max_score=float(sum(t.max_points for t in tests)), tests=tests,
                  flagged=bool(flags), flags=flags, repairs=list(sub.repairs),
                  student=sub.student)
