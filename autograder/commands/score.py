"""``score``: grade one learner notebook against its assignment, hidden tests included.

The notebook runs as its own student in a scratch copy of the assignment's template course
(``core.template``), through the same engine as ``grade`` (``core.batch``): the learner's
cells in a sandboxed kernel, the tests in this process.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from autograder.core.batch import autograde_batch
from autograder.core.course import find_root, source_notebook
from autograder.core.notebooks import match_assignment, read_notebook
from autograder.core.types import Result
from autograder.core.worker import load_submission
from autograder.errors import UnreadableNotebook
from autograder.settings import Limits

STUDENT = "learner"


def score_many(paths: list[Path | str], assignment: str, root: Path | None = None, *,
               limits: Limits | None = None) -> list[Result]:
    """Grade several notebooks of one assignment in one nbgrader run; results in order."""
    root = root or find_root()
    limits = limits or Limits()
    source_notebook(root, assignment)  # an unknown assignment fails here, before any work
    subs = [load_submission(STUDENT if len(paths) == 1 else f"{STUDENT}{i:04d}", Path(p),
                            limits) for i, p in enumerate(paths)]
    with tempfile.TemporaryDirectory(prefix="rnncourse-score-") as tmp:
        results = autograde_batch(root, assignment, subs, Path(tmp), limits)
    return [results[sub.student] for sub in subs]


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
