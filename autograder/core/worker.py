"""Long-lived grading processes, and :func:`grade_one`, the one way ``grade`` grades a
submission through them, on this machine (``--jobs`` of them busy, one submission each) and
on a Dask worker alike; ``score`` grades through them too.

Starting nbgrader costs about two seconds of imports, as much as grading a short notebook.
A worker is a ``python -m autograder.core.worker`` process that pays that once and then grades
submission after submission, each in its own scratch course, with nbgrader in process
(``batch.autograde_batch``); the learner's code runs in the notebook's sandboxed kernel, as
always. Handing out one submission at a time keeps every worker busy to the end of the run
and loses at most one submission per worker when the run is killed.

What a submission can make the grading process do is bounded from outside it:

* **Time.** :meth:`Worker.run` waits for an answer until its deadline
  (``Limits.submission_timeout``), then stops the worker: a grader blocked on a kernel, or
  looping, is killed, and the submission gets a result with no test, flagged with why
  (:func:`stopped_result`): not graded, and not graded again in this run (that would take as
  long again).
* **Memory.** Each worker runs in a control group of its own whose memory is capped at
  ``Limits.grader_memory_mb`` (needs root, as the kernels' groups); elsewhere its data
  segment is capped (``RLIMIT_DATA``: unlike an address-space limit it leaves room for the
  large reservations torch maps and never touches). A grading that outgrows it is stopped,
  not graded, and not graded again in this run; a worker grown past half its cap after a
  submission is replaced, so that each submission has the cap to itself.
* **Crashes.** A worker that dies otherwise, or answers an error, is replaced by its
  caller, and :func:`grade_one` grades the submission again in an nbgrader process of its own
  within what is left of its time.
* **Leftovers.** When a worker is stopped, the connection folders and control groups of its
  kernels, which it could not remove, are removed at once (``runner.leftovers``).

Protocol: one JSON line per task on the worker's stdin, one JSON line per answer on the
file descriptor that was its stdout when it started. The worker's own descriptors 1 and 2
(which anything it starts inherits) go to its log file instead, so no stray print can break
an answer.
"""

from __future__ import annotations

import json
import os
import resource
import select
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from autograder.core.batch import autograde_batch
from autograder.core.course import child_env
from autograder.core.types import Result, Submission
from autograder.errors import UnreadableNotebook
from autograder.runner import cgroups, leftovers
from autograder.settings import Limits

GRADER_PROCESSES = 256  # processes and threads of one grading process (torch's among them)
TIMEOUT, MEMORY, DIED = "timeout", "memory", "died"  # why a worker gave no answer


def load_submission(student: str, path: Path | None, limits: Limits | None = None
                    ) -> Submission:
    """The submission of ``student`` stored at ``path`` (None: the folder held no notebook)."""
    from autograder.core.notebooks import read_submission

    if path is None:
        return Submission(student, None, problem="the submission folder holds no notebook")
    try:
        nb, notes = read_submission(path, limits)
    except UnreadableNotebook as err:
        return Submission(student, None, filename=path.name,
                          problem=f"unreadable notebook: {err}")
    return Submission(student, nb, filename=path.name, repairs=notes)


def task(root: Path, assignment: str, student: str, path: Path | None, workdir: Path,
         limits: Limits, template: Path | None = None) -> dict:
    """The JSON task that grades one submission in the scratch folder ``workdir``, from the
    template course ``template`` (default: ``root``'s); ``student`` names it."""
    return {**batch_task(root, assignment, [(student, path)], workdir, limits, template),
            "student": student}


def batch_task(root: Path, assignment: str, subs: list[tuple[str, Path | None]],
               workdir: Path, limits: Limits, template: Path | None = None) -> dict:
    """The JSON task that grades the submissions ``subs`` (student, notebook) in one nbgrader
    run (``score_many``)."""
    return {"root": str(root), "assignment": assignment,
            "subs": [[student, str(path) if path else None] for student, path in subs],
            "workdir": str(workdir), "limits": limits.as_dict(),
            "template": str(template) if template else None}


def run_task(t: dict) -> dict[str, dict]:
    """Grade one task; each student's result (``batch.autograde_batch``'s), as dicts."""
    limits = Limits.from_dict(t["limits"])
    subs = [load_submission(student, Path(path) if path else None, limits)
            for student, path in t["subs"]]
    template = Path(t["template"]) if t.get("template") else None
    results = autograde_batch(Path(t["root"]), t["assignment"], subs, Path(t["workdir"]),
                              limits, template=template)
    return {sub.student: results[sub.student].to_dict() for sub in subs}


