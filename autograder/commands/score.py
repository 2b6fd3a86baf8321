"""``score``: grade one learner notebook against its assignment, hidden tests included.

The notebook runs as its own student in a scratch copy of the assignment's template course
(``core.template``), through the same engine as ``grade`` (``core.batch``) and in the same
kind of grading process (``core.worker``): the learner's cells in a sandboxed kernel, the
tests in that process. The process has ``Limits.submission_timeout`` per notebook and
``Limits.grader_memory_mb``: one that runs out of either is stopped. One grading process per
thread serves every ``score_many`` call of this process (nbgrader's imports are paid once).

A failure of the grading machine is never a score (``core.scheduler.machine_failure``): a
notebook whose grading process was stopped or died, or that nbgrader could not run (a kernel
that could not start), comes back with no tests, its flag saying why; the report says NOT
GRADED and ``exit_status`` is 1. The command line checks first that the reference solution
scores full marks here (``core.preflight``).
"""

from __future__ import annotations

import atexit
import shutil
import threading
from pathlib import Path

from autograder.core.batch import graded_dir
from autograder.core.course import find_root, source_notebook
from autograder.core.notebooks import match_assignment, read_notebook
from autograder.core.scheduler import machine_failure, machine_stop_reason
from autograder.core.template import template_course
from autograder.core.types import Result
from autograder.core.worker import DIED, Worker, batch_task, stopped_result
from autograder.errors import NbgraderFailed, UnreadableNotebook
from autograder.runner import leftovers
from autograder.settings import Limits, logs_dir

STUDENT = "learner"
STOPPED = "grading stopped: "  # how the flag of a notebook whose grading was stopped begins
NOT_GRADED = "NOT GRADED"  # the report of a notebook the machine failed to grade
_LOCAL = threading.local()  # this thread's grading process


def _worker(root: Path, limits: Limits) -> Worker:
    """This thread's grading process (a new one if it is gone or had another memory cap)."""
    worker = getattr(_LOCAL, "worker", None)
    if worker is not None and worker.alive and worker.memory_mb == limits.grader_memory_mb:
        return worker
    if worker is not None:
        worker.close()
    log = logs_dir(root) / "score.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    worker = _LOCAL.worker = Worker(log, root, limits)
    atexit.register(worker.close)
    return worker


def _stopped(worker: Worker, assignment: str, students: list[str], limits: Limits,
             seconds: float) -> dict[str, Result]:
    """Each of ``students`` not graded (no test), flagged with why its process stopped."""
    if worker.failure == DIED:
        why = (f"{STOPPED}the grading process died (exit status {worker.proc.returncode}) "
               "while grading this notebook")
    else:
        why = machine_stop_reason(worker.failure, limits, seconds)
    return {s: stopped_result(assignment, s, why) for s in students}


def _not_graded_by_nbgrader(results: dict[str, Result], scratch: Path, assignment: str,
                            notebook_id: str) -> dict[str, Result]:
    """``results``, those nbgrader wrote no graded notebook for made results with no test
    (not graded, their flag saying why): the machine's failure, not a score."""
    out = {}
    for student, result in results.items():
        graded = graded_dir(scratch, student, assignment) / f"{notebook_id}.ipynb"
        why = machine_failure(result, graded.is_file())
        out[student] = stopped_result(assignment, student, why) if why else result
    return out


def _failed(answer: dict) -> NbgraderFailed:
    tail = "\n".join(str(answer.get("error", "no answer")).strip().splitlines()[-4:])
    return NbgraderFailed(f"the grading process could not grade the notebook:\n{tail}")


def score_many(paths: list[Path | str], assignment: str, root: Path | None = None, *,
               limits: Limits | None = None) -> list[Result]:
    """Grade several notebooks of one assignment in one nbgrader run; results in order."""
    root = root or find_root()
    limits = limits or Limits()
    notebook_id = source_notebook(root, assignment).stem  # an unknown one fails here
    leftovers.sweep_once()  # what score or grade processes killed by a signal left behind
    template = template_course(root, assignment)
    students = [STUDENT if len(paths) == 1 else f"{STUDENT}{i:04d}" for i in range(len(paths))]
    worker = _worker(root, limits)
    seconds = limits.submission_timeout * len(paths)
    scratch = leftovers.mkdtemp("rnncourse-score")
    try:
        subs = [(s, Path(p).resolve()) for s, p in zip(students, paths, strict=True)]
        t = batch_task(root, assignment, subs, scratch, limits, template)
        answer = worker.run(t, seconds)
        if answer is None:
            results = _stopped(worker, assignment, students, limits, seconds)
        elif not answer.get("ok"):
            raise _failed(answer)
        else:
            results = _not_graded_by_nbgrader(
                {s: Result.from_dict(answer["results"][s]) for s in students}, scratch,
                assignment, notebook_id)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return [results[s] for s in students]


def assignment_of(path: Path | str, root: Path | None = None,
                  limits: Limits | None = None) -> str:
    """The assignment of the notebook at ``path``, from its name or its cell ids."""
    path = Path(path)
    try:
        nb = read_notebook(path, limits)
    except UnreadableNotebook:
        if not path.is_file():
            raise
        nb = None
    return match_assignment(root or find_root(), path, nb)


def score_notebook(path: Path | str, assignment: str | None = None,
                   root: Path | None = None, *, limits: Limits | None = None) -> Result:
    """Grade one notebook; find its assignment from its name or cell ids unless given."""
    root = root or find_root()
    assignment = assignment or assignment_of(path, root, limits)
    return score_many([Path(path)], assignment, root, limits=limits)[0]


def is_graded(result: Result) -> bool:
    """Is ``result`` a grade (not a failure of the grading machine, which has no tests)?"""
    return bool(result.tests)


def exit_status(result: Result) -> int:
    """The exit status of ``score``: 1 when the notebook was not graded (its grading was
    stopped, its process died, nbgrader could not run it), else 0 (a flagged result is
    still a grade)."""
    return 0 if is_graded(result) else 1


def as_json(result: Result) -> dict:
    """The JSON report of ``score --json``: the result, and whether it is a grade (a
    notebook not graded has no score: ``score`` and ``max_score`` are null)."""
    data = {**result.to_dict(), "graded": is_graded(result)}
    if not data["graded"]:
        data["score"] = data["max_score"] = None
    return data


def format_report(result: Result) -> str:
    """A plain-text report of a result, one line per test."""
    if not is_graded(result):
        why = "; ".join(result.flags) or "it could not be graded"
        return (f"{result.assignment}: {NOT_GRADED}: {why}\n  no score: this is a failure "
                "of the grading machine, not of the notebook (the log: grading/logs/"
                "score.log)")
    lines = [f"{result.assignment}: {result.score:g} / {result.max_score:g} points"]
    for t in result.tests:
        mark = "pass" if t.passed else "FAIL"
        line = f"  {mark}  {t.name}  {t.points:g}/{t.max_points:g}"
        lines.append(line + (f"  {t.message}" if t.message else ""))
    lines += [f"  repaired: {r}" for r in result.repairs]
    if result.flagged:
        lines.append("  FLAGGED for manual review:")
        lines += [f"    {f}" for f in result.flags]
    return "\n".join(lines)
