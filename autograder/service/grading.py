"""The service's workers: ``--jobs`` threads, each taking the oldest queued check and grading
it through the core of ``score`` (``autograder.commands.score.score_many``: the sandboxed
kernel, the hidden tests, in a grading process of the thread's own); or, with
``serve --scheduler``, on a Dask cluster through the core of ``grade --scheduler``
(:class:`ClusterGrader`: ``core.cluster``'s client and template, ``core.cluster_task``'s task).

What is stored is the learner-facing result: the score, each test's name, points and message,
and the flags. No test's source is ever part of it; and a message (or flag) that quotes a
line of the assignment's hidden tests (``commands.feedback.hidden_lines``, the rule the
feedback pages' leak check uses) is withheld, never stored: the learner sees that it was.

Before an assignment's first check, the thread checks that this machine grades the
assignment's reference solution to full marks (``core.preflight``, remembered per
environment); when it does not, that assignment's checks are "not graded", their flag saying
the instructor must look, and the service's log says why.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

from autograder.core.course import source_notebook
from autograder.core.types import Result
from autograder.errors import AutograderError
from autograder.service.store import DONE, NOT_GRADED, Check, Store
from autograder.settings import Limits

log = logging.getLogger("autograder.service")
WITHHELD = ("this message is withheld: it quoted the assignment's hidden test; ask your "
            "instructor")
MACHINE = ("the grading service could not grade this notebook (a failure of the service, "
           "not of your notebook): send it again later, or tell your instructor")

Grader = Callable[[Path, str], Result]  # (notebook file, assignment) -> result


def withheld(text: str, secrets: list[str]) -> str:
    """``text``, or WITHHELD when it holds a line of a hidden test."""
    return WITHHELD if any(s in text for s in secrets) else text


def learner_result(result: Result, secrets: list[str]) -> dict:
    """What the learner may see of ``result``: score, tests (name, points, message) and
    flags, every message checked against the hidden tests' lines ``secrets``."""
    graded = bool(result.tests)
    return {
        "score": result.score if graded else None,
        "max_score": result.max_score if graded else None,
        "tests": [{"name": t.name, "points": t.points, "max_points": t.max_points,
                   "message": withheld(t.message, secrets)} for t in result.tests],
        "flags": [withheld(f, secrets) for f in result.flags],
    }


def score_grader(root: Path, limits: Limits) -> Grader:
    """Grade one notebook file as ``score`` does (this thread's grading process)."""
    from autograder.commands.score import score_many

    def grade(path: Path, assignment: str) -> Result:
        return score_many([path], assignment, root, limits=limits)[0]

    return grade


class ClusterGrader:
    """Grade one notebook file on the Dask cluster at ``address``, as ``grade --scheduler``
    grades a submission: each assignment's template course is packed and scattered to every
    worker once, each check is one task (``cluster_task.grade_submission``, ``pure=False``,
    retried on a lost worker), and a result the machine failed to give
    (``scheduler.machine_failure``) is no grade: the check is not graded. One client serves
    every thread of the service (Dask's client is thread-safe)."""

    def __init__(self, root: Path, address: str, limits: Limits) -> None:
        from autograder.core.cluster import connect

        self.root, self.limits = root, limits
        self.client = connect(address)
        self._lock = threading.Lock()
        self._templates: dict[str, tuple[object, str, str]] = {}

    def template(self, assignment: str) -> tuple[object, str, str]:
        """(scattered archive, source hash, archive hash) of ``assignment``'s template."""
        from autograder.core.cluster import pack
        from autograder.core.cluster_task import archive_hash
        from autograder.core.template import source_hash, template_course

        with self._lock:
            if assignment not in self._templates:
                folder = template_course(self.root, assignment)
                archive = pack(folder)
                self._templates[assignment] = (
                    self.client.scatter(archive, broadcast=True, hash=False),
                    source_hash(folder / "solutions" / assignment), archive_hash(archive))
            return self._templates[assignment]

    def __call__(self, path: Path, assignment: str) -> Result:
        from autograder.commands.score import STUDENT
        from autograder.core.cluster import RETRIES
        from autograder.core.cluster_task import grade_submission
        from autograder.core.scheduler import machine_failure

        archive, source, digest = self.template(assignment)
        future = self.client.submit(
            grade_submission, archive, assignment, source, digest, STUDENT, path.name,
            path.read_bytes(), self.limits.as_dict(),
            key=f"check-{assignment}-{uuid.uuid4().hex}", pure=False, retries=RETRIES)
        try:
            answer = future.result()
        finally:
            future.release()
        result = Result.from_dict(answer["result"])
        why = answer["failure"] or machine_failure(result, path.name in answer["graded"])
        if why:
            log.error("the cluster could not grade a check of %s (on %s): %s", assignment,
                      answer.get("host"), why)
            return Result(assignment, 0.0, result.max_score, [], flags=[MACHINE])
        return result

    def close(self) -> None:
        self.client.close()


