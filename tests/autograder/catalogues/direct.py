"""Grade a learner's notebook in this process: the grader's own code path, with no kernel,
no sandbox and no nbgrader run (the catalogues' fast lane; ``test_direct`` checks that it
agrees with the full pipeline).

What stays the grader's: the plan of the source notebook (``runner.plan``: which cells run
where, the contract, the signatures), the test cells run by ``runner.trusted.TrustedSide``
(proxies, the boundary's encode/decode, in-place write-back, hidden-case quieting, every
message text), the kernel's side of a call (``runner.kernel_harness``, installed as in a
kernel), the answer's form check (``execute.answer_text``), the callback budget, the
redaction of learner cells after hidden cases, nbgrader's ``determine_grade`` and the
grading core's ``failure_message``.

What changes: the learner's cells and calls run in a plain namespace of this process (the
"learner namespace") instead of a sandboxed kernel, so a catalogue entry must be trusted
code (it is: the course's own catalogue). Not reproduced: the sandbox's limits (memory,
processes, the allow-list of importable packages), the notebook's total time budget, the
kernel's output cap, and the ``flags`` of a run that went wrong in the kernel. Each cell and
each call keeps its time limit (``Limits.cell_timeout``, by an alarm signal when this runs in
the main thread).
"""

from __future__ import annotations

import contextlib
import io
import random
import signal
import tempfile
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path

import nbformat
import numpy as np
from nbformat import NotebookNode
from nbgrader.utils import determine_grade

from autograder.core.batch import failure_message
from autograder.core.types import Result, TestResult
from autograder.runner.boundary import decode, encode
from autograder.runner.execute import (
    HARNESS_MODULE,
    HARNESS_SOURCE,
    MAX_CALLBACK_CALLS,
    NOT_RUN,
    CallbackBudget,
    ChannelAbuse,
    _error,
    answer_text,
    cap_outputs,
    redact_after_hidden,
)
from autograder.runner.kernel_harness import CALLBACK_PREFIX
from autograder.runner.plan import BOTH, GRADER, NOT_GRADED, Plan, plan_of
from autograder.runner.trusted import LearnerError, Remote, TrustedSide, _cap
from autograder.settings import Limits

# torch's default generator in a fresh process (``torch.initial_seed()`` before any seeding):
# each notebook starts from it, as in its own kernel.
TORCH_INITIAL_SEED = 67280421310721


class CellTimeout(BaseException):
    """The alarm of a cell's or a call's time limit (a BaseException: learner code that
    catches Exception does not swallow it; the harness reports it, and the caller sees the
    alarm went off)."""


class _Alarm:
    """A time limit on a block of code run in the main thread (else no limit)."""

    def __init__(self) -> None:
        self.rang = False

    @contextlib.contextmanager
    def limit(self, seconds: float) -> Iterator[_Alarm]:
        self.rang = False
        if threading.current_thread() is not threading.main_thread():
            yield self
            return

        def ring(signum, frame):
            self.rang = True
            raise CellTimeout(f"past its time limit ({seconds:.0f} s)")

        previous = signal.signal(signal.SIGALRM, ring)
        signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
        try:
            yield self
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


class _Shell:
    """What the harness asks of IPython: the user's namespace."""

    def __init__(self, user_ns: dict) -> None:
        self.user_ns = user_ns


