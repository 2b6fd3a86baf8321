"""Scheduling ``grade``: every collected submission, in parallel, each in a sandboxed kernel.

Submissions are ``grading/submitted/<student>/<assignment>/*.ipynb`` (``collect`` puts them
there). ``--jobs`` threads each keep one worker process (``core.worker``: nbgrader
imported once) busy with one submission after another; each submission is graded in its own
scratch course, its notebook in its own sandboxed kernel. Each submission has one budget of
wall time, ``Limits.submission_timeout``, and its grading process a memory cap,
``Limits.grader_memory_mb``. A worker that runs out of either is stopped and replaced, and the
submission is not graded again in this run (it would take as long again). A worker that dies
otherwise (a crash) is replaced, and the submission it held is graded again in an
``nbgrader autograde`` process of its own, within what is left of its budget. Each result is
stored in the course's gradebook as soon as it is in (``gradebook.store``: one transaction
per submission), so formgrader, ``feedback`` and ``export`` see it, and a run killed midway
loses at most the submissions being graded. A submission whose result file records the same
notebook (by content hash) is skipped unless ``force``.

**A failure of the grading machine is never a score.** What the learner's code does inside
its own limits (a cell that hangs, a kernel that dies, memory or processes of the sandbox
used up) is graded: the tests it reached, zero for the rest, flagged. What the machine does
is not (:func:`machine_failure`): a grading process stopped by its own limits (the grader's
memory, the submission's outer time limit: the kernel's limits stop the learner's code well
before), a grading process that crashed and whose fallback failed too, a kernel that could
not start (no sandbox, a broken environment: nbgrader then writes no graded notebook). Such
a submission is listed apart as not graded, with why; nothing is stored for it (no gradebook
entry, no result file), so the next ``grade`` grades it again, and the run goes on: never a
traceback that stops the class, never a zero that looks like a grade.

Before any grading, ``preflight`` (``core.preflight.require_reference``, from the command
line) may check that this machine grades each assignment's reference solution to full marks.

The gradebook is the course's (``course.gradebook_url``: ``--db``, the course's
``nbgrader_config.py``, else SQLite). With ``scheduler`` (a Dask scheduler's address) the
submissions are graded on that cluster instead (``core.cluster``) and stored here just the
same. Without it, the threads and workers above grade on this machine, at about the rate of
a Dask cluster of as many local workers and with nothing to start
(``benchmarks/bench_cluster.py`` measures both).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from autograder.core import gradebook
from autograder.core.batch import graded_dir
from autograder.core.course import assignments as course_assignments
from autograder.core.course import gradebook_url, source_notebook
from autograder.core.late import submission_time
from autograder.core.template import template_course
from autograder.core.types import Result
from autograder.core.worker import RunStopped, Worker, grade_one, stopped_reason
from autograder.errors import AutograderError
from autograder.files import sha256
from autograder.runner import leftovers
from autograder.settings import Limits, logs_dir, submitted_dir


@dataclass
class Pending:
    """One submission found in grading/submitted."""

    student: str
    assignment: str
    path: Path | None  # the notebook file; None when the folder holds none
    digest: str
    submitted: str | None = None  # the submission time (timestamp.txt), ISO 8601 UTC


def _pick_notebook(folder: Path, notebook_id: str) -> Path | None:
    exact = folder / f"{notebook_id}.ipynb"
    if exact.exists():
        return exact
    others = sorted(folder.glob("*.ipynb"))
    return others[0] if others else None


def _digest(path: Path | None) -> str:
    if path is None:
        return "missing"
    return sha256(path.name.encode() + b"\0" + path.read_bytes())


def find_submissions(root: Path, assignment: str) -> list[Pending]:
    """Every learner's submission of ``assignment``, sorted by student."""
    notebook_id = source_notebook(root, assignment).stem
    out = []
    base = submitted_dir(root)
    for folder in sorted(base.glob(f"*/{assignment}")) if base.is_dir() else []:
        if folder.is_dir():
            path = _pick_notebook(folder, notebook_id)
            out.append(Pending(folder.parent.name, assignment, path, _digest(path),
                               submission_time(folder)))
    return out