class Preflight:
    """Each assignment's pre-flight, run once per service (thread-safe)."""

    def __init__(self, root: Path, limits: Limits) -> None:
        self.root, self.limits = root, limits
        self._lock = threading.Lock()
        self._outcome: dict[str, str | None] = {}  # assignment -> None (passed) or why not

    def problem(self, assignment: str) -> str | None:
        """None when this machine grades ``assignment``'s reference to full marks."""
        from autograder.core.preflight import require_reference

        with self._lock:
            if assignment not in self._outcome:
                try:
                    log.info(require_reference(self.root, assignment, self.limits))
                    self._outcome[assignment] = None
                except AutograderError as err:
                    log.error("pre-flight of %s failed: %s", assignment, err)
                    self._outcome[assignment] = str(err)
            return self._outcome[assignment]


class Workers:
    """``jobs`` threads grading the queue of ``store`` until :meth:`stop`."""

    def __init__(self, store: Store, root: Path, jobs: int, limits: Limits, *,
                 grader: Callable[[], Grader] | None = None, preflight: bool = True) -> None:
        self.store, self.root, self.jobs, self.limits = store, root, jobs, limits
        self._grader = grader or (lambda: score_grader(root, limits))
        self._preflight = Preflight(root, limits) if preflight else None
        self._secrets: dict[str, list[str]] = {}
        self._stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, name=f"grader-{k}", daemon=True)
                        for k in range(jobs)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.store.arrived.set()

    def secrets(self, assignment: str) -> list[str]:
        """The hidden tests' lines of ``assignment`` (read once)."""
        if assignment not in self._secrets:
            from autograder.commands.feedback import hidden_lines

            self._secrets[assignment] = hidden_lines(self.root, assignment)
        return self._secrets[assignment]

    def _run(self) -> None:
        grade = self._grader()
        while not self._stop.is_set():
            check = self.store.claim()
            if check is None:
                self.store.arrived.wait(1.0)
                self.store.arrived.clear()
                continue
            status, result = self.grade(check, grade)
            if not self.store.finish(check.id, status, json.dumps(result)):
                log.warning("check %s was no longer running when graded", check.id)

    def grade(self, check: Check, grade: Grader) -> tuple[str, dict]:
        """(status, learner-facing result) of one check; never raises."""
        try:
            problem = self._preflight.problem(check.assignment) if self._preflight else None
            if problem:
                return NOT_GRADED, _not_graded("the service cannot grade this assignment "
                                               "now; your instructor has been told")
            folder = Path(tempfile.mkdtemp(prefix="rnncourse-check-"))
            try:
                name = source_notebook(self.root, check.assignment).name
                path = folder / name
                path.write_bytes(check.notebook)
                result = grade(path, check.assignment)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            view = learner_result(result, self.secrets(check.assignment))
            return (DONE if result.tests else NOT_GRADED), view
        except Exception:  # noqa: BLE001  (a worker thread must go on with the queue)
            log.exception("check %s of %s could not be graded", check.id, check.learner)
            return NOT_GRADED, _not_graded(MACHINE)


def _not_graded(why: str) -> dict:
    return {"score": None, "max_score": None, "tests": [], "flags": [why]}
