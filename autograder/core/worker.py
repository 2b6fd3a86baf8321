"""Long-lived grading workers: ``grade`` keeps ``--jobs`` of them busy, one submission each.

Starting nbgrader costs about two seconds of imports, as much as grading a short notebook.
A worker is a ``python -m autograder.core.worker`` process that pays that once and then grades
submission after submission, each in its own scratch course, with nbgrader in process
(``batch.autograde_batch``); the learner's code runs in the notebook's sandboxed kernel, as
always. Handing out one submission at a time keeps every worker busy to the end of the run
and loses at most one submission per worker when the run is killed.

Protocol: one JSON line per task on the worker's stdin, one JSON line per answer on the
file descriptor that was its stdout when it started. The worker's own descriptors 1 and 2
(which anything it starts inherits) go to its log file instead, so no stray print can break
an answer.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import traceback
from pathlib import Path

from autograder.core.batch import autograde_batch
from autograder.core.course import child_env
from autograder.core.notebooks import read_submission
from autograder.core.types import Submission
from autograder.errors import UnreadableNotebook
from autograder.settings import Limits


def load_submission(student: str, path: Path | None, limits: Limits | None = None
                    ) -> Submission:
    """The submission of ``student`` stored at ``path`` (None: the folder held no notebook)."""
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
    template course ``template`` (default: ``root``'s)."""
    return {"root": str(root), "assignment": assignment, "student": student,
            "path": str(path) if path else None, "workdir": str(workdir),
            "limits": limits.as_dict(), "template": str(template) if template else None}


def run_task(t: dict) -> dict:
    """Grade one task; its result (``batch.autograde_batch``'s) for the student, as a dict."""
    limits = Limits.from_dict(t["limits"])
    sub = load_submission(t["student"], Path(t["path"]) if t["path"] else None, limits)
    template = Path(t["template"]) if t.get("template") else None
    results = autograde_batch(Path(t["root"]), t["assignment"], [sub], Path(t["workdir"]),
                              limits, template=template)
    return results[t["student"]].to_dict()


class Worker:
    """The grading process's handle on one worker."""

    def __init__(self, log: Path, cwd: Path) -> None:
        with open(log, "ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "autograder.core.worker", str(log)], cwd=cwd,
                env=child_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)

    def run(self, t: dict, timeout: float) -> dict | None:
        """Send one task; the answer, or None when the worker died or ran out of ``timeout``
        seconds (the worker is then stopped)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps(t).encode() + b"\n")
            self.proc.stdin.flush()
            ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
            line = self.proc.stdout.readline() if ready else b""
            answer = json.loads(line) if line else None
        except (OSError, ValueError):
            answer = None
        if answer is None:
            self.kill()
        return answer

    def kill(self) -> None:
        """Stop the worker at once (its kernels die with it: bubblewrap's --die-with-parent)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        """Let the worker finish (end of its input), or stop it after a few seconds."""
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()


def main(log: str) -> None:
    answers = os.fdopen(os.dup(1), "w")
    with open(log, "ab") as sink:
        os.dup2(sink.fileno(), 1)  # stray prints of anything run here land in the log
    sys.stdout = sys.stderr
    for line in sys.stdin:
        try:
            answer = {"ok": True, "result": run_task(json.loads(line))}
        except Exception:  # noqa: BLE001  (reported to the grading process, which falls back)
            answer = {"ok": False, "error": traceback.format_exc()}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()
    # Every kernel is stopped and cleaned up by now; skip the interpreter's teardown (most of
    # a second of module finalisers at the end of every run).
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.devnull)