machine_stop_reason = stopped_reason  # one wording of a grading stopped by the machine's limits


def machine_failure(result: Result, graded_notebook: bool) -> str:
    """Why ``result`` is no grade but a failure of the grading machine ('' when it is a
    grade): it has no tests (its grading was stopped, or crashed, before any ran), or
    nbgrader wrote no graded notebook (``graded_notebook`` false: it could not run the
    notebook, for a kernel that could not start or for the grader's own error)."""
    if not result.tests:
        return result.flags[0] if result.flags else "could not be graded"
    if not graded_notebook:
        return result.flags[-1] if result.flags else "nbgrader wrote no graded notebook"
    return ""


def is_graded(root: Path, pending: Pending) -> bool:
    record = gradebook.read_result(root, pending.assignment, pending.student)
    return record is not None and record.digest == pending.digest


def _workdir() -> Path:
    return leftovers.mkdtemp("rnncourse-grade")


class _Run:
    """One ``grade`` run of one assignment: ``jobs`` threads, each feeding a worker."""

    def __init__(self, root: Path, db: str, assignment: str, todo: list[Pending],
                 limits: Limits, bar: tqdm) -> None:
        self.root, self.db, self.assignment, self.limits, self.bar = (root, db, assignment,
                                                                      limits, bar)
        self.todo = list(reversed(todo))  # popped from the end: in student order
        self.lock = threading.Lock()  # guards todo, rows and the course's gradebook
        self.rows: list[Result] = []
        self.failures: list[str] = []  # "student: why" of each submission not graded
        self.notebook_id = source_notebook(root, assignment).stem
        self.workers: list[Worker] = []
        self.stopping = False
        self.log = logs_dir(root) / f"grade-{assignment}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)

    def _next(self) -> Pending | None:
        with self.lock:
            return self.todo.pop() if self.todo and not self.stopping else None

    def stop(self) -> None:
        """Interrupted: hand out nothing more and stop every worker now."""
        with self.lock:
            self.stopping = True
            workers = list(self.workers)
        for worker in workers:
            worker.kill()

    def _log(self, line: str) -> None:
        with self.lock, open(self.log, "a") as log:
            log.write(line + "\n")

    def serve(self) -> None:
        """Grade submissions until none are left (``worker.grade_one``, one worker process of
        this thread's, replaced when it is gone), storing each result as soon as it is in."""
        worker: Worker | None = None
        try:
            while (p := self._next()) is not None:
                if worker is None or not worker.alive:
                    worker = Worker(self.log, self.root, self.limits)
                    with self.lock:
                        self.workers.append(worker)
                scratch = _workdir()
                try:
                    graded = grade_one(worker, self.root, self.assignment, p.student, p.path,
                                       scratch, self.limits, log=self._log,
                                       stopping=lambda: self.stopping)
                    self._store(p, graded.workdir, graded.result)
                except RunStopped:
                    return
                finally:
                    shutil.rmtree(scratch, ignore_errors=True)
        finally:
            if worker is not None:
                worker.close()

    def _store(self, p: Pending, workdir: Path, result: Result) -> None:
        """Store a grade; list a failure of the machine apart, storing nothing for it."""
        result.student, result.digest, result.submitted = p.student, p.digest, p.submitted
        graded = graded_dir(workdir, p.student, self.assignment)
        why = machine_failure(result, (graded / f"{self.notebook_id}.ipynb").is_file())
        if why:
            self._log(f"not graded {p.student}: {why}")
        with self.lock:
            if why:
                self.failures.append(f"{p.student}: {why}")
            else:
                gradebook.store(self.root, self.db, self.assignment, p.student, graded,
                                result)
                self.rows.append(result)
            self.bar.update(1)