class LearnerSide:
    """The stand-in for a learner's kernel: a namespace for the learner's cells and the
    kernel harness (``runner.kernel_harness``) installed beside it, as ``execute`` installs
    it in a kernel; ``send`` answers a test's call as the kernel would."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.namespace: dict = {"__name__": "__main__"}
        self.harness = types.ModuleType(HARNESS_MODULE)
        self.harness.get_ipython = lambda: _Shell(self.namespace)
        exec(compile(HARNESS_SOURCE, HARNESS_MODULE, "exec"),  # noqa: S102  (the grader's)
             self.harness.__dict__)
        self.harness.MAX_ANSWER_CHARS = int(limits.max_message_bytes * 0.9)
        self.harness.input = self._answer_callback  # the kernel's stdin, answered here
        self.alarm = _Alarm()
        self._callbacks: list = []
        self._budget = CallbackBudget(MAX_CALLBACK_CALLS, limits.max_message_bytes)
        self._abuse: ChannelAbuse | None = None

    def _answer_callback(self, prompt: str) -> str:
        """A request of the learner's code for a value of a grader's function, answered as
        ``execute.SplitExecute._async_serve_callbacks`` answers it."""
        try:
            self._budget.spend(len(prompt), request=True)
            if not prompt.startswith(CALLBACK_PREFIX):
                raise ValueError("an unexpected request for input")
        except ChannelAbuse as err:
            self._abuse = self._abuse or err
            raise
        try:
            req = decode(prompt[len(CALLBACK_PREFIX):], self.limits.max_message_bytes)
            value = self._callbacks[req["id"]].fn(*req["args"], **req["kwargs"])
            answer = encode({"value": value})
        except Exception as err:  # noqa: BLE001  (the kernel side raises it)
            answer = encode({"error": f"{type(err).__name__}: {err}"[:500]})
        try:
            self._budget.spend(len(answer), request=False)
        except ChannelAbuse as err:
            self._abuse = self._abuse or err
            raise
        return answer

    def send(self, payload: str, timeout: float, callbacks: list) -> str:
        """``trusted.Send``: run one request of the grader with the harness, return the
        answer's text as the kernel's ``user_expressions`` would show it."""
        self._callbacks, self._abuse = callbacks, None
        self._budget = CallbackBudget(MAX_CALLBACK_CALLS, self.limits.max_message_bytes)
        sink = io.StringIO()  # a call's output is read and dropped
        with (contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink),
              self.alarm.limit(min(timeout, self.limits.cell_timeout))):
            self.harness.call(payload)
        if self.alarm.rang:
            raise LearnerError("CellTimeoutError",
                               f"the cell ran past its time limit ({self.limits.cell_timeout} s)")
        if self._abuse is not None:
            raise LearnerError("ChannelLimit", f"{self._abuse}; the kernel was stopped",
                               fatal=True)
        return answer_text(repr(self.harness.answer), self.limits.max_message_bytes)

    def run_cell(self, source: str, index: int) -> list[NotebookNode]:
        """A learner's cell run in the learner namespace; its outputs as the kernel's (an
        error output for an exception, a time-out as ``execute`` writes it; printed text is
        dropped: no result depends on it)."""
        sink = io.StringIO()
        try:
            with (contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink),
                  self.alarm.limit(self.limits.cell_timeout)):
                exec(compile(source, f"<cell {index}>", "exec"),  # noqa: S102  (catalogue code)
                     self.namespace)
        except CellTimeout:
            return [_error("CellTimeoutError",
                           f"the cell ran past its time limit ({self.limits.cell_timeout} s)")]
        except BaseException as err:  # noqa: BLE001  (the learner's error: an error output)
            if self.alarm.rang:
                return [_error("CellTimeoutError", f"the cell ran past its time limit "
                                                   f"({self.limits.cell_timeout} s)")]
            return cap_outputs([_error(type(err).__name__, str(err))], self.limits)
        return []


def fresh_process_state() -> None:
    """Put back what one notebook's code may change for the next in this process, as a new
    kernel would find it: the seeds of numpy, random and torch, torch's default dtype and
    gradient mode, matplotlib's open figures."""
    random.seed(0)
    np.random.seed(0)  # noqa: NPY002  (the legacy global generator the learner may use)
    with contextlib.suppress(ImportError):
        import torch

        torch.manual_seed(TORCH_INITIAL_SEED)
        torch.set_default_dtype(torch.float32)
        torch.set_grad_enabled(True)
    with contextlib.suppress(ImportError):
        import matplotlib.pyplot as plt

        plt.close("all")


