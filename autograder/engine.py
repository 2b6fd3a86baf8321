"""Grade a batch of submissions of one assignment in a scratch course: the shared engine of
``score`` and ``grade``.

The pipeline, in order (each step needs the previous one):

1. copy the assignment's *template course* (``score.template_course``: the source and a
   gradebook that knows every test, hidden ones included) to a scratch folder;
2. ``repair`` each submission against the release (missing, duplicated, reordered, retyped
   cells, stripped metadata, wrong file name) and ``integrity.scan`` the learner's code;
3. run nbgrader's autograde once on the scratch course (in this process): nbgrader
   restores test and locked cells from the source, and ``GuardedExecute`` runs each
   notebook in its own sandboxed kernel (``autograder.sandbox``) under time and output
   limits;
4. read the grades from the scratch gradebook and the guard files, outside any learner's
   process; withhold the points of a submission whose grading was tampered with.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from autograder import integrity
from autograder.course import (
    CONFIG_FILE,
    db_url,
    ensure_bin_on_path,
    run_nbgrader,
    source_notebook,
)
from autograder.execute import guard_path
from autograder.repair import repair

ensure_bin_on_path()

_NBGRADER_LOCK = threading.Lock()  # see autograde_in_process


@dataclass(frozen=True)
class GradeOptions:
    """Limits of one grading run (the defaults suit the course's assignments)."""

    cell_timeout: int = 60
    notebook_timeout: int = 600
    sandbox: str = "auto"  # auto: bubblewrap when it works; bwrap: required; none: never
    cpu_seconds: int = 600
    memory_mb: int = 4096
    processes: int = 128
    max_output_bytes: int = 2_000_000

    def config(self) -> str:
        """The scratch course's nbgrader_config.py: the course's, with these limits."""
        return "\n".join([
            "c = get_config()  # noqa: F821",
            f"load_subconfig({str(CONFIG_FILE)!r})  # noqa: F821",
            f"c.Execute.timeout = {self.cell_timeout}",
            f"c.GuardedExecute.notebook_timeout = {self.notebook_timeout}",
            f"c.GuardedExecute.max_output_bytes = {self.max_output_bytes}",
            f"c.SandboxKernelManager.sandbox = {self.sandbox!r}",
            f"c.SandboxKernelManager.cpu_seconds = {self.cpu_seconds}",
            f"c.SandboxKernelManager.memory_mb = {self.memory_mb}",
            f"c.SandboxKernelManager.processes = {self.processes}",
            "",
        ])


@dataclass
class Submission:
    """One learner's notebook (``None`` when the file could not be read: ``problem`` says why)."""

    student: str
    notebook: nbformat.NotebookNode | None
    filename: str = ""
    problem: str = ""
    repairs: list[str] = field(default_factory=list)


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


def prepare(sub: Submission, release, source, notebook_id: str) -> nbformat.NotebookNode:
    """The notebook nbgrader will grade; records the repairs on ``sub``."""
    if sub.notebook is None:
        sub.repairs.append(f"{sub.problem}; graded as the blank release")
        return copy.deepcopy(release)
    nb, repairs = repair(sub.notebook, release, source)
    if sub.filename and Path(sub.filename).name != f"{notebook_id}.ipynb":
        repairs.insert(0, f"graded {Path(sub.filename).name!r} as '{notebook_id}.ipynb'")
    sub.repairs.extend(repairs)
    return nb


def course_dir(workdir: Path) -> Path:
    return workdir / "course"


def autograded_dir(workdir: Path, student: str, assignment: str) -> Path:
    return course_dir(workdir) / "grading" / "autograded" / student / assignment


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
                    options: GradeOptions | None = None, *,
                    in_process: bool = True) -> dict[str, dict]:
    """Grade ``subs`` in a scratch course under ``workdir``; results by student.

    nbgrader runs in this process unless ``in_process`` is false (then in a child process of
    its own, under a time budget: ``grade``'s fallback when a worker died). The scratch
    course stays in ``workdir`` (the caller removes it) so that ``grade`` can copy the graded
    notebooks and grades into the course's gradebook.
    """
    from autograder.score import template_course  # score imports this module

    options = options or GradeOptions()
    source_path = source_notebook(root, assignment)
    notebook_id = source_path.stem
    course = course_dir(workdir)
    shutil.copytree(template_course(root, assignment), course)
    (course / "nbgrader_config.py").write_text(options.config())
    release = nbformat.read(course / "exercises" / assignment / f"{notebook_id}.ipynb", 4)
    source = nbformat.read(source_path, 4)
    scans = {}
    for sub in subs:
        nb = prepare(sub, release, source, notebook_id)
        scans[sub.student] = integrity.scan(nb)
        folder = course / "grading" / "submitted" / sub.student / assignment
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{notebook_id}.ipynb")
    if in_process:
        log = autograde_in_process(course, assignment)
    else:
        budget = options.notebook_timeout * len(subs) + 180
        try:
            log = run_nbgrader(course, "autograde", assignment, "--force", timeout=budget,
                               check=False)
        except subprocess.TimeoutExpired:
            log = f"nbgrader autograde ran out of its {budget} s budget"
    results = {}
    with Gradebook(db_url(course)) as gb:
        for sub in subs:
            results[sub.student] = _result(gb, course, assignment, notebook_id, sub,
                                           scans[sub.student], log)
    return results


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


def _result(gb: Gradebook, course: Path, assignment: str, notebook_id: str, sub: Submission,
            scan: list[dict], log: str) -> dict:
    folder = course / "grading" / "autograded" / sub.student / assignment
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
    findings = scan + (integrity.guard_findings(guard_path(folder, notebook_id))
                       if graded is not None else [])
    if sub.notebook is None:
        findings.append({"kind": integrity.NOTE, "where": "file", "line": "",
                         "what": sub.problem or "the submitted file could not be read"})
    tampered = any(f["kind"] == integrity.TAMPER for f in findings)
    withheld = ("withheld for manual review: the grading was tampered with ("
                + "; ".join(sorted({f["what"] for f in findings
                                    if f["kind"] == integrity.TAMPER})) + ")")
    tests, auto_scores = [], {}
    for name, points, max_points in sorted(grades, key=lambda g: order.get(g[0], len(order))):
        auto_scores[name] = 0.0 if problem else points
        passed = points >= max_points and not problem
        message = problem or ("" if passed else failure_message(cells.get(name)))
        if tampered:
            points, passed, message = 0.0, False, withheld
        tests.append({"name": name, "points": points if not problem else 0.0,
                      "max_points": max_points, "passed": bool(passed), "message": message})
    return {
        "assignment": assignment,
        "score": float(sum(t["points"] for t in tests)),
        "max_score": float(sum(t["max_points"] for t in tests)),
        "tests": tests,
        "flagged": bool(findings) or bool(problem),
        "flags": integrity.summary(findings),
        "repairs": list(sub.repairs),
        "auto_scores": auto_scores,  # nbgrader's points per test, before any were withheld
    }
