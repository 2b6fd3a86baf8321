"""``score``: grade one learner notebook against its assignment, hidden tests included.

The notebook runs as its own student in a scratch copy of the assignment's template course
(``core.template``), through the same engine as ``grade`` (``core.batch``) and in the same
kind of grading process (``core.worker``): the learner's cells in a sandboxed kernel, the
tests in that process. The process has ``Limits.submission_timeout`` per notebook and
``Limits.grader_memory_mb``: one that runs out of either is stopped, and each notebook it
held gets zero points, flagged with why (``exit_status`` is then 1). One grading process per
thread serves every ``score_many`` call of this process (nbgrader's imports are paid once).
"""

from __future__ import annotations

import atexit
import shutil
import threading
from pathlib import Path

from autograder.core.course import find_root, source_notebook
from autograder.core.notebooks import match_assignment, read_notebook
from autograder.core.template import template_course
from autograder.core.types import Result
from autograder.core.worker import DIED, Worker, batch_task, stopped_reason, stopped_result
from autograder.errors import NbgraderFailed, UnreadableNotebook
from autograder.runner import leftovers
from autograder.settings import Limits, logs_dir

STUDENT = "learner"
STOPPED = "grading stopped: "  # how the flag of a notebook whose grading was stopped begins
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


def _stopped(worker: Worker, template: Path, assignment: str, students: list[str],
             limits: Limits, seconds: float) -> dict[str, Result]:
    """A zero for every test, flagged with why, for each of ``students``."""
    from autograder.core import gradebook
    from autograder.settings import db_url

    if worker.failure == DIED:
        why = (f"{STOPPED}the grading process died (exit status {worker.proc.returncode}) "
               "while grading this notebook")
    else:
        why = stopped_reason(worker.failure, limits, seconds)
    return {s: gradebook.zero_result(db_url(template), assignment,
                                     stopped_result(assignment, s, why)) for s in students}


def _failed(answer: dict) -> NbgraderFailed:
    tail = "\n".join(str(answer.get("error", "no answer")).strip().splitlines()[-4:])
    return NbgraderFailed(f"the grading process could not grade the notebook:\n{tail}")


def score_many(paths: list[Path | str], assignment: str, root: Path | None = None, *,
               limits: Limits | None = None) -> list[Result]:
    """Grade several notebooks of one assignment in one nbgrader run; results in order."""
    root = root or find_root()
    limits = limits or Limits()
    source_notebook(root, assignment)  # an unknown assignment fails here, before any work
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
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if answer is None:
        results = _stopped(worker, template, assignment, students, limits, seconds)
    elif not answer.get("ok"):
        raise _failed(answer)
    else:
        results = {s: Result.from_dict(answer["results"][s]) for s in students}
    return [results[s] for s in students]


def score_notebook(path: Path | str, assignment: str | None = None,
                   root: Path | None = None, *, limits: Limits | None = None) -> Result:
    """Grade one notebook; find its assignment from its name or cell ids unless given."""
    path = Path(path)
    root = root or find_root()
    if assignment is None:
        try:
            nb = read_notebook(path, limits)
        except UnreadableNotebook:
            if not path.is_file():
                raise
            nb = None
        assignment = match_assignment(root, path, nb)
    return score_many([path], assignment, root, limits=limits)[0]


def exit_status(result: Result) -> int:
    """The exit status of ``score``: 1 when the grading was stopped (out of time or memory,
    or its process died), else 0 (a flagged result is still a grade)."""
    return 1 if any(f.startswith(STOPPED) for f in result.flags) else 0


def format_report(result: Result) -> str:
    """A plain-text report of a result, one line per test."""
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
