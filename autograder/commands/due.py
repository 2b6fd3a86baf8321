"""``due``: an assignment's due date, set (or shown, or cleared) in nbgrader's one place for it,
the gradebook's ``Assignment.duedate``.

That is where nbgrader's late penalty reads it (``core.late``), where formgrader's *Manage
Assignments* shows and edits it, and where ``export`` reads its ``duedate`` column: one
setting, whichever tool wrote it. After a change, the penalties of the submissions already
graded are applied again for the new date (no re-grade needed; ``grade --force`` applies the
current date too).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from nbgrader.api import Gradebook

from autograder.core import late
from autograder.core.course import assignments, gradebook_url
from autograder.core.gradebook import ensure_assignment
from autograder.core.template import template_course
from autograder.errors import AutograderError
from autograder.settings import COURSE_ID


def due(root: Path, assignment: str, when: str | None = None, *, zone: str = "UTC",
        clear: bool = False, db: str | None = None) -> tuple[datetime | None, dict[str, float]]:
    """Set ``assignment``'s due date to ``when`` (``late.parse_due``: in ``zone`` unless it
    names its own), or remove it (``clear``), in the gradebook ``db`` (default: the course's);
    with neither, only read it. Returns the due date (UTC, naive as nbgrader keeps it; None:
    none) and, after a change, the late penalty of each submission late or penalised before."""
    known = assignments(root)
    if assignment not in known:
        raise AutograderError(f"no assignment named {assignment!r} (known: {', '.join(known)})")
    if when is not None and clear:
        raise AutograderError("give a due date or --clear, not both")
    db = gradebook_url(root, db)
    ensure_assignment(root, db, assignment, template_course(root, assignment))
    if when is None and not clear:
        with Gradebook(db, COURSE_ID) as gb:
            return gb.find_assignment(assignment).duedate, {}
    duedate = None if clear else late.parse_due(when or "", zone)
    with Gradebook(db, COURSE_ID) as gb:
        gb.update_or_create_assignment(assignment, duedate=duedate)
    return duedate, late.reapply(root, db, assignment)


def describe(assignment: str, duedate: datetime | None, penalties: dict[str, float]) -> list[str]:
    """The lines ``due`` prints: the due date, then each late submission's penalty."""
    when = f"{duedate:%Y-%m-%d %H:%M:%S} UTC" if duedate is not None else "none"
    lines = [f"{assignment}: due {when}"]
    lines += [f"  late {student}: penalty {points:g} point(s)"
              for student, points in sorted(penalties.items())]
    return lines
