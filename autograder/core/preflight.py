"""Pre-flight: before ``grade`` or ``score`` grades anything, this machine must grade the
assignment's reference solution to full marks.

A broken set-up (a kernel that cannot start in the sandbox, a package missing, limits this
machine cannot meet) fails every notebook alike: graded regardless, a whole class would get
zeros that look like grades. So the reference solution (``solutions/<a>/<a>.ipynb``) is
graded first, the way a learner's notebook is (a grading process, the sandboxed kernel, the
hidden tests: ``core.worker``), and unless it scores full marks the command stops with
:class:`PreflightFailed`: the cause (the first flag, or the first failing test, of the
reference's run) and the fix.

A pass is remembered in ``grading/cache/preflight/<key>.json``; the key (:func:`check_key`)
hashes what the outcome depends on: this Python as it was started (its path and prefix as
given, and resolved: an environment reached through a link is another set-up), its
packages (``requirements.lock``, the names in site-packages), the code that grades
(``GRADING_CODE``), the assignment's source folder, the sandbox (mode, bubblewrap, control
groups, user) and the limits. A change to any of them checks again; a failure is never
remembered.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path

from autograder.core.batch import graded_dir
from autograder.core.course import source_notebook
from autograder.core.scheduler import machine_failure, machine_stop_reason
from autograder.core.template import source_hash, template_course
from autograder.core.types import Result
from autograder.core.worker import DIED, Worker, stopped_result, task
from autograder.errors import AutograderError
from autograder.files import atomic_write, files_sha256, sha256
from autograder.runner import leftovers
from autograder.settings import PACKAGE, Limits, cache_dir, logs_dir

REFERENCE = "reference-solution"  # the student id of the reference's run
LOG = "preflight.log"
# The code that grades a notebook (what ``core.worker`` imports, and the course package the
# answer keys import), under the repository: not that of collect, export or the command line.
GRADING_CODE = ("autograder/runner", "autograder/keys", "autograder/core/batch.py",
                "autograder/core/course.py", "autograder/core/notebooks.py",
                "autograder/core/repair.py", "autograder/core/template.py",
                "autograder/core/types.py", "autograder/core/worker.py",
                "autograder/settings.py", "autograder/errors.py", "autograder/files.py",
                "autograder/nbgrader_config.py", "rnncourse")


class PreflightFailed(AutograderError):
    """This machine cannot grade the reference solution to full marks: nothing is graded."""


# -- the cache --------------------------------------------------------------------------------

def _file_hash(path: Path) -> str:
    return sha256(path.read_bytes()) if path.is_file() else "none"


def _grader_hash() -> str:
    """A hash of the code that grades a notebook (``GRADING_CODE``'s Python files)."""
    base = PACKAGE.parent
    tops = [base / name for name in GRADING_CODE]
    return files_sha256(base, [path for top in tops
                               for path in (top.rglob("*.py") if top.is_dir() else [top])
                               if path.is_file()])


def _sandbox_identity(limits: Limits) -> dict:
    from autograder.runner.sandbox import bwrap_path, cgroups_available

    sandboxed = limits.sandbox != "none"
    return {"mode": limits.sandbox, "bwrap": bwrap_path() if sandboxed else None,
            "cgroups": cgroups_available(), "euid": os.geteuid()}


def check_key(root: Path, assignment: str, limits: Limits) -> str:
    """The identity of a pre-flight check: a hash of this environment, the assignment's
    source, the sandbox and the limits (see the module docstring)."""
    site = Path(sysconfig.get_paths()["purelib"])
    identity = {
        "python": [sys.executable, sys.prefix, str(Path(sys.prefix).resolve()),
                   sys.version],
        "lock": _file_hash(root / "requirements.lock"),
        "packages": sorted(os.listdir(site)) if site.is_dir() else [],
        "grader": _grader_hash(),
        "assignment": [assignment, source_hash(source_notebook(root, assignment).parent)],
        "sandbox": _sandbox_identity(limits),
        "limits": limits.as_dict(),
    }
    return sha256(json.dumps(identity, sort_keys=True).encode())[:24]


def cache_file(root: Path, key: str) -> Path:
    """Where a passed check of ``key`` is remembered."""
    return cache_dir(root) / "preflight" / f"{key}.json"


def _remember(path: Path, assignment: str, result: Result) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps({"assignment": assignment, "score": result.score,
                                   "max_score": result.max_score, "python": sys.executable}))


# -- the reference's run ----------------------------------------------------------------------