def stopped_result(assignment: str, student: str, why: str) -> Result:
    """The result of a submission whose grading was stopped or failed: no test run, flagged
    with ``why`` (not graded: ``scheduler.machine_failure``; nothing is stored for it)."""
    return Result(assignment, 0.0, 0.0, [], flagged=True, flags=[why], student=student)


def stopped_reason(failure: str, limits: Limits, seconds: float) -> str:
    """Why a grading process was stopped by the machine's own limits (``failure``: TIMEOUT or
    MEMORY): the grader's, not the learner's (whose code the kernel's limits stop first)."""
    if failure == MEMORY:
        return (f"grading stopped: the grading process took more than "
                f"{limits.grader_memory_mb} MB of the grader's memory (--grader-memory-mb)")
    return (f"grading stopped: the grading process ran past its time limit ({seconds:g} s), "
            "the outer limit of a submission (--notebook-timeout, plus start-up and repair); "
            "not graded again in this run (it would take as long again)")


def _status_kb(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


class Worker:
    """The grading process's handle on one worker. ``command`` starts it (tests put a
    stand-in there)."""

    command = [sys.executable, "-m", "autograder.core.worker"]

    def __init__(self, log: Path, cwd: Path, limits: Limits | None = None) -> None:
        leftovers.sweep_once()  # what killed grading processes left here
        self.memory_mb = (limits or Limits()).grader_memory_mb
        self.group = cgroups.create(self.memory_mb, GRADER_PROCESSES, kind="grader")
        cmd = [*self.command, str(log), str(0 if self.group else self.memory_mb)]
        if self.group is not None:
            cmd = self.group.join_command(cmd)
        self.failure = ""  # why the last task got no answer: TIMEOUT, MEMORY, DIED or ""
        self.peak_mb: float | None = None  # the grading process's peak over the last task
        with open(log, "ab") as err:
            self.proc = subprocess.Popen(
                cmd, cwd=cwd, env=child_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=err)

    @property
    def alive(self) -> bool:
        """Can the worker take another task?"""
        return self.proc.poll() is None

    def run(self, t: dict, timeout: float) -> dict | None:
        """Send one task; the answer, or None when the worker died, ran out of ``timeout``
        seconds or out of memory (it is then stopped, and ``failure`` says which)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.failure, self.peak_mb = "", None
        end = time.monotonic() + timeout
        try:
            self.proc.stdin.write(json.dumps(t).encode() + b"\n")
            self.proc.stdin.flush()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, timeout))
            line = self.proc.stdout.readline() if ready else b""
            answer = json.loads(line) if line else None
        except (OSError, ValueError):
            answer = None
        if answer is None:
            self.failure = self._why_no_answer(time.monotonic() >= end)
            if self.group is not None:
                self.peak_mb = self.group.peak_mb()
            self.kill()
            return None
        self.peak_mb = answer.get("peak_mb")
        if answer.get("memory"):  # MemoryError under RLIMIT_DATA (no control group)
            self.failure = MEMORY
            self.kill()
            return None
        rss = _status_kb(self.proc.pid, "VmRSS")
        if rss is not None and rss / 1024 > self.memory_mb / 2:
            self.close()  # the next submission gets a fresh process and the whole cap
        return answer

    def _why_no_answer(self, timed_out: bool) -> str:
        if self.group is not None and self.group.oom_kills() > 0:
            return MEMORY
        return TIMEOUT if timed_out and self.alive else DIED

    def kill(self) -> None:
        """Stop the worker at once (its kernels die with it: bubblewrap's --die-with-parent)
        and remove what it leaves: its kernels' folders and control groups, its own group."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._clean_up()

    def close(self) -> None:
        """Let the worker finish (end of its input), or stop it after a few seconds."""
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()
        self._clean_up()

    def _clean_up(self) -> None:
        leftovers.sweep(pid=self.proc.pid)
        if self.group is not None:
            self.group.remove()
            self.group = None


class RunStopped(Exception):
    """The run is being stopped: the submission :func:`grade_one` held is left ungraded."""


class Graded(NamedTuple):
    """A submission graded by :func:`grade_one`: the folder nbgrader graded it in (under the
    caller's scratch folder), its result, and why the grader itself could not grade it ('' when
    it could)."""

    workdir: Path
    result: Result
    failure: str = ""


def grade_one(worker: Worker, root: Path, assignment: str, student: str, path: Path | None,
              scratch: Path, limits: Limits, *, template: Path | None = None,
              log: Callable[[str], object] = lambda line: None,
              stopping: Callable[[], bool] = lambda: False) -> Graded:
    """Grade ``student``'s notebook ``path`` (None: the folder held none) of ``assignment``
    within one budget of wall time, ``limits.submission_timeout``; the one grading path of
    ``grade`` here (``core.scheduler``) and on a Dask worker (``core.cluster_task``).

    1. ``worker`` grades it in ``scratch/work``, from the template course ``template``
       (default: ``root``'s);
    2. a worker stopped by its time or memory limit gives a result with no test, flagged
       with why (:func:`stopped_reason`): not graded, and not graded again in this run;
    3. a worker that failed otherwise (it died, answered an error or nonsense): the
       submission is graded again in an nbgrader process of its own, in
       ``scratch/fallback``, within the time left; if that fails too, a result with no test
       saying why (``failure``). The caller replaces a worker that is gone.

    RunStopped when ``stopping()`` is true after the worker failed (the run is being
    stopped: no fallback). ``log`` gets one line on what happened. The caller removes
    ``scratch``.
    """
    budget = limits.submission_timeout
    start = time.monotonic()
    workdir = scratch / "work"
    answer = worker.run(task(root, assignment, student, path, workdir, limits, template),
                        budget)
    if answer is not None and answer.get("ok"):
        try:
            result = Result.from_dict(answer["results"][student])
            log(f"graded {student}: grading process peak {worker.peak_mb} MB")
            return Graded(workdir, result)
        except (TypeError, KeyError, ValueError, AttributeError):
            answer = {"ok": False, "error": "a malformed answer"}
    if worker.failure in (TIMEOUT, MEMORY):
        why = stopped_reason(worker.failure, limits, budget)
        log(f"worker stopped on {student}: {why} (peak {worker.peak_mb} MB)")
        return Graded(workdir, stopped_result(assignment, student, why))
    log(f"worker failed on {student}: "
        f"{(answer or {}).get('error', worker.failure or 'no answer')}")
    shutil.rmtree(workdir, ignore_errors=True)
    if stopping():
        raise RunStopped(student)
    workdir = scratch / "fallback"
    left = budget - (time.monotonic() - start)
    if left <= 0:
        why = stopped_reason(TIMEOUT, limits, budget)
        return Graded(workdir, stopped_result(assignment, student, why))
    try:
        results = autograde_batch(root, assignment, [load_submission(student, path, limits)],
                                  workdir, limits, in_process=False, template=template,
                                  timeout=left)
        return Graded(workdir, results[student])
    except Exception as err:  # noqa: BLE001  (one submission never stops the class)
        why = f"could not be graded: {type(err).__name__}: {str(err)[:300]}"
        log(f"fallback failed on {student}: {err!r}")
        return Graded(workdir, stopped_result(assignment, student, why), why)


def _limit_memory(memory_mb: int) -> None:
    """Cap this process's data segment (when no control group caps it)."""
    if memory_mb > 0:
        cap = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))


