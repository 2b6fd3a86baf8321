"""``grade``: autograde every collected submission of a class (see ``core.scheduler``), here
or on a Dask cluster (``core.cluster``), into the course's gradebook (SQLite or PostgreSQL).

A submission the grading machine failed to grade (``core.scheduler.machine_failure``) is
never given a score: it is listed apart as not graded, nothing is stored for it, and the
command exits with status 1; the next ``grade`` grades it again."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from autograder.commands.collect import name_students
from autograder.core.course import gradebook_url
from autograder.core.learners import Registry
from autograder.core.scheduler import grade as grade_all
from autograder.core.types import Result
from autograder.settings import Limits


def grade(root: Path, names: list[str] | None = None, *, jobs: int | None = None,
          force: bool = False, limits: Limits | None = None, progress: bool = True,
          failures: list[str] | None = None, db: str | None = None,
          scheduler: str | None = None,
          preflight: Callable[[str], object] | None = None,
          students: list[str] | None = None) -> list[Result]:
    """Grade the submissions in grading/submitted of ``names`` (default: every assignment);
    one result per submission graded now. Those not graded (a failure of the grading
    machine: nothing stored, graded again next time) are listed in ``failures``. ``db``: the
    gradebook's address (default: the course's); ``scheduler``: a Dask scheduler's address
    (default: grade here, with ``jobs`` workers); ``preflight(assignment)``: called before
    an assignment's submissions are graded here, raises to stop (``core.preflight``);
    ``students``: grade only these learners' submissions.

    Learners collected before the gradebook existed are then given their names there (the
    roster's, else the export's; formgrader lists them by name), never replacing a name."""
    results = grade_all(root, names, jobs=jobs, force=force, limits=limits, progress=progress,
                        failures=failures, db=db, scheduler=scheduler, preflight=preflight,
                        students=students)
    registry = Registry.load(root)
    if results and registry.owners:
        problem = name_students(gradebook_url(root, db), registry)
        if problem:
            print(f"note: learners' names not written to the gradebook: {problem}",
                  file=sys.stderr)
    return results


def summary(results: list[Result], failures: list[str]) -> list[str]:
    """The lines printed at the end of a run: counts, each submission flagged for review with
    its reasons, each one given a late penalty, then each submission not graded."""
    lines = [f"graded {len(results)} submission(s); flagged "
             f"{sum(r.flagged for r in results)} for review; not graded {len(failures)}"]
    lines += [f"  FLAGGED {r.assignment}/{r.student}: {'; '.join(r.flags) or 'see formgrader'}"
              for r in results if r.flagged]
    lines += [f"  LATE {r.assignment}/{r.student}: submitted {r.submitted} UTC, late penalty "
              f"{r.late_penalty:g} point(s)" for r in results if r.late_penalty]
    lines += [f"  NOT GRADED {line}" for line in failures]
    if failures:
        lines.append("  not graded: a failure of the grading machine, not of the learner's "
                     "notebook; nothing was stored for them, and the next `grade` grades them "
                     "again (the log: grading/logs/grade-<assignment>.log)")
    return lines


def summary_record(results: list[Result], failures: list[str]) -> dict:
    """The run's summary as one JSON object (``grade --json`` ends with it, so its output is
    JSON even when nothing was graded)."""
    return {"summary": {"graded": len(results), "flagged": sum(r.flagged for r in results),
                        "not_graded": list(failures)}}