def run_notebook(nb: NotebookNode, plan: Plan, limits: Limits) -> tuple[list, list[str]]:
    """Run ``nb``'s code cells by their roles in ``plan``, as ``SplitExecute._run_cell``
    does: the (executed code cell, its outputs) pairs and the run's events."""
    learner = LearnerSide(limits)
    remote = Remote(learner.send, limits.max_message_bytes, limits.max_text_chars,
                    packages=plan.kernel_packages)
    trusted = TrustedSide(remote, plan.contract, 100_000, limits.max_text_chars,
                          plan.signatures)
    events: list[str] = []
    stopped: str | None = None
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        role = plan.role(cell)
        gid = cell.metadata.get("nbgrader", {}).get("grade_id", f"cell {index}")
        if role == NOT_GRADED or not cell.source.strip() and role != GRADER:
            cell.outputs = []
            continue
        if stopped is not None:
            cell.outputs = [_error("NotRun", NOT_RUN.format(stopped))]
            continue
        if role == GRADER:
            cell.outputs, fatal = trusted.run(plan.sources[gid], gid, _deadline(limits))
            if fatal:
                stopped = f"the kernel stopped during the test {gid}"
                events.append(stopped)
            continue
        # nbgrader restores a locked cell from the source before it runs
        source = plan.sources[gid] if role == BOTH else cell.source
        cell.outputs = learner.run_cell(source, index)
        if remote.hidden_seen:
            cell.outputs = redact_after_hidden(cell.outputs)
        for out in cell.outputs:
            if out.get("output_type") == "error":
                if out.get("ename") == "CellTimeoutError":
                    events.append(f"cell {index} timed out")
                remote.cell_errors[gid] = _cap(
                    f"{out.get('ename')}: {out.get('evalue')}".rstrip(": "), 200)
        if role == BOTH:
            failed = [o for o in trusted.run(plan.sources[gid], gid, _deadline(limits))[0]
                      if o.get("output_type") == "error"]
            if failed:
                events.append(f"the grader could not run the locked cell {gid} "
                              f"({failed[0]['ename']}: {failed[0]['evalue']})")
    return nb.cells, events


def _deadline(limits: Limits) -> float:
    """The end of a test cell's time (``TrustedSide.run``'s deadline)."""
    return time.monotonic() + limits.cell_timeout


def grade_cells(source: NotebookNode) -> dict[str, NotebookNode]:
    """grade_id -> the source notebook's grade cell (its points are the test's)."""
    return {c.metadata["nbgrader"]["grade_id"]: c for c in source.cells
            if c.get("metadata", {}).get("nbgrader", {}).get("grade")}


def grade_directly(nb: NotebookNode, source_path: Path, assignment: str,
                   limits: Limits | None = None) -> dict:
    """The result of grading the learner's notebook ``nb`` against the source notebook at
    ``source_path``, as ``Result.to_dict()`` (points as nbgrader's ``determine_grade`` gives
    them, messages as ``core.batch.failure_message`` writes them)."""
    limits = limits or Limits()
    plan = plan_of(source_path)
    graders = grade_cells(nbformat.read(source_path, as_version=4))
    fresh_process_state()
    with tempfile.TemporaryDirectory(prefix="direct-") as tmp, contextlib.chdir(tmp):
        cells, events = run_notebook(nbformat.from_dict(nb), plan, limits)
    ran = {c.metadata["nbgrader"]["grade_id"]: c for c in cells
           if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") in graders}
    order = list(ran) + [gid for gid in graders if gid not in ran]
    tests = [_test_result(gid, graders[gid], ran.get(gid)) for gid in order]
    return Result(assignment=assignment, score=float(sum(t.points for t in tests)),
                  max_score=float(sum(t.max_points for t in tests)), tests=tests,
                  flagged=bool(events), flags=events).to_dict()


def _test_result(gid: str, source_cell: NotebookNode, ran: NotebookNode | None) -> TestResult:
    """One test's points and message: the source cell's points, the run cell's outputs."""
    max_points = float(source_cell.metadata["nbgrader"]["points"])
    if ran is None:
        return TestResult(gid, 0.0, max_points, False, failure_message(None))
    graded = nbformat.from_dict({**source_cell, "outputs": ran.get("outputs", [])})
    points, _ = determine_grade(graded)
    points = float(points or 0.0)
    passed = points >= max_points
    return TestResult(gid, points, max_points, passed, "" if passed else failure_message(ran))