def grade(root: Path, names: list[str] | None = None, *, jobs: int | None = None,
          force: bool = False, limits: Limits | None = None,
          progress: bool = True, failures: list[str] | None = None,
          db: str | None = None, scheduler: str | None = None,
          preflight: Callable[[str], object] | None = None,
          students: list[str] | None = None) -> list[Result]:
    """Grade the submissions of ``names`` (default: every assignment), of ``students`` only
    when given (default: every learner); one result per
    submission graded now, stored in the gradebook ``db`` (default: the course's). On the
    Dask cluster whose scheduler is at ``scheduler``, else here with ``jobs`` workers.
    Submissions not graded (a failure of the grading machine: nothing stored, graded again
    next time) are appended, one line each, to ``failures``. ``preflight(assignment)`` is
    called for each assignment with submissions to grade here, before any is graded (it
    raises to stop the run: ``core.preflight.require_reference``)."""
    limits = limits or Limits()
    jobs = max(1, jobs or os.cpu_count() or 1)
    db = gradebook_url(root, db)
    leftovers.sweep_once()  # what grading processes killed by a signal left behind
    known = course_assignments(root)
    for name in names or []:
        if name not in known:
            raise AutograderError(f"no assignment named {name!r} (known: {', '.join(known)})")
    if students:
        collected = {p.student for a in names or known for p in find_submissions(root, a)}
        missing = [s for s in students if s not in collected]
        if missing:
            raise AutograderError(f"nothing collected for {', '.join(map(repr, missing))} in "
                                  f"{', '.join(names or known)}: check the id in "
                                  "grading/submitted/ (collect prints each learner's id)")
    plans = [(a, [p for p in find_submissions(root, a)
                  if (not students or p.student in students)
                  and (force or not is_graded(root, p))])
             for a in names or known]
    plans = [(a, todo) for a, todo in plans if todo]
    if not plans:
        return []
    if not db.startswith("sqlite"):
        gradebook.check(db)  # a server down: say so before any grading
    if preflight is not None and not scheduler:  # a cluster's workers check their own
        for assignment, _ in plans:
            preflight(assignment)
    client = None
    if scheduler:
        from autograder.core.cluster import connect

        client = connect(scheduler)
    rows = []
    stores = contextlib.ExitStack()
    stores.enter_context(gradebook.writers())  # one open gradebook for the run's stores
    try:
        for assignment, todo in plans:
            template = template_course(root, assignment)
            bar = tqdm(total=len(todo), desc=f"grade {assignment}", unit="nb",
                       disable=not progress)
            if client is not None:
                from autograder.core.cluster import grade_assignment

                gradebook.ensure_assignment(root, db, assignment, template)
                done, failed = grade_assignment(client, root, db, assignment, todo, template,
                                                limits, bar)
            else:
                done, failed = _grade_here(root, db, assignment, todo, template, limits, bar,
                                           jobs)
            bar.close()
            rows += sorted(done, key=lambda r: r.student)
            if failures is not None:
                failures += [f"{assignment}/{line}" for line in failed]
    finally:
        stores.close()
        if client is not None:
            client.close()
    return rows


def _grade_here(root: Path, db: str, assignment: str, todo: list[Pending], template: Path,
                limits: Limits, bar: tqdm, jobs: int) -> tuple[list[Result], list[str]]:
    run = _Run(root, db, assignment, todo, limits, bar)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        with run.lock:  # no result is stored before the gradebook knows the assignment
            futures = [pool.submit(run.serve) for _ in range(min(jobs, len(todo)))]
            gradebook.ensure_assignment(root, db, assignment, template)
        try:
            for future in futures:
                future.result()
        except BaseException:  # Ctrl-C, or a failure storing a result: stop the others
            run.stop()
            raise
    return run.rows, run.failures
