"""``grade``: autograde every collected submission of a class (see ``core.scheduler``), here
or on a Dask cluster (``core.cluster``), into the course's gradebook (SQLite or PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

from autograder.core.scheduler import grade as grade_all
from autograder.core.types import Result
from autograder.settings import Limits


def grade(root: Path, names: list[str] | None = None, *, jobs: int | None = None,
          force: bool = False, limits: Limits | None = None, progress: bool = True,
          failures: list[str] | None = None, db: str | None = None,
          scheduler: str | None = None) -> list[Result]:
    """Grade the submissions in grading/submitted of ``names`` (default: every assignment);
    one result per submission graded now. Those that could not be graded at all are listed
    in ``failures`` (and stored with zero points, flagged). ``db``: the gradebook's address
    (default: the course's); ``scheduler``: a Dask scheduler's address (default: grade here,
    with ``jobs`` workers)."""
    return grade_all(root, names, jobs=jobs, force=force, limits=limits, progress=progress,
                     failures=failures, db=db, scheduler=scheduler)


def summary(results: list[Result], failures: list[str]) -> list[str]:
    """The lines printed at the end of a run: counts, then each submission not graded."""
    lines = [f"graded {len(results)} submission(s); flagged "
             f"{sum(r.flagged for r in results)} for review; could not grade {len(failures)}"]
    lines += [f"  NOT GRADED {line}" for line in failures]
    return lines