def _reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    except OSError:
        pass


def _answer(line: str) -> dict:
    """One task's answer: its results, or the error; and the process's peak memory."""
    _reset_peak()
    try:
        answer: dict = {"ok": True, "results": run_task(json.loads(line))}
    except MemoryError:
        answer = {"ok": False, "memory": True, "error": "MemoryError"}
    except Exception:  # noqa: BLE001  (reported to the grading process, which falls back)
        answer = {"ok": False, "error": traceback.format_exc()}
    peak = _status_kb(os.getpid(), "VmHWM")
    answer["peak_mb"] = round(peak / 1024, 1) if peak is not None else None
    return answer


def main(log: str, memory_mb: int = 0) -> None:
    answers = os.fdopen(os.dup(1), "w")
    with open(log, "ab") as sink:
        os.dup2(sink.fileno(), 1)  # stray prints of anything run here land in the log
    sys.stdout = sys.stderr
    _limit_memory(memory_mb)
    for line in sys.stdin:
        answers.write(json.dumps(_answer(line)) + "\n")
        answers.flush()
    # Every kernel is stopped and cleaned up by now; skip the interpreter's teardown (most of
    # a second of module finalisers at the end of every run).
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.devnull,
         int(sys.argv[2]) if len(sys.argv) > 2 else 0)