def grade_reference(root: Path, assignment: str, limits: Limits) -> Result:
    """The reference solution of ``assignment`` graded as a learner's notebook is, in a
    grading process of its own (stopped after). A failure of the machine comes back as a
    result with no tests, its flag saying why (``scheduler.machine_failure``)."""
    solution = source_notebook(root, assignment)
    template = template_course(root, assignment)
    log = logs_dir(root) / LOG
    log.parent.mkdir(parents=True, exist_ok=True)
    scratch = leftovers.mkdtemp("rnncourse-preflight")
    worker = Worker(log, root, limits)
    try:
        answer = worker.run(task(root, assignment, REFERENCE, solution, scratch, limits,
                                 template), limits.submission_timeout)
        if answer is None:
            why = (f"the grading process died (exit status {worker.proc.returncode})"
                   if worker.failure == DIED else
                   machine_stop_reason(worker.failure, limits, limits.submission_timeout))
            return stopped_result(assignment, REFERENCE, why)
        if not answer.get("ok"):
            lines = str(answer.get("error", "no answer")).strip().splitlines()
            return stopped_result(assignment, REFERENCE, f"the grading process failed: "
                                                         f"{lines[-1] if lines else ''}")
        result = Result.from_dict(answer["results"][REFERENCE])
        graded = graded_dir(scratch, REFERENCE, assignment) / solution.name
        why = machine_failure(result, graded.is_file())
        return stopped_result(assignment, REFERENCE, why) if why else result
    finally:
        worker.close()
        shutil.rmtree(scratch, ignore_errors=True)


def full_marks(result: Result) -> bool:
    """Did the run grade every test and give each its points?"""
    return bool(result.tests) and result.max_score > 0 and result.score == result.max_score


def cause_of(result: Result) -> str:
    """Why ``result`` is not full marks: its first flag, else its first failing test."""
    if result.flags:
        return result.flags[0]
    failed = next((t for t in result.tests if not t.passed), None)
    if failed is not None:
        return f"{failed.name} failed: {failed.message or 'no message'}"
    return "it has no tests" if not result.tests else "it scored less than full marks"


def fix_for(cause: str, solution: Path, limits: Limits) -> str:
    """What to do about ``cause``: a hint matched on its words, else the general one."""
    from autograder.runner.sandbox import INSTALL_HINT, cgroups_available

    text = cause.lower()
    as_root = ("" if cgroups_available() else
               "run as root: a control group then limits all the submission's processes "
               "together, not each one's address space (which torch's reservations exceed); "
               "or ")
    if any(w in text for w in ("kernel died before", "kernel_info", "bubblewrap",
                               "sandboxunavailable")):
        return ("the sandboxed kernel could not start: rebuild the environment (`make venv`; "
                "a .venv that is a link to an environment elsewhere works), check that "
                f"bubblewrap runs here ({INSTALL_HINT}; `bwrap --ro-bind / / true`), and "
                f"compare with `python -m autograder score {solution} --sandbox none`")
    if "modulenotfounderror" in text or "importerror" in text:
        return ("a package is missing: rebuild the environment from requirements.lock "
                "(`make venv`); a package the learner's kernel needs goes in the "
                "assignment's metadata.rnncourse.kernel_packages")
    if "memory" in text:
        return (f"{as_root}raise --memory-mb (now {limits.memory_mb}) or --grader-memory-mb "
                f"(now {limits.grader_memory_mb})")
    if "process limit" in text:
        return (f"{as_root}raise the limit of processes and threads (Limits.processes in "
                f"autograder/settings.py, now {limits.processes})")
    if any(w in text for w in ("time limit", "timed out", "time budget", "cpu time")):
        return (f"this machine is slower or busier than the limits allow: raise "
                f"--cell-timeout (now {limits.cell_timeout}) and --notebook-timeout (now "
                f"{limits.notebook_timeout}), or grade with fewer --jobs")
    return (f"rebuild the environment (`make venv`), then see the reference's report, "
            f"`python -m autograder score {solution}`, and the log, grading/logs/{LOG}")


# -- the check --------------------------------------------------------------------------------

def require_reference(root: Path, assignment: str, limits: Limits | None = None, *,
                      run: Callable[[Path, str, Limits], Result] = grade_reference) -> str:
    """Check that this machine grades ``assignment``'s reference solution to full marks
    (by ``run``, once per :func:`check_key`); one line saying so, or PreflightFailed naming
    the cause and the fix."""
    limits = limits or Limits()
    key = check_key(root, assignment, limits)
    remembered = cache_file(root, key)
    if remembered.is_file():
        return (f"pre-flight: the reference solution of {assignment} scores full marks here "
                "(checked before, for this environment)")
    result = run(root, assignment, limits)
    solution = source_notebook(root, assignment).relative_to(root)
    if not full_marks(result):
        score = (f"{result.score:g}/{result.max_score:g}" if result.tests else
                 "it was not graded")
        cause = cause_of(result)
        raise PreflightFailed(
            f"this machine does not grade the reference solution of {assignment} "
            f"({solution}) to full marks ({score}), so no notebook was graded. Cause: "
            f"{cause}. Fix: {fix_for(cause, solution, limits)}")
    _remember(remembered, assignment, result)
    return (f"pre-flight: the reference solution of {assignment} scores "
            f"{result.score:g}/{result.max_score:g} here (checked now, remembered for this "
            "environment)")
